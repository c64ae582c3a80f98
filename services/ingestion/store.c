/* store: one fact per kind into PostgreSQL, with its event. Parameterised SQL only. */
#include "store.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "huikuan/config.h"
#include "huikuan/dates.h"
#include "huikuan/digest.h"
#include "huikuan/errcodes.h"
#include "huikuan/log.h"

#define HK_MAX_ALLOC 256

typedef struct {
    char buf[8][40];
    int next;
} s_fmt_t;

static const char *
s_i64 (s_fmt_t *f, bool present, int64_t v)
{
    if (!present)
        return NULL;
    char *b = f->buf[f->next++ % 8];
    snprintf (b, 40, "%lld", (long long) v);
    return b;
}

static const char *
s_day (s_fmt_t *f, bool present, int32_t day)
{
    if (!present)
        return NULL;
    char *b = f->buf[f->next++ % 8];
    hk_date_format (day, b, 40);
    return b;
}

static const char *
s_at (s_fmt_t *f, bool present, int64_t us)
{
    if (!present)
        return NULL;
    char *b = f->buf[f->next++ % 8];
    hk_time_format (us, b, 40);
    return b;
}

/* NULL for "" so absent values are SQL NULL. */
static const char *
s_opt (const char *s)
{
    return s && *s ? s : NULL;
}

static void
s_money (Huikuan__V1__Money *m, int64_t minor, const char *currency)
{
    huikuan__v1__money__init (m);
    m->minor = minor;
    m->currency = (char *) currency;
}

/* Runs an upsert whose RETURNING gives (xmax = 0) when something was written. Returns 1 new,
 * 2 changed, 0 unchanged, HK_EDB. */
static int
s_upsert (hk_daemon_t *d, const char *sql, int n, const char *const *params)
{
    PGresult *res = hk_db_query (d->db, sql, n, params);
    if (!res)
        return HK_EDB;
    int rc = PQntuples (res) == 0 ? 0 : PQgetvalue (res, 0, 0)[0] == 't' ? 1 : 2;
    PQclear (res);
    return rc;
}

/* Makes sure a debtor row exists for facts that name one before the debtor feed came. */
static int
s_ensure_debtor (hk_daemon_t *d, const char *debtor_id)
{
    const char *p[] = { d->tenant, debtor_id, d->tenant_tz };
    return hk_db_exec (d->db,
                       "INSERT INTO debtor (tenant, debtor_id, time_zone) VALUES ($1, $2, $3)"
                       " ON CONFLICT DO NOTHING",
                       3, p)
               < 0
               ? HK_EDB
               : 0;
}

static int
s_debtor (hk_daemon_t *d, const hk_debtor_fact_t *f, const char *source, long line)
{
    s_fmt_t fmt = { 0 };
    const char *p[] = { d->tenant, f->debtor_id, s_opt (f->name), s_opt (f->email),
                        s_opt (f->time_zone), s_opt (f->size_class), s_opt (f->calendar),
                        s_opt (f->address), s_i64 (&fmt, f->has_distance, f->distance_km),
                        s_i64 (&fmt, f->has_limit, f->credit_limit_minor),
                        f->has_limit ? f->currency : NULL, s_opt (f->phone), s_opt (f->country),
                        d->tenant_tz, s_opt (f->cause_of_default),
                        f->uncooperative < 0 ? NULL : f->uncooperative ? "true" : "false",
                        f->do_not_contact < 0 ? NULL : f->do_not_contact ? "true" : "false",
                        f->bankrupt < 0 ? NULL : f->bankrupt ? "true" : "false",
                        s_opt (f->reachability),
                        f->closure < 0 ? NULL : f->closure ? "true" : "false",
                        f->clearance_sale < 0 ? NULL : f->clearance_sale ? "true" : "false" };
    PGresult *res = hk_db_query (
        d->db,
        "INSERT INTO debtor AS b (tenant, debtor_id, name, email, time_zone, size_class, calendar,"
        " address, distance_km, credit_limit_minor, credit_currency, phone, country,"
        " cause_of_default, uncooperative, do_not_contact, bankrupt, reachability, closure,"
        " clearance_sale)"
        " VALUES ($1, $2, $3, $4, COALESCE($5, $14), $6, COALESCE($7, 'CN'), $8, $9::int,"
        "  $10::bigint, $11, $12, $13, $15, $16::boolean, COALESCE($17::boolean, false),"
        "  COALESCE($18::boolean, false), COALESCE($19, 'reachable'),"
        "  COALESCE($20::boolean, false), COALESCE($21::boolean, false))"
        " ON CONFLICT (tenant, debtor_id) DO UPDATE SET"
        "  name = COALESCE($3, b.name), email = COALESCE($4, b.email),"
        "  time_zone = COALESCE($5, b.time_zone), size_class = COALESCE($6, b.size_class),"
        "  calendar = COALESCE($7, b.calendar), address = COALESCE($8, b.address),"
        "  distance_km = COALESCE($9::int, b.distance_km),"
        "  credit_limit_minor = COALESCE($10::bigint, b.credit_limit_minor),"
        "  credit_currency = COALESCE($11, b.credit_currency), phone = COALESCE($12, b.phone),"
        "  country = COALESCE($13, b.country),"
        "  cause_of_default = COALESCE($15, b.cause_of_default),"
        "  uncooperative = COALESCE($16::boolean, b.uncooperative),"
        "  do_not_contact = COALESCE($17::boolean, b.do_not_contact),"
        "  bankrupt = COALESCE($18::boolean, b.bankrupt),"
        "  reachability = COALESCE($19, b.reachability),"
        "  closure = COALESCE($20::boolean, b.closure),"
        "  clearance_sale = COALESCE($21::boolean, b.clearance_sale), updated_at = now()"
        " WHERE (b.name, b.email, b.time_zone, b.size_class, b.calendar, b.address, b.distance_km,"
        "        b.credit_limit_minor, b.credit_currency, b.phone, b.country,"
        "        b.cause_of_default, b.uncooperative, b.do_not_contact, b.bankrupt,"
        "        b.reachability, b.closure, b.clearance_sale)"
        "  IS DISTINCT FROM (COALESCE($3, b.name), COALESCE($4, b.email),"
        "   COALESCE($5, b.time_zone), COALESCE($6, b.size_class), COALESCE($7, b.calendar),"
        "   COALESCE($8, b.address), COALESCE($9::int, b.distance_km),"
        "   COALESCE($10::bigint, b.credit_limit_minor), COALESCE($11, b.credit_currency),"
        "   COALESCE($12, b.phone), COALESCE($13, b.country),"
        "   COALESCE($15, b.cause_of_default), COALESCE($16::boolean, b.uncooperative),"
        "   COALESCE($17::boolean, b.do_not_contact), COALESCE($18::boolean, b.bankrupt),"
        "   COALESCE($19, b.reachability), COALESCE($20::boolean, b.closure),"
        "   COALESCE($21::boolean, b.clearance_sale))"
        " RETURNING (xmax = 0), time_zone, calendar",
        21, p);
    if (!res)
        return HK_EDB;
    if (PQntuples (res) == 0) {
        PQclear (res);
        return 0;
    }
    Huikuan__V1__Money limit;
    s_money (&limit, f->credit_limit_minor, f->currency);
    Huikuan__V1__DebtorRecorded ev = HUIKUAN__V1__DEBTOR_RECORDED__INIT;
    ev.debtor_id = (char *) f->debtor_id;
    ev.size_class = (char *) f->size_class;
    ev.time_zone = PQgetvalue (res, 0, 1);
    ev.calendar = PQgetvalue (res, 0, 2);
    ev.distance_km = f->distance_km;
    ev.credit_limit = f->has_limit ? &limit : NULL;
    ev.country = (char *) f->country;
    ev.changed = PQgetvalue (res, 0, 0)[0] != 't';
    ev.source = (char *) source;
    ev.source_line = (uint32_t) line;
    int rc = hk_daemon_emit (d, "debtor.recorded", f->debtor_id, NULL, &ev.base);
    PQclear (res);
    return rc == 0 ? 1 : HK_EDB;
}

static int
s_contact (hk_daemon_t *d, const hk_contact_fact_t *f, const char *source, long line)
{
    if (s_ensure_debtor (d, f->debtor_id))
        return HK_EDB;
    const char *p[] = { d->tenant, f->contact_id, f->debtor_id, f->role, s_opt (f->name),
                        s_opt (f->phone), s_opt (f->email), s_opt (f->postal_address) };
    int rc = s_upsert (d,
                       "INSERT INTO contact_person AS c (tenant, contact_id, debtor_id, role, name,"
                       " phone, email, postal_address) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                       " ON CONFLICT (tenant, contact_id) DO UPDATE SET debtor_id = $3, role = $4,"
                       "  name = $5, phone = $6, email = $7, postal_address = $8, updated_at = now()"
                       " WHERE (c.debtor_id, c.role, c.name, c.phone, c.email, c.postal_address)"
                       "  IS DISTINCT FROM ($3, $4, $5, $6, $7, $8)"
                       " RETURNING (xmax = 0)",
                       8, p);
    if (rc <= 0)
        return rc;
    Huikuan__V1__ContactRecorded ev = HUIKUAN__V1__CONTACT_RECORDED__INIT;
    ev.contact_id = (char *) f->contact_id;
    ev.debtor_id = (char *) f->debtor_id;
    ev.role = (char *) f->role;
    ev.has_phone = *f->phone != 0;
    ev.has_email = *f->email != 0;
    ev.has_postal_address = *f->postal_address != 0;
    ev.changed = rc == 2;
    ev.source = (char *) source;
    ev.source_line = (uint32_t) line;
    return hk_daemon_emit (d, "contact.recorded", f->debtor_id, NULL, &ev.base) == 0 ? 1 : HK_EDB;
}

static int
s_contract (hk_daemon_t *d, const hk_contract_fact_t *f, const char *source, long line)
{
    if (s_ensure_debtor (d, f->debtor_id))
        return HK_EDB;
    s_fmt_t fmt = { 0 };
    const char *sealed = f->sealed < 0 ? NULL : f->sealed ? "true" : "false";
    const char *p[] = { d->tenant, f->contract_id, f->debtor_id, f->terms,
                        s_i64 (&fmt, f->period_day > 0, f->period_day),
                        s_day (&fmt, f->has_due_on, f->due_on), s_opt (f->signed_by), sealed,
                        s_day (&fmt, f->has_signed_on, f->signed_on) };
    int rc = s_upsert (d,
                       "INSERT INTO contract AS c (tenant, contract_id, debtor_id, terms, period_day,"
                       " due_on, signed_by, sealed, signed_on) VALUES ($1, $2, $3, $4, $5::int,"
                       " $6::date, $7, $8::boolean, $9::date)"
                       " ON CONFLICT (tenant, contract_id) DO UPDATE SET debtor_id = $3, terms = $4,"
                       "  period_day = $5::int, due_on = $6::date, signed_by = $7,"
                       "  sealed = $8::boolean, signed_on = $9::date, updated_at = now()"
                       " WHERE (c.debtor_id, c.terms, c.period_day, c.due_on, c.signed_by, c.sealed,"
                       "        c.signed_on) IS DISTINCT FROM ($3, $4, $5::int, $6::date, $7,"
                       "        $8::boolean, $9::date)"
                       " RETURNING (xmax = 0)",
                       9, p);
    if (rc <= 0)
        return rc;
    Huikuan__V1__ContractRecorded ev = HUIKUAN__V1__CONTRACT_RECORDED__INIT;
    ev.contract_id = (char *) f->contract_id;
    ev.debtor_id = (char *) f->debtor_id;
    ev.terms = (char *) f->terms;
    ev.period_day = f->period_day;
    ev.due_on = (char *) (s_day (&fmt, f->has_due_on, f->due_on) ?: "");
    ev.sealed = (char *) (sealed ? sealed : "");
    ev.weak_evidence = f->sealed != 1; /* R-T4 */
    ev.signed_on = (char *) (s_day (&fmt, f->has_signed_on, f->signed_on) ?: "");
    ev.changed = rc == 2;
    ev.source = (char *) source;
    ev.source_line = (uint32_t) line;
    return hk_daemon_emit (d, "contract.recorded", f->debtor_id, NULL, &ev.base) == 0 ? 1 : HK_EDB;
}

typedef struct {
    Huikuan__V1__Allocation allocs[HK_MAX_ALLOC];
    Huikuan__V1__Allocation *ptrs[HK_MAX_ALLOC];
    Huikuan__V1__Money money[HK_MAX_ALLOC];
    char ids[HK_MAX_ALLOC][72];
    int n;
} s_allocs_t;

/* Applies amount to the debtor's open invoices in currency: `first` (may be "") first, then
 * oldest first (R-C6). Records allocation rows in `table` keyed by `key_column` = key; emits
 * invoice.settled for invoices it settles. Returns what is left, or HK_EDB (as negative). */
static int64_t
s_allocate (hk_daemon_t *d, const char *debtor_id, const char *currency, const char *first,
            int64_t amount, const char *insert_sql, const char *key, const char *payment_id,
            int64_t settled_at_us, s_allocs_t *out)
{
    const char *ap[] = { d->tenant, debtor_id, currency, first };
    PGresult *res = hk_db_query (d->db,
                                 "SELECT invoice_id, outstanding_minor FROM invoice"
                                 " WHERE tenant = $1 AND debtor_id = $2 AND currency = $3"
                                 "   AND status = 'open' AND outstanding_minor > 0"
                                 " ORDER BY (invoice_id = $4) DESC, due_on, invoice_id"
                                 " LIMIT 256 FOR UPDATE",
                                 4, ap);
    if (!res)
        return HK_EDB;
    int n = PQntuples (res);
    int64_t outstanding[HK_MAX_ALLOC], alloc[HK_MAX_ALLOC];
    for (int i = 0; i < n; i++)
        outstanding[i] = strtoll (PQgetvalue (res, i, 1), NULL, 10);
    int64_t left = hk_feed_allocate (amount, outstanding, n, alloc);
    out->n = 0;
    for (int i = 0; i < n; i++) {
        if (alloc[i] == 0)
            continue;
        const char *inv = PQgetvalue (res, i, 0);
        char part[32];
        snprintf (part, sizeof part, "%lld", (long long) alloc[i]);
        const char *up[] = { d->tenant, inv, part, key };
        if (hk_db_exec (d->db,
                        "UPDATE invoice SET outstanding_minor = outstanding_minor - $3::bigint,"
                        " status = CASE WHEN outstanding_minor = $3::bigint THEN 'settled'"
                        "               ELSE status END, updated_at = now()"
                        " WHERE tenant = $1 AND invoice_id = $2",
                        3, up)
                < 0
            || hk_db_exec (d->db, insert_sql, 4, up) < 0) {
            PQclear (res);
            return HK_EDB;
        }
        int k = out->n++;
        snprintf (out->ids[k], sizeof out->ids[k], "%s", inv);
        s_money (&out->money[k], alloc[i], currency);
        huikuan__v1__allocation__init (&out->allocs[k]);
        out->allocs[k].invoice_id = out->ids[k];
        out->allocs[k].amount = &out->money[k];
        out->ptrs[k] = &out->allocs[k];
        if (alloc[i] == outstanding[i]) {
            Huikuan__V1__InvoiceSettled st = HUIKUAN__V1__INVOICE_SETTLED__INIT;
            st.invoice_id = out->ids[k];
            st.debtor_id = (char *) debtor_id;
            st.payment_id = (char *) payment_id;
            st.settled_at_us = settled_at_us;
            if (hk_daemon_emit (d, "invoice.settled", debtor_id, NULL, &st.base) != 0) {
                PQclear (res);
                return HK_EDB;
            }
        }
    }
    PQclear (res);
    return left;
}

/* Finds the debtor of a payment without one: from the invoice reference, else from an invoice
 * number found in the remittance text. Writes debtor (and the matched invoice) or "". */
static int
s_match_debtor (hk_daemon_t *d, const hk_payment_row_t *r, char *debtor, size_t dlen,
                char *invoice, size_t ilen)
{
    *debtor = 0;
    const char *p[] = { d->tenant, r->invoice_id, r->reference, r->currency };
    PGresult *res = hk_db_query (
        d->db,
        "SELECT invoice_id, debtor_id FROM invoice WHERE tenant = $1 AND currency = $4"
        "  AND (invoice_id = $2 OR invoice_id = ANY (string_to_array("
        "       regexp_replace(COALESCE($3, ''), '[^A-Za-z0-9_./-]+', ' ', 'g'), ' ')))"
        " ORDER BY (invoice_id = $2) DESC, status = 'open' DESC, due_on LIMIT 1",
        4, p);
    if (!res)
        return HK_EDB;
    if (PQntuples (res) == 1) {
        snprintf (invoice, ilen, "%s", PQgetvalue (res, 0, 0));
        snprintf (debtor, dlen, "%s", PQgetvalue (res, 0, 1));
    }
    PQclear (res);
    return 0;
}

static int
s_payment (hk_daemon_t *d, const hk_payment_row_t *r, const char *source, long line)
{
    s_fmt_t fmt = { 0 };
    char debtor[72], hint[72];
    snprintf (debtor, sizeof debtor, "%s", r->debtor_id);
    snprintf (hint, sizeof hint, "%s", r->invoice_id);
    if (!*debtor && s_match_debtor (d, r, debtor, sizeof debtor, hint, sizeof hint) != 0)
        return HK_EDB;
    const char *pp[] = { d->tenant, r->payment_id, s_opt (debtor), r->currency,
                         s_i64 (&fmt, true, r->amount_minor),
                         s_at (&fmt, true, r->received_at_us), s_opt (r->reference),
                         s_opt (r->payer_name), s_opt (r->payer_account) };
    PGresult *res = hk_db_query (d->db,
                                 "INSERT INTO payment (tenant, payment_id, debtor_id, currency,"
                                 " amount_minor, received_at, reference, payer_name, payer_account)"
                                 " VALUES ($1, $2, $3, $4, $5::bigint, $6::timestamptz, $7, $8, $9)"
                                 " ON CONFLICT DO NOTHING RETURNING 1",
                                 9, pp);
    if (!res)
        return HK_EDB;
    int fresh = PQntuples (res);
    PQclear (res);
    if (!fresh)
        return 0; /* payments are facts: a known payment id is not applied twice */
    s_allocs_t *al = calloc (1, sizeof *al);
    if (!al)
        return HK_ENOMEM;
    int64_t left = r->amount_minor;
    if (*debtor) {
        if (s_ensure_debtor (d, debtor)) {
            free (al);
            return HK_EDB;
        }
        left = s_allocate (d, debtor, r->currency, hint, r->amount_minor,
                           "INSERT INTO payment_allocation (tenant, payment_id, invoice_id,"
                           " amount_minor) VALUES ($1, $4, $2, $3::bigint)",
                           r->payment_id, r->payment_id, r->received_at_us, al);
        if (left < 0) {
            free (al);
            return HK_EDB;
        }
    }
    /* overpaid: a credit on the debtor; nobody to credit: parked for review */
    const char *status = !*debtor ? "unmatched" : left > 0 ? "credit" : "allocated";
    const char *lp[] = { d->tenant, r->payment_id, s_i64 (&fmt, true, left), status };
    if (hk_db_exec (d->db,
                    "UPDATE payment SET unallocated_minor = $3::bigint, status = $4"
                    " WHERE tenant = $1 AND payment_id = $2",
                    4, lp)
        < 0) {
        free (al);
        return HK_EDB;
    }
    if (!*debtor)
        HK_LOG (HK_WARN, "payment.unmatched", HK_S ("payment", r->payment_id),
                HK_S ("source", source), HK_I ("line", line));
    Huikuan__V1__Money amt, un;
    s_money (&amt, r->amount_minor, r->currency);
    s_money (&un, left, r->currency);
    Huikuan__V1__PaymentRecorded ev = HUIKUAN__V1__PAYMENT_RECORDED__INIT;
    ev.payment_id = (char *) r->payment_id;
    ev.debtor_id = debtor;
    ev.amount = &amt;
    ev.received_at_us = r->received_at_us;
    ev.n_allocations = (size_t) al->n;
    ev.allocations = al->ptrs;
    ev.unallocated = &un;
    ev.source = (char *) source;
    ev.source_line = (uint32_t) line;
    ev.status = (char *) status;
    ev.reference = (char *) r->reference;
    int rc = hk_daemon_emit (d, "payment.recorded", *debtor ? debtor : "", NULL, &ev.base);
    free (al);
    return rc == 0 ? 1 : HK_EDB;
}

static int
s_credit_note (hk_daemon_t *d, const hk_credit_note_fact_t *f, const char *source, long line)
{
    if (s_ensure_debtor (d, f->debtor_id))
        return HK_EDB;
    s_fmt_t fmt = { 0 };
    const char *issued = s_day (&fmt, f->has_issued_on, f->issued_on);
    const char *p[] = { d->tenant, f->credit_note_id, f->debtor_id, s_opt (f->invoice_id),
                        f->currency, s_i64 (&fmt, true, f->amount_minor), issued };
    PGresult *res = hk_db_query (d->db,
                                 "INSERT INTO credit_note (tenant, credit_note_id, debtor_id,"
                                 " invoice_id, currency, amount_minor, issued_on)"
                                 " VALUES ($1, $2, $3, $4, $5, $6::bigint, $7::date)"
                                 " ON CONFLICT DO NOTHING RETURNING 1",
                                 7, p);
    if (!res)
        return HK_EDB;
    int fresh = PQntuples (res);
    PQclear (res);
    if (!fresh)
        return 0;
    s_allocs_t *al = calloc (1, sizeof *al);
    if (!al)
        return HK_ENOMEM;
    int64_t left = s_allocate (d, f->debtor_id, f->currency, f->invoice_id, f->amount_minor,
                               "INSERT INTO credit_note_allocation (tenant, credit_note_id,"
                               " invoice_id, amount_minor) VALUES ($1, $4, $2, $3::bigint)",
                               f->credit_note_id, f->credit_note_id, 0, al);
    const char *lp[] = { d->tenant, f->credit_note_id, s_i64 (&fmt, true, left) };
    if (left < 0
        || hk_db_exec (d->db,
                       "UPDATE credit_note SET unapplied_minor = $3::bigint"
                       " WHERE tenant = $1 AND credit_note_id = $2",
                       3, lp)
               < 0) {
        free (al);
        return HK_EDB;
    }
    Huikuan__V1__Money amt, un;
    s_money (&amt, f->amount_minor, f->currency);
    s_money (&un, left, f->currency);
    Huikuan__V1__CreditNoteRecorded ev = HUIKUAN__V1__CREDIT_NOTE_RECORDED__INIT;
    ev.credit_note_id = (char *) f->credit_note_id;
    ev.debtor_id = (char *) f->debtor_id;
    ev.amount = &amt;
    ev.n_allocations = (size_t) al->n;
    ev.allocations = al->ptrs;
    ev.unapplied = &un;
    ev.issued_on = (char *) (issued ? issued : "");
    ev.source = (char *) source;
    ev.source_line = (uint32_t) line;
    int rc = hk_daemon_emit (d, "credit_note.recorded", f->debtor_id, NULL, &ev.base);
    free (al);
    return rc == 0 ? 1 : HK_EDB;
}

static int
s_promise (hk_daemon_t *d, const hk_promise_fact_t *f, const char *source, long line)
{
    if (s_ensure_debtor (d, f->debtor_id))
        return HK_EDB;
    s_fmt_t fmt = { 0 };
    const char *p[] = { d->tenant, f->promise_id, f->debtor_id, s_opt (f->invoice_id), f->currency,
                        s_i64 (&fmt, true, f->amount_minor), s_at (&fmt, true, f->promised_at_us),
                        s_at (&fmt, f->has_recorded_at, f->recorded_at_us) };
    int rc = s_upsert (d,
                       "INSERT INTO promise AS p (tenant, promise_id, debtor_id, invoice_id, currency,"
                       " amount_minor, promised_at, recorded_at) VALUES ($1, $2, $3, $4, $5,"
                       " $6::bigint, $7::timestamptz, $8::timestamptz)"
                       " ON CONFLICT (tenant, promise_id) DO UPDATE SET debtor_id = $3,"
                       "  invoice_id = $4, currency = $5, amount_minor = $6::bigint,"
                       "  promised_at = $7::timestamptz, recorded_at = $8::timestamptz,"
                       "  updated_at = now()"
                       " WHERE (p.debtor_id, p.invoice_id, p.currency, p.amount_minor, p.promised_at,"
                       "        p.recorded_at) IS DISTINCT FROM ($3, $4, $5, $6::bigint,"
                       "        $7::timestamptz, $8::timestamptz)"
                       " RETURNING (xmax = 0)",
                       8, p);
    if (rc <= 0)
        return rc;
    Huikuan__V1__Money amt;
    s_money (&amt, f->amount_minor, f->currency);
    Huikuan__V1__PromiseRecorded ev = HUIKUAN__V1__PROMISE_RECORDED__INIT;
    ev.promise_id = (char *) f->promise_id;
    ev.debtor_id = (char *) f->debtor_id;
    ev.invoice_id = (char *) f->invoice_id;
    ev.amount = &amt;
    ev.promised_at_us = f->promised_at_us;
    ev.changed = rc == 2;
    ev.source = (char *) source;
    ev.source_line = (uint32_t) line;
    return hk_daemon_emit (d, "promise.recorded", f->debtor_id, NULL, &ev.base) == 0 ? 1 : HK_EDB;
}

static int
s_dispute (hk_daemon_t *d, const hk_dispute_fact_t *f, const char *source, long line)
{
    if (s_ensure_debtor (d, f->debtor_id))
        return HK_EDB;
    s_fmt_t fmt = { 0 };
    const char *opened = s_day (&fmt, true, f->opened_on);
    const char *resolved = s_day (&fmt, f->has_resolved_on, f->resolved_on);
    const char *p[] = { d->tenant, f->dispute_id, f->debtor_id, f->invoice_id,
                        f->has_amount ? f->currency : NULL,
                        s_i64 (&fmt, f->has_amount, f->amount_minor), s_opt (f->reason), opened,
                        f->status, resolved };
    int rc = s_upsert (d,
                       "INSERT INTO dispute AS x (tenant, dispute_id, debtor_id, invoice_id,"
                       " currency, amount_minor, reason, opened_on, status, resolved_on)"
                       " VALUES ($1, $2, $3, $4, $5, $6::bigint, $7, $8::date, $9, $10::date)"
                       " ON CONFLICT (tenant, dispute_id) DO UPDATE SET debtor_id = $3,"
                       "  invoice_id = $4, currency = $5, amount_minor = $6::bigint, reason = $7,"
                       "  opened_on = $8::date, status = $9, resolved_on = $10::date,"
                       "  updated_at = now()"
                       " WHERE (x.debtor_id, x.invoice_id, x.currency, x.amount_minor, x.reason,"
                       "        x.opened_on, x.status, x.resolved_on) IS DISTINCT FROM"
                       "       ($3, $4, $5, $6::bigint, $7, $8::date, $9, $10::date)"
                       " RETURNING (xmax = 0)",
                       10, p);
    if (rc <= 0)
        return rc;
    Huikuan__V1__Money amt;
    s_money (&amt, f->amount_minor, f->currency);
    Huikuan__V1__DisputeRecorded ev = HUIKUAN__V1__DISPUTE_RECORDED__INIT;
    ev.dispute_id = (char *) f->dispute_id;
    ev.debtor_id = (char *) f->debtor_id;
    ev.invoice_id = (char *) f->invoice_id;
    ev.amount = f->has_amount ? &amt : NULL;
    ev.reason = (char *) f->reason;
    ev.opened_on = (char *) opened;
    ev.status = (char *) f->status;
    ev.resolved_on = (char *) (resolved ? resolved : "");
    ev.changed = rc == 2;
    ev.source = (char *) source;
    ev.source_line = (uint32_t) line;
    return hk_daemon_emit (d, "dispute.recorded", f->debtor_id, NULL, &ev.base) == 0 ? 1 : HK_EDB;
}

static int
s_incoming (hk_daemon_t *d, const hk_incoming_fact_t *f, const char *source, long line)
{
    if (s_ensure_debtor (d, f->debtor_id))
        return HK_EDB;
    s_fmt_t fmt = { 0 };
    const char *expected = s_day (&fmt, true, f->expected_on);
    const char *p[] = { d->tenant, f->debtor_id, expected, s_opt (f->note) };
    int rc = s_upsert (d,
                       "INSERT INTO incoming_payment AS x (tenant, debtor_id, expected_on, note)"
                       " VALUES ($1, $2, $3::date, $4)"
                       " ON CONFLICT (tenant, debtor_id, expected_on) DO UPDATE SET note = $4,"
                       "  updated_at = now() WHERE x.note IS DISTINCT FROM $4"
                       " RETURNING (xmax = 0)",
                       4, p);
    if (rc <= 0)
        return rc;
    Huikuan__V1__IncomingPaymentRecorded ev = HUIKUAN__V1__INCOMING_PAYMENT_RECORDED__INIT;
    ev.debtor_id = (char *) f->debtor_id;
    ev.expected_on = (char *) expected;
    ev.changed = rc == 2;
    ev.source = (char *) source;
    ev.source_line = (uint32_t) line;
    return hk_daemon_emit (d, "incoming_payment.recorded", f->debtor_id, NULL, &ev.base) == 0
               ? 1
               : HK_EDB;
}

static int
s_delivery (hk_daemon_t *d, const hk_delivery_fact_t *f, const char *source, long line)
{
    if (s_ensure_debtor (d, f->debtor_id))
        return HK_EDB;
    s_fmt_t fmt = { 0 };
    const char *delivered = s_day (&fmt, true, f->delivered_on);
    const char *p[] = { d->tenant, f->delivery_id, f->debtor_id, s_opt (f->contract_id), delivered,
                        f->has_amount ? f->currency : NULL,
                        s_i64 (&fmt, f->has_amount, f->amount_minor),
                        s_i64 (&fmt, f->has_quantity, f->quantity) };
    int rc = s_upsert (d,
                       "INSERT INTO goods_delivery AS g (tenant, delivery_id, debtor_id, contract_id,"
                       " delivered_on, currency, amount_minor, quantity)"
                       " VALUES ($1, $2, $3, $4, $5::date, $6, $7::bigint, $8::bigint)"
                       " ON CONFLICT (tenant, delivery_id) DO UPDATE SET debtor_id = $3,"
                       "  contract_id = $4, delivered_on = $5::date, currency = $6,"
                       "  amount_minor = $7::bigint, quantity = $8::bigint, updated_at = now()"
                       " WHERE (g.debtor_id, g.contract_id, g.delivered_on, g.currency,"
                       "        g.amount_minor, g.quantity) IS DISTINCT FROM"
                       "       ($3, $4, $5::date, $6, $7::bigint, $8::bigint)"
                       " RETURNING (xmax = 0)",
                       8, p);
    if (rc <= 0)
        return rc;
    Huikuan__V1__Money amt;
    s_money (&amt, f->amount_minor, f->currency);
    Huikuan__V1__DeliveryRecorded ev = HUIKUAN__V1__DELIVERY_RECORDED__INIT;
    ev.delivery_id = (char *) f->delivery_id;
    ev.debtor_id = (char *) f->debtor_id;
    ev.contract_id = (char *) f->contract_id;
    ev.delivered_on = (char *) delivered;
    ev.amount = f->has_amount ? &amt : NULL;
    ev.quantity = f->quantity;
    ev.changed = rc == 2;
    ev.source = (char *) source;
    ev.source_line = (uint32_t) line;
    return hk_daemon_emit (d, "delivery.recorded", f->debtor_id, NULL, &ev.base) == 0 ? 1 : HK_EDB;
}

/* R-L2: an interruption of an invoice's limitation period with its evidence; the aging
 * daemon restarts the invoice's clock on the event. */
static int
s_interruption (hk_daemon_t *d, const hk_interruption_fact_t *f, const char *source, long line)
{
    if (s_ensure_debtor (d, f->debtor_id))
        return HK_EDB;
    s_fmt_t fmt = { 0 };
    const char *occurred = s_day (&fmt, true, f->occurred_on);
    const char *p[] = { d->tenant, f->interruption_id, f->debtor_id, f->invoice_id,
                        f->interruption, occurred, s_opt (f->evidence) };
    int rc = s_upsert (d,
                       "INSERT INTO limitation_interruption AS x (tenant, interruption_id,"
                       " debtor_id, invoice_id, interruption, occurred_on, evidence)"
                       " VALUES ($1, $2, $3, $4, $5, $6::date, $7)"
                       " ON CONFLICT (tenant, interruption_id) DO UPDATE SET debtor_id = $3,"
                       "  invoice_id = $4, interruption = $5, occurred_on = $6::date,"
                       "  evidence = $7, updated_at = now()"
                       " WHERE (x.debtor_id, x.invoice_id, x.interruption, x.occurred_on,"
                       "        x.evidence) IS DISTINCT FROM ($3, $4, $5, $6::date, $7)"
                       " RETURNING (xmax = 0)",
                       7, p);
    if (rc <= 0)
        return rc;
    Huikuan__V1__LimitationInterruptionRecorded ev
        = HUIKUAN__V1__LIMITATION_INTERRUPTION_RECORDED__INIT;
    ev.interruption_id = (char *) f->interruption_id;
    ev.debtor_id = (char *) f->debtor_id;
    ev.invoice_id = (char *) f->invoice_id;
    ev.interruption = (char *) f->interruption;
    ev.occurred_on = (char *) occurred;
    ev.evidence = (char *) f->evidence;
    ev.changed = rc == 2;
    ev.source = (char *) source;
    ev.source_line = (uint32_t) line;
    return hk_daemon_emit (d, "limitation_interruption.recorded", f->debtor_id, NULL, &ev.base)
                   == 0
               ? 1
               : HK_EDB;
}

/* What came of a dispatched contact. The contact names the debtor, invoice, channel and person;
 * an outcome for a task huikuan never dispatched is HK_ENOTFOUND with err (the row is
 * rejected). */
static int
s_outcome (hk_daemon_t *d, const hk_outcome_fact_t *f, const char *source, long line,
           hk_row_error_t *err)
{
    s_fmt_t fmt = { 0 };
    const char *at = s_at (&fmt, true, f->occurred_at_us);
    const char *p[] = { d->tenant, f->outcome_id, f->task_id, f->outcome, at, s_opt (f->note) };
    PGresult *res = hk_db_query (
        d->db,
        "WITH k AS (SELECT tenant, contact_id, debtor_id, invoice_id, channel, person_id"
        "  FROM contact WHERE tenant = $1 AND contact_id = $3::uuid"
        "  AND dispatched_at IS NOT NULL),"
        " w AS (INSERT INTO contact_outcome AS x (tenant, outcome_id, task_id, debtor_id,"
        "  invoice_id, channel, person_id, outcome, occurred_at, note)"
        "  SELECT k.tenant, $2, k.contact_id, k.debtor_id, k.invoice_id, k.channel, k.person_id,"
        "   $4, $5::timestamptz, $6 FROM k"
        "  ON CONFLICT (tenant, outcome_id) DO UPDATE SET task_id = EXCLUDED.task_id,"
        "   debtor_id = EXCLUDED.debtor_id, invoice_id = EXCLUDED.invoice_id,"
        "   channel = EXCLUDED.channel, person_id = EXCLUDED.person_id,"
        "   outcome = EXCLUDED.outcome, occurred_at = EXCLUDED.occurred_at,"
        "   note = EXCLUDED.note, updated_at = now()"
        "  WHERE (x.task_id, x.outcome, x.occurred_at, x.note) IS DISTINCT FROM"
        "   (EXCLUDED.task_id, EXCLUDED.outcome, EXCLUDED.occurred_at, EXCLUDED.note)"
        "  RETURNING (xmax = 0), debtor_id, invoice_id, channel, coalesce (person_id, ''))"
        " SELECT (SELECT count(*) FROM k), w.* FROM (SELECT 1) AS one LEFT JOIN w ON true",
        6, p);
    if (!res)
        return HK_EDB;
    if (PQntuples (res) != 1 || strcmp (PQgetvalue (res, 0, 0), "0") == 0) {
        PQclear (res);
        snprintf (err->field, sizeof err->field, "task_id");
        snprintf (err->reason, sizeof err->reason, "no contact with this id was dispatched");
        return HK_ENOTFOUND;
    }
    if (PQgetisnull (res, 0, 1)) { /* the same outcome again */
        PQclear (res);
        return 0;
    }
    Huikuan__V1__ContactOutcomeRecorded ev = HUIKUAN__V1__CONTACT_OUTCOME_RECORDED__INIT;
    ev.outcome_id = (char *) f->outcome_id;
    ev.task_id = (char *) f->task_id;
    ev.debtor_id = PQgetvalue (res, 0, 2);
    ev.invoice_id = PQgetvalue (res, 0, 3);
    ev.channel = PQgetvalue (res, 0, 4);
    ev.person_id = PQgetvalue (res, 0, 5);
    ev.outcome = (char *) f->outcome;
    ev.occurred_at_us = f->occurred_at_us;
    ev.note = (char *) f->note;
    ev.changed = PQgetvalue (res, 0, 1)[0] != 't';
    ev.source = (char *) source;
    ev.source_line = (uint32_t) line;
    int rc = hk_daemon_emit (d, "contact_outcome.recorded", ev.debtor_id, NULL, &ev.base) == 0
                 ? 1
                 : HK_EDB;
    PQclear (res);
    return rc;
}

/* ---------------------------------------------------------------------------------------
 * Invoices in batches
 *
 * Per batch of up to HK_STORE_BATCH invoices (issue 3: intake speed):
 *   1. one index probe for the batch's ids (invoice_id = ANY ($2::text[]) on the primary key,
 *      binary result) tells, row by row, new / unchanged / changed, compared in the client
 *      (skipped while a lane's batches of the file were all new: s_finish_all_new);
 *   2. the debtors the batch names are upserted, only those this file has not already sent
 *      with the same name and email (a per-file cache), so a re-delivery writes no debtor;
 *   3. changed rows go through one UPDATE .. FROM unnest(...) (RETURNING what it really
 *      changed), new rows through one binary COPY straight into invoice, unchanged rows
 *      through nothing at all: no write, no event (promise 1: idempotent intake);
 *   4. one invoice.recorded event per new or changed row, in file order, by one COPY into the
 *      outbox, sent ahead (hk_outbox_send_batch).
 * The lookup is planned with enable_seqscan off inside the intake transaction: rows written by
 * this same transaction have no statistics, and a plan that scans the growing table per batch
 * was what made an earlier pre-filter slow.
 *
 * Each lane (s_lane_t) has two batches and a worker thread: while the reader fills one, the
 * worker writes the other on the lane's connection, one batch after another, so a batch's
 * probe always follows the previous batch's writes and an invoice named in both is seen as
 * written. The invoice COPY is sent ahead while the worker packs the events, and the events'
 * COPY while it waits for the next batch.
 *
 * A file of invoices alone has two lanes (hk_store_split), split by debtor: two backends
 * write it at once, and with the reader that keeps both cores busy. A debtor's rows all go to
 * one lane, so the lanes never write the same debtor; an invoice moved between debtors of
 * both lanes within the file makes one lane wait for the other's row lock, which only the
 * commit would release: lock_timeout ends the wait and the file is taken again in one lane.
 * The lanes commit one after the other (hk_store_commit): a crash between the two commits
 * leaves the file claimed, and taking it again writes the rest (unchanged rows write nothing).
 */

#define HK_STORE_BATCH 5000
#define HK_STORE_SLOTS 16384 /* hash of the batch's invoice ids; a power of two > 2 x batch */

enum { S_NEW = 0, S_SAME, S_CHANGED, S_WRITTEN };

typedef struct {
    char invoice_id[65], debtor_id[65], contract_id[65], currency[4];
    char debtor_name[201], debtor_email[255];
    int64_t amount_minor;
    int64_t outstanding_minor; /* after the write, for the event */
    bool has_issued_on;
    int32_t issued_on, due_on;
    long line;
    int state;                 /* S_NEW .. */
    bool updated;              /* S_WRITTEN by the UPDATE (an existing invoice changed) */
} s_pending_t;

/* Debtors this file already sent: id -> hash of (name, email) as sent. Only a cache: it is
 * dropped with the file (hk_store_reset) and when it grows past HK_DEBTOR_CACHE_MAX. */
#define HK_DEBTOR_CACHE_MAX (1 << 20)
typedef struct {
    char *id;
    uint64_t hash;
    unsigned batch;            /* the batch that last queued it */
} s_debtor_slot_t;

typedef struct {
    s_debtor_slot_t *debtors;  /* open addressing, cap a power of two */
    size_t ndebtors, debtor_cap;
    unsigned batch;            /* batches flushed, numbering s_debtor_slot_t.batch */
} s_cache_t;

/* One batch of invoice rows from one source, with a hash of its invoice ids. */
typedef struct {
    char source[256];
    int n;
    s_pending_t *rows;
    int slots[HK_STORE_SLOTS]; /* index + 1 into rows, 0 empty */
} s_batch_t;

/* One connection's share of a file's invoices (issue 3: intake speed), written by a worker
 * thread of its own while the daemon's thread reads the file. A file of invoices alone is split
 * between two lanes by debtor, so that two backends write it at once: each lane has its own
 * transaction, batches, COPY buffers, debtor cache and outbox producer, and a debtor, with its
 * invoices and their events, is only ever written by one lane. Lane 0 writes on the daemon's
 * own connection, on which every other fact is written while the workers are idle. */
typedef struct {
    hk_store_t *store;
    hk_db_t *db;
    char producer[160];
    s_batch_t batches[2];
    int cur;                   /* batches[cur] is being filled by the reader */
    bool tx_tuned;             /* jit/enable_seqscan set for this transaction */
    bool all_new;              /* every batch of the file so far was new: skip the probe */
    hk_copy_buf_t copy, events;
    s_cache_t cache;
    int accepted, unchanged;   /* invoices written and left alone by the worker */
    /* the worker: job is the batch handed to it, NULL when it is idle */
    pthread_t thread;
    bool started, quit;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    s_batch_t *job;
    int rc;                    /* the worker's first error since the reset */
} s_lane_t;

struct hk_store {
    hk_daemon_t *d;
    s_lane_t lanes[2];
    int nlanes;                /* lanes in use for this file: 1, or 2 (hk_store_split) */
    bool lane_down;            /* the second lane's connection failed: retry it later */
    hk_db_t *err_db;           /* the connection of the last HK_EDB, when a lane's */
    int accepted, unchanged;   /* facts of the other kinds */
};

static void
s_debtors_clear (s_cache_t *c)
{
    for (size_t i = 0; i < c->debtor_cap; i++)
        free (c->debtors[i].id);
    free (c->debtors);
    c->debtors = NULL;
    c->ndebtors = c->debtor_cap = 0;
}

hk_store_t *
hk_store_new (hk_daemon_t *d)
{
    hk_store_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    bool ok = true;
    for (int l = 0; l < 2; l++) {
        s_lane_t *ln = &self->lanes[l];
        ln->store = self;
        pthread_mutex_init (&ln->mu, NULL);
        pthread_cond_init (&ln->cv, NULL);
        for (int b = 0; b < 2; b++)
            ok &= (ln->batches[b].rows = calloc (HK_STORE_BATCH, sizeof (s_pending_t))) != NULL;
    }
    self->d = d;
    self->nlanes = 1;
    self->lanes[0].db = d->db;
    snprintf (self->lanes[0].producer, sizeof self->lanes[0].producer, "%s", d->instance);
    snprintf (self->lanes[1].producer, sizeof self->lanes[1].producer, "%s/lane2", d->instance);
    if (!ok)
        hk_store_destroy (&self);
    return self;
}

void
hk_store_destroy (hk_store_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hk_store_t *self = *self_p;
    for (int l = 0; l < 2; l++) {
        s_lane_t *ln = &self->lanes[l];
        if (ln->started) {
            pthread_mutex_lock (&ln->mu);
            ln->quit = true;
            pthread_cond_broadcast (&ln->cv);
            pthread_mutex_unlock (&ln->mu);
            pthread_join (ln->thread, NULL);
        }
        pthread_mutex_destroy (&ln->mu);
        pthread_cond_destroy (&ln->cv);
        s_debtors_clear (&ln->cache);
        free (ln->batches[0].rows);
        free (ln->batches[1].rows);
        free (ln->copy.data);
        free (ln->events.data);
    }
    hk_db_destroy (&self->lanes[1].db);
    free (self);
    *self_p = NULL;
}

static int s_lane_wait (s_lane_t *ln);

void
hk_store_reset (hk_store_t *self)
{
    for (int l = 0; l < 2; l++) {
        s_lane_t *ln = &self->lanes[l];
        s_lane_wait (ln); /* nothing of the last file still being written */
        for (int b = 0; b < 2; b++) {
            ln->batches[b].n = 0;
            memset (ln->batches[b].slots, 0, sizeof ln->batches[b].slots);
        }
        ln->tx_tuned = ln->all_new = false;
        ln->accepted = ln->unchanged = 0;
        ln->rc = 0;
        s_debtors_clear (&ln->cache);
    }
    self->nlanes = 1;
    self->err_db = NULL;
    self->accepted = self->unchanged = 0;
}

int
hk_store_accepted (const hk_store_t *self)
{
    return self->accepted + self->lanes[0].accepted + self->lanes[1].accepted;
}

int
hk_store_unchanged (const hk_store_t *self)
{
    return self->unchanged + self->lanes[0].unchanged + self->lanes[1].unchanged;
}

static uint64_t
s_hash64 (uint64_t h, const char *s)
{
    for (; *s; s++)
        h = (h ^ (unsigned char) *s) * 1099511628211u;
    return (h ^ 0xff) * 1099511628211u; /* a separator, so ("ab","") != ("a","b") */
}


/* Slot of id in the batch hash: its row index + 1, or 0 with *slot_out the empty slot. */
static int
s_find (const s_batch_t *bt, const char *id, int *slot_out)
{
    unsigned i = hk_str_hash (id) & (HK_STORE_SLOTS - 1);
    while (bt->slots[i]) {
        if (strcmp (bt->rows[bt->slots[i] - 1].invoice_id, id) == 0)
            return bt->slots[i];
        i = (i + 1) & (HK_STORE_SLOTS - 1);
    }
    *slot_out = (int) i;
    return 0;
}

/* The debtor's cache slot (found or empty); grows the table first. NULL on ENOMEM. */
static s_debtor_slot_t *
s_debtor_slot (s_cache_t *c, const char *id)
{
    if (2 * (c->ndebtors + 1) > c->debtor_cap) {
        size_t cap = c->debtor_cap ? 2 * c->debtor_cap : 4096;
        s_debtor_slot_t *t = calloc (cap, sizeof *t);
        if (!t)
            return NULL;
        for (size_t i = 0; i < c->debtor_cap; i++) {
            if (!c->debtors[i].id)
                continue;
            size_t j = hk_str_hash (c->debtors[i].id) & (cap - 1);
            while (t[j].id)
                j = (j + 1) & (cap - 1);
            t[j] = c->debtors[i];
        }
        free (c->debtors);
        c->debtors = t;
        c->debtor_cap = cap;
    }
    size_t i = hk_str_hash (id) & (c->debtor_cap - 1);
    while (c->debtors[i].id && strcmp (c->debtors[i].id, id) != 0)
        i = (i + 1) & (c->debtor_cap - 1);
    return &c->debtors[i];
}

/* ---- building parameters and COPY data (hk_copy_bytes, hk_pgarr: common/db.h) */

/* Finishes n array literals (hk_pgarr) into out; false after ENOMEM (then every out[c] is
 * freed and NULL). */
static bool
s_arrays_finish (hk_pgarr_t *a, char **out, int n)
{
    bool ok = true;
    for (int c = 0; c < n; c++)
        ok &= (out[c] = hk_pgarr_finish (&a[c])) != NULL;
    for (int c = 0; !ok && c < n; c++) {
        free (out[c]);
        out[c] = NULL;
    }
    return ok;
}

static void
s_arrays_free (char **out, int n)
{
    for (int c = 0; c < n; c++)
        free (out[c]);
}

/* ---- reading the lookup's binary result */

static uint64_t
s_get_be (const PGresult *res, int row, int col, int bytes)
{
    const unsigned char *v = (const unsigned char *) PQgetvalue (res, row, col);
    uint64_t x = 0;
    for (int i = 0; i < bytes; i++)
        x = (x << 8) | v[i];
    return x;
}

/* Text column of a binary result equals s ("" matching NULL). */
static bool
s_same_text (const PGresult *res, int row, int col, const char *s)
{
    if (PQgetisnull (res, row, col))
        return *s == 0;
    size_t n = (size_t) PQgetlength (res, row, col);
    return *s && strlen (s) == n && memcmp (PQgetvalue (res, row, col), s, n) == 0;
}

static bool
s_same_date (const PGresult *res, int row, int col, bool present, int32_t day)
{
    if (PQgetisnull (res, row, col))
        return !present;
    return present && (int32_t) s_get_be (res, row, col, 4) + HK_PG_DATE_OFFSET == day;
}

/* Step 1a: sends the probe of the batch's ids ahead; every row starts S_NEW. */
static int
s_probe_send (hk_store_t *self, s_lane_t *ln, s_batch_t *bt)
{
    hk_daemon_t *d = self->d;
    /* JIT compiling these short statements costs more than running them; the lookup must use
     * the primary key whatever the (missing) statistics of rows this transaction wrote say.
     * Both local to the transaction. */
    if (!ln->tx_tuned) {
        if (hk_db_exec (ln->db,
                        "SELECT set_config('jit', 'off', true),"
                        " set_config('enable_seqscan', 'off', true)",
                        0, NULL)
            < 0)
            return HK_EDB;
        ln->tx_tuned = true;
    }
    hk_pgarr_t a[1] = { 0 };
    char *lit[1];
    for (int i = 0; i < bt->n; i++) {
        bt->rows[i].state = S_NEW;
        hk_pgarr_text (&a[0], bt->rows[i].invoice_id);
    }
    if (!s_arrays_finish (a, lit, 1))
        return HK_ENOMEM;
    const char *values[] = { d->tenant, lit[0] };
    int lengths[] = { 0, 0 }, formats[] = { 0, 0 };
    int rc = hk_db_send_bin (ln->db,
                             "SELECT i.* FROM unnest ($2::text[]) AS u (id),"
                             " LATERAL (SELECT invoice_id, debtor_id, currency,"
                             "  amount_minor, issued_on, due_on, contract_id"
                             "  FROM invoice WHERE tenant = $1 AND invoice_id = u.id"
                             "  OFFSET 0) AS i",
                             2, values, lengths, formats, 1);
    s_arrays_free (lit, 1);
    return rc == 0 ? 0 : HK_EDB;
}

/* Step 1b: collects the probe and marks the rows it found S_SAME or S_CHANGED. */
static int
s_probe_collect (s_lane_t *ln, s_batch_t *bt)
{
    PGresult *res = hk_db_collect (ln->db);
    if (!res)
        return HK_EDB;
    for (int k = 0; k < PQntuples (res); k++) {
        char id[65];
        int len = PQgetlength (res, k, 0);
        if (len >= (int) sizeof id)
            continue;
        memcpy (id, PQgetvalue (res, k, 0), (size_t) len);
        id[len] = 0;
        int slot, at = s_find (bt, id, &slot);
        if (!at)
            continue;
        s_pending_t *r = &bt->rows[at - 1];
        bool same = s_same_text (res, k, 1, r->debtor_id) && s_same_text (res, k, 2, r->currency)
                    && (int64_t) s_get_be (res, k, 3, 8) == r->amount_minor
                    && s_same_date (res, k, 4, r->has_issued_on, r->issued_on)
                    && s_same_date (res, k, 5, true, r->due_on)
                    && s_same_text (res, k, 6, r->contract_id);
        r->state = same ? S_SAME : S_CHANGED;
    }
    PQclear (res);
    return 0;
}

/* Step 2: upserts the batch's debtors that this file has not sent yet with this name and
 * email. Within the batch the last row naming a debtor decides; an earlier row fills a value
 * it leaves empty; an empty value keeps what is stored (COALESCE). A debtor stored with these
 * values already is left alone: not even locked, so a re-delivery writes nothing. That test
 * is one primary-key lookup per row (OFFSET 0 keeps it a per-row subplan): debtors this
 * transaction wrote have no statistics, and a join planned on them scanned the whole table. */
static int
s_upsert_debtors (hk_store_t *self, s_lane_t *ln, s_batch_t *bt)
{
    hk_daemon_t *d = self->d;
    hk_pgarr_t a[3] = { 0 };
    char *lit[3] = { 0 };
    bool ok = true;
    int sent = 0;
    s_cache_t *c = &ln->cache;
    if (c->ndebtors > HK_DEBTOR_CACHE_MAX)
        s_debtors_clear (c); /* between batches only: within one it dedupes the upsert */
    c->batch++;
    for (int i = bt->n - 1; ok && i >= 0; i--) {
        const s_pending_t *r = &bt->rows[i];
        uint64_t h = s_hash64 (s_hash64 (14695981039346656037u, r->debtor_name),
                               r->debtor_email);
        s_debtor_slot_t *slot = s_debtor_slot (c, r->debtor_id);
        if (!slot) {
            ok = false;
            break;
        }
        if (slot->id && (slot->batch == c->batch || slot->hash == h))
            continue;
        if (!slot->id) {
            slot->id = strdup (r->debtor_id);
            if (!slot->id) {
                ok = false;
                break;
            }
            c->ndebtors++;
        }
        slot->hash = h;
        slot->batch = c->batch;
        const char *name = s_opt (r->debtor_name), *email = s_opt (r->debtor_email);
        for (int j = i - 1; j >= 0 && (!name || !email); j--)
            if (strcmp (bt->rows[j].debtor_id, r->debtor_id) == 0) {
                if (!name)
                    name = s_opt (bt->rows[j].debtor_name);
                if (!email)
                    email = s_opt (bt->rows[j].debtor_email);
            }
        hk_pgarr_text (&a[0], r->debtor_id);
        hk_pgarr_text (&a[1], name);
        hk_pgarr_text (&a[2], email);
        sent++;
    }
    int rc = s_arrays_finish (a, lit, 3) && ok ? 0 : HK_ENOMEM;
    if (rc == 0 && sent > 0) {
        const char *p[] = { d->tenant, d->tenant_tz, lit[0], lit[1], lit[2] };
        if (hk_db_exec (ln->db,
                        "INSERT INTO debtor AS b (tenant, debtor_id, name, email, time_zone)"
                        " SELECT $1, u.id, u.name, u.email, $2"
                        " FROM unnest ($3::text[], $4::text[], $5::text[]) AS u (id, name, email)"
                        " WHERE NOT EXISTS (SELECT 1 FROM debtor AS s"
                        "  WHERE s.tenant = $1 AND s.debtor_id = u.id"
                        "   AND (s.name, s.email) IS NOT DISTINCT FROM"
                        "    (COALESCE(u.name, s.name), COALESCE(u.email, s.email)) OFFSET 0)"
                        " ON CONFLICT (tenant, debtor_id) DO UPDATE"
                        " SET name = COALESCE(EXCLUDED.name, b.name),"
                        "     email = COALESCE(EXCLUDED.email, b.email)"
                        " WHERE (b.name, b.email) IS DISTINCT FROM"
                        "  (COALESCE(EXCLUDED.name, b.name), COALESCE(EXCLUDED.email, b.email))",
                        5, p)
            < 0)
            rc = HK_EDB;
    }
    s_arrays_free (lit, 3);
    if (rc != 0)
        s_debtors_clear (c); /* it no longer says what was written */
    return rc;
}

/* Step 3a: the changed rows, by one UPDATE; rows it did not change after all (another
 * instance wrote the same values meanwhile) go back to S_SAME. */
static int
s_update_changed (hk_store_t *self, s_lane_t *ln, s_batch_t *bt, int changed)
{
    if (changed == 0)
        return 0;
    hk_daemon_t *d = self->d;
    hk_pgarr_t a[7] = { 0 };
    char *lit[7];
    for (int i = 0; i < bt->n; i++) {
        const s_pending_t *r = &bt->rows[i];
        if (r->state != S_CHANGED)
            continue;
        s_fmt_t fmt = { 0 };
        hk_pgarr_text (&a[0], r->invoice_id);
        hk_pgarr_text (&a[1], r->debtor_id);
        hk_pgarr_text (&a[2], r->currency);
        hk_pgarr_text (&a[3], s_i64 (&fmt, true, r->amount_minor));
        hk_pgarr_text (&a[4], s_day (&fmt, r->has_issued_on, r->issued_on));
        hk_pgarr_text (&a[5], s_day (&fmt, true, r->due_on));
        hk_pgarr_text (&a[6], s_opt (r->contract_id));
    }
    if (!s_arrays_finish (a, lit, 7))
        return HK_ENOMEM;
    const char *p[] = { d->tenant, lit[0], lit[1], lit[2], lit[3], lit[4], lit[5], lit[6] };
    PGresult *res = hk_db_query (
        ln->db,
        "UPDATE invoice AS i SET debtor_id = u.debtor_id, currency = u.currency,"
        "  amount_minor = u.amount_minor,"
        "  outstanding_minor = i.outstanding_minor + u.amount_minor - i.amount_minor,"
        "  issued_on = u.issued_on, due_on = u.due_on, contract_id = u.contract_id,"
        "  aged_through = NULL, version = i.version + 1, updated_at = now()"
        " FROM unnest ($2::text[], $3::text[], $4::text[], $5::bigint[], $6::date[], $7::date[],"
        "              $8::text[])"
        "  AS u (invoice_id, debtor_id, currency, amount_minor, issued_on, due_on, contract_id)"
        " WHERE i.tenant = $1 AND i.invoice_id = u.invoice_id"
        "  AND (i.debtor_id, i.currency, i.amount_minor, i.issued_on, i.due_on, i.contract_id)"
        "   IS DISTINCT FROM (u.debtor_id, u.currency::char(3), u.amount_minor, u.issued_on,"
        "   u.due_on, u.contract_id)"
        " RETURNING i.invoice_id, i.outstanding_minor",
        8, p);
    s_arrays_free (lit, 7);
    if (!res)
        return HK_EDB;
    for (int k = 0; k < PQntuples (res); k++) {
        int slot, at = s_find (bt, PQgetvalue (res, k, 0), &slot);
        if (at) {
            bt->rows[at - 1].state = S_WRITTEN;
            bt->rows[at - 1].updated = true;
            bt->rows[at - 1].outstanding_minor = strtoll (PQgetvalue (res, k, 1), NULL, 10);
        }
    }
    PQclear (res);
    for (int i = 0; i < bt->n; i++)
        if (bt->rows[i].state == S_CHANGED)
            bt->rows[i].state = S_SAME;
    return 0;
}

/* Step 3b: the new rows, by one binary COPY into invoice (status, version and the aging
 * columns take their defaults), sent ahead: the events are packed while the server loads.
 * An id another instance inserted meanwhile fails it with 23505, and the file is taken again
 * later (main.c). */
static int
s_copy_new (hk_store_t *self, s_lane_t *ln, s_batch_t *bt, int fresh)
{
    if (fresh == 0)
        return 0;
    hk_daemon_t *d = self->d;
    hk_copy_buf_t *b = &ln->copy;
    b->len = 0;
    bool ok = hk_copy_bin_header (b);
    for (int i = 0; ok && i < bt->n; i++) {
        s_pending_t *r = &bt->rows[i];
        if (r->state != S_NEW)
            continue;
        r->outstanding_minor = r->amount_minor;
        r->state = S_WRITTEN; /* or the COPY fails, and the transaction with it */
        ok = hk_copy_bin_row (b, 9) && hk_copy_bin_text (b, d->tenant)
             && hk_copy_bin_text (b, r->invoice_id) && hk_copy_bin_text (b, r->debtor_id)
             && hk_copy_bin_text (b, r->currency) && hk_copy_bin_i64 (b, r->amount_minor)
             && hk_copy_bin_i64 (b, r->amount_minor)
             && hk_copy_bin_date (b, r->has_issued_on, r->issued_on)
             && hk_copy_bin_date (b, true, r->due_on) && hk_copy_bin_text (b, s_opt (r->contract_id));
    }
    if (!ok || !hk_copy_bin_trailer (b))
        return HK_ENOMEM;
    if (hk_db_copy_send (ln->db,
                         "COPY invoice (tenant, invoice_id, debtor_id, currency, amount_minor,"
                         " outstanding_minor, issued_on, due_on, contract_id)"
                         " FROM STDIN (FORMAT binary)",
                         b->data, b->len)
        != 0)
        return HK_EDB;
    return 0;
}

/* Step 4: one invoice.recorded per written row, in file order, sent ahead as one COPY into
 * the outbox (the next statement collects it). Returns how many, or < 0. */
static int
s_emit_written (hk_store_t *self, s_lane_t *ln, s_batch_t *bt, int max)
{
    if (max == 0)
        return 0;
    hk_daemon_t *d = self->d;
    hk_event_t *evs = calloc ((size_t) max, sizeof *evs);
    Huikuan__V1__InvoiceRecorded *msgs = calloc ((size_t) max, sizeof *msgs);
    Huikuan__V1__Money *money = calloc ((size_t) max * 2, sizeof *money);
    char (*dates)[2][16] = calloc ((size_t) max, sizeof *dates);
    int rc = evs && msgs && money && dates ? 0 : HK_ENOMEM;
    int64_t now = hk_clock_now (d->clock);
    int k = 0;
    for (int i = 0; rc == 0 && i < bt->n && k < max; i++) {
        const s_pending_t *r = &bt->rows[i];
        if (r->state != S_WRITTEN)
            continue;
        Huikuan__V1__InvoiceRecorded *m = &msgs[k];
        huikuan__v1__invoice_recorded__init (m);
        s_money (&money[2 * k], r->amount_minor, r->currency);
        s_money (&money[2 * k + 1], r->outstanding_minor, r->currency);
        if (r->has_issued_on)
            hk_date_format (r->issued_on, dates[k][0], sizeof dates[k][0]);
        hk_date_format (r->due_on, dates[k][1], sizeof dates[k][1]);
        m->invoice_id = (char *) r->invoice_id;
        m->debtor_id = (char *) r->debtor_id;
        m->amount = &money[2 * k];
        m->outstanding = &money[2 * k + 1];
        m->issued_on = dates[k][0];
        m->due_on = dates[k][1];
        m->source = bt->source;
        m->source_line = (uint32_t) r->line;
        m->changed = r->updated;
        m->contract_id = (char *) r->contract_id;
        evs[k] = (hk_event_t) { .type = "invoice.recorded", .tenant = d->tenant,
                                .aggregate_id = r->debtor_id, .occurred_at_us = now,
                                .payload = &m->base };
        k++;
    }
    if (rc == 0 && hk_outbox_send_batch (ln->db, ln->producer, evs, k, &ln->events) != 0)
        rc = HK_EDB;
    free (evs);
    free (msgs);
    free (money);
    free (dates);
    return rc == 0 ? k : rc;
}

static int s_done (s_lane_t *ln, s_batch_t *bt, int written);

/* Finishes a batch whose probe was sent: classifies, writes, emits; then empties it. */
static int
s_finish (hk_store_t *self, s_lane_t *ln, s_batch_t *bt)
{
    int rc = s_probe_collect (ln, bt);
    if (rc == 0)
        rc = s_upsert_debtors (self, ln, bt);
    int fresh = 0, changed = 0;
    for (int i = 0; i < bt->n; i++) {
        fresh += bt->rows[i].state == S_NEW;
        changed += bt->rows[i].state == S_CHANGED;
    }
    ln->all_new = fresh == bt->n;
    if (rc == 0)
        rc = s_update_changed (self, ln, bt, changed);
    if (rc == 0)
        rc = s_copy_new (self, ln, bt, fresh);
    int written = rc == 0 ? s_emit_written (self, ln, bt, fresh + changed) : rc;
    return s_done (ln, bt, written);
}

/* A batch after batches of the file whose invoices were all new (a first load, a day's new
 * invoices) is written as all new without the probe: the probe of a million new invoices is
 * a million index lookups that find nothing. The COPY runs under a savepoint; when one of
 * the invoices is stored after all, it fails with 23505, is rolled back to the savepoint, and
 * the batch, and every later one of the file, takes the probe. Returns HK_ECONFLICT then. */
static int
s_finish_all_new (hk_store_t *self, s_lane_t *ln, s_batch_t *bt)
{
    for (int i = 0; i < bt->n; i++)
        bt->rows[i].state = S_NEW;
    int rc = s_upsert_debtors (self, ln, bt);
    if (rc == 0 && hk_db_exec (ln->db, "SAVEPOINT hk_all_new", 0, NULL) < 0)
        rc = HK_EDB;
    if (rc == 0)
        rc = s_copy_new (self, ln, bt, bt->n);
    if (rc == 0 && hk_db_exec (ln->db, "RELEASE SAVEPOINT hk_all_new", 0, NULL) < 0) {
        ln->all_new = false;
        if (strcmp (hk_db_sqlstate (ln->db), "23505") != 0
            || hk_db_exec (ln->db, "ROLLBACK TO SAVEPOINT hk_all_new", 0, NULL) < 0
            || hk_db_exec (ln->db, "RELEASE SAVEPOINT hk_all_new", 0, NULL) < 0)
            return HK_EDB;
        HK_LOG (HK_INFO, "intake.probe_again", HK_S ("producer", ln->producer),
                HK_S ("reason", "an invoice of the batch is stored already"));
        return HK_ECONFLICT;
    }
    int written = rc == 0 ? s_emit_written (self, ln, bt, bt->n) : rc;
    return s_done (ln, bt, written);
}

/* Counts a written batch and empties it; passes an error (< 0) on. */
static int
s_done (s_lane_t *ln, s_batch_t *bt, int written)
{
    if (written < 0)
        return written;
    ln->accepted += written;
    ln->unchanged += bt->n - written;
    bt->n = 0;
    memset (bt->slots, 0, sizeof bt->slots);
    return 0;
}

/* The lane's worker: writes each batch handed to it (probe, then s_finish; or, while the
 * file's batches are all new, s_finish_all_new), one at a time, in the order handed. Its
 * events' COPY is left in flight while it waits for the next batch; the next statement, or the
 * caller's settle, collects it. After an error it writes nothing more until the reset. */
static void *
s_worker (void *arg)
{
    s_lane_t *ln = arg;
    pthread_mutex_lock (&ln->mu);
    for (;;) {
        while (!ln->job && !ln->quit)
            pthread_cond_wait (&ln->cv, &ln->mu);
        if (ln->quit)
            break;
        s_batch_t *bt = ln->job;
        int rc = ln->rc;
        pthread_mutex_unlock (&ln->mu);
        bool probe = true;
        if (rc == 0 && ln->all_new) {
            rc = s_finish_all_new (ln->store, ln, bt);
            probe = rc == HK_ECONFLICT; /* one was stored: the batch goes the probe's way */
            rc = probe ? 0 : rc;
        }
        if (rc == 0 && probe)
            rc = s_probe_send (ln->store, ln, bt);
        if (rc == 0 && probe)
            rc = s_finish (ln->store, ln, bt);
        pthread_mutex_lock (&ln->mu);
        ln->rc = rc;
        ln->job = NULL;
        pthread_cond_broadcast (&ln->cv);
    }
    pthread_mutex_unlock (&ln->mu);
    return NULL;
}

/* Waits for the lane's worker to be idle; returns its error, or 0. */
static int
s_lane_wait (s_lane_t *ln)
{
    pthread_mutex_lock (&ln->mu);
    while (ln->job)
        pthread_cond_wait (&ln->cv, &ln->mu);
    int rc = ln->rc;
    pthread_mutex_unlock (&ln->mu);
    if (rc == HK_EDB)
        ln->store->err_db = ln->db;
    return rc;
}

/* Hands the lane's batch being filled to its worker, once the worker is done with the one
 * before, and lets the reader fill the other. */
static int
s_lane_hand (s_lane_t *ln)
{
    int rc = s_lane_wait (ln);
    s_batch_t *bt = &ln->batches[ln->cur];
    if (rc != 0 || bt->n == 0)
        return rc;
    if (!ln->started) {
        if (pthread_create (&ln->thread, NULL, s_worker, ln) != 0)
            return HK_ENOMEM;
        ln->started = true;
    }
    pthread_mutex_lock (&ln->mu);
    ln->job = bt;
    pthread_cond_broadcast (&ln->cv);
    pthread_mutex_unlock (&ln->mu);
    ln->cur = !ln->cur;
    return 0;
}

/* Writes every lane's queued invoices and waits for them, including the last COPY sent ahead. */
static int
s_flush_invoices (hk_store_t *self)
{
    int rc = 0;
    for (int l = 0; l < self->nlanes; l++) {
        int r = s_lane_hand (&self->lanes[l]);
        rc = rc ? rc : r;
    }
    for (int l = 0; l < self->nlanes; l++) { /* every worker idle before anything else */
        int r = s_lane_wait (&self->lanes[l]);
        rc = rc ? rc : r;
    }
    for (int l = 0; rc == 0 && l < self->nlanes; l++) {
        rc = hk_db_settle (self->lanes[l].db) == 0 ? 0 : HK_EDB;
        if (rc != 0)
            self->err_db = self->lanes[l].db;
    }
    return rc;
}

/* snprintf ("%s") without the formatting cost: at most size - 1 bytes, always terminated. */
static void
s_copy (char *dst, size_t size, const char *src)
{
    size_t n = strnlen (src, size - 1);
    memcpy (dst, src, n);
    dst[n] = 0;
}

static int
s_queue_invoice (hk_store_t *self, const hk_invoice_row_t *r, const char *source, long line)
{
    int slot = 0;
    s_lane_t *ln = &self->lanes[self->nlanes == 2 ? (hk_str_hash (r->debtor_id) >> 7) & 1 : 0];
    s_batch_t *bt = &ln->batches[ln->cur];
    /* the same invoice twice in one batch: write the first before queueing the second; two
     * lanes fill half a batch each (the memory of one lane's batches) */
    if (s_find (bt, r->invoice_id, &slot) || bt->n == HK_STORE_BATCH / self->nlanes
        || (bt->n > 0 && strcmp (bt->source, source) != 0)) {
        int rc = s_lane_hand (ln);
        if (rc != 0)
            return rc;
        bt = &ln->batches[ln->cur];
        s_find (bt, r->invoice_id, &slot);
    }
    s_copy (bt->source, sizeof bt->source, source);
    s_pending_t *p = &bt->rows[bt->n];
    s_copy (p->invoice_id, sizeof p->invoice_id, r->invoice_id);
    s_copy (p->debtor_id, sizeof p->debtor_id, r->debtor_id);
    s_copy (p->contract_id, sizeof p->contract_id, r->contract_id);
    s_copy (p->currency, sizeof p->currency, r->currency);
    s_copy (p->debtor_name, sizeof p->debtor_name, r->debtor_name);
    s_copy (p->debtor_email, sizeof p->debtor_email, r->debtor_email);
    p->amount_minor = r->amount_minor;
    p->has_issued_on = r->has_issued_on;
    p->issued_on = r->issued_on;
    p->due_on = r->due_on;
    p->line = line;
    p->state = S_NEW;
    p->updated = false;
    bt->slots[slot] = ++bt->n;
    return 0;
}

/* A lane's statement that failed waiting for a row lock (lock_timeout, 55P03) in a split
 * file: most likely the other lane's, which only this daemon could release. */
static int
s_lane_error (hk_store_t *self, int rc)
{
    if (rc != HK_EDB || self->nlanes != 2 || !self->err_db)
        return rc;
    return strcmp (hk_db_sqlstate (self->err_db), "55P03") == 0 ? HK_ECONFLICT : rc;
}

int
hk_store_flush (hk_store_t *self)
{
    return s_lane_error (self, s_flush_invoices (self));
}

int
hk_store_split (hk_store_t *self)
{
    hk_daemon_t *d = self->d;
    s_lane_t *ln = &self->lanes[1];
    if (self->nlanes == 2 || !hk_db_in_transaction (d->db))
        return self->nlanes == 2 ? 0 : HK_EINVAL;
    if (!ln->db) {
        ln->db = hk_db_new (hk_config_str (d->config, "database_url"));
        if (!ln->db)
            return HK_ENOMEM;
    }
    if (!hk_db_ok (ln->db) && hk_db_connect (ln->db) != 0) {
        if (!self->lane_down)
            HK_LOG (HK_WARN, "intake.one_lane", HK_S ("error", hk_db_errstr (ln->db)));
        self->lane_down = true;
        return 0; /* one lane: slower, not wrong */
    }
    self->lane_down = false;
    snprintf (d->producer2, sizeof d->producer2, "%s", ln->producer); /* relayed from now on */
    /* Each lane waits for a row lock at most this long: the lock may be the other lane's
     * (an invoice that moves to a debtor of the other lane within the file), which nothing
     * but this daemon's commit would release. The file is then taken again in one lane. */
    static const char tune[] = "SELECT set_config('lock_timeout', '5s', true)";
    if (hk_db_begin (ln->db) != 0 || hk_db_exec (ln->db, tune, 0, NULL) < 0
        || hk_db_exec (d->db, tune, 0, NULL) < 0) {
        hk_db_rollback (ln->db);
        return HK_EDB;
    }
    self->nlanes = 2;
    return 0;
}

int
hk_store_commit (hk_store_t *self)
{
    /* the second lane first: the daemon's own transaction holds the file's record, so a crash
     * between the two commits leaves the file to be taken again, and its re-delivery writes
     * what the first commit did not */
    self->err_db = self->lanes[1].db;
    if (self->nlanes == 2 && hk_db_commit (self->lanes[1].db) != 0)
        return HK_EDB;
    self->nlanes = 1;
    self->err_db = self->d->db;
    return hk_db_commit (self->d->db) == 0 ? 0 : HK_EDB;
}

void
hk_store_rollback (hk_store_t *self)
{
    for (int l = 0; l < 2; l++) /* a worker may still write a batch handed before the error */
        s_lane_wait (&self->lanes[l]);
    if (self->nlanes == 2)
        hk_db_rollback (self->lanes[1].db);
    self->nlanes = 1;
    hk_db_rollback (self->d->db);
}

hk_db_t *
hk_store_error_db (const hk_store_t *self)
{
    return self->err_db ? self->err_db : self->d->db;
}


int
hk_store_fact (hk_store_t *self, const hk_fact_t *fact, const char *source, long line,
               hk_row_error_t *err)
{
    if (fact->kind == HK_REC_INVOICE)
        return s_lane_error (self, s_queue_invoice (self, &fact->u.invoice, source, line));
    int rc = s_lane_error (self, s_flush_invoices (self));
    if (rc != 0)
        return rc;
    hk_daemon_t *d = self->d;
    switch (fact->kind) {
    case HK_REC_DEBTOR:
        s_debtors_clear (&self->lanes[0].cache); /* what invoices sent no longer holds */
        s_debtors_clear (&self->lanes[1].cache);
        rc = s_debtor (d, &fact->u.debtor, source, line);
        break;
    case HK_REC_CONTACT: rc = s_contact (d, &fact->u.contact, source, line); break;
    case HK_REC_CONTRACT: rc = s_contract (d, &fact->u.contract, source, line); break;
    case HK_REC_CREDIT_NOTE: rc = s_credit_note (d, &fact->u.credit_note, source, line); break;
    case HK_REC_PAYMENT: rc = s_payment (d, &fact->u.payment, source, line); break;
    case HK_REC_PROMISE: rc = s_promise (d, &fact->u.promise, source, line); break;
    case HK_REC_DISPUTE: rc = s_dispute (d, &fact->u.dispute, source, line); break;
    case HK_REC_INCOMING_PAYMENT: rc = s_incoming (d, &fact->u.incoming, source, line); break;
    case HK_REC_DELIVERY: rc = s_delivery (d, &fact->u.delivery, source, line); break;
    case HK_REC_LIMITATION_INTERRUPTION:
        rc = s_interruption (d, &fact->u.interruption, source, line);
        break;
    case HK_REC_CONTACT_OUTCOME: rc = s_outcome (d, &fact->u.outcome, source, line, err); break;
    default: return HK_EINVAL;
    }
    if (rc < 0)
        return rc;
    if (rc == 0)
        self->unchanged++;
    else
        self->accepted++;
    return 0;
}
