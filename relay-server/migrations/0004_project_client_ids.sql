-- A client may name the project it creates (`client_id`), so a create retried after a lost answer returns
-- the project already made instead of a second one. Unique per team and creator, like message client ids.
ALTER TABLE projects ADD COLUMN client_id TEXT;
CREATE UNIQUE INDEX projects_client_id ON projects (team_id, created_by, client_id) WHERE client_id IS NOT NULL;
