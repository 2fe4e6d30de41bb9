-- A device's local store: the signed-in account, a cache for offline reading, and the outbox of changes
-- made offline. Times are Unix milliseconds.

CREATE TABLE account (
    singleton    INTEGER PRIMARY KEY CHECK (singleton = 1),
    relay_url    TEXT NOT NULL,
    user_json    TEXT NOT NULL
) STRICT;

CREATE TABLE cached_teams (
    id        TEXT PRIMARY KEY,
    json      TEXT NOT NULL
) STRICT;

CREATE TABLE cached_messages (
    team_id   TEXT NOT NULL,
    seq       INTEGER NOT NULL,
    json      TEXT NOT NULL,
    PRIMARY KEY (team_id, seq)
) STRICT;

-- Changes waiting for the relay, delivered in `position` order. `client_id` makes each delivery idempotent
-- on the relay, so a retry after a lost answer never duplicates.
CREATE TABLE outbox (
    position   INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id  TEXT NOT NULL UNIQUE,
    kind       TEXT NOT NULL CHECK (kind IN ('message', 'document')),
    team_id    TEXT NOT NULL,
    body_json  TEXT NOT NULL,
    state      TEXT NOT NULL CHECK (state IN ('pending', 'failed')) DEFAULT 'pending',
    error_code TEXT,
    error      TEXT,
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE IF NOT EXISTS sync_chunks (key TEXT PRIMARY KEY, data BLOB NOT NULL) STRICT;
