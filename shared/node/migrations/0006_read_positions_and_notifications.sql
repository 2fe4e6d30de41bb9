-- How far this user has read each team's chat, as this device knows it: its own reads (sent to the relay
-- through the outbox) and the relay's answers and read_moved frames from the user's other devices. Only
-- ever moves forward, like the relay's.
CREATE TABLE read_positions (
    team_id TEXT PRIMARY KEY,
    seq     INTEGER NOT NULL CHECK (seq >= 0)
) STRICT;

-- What this user wants to be told of on this device: teams they muted, and whether every message notifies
-- while the window is not focused (mentions always do, outside muted teams).
CREATE TABLE muted_teams (
    team_id TEXT PRIMARY KEY
) STRICT;
CREATE TABLE notification_settings (
    id                      INTEGER PRIMARY KEY CHECK (id = 1),
    every_message_unfocused INTEGER NOT NULL CHECK (every_message_unfocused IN (0, 1))
) STRICT;

-- Read positions join the outbox (one waiting entry per team, moved forward). SQLite cannot change a CHECK
-- constraint in place: rebuild the outbox with the wider list of kinds.
CREATE TABLE outbox_new (
    position   INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id  TEXT NOT NULL UNIQUE,
    kind       TEXT NOT NULL CHECK (kind IN ('message', 'document', 'project_create', 'project_update', 'read')),
    team_id    TEXT NOT NULL,
    body_json  TEXT NOT NULL,
    state      TEXT NOT NULL CHECK (state IN ('pending', 'failed')) DEFAULT 'pending',
    error_code TEXT,
    error      TEXT,
    created_at INTEGER NOT NULL
) STRICT;
INSERT INTO outbox_new SELECT * FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
