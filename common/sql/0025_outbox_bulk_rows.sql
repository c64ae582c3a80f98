-- huikuan schema, migration 25: many events of one kind in one outbox row (ingestion issue:
-- intake speed).
--
-- A feed of a million invoices wrote a million outbox rows, each a heap tuple and an index
-- entry: a quarter of the server's work for the file. Bulk intake (hk_outbox_send_batch) now
-- writes the events of a batch that share type, tenant and time as one row: their ids,
-- aggregates and envelopes in three arrays (stored out of line, uncompressed: envelopes are
-- protobuf and compress poorly, and compressing costs more than writing). Every other writer
-- still writes one event a row.
--
-- The table is now outbox_row. Its seq is the sequence number of the row's last event; a row
-- of n events holds seq - n + 1 .. seq, so (producer, seq) still orders the rows, and the
-- rows a reader still needs after sequence number s are those with seq > s. The relay and the
-- bus's catch-up read outbox_row and unpack the arrays (event.c, bus.c). event_outbox is a
-- view with one row per event, as before, for everything else that reads events.
ALTER TABLE event_outbox RENAME TO outbox_row;
ALTER TABLE outbox_row
    ADD COLUMN events integer NOT NULL DEFAULT 1,
    ADD COLUMN event_ids uuid[],
    ADD COLUMN aggregate_ids text[],
    ADD COLUMN envelopes bytea[],
    ALTER COLUMN event_id DROP NOT NULL,
    ALTER COLUMN aggregate_id DROP NOT NULL,
    ALTER COLUMN envelope DROP NOT NULL,
    ALTER COLUMN event_ids SET STORAGE EXTERNAL,
    ALTER COLUMN aggregate_ids SET STORAGE EXTERNAL,
    ALTER COLUMN envelopes SET STORAGE EXTERNAL,
    ADD CONSTRAINT outbox_row_one_or_many CHECK (
        (envelopes IS NULL AND events = 1 AND event_id IS NOT NULL
         AND aggregate_id IS NOT NULL AND envelope IS NOT NULL
         AND event_ids IS NULL AND aggregate_ids IS NULL)
        OR (envelopes IS NOT NULL AND events >= 1 AND event_id IS NULL
            AND aggregate_id IS NULL AND envelope IS NULL
            AND cardinality (envelopes) = events AND cardinality (event_ids) = events
            AND cardinality (aggregate_ids) = events
            AND array_ndims (envelopes) = 1 AND array_ndims (event_ids) = 1
            AND array_ndims (aggregate_ids) = 1));

DROP VIEW event_unpublished;

-- One row per event, in the columns event_outbox always had.
CREATE VIEW event_outbox AS
    SELECT producer, seq, event_id, type, tenant, aggregate_id, occurred_at_us, envelope,
           created_at
      FROM outbox_row WHERE envelopes IS NULL
    UNION ALL
    SELECT o.producer, o.seq - o.events + e.n, e.event_id, o.type, o.tenant, e.aggregate_id,
           o.occurred_at_us, e.envelope, o.created_at
      FROM outbox_row o
     CROSS JOIN LATERAL unnest (o.event_ids, o.aggregate_ids, o.envelopes)
           WITH ORDINALITY AS e (event_id, aggregate_id, envelope, n)
     WHERE o.envelopes IS NOT NULL;

-- What the relay has still to publish (operators, hkctl status, tests).
CREATE VIEW event_unpublished AS
    SELECT o.* FROM event_outbox o JOIN producer_sequence p ON p.producer = o.producer
     WHERE o.seq > p.published_seq;
