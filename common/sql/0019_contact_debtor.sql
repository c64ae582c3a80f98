-- huikuan schema, migration 19: a debtor's contacts by one index, planned ones included.
--
-- The planner spaces a debtor's contacts by the caps (R-C2): it reads the contacts already
-- planned for the debtors of a review batch, and those made in the week before. The index of
-- made contacts becomes one of all contacts by debtor; the caps' reads of what was made
-- (dispatched_at IS NOT NULL) use it as before.
DROP INDEX contact_debtor_made;
CREATE INDEX contact_debtor ON contact (tenant, debtor_id, dispatched_at);
