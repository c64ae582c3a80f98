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

-- A debt's review time is set when its step is planned (the step's minute plus the gap), so a
-- step made on time changes no indexed column of its debt. Half of each page is kept free so
-- that this write stays on the row's page (a HOT update: no index entries): at 80 % only about
-- half of a burst's writes found room. The table takes twice the pages for it.
ALTER TABLE collection SET (fillfactor = 50);
