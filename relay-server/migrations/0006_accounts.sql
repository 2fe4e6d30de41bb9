-- Who may join and the account controls: relay administrators, disabled and deleted accounts,
-- invitations, password resets, sign-in back-off, sockets tickets and the feed of ended sessions.

-- The relay's first account administers it. A disabled account cannot sign in; a deleted one keeps its row
-- (its messages stay, attributed to "Deleted user") with its email and password cleared.
ALTER TABLE users ADD COLUMN is_admin INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN disabled_at INTEGER;
ALTER TABLE users ADD COLUMN deleted_at INTEGER;

-- Only the SHA-256 of an invitation's token is stored. `invited_by` is NULL for one made by the relay's
-- administrator command. Used, revoked, declined and expired invitations all answer as unknown.
CREATE TABLE invitations (
    id          TEXT PRIMARY KEY,
    token_hash  BLOB NOT NULL UNIQUE,
    team_id     TEXT NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    role        TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
    email       TEXT,
    invited_by  TEXT REFERENCES users(id) ON DELETE SET NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER,
    used_by     TEXT REFERENCES users(id) ON DELETE SET NULL,
    revoked_at  INTEGER,
    declined_at INTEGER
) STRICT;
CREATE INDEX invitations_team ON invitations(team_id, created_at);
CREATE INDEX invitations_email ON invitations(email) WHERE email IS NOT NULL;

-- One-time password reset links made by `teamflow-relay admin reset-password`.
CREATE TABLE password_resets (
    token_hash BLOB PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
) STRICT;

-- Failed passwords per (normalised) email, whatever address they come from: the sign-in back-off. A count
-- with no failure for an hour starts again.
CREATE TABLE login_failures (
    email          TEXT PRIMARY KEY,
    failures       INTEGER NOT NULL,
    locked_until   INTEGER NOT NULL,
    last_failed_at INTEGER NOT NULL
) STRICT;

-- Every sign-in that ends (sign-out, sign-out everywhere, password change, refresh-token reuse, an account
-- disabled or deleted) is written here in the transaction that ends it. Each relay process on the database
-- follows this table (`sessions::watch`), so an ended session's live connections close and its access
-- tokens stop working, whichever process ended it (the admin command runs beside the relay).
CREATE TABLE account_changes (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    TEXT NOT NULL,
    family_id  TEXT NOT NULL,
    reason     TEXT NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX account_changes_time ON account_changes(created_at);
