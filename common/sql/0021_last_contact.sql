-- huikuan schema, migration 21: the debtor's last contact (R-A2 "no contact for 180 days or
-- never"), as aging reads it: a message sent (contact.status = 'sent', at its dispatched_at,
-- the fleet clock's time) or an outcome that says the debtor was reached: answered, hostile,
-- refused, or a letter delivered. The outcomes are read by debtor.
CREATE INDEX contact_outcome_reached ON contact_outcome (tenant, debtor_id, occurred_at)
    WHERE outcome IN ('reached', 'hostile', 'refused', 'delivered');
