-- huikuan schema, migration 6: debtor-level risk written by the aging daemon: the worst grade
-- with its reasons (R-A2), early-warning signals (R-A7) and the priority score with its parts
-- stored so a person can see why one debtor comes before another (R-A4).
ALTER TABLE debtor
    ADD COLUMN grade smallint CHECK (grade BETWEEN 1 AND 5),
    ADD COLUMN grade_reasons text[],
    ADD COLUMN priority integer,
    ADD COLUMN priority_parts jsonb,
    ADD COLUMN signals text[],
    ADD COLUMN risk_as_of date;
CREATE INDEX debtor_priority ON debtor (tenant, priority DESC) WHERE grade < 5;
