-- huikuan schema, migration 8: cause of default (R-A6) and cooperation as recorded by the
-- creditor, and the stance the aging daemon derives from them (R-A5: soft 文收 / hard 武收).
ALTER TABLE debtor
    ADD COLUMN cause_of_default text,      -- oversight, dispute, cash_shortage, wilful
    ADD COLUMN uncooperative boolean,
    ADD COLUMN stance text;                -- soft, hard
