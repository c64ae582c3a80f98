-- huikuan schema, migration 17: what retention needs to find old rows cheaply.
--
-- Housekeeping (common/src/retention.c) deletes consumed-event records older than the
-- deduplication window. They are written in time order, so a BRIN index (a few pages, next to
-- nothing to maintain on each insert) finds the old ones without reading the table.
CREATE INDEX consumed_event_age ON consumed_event USING brin (consumed_at);
