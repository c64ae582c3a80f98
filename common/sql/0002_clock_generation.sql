-- huikuan schema, migration 2: the fleet clock's generation, a counter bumped by every set,
-- advance or return to system time, so a daemon can tell a new reading from an old one.
ALTER TABLE fleet_clock ADD COLUMN generation bigint NOT NULL DEFAULT 0;
