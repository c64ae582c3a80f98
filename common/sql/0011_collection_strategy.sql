-- huikuan schema, migration 11: the scheduling daemon's collection strategy (DOMAIN sections 4
-- and 5). Strategy documents are versioned data; every debt being collected has one row of
-- ladder state; every contact is a row of the log that decides the caps (ARCHITECTURE promise 3).

-- Strategy documents, one row per version (R-C1). The scheduler stores the document it runs
-- with; a changed document becomes the next version.
CREATE TABLE strategy (
    tenant     text NOT NULL,
    name       text NOT NULL,
    version    integer NOT NULL,
    body       jsonb NOT NULL,
    sha256     text NOT NULL,
    loaded_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, name, version),
    UNIQUE (tenant, name, sha256)
);

-- Debtor flags that stop or redirect contact.
ALTER TABLE debtor
    ADD COLUMN do_not_contact boolean NOT NULL DEFAULT false,
    ADD COLUMN bankrupt boolean NOT NULL DEFAULT false,
    ADD COLUMN reachability text NOT NULL DEFAULT 'reachable'   -- reachable, half_lost, lost (R-A8)
        CHECK (reachability IN ('reachable', 'half_lost', 'lost'));

-- Ladder state of one debt (R-C1, R-C2, R-C5, R-C8).
CREATE TABLE collection (
    tenant           text NOT NULL,
    invoice_id       text NOT NULL,
    debtor_id        text NOT NULL,
    strategy         text NOT NULL,
    strategy_version integer NOT NULL,
    variant          smallint NOT NULL DEFAULT 0,      -- 0 champion, 1 challenger
    state            text NOT NULL DEFAULT 'active',   -- active, paused, settled, stopped, done
    state_reason     text,
    last_step        text NOT NULL DEFAULT 'none',
    last_step_at     timestamptz,
    phone_count      integer NOT NULL DEFAULT 0,
    visit_count      integer NOT NULL DEFAULT 0,
    broken_promises  integer NOT NULL DEFAULT 0,
    promise_broken_at timestamptz,                      -- the latest broken promise (R-C5)
    pending_contact  uuid,                              -- planned, not yet made
    next_review_at   timestamptz,
    opened_at        timestamptz NOT NULL DEFAULT now(),   -- by the fleet clock
    settled_at       timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, invoice_id)
);
CREATE INDEX collection_review ON collection (next_review_at) WHERE state = 'active';
CREATE INDEX collection_debtor ON collection (tenant, debtor_id);

-- Contacts: several of one step per debt now (three calls, R-C2), so the skeleton's
-- one-per-step key gives way to a plan key naming why the contact exists.
DROP INDEX contact_once;
ALTER TABLE contact
    ADD COLUMN plan_key         text,
    ADD COLUMN kind             text NOT NULL DEFAULT 'ladder', -- ladder, pre_due, confirmation,
                                   -- promise_reminder, remainder, incoming, cadence
    ADD COLUMN person_id        text,
    ADD COLUMN caller_role      text,
    ADD COLUMN variant          smallint,
    ADD COLUMN strategy_version integer,
    ADD COLUMN promise_id       text,
    ADD COLUMN timing           text,           -- how the slot was chosen (R-S1..R-S6)
    ADD COLUMN dispatched_at    timestamptz,
    ADD COLUMN cap_deferrals    integer NOT NULL DEFAULT 0;
UPDATE contact SET plan_key = invoice_id || ':' || step WHERE plan_key IS NULL;
ALTER TABLE contact ALTER COLUMN plan_key SET NOT NULL;
CREATE UNIQUE INDEX contact_plan_key ON contact (tenant, plan_key);
CREATE INDEX contact_debtor_made ON contact (tenant, debtor_id, dispatched_at)
    WHERE dispatched_at IS NOT NULL;
CREATE INDEX contact_invoice ON contact (tenant, invoice_id);

-- Promise tracking (R-C5): checked at the promised time plus grace.
ALTER TABLE promise
    ADD COLUMN check_at   timestamptz,
    ADD COLUMN settled_minor bigint,
    ADD COLUMN checked_at timestamptz;
CREATE INDEX promise_check ON promise (check_at) WHERE status = 'open';

-- The review pass looks up open disputes of a debt and promises of a debtor.
CREATE INDEX dispute_open_invoice ON dispute (tenant, invoice_id) WHERE status = 'open';
CREATE INDEX promise_debtor ON promise (tenant, debtor_id);
