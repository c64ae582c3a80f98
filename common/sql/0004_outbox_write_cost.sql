-- huikuan schema, migration 4: cheaper event writes for bulk intake.
-- Event ids are random v4 UUIDs written by the producer; nothing looks events up by id in the
-- outbox (consumers deduplicate in consumed_event, the bus reads by producer and sequence), so
-- the unique index on event_id only cost a random index insert per event.
ALTER TABLE event_outbox DROP CONSTRAINT event_outbox_event_id_key;
