-- A document deleted in its team (not its whole team forgotten) stays restorable on the relay for 30 days:
-- the device keeps its content as long (an edit made here offline comes back with a restore), then purges
-- it as it purges a forgotten team's. Milliseconds since the epoch; 0: purge as soon as it can be.
ALTER TABLE forgotten_documents ADD COLUMN purge_after INTEGER NOT NULL DEFAULT 0;
