-- Which team a deleted document (kept while it can be restored) was in: its team entry is gone, and when
-- this user leaves that team, or it is deleted, the document is purged at once like the team's others.
ALTER TABLE forgotten_documents ADD COLUMN team_id TEXT;
