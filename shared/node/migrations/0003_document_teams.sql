-- Which team each known document belongs to: the share policy offers a document to a teammate's device
-- only when the device's certificate names that team.
CREATE TABLE document_teams (
    document_id TEXT PRIMARY KEY,
    team_id     TEXT NOT NULL
) STRICT;
