-- The local search index: chat messages, projects and documents of every team this device has seen,
-- searchable offline. `search_items` names what each row of the full-text index is; `search_index` holds its
-- text (porter stemming over unicode61 without diacritics, prefix indexes of 2 to 4 characters for the word
-- being typed).
CREATE TABLE search_items (
    id        INTEGER PRIMARY KEY,
    kind      TEXT NOT NULL CHECK (kind IN ('message', 'project', 'document')),
    team_id   TEXT NOT NULL,
    -- A message's seq (as text), a project's id, a document's URL.
    item_id   TEXT NOT NULL,
    -- Unix milliseconds of the item's last change, for ordering equally good matches.
    at        INTEGER NOT NULL,
    UNIQUE (kind, team_id, item_id)
) STRICT;

CREATE VIRTUAL TABLE search_index USING fts5(
    title,
    body,
    tokenize = 'porter unicode61 remove_diacritics 2',
    prefix = '2 3 4'
);
-- Ranking: BM25 with a title match worth twice a body match.
INSERT INTO search_index (search_index, rank) VALUES ('rank', 'bm25(2.0, 1.0)');

-- Messages already cached before the index existed.
INSERT INTO search_items (kind, team_id, item_id, at)
    SELECT 'message', team_id, CAST(seq AS TEXT),
           COALESCE(unixepoch(json_extract(json, '$.created_at')) * 1000, 0)
    FROM cached_messages;
INSERT INTO search_index (rowid, title, body)
    SELECT i.id, json_extract(m.json, '$.author_name'), json_extract(m.json, '$.content')
    FROM search_items i JOIN cached_messages m ON m.team_id = i.team_id AND CAST(m.seq AS TEXT) = i.item_id
    WHERE i.kind = 'message';
