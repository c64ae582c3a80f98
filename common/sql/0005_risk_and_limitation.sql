-- huikuan schema, migration 5: risk grade, expected recovery and the limitation clock per
-- invoice, written by the aging daemon (R-A2, R-A3, R-L1).
ALTER TABLE invoice
    ADD COLUMN grade smallint CHECK (grade BETWEEN 1 AND 5),   -- R-A2: 5 not due ... 1 dead
    ADD COLUMN recovery_bp integer,                             -- R-A3, basis points
    ADD COLUMN expected_recoverable_minor bigint,               -- floor(outstanding x rate)
    ADD COLUMN limitation_expires_on date,                      -- R-L1
    ADD COLUMN limitation_warning integer NOT NULL DEFAULT 0;   -- most urgent warning emitted
