-- Webhook integrations and their events. An event row is the durable queue: it is written before the
-- provider is acknowledged, and processed (summary, chat mirror, broadcast) afterwards.

CREATE TABLE integrations (
    id             TEXT PRIMARY KEY,
    team_id        TEXT NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    service        TEXT NOT NULL CHECK (service IN ('github', 'slack', 'trello')),
    -- Needed in the clear to compute HMACs; never returned after creation.
    secret         TEXT NOT NULL,
    -- Exactly as returned at creation: Trello signs over it.
    callback_url   TEXT NOT NULL,
    mirror_to_chat INTEGER NOT NULL DEFAULT 0,
    created_by     TEXT NOT NULL REFERENCES users(id),
    created_at     INTEGER NOT NULL
) STRICT;
CREATE INDEX integrations_team ON integrations(team_id);

CREATE TABLE webhook_events (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    id             TEXT NOT NULL UNIQUE,
    integration_id TEXT NOT NULL REFERENCES integrations(id) ON DELETE CASCADE,
    team_id        TEXT NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    service        TEXT NOT NULL,
    event_type     TEXT NOT NULL,
    -- The provider's delivery identity; a redelivery with the same key is stored once.
    delivery_key   TEXT NOT NULL,
    -- The raw body, dropped after the team's retention period.
    payload        BLOB,
    received_at    INTEGER NOT NULL,
    processed_at   INTEGER,
    summary        TEXT,
    url            TEXT,
    UNIQUE (integration_id, delivery_key)
) STRICT;
CREATE INDEX webhook_events_pending ON webhook_events(processed_at) WHERE processed_at IS NULL;
CREATE INDEX webhook_events_team ON webhook_events(team_id, seq);
