-- A deleted document stays restorable for a while (see `documents::KEPT_AFTER_DELETE`): the registry row is
-- kept with the time and the person, lists and sync leave it out, and a purge later buries it for good
-- (content deleted, tombstone left).
ALTER TABLE documents ADD COLUMN deleted_at INTEGER;
ALTER TABLE documents ADD COLUMN deleted_by TEXT REFERENCES users(id);
-- The purge looks for the oldest deletions.
CREATE INDEX documents_deleted ON documents(deleted_at) WHERE deleted_at IS NOT NULL;
