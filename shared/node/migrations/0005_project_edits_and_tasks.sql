-- Per-field project edits and task changes join the outbox (`project_patch`, `task_create`, `task_update`,
-- `task_delete`). The kind is no longer checked here: the node decodes each kind it knows (outbox.rs) and
-- reports any other as corrupt, so a new kind needs no rebuild of the table.
CREATE TABLE outbox_new (
    position   INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id  TEXT NOT NULL UNIQUE,
    kind       TEXT NOT NULL,
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
