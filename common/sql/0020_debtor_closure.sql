-- huikuan schema, migration 20: a known closure or demolition of a debtor's business, from
-- the debtor feed (R-A7, aging issue: "early-warning signals from the feed: ... closure
-- flag"). With no contact for long, or never, it grades the debtor bad (R-A2); it moves the
-- debtor up the priority list either way (R-A4).
ALTER TABLE debtor ADD COLUMN closure boolean NOT NULL DEFAULT false;
