-- Documents of a team this user no longer reads (left, removed, or the team deleted): opening them is
-- refused, and their content (`sync_chunks`) is purged once samod no longer holds them in memory. A
-- document the relay lists again (the user rejoined) leaves this table. Keyed by its URL alone, so no rowid
-- (and no second index beside the table).
CREATE TABLE forgotten_documents (
    document_id TEXT PRIMARY KEY,
    -- 1 once its content is gone from the store (and it was not loaded meanwhile).
    purged      INTEGER NOT NULL DEFAULT 0
) STRICT, WITHOUT ROWID;
