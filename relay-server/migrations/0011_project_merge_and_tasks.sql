-- Projects that merge per field: an owner and a due date, each mergeable field's version and the stamp of its
-- last edit, a task list, the history of changes (overwritten and losing values included), and the edits
-- already applied (so a replayed edit applies once).

ALTER TABLE projects ADD COLUMN owner_id TEXT REFERENCES users(id);
-- `YYYY-MM-DD`.
ALTER TABLE projects ADD COLUMN due_date TEXT;
-- JSON: {field: {"v": version, "at": Unix ms of the edit, "by": user id}} for each field edited so far; a
-- field absent from it is at version 0.
ALTER TABLE projects ADD COLUMN field_stamps TEXT NOT NULL DEFAULT '{}';

CREATE TABLE project_tasks (
    id           TEXT PRIMARY KEY,
    project_id   TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    team_id      TEXT NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    title        TEXT NOT NULL,
    done         INTEGER NOT NULL CHECK (done IN (0, 1)),
    assignee_id  TEXT REFERENCES users(id),
    created_by   TEXT NOT NULL REFERENCES users(id),
    created_at   INTEGER NOT NULL,
    field_stamps TEXT NOT NULL DEFAULT '{}',
    -- A deleted task stays as a tombstone, so a late edit of it is recorded as lost and a repeated delete
    -- is answered as the first was.
    deleted_at   INTEGER
) STRICT;
CREATE INDEX project_tasks_project ON project_tasks(project_id, created_at);

CREATE TABLE project_history (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    task_id    TEXT,
    field      TEXT NOT NULL,
    old_value  TEXT,
    new_value  TEXT,
    outcome    TEXT NOT NULL CHECK (outcome IN ('applied', 'overwrote', 'lost')),
    changed_by TEXT NOT NULL REFERENCES users(id),
    changed_at INTEGER NOT NULL
) STRICT;
CREATE INDEX project_history_project ON project_history(project_id, id);

-- Client ids of project and task edits already applied, per author.
CREATE TABLE project_edits (
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    PRIMARY KEY (project_id, user_id, client_id)
) STRICT;
