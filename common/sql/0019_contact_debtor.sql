-- huikuan schema, migration 19: a debtor's contacts spaced when planned (R-C2).
--
-- The planner spaces a debtor's contacts by the caps: it reads the contacts already planned
-- for the debtors of a review batch, and those made in the week before. The index of made
-- contacts becomes one of all contacts by debtor; the caps' reads of what was made
-- (dispatched_at IS NOT NULL) use it as before. A contact the caps moved keeps the minute it
-- wanted, so that it comes back towards it when the contact it made way for is cancelled.
DROP INDEX contact_debtor_made;
CREATE INDEX contact_debtor ON contact (tenant, debtor_id, dispatched_at);
ALTER TABLE contact ADD COLUMN wanted_at timestamptz;   -- NULL: planned where it wanted
