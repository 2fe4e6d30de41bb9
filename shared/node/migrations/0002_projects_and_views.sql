-- Project changes join the outbox, and members, projects and activity are cached for reading offline.

-- SQLite cannot change a CHECK constraint in place: rebuild the outbox with the wider list of kinds.
CREATE TABLE outbox_new (
    position   INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id  TEXT NOT NULL UNIQUE,
    kind       TEXT NOT NULL CHECK (kind IN ('message', 'document', 'project_create', 'project_update')),
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

-- The last answer the relay gave for a read (`key` is the request path), served while offline.
CREATE TABLE cached_views (
    key   TEXT PRIMARY KEY,
    json  TEXT NOT NULL
) STRICT;
