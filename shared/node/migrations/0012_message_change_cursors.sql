-- How far this device has caught up with each team's edited and deleted messages: the relay's change
-- number last read (`GET .../messages/changes?after=`), so a rejoin asks only for what came since.
CREATE TABLE message_change_cursors (
    team_id TEXT PRIMARY KEY,
    after INTEGER NOT NULL
) WITHOUT ROWID;
