-- huikuan schema, migration 14: the invoice -> debtor reference checked once per statement
-- (ingestion issue: intake speed).
--
-- The foreign key checked it once per row: a trigger firing one lookup of debtor for every
-- invoice written, which was half the cost of loading invoices in bulk. The same rule now holds
-- through statement-level triggers that check all the rows a statement wrote in one set-based
-- query (transition tables), with the same SQLSTATE (23503) as the foreign key:
--   - INSERT or COPY into invoice: every new row's debtor must exist;
--   - UPDATE of an invoice's debtor_id: the new debtor must exist;
--   - DELETE of a debtor, or a change of its key: no invoice may still name it.
-- Nothing in huikuan deletes debtors or changes their key. When something does, it first takes
-- a SHARE lock on invoice, which waits for every transaction writing invoices to end; so an invoice written concurrently is either seen by that check or sees the debtor gone
-- (each trigger query runs on a fresh snapshot under READ COMMITTED). The foreign key's row
-- locks on debtor are not needed for that.

ALTER TABLE invoice DROP CONSTRAINT invoice_tenant_debtor_id_fkey;

CREATE FUNCTION invoice_debtor_exists () RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    missing_tenant text;
    missing_debtor text;
BEGIN
    -- One primary-key lookup per new row (OFFSET 0 keeps the subquery a per-row subplan):
    -- debtors written by the same transaction have no statistics yet, and a join planned on
    -- them read the whole debtor table for every statement.
    SELECT n.tenant, n.debtor_id INTO missing_tenant, missing_debtor
      FROM new_rows AS n
     WHERE NOT EXISTS (SELECT 1 FROM debtor AS d
                        WHERE d.tenant = n.tenant AND d.debtor_id = n.debtor_id OFFSET 0)
     LIMIT 1;
    IF FOUND THEN
        RAISE foreign_key_violation USING
            MESSAGE = format('insert or update on table "invoice" violates the invoice -> debtor'
                             ' reference: debtor %s of tenant %s is not present',
                             missing_debtor, missing_tenant),
            TABLE = 'invoice';
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER invoice_debtor_on_insert AFTER INSERT ON invoice
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION invoice_debtor_exists ();

-- An UPDATE trigger with a transition table would capture every updated invoice (aging writes
-- them all daily); a row trigger whose WHEN is false costs next to nothing.
CREATE FUNCTION invoice_debtor_row_exists () RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM debtor AS d
                    WHERE d.tenant = NEW.tenant AND d.debtor_id = NEW.debtor_id) THEN
        RAISE foreign_key_violation USING
            MESSAGE = format('insert or update on table "invoice" violates the invoice -> debtor'
                             ' reference: debtor %s of tenant %s is not present',
                             NEW.debtor_id, NEW.tenant),
            TABLE = 'invoice';
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER invoice_debtor_on_update AFTER UPDATE ON invoice
    FOR EACH ROW WHEN ((OLD.tenant, OLD.debtor_id) IS DISTINCT FROM (NEW.tenant, NEW.debtor_id))
    EXECUTE FUNCTION invoice_debtor_row_exists ();

-- Deleting debtors: the SHARE lock on invoice is taken before the statement deletes anything,
-- so it waits for the transactions writing invoices rather than deadlocking with them.
CREATE FUNCTION debtor_lock_invoices () RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    LOCK TABLE invoice IN SHARE MODE;
    RETURN NULL;
END $$;

CREATE FUNCTION debtor_not_invoiced () RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    named_tenant text;
    named_debtor text;
BEGIN
    IF TG_OP = 'DELETE' THEN
        SELECT o.tenant, o.debtor_id INTO named_tenant, named_debtor FROM old_rows AS o
         WHERE EXISTS (SELECT 1 FROM invoice AS i
                        WHERE i.tenant = o.tenant AND i.debtor_id = o.debtor_id)
         LIMIT 1;
    ELSE
        LOCK TABLE invoice IN SHARE MODE; -- a key change: rare, row by row
        IF EXISTS (SELECT 1 FROM invoice AS i
                    WHERE i.tenant = OLD.tenant AND i.debtor_id = OLD.debtor_id) THEN
            named_tenant := OLD.tenant;
            named_debtor := OLD.debtor_id;
        END IF;
    END IF;
    IF named_debtor IS NOT NULL THEN
        RAISE foreign_key_violation USING
            MESSAGE = format('debtor %s of tenant %s is still named by invoices',
                             named_debtor, named_tenant),
            TABLE = 'debtor';
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER debtor_lock_invoices_on_delete BEFORE DELETE ON debtor
    FOR EACH STATEMENT EXECUTE FUNCTION debtor_lock_invoices ();

CREATE TRIGGER debtor_not_invoiced_on_delete AFTER DELETE ON debtor
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION debtor_not_invoiced ();

CREATE TRIGGER debtor_not_invoiced_on_key_change AFTER UPDATE ON debtor
    FOR EACH ROW WHEN ((OLD.tenant, OLD.debtor_id) IS DISTINCT FROM (NEW.tenant, NEW.debtor_id))
    EXECUTE FUNCTION debtor_not_invoiced ();
