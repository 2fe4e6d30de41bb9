-- A deleted team's documents: their content is purged and their ids can never be registered again, so
-- nobody can claim a deleted document's id (and whatever copies of it devices still hold) for a team of
-- their own.
CREATE TABLE document_tombstones (
    id         TEXT PRIMARY KEY,
    -- Unix milliseconds.
    deleted_at INTEGER NOT NULL
) STRICT;

-- Each user's certificate epoch: every certificate carries the epoch current when it was issued, and a
-- removal or a change of role raises it, so peers drop every older certificate of that user.
CREATE TABLE device_epochs (
    user_id TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    epoch   INTEGER NOT NULL
) STRICT;

-- The revocation feed devices follow (`GET /api/devices/revocations`): certificates of `user_id` older than
-- `epoch` are void. Shown to the members of `team_id`, the team whose change raised the epoch.
CREATE TABLE device_revocations (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    TEXT NOT NULL,
    team_id    TEXT NOT NULL,
    epoch      INTEGER NOT NULL,
    -- Unix seconds.
    revoked_at INTEGER NOT NULL
) STRICT;
CREATE INDEX device_revocations_team ON device_revocations(team_id, seq);

-- What the relay's circuit needs to know of a certified device, also after a restart: its certificate's
-- epoch and teams (a JSON array of team ids).
ALTER TABLE device_certificates ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;
ALTER TABLE device_certificates ADD COLUMN teams TEXT NOT NULL DEFAULT '[]';

-- samod may still hold a deleted document in memory and write it out later (a compaction, a pending write):
-- such writes are dropped, so a purged document's content never comes back.
CREATE TRIGGER sync_chunks_tombstoned_insert BEFORE INSERT ON sync_chunks
WHEN EXISTS (SELECT 1 FROM document_tombstones
             WHERE id = 'automerge:' || substr(NEW.key, 1, instr(NEW.key, '/') - 1))
BEGIN
    SELECT RAISE(IGNORE);
END;
CREATE TRIGGER sync_chunks_tombstoned_update BEFORE UPDATE ON sync_chunks
WHEN EXISTS (SELECT 1 FROM document_tombstones
             WHERE id = 'automerge:' || substr(NEW.key, 1, instr(NEW.key, '/') - 1))
BEGIN
    SELECT RAISE(IGNORE);
END;
