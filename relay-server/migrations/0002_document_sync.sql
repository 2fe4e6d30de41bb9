-- samod's key/value storage for Automerge documents: keys are '/'-joined StorageKey components.
CREATE TABLE sync_chunks (
    key  TEXT PRIMARY KEY,
    data BLOB NOT NULL
) STRICT;
