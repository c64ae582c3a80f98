-- huikuan schema, migration 24: the daily run re-ages only what the date changes.
--
-- Every input of an invoice's or a debtor's results but the date arrives as an event, and
-- the event re-ages what it touched at once. What the date alone changes (a bucket ends, a
-- grade's day threshold is passed, the recovery curve steps, a limitation warning is reached,
-- the priority's age part steps) is known in advance: the pure rules give the last day on
-- which today's results still hold (the steady days, services/aging). The daily run then
-- re-ages only the rows whose day has come, through an index, instead of rewriting every row.
--
-- aged_through / graded_through: the last day the stored results hold; NULL: to be computed
-- (new, or marked by an event). They replace aged_as_of / risk_as_of as what the passes look
-- for; those stay as the day the results were computed.
ALTER TABLE invoice ADD COLUMN aged_through date;
UPDATE invoice SET aged_through = aged_as_of WHERE aged_as_of IS NOT NULL AND status = 'open';
DROP INDEX invoice_open_aging;
-- debtor_id a key column too: a run's chunk takes the rows at a change point of its debtors'
-- id range, checked in the index, not by reading every due row of the day once per chunk.
CREATE INDEX invoice_open_aged_through ON invoice (tenant, aged_through, debtor_id)
    WHERE status = 'open';

ALTER TABLE debtor ADD COLUMN graded_through date;
UPDATE debtor SET graded_through = risk_as_of;
DROP INDEX debtor_risk_as_of;
CREATE INDEX debtor_graded_through ON debtor (tenant, graded_through);

-- Days past due change every day: stored, they were a daily write of every open invoice.
-- Readers compute them from due_on and the tenant's day (legal, notification, hkctl).
ALTER TABLE invoice DROP COLUMN dpd;

-- What the stored results were computed with, per tenant: aging's rules version and the
-- tenant's buckets. Results are kept until their change point, so when either differs at a
-- start, aging computes every result again.
CREATE TABLE aging_rules (
    tenant      text PRIMARY KEY,
    fingerprint text NOT NULL,
    changed_at  timestamptz NOT NULL DEFAULT now()
);
