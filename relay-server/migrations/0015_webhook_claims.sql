-- Which relay instance is processing a webhook event, and until when (Unix ms): instances sharing a database
-- claim due events (`FOR UPDATE SKIP LOCKED` on PostgreSQL) so each is worked on by one of them; a claim
-- left by an instance that died lapses and the event is claimed again.
ALTER TABLE webhook_events ADD COLUMN claimed_by TEXT;
ALTER TABLE webhook_events ADD COLUMN claimed_until INTEGER;
