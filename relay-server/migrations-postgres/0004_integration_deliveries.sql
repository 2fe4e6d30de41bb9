-- As ../migrations/0016_integration_deliveries.sql.
ALTER TABLE integrations ADD COLUMN last_delivery_at BIGINT;
ALTER TABLE integrations ADD COLUMN last_refused_at BIGINT;
ALTER TABLE integrations ADD COLUMN last_refused_reason TEXT;
