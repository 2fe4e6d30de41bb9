-- A row deleted from the full-text index takes its words out of the index's segments at once, instead of
-- leaving them there behind a delete marker until a merge: what a forgotten team or document was indexed
-- by is not readable in the store afterwards (FTS5's `secure-delete`, SQLite 3.42 and later).
INSERT INTO search_index (search_index, rank) VALUES ('secure-delete', 1);
