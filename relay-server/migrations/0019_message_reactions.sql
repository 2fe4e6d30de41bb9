-- Emoji reactions on messages: one row per person and emoji on a message (adding it again changes
-- nothing). Changing them takes the team's next change number on the message, as an edit does, so a
-- device that was away catches up with them too. A deleted message loses its reactions in its deletion.
CREATE TABLE message_reactions (
    message_id TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    emoji      TEXT NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (message_id, emoji, user_id)
) STRICT, WITHOUT ROWID;
