-- How far this user has read each team's chat, as this device knows it: its own reads (sent to the relay
-- through the outbox) and the relay's answers and read_moved frames from the user's other devices. Only
-- ever moves forward, like the relay's.
CREATE TABLE read_positions (
    team_id TEXT PRIMARY KEY,
    seq     INTEGER NOT NULL CHECK (seq >= 0)
) STRICT;

-- What this user wants to be told of on this device: teams they muted, and whether every message notifies
-- while the window is not focused (mentions always do, outside muted teams).
CREATE TABLE muted_teams (
    team_id TEXT PRIMARY KEY
) STRICT;
CREATE TABLE notification_settings (
    id                      INTEGER PRIMARY KEY CHECK (id = 1),
    every_message_unfocused INTEGER NOT NULL CHECK (every_message_unfocused IN (0, 1))
) STRICT;

-- Read positions join the outbox as entries of kind `read` (one waiting entry per team, moved forward); the
-- outbox has not checked its kinds since 0005.
