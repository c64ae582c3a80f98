-- huikuan schema, migration 10: limitation interruptions from the feeds (R-L2) and the daily
-- full re-age as a run of chunks handed out over Redis, with per-run evidence (aging issue).

-- R-L2: each interruption of a debt's limitation period, with its evidence. The aging daemon
-- restarts the invoice's clock from the latest one that counts (services/aging/limitation.h).
CREATE TABLE limitation_interruption (
    tenant          text NOT NULL,
    interruption_id text NOT NULL,
    debtor_id       text NOT NULL,
    invoice_id      text NOT NULL,
    interruption    text NOT NULL CHECK (interruption IN ('lawsuit', 'demand',
                        'acknowledgement', 'repayment_plan', 'interest_paid',
                        'extension_request')),
    occurred_on     date NOT NULL,
    evidence        text,          -- receipt, signature, recording ...; NULL: does not count
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, interruption_id)
);
CREATE INDEX limitation_interruption_invoice ON limitation_interruption (tenant, invoice_id);

-- The debtor pass looks for debtors marked by an event (risk_as_of NULL) or not graded today.
CREATE INDEX debtor_risk_as_of ON debtor (tenant, risk_as_of);

-- The last limitation clock start the daemon used (the due date or the counted interruption).
ALTER TABLE invoice ADD COLUMN limitation_start date;

-- One full re-age per tenant-local day. The instance that creates the row splits the debtors
-- into chunks of consecutive debtor ids and hands them out on a Redis stream; chunks whose
-- messages were lost (Redis lost its data) are pushed again.
CREATE TABLE aging_run (
    tenant       text NOT NULL,
    run_date     date NOT NULL,
    planned_by   text NOT NULL,
    planned_at   timestamptz NOT NULL DEFAULT now(),  -- or when its chunks were last re-pushed
    chunks       integer NOT NULL,
    finished_at  timestamptz,      -- every chunk done
    PRIMARY KEY (tenant, run_date)
);

-- A chunk: the debtors with lo < debtor_id <= hi (NULL: unbounded). Done exactly once: the
-- chunk's row lock and done_at commit with its results.
CREATE TABLE aging_run_chunk (
    tenant     text NOT NULL,
    run_date   date NOT NULL,
    chunk      integer NOT NULL,
    lo         text,
    hi         text,
    debtors    integer,            -- aged in the chunk
    invoices   integer,
    done_by    text,
    deliveries integer,            -- Redis deliveries of the message that did it
    done_at    timestamptz,
    PRIMARY KEY (tenant, run_date, chunk),
    FOREIGN KEY (tenant, run_date) REFERENCES aging_run ON DELETE CASCADE
);

-- Evidence: one row each time a run ages a debtor (no unique key on purpose: a debtor aged
-- twice in a run would show as two rows).
CREATE TABLE aging_run_debtor (
    tenant    text NOT NULL,
    run_date  date NOT NULL,
    debtor_id text NOT NULL,
    chunk     integer NOT NULL,
    aged_by   text NOT NULL,
    aged_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX aging_run_debtor_run ON aging_run_debtor (tenant, run_date, debtor_id);
