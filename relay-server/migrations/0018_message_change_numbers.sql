-- Each edit or deletion of a message takes the team's next change number (under the team's lock, as a
-- post takes its seq), so a device that was away asks for the changes after the last one it saw
-- (`GET .../messages/changes?after=`). A message changed twice keeps only its latest number.
ALTER TABLE messages ADD COLUMN change_seq INTEGER;
CREATE UNIQUE INDEX messages_team_change ON messages(team_id, change_seq) WHERE change_seq IS NOT NULL;
