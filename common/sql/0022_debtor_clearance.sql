-- huikuan schema, migration 22: clearance sales (清仓) at a debtor, from the debtor feed: an
-- early-warning signal (R-A7) that moves the debtor up the priority list (R-A4).
ALTER TABLE debtor ADD COLUMN clearance_sale boolean NOT NULL DEFAULT false;
