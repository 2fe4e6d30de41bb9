-- Work the store owes after a migration that SQL alone cannot do; `store::open` does it and deletes the row.
-- `messages`: chat messages were indexed for search as sent, mentions in their wire form
-- (`@[Name](user:<id>)`); they are indexed again as read (`@Name`).
CREATE TABLE pending_rework (
    what TEXT PRIMARY KEY
) STRICT, WITHOUT ROWID;
INSERT INTO pending_rework (what) VALUES ('messages');
