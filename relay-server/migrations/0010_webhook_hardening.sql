-- Integrations act with their creator's current rights: one whose creator left the team is disabled (and
-- says why) until an admin rotates its secret, which makes that admin its creator.
ALTER TABLE integrations ADD COLUMN disabled_at INTEGER;
ALTER TABLE integrations ADD COLUMN disabled_reason TEXT;

-- Failures are classified: a permanent one is recorded here and the queue moves on; a transient one is
-- retried at retry_at, with a growing delay, without holding back other events.
ALTER TABLE webhook_events ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE webhook_events ADD COLUMN retry_at INTEGER;
ALTER TABLE webhook_events ADD COLUMN failed_at INTEGER;
ALTER TABLE webhook_events ADD COLUMN failure TEXT;
CREATE INDEX webhook_events_failed ON webhook_events(integration_id, seq) WHERE failed_at IS NOT NULL;

-- GitHub's delivery header is not signed: a captured delivery replayed under a new id is still the same
-- signed body, so bodies are de-duplicated too.
ALTER TABLE webhook_events ADD COLUMN body_sha256 TEXT;
CREATE UNIQUE INDEX webhook_events_body ON webhook_events(integration_id, body_sha256) WHERE body_sha256 IS NOT NULL;
