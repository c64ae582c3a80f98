-- huikuan schema, migration 3: every record kind the ingestion daemon takes (docs/feeds.md).

ALTER TABLE debtor
    ADD COLUMN size_class text,                 -- large, medium, small (R-C3)
    ADD COLUMN calendar text NOT NULL DEFAULT 'CN',
    ADD COLUMN address text,
    ADD COLUMN distance_km integer,             -- R-A4
    ADD COLUMN credit_limit_minor bigint,       -- R-T3
    ADD COLUMN credit_currency char(3),
    ADD COLUMN phone text,
    ADD COLUMN country text,
    ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();

CREATE TABLE contact_person (
    tenant         text NOT NULL,
    contact_id     text NOT NULL,
    debtor_id      text NOT NULL,
    role           text NOT NULL,    -- payment_contact, finance, owner, initial_contact, other (R-C3)
    name           text,
    phone          text,
    email          text,
    postal_address text,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, contact_id),
    FOREIGN KEY (tenant, debtor_id) REFERENCES debtor (tenant, debtor_id)
);
CREATE INDEX contact_person_debtor ON contact_person (tenant, debtor_id);

CREATE TABLE contract (
    tenant      text NOT NULL,
    contract_id text NOT NULL,
    debtor_id   text NOT NULL,
    terms       text NOT NULL,       -- cash, deliver_two_settle_one, periodic, one_off (R-T2)
    period_day  integer CHECK (period_day BETWEEN 1 AND 31),
    due_on      date,
    signed_by   text,
    sealed      boolean,             -- R-T4: false or unknown is weak evidence
    signed_on   date,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, contract_id),
    FOREIGN KEY (tenant, debtor_id) REFERENCES debtor (tenant, debtor_id)
);

ALTER TABLE invoice ADD COLUMN contract_id text;

CREATE TABLE credit_note (
    tenant          text NOT NULL,
    credit_note_id  text NOT NULL,
    debtor_id       text NOT NULL,
    invoice_id      text,
    currency        char(3) NOT NULL,
    amount_minor    bigint NOT NULL CHECK (amount_minor > 0),
    unapplied_minor bigint NOT NULL DEFAULT 0,
    issued_on       date,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, credit_note_id),
    FOREIGN KEY (tenant, debtor_id) REFERENCES debtor (tenant, debtor_id)
);

CREATE TABLE credit_note_allocation (
    tenant         text NOT NULL,
    credit_note_id text NOT NULL,
    invoice_id     text NOT NULL,
    amount_minor   bigint NOT NULL CHECK (amount_minor > 0),
    PRIMARY KEY (tenant, credit_note_id, invoice_id)
);

-- Payments may arrive without a known debtor (bank statements): parked for review.
ALTER TABLE payment
    ALTER COLUMN debtor_id DROP NOT NULL,
    ADD COLUMN payer_name text,
    ADD COLUMN payer_account text,
    ADD COLUMN status text NOT NULL DEFAULT 'allocated'; -- allocated, credit, unmatched
CREATE INDEX payment_review ON payment (tenant) WHERE status = 'unmatched';

CREATE TABLE promise (
    tenant       text NOT NULL,
    promise_id   text NOT NULL,
    debtor_id    text NOT NULL,
    invoice_id   text,
    currency     char(3) NOT NULL,
    amount_minor bigint NOT NULL CHECK (amount_minor > 0),
    promised_at  timestamptz NOT NULL,    -- R-C5, R-S5
    recorded_at  timestamptz,
    status       text NOT NULL DEFAULT 'open',
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, promise_id),
    FOREIGN KEY (tenant, debtor_id) REFERENCES debtor (tenant, debtor_id)
);

CREATE TABLE dispute (
    tenant       text NOT NULL,
    dispute_id   text NOT NULL,
    debtor_id    text NOT NULL,
    invoice_id   text NOT NULL,
    currency     char(3),
    amount_minor bigint CHECK (amount_minor > 0),  -- NULL: the whole invoice (R-C8)
    reason       text,
    opened_on    date NOT NULL,
    status       text NOT NULL DEFAULT 'open',      -- open, resolved
    resolved_on  date,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, dispute_id),
    FOREIGN KEY (tenant, debtor_id) REFERENCES debtor (tenant, debtor_id)
);

CREATE TABLE incoming_payment (
    tenant      text NOT NULL,
    debtor_id   text NOT NULL,
    expected_on date NOT NULL,   -- R-S3
    note        text,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, debtor_id, expected_on),
    FOREIGN KEY (tenant, debtor_id) REFERENCES debtor (tenant, debtor_id)
);

CREATE TABLE goods_delivery (
    tenant       text NOT NULL,
    delivery_id  text NOT NULL,
    debtor_id    text NOT NULL,
    contract_id  text,
    delivered_on date NOT NULL,   -- R-H1, R-A7
    currency     char(3),
    amount_minor bigint,
    quantity     bigint,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, delivery_id),
    FOREIGN KEY (tenant, debtor_id) REFERENCES debtor (tenant, debtor_id)
);
CREATE INDEX goods_delivery_debtor ON goods_delivery (tenant, debtor_id, delivered_on);

