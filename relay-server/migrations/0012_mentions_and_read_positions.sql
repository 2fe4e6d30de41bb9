-- Who each message mentions (checked to be members when it was posted), so a person's unread mentions are
-- counted on the relay and known on every device.
CREATE TABLE message_mentions (
    message_id TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    team_id    TEXT NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (message_id, user_id)
) STRICT;
CREATE INDEX message_mentions_user ON message_mentions(team_id, user_id, seq);

-- How far each person has read each team's chat. Only moves forward (the update keeps the larger seq), so
-- a late write from a device that read less never undoes what another device read.
CREATE TABLE read_positions (
    team_id    TEXT NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL CHECK (seq >= 0),
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (team_id, user_id)
) STRICT;

-- Counting a person's unread messages walks the team's messages after their position.
CREATE INDEX messages_team_author_seq ON messages(team_id, seq, author_id);
