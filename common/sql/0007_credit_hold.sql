-- huikuan schema, migration 7: credit hold per debtor (R-H1, R-H2), decided by the aging daemon
-- from the debtor's settlement terms and what it still owes; the event tells billing/ERP.
ALTER TABLE debtor
    ADD COLUMN credit_hold boolean NOT NULL DEFAULT false,
    ADD COLUMN credit_hold_reason text;
