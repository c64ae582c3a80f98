-- huikuan schema, migration 15: outcomes of the contacts huikuan dispatched (scheduling issue:
-- "a step is taken only after the previous step's outcome, or its silence").
--
-- An agent who made a call or a visit, or the post and mail systems, report what came of a
-- dispatched contact (its task id is the contact_id of the hk:notify entry). The scheduler
-- acts on it: a refusal, a wrong number or a returned letter means the step did not work and
-- the ladder moves on at once (R-C1); a hostile answer hands the debt to a manager (R-C4); a
-- wrong number or returned mail makes that person unusable on that channel until the feed
-- brings new details (R-C3).
CREATE TABLE contact_outcome (
    tenant       text NOT NULL,
    outcome_id   text NOT NULL,
    task_id      uuid NOT NULL,          -- contact.contact_id
    debtor_id    text NOT NULL,          -- copied from the contact
    invoice_id   text NOT NULL,
    channel      text NOT NULL,
    person_id    text,                   -- contact.person_id: whom it addressed
    outcome      text NOT NULL CHECK (outcome IN ('reached', 'no_answer', 'left_message',
                     'wrong_number', 'hostile', 'refused', 'delivered', 'returned')),
    occurred_at  timestamptz NOT NULL,
    note         text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, outcome_id),
    FOREIGN KEY (tenant, debtor_id) REFERENCES debtor (tenant, debtor_id)
);
CREATE INDEX contact_outcome_person ON contact_outcome (tenant, person_id)
    WHERE outcome IN ('wrong_number', 'returned');
CREATE INDEX contact_outcome_invoice ON contact_outcome (tenant, invoice_id);

-- R-C4 per debt: an agent reported the debtor hostile on this debt.
ALTER TABLE collection ADD COLUMN hostile boolean NOT NULL DEFAULT false;
