-- The keys that sign access tokens, shared by every instance on one database (docs/scale-out.md). Each
-- token names its key (`kid`, a fingerprint of the public key); a rotation adds a key, which signs from
-- then on, and retires the others only after the longest access-token lifetime, so no token in use stops
-- verifying. The oldest key is also the relay's identity (device certificates, invitation secret). On
-- SQLite the identity is the key file in the data directory, and this table starts with it.
CREATE TABLE relay_keys (
    kid         TEXT PRIMARY KEY,
    private_key BLOB NOT NULL,
    created_at  INTEGER NOT NULL,
    retired_at  INTEGER
);
