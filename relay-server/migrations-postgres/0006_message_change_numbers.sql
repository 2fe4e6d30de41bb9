-- As ../migrations/0018_message_change_numbers.sql.
ALTER TABLE messages ADD COLUMN change_seq BIGINT;
CREATE UNIQUE INDEX messages_team_change ON messages(team_id, change_seq) WHERE change_seq IS NOT NULL;
