-- huikuan schema, migration 1: the fleet's plumbing and the walking skeleton's tables.
-- Amounts are bigint minor units with a currency code; instants are timestamptz.

-- The fleet clock (ARCHITECTURE promise 5). One row. simulated=false: system time.
CREATE TABLE fleet_clock (
    singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    simulated   boolean NOT NULL DEFAULT false,
    now_us      bigint  NOT NULL DEFAULT 0,
    changed_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO fleet_clock DEFAULT VALUES;

-- Running daemon instances and where to reach them (bus endpoint, HTTP endpoint).
CREATE TABLE fleet_instance (
    instance      text PRIMARY KEY,
    kind          text NOT NULL,
    host          text NOT NULL,
    pid           integer NOT NULL,
    bus_endpoint  text,
    http_endpoint text,
    started_at    timestamptz NOT NULL DEFAULT now(),
    heartbeat_at  timestamptz NOT NULL DEFAULT now()
);

-- Transactional outbox and event log (promise 1). A state change and its event commit together.
CREATE TABLE producer_sequence (
    producer  text PRIMARY KEY,
    last_seq  bigint NOT NULL DEFAULT 0
);

CREATE TABLE event_outbox (
    producer      text   NOT NULL,
    seq           bigint NOT NULL,
    event_id      uuid   NOT NULL UNIQUE,
    type          text   NOT NULL,
    tenant        text   NOT NULL,
    aggregate_id  text   NOT NULL,
    occurred_at_us bigint NOT NULL,
    envelope      bytea  NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    published_at  timestamptz,
    PRIMARY KEY (producer, seq)
);
CREATE INDEX event_outbox_unpublished ON event_outbox (producer, seq) WHERE published_at IS NULL;

-- Consumer-side deduplication: an event's effect is applied once per consumer kind.
CREATE TABLE consumed_event (
    consumer  text NOT NULL,
    event_id  uuid NOT NULL,
    consumed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);

-- Intake files and their reject reports (promise 4).
CREATE TABLE intake_file (
    id           bigserial PRIMARY KEY,
    tenant       text NOT NULL,
    name         text NOT NULL,
    sha256       text NOT NULL,
    kind         text NOT NULL,
    status       text NOT NULL,            -- 'done', 'failed'
    rows_total   integer NOT NULL DEFAULT 0,
    rows_accepted integer NOT NULL DEFAULT 0,
    rows_unchanged integer NOT NULL DEFAULT 0,
    rows_rejected integer NOT NULL DEFAULT 0,
    reason       text,
    instance     text NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE intake_reject (
    file_id  bigint NOT NULL REFERENCES intake_file(id),
    line     integer NOT NULL,
    field    text NOT NULL,
    reason   text NOT NULL,
    raw      text,
    PRIMARY KEY (file_id, line, field)
);

CREATE TABLE debtor (
    tenant     text NOT NULL,
    debtor_id  text NOT NULL,
    name       text,
    email      text,
    time_zone  text NOT NULL DEFAULT 'Asia/Shanghai',
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, debtor_id)
);

CREATE TABLE invoice (
    tenant       text NOT NULL,
    invoice_id   text NOT NULL,
    debtor_id    text NOT NULL,
    currency     char(3) NOT NULL,
    amount_minor bigint NOT NULL CHECK (amount_minor >= 0),
    outstanding_minor bigint NOT NULL,
    issued_on    date,
    due_on       date NOT NULL,              -- R-T1
    status       text NOT NULL DEFAULT 'open', -- 'open', 'settled'
    -- aging results (R-A1), written by the aging daemon
    aged_as_of   date,
    dpd          integer,
    bucket       text,
    version      integer NOT NULL DEFAULT 1,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, invoice_id),
    FOREIGN KEY (tenant, debtor_id) REFERENCES debtor (tenant, debtor_id)
);
CREATE INDEX invoice_debtor ON invoice (tenant, debtor_id, due_on);
CREATE INDEX invoice_open_aging ON invoice (tenant, aged_as_of) WHERE status = 'open';

CREATE TABLE payment (
    tenant       text NOT NULL,
    payment_id   text NOT NULL,
    debtor_id    text NOT NULL,
    currency     char(3) NOT NULL,
    amount_minor bigint NOT NULL CHECK (amount_minor > 0),
    unallocated_minor bigint NOT NULL DEFAULT 0,
    received_at  timestamptz NOT NULL,
    reference    text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, payment_id)
);

CREATE TABLE payment_allocation (
    tenant     text NOT NULL,
    payment_id text NOT NULL,
    invoice_id text NOT NULL,
    amount_minor bigint NOT NULL CHECK (amount_minor > 0),
    PRIMARY KEY (tenant, payment_id, invoice_id)
);

-- Planned and performed contacts (R-C1, R-N3).
CREATE TABLE contact (
    contact_id  uuid PRIMARY KEY,
    tenant      text NOT NULL,
    debtor_id   text NOT NULL,
    invoice_id  text NOT NULL,
    channel     text NOT NULL,
    step        text NOT NULL,
    due_at      timestamptz NOT NULL,
    status      text NOT NULL DEFAULT 'planned', -- planned, dispatched, sent, cancelled, failed
    rules       text[] NOT NULL DEFAULT '{}',
    reason      text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
-- One reminder of a step per invoice in the skeleton.
CREATE UNIQUE INDEX contact_once ON contact (tenant, invoice_id, step);
CREATE INDEX contact_due ON contact (due_at) WHERE status = 'planned';

CREATE TABLE delivery (
    contact_id     uuid PRIMARY KEY REFERENCES contact(contact_id),
    channel        text NOT NULL,
    template       text NOT NULL,
    recipient      text NOT NULL,
    content_sha256 text NOT NULL,
    status         text NOT NULL,
    delivery_ref   text,
    instance       text NOT NULL,
    sent_at        timestamptz NOT NULL DEFAULT now()
);

-- Legal cases (R-L3).
CREATE TABLE legal_case (
    case_id    uuid PRIMARY KEY,
    tenant     text NOT NULL,
    debtor_id  text NOT NULL,
    invoice_id text NOT NULL,
    dpd        integer NOT NULL,
    currency   char(3) NOT NULL,
    outstanding_minor bigint NOT NULL,
    status     text NOT NULL DEFAULT 'open',
    opened_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant, invoice_id)
);
