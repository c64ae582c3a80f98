-- huikuan schema, migration 26: the "no supply, no payment" threat (R-H2) as a contact outcome.
--
-- An agent reports `no_supply_no_payment`: the debtor said it will not pay unless supply
-- resumes (不供货就不再付款). Aging reads it per debtor: a threat recorded after the debtor's
-- last credit-hold lift (or ever, when no hold was lifted) still counts. It never lifts a hold,
-- only payment does (R-H1); a held debtor's hold reason names R-H2; the stance is hard, the
-- threat being bad faith (R-A5). The scheduler treats it as a refusal: the next rung at once
-- (R-C1).
ALTER TABLE contact_outcome DROP CONSTRAINT contact_outcome_outcome_check;
ALTER TABLE contact_outcome ADD CONSTRAINT contact_outcome_outcome_check
    CHECK (outcome IN ('reached', 'no_answer', 'left_message', 'wrong_number', 'hostile',
                       'refused', 'delivered', 'returned', 'no_supply_no_payment'));

-- The debtor spoke: the threat is a contact that reached it (R-A2 "no contact"). The partial
-- index of migration 21 must carry the same outcome list as aging's query to be used.
DROP INDEX contact_outcome_reached;
CREATE INDEX contact_outcome_reached ON contact_outcome (tenant, debtor_id, occurred_at)
    WHERE outcome IN ('reached', 'hostile', 'refused', 'delivered', 'no_supply_no_payment');

-- The threats, read by debtor: a lookup in a small index per debtor graded.
CREATE INDEX contact_outcome_threat ON contact_outcome (tenant, debtor_id, occurred_at)
    WHERE outcome = 'no_supply_no_payment';

-- When the debtor's last credit hold was lifted (by payment, R-H1), on the fleet clock: a
-- threat from before it no longer counts. NULL: no hold of the debtor was ever lifted.
ALTER TABLE debtor ADD COLUMN credit_hold_lifted_at timestamptz;
