/* huikuan-aging: days past due and aging bucket for every open invoice (R-A1), with the
 * invoice and debtor risk the doctrine asks for (R-A2..R-A4, R-A7, R-L1, R-L2, R-H1).
 *
 * Incremental: the invoice of an invoice.recorded event is aged at once; a payment re-ages
 * the debtor's open invoices and grades it again; a limitation interruption (R-L2) recomputes
 * that invoice's clock. Daily run: at the tenant's day boundary (its time zone, by the fleet
 * clock) the first instance to notice plans a run (aging_run): the debtors with results to
 * compute (theirs or their invoices': never computed, or at a change point; every result
 * stores the last day it holds), in order of id, cut into chunks of at most `chunk_size`
 * results and at least one chunk per live instance, each one message on a Redis stream read
 * through a consumer group, so N instances share the run; a chunk whose instance died is
 * claimed by another (XAUTOCLAIM after `claim_idle`). A chunk is done once: its row lock, its
 * results, its events and its evidence (aging_run_debtor) commit together, and a redelivered
 * chunk that is already done is only acknowledged (promises 1 and 2). Invoices and debtors
 * are aged set-based per batch: one query fetches every input of the batch, one UPDATE
 * (unnest) writes the results. A bucket or grade change is an event; an unchanged result
 * emits nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aging_rules.h"
#include "limitation.h"
#include "risk.h"
#include "huikuan/daemon.h"
#include "huikuan/dates.h"
#include "huikuan/errcodes.h"
#include "huikuan/log.h"
#include "huikuan/metrics.h"

static int
s_valid_buckets (const char *value, char *err, size_t errlen)
{
    hk_buckets_t b;
    return hk_buckets_parse (value, &b, err, errlen);
}

static hk_buckets_t s_buckets; /* the tenant's buckets, from the config at start */

static const hk_cfg_entry_t s_config[] = {
    { "batch_size", HK_CFG_INT, "500", 1, 100000, 0, NULL,
      "invoices aged per transaction outside the daily run (new, paid, interrupted)" },
    { "chunk_size", HK_CFG_INT, "5000", 1, 1000000, 0, NULL,
      "most results (invoices and debtors) computed per chunk of a daily run, handed out over"
      " Redis; a day with fewer results is cut into one chunk per live aging instance" },
    { "buckets", HK_CFG_STRING, "30,60,90,180,365,730", 0, 0, HK_CFG_NORELOAD, s_valid_buckets,
      "aging buckets: increasing upper bounds in days past due after \"current\" (R-A1)" },
    { 0 },
};

/* Every event that changes an input of an invoice's or a debtor's results: the issue's
 * "incremental: re-ages only debtors touched by an event, within seconds". */
static const char *const s_consumes[] = {
    "invoice.recorded", "payment.recorded", "limitation_interruption.recorded",
    "credit_note.recorded",  /* outstanding (its allocations) */
    "dispute.recorded",      /* R-A2: an open dispute */
    "promise.broken",        /* R-A2: broken promises */
    "debtor.recorded",       /* bankrupt, reachability (R-A8), distance, cause, cooperation */
    "contract.recorded",     /* the terms of the credit hold (R-H1) */
    "delivery.recorded",     /* order volume (R-A7), the batches of 送二结一 (R-H1) */
    "contact.sent",          /* R-A2 "no contact": only grades of 3 or worse can move */
    "contact_outcome.recorded", /* the same when the debtor was reached; a "no supply, no
                                   payment" threat re-grades it whatever its grade (R-H2) */
    NULL,
};

static hk_metric_t *s_m_aged, *s_m_changed, *s_m_chunks;
static hk_queue_t *s_chunks; /* the daily run's chunks (the event streams' group: "aging") */
static char s_stream[160];

/* PostgreSQL array literals built per batch ("{...}"), one per column a batch UPDATE
 * writes, so a batch is one statement instead of one per row. */
#define S_AGED_COLS 10

/* Closes a batch's array literals (hk_pgarr, common/db.h); out[c] is malloc'd (caller frees),
 * NULL after ENOMEM. */
static void
s_arr_close (hk_pgarr_t *cols, int ncols, char **out)
{
    for (int c = 0; c < ncols; c++)
        out[c] = hk_pgarr_finish (&cols[c]);
}

/* The events of a batch, appended to the outbox together at its end (one COPY, not one
 * INSERT per event); their payloads live in per-row slots until then. */
typedef struct {
    Huikuan__V1__InvoiceAged aged;
    Huikuan__V1__LimitationWarning warning;
    Huikuan__V1__Money out, rec;
    char reason_text[HK_RISK_MAX_REASONS][HK_RISK_TEXT + 16];
    char *reasons[HK_RISK_MAX_REASONS];
    char expires[16];
    hk_limitation_t lim;
} s_invoice_slot_t;

typedef struct {
    hk_event_t *evs;
    int n, cap;
} s_events_t;

static int
s_events_add (s_events_t *e, hk_daemon_t *d, const char *type, const char *aggregate,
              const char *trace_id, const ProtobufCMessage *payload)
{
    if (e->n == e->cap) {
        int cap = e->cap ? 2 * e->cap : 64;
        hk_event_t *evs = realloc (e->evs, sizeof *evs * (size_t) cap);
        if (!evs)
            return HK_ENOMEM;
        e->evs = evs;
        e->cap = cap;
    }
    e->evs[e->n++] = (hk_event_t) { .type = type, .tenant = d->tenant, .aggregate_id = aggregate,
                                    .trace_id = trace_id,
                                    .occurred_at_us = hk_clock_now (d->clock),
                                    .payload = payload };
    return 0;
}

/* Appends the collected events (inside the open transaction) and frees the list. */
static int
s_events_flush (s_events_t *e, hk_daemon_t *d)
{
    int rc = e->n > 0 ? hk_outbox_append_batch (d->db, d->instance, e->evs, e->n) : 0;
    free (e->evs);
    *e = (s_events_t) { 0 };
    return rc == 0 ? 0 : HK_EDB;
}

/* Queues limitation.warning when the invoice's limitation clock reached a warning offset not
 * announced before, or expired (R-L1, R-L3). *stored is the last one announced (0 none, the
 * offset in days, -1 expired) and is updated. The payload lives in slot. */
static int
s_limitation_event (hk_daemon_t *d, s_events_t *evs, s_invoice_slot_t *slot,
                    const char *invoice, const char *debtor, int32_t *stored,
                    const char *trace_id)
{
    static char *rules[] = { "R-L1", "R-L3" };
    const hk_limitation_t *lim = &slot->lim;
    int32_t now = lim->expired ? -1 : lim->warning;
    bool news = lim->expired ? *stored != -1 : now > 0 && (*stored == 0 || now < *stored);
    if (!news)
        return 0;
    *stored = now;
    Huikuan__V1__LimitationWarning *ev = &slot->warning;
    huikuan__v1__limitation_warning__init (ev);
    ev->invoice_id = (char *) invoice;
    ev->debtor_id = (char *) debtor;
    ev->expires_on = slot->expires;
    ev->days_left = lim->days_left;
    ev->warning_days = lim->expired ? 0 : lim->warning;
    ev->expired = lim->expired;
    ev->jurisdiction = (char *) lim->rule->code;
    ev->explanation = (char *) lim->explanation;
    ev->n_rules = 2;
    ev->rules = rules;
    return s_events_add (evs, d, "limitation.warning", debtor, trace_id, &ev->base);
}

/* Broken promises per debtor (R-A2 behaviour), of the debtors IN_IDS (a subquery or an
 * array expression with "= ANY"): every promise the scheduler found broken, whichever debt
 * it covered. $1 tenant. */
#define S_BROKEN_PROMISES(IN_IDS)                                                              \
    "SELECT debtor_id, count (*) AS broken FROM promise WHERE tenant = $1"                     \
    " AND status = 'broken' AND debtor_id IN (" IN_IDS ") GROUP BY debtor_id"

/* The last contact per debtor (R-A2 "no contact"), of the debtors IN_IDS (a subquery): the
 * latest message sent (by the fleet clock: the contact's dispatched_at; its updated_at is the
 * wall clock's) or outcome that reached the debtor (migrations 21 and 26: a "no supply, no
 * payment" threat too, the debtor spoke), as a local date in ZONE. The outcome list is the
 * predicate of the partial index contact_outcome_reached: change both together. */
#define S_LAST_CONTACT(ZONE, IN_IDS)                                                           \
    "SELECT debtor_id, (max (at) AT TIME ZONE " ZONE ")::date AS last_sent FROM ("            \
    "  SELECT debtor_id, dispatched_at AS at FROM contact WHERE tenant = $1"                   \
    "  AND status = 'sent' AND debtor_id IN (" IN_IDS ")"                                      \
    "  UNION ALL SELECT debtor_id, occurred_at FROM contact_outcome WHERE tenant = $1"         \
    "  AND outcome IN ('reached', 'hostile', 'refused', 'delivered', 'no_supply_no_payment')"  \
    "  AND debtor_id IN (" IN_IDS ")) t GROUP BY debtor_id"

/* The debtors b the debtor pass grades: owing something or held. */
#define S_OWING_OR_HELD                                                                        \
    " AND (b.credit_hold OR EXISTS (SELECT 1 FROM invoice i WHERE i.tenant = b.tenant"         \
    " AND i.debtor_id = b.debtor_id AND i.status = 'open'))"

/* The debtor's reachability as stored (R-A8; the debtor feed's `reachability`). */
static hk_reach_t
s_reach (const char *text)
{
    return strcmp (text, "lost") == 0        ? HK_REACH_LOST
           : strcmp (text, "half_lost") == 0 ? HK_REACH_HALF_LOST
                                             : HK_REACH_REACHABLE;
}

/* The aged invoices' query: the batch b (FILTER: the rest of the WHERE clause with its
 * ORDER/LIMIT/lock) and every other input of the batch fetched set-based, not per row: open
 * disputes, the last contact with each debtor (R-A2 "no contact") and the invoice's
 * limitation interruptions (R-L2, latest first, "kind YYYY-MM-DD has_evidence,..."), the
 * row's ctid, by which s_age_rows writes it back, and the debtor's standing: bankrupt,
 * reachability (R-A8), broken promises (R-A2) and a known closure (R-A7). $1 tenant, $2 the
 * as-of date, $3 the tenant zone; FILTER may use $4 on. FILTER must lock the rows (FOR
 * UPDATE). The debtor is looked up per invoice by its key (a lateral subquery the planner
 * cannot flatten): as a join, the planner hashed the whole debtor table for a batch of a
 * few thousand invoices, 80 ms of a day run's 100 ms read at 100,000 debtors. */
#define S_AGING_SELECT(FILTER)                                                                 \
    "WITH b AS (SELECT invoice_id, debtor_id, due_on, bucket, currency, outstanding_minor,"    \
    "  grade, limitation_warning, limitation_expires_on, ctid FROM invoice"                    \
    "  WHERE tenant = $1 AND status = 'open' AND " FILTER ")"                                  \
    " SELECT b.invoice_id, b.debtor_id, b.due_on, b.bucket, b.currency, b.outstanding_minor,"  \
    "  b.grade, b.limitation_warning, x.invoice_id IS NOT NULL, $2::date - c.last_sent,"       \
    "  b.limitation_expires_on, li.list, b.ctid, coalesce (db.bankrupt, false),"               \
    "  coalesce (db.reachability, 'reachable'), coalesce (pm.broken, 0),"                      \
    "  coalesce (db.closure, false)"                                                           \
    " FROM b"                                                                                  \
    " LEFT JOIN LATERAL (SELECT bankrupt, reachability, closure FROM debtor"                   \
    "   WHERE tenant = $1 AND debtor_id = b.debtor_id OFFSET 0) db ON true"                    \
    " LEFT JOIN (" S_BROKEN_PROMISES ("SELECT debtor_id FROM b") ") pm"                        \
    "   ON pm.debtor_id = b.debtor_id"                                                         \
    " LEFT JOIN (SELECT DISTINCT invoice_id FROM dispute WHERE tenant = $1 AND status = 'open'" \
    "   AND invoice_id IN (SELECT invoice_id FROM b)) x ON x.invoice_id = b.invoice_id"        \
    " LEFT JOIN (" S_LAST_CONTACT ("$3", "SELECT debtor_id FROM b") ") c"                      \
    "   ON c.debtor_id = b.debtor_id"                                                          \
    " LEFT JOIN (SELECT invoice_id, string_agg (interruption || ' '"                           \
    "   || to_char (occurred_on, 'YYYY-MM-DD') || ' '"                                         \
    "   || (coalesce (evidence, '') <> '')::text, ',' ORDER BY occurred_on DESC) AS list"      \
    "   FROM limitation_interruption WHERE tenant = $1"                                        \
    "   AND invoice_id IN (SELECT invoice_id FROM b) GROUP BY invoice_id) li"                  \
    "   ON li.invoice_id = b.invoice_id"

#define S_MAX_INTERRUPTIONS 32

/* Parses the interruption list of S_AGING_SELECT ("demand 2025-01-02 true,...", latest
 * first) into out; the latest S_MAX_INTERRUPTIONS are kept (only the latest counted one
 * decides the clock). Unknown kinds are skipped. Returns the count. */
static size_t
s_parse_interruptions (const char *list, hk_interruption_t *out)
{
    size_t n = 0;
    for (const char *c = list; *c && n < S_MAX_INTERRUPTIONS;) {
        char kind[40], day[16], evid[8];
        int used = 0;
        if (sscanf (c, "%39[^ ] %15[^ ] %7[^,]%n", kind, day, evid, &used) != 3)
            break;
        c += used;
        if (*c == ',')
            c++;
        int k = hk_interruption_kind_parse (kind);
        int32_t date;
        if (k == 0 || hk_date_parse (day, &date) != 0)
            continue;
        out[n++] = (hk_interruption_t) { .date = date, .kind = k,
                                         .has_evidence = strcmp (evid, "true") == 0 };
    }
    return n;
}

/* The trace ids of a batch of events, by invoice: what aging an invoice emits carries the
 * trace of the event that asked for it. */
typedef struct {
    const char *const *invoices;
    const char *const *traces;
    int n;
} s_traces_t;

static const char *
s_trace_of (const s_traces_t *t, const char *invoice, const char *fallback)
{
    for (int k = 0; t && k < t->n; k++)
        if (strcmp (t->invoices[k], invoice) == 0)
            return t->traces[k];
    return fallback;
}

/* Steady days beyond this (a thousand years) are stored as for ever ('infinity'). */
#define S_STEADY_MAX 365000

/* The smallest of three steady-day counts. */
static int32_t
s_min3 (int32_t a, int32_t b, int32_t c)
{
    int32_t m = a < b ? a : b;
    return m < c ? m : c;
}

/* Ages the rows of res (S_AGING_SELECT) as of date; caller holds their row locks inside an
 * open transaction. Per invoice: DPD and bucket (R-A1), grade with its reasons (R-A2),
 * expected recovery (R-A3) and the limitation clock with its recorded interruptions (R-L1,
 * R-L2), and the last day they all hold (aged_through: the daily run comes back then). An
 * event when the bucket or the grade changed; a limitation warning when one is reached; a
 * clock whose expiry moved (an interruption restarted it) warns again. All rows are written
 * by one UPDATE; DPD is not stored (it changes daily; readers compute it from due_on).
 * Returns the count or a negative error. */
static int
s_age_rows (hk_daemon_t *d, PGresult *res, int32_t as_of, const char *trace_id,
            const s_traces_t *traces)
{
    char as_of_s[16];
    hk_date_format (as_of, as_of_s, sizeof as_of_s);
    hk_risk_policy_t policy;
    hk_risk_policy_default (&policy);
    int n = PQntuples (res);
    if (n == 0)
        return 0;
    hk_pgarr_t cols[S_AGED_COLS] = { 0 };
    s_invoice_slot_t *slots = calloc ((size_t) n, sizeof *slots);
    if (!slots)
        return HK_ENOMEM;
    s_events_t evs = { 0 };
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        s_invoice_slot_t *slot = &slots[i];
        const char *invoice = PQgetvalue (res, i, 0), *debtor = PQgetvalue (res, i, 1);
        const char *trace = s_trace_of (traces, invoice, trace_id);
        int32_t due, prev_expiry = 0;
        if (hk_date_parse (PQgetvalue (res, i, 2), &due) != 0) {
            rc = HK_EINVAL;
            break;
        }
        bool has_prev_expiry = !PQgetisnull (res, i, 10)
                               && hk_date_parse (PQgetvalue (res, i, 10), &prev_expiry) == 0;
        const char *prev = PQgetisnull (res, i, 3) ? "" : PQgetvalue (res, i, 3);
        int64_t outstanding = strtoll (PQgetvalue (res, i, 5), NULL, 10);
        int prev_grade = PQgetisnull (res, i, 6) ? 0 : atoi (PQgetvalue (res, i, 6));
        int32_t stored_warning = atoi (PQgetvalue (res, i, 7));
        int32_t dpd = hk_aging_dpd (due, as_of);
        const char *bucket = hk_buckets_name (&s_buckets, dpd);

        hk_risk_input_t in = {
            .as_of = as_of,
            .dpd = dpd,
            .outstanding_minor = outstanding,
            .dispute_open = PQgetvalue (res, i, 8)[0] == 't',
            .days_since_contact = PQgetisnull (res, i, 9) ? -1 : atoi (PQgetvalue (res, i, 9)),
            .bankrupt = PQgetvalue (res, i, 13)[0] == 't',
            .reach = s_reach (PQgetvalue (res, i, 14)),
            .broken_promises = atoi (PQgetvalue (res, i, 15)),
            .signal_closure = PQgetvalue (res, i, 16)[0] == 't',
        };
        hk_risk_grade_result_t grade;
        if (hk_risk_grade (&policy, &in, &grade) != 0) {
            rc = HK_EINVAL;
            break;
        }
        int32_t bp = hk_recovery_bp (&policy, dpd);
        int64_t recoverable = hk_expected_recoverable (outstanding, bp);
        hk_interruption_t ints[S_MAX_INTERRUPTIONS];
        size_t nints = s_parse_interruptions (PQgetvalue (res, i, 11), ints);
        hk_limitation_input_t lin = { .start = due, .today = as_of, .interruptions = ints,
                                      .interruption_count = nints };
        hk_limitation_t *lim = &slot->lim;
        if (hk_limitation_compute (&lin, lim) != 0) {
            rc = HK_EINVAL;
            break;
        }
        char *exp_s = slot->expires, start_s[16];
        hk_date_format (lim->expiry, exp_s, sizeof slot->expires);
        hk_date_format (lim->effective_start, start_s, sizeof start_s);
        /* R-L2: a restarted clock has a new expiry; its warnings are armed again */
        int32_t warning = has_prev_expiry && prev_expiry != lim->expiry ? 0 : stored_warning;
        if (s_limitation_event (d, &evs, slot, invoice, debtor, &warning, trace) != 0) {
            rc = HK_ENOMEM;
            break;
        }

        /* the results hold until the first of their change points (none: for ever) */
        int32_t steady = s_min3 (hk_risk_steady_days (&policy, &in),
                                 hk_buckets_steady_days (&s_buckets, dpd),
                                 hk_limitation_steady_days (&lin, lim));
        char through_s[16] = "infinity";
        if (steady < S_STEADY_MAX)
            hk_date_format (as_of + steady, through_s, sizeof through_s);

        /* the row's results join the batch's arrays; one UPDATE writes them all below */
        hk_pgarr_text (&cols[0], invoice);
        hk_pgarr_text (&cols[9], PQgetvalue (res, i, 12));
        hk_pgarr_text (&cols[1], through_s);
        hk_pgarr_text (&cols[2], bucket);
        hk_pgarr_int (&cols[3], (int) grade.grade);
        hk_pgarr_int (&cols[4], bp);
        hk_pgarr_int (&cols[5], (long long) recoverable);
        hk_pgarr_text (&cols[6], exp_s);
        hk_pgarr_int (&cols[7], warning);
        hk_pgarr_text (&cols[8], start_s);
        hk_metric_add (s_m_aged, 1);
        if (strcmp (prev, bucket) == 0 && prev_grade == (int) grade.grade)
            continue;
        huikuan__v1__money__init (&slot->out);
        huikuan__v1__money__init (&slot->rec);
        slot->out.currency = slot->rec.currency = PQgetvalue (res, i, 4);
        slot->out.minor = outstanding;
        slot->rec.minor = recoverable;
        for (int r = 0; r < grade.n_reasons; r++) {
            snprintf (slot->reason_text[r], sizeof slot->reason_text[r], "%s: %s",
                      grade.reasons[r].rule, grade.reasons[r].text);
            slot->reasons[r] = slot->reason_text[r];
        }
        Huikuan__V1__InvoiceAged *ev = &slot->aged;
        huikuan__v1__invoice_aged__init (ev);
        ev->invoice_id = (char *) invoice;
        ev->debtor_id = (char *) debtor;
        ev->as_of = as_of_s;
        ev->dpd = dpd;
        ev->bucket = (char *) bucket;
        ev->previous_bucket = (char *) prev;
        ev->outstanding = &slot->out;
        ev->time_zone = (char *) d->tenant_tz;
        ev->grade = (int32_t) grade.grade;
        ev->previous_grade = prev_grade;
        ev->n_grade_reasons = (size_t) grade.n_reasons;
        ev->grade_reasons = slot->reasons;
        ev->recovery_bp = bp;
        ev->expected_recoverable = &slot->rec;
        ev->limitation_expires_on = exp_s;
        if (s_events_add (&evs, d, "invoice.aged", debtor, trace, &ev->base) != 0) {
            rc = HK_ENOMEM;
            break;
        }
        hk_metric_add (s_m_changed, 1);
    }
    if (rc == 0)
        rc = s_events_flush (&evs, d);
    free (evs.evs);
    free (slots);
    char *arrays[S_AGED_COLS];
    s_arr_close (cols, S_AGED_COLS, arrays);
    for (int c = 0; c < S_AGED_COLS && rc == 0; c++)
        if (!arrays[c])
            rc = HK_ENOMEM;
    if (rc == 0) {
        const char *p[] = { d->tenant, as_of_s,   arrays[0], arrays[1], arrays[2], arrays[3],
                            arrays[4], arrays[5], arrays[6], arrays[7], arrays[8], arrays[9] };
        /* Each row is found again by the ctid its locking query returned: locked, it cannot
         * move before this UPDATE, so no second index descent per row (and no hash join over
         * the whole table, which the planner picks at some table sizes); the key is checked
         * too, and a row not found fails the count below. */
        if (hk_db_exec (d->db,
                        "UPDATE invoice i SET aged_as_of = $2::date, aged_through = s.through,"
                        " bucket = s.bucket, grade = s.grade, recovery_bp = s.bp,"
                        " expected_recoverable_minor = s.rec, limitation_expires_on = s.expires,"
                        " limitation_warning = s.warning, limitation_start = s.start"
                        " FROM unnest ($3::text[], $4::date[], $5::text[], $6::smallint[],"
                        "   $7::int[], $8::bigint[], $9::date[], $10::int[], $11::date[],"
                        "   $12::tid[])"
                        "   AS s (invoice_id, through, bucket, grade, bp, rec, expires, warning,"
                        "   start, loc)"
                        " WHERE i.ctid = s.loc AND i.tenant = $1 AND i.invoice_id = s.invoice_id",
                        12, p)
            != n)
            rc = HK_EDB;
    }
    for (int c = 0; c < S_AGED_COLS; c++)
        free (arrays[c]);
    return rc == 0 ? n : rc;
}

/* Runs an S_AGING_SELECT with params and ages what it returns. */
static int
s_age_query (hk_daemon_t *d, const char *sql, int nparams, const char *const *params,
             int32_t as_of, const char *trace_id)
{
    PGresult *res = hk_db_query (d->db, sql, nparams, params);
    if (!res)
        return HK_EDB;
    int rc = s_age_rows (d, res, as_of, trace_id, NULL);
    PQclear (res);
    return rc;
}

/* Credit hold (R-H1, R-H2) for a debtor with settlement terms on record (its latest
 * contract): cash terms hold while anything invoiced is unpaid; deliver-two-settle-one while
 * anything is unpaid on an invoice before the latest one (paid or not); periodic and one-off
 * terms once an invoice is overdue beyond the policy's grace. Placing and lifting are events
 * for billing/ERP; lifting stores its time on the fleet clock (credit_hold_lifted_at), which
 * ends the window of a "no supply, no payment" threat. A threat that still counts (threat)
 * never lifts a hold (R-H2): the hold stays and its stored reason names R-H2. A reason that
 * changes while the hold stays (stored_reason differs) is written without an event: billing
 * acts on placed and lifted only. The inputs come from the debtor batch query. *lifted is set
 * when the hold was lifted now. */
static int
s_credit_hold (hk_daemon_t *d, const char *debtor, const char *as_of_s, int32_t max_dpd,
               const char *contract_id, const char *terms, bool held, int64_t unpaid,
               int64_t previous_unpaid, bool threat, const char *stored_reason,
               const char *trace_id, bool *lifted)
{
    hk_hold_input_t in = {
        .terms = strcmp (terms, "cash") == 0                     ? HK_TERMS_CASH
                 : strcmp (terms, "deliver_two_settle_one") == 0 ? HK_TERMS_DELIVER_TWO_SETTLE_ONE
                 : strcmp (terms, "one_off") == 0                ? HK_TERMS_ONE_OFF
                                                                 : HK_TERMS_PERIODIC,
        .unpaid_delivered_minor = unpaid,
        .previous_batch_unpaid_minor = previous_unpaid,
        .max_dpd = max_dpd,
        .held = held,
        .threat_no_supply_no_payment = threat,
    };
    hk_hold_t out;
    *lifted = false;
    int rc = hk_credit_hold (NULL, &in, &out);
    if (rc != 0)
        return rc;
    if (!(out.placed || out.lifted)) {
        if (!out.hold || strcmp (out.reason, stored_reason) == 0)
            return 0;
        const char *up[] = { d->tenant, debtor, out.reason };
        return hk_db_exec (d->db,
                           "UPDATE debtor SET credit_hold_reason = $3"
                           " WHERE tenant = $1 AND debtor_id = $2",
                           3, up)
                       == 1
                   ? 0
                   : HK_EDB;
    }
    char now_s[40];
    hk_time_format (hk_clock_now (d->clock), now_s, sizeof now_s);
    const char *up[] = { d->tenant, debtor, out.hold ? "true" : "false", out.reason,
                         out.lifted ? now_s : NULL };
    if (hk_db_exec (d->db,
                    "UPDATE debtor SET credit_hold = $3::boolean, credit_hold_reason = $4,"
                    " credit_hold_lifted_at = coalesce ($5::timestamptz, credit_hold_lifted_at)"
                    " WHERE tenant = $1 AND debtor_id = $2",
                    5, up)
        != 1)
        return HK_EDB;
    *lifted = out.lifted;
    Huikuan__V1__CreditHold ev = HUIKUAN__V1__CREDIT_HOLD__INIT;
    ev.debtor_id = (char *) debtor;
    ev.as_of = (char *) as_of_s;
    ev.hold = out.hold;
    ev.terms = (char *) terms;
    ev.rule = (char *) (out.rule ? out.rule : "R-H1");
    ev.reason = out.reason;
    ev.contract_id = (char *) contract_id;
    return hk_daemon_emit (d, out.placed ? "credit_hold.placed" : "credit_hold.lifted", debtor,
                           trace_id, &ev.base);
}

/* Parses "{1,2,3}" into at most max integers; returns the count. */
static int
s_int_array (const char *text, int64_t *out, int max)
{
    int n = 0;
    for (const char *c = text; *c && n < max;) {
        while (*c && (*c == '{' || *c == ',' || *c == '}'))
            c++;
        if (!*c)
            break;
        out[n++] = strtoll (c, (char **) &c, 10);
    }
    return n;
}

#define S_DEBTOR_COLS 9

/* A graded debtor's event payload, kept until the batch's events are appended. */
typedef struct {
    Huikuan__V1__DebtorGraded ev;
    char reason_text[HK_RISK_MAX_REASONS][HK_RISK_TEXT + 16];
    char *reasons[HK_RISK_MAX_REASONS];
    char *signals[4];
    char cause[24];
} s_debtor_slot_t;

/* Every input of the debtor batch $2 (a text[] of ids) in one statement, one row a debtor,
 * locked: worst DPD, open total and largest single-currency total, open dispute, days since
 * the last contact, distance, monthly deliveries of the window (R-A7, "month:amount"
 * with month 0 the oldest of 12), days late of the last 8 payments (R-A7), cause,
 * cooperation and stance (R-A5, R-A6), and for the credit hold (R-H1) the latest contract
 * and what is unpaid before the latest invoice; last its standing: bankrupt, reachability
 * (R-A8), broken promises (R-A2), a known closure and clearance sales (R-A7), and the signals
 * it had; whether a "no supply, no payment" threat still counts (R-H2, R-A5: recorded after
 * the debtor's last hold lift, or ever when none was lifted; a lookup in the partial index
 * contact_outcome_threat, migration 26) and the stored hold reason. $3 as-of date, $4 zone,
 * $5 year*12+month of the window's first month, $6/$7 the window's first day and the day
 * after it. */
static const char s_debtor_sql[]
    = "SELECT b.debtor_id, b.grade, o.max_dpd, o.max_total, x.debtor_id IS NOT NULL,"
      " $3::date - c.last_sent, coalesce (b.distance_km, 0), v.vols, l.lates,"
      " coalesce (b.cause_of_default, ''), coalesce (b.uncooperative, false), b.stance,"
      " k.contract_id, k.terms, b.credit_hold, coalesce (o.open_sum, 0),"
      " coalesce (pb.prev_unpaid, 0), b.bankrupt, b.reachability, coalesce (pm.broken, 0),"
      " b.closure, b.clearance_sale, coalesce (b.signals::text, '{}'),"
      " coalesce (th.at > b.credit_hold_lifted_at, th.at IS NOT NULL),"
      " coalesce (b.credit_hold_reason, '')"
      " FROM debtor b"
      " LEFT JOIN (SELECT debtor_id, max (m) AS max_dpd, sum (s) AS open_sum, max (s) AS max_total"
      "   FROM (SELECT debtor_id, $3::date - min (due_on) AS m, sum (outstanding_minor) AS s"
      "     FROM invoice"
      "     WHERE tenant = $1 AND status = 'open' AND debtor_id = ANY ($2::text[])"
      "     GROUP BY debtor_id, currency) q GROUP BY debtor_id) o ON o.debtor_id = b.debtor_id"
      " LEFT JOIN (SELECT DISTINCT debtor_id FROM dispute WHERE tenant = $1 AND status = 'open'"
      "   AND debtor_id = ANY ($2::text[])) x ON x.debtor_id = b.debtor_id"
      " LEFT JOIN (" S_LAST_CONTACT ("$4", "SELECT unnest ($2::text[])") ") c"
      "   ON c.debtor_id = b.debtor_id"
      " LEFT JOIN (SELECT debtor_id, string_agg (((extract (year FROM m) * 12"
      "     + extract (month FROM m))::int - $5::int)::text || ':' || v, ',') AS vols"
      "   FROM (SELECT debtor_id, date_trunc ('month', delivered_on) AS m,"
      "     sum (coalesce (amount_minor, quantity, 0)) AS v FROM goods_delivery"
      "     WHERE tenant = $1 AND debtor_id = ANY ($2::text[]) AND delivered_on >= $6::date"
      "     AND delivered_on < $7::date GROUP BY 1, 2) g GROUP BY debtor_id) v"
      "   ON v.debtor_id = b.debtor_id"
      " LEFT JOIN (SELECT debtor_id, array_agg (late ORDER BY at) AS lates FROM ("
      "   SELECT p.debtor_id, p.received_at AS at,"
      "     greatest (0, (p.received_at AT TIME ZONE $4)::date - max (i.due_on)) AS late,"
      "     row_number () OVER (PARTITION BY p.debtor_id ORDER BY p.received_at DESC) AS n"
      "   FROM payment p JOIN payment_allocation a ON a.tenant = p.tenant"
      "     AND a.payment_id = p.payment_id"
      "   JOIN invoice i ON i.tenant = a.tenant AND i.invoice_id = a.invoice_id"
      "   WHERE p.tenant = $1 AND p.debtor_id = ANY ($2::text[])"
      "   GROUP BY p.debtor_id, p.payment_id, p.received_at) q WHERE n <= 8 GROUP BY debtor_id) l"
      "   ON l.debtor_id = b.debtor_id"
      " LEFT JOIN (SELECT DISTINCT ON (debtor_id) debtor_id, contract_id, terms FROM contract"
      "   WHERE tenant = $1 AND debtor_id = ANY ($2::text[])"
      "   ORDER BY debtor_id, updated_at DESC, contract_id) k ON k.debtor_id = b.debtor_id"
      /* 送二结一: the previous batches are every invoice but the latest one, paid or not */
      " LEFT JOIN (SELECT debtor_id,"
      "   sum (outstanding_minor) FILTER (WHERE status = 'open' AND n > 1) AS prev_unpaid"
      "   FROM (SELECT debtor_id, outstanding_minor, status, row_number () OVER (PARTITION BY"
      "     debtor_id ORDER BY coalesce (issued_on, due_on) DESC, invoice_id DESC) AS n"
      "     FROM invoice WHERE tenant = $1 AND debtor_id IN (SELECT debtor_id FROM contract"
      "       WHERE tenant = $1 AND terms = 'deliver_two_settle_one'"
      "       AND debtor_id = ANY ($2::text[]))) s GROUP BY debtor_id) pb"
      "   ON pb.debtor_id = b.debtor_id"
      " LEFT JOIN (" S_BROKEN_PROMISES ("SELECT unnest ($2::text[])") ") pm"
      "   ON pm.debtor_id = b.debtor_id"
      " LEFT JOIN (SELECT debtor_id, max (occurred_at) AS at FROM contact_outcome"
      "   WHERE tenant = $1 AND outcome = 'no_supply_no_payment'"
      "   AND debtor_id = ANY ($2::text[]) GROUP BY debtor_id) th ON th.debtor_id = b.debtor_id"
      " WHERE b.tenant = $1 AND b.debtor_id = ANY ($2::text[])"
      " ORDER BY b.debtor_id FOR UPDATE OF b";

/* Debtor-level risk for the debtors of ids (a text[] literal) as of a date (R-A2, R-A4, R-A5,
 * R-A6, R-A7, R-A8) and their credit hold (R-H1, R-H2), after their invoices were aged in the same
 * transaction: one query for the inputs, one UPDATE for the results. Inputs the feeds do not
 * carry yet (creditworthiness, cooperation, capital strength) are neutral. The
 * amount part uses the debtor's largest single-currency total: sums across currencies mean
 * nothing. Returns how many were graded, or a negative error. */
static int
s_grade_debtors (hk_daemon_t *d, const char *ids, int32_t as_of, const char *trace_id)
{
    char as_of_s[16], ym0_s[16], from_s[16], to_s[16];
    hk_date_format (as_of, as_of_s, sizeof as_of_s);
    int y, m, day;
    hk_date_to_ymd (as_of, &y, &m, &day);
    int ym_first = y * 12 + (m - 1) - 11; /* months since year 0, 0-based month */
    snprintf (ym0_s, sizeof ym0_s, "%d", ym_first + 1); /* year * 12 + month, as in SQL */
    hk_date_format (hk_date_from_ymd (ym_first / 12, ym_first % 12 + 1, 1), from_s, sizeof from_s);
    hk_date_format (hk_date_from_ymd (m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1, 1), to_s,
                    sizeof to_s);
    const char *p[] = { d->tenant, ids, as_of_s, d->tenant_tz, ym0_s, from_s, to_s };
    int32_t month_left; /* steady days of the delivery window: it moves on the 1st */
    hk_date_parse (to_s, &month_left);
    month_left -= as_of + 1;
    PGresult *res = hk_db_query (d->db, s_debtor_sql, 7, p);
    if (!res)
        return HK_EDB;
    int n = PQntuples (res), rc = 0;
    hk_pgarr_t cols[S_DEBTOR_COLS] = { 0 };
    s_debtor_slot_t *slots = n > 0 ? calloc ((size_t) n, sizeof *slots) : NULL;
    if (n == 0 || !slots) {
        PQclear (res);
        free (slots);
        return n == 0 ? 0 : HK_ENOMEM;
    }
    s_events_t evs = { 0 };
    hk_risk_policy_t policy;
    hk_risk_policy_default (&policy);
    for (int i = 0; i < n && rc == 0; i++) {
        s_debtor_slot_t *slot = &slots[i];
        const char *debtor = PQgetvalue (res, i, 0);
        int prev_grade = PQgetisnull (res, i, 1) ? 0 : atoi (PQgetvalue (res, i, 1));
        int64_t volumes[12] = { 0 }, late[8];
        for (const char *c = PQgetvalue (res, i, 7); *c;) {
            long idx = strtol (c, (char **) &c, 10);
            if (*c != ':')
                break;
            long long v = strtoll (c + 1, (char **) &c, 10);
            if (idx >= 0 && idx < 12)
                volumes[idx] = v;
            if (*c == ',')
                c++;
        }
        int ndel = s_int_array (PQgetvalue (res, i, 8), late, 8);
        int32_t delays[8];
        for (int k = 0; k < ndel; k++)
            delays[k] = (int32_t) late[k];
        bool volume_drop = hk_signal_volume_drop (volumes, 12, policy.volume_drop_bp);
        bool delay = hk_signal_lengthening_delay (&policy, delays, ndel);
        hk_risk_input_t in = {
            .as_of = as_of,
            .dpd = PQgetisnull (res, i, 2) ? 0 : atoi (PQgetvalue (res, i, 2)),
            .outstanding_minor
            = PQgetisnull (res, i, 3) ? 0 : strtoll (PQgetvalue (res, i, 3), NULL, 10),
            .dispute_open = PQgetvalue (res, i, 4)[0] == 't',
            .days_since_contact = PQgetisnull (res, i, 5) ? -1 : atoi (PQgetvalue (res, i, 5)),
            .bankrupt = PQgetvalue (res, i, 17)[0] == 't',
            .reach = s_reach (PQgetvalue (res, i, 18)),
            .broken_promises = atoi (PQgetvalue (res, i, 19)),
            .signal_closure = PQgetvalue (res, i, 20)[0] == 't',
            .signal_clearance = PQgetvalue (res, i, 21)[0] == 't',
            .signal_volume_drop = volume_drop,
            .signal_delay = delay,
        };
        /* R-H1/R-H2: the hold first; a threat keeps it and is named in its reason */
        bool threat = PQgetvalue (res, i, 23)[0] == 't', lifted = false;
        if (!PQgetisnull (res, i, 13)
            && s_credit_hold (d, debtor, as_of_s, in.dpd, PQgetvalue (res, i, 12),
                              PQgetvalue (res, i, 13), PQgetvalue (res, i, 14)[0] == 't',
                              strtoll (PQgetvalue (res, i, 15), NULL, 10),
                              strtoll (PQgetvalue (res, i, 16), NULL, 10), threat,
                              PQgetvalue (res, i, 24), trace_id, &lifted)
                   != 0) {
            rc = HK_EDB;
            break;
        }
        /* R-A5/R-A6: hard only for the uncooperative, wilful or in bad faith: a "no supply, no
         * payment" threat that still counts is bad faith (one before a lift made now no
         * longer does: the debtor paid); the cause is as recorded */
        hk_cause_t cause = HK_CAUSE_UNKNOWN;
        hk_cause_parse (PQgetvalue (res, i, 9), &cause);
        const char *stance = hk_stance (PQgetvalue (res, i, 10)[0] == 't', threat && !lifted,
                                        cause)
                                     == HK_STANCE_HARD
                                 ? "hard"
                                 : "soft";
        bool stance_changed
            = PQgetisnull (res, i, 11) || strcmp (PQgetvalue (res, i, 11), stance) != 0;
        char *cause_s = slot->cause;
        snprintf (cause_s, sizeof slot->cause, "%s",
                  cause == HK_CAUSE_UNKNOWN ? "" : hk_cause_name (cause));
        hk_priority_input_t pin = {
            .dpd = in.dpd,
            .outstanding_minor = in.outstanding_minor,
            .creditworthiness = 50,
            .cooperation = 50,
            .capital_strength = 50,
            .distance_km = atoi (PQgetvalue (res, i, 6)),
            .signal_closure = in.signal_closure,
            .signal_clearance = in.signal_clearance,
            .signal_volume_drop = volume_drop,
            .signal_delay = delay,
        };
        hk_risk_grade_result_t grade;
        hk_priority_t prio;
        if (hk_risk_grade (&policy, &in, &grade) != 0 || hk_priority (&policy, &pin, &prio) != 0) {
            rc = HK_EINVAL;
            break;
        }
        /* text[] literal of the reasons, itself one element of the batch's text[] column */
        char (*reason_text)[HK_RISK_TEXT + 16] = slot->reason_text;
        char **reasons = slot->reasons;
        hk_pgarr_t lit = { 0 };
        for (int r = 0; r < grade.n_reasons; r++) {
            snprintf (reason_text[r], sizeof slot->reason_text[r], "%s: %s",
                      grade.reasons[r].rule, grade.reasons[r].text);
            reasons[r] = reason_text[r];
            hk_pgarr_text (&lit, reason_text[r]);
        }
        char *reasons_lit = hk_pgarr_finish (&lit);
        if (!reasons_lit) {
            rc = HK_ENOMEM;
            break;
        }
        char **signals = slot->signals;
        int nsig = 0;
        if (in.signal_closure)
            signals[nsig++] = "closure";
        if (volume_drop)
            signals[nsig++] = "volume_drop";
        if (delay)
            signals[nsig++] = "lengthening_delay";
        if (in.signal_clearance)
            signals[nsig++] = "clearance_sale";
        char signals_lit[80] = "{", parts[256];
        for (int k = 0; k < nsig; k++) /* fixed words: no quoting needed */
            snprintf (signals_lit + strlen (signals_lit), sizeof signals_lit - strlen (signals_lit),
                      "%s%s", k ? "," : "", signals[k]);
        snprintf (signals_lit + strlen (signals_lit), sizeof signals_lit - strlen (signals_lit),
                  "}");
        /* R-A7: a signal it did not have asks for settlement now (debtor.signal_at); the
         * signal words are distinct, none inside another */
        const char *had = PQgetvalue (res, i, 22);
        bool raised = false;
        for (int k = 0; k < nsig; k++)
            raised |= strstr (had, signals[k]) == NULL;
        bool signals_changed = strcmp (had, signals_lit) != 0;
        snprintf (parts, sizeof parts,
                  "{\"age\": %d, \"amount\": %d, \"credit\": %d, \"cooperation\": %d,"
                  " \"capital\": %d, \"distance\": %d, \"signal\": %d}",
                  prio.age, prio.amount, prio.credit, prio.cooperation, prio.capital,
                  prio.distance, prio.signal);
        hk_pgarr_text (&cols[0], debtor);
        hk_pgarr_int (&cols[1], (int) grade.grade);
        hk_pgarr_text (&cols[2], reasons_lit);
        free (reasons_lit);
        hk_pgarr_int (&cols[3], prio.score);
        hk_pgarr_text (&cols[4], parts);
        hk_pgarr_text (&cols[5], signals_lit);
        hk_pgarr_text (&cols[6], stance);
        hk_pgarr_text (&cols[7], raised ? "true" : "false");
        /* the results hold until the first change point of the grade, the priority's age
         * part and the hold; with deliveries in the window, the volume signal's month ends */
        int32_t steady = s_min3 (hk_risk_steady_days (&policy, &in),
                                 hk_priority_steady_days (&policy, in.dpd),
                                 PQgetvalue (res, i, 7)[0] ? month_left : HK_STEADY_FOREVER);
        char through_s[16] = "infinity";
        if (steady < S_STEADY_MAX)
            hk_date_format (as_of + steady, through_s, sizeof through_s);
        hk_pgarr_text (&cols[8], through_s);
        if (prev_grade == (int) grade.grade && !stance_changed && !signals_changed)
            continue;
        Huikuan__V1__DebtorGraded *ev = &slot->ev;
        huikuan__v1__debtor_graded__init (ev);
        ev->stance = (char *) stance;
        ev->cause_of_default = cause_s;
        ev->debtor_id = (char *) debtor;
        ev->as_of = as_of_s;
        ev->grade = (int32_t) grade.grade;
        ev->previous_grade = prev_grade;
        ev->n_grade_reasons = (size_t) grade.n_reasons;
        ev->grade_reasons = reasons;
        ev->priority = prio.score;
        ev->priority_age = prio.age;
        ev->priority_amount = prio.amount;
        ev->priority_credit = prio.credit;
        ev->priority_cooperation = prio.cooperation;
        ev->priority_capital = prio.capital;
        ev->priority_distance = prio.distance;
        ev->priority_signal = prio.signal;
        ev->n_signals = (size_t) nsig;
        ev->signals = signals;
        ev->signal_raised = raised;
        if (s_events_add (&evs, d, "debtor.graded", debtor, trace_id, &ev->base) != 0)
            rc = HK_ENOMEM;
    }
    if (rc == 0)
        rc = s_events_flush (&evs, d);
    free (evs.evs);
    free (slots);
    PQclear (res);
    char *arrays[S_DEBTOR_COLS];
    s_arr_close (cols, S_DEBTOR_COLS, arrays);
    for (int c = 0; c < S_DEBTOR_COLS && rc == 0; c++)
        if (!arrays[c])
            rc = HK_ENOMEM;
    if (rc == 0) {
        char now_s[40];
        hk_time_format (hk_clock_now (d->clock), now_s, sizeof now_s);
        const char *up[] = { d->tenant, as_of_s,   arrays[0], arrays[1], arrays[2], arrays[3],
                             arrays[4], arrays[5], arrays[6], arrays[7], now_s, arrays[8] };
        if (hk_db_exec (d->db,
                        "UPDATE debtor b SET grade = s.grade, grade_reasons = s.reasons::text[],"
                        " priority = s.prio, priority_parts = s.parts::jsonb,"
                        " signals = s.signals::text[], risk_as_of = $2::date, stance = s.stance,"
                        " signal_at = CASE WHEN s.raised THEN $11::timestamptz"
                        "  ELSE b.signal_at END, graded_through = s.through"
                        " FROM unnest ($3::text[], $4::smallint[], $5::text[], $6::int[],"
                        "   $7::text[], $8::text[], $9::text[], $10::boolean[], $12::date[])"
                        "   AS s (debtor_id, grade, reasons, prio, parts, signals, stance, raised,"
                        "   through)"
                        " WHERE b.tenant = $1 AND b.debtor_id = s.debtor_id",
                        12, up)
            != n)
            rc = HK_EDB;
    }
    for (int c = 0; c < S_DEBTOR_COLS; c++)
        free (arrays[c]);
    return rc == 0 ? n : rc;
}

/* The ids of column 0 of res as a text[] literal (malloc'd), or NULL on ENOMEM. */
static char *
s_ids_literal (PGresult *res)
{
    hk_pgarr_t a = { 0 };
    for (int i = 0; i < PQntuples (res); i++)
        hk_pgarr_text (&a, PQgetvalue (res, i, 0));
    return hk_pgarr_finish (&a);
}

/* Marks the debtors of ids (a text[] literal) for grading by the next debtor pass (their
 * graded_through is cleared): those the pass grades, that owe something or are held (a mark on
 * any other would stay, and every tick's pass would walk it); with doubtful, only those
 * graded 3 or worse. */
static int
s_mark_debtors (hk_daemon_t *d, const char *ids, bool doubtful)
{
    const char *p[] = { d->tenant, ids };
    return hk_db_exec (d->db,
                       doubtful ? "UPDATE debtor b SET graded_through = NULL WHERE b.tenant = $1"
                                  "  AND b.debtor_id = ANY ($2::text[]) AND b.grade <= 3"
                                  "  AND b.graded_through IS NOT NULL" S_OWING_OR_HELD
                                : "UPDATE debtor b SET graded_through = NULL WHERE b.tenant = $1"
                                  "  AND b.debtor_id = ANY ($2::text[])"
                                  "  AND b.graded_through IS NOT NULL" S_OWING_OR_HELD,
                       2, p)
                   < 0
               ? HK_EDB
               : 0;
}

/* Ages the n invoices of a batch of events at once (one query, one UPDATE), each emitting
 * with its event's trace: for invoice.recorded (recorded) those whose results do not hold
 * today (new or changed: aged_through cleared by ingestion), whose debtors
 * are then marked for grading; for an interruption every one, its clock recomputed (R-L2). */
static int
s_age_invoices (hk_daemon_t *d, const char *const *ids, const char *const *traces, int n,
                bool recorded)
{
    int32_t today;
    if (hk_daemon_today (d, &today, NULL, 0) != 0)
        return HK_EINVAL;
    char today_s[16];
    hk_date_format (today, today_s, sizeof today_s);
    hk_pgarr_t a = { 0 };
    for (int k = 0; k < n; k++)
        hk_pgarr_text (&a, ids[k]);
    char *lit = hk_pgarr_finish (&a);
    if (!lit)
        return HK_ENOMEM;
    const char *p[] = { d->tenant, today_s, d->tenant_tz, lit };
    /* row locks taken in id order, so concurrent batches wait rather than deadlock */
    PGresult *res = hk_db_query (
        d->db,
        recorded ? S_AGING_SELECT ("invoice_id = ANY ($4::text[]) AND (aged_through IS NULL"
                                   " OR aged_through < $2::date) ORDER BY invoice_id FOR UPDATE")
                 : S_AGING_SELECT ("invoice_id = ANY ($4::text[]) ORDER BY invoice_id"
                                   " FOR UPDATE"),
        4, p);
    free (lit);
    if (!res)
        return HK_EDB;
    s_traces_t t = { ids, traces, n };
    int rc = s_age_rows (d, res, today, NULL, &t);
    if (rc > 0 && recorded) {
        hk_pgarr_t debtors = { 0 };
        for (int i = 0; i < PQntuples (res); i++)
            hk_pgarr_text (&debtors, PQgetvalue (res, i, 1));
        char *dl = hk_pgarr_finish (&debtors);
        rc = dl ? s_mark_debtors (d, dl, false) : HK_ENOMEM;
        free (dl);
    }
    PQclear (res);
    return rc < 0 ? rc : 0;
}

/* What a batch of events marks for the tick's passes (aged_through and graded_through cleared),
 * each a text[] literal and its count. */
typedef struct {
    hk_pgarr_t invoices;  /* amounts or disputes changed */
    hk_pgarr_t promised;  /* debtors whose promises broke: their open invoices */
    hk_pgarr_t recorded;  /* debtors recorded: their open invoices if the record can move
                             their grades (bankrupt, closed or not reachable now, or graded 3
                             or worse before) */
    hk_pgarr_t contacted; /* debtors sent a message: only grades of 3 or worse can move (the
                             no-contact rule), for the debtor too */
    hk_pgarr_t debtors;   /* every debtor touched but those only sent a message or reached
                             without a threat */
    int ninvoices, npromised, nrecorded, ncontacted, ndebtors;
} s_marks_t;

static void
s_marks_add (hk_pgarr_t *a, int *n, const char *id)
{
    if (*id) {
        hk_pgarr_text (a, id);
        (*n)++;
    }
}

/* The allocations' invoices of a payment or a credit note join the marked invoices. */
static void
s_marks_allocated (s_marks_t *m, Huikuan__V1__Allocation *const *alloc, size_t count)
{
    for (size_t a = 0; a < count; a++)
        s_marks_add (&m->invoices, &m->ninvoices, alloc[a]->invoice_id);
}

static int
s_mark (hk_daemon_t *d, s_marks_t *m)
{
    /* one statement per kind present, each a plain index lookup by invoice or by debtor (one
     * OR of them all may be planned as a scan of the table) */
    static const char *const invoice_sql[] = {
        "i.invoice_id = ANY ($2::text[])",
        "i.debtor_id = ANY ($2::text[])",
        "i.debtor_id = ANY ($2::text[]) AND (i.grade <= 3 OR EXISTS (SELECT 1 FROM debtor b"
        " WHERE b.tenant = i.tenant AND b.debtor_id = i.debtor_id"
        " AND (b.bankrupt OR b.closure OR b.reachability <> 'reachable')))",
        "i.debtor_id = ANY ($2::text[]) AND i.grade <= 3",
    };
    hk_pgarr_t *arrays[] = { &m->invoices, &m->promised, &m->recorded, &m->contacted,
                             &m->debtors };
    const int counts[] = { m->ninvoices, m->npromised, m->nrecorded, m->ncontacted,
                           m->ndebtors };
    char *lit[5];
    int rc = 0;
    for (int c = 0; c < 5; c++)
        if (!(lit[c] = hk_pgarr_finish (arrays[c])))
            rc = HK_ENOMEM;
    for (int c = 0; c < 4 && rc == 0; c++) {
        if (counts[c] == 0)
            continue;
        char sql[512];
        snprintf (sql, sizeof sql,
                  "UPDATE invoice i SET aged_through = NULL WHERE i.tenant = $1"
                  " AND i.status = 'open' AND i.aged_through IS NOT NULL AND %s",
                  invoice_sql[c]);
        const char *p[] = { d->tenant, lit[c] };
        if (hk_db_exec (d->db, sql, 2, p) < 0)
            rc = HK_EDB;
    }
    if (rc == 0 && m->ncontacted > 0)
        rc = s_mark_debtors (d, lit[3], true);
    if (rc == 0 && counts[4] > 0)
        rc = s_mark_debtors (d, lit[4], false);
    for (int c = 0; c < 5; c++)
        free (lit[c]);
    return rc;
}

/* Incremental, inside the consume transaction, for the events of one read together (the
 * scaffold retries each on its own when this fails): a new invoice is aged at once and its
 * debtor marked; an interruption recomputes its invoice's limitation clock at once (R-L2).
 * Every other event marks what it changed (s_marks_t) for the tick's passes: a payment or a
 * credit note the invoices it paid (what is outstanding and expected changed, R-A3) and its
 * debtor (R-A2, R-H1: it may clear a hold or change the grade); a dispute its invoice; a
 * broken promise, a debtor record or a contact the debtor and the invoices whose grade it
 * can move; terms and deliveries the debtor. An outcome that is a "no supply, no payment"
 * threat, or that corrects an outcome recorded before (it may have been one), also marks its
 * debtor whatever its grade: the hold's reason (R-H2) and the stance (R-A5) move within
 * seconds. Each kind is one statement or one aged batch, whatever the number of events. */
static int
s_on_events (hk_daemon_t *d, const Huikuan__V1__Envelope *const *envs, int n)
{
    ProtobufCMessage **msgs = calloc ((size_t) n, sizeof *msgs);
    /* invoice ids and trace ids of the invoice.recorded and of the interruption events */
    const char **inv = calloc ((size_t) n, sizeof *inv);
    const char **inv_trace = calloc ((size_t) n, sizeof *inv_trace);
    const char **intr = calloc ((size_t) n, sizeof *intr);
    const char **intr_trace = calloc ((size_t) n, sizeof *intr_trace);
    s_marks_t m = { 0 };
    int ninv = 0, nintr = 0;
    int rc = msgs && inv && inv_trace && intr && intr_trace ? 0 : HK_ENOMEM;
    for (int k = 0; k < n && rc == 0; k++) {
        const Huikuan__V1__Envelope *env = envs[k];
        const char *type = env->type, *debtor = env->aggregate_id;
        if (strcmp (type, "promise.broken") == 0) {
            s_marks_add (&m.promised, &m.npromised, debtor);
            s_marks_add (&m.debtors, &m.ndebtors, debtor);
        }
        else if (strcmp (type, "debtor.recorded") == 0) {
            s_marks_add (&m.recorded, &m.nrecorded, debtor);
            s_marks_add (&m.debtors, &m.ndebtors, debtor);
        }
        else if (strcmp (type, "contact.sent") == 0)
            s_marks_add (&m.contacted, &m.ncontacted, debtor);
        else if (strcmp (type, "contact_outcome.recorded") == 0) {
            s_marks_add (&m.contacted, &m.ncontacted, debtor);
            msgs[k] = hk_payload_unpack (env);
            const ProtobufCMessageDescriptor *want
                = &huikuan__v1__contact_outcome_recorded__descriptor;
            Huikuan__V1__ContactOutcomeRecorded *co
                = msgs[k] && msgs[k]->descriptor == want
                      ? (Huikuan__V1__ContactOutcomeRecorded *) msgs[k]
                      : NULL;
            if (co && (co->changed || strcmp (co->outcome, "no_supply_no_payment") == 0))
                s_marks_add (&m.debtors, &m.ndebtors, debtor); /* R-H2, R-A5 */
        }
        else if (strcmp (type, "contract.recorded") == 0
                 || strcmp (type, "delivery.recorded") == 0)
            s_marks_add (&m.debtors, &m.ndebtors, debtor);
        else if (strcmp (type, "payment.recorded") == 0
                 || strcmp (type, "credit_note.recorded") == 0
                 || strcmp (type, "dispute.recorded") == 0
                 || strcmp (type, "invoice.recorded") == 0
                 || strcmp (type, "limitation_interruption.recorded") == 0) {
            msgs[k] = hk_payload_unpack (env);
            if (!msgs[k])
                continue; /* not decodable: nothing to age; logged by the bus layer */
            if (strcmp (type, "invoice.recorded") == 0) {
                inv[ninv] = ((Huikuan__V1__InvoiceRecorded *) msgs[k])->invoice_id;
                inv_trace[ninv++] = env->trace_id;
                continue;
            }
            if (strcmp (type, "limitation_interruption.recorded") == 0) {
                intr[nintr]
                    = ((Huikuan__V1__LimitationInterruptionRecorded *) msgs[k])->invoice_id;
                intr_trace[nintr++] = env->trace_id;
                continue;
            }
            s_marks_add (&m.debtors, &m.ndebtors, debtor); /* the debtor the fact is about */
            if (strcmp (type, "payment.recorded") == 0) {
                Huikuan__V1__PaymentRecorded *pr = (Huikuan__V1__PaymentRecorded *) msgs[k];
                s_marks_allocated (&m, pr->allocations, pr->n_allocations);
            }
            else if (strcmp (type, "credit_note.recorded") == 0) {
                Huikuan__V1__CreditNoteRecorded *cn = (Huikuan__V1__CreditNoteRecorded *) msgs[k];
                s_marks_allocated (&m, cn->allocations, cn->n_allocations);
            }
            else
                s_marks_add (&m.invoices, &m.ninvoices,
                             ((Huikuan__V1__DisputeRecorded *) msgs[k])->invoice_id);
        }
    }
    int marked = s_mark (d, &m); /* frees m's arrays whatever rc is */
    if (rc == 0)
        rc = marked;
    if (rc == 0 && ninv > 0)
        rc = s_age_invoices (d, inv, inv_trace, ninv, true);
    if (rc == 0 && nintr > 0)
        rc = s_age_invoices (d, intr, intr_trace, nintr, false);
    for (int k = 0; msgs && k < n; k++)
        hk_payload_destroy (&msgs[k]);
    free (msgs);
    free (inv);
    free (inv_trace);
    free (intr);
    free (intr_trace);
    return rc;
}

/* One event on its own: a batch of one. */
static int
s_on_event (hk_daemon_t *d, const Huikuan__V1__Envelope *env)
{
    return s_on_events (d, &env, 1);
}

/* ---------------------------------------------------------------------------------------
 * The daily run
 */

/* Pushes the chunk messages "<date> <chunk>" of a run to the Redis stream: the chunks listed
 * in res (column 0), or when res is NULL chunks 0 .. n-1. Returns 0 or an error. */
static int
s_publish_chunks (hk_daemon_t *d, const char *date_s, PGresult *res, int n)
{
    if (n <= 0)
        return 0;
    const char **streams = malloc (sizeof *streams * (size_t) n);
    char (*datas)[40] = malloc (sizeof *datas * (size_t) n);
    const char **dptr = malloc (sizeof *dptr * (size_t) n);
    size_t *lens = malloc (sizeof *lens * (size_t) n);
    int rc = streams && datas && dptr && lens ? 0 : HK_ENOMEM;
    for (int k = 0; k < n && rc == 0; k++) {
        streams[k] = s_stream;
        lens[k] = (size_t) snprintf (datas[k], sizeof datas[k], "%s %d", date_s,
                                     res ? atoi (PQgetvalue (res, k, 0)) : k);
        dptr[k] = datas[k];
    }
    if (rc == 0)
        rc = hk_stream_add_many (d->redis, streams, dptr, lens, n);
    free (streams);
    free (datas);
    free (dptr);
    free (lens);
    return rc;
}

/* A run whose chunk messages are gone (Redis lost its data): nothing pending in the group,
 * nothing to read, chunks not done and the run planned (or last pushed) longer than twice
 * claim_idle ago. The chunks not done are pushed again; a duplicate finds its chunk done and
 * is only acknowledged. Returns chunks pushed or an error. */
static int
s_republish (hk_daemon_t *d, const char *today_s)
{
    if (hk_queue_pending (s_chunks) != 0)
        return 0;
    char idle[32];
    snprintf (idle, sizeof idle, "%lld", (long long) (2 * hk_config_int (d->config, "claim_idle")));
    const char *p[] = { d->tenant, today_s, idle };
    if (hk_db_begin (d->db) != 0)
        return HK_EDB;
    PGresult *res = hk_db_query (
        d->db,
        "SELECT c.chunk FROM aging_run r JOIN aging_run_chunk c USING (tenant, run_date)"
        " WHERE r.tenant = $1 AND r.run_date = $2::date AND c.done_at IS NULL"
        " AND r.planned_at < now () - $3::bigint * interval '1 microsecond'"
        " ORDER BY c.chunk FOR UPDATE OF r SKIP LOCKED",
        3, p);
    int n = res ? PQntuples (res) : HK_EDB;
    int rc = n > 0 ? s_publish_chunks (d, today_s, res, n) : n;
    PQclear (res);
    if (rc == 0 && n > 0
        && hk_db_exec (d->db,
                       "UPDATE aging_run SET planned_at = now () WHERE tenant = $1"
                       " AND run_date = $2::date",
                       2, p)
               != 1)
        rc = HK_EDB;
    if (rc == 0 && hk_db_commit (d->db) == 0) {
        if (n > 0)
            HK_LOG (HK_WARN, "aging.run_republished", HK_S ("date", today_s), HK_I ("chunks", n));
        return n;
    }
    hk_db_rollback (d->db);
    return rc < 0 ? rc : HK_EDB;
}

/* Plans today's run when none exists (inside an open transaction): the debtors with results
 * to compute today (theirs or their open invoices': never computed, marked by an event, or
 * at a change point), in id order, cut after the debtor whose results take the running
 * count past a multiple of the chunk size (a day after a run has one or two due results a
 * debtor, a first aging ten or more: chunks of work, not of debtors). The size is
 * chunk_size, or less when the day's results would make fewer chunks than there are live
 * aging instances of the tenant: a small day is shared by all of them too. Chunk k covers
 * lo < debtor_id <= hi (NULL bounds are open), so the chunks partition every debtor id, those
 * recorded later included. The caller pushes the chunks to the Redis stream once the plan
 * committed: an instance waiting on the stream (s_on_own) reads a chunk at once, and one read
 * before the commit would find no chunk row and drop it. *finished tells whether today's run
 * is complete. Returns chunks planned (0 when the run existed) or an error. */
static int
s_plan_run (hk_daemon_t *d, const char *today_s, bool *finished)
{
    *finished = false;
    const char *p[] = { d->tenant, today_s, d->instance };
    PGresult *res = hk_db_query (d->db,
                                 "SELECT finished_at IS NOT NULL FROM aging_run"
                                 " WHERE tenant = $1 AND run_date = $2::date",
                                 2, p);
    if (!res)
        return HK_EDB;
    bool exists = PQntuples (res) == 1;
    *finished = exists && PQgetvalue (res, 0, 0)[0] == 't';
    PQclear (res);
    if (exists)
        return 0;
    int inserted = hk_db_exec (d->db,
                               "INSERT INTO aging_run (tenant, run_date, planned_by, chunks)"
                               " VALUES ($1, $2::date, $3, 0) ON CONFLICT DO NOTHING",
                               3, p);
    if (inserted <= 0)
        return inserted < 0 ? HK_EDB : 0; /* another instance planned it */
    char size[24];
    snprintf (size, sizeof size, "%lld", (long long) hk_config_int (d->config, "chunk_size"));
    const char *cp[] = { d->tenant, today_s, size };
    int chunks = hk_db_exec (
        d->db,
        /* a union of index scans, not one OR: the debtors whose results or whose invoices'
         * results stop holding today, or were never computed (an invoice's debtor exists:
         * migration 14) */
        "WITH due AS (SELECT debtor_id, count (*) AS w"
        "   FROM (SELECT debtor_id FROM debtor WHERE tenant = $1 AND graded_through IS NULL"
        "     UNION ALL SELECT debtor_id FROM debtor WHERE tenant = $1"
        "       AND graded_through < $2::date"
        "     UNION ALL SELECT debtor_id FROM invoice WHERE tenant = $1 AND status = 'open'"
        "       AND aged_through IS NULL"
        "     UNION ALL SELECT debtor_id FROM invoice WHERE tenant = $1 AND status = 'open'"
        "       AND aged_through < $2::date) u GROUP BY debtor_id),"
        /* at most chunk_size results a chunk, and at least one chunk per live instance
         * (as scheduling's dispatch counts them): a small day's work is shared too */
        " live AS (SELECT greatest (count (*), 1) AS n FROM fleet_instance"
        "   WHERE kind = 'aging' AND tenant = $1 AND " HK_INSTANCE_LIVE "),"
        " size AS (SELECT greatest (least ($3::bigint, ceil ((SELECT sum (w) FROM due)"
        "   / (SELECT n FROM live))::bigint), 1) AS s),"
        " running AS (SELECT debtor_id, w, (sum (w) OVER (ORDER BY debtor_id))::bigint AS r"
        "   FROM due),"
        " his AS (SELECT debtor_id AS hi, row_number () OVER (ORDER BY debtor_id) AS k"
        "   FROM running, size WHERE r / s > (r - w) / s),"
        " bounds AS (SELECT hi, k FROM his UNION ALL SELECT NULL, count (*) + 1 FROM his)"
        " INSERT INTO aging_run_chunk (tenant, run_date, chunk, lo, hi)"
        " SELECT $1, $2::date, k - 1, lag (hi) OVER (ORDER BY k), hi FROM bounds",
        3, cp);
    if (chunks <= 0)
        return HK_EDB;
    char nchunks[16];
    snprintf (nchunks, sizeof nchunks, "%d", chunks);
    const char *up[] = { d->tenant, today_s, nchunks };
    if (hk_db_exec (d->db,
                    "UPDATE aging_run SET chunks = $3::int WHERE tenant = $1 AND run_date = $2::date",
                    3, up)
        != 1)
        return HK_EDB;
    return chunks;
}

/* The debtors of a chunk ($2 < id <= $3, NULL bounds open) whose results do not hold on $4:
 * never graded, then at a change point, each a range of the index on graded_through. */
#define S_CHUNK_DUE_DEBTORS                                                                    \
    "SELECT debtor_id FROM debtor WHERE tenant = $1 AND graded_through IS NULL"                \
    " AND ($2::text IS NULL OR debtor_id > $2) AND ($3::text IS NULL OR debtor_id <= $3)"      \
    " UNION ALL SELECT debtor_id FROM debtor WHERE tenant = $1 AND graded_through < $4::date"  \
    " AND ($2::text IS NULL OR debtor_id > $2) AND ($3::text IS NULL OR debtor_id <= $3)"

/* Marks the run of $2 finished when no chunk of it is left undone. */
#define S_FINISH_RUN                                                                           \
    "UPDATE aging_run r SET finished_at = clock_timestamp ()"                                  \
    " WHERE tenant = $1 AND run_date = $2::date AND finished_at IS NULL"                       \
    " AND NOT EXISTS (SELECT 1 FROM aging_run_chunk c"                                         \
    "   WHERE c.tenant = r.tenant AND c.run_date = r.run_date AND c.done_at IS NULL)"

/* S_FINISH_RUN at the end of a chunk, inside its transaction. The run's row is locked first:
 * two chunks committing at once each saw the other undone, and neither marked the run (the
 * passes then waited for the next day's run). Locked, the second waits for the first's
 * commit, and its check, a statement of its own under READ COMMITTED, sees both done.
 * Returns 0 or HK_EDB. */
static int
s_finish_run (hk_daemon_t *d, const char *date_s)
{
    const char *p[] = { d->tenant, date_s };
    PGresult *res = hk_db_query (d->db,
                                 "SELECT 1 FROM aging_run WHERE tenant = $1 AND run_date = $2::date"
                                 " FOR UPDATE",
                                 2, p);
    if (!res)
        return HK_EDB;
    PQclear (res);
    return hk_db_exec (d->db, S_FINISH_RUN, 2, p) < 0 ? HK_EDB : 0;
}

/* Does one chunk of a run in its own transaction: locks its row (done: nothing to do), ages
 * the open invoices of its debtors whose results do not hold that day, grades its debtors
 * whose results do not (those that owe nothing and are not held are not graded: they are
 * set aside until an event marks them), records who did it and each debtor graded
 * (aging_run_debtor), marks it done and the run finished after its last chunk. Returns 0
 * when the message can be acknowledged, negative to leave it pending. */
static int
s_do_chunk (hk_daemon_t *d, const hk_queue_msg_t *msg)
{
    char date_s[16], chunk_s[16], data[48];
    snprintf (data, sizeof data, "%.*s", (int) (msg->len < 47 ? msg->len : 47), msg->data);
    int32_t run_date;
    if (sscanf (data, "%15s %15s", date_s, chunk_s) != 2 || hk_date_parse (date_s, &run_date) != 0) {
        HK_LOG (HK_WARN, "aging.chunk_bad_message", HK_S ("id", msg->id));
        return 0;
    }
    if (hk_db_begin (d->db) != 0)
        return HK_EDB;
    const char *p[] = { d->tenant, date_s, chunk_s };
    PGresult *res = hk_db_query (d->db,
                                 "SELECT lo, hi, done_at IS NOT NULL FROM aging_run_chunk"
                                 " WHERE tenant = $1 AND run_date = $2::date AND chunk = $3::int"
                                 " FOR UPDATE",
                                 3, p);
    if (!res) {
        hk_db_rollback (d->db);
        return HK_EDB;
    }
    if (PQntuples (res) != 1 || PQgetvalue (res, 0, 2)[0] == 't') {
        PQclear (res); /* done already, or a run that never committed */
        return hk_db_commit (d->db) == 0 ? 0 : HK_EDB;
    }
    char lo[80] = "", hi[80] = "";
    bool has_lo = !PQgetisnull (res, 0, 0), has_hi = !PQgetisnull (res, 0, 1);
    snprintf (lo, sizeof lo, "%s", PQgetvalue (res, 0, 0));
    snprintf (hi, sizeof hi, "%s", PQgetvalue (res, 0, 1));
    PQclear (res);
    const char *ap[] = { d->tenant, date_s, d->tenant_tz, has_lo ? lo : NULL, has_hi ? hi : NULL };
    /* the chunk's invoices never aged, then those at a change point: each a range of the
     * index on aged_through (one OR of both scans every invoice of the chunk's id range,
     * most of which hold on a day after another). A row another transaction holds (an
     * event's writer: a payment's allocation locks its invoices in its own order, and
     * waiting for it could deadlock) is skipped: the tick's passes age it once the run is
     * over, as they do every row whose results do not hold. */
    int aged = s_age_query (d,
                            S_AGING_SELECT ("aged_through IS NULL"
                                            " AND ($4::text IS NULL OR debtor_id > $4)"
                                            " AND ($5::text IS NULL OR debtor_id <= $5)"
                                            " FOR UPDATE SKIP LOCKED"),
                            5, ap, run_date, NULL);
    int later = aged < 0 ? 0
                         : s_age_query (d,
                                        S_AGING_SELECT ("aged_through < $2::date"
                                                        " AND ($4::text IS NULL OR debtor_id > $4)"
                                                        " AND ($5::text IS NULL OR debtor_id <= $5)"
                                                        " FOR UPDATE SKIP LOCKED"),
                                        5, ap, run_date, NULL);
    aged = aged < 0 ? aged : later < 0 ? later : aged + later;
    int graded = 0, rc = aged < 0 ? aged : 0;
    if (rc == 0) {
        const char *dp[] = { d->tenant, has_lo ? lo : NULL, has_hi ? hi : NULL, date_s };
        res = hk_db_query (d->db,
                           "SELECT debtor_id FROM debtor b WHERE tenant = $1"
                           " AND debtor_id IN (" S_CHUNK_DUE_DEBTORS ")" S_OWING_OR_HELD
                           " ORDER BY debtor_id",
                           4, dp);
        char *ids = res ? s_ids_literal (res) : NULL;
        PQclear (res);
        graded = ids ? s_grade_debtors (d, ids, run_date, NULL) : HK_EDB;
        if (graded >= 0
            && hk_db_exec (d->db,
                           "UPDATE debtor b SET graded_through = 'infinity' WHERE tenant = $1"
                           " AND debtor_id IN (" S_CHUNK_DUE_DEBTORS ") AND NOT b.credit_hold"
                           " AND NOT EXISTS (SELECT 1 FROM invoice i WHERE i.tenant = b.tenant"
                           "   AND i.debtor_id = b.debtor_id AND i.status = 'open')",
                           4, dp)
                   < 0)
            graded = HK_EDB;
        if (graded < 0)
            rc = graded;
        char aged_s[16], graded_s[16], deliveries[24];
        snprintf (aged_s, sizeof aged_s, "%d", aged);
        snprintf (graded_s, sizeof graded_s, "%d", graded);
        snprintf (deliveries, sizeof deliveries, "%lld", (long long) msg->deliveries);
        const char *ep[] = { d->tenant, date_s, chunk_s, d->instance, ids };
        const char *up[] = { d->tenant, date_s, chunk_s, d->instance, aged_s, graded_s,
                             deliveries };
        if (rc == 0
            && (hk_db_exec (d->db,
                            "INSERT INTO aging_run_debtor (tenant, run_date, debtor_id, chunk,"
                            " aged_by) SELECT $1, $2::date, u, $3::int, $4"
                            " FROM unnest ($5::text[]) AS u",
                            5, ep)
                    != graded
                || hk_db_exec (d->db,
                               "UPDATE aging_run_chunk SET debtors = $6::int, invoices = $5::int,"
                               " done_by = $4, deliveries = $7::int, done_at = now()"
                               " WHERE tenant = $1 AND run_date = $2::date AND chunk = $3::int",
                               7, up)
                       != 1
                || s_finish_run (d, date_s) != 0))
            rc = HK_EDB;
        free (ids);
    }
    if (rc == 0 && hk_db_commit (d->db) == 0) {
        hk_metric_add (s_m_chunks, 1);
        return 0;
    }
    hk_db_rollback (d->db);
    HK_LOG (HK_WARN, "aging.chunk_failed", HK_S ("chunk", data), HK_S ("error", hk_db_errstr (d->db)));
    return rc < 0 ? rc : HK_EDB;
}

/* The debtor pass, once today's run is finished: grades, in a batch claimed with SKIP LOCKED,
 * the debtors marked by an event or whose results stopped holding, that owe something or are
 * held.
 * A debtor with an invoice still to be aged waits for the next pass, so its grade sees its
 * aged invoices. Returns how many were graded. */
static int
s_debtor_pass (hk_daemon_t *d, int32_t today, const char *limit)
{
    char today_s[16];
    hk_date_format (today, today_s, sizeof today_s);
    const char *p[] = { d->tenant, today_s, limit };
    /* as the invoice pass in s_on_tick: marked debtors, then those whose results stopped
     * holding, each a plain scan of debtor_graded_through (no OR, no ORDER BY to sort by
     * another index) */
    static const char *const wanted[] = { "b.graded_through IS NULL",
                                          "b.graded_through < $2::date" };
    int rc = 0;
    for (int k = 0; k < 2 && rc == 0; k++) {
        char sql[1024];
        snprintf (sql, sizeof sql,
                  "SELECT b.debtor_id FROM debtor b WHERE b.tenant = $1 AND %s" S_OWING_OR_HELD
                  "  AND NOT EXISTS (SELECT 1 FROM invoice i WHERE i.tenant = b.tenant"
                  "       AND i.debtor_id = b.debtor_id AND i.status = 'open'"
                  "       AND (i.aged_through IS NULL OR i.aged_through < $2::date))"
                  " LIMIT $3::int FOR UPDATE OF b SKIP LOCKED",
                  wanted[k]);
        PGresult *res = hk_db_query (d->db, sql, 3, p);
        if (!res)
            return HK_EDB;
        if (PQntuples (res) > 0) {
            char *ids = s_ids_literal (res);
            rc = ids ? s_grade_debtors (d, ids, today, NULL) : HK_ENOMEM;
            free (ids);
        }
        PQclear (res);
    }
    return rc;
}

/* Marks every open invoice and every debtor of the tenant (inside the open transaction): the
 * tick's passes compute them all again from the database. why is logged. */
static int
s_mark_all (hk_daemon_t *d, const char *why)
{
    const char *p[] = { d->tenant };
    int invoices = hk_db_exec (d->db,
                               "UPDATE invoice SET aged_through = NULL WHERE tenant = $1"
                               " AND status = 'open' AND aged_through IS NOT NULL",
                               1, p);
    int debtors = invoices < 0 ? invoices
                               : hk_db_exec (d->db,
                                             "UPDATE debtor SET graded_through = NULL"
                                             " WHERE tenant = $1 AND graded_through IS NOT NULL",
                                             1, p);
    if (debtors < 0)
        return HK_EDB;
    HK_LOG (HK_WARN, "aging.recompute_all", HK_S ("why", why), HK_I ("invoices", invoices),
            HK_I ("debtors", debtors));
    return 0;
}

/* Events lost with Redis's data (promise 1): which results they would have changed is not
 * known, and a day's run re-ages only what reached a change point, so every result is
 * computed again. */
static int
s_on_stream_loss (hk_daemon_t *d)
{
    if (hk_db_begin (d->db) != 0)
        return HK_EDB;
    if (s_mark_all (d, "events lost") != 0 || hk_db_commit (d->db) != 0) {
        hk_db_rollback (d->db);
        return HK_EDB;
    }
    return 0;
}

/* The version of the pure rules (risk.c, aging_rules.c, limitation.c): raised with any change
 * to what they compute, so that results stored by the rules before are computed again. */
#define S_RULES_VERSION "2026-11-25"

/* Whether this instance has compared its rules with those of the stored results. */
static bool s_rules_checked;

/* Results are kept until their change point, so a change of the rules (a new version) or of
 * the tenant's buckets must compute every result again: the fingerprint of both is kept per
 * tenant (aging_rules), and a start that brings another marks everything. Also on the first
 * start over results of a version from before the fingerprint. Returns 0 or an error (tried
 * again next tick). */
static int
s_check_rules (hk_daemon_t *d)
{
    char print[512];
    int len = snprintf (print, sizeof print, "rules %s buckets", S_RULES_VERSION);
    for (int i = 0; i < s_buckets.count && len > 0 && (size_t) len < sizeof print; i++)
        len += snprintf (print + len, sizeof print - (size_t) len, " %d", (int) s_buckets.upto[i]);
    const char *p[] = { d->tenant, print };
    if (hk_db_begin (d->db) != 0)
        return HK_EDB;
    PGresult *res = hk_db_query (d->db,
                                 "SELECT fingerprint = $2 FROM aging_rules WHERE tenant = $1"
                                 " FOR UPDATE",
                                 2, p);
    bool same = res && PQntuples (res) == 1 && PQgetvalue (res, 0, 0)[0] == 't';
    int rc = res ? 0 : HK_EDB;
    PQclear (res);
    if (rc == 0 && !same
        && (s_mark_all (d, "rules or buckets changed") != 0
            || hk_db_exec (d->db,
                           "INSERT INTO aging_rules (tenant, fingerprint) VALUES ($1, $2)"
                           " ON CONFLICT (tenant) DO UPDATE SET fingerprint = $2,"
                           " changed_at = now ()",
                           2, p)
                   != 1))
        rc = HK_EDB;
    if (rc == 0 && hk_db_commit (d->db) == 0) {
        s_rules_checked = true;
        return 0;
    }
    hk_db_rollback (d->db);
    return HK_EDB;
}

/* A chunk read while the loop waited (s_on_own), done by the next s_on_tick. */
static hk_queue_msg_t s_held;
static int s_held_n;

/* A chunk pushed by the instance that planned a run, read while this one waited for work:
 * taken at once, not at this instance's next tick. One is held at a time; a second (only
 * when the first could not be done: the database away, say) is left pending, claimed after
 * claim_idle like a chunk of a dead instance. */
static void
s_on_own (hk_daemon_t *d, hk_queue_msg_t *msg)
{
    (void) d;
    if (s_held_n > 0) {
        hk_queue_batch_clear (msg, 1);
        return;
    }
    s_held = *msg;
    s_held_n = 1;
}

/* Each tick: plan today's run when due; while it runs, do one of its chunks (the loop ticks
 * again at once after work; read one at a time, the next chunk is left to any other live
 * instance meanwhile, so two instances share a run of two chunks); once it is finished, the
 * incremental pass: invoices marked by events or not aged today, in SKIP LOCKED batches, then
 * the debtor pass. */
static int
s_on_tick (hk_daemon_t *d)
{
    if (!s_rules_checked && s_check_rules (d) != 0)
        return HK_EDB;
    int32_t today;
    if (hk_daemon_today (d, &today, NULL, 0) != 0)
        return HK_EINVAL;
    char today_s[16], limit[24];
    hk_date_format (today, today_s, sizeof today_s);
    snprintf (limit, sizeof limit, "%lld", (long long) hk_config_int (d->config, "batch_size"));
    int work = 0;
    bool finished = false;
    if (hk_db_begin (d->db) != 0)
        return HK_EDB;
    int planned = s_plan_run (d, today_s, &finished);
    if (planned < 0 || hk_db_commit (d->db) != 0) {
        hk_db_rollback (d->db);
        HK_LOG (HK_WARN, "aging.plan_failed", HK_S ("error", hk_db_errstr (d->db)));
        return planned < 0 ? planned : HK_EDB;
    }
    if (planned > 0) {
        /* committed: pushed now (lost with a crash before, they are pushed again by
         * s_republish) */
        if (s_publish_chunks (d, today_s, NULL, planned) == 0)
            HK_LOG (HK_INFO, "aging.run_planned", HK_S ("date", today_s), HK_I ("chunks", planned));
        else
            HK_LOG (HK_WARN, "aging.run_not_pushed", HK_S ("date", today_s),
                    HK_I ("chunks", planned));
    }
    if (!finished || s_held_n > 0) {
        hk_queue_msg_t msgs[1];
        int n = s_held_n > 0 ? 1 : hk_queue_read (s_chunks, msgs, 1, 0);
        if (s_held_n > 0) {
            msgs[0] = s_held; /* read while waiting (s_on_own) */
            s_held_n = 0;
        }
        /* a chunk that failed is done again at once, up to three times, not after
         * claim_idle */
        for (int i = 0; i < n; i++)
            if (s_do_chunk (d, &msgs[i]) == 0 || s_do_chunk (d, &msgs[i]) == 0
                || s_do_chunk (d, &msgs[i]) == 0) {
                hk_queue_ack (s_chunks, msgs[i].id);
                work++;
            }
        if (n > 0)
            hk_queue_batch_clear (msgs, n);
        else if (n == 0 && planned == 0 && s_republish (d, today_s) == 0) {
            /* every chunk done but the run not marked (by a version before s_finish_run
             * locked the run): marked now, one statement (a chunk committing meanwhile
             * marks it itself) */
            const char *fp[] = { d->tenant, today_s };
            hk_db_exec (d->db, S_FINISH_RUN, 2, fp);
        }
        return work; /* the incremental passes wait for the run: each debtor once per run */
    }

    if (hk_db_begin (d->db) != 0)
        return HK_EDB;
    /* This pass runs every tick and mostly finds nothing, so it must find that in a few
     * index pages: each query is a plain index scan (no scan of the table, no bitmap). Right
     * after a run rewrote many rows, the index on aged_through holds a dead entry for each
     * row's value before it until a vacuum; a plain index scan marks the dead entries it
     * walks (only the first pass pays for them), a bitmap scan never does, and the planner,
     * whose statistics still describe the table before the run, picked one or a scan of the
     * whole table: a tenth of a second each tick at a million invoices. Hence two queries,
     * not one OR (that takes a bitmap): invoices marked by an event, then invoices whose
     * results stopped holding. Local to the transaction. */
    if (hk_db_exec (d->db,
                    "SELECT set_config('enable_seqscan', 'off', true),"
                    " set_config('enable_bitmapscan', 'off', true)",
                    0, NULL)
        < 0) {
        hk_db_rollback (d->db);
        return HK_EDB;
    }
    const char *p[] = { d->tenant, today_s, d->tenant_tz, limit };
    int rc = s_age_query (d,
                          S_AGING_SELECT ("aged_through IS NULL LIMIT $4::int"
                                          " FOR UPDATE SKIP LOCKED"),
                          4, p, today, NULL);
    if (rc == 0)
        rc = s_age_query (d,
                          S_AGING_SELECT ("aged_through < $2::date LIMIT $4::int"
                                          " FOR UPDATE SKIP LOCKED"),
                          4, p, today, NULL);
    if (rc >= 0) {
        work += rc;
        rc = rc == 0 ? s_debtor_pass (d, today, limit) : 0;
    }
    if (rc >= 0 && hk_db_commit (d->db) == 0)
        return work + rc;
    hk_db_rollback (d->db);
    HK_LOG (HK_WARN, "aging.batch_failed", HK_S ("error", hk_db_errstr (d->db)));
    return rc < 0 ? rc : HK_EDB;
}

static int
s_init (hk_daemon_t *d)
{
    char err[160];
    if (hk_buckets_parse (hk_config_str (d->config, "buckets"), &s_buckets, err, sizeof err) != 0) {
        HK_LOG (HK_ERROR, "buckets.invalid", HK_S ("error", err));
        return HK_EINVAL;
    }
    snprintf (s_stream, sizeof s_stream, "hk:aging:run:%s", d->tenant);
    /* read by the group of the event streams (the tenant's own), so the loop waits on the
     * chunks and the events at once; before, by the group "aging" whatever the tenant */
    s_chunks = hk_daemon_own_queue (d, s_stream, "aging");
    if (!s_chunks)
        return HK_ENOMEM;
    s_m_aged = hk_metric_counter ("hk_invoices_aged_total", "Invoices aged");
    s_m_changed = hk_metric_counter ("hk_bucket_changes_total", "Aging bucket changes emitted");
    s_m_chunks = hk_metric_counter ("hk_aging_chunks_total", "Chunks of the daily run done");
    return 0;
}

static void
s_fini (hk_daemon_t *d)
{
    hk_queue_batch_clear (&s_held, s_held_n); /* left pending: claimed after claim_idle */
    s_held_n = 0;
    d->own_queue = NULL;
    hk_queue_destroy (&s_chunks);
}

int
main (int argc, char **argv)
{
    static const hk_daemon_def_t def = {
        .kind = "aging",
        .summary = "Ages open invoices (R-A1), grades invoices and debtors (R-A2, R-A4, R-A7), "
                   "expects recovery (R-A3), keeps the limitation clock with its recorded "
                   "interruptions (R-L1, R-L2) and decides credit holds (R-H1); the daily "
                   "re-age is shared in chunks over Redis.",
        .config = s_config,
        .consumes = s_consumes,
        .init = s_init,
        .on_event = s_on_event,
        .on_events = s_on_events,
        .on_tick = s_on_tick,
        .on_stream_loss = s_on_stream_loss,
        .on_own = s_on_own,
        .fini = s_fini,
    };
    return hk_daemon_main (argc, argv, &def);
}
