-- What the window draws of a document while the document itself loads: its rich text's spans (as
-- automerge-js reports them, JSON), kept whenever the open document is indexed for search, for documents
-- of a team this device reads. Forgotten with the document's team entry or the team.
CREATE TABLE document_previews (
    document_id TEXT PRIMARY KEY,
    team_id     TEXT NOT NULL,
    -- The JSON array of spans.
    spans       TEXT NOT NULL,
    -- The document's heads the spans were read at (JSON array of hex hashes).
    heads       TEXT NOT NULL,
    -- Unix milliseconds when they were kept.
    at          INTEGER NOT NULL
) STRICT;
CREATE INDEX document_previews_team ON document_previews (team_id);
