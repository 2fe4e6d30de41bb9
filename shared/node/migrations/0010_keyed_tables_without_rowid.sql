-- The tables keyed by something other than an integer, with small rows, keep their rows in the key's own
-- b-tree (WITHOUT ROWID): a rowid table keyed by text is two b-trees (the rows, and an index from the key to
-- the rowid), so each write touched both, each lookup walked both, each key was stored twice, and each table
-- took two pages in an empty store. `sync_chunks` and `document_previews` keep their rowid: their rows are
-- large (a document's chunks, a document's spans), and SQLite keeps an index b-tree's rows to about a quarter
-- of a page before spilling them to overflow pages. A rowid table takes a NULL key (even under STRICT), a
-- WITHOUT ROWID one does not: rows with one (never written by the node) are not copied.

CREATE TABLE cached_teams_new (
    id        TEXT PRIMARY KEY,
    json      TEXT NOT NULL
) STRICT, WITHOUT ROWID;
INSERT INTO cached_teams_new (id, json) SELECT id, json FROM cached_teams WHERE id IS NOT NULL;
DROP TABLE cached_teams;
ALTER TABLE cached_teams_new RENAME TO cached_teams;

CREATE TABLE cached_messages_new (
    team_id   TEXT NOT NULL,
    seq       INTEGER NOT NULL,
    json      TEXT NOT NULL,
    PRIMARY KEY (team_id, seq)
) STRICT, WITHOUT ROWID;
INSERT INTO cached_messages_new (team_id, seq, json) SELECT team_id, seq, json FROM cached_messages;
DROP TABLE cached_messages;
ALTER TABLE cached_messages_new RENAME TO cached_messages;

CREATE TABLE cached_views_new (
    key   TEXT PRIMARY KEY,
    json  TEXT NOT NULL
) STRICT, WITHOUT ROWID;
INSERT INTO cached_views_new (key, json) SELECT key, json FROM cached_views WHERE key IS NOT NULL;
DROP TABLE cached_views;
ALTER TABLE cached_views_new RENAME TO cached_views;

CREATE TABLE document_teams_new (
    document_id TEXT PRIMARY KEY,
    team_id     TEXT NOT NULL
) STRICT, WITHOUT ROWID;
INSERT INTO document_teams_new (document_id, team_id)
    SELECT document_id, team_id FROM document_teams WHERE document_id IS NOT NULL;
DROP TABLE document_teams;
ALTER TABLE document_teams_new RENAME TO document_teams;

CREATE TABLE read_positions_new (
    team_id TEXT PRIMARY KEY,
    seq     INTEGER NOT NULL CHECK (seq >= 0)
) STRICT, WITHOUT ROWID;
INSERT INTO read_positions_new (team_id, seq) SELECT team_id, seq FROM read_positions WHERE team_id IS NOT NULL;
DROP TABLE read_positions;
ALTER TABLE read_positions_new RENAME TO read_positions;

CREATE TABLE muted_teams_new (
    team_id TEXT PRIMARY KEY
) STRICT, WITHOUT ROWID;
INSERT INTO muted_teams_new (team_id) SELECT team_id FROM muted_teams WHERE team_id IS NOT NULL;
DROP TABLE muted_teams;
ALTER TABLE muted_teams_new RENAME TO muted_teams;
