-- huikuan schema, migration 23: when an early-warning signal was last raised on a debtor (R-A7),
-- by the fleet clock: set by aging when a signal appears that the debtor did not have. "A
-- signal moves the debtor up the priority list and can request immediate settlement": the
-- scheduler takes the next rung of a debt at once, without waiting, when a signal was raised
-- after that debt's last step.
ALTER TABLE debtor ADD COLUMN signal_at timestamptz;
