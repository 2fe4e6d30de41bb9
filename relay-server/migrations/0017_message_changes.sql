-- A message's author may change its text, and it or an admin may delete it (Unix ms of each). A deleted
-- message keeps its row, so the chat's seq stays without gaps; its content is emptied in that write.
ALTER TABLE messages ADD COLUMN edited_at INTEGER;
ALTER TABLE messages ADD COLUMN deleted_at INTEGER;
