-- What an integration's admins see of its deliveries without the relay's log (Unix ms): when one was last
-- taken, and the last one refused and why (`invalid_signature: ...`). Written at most about once a minute
-- each, so a sender of bad signatures costs no write per request.
ALTER TABLE integrations ADD COLUMN last_delivery_at INTEGER;
ALTER TABLE integrations ADD COLUMN last_refused_at INTEGER;
ALTER TABLE integrations ADD COLUMN last_refused_reason TEXT;
