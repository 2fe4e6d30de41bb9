-- The devices the relay has certified for peer-to-peer sync: teammates find each other through this list,
-- and only these devices may hold a reservation or open a circuit on the relay's libp2p node.
CREATE TABLE device_certificates (
    peer_id    TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- Unix seconds.
    expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX device_certificates_user ON device_certificates(user_id);
