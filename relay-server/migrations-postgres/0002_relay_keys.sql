-- The keys that sign access tokens, shared by every instance (as ../migrations/0014_relay_keys.sql). On
-- PostgreSQL the oldest key is the relay's identity: the first instance to start makes it, under an
-- advisory lock, so every instance agrees on it.
CREATE TABLE relay_keys (
    kid         TEXT PRIMARY KEY,
    private_key BYTEA NOT NULL,
    created_at  BIGINT NOT NULL,
    retired_at  BIGINT
);
