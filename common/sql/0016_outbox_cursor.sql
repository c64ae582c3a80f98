-- huikuan schema, migration 16: the relay keeps a cursor per producer instead of marking rows.
--
-- A producer's appends are serialised by its producer_sequence row (event.c), so its committed
-- sequence numbers have no holes and commit in order: what is published is exactly seq <=
-- published_seq. The relay advances that one number per batch where it used to UPDATE every
-- event it published (a second write of the whole outbox) through an index of unpublished
-- rows that every append also had to maintain.
ALTER TABLE producer_sequence ADD COLUMN published_seq bigint NOT NULL DEFAULT 0;
UPDATE producer_sequence p
   SET published_seq = coalesce ((SELECT min (o.seq) - 1 FROM event_outbox o
                                   WHERE o.producer = p.producer AND o.published_at IS NULL),
                                 p.last_seq);
DROP INDEX event_outbox_unpublished;
ALTER TABLE event_outbox DROP COLUMN published_at;

-- What the relay has still to publish (operators, hkctl status, tests).
CREATE VIEW event_unpublished AS
    SELECT o.* FROM event_outbox o JOIN producer_sequence p ON p.producer = o.producer
     WHERE o.seq > p.published_seq;
