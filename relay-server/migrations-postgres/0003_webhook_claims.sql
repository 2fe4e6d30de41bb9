-- As ../migrations/0015_webhook_claims.sql.
ALTER TABLE webhook_events ADD COLUMN claimed_by TEXT;
ALTER TABLE webhook_events ADD COLUMN claimed_until BIGINT;
