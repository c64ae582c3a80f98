/* huikuan-aging: days past due and aging bucket for every open invoice (R-A1), with the
 * invoice and debtor risk the doctrine asks for (R-A2..R-A4, R-A7, R-L1, R-H1).
 *
 * Each tick it works out the tenant-local date from the fleet clock and ages, in batches, the
 * open invoices not yet aged for that date. A batch is claimed with SELECT ... FOR UPDATE SKIP
 * LOCKED, so any number of instances share the work and each invoice is aged once per day
 * (promise 2); results and their events commit together (promise 1). A newly recorded invoice
 * is aged as soon as its event arrives. A bucket change is an event; an unchanged bucket emits
 * nothing. */
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
      "invoices aged per transaction" },
    { "buckets", HK_CFG_STRING, "30,60,90,180,365,730", 0, 0, HK_CFG_NORELOAD, s_valid_buckets,
      "aging buckets: increasing upper bounds in days past due after \"current\" (R-A1)" },
    { 0 },
};

static const char *const s_consumes[] = { "invoice.recorded", "payment.recorded", NULL };

static hk_metric_t *s_m_aged, *s_m_changed;

/* PostgreSQL array literals built per batch ("{...}"), one per column the batch UPDATE
 * writes, so a batch of aged invoices is one statement instead of one per invoice. */
#define S_AGED_COLS 8

typedef struct {
    FILE *f;
    char *text;
    size_t len;
    int n;
} s_arr_t;

static int
s_arr_open (s_arr_t *cols)
{
    for (int c = 0; c < S_AGED_COLS; c++) {
        cols[c] = (s_arr_t) { 0 };
        cols[c].f = open_memstream (&cols[c].text, &cols[c].len);
        if (!cols[c].f) {
            for (int k = 0; k < c; k++) {
                fclose (cols[k].f);
                free (cols[k].text);
            }
            return HK_ENOMEM;
        }
        fputc ('{', cols[c].f);
    }
    return 0;
}

/* Appends a quoted element, escaping '"' and '\\' as the array syntax wants. */
static void
s_arr_text (s_arr_t *a, const char *value)
{
    fputs (a->n++ ? ",\"" : "\"", a->f);
    for (const char *c = value; *c; c++) {
        if (*c == '"' || *c == '\\')
            fputc ('\\', a->f);
        fputc (*c, a->f);
    }
    fputc ('"', a->f);
}

/* Closes the arrays; out[c] is malloc'd (caller frees), NULL after a write error. */
static void
s_arr_close (s_arr_t *cols, char **out)
{
    for (int c = 0; c < S_AGED_COLS; c++) {
        fputc ('}', cols[c].f);
        out[c] = fclose (cols[c].f) == 0 ? cols[c].text : (free (cols[c].text), NULL);
    }
}

/* Emits limitation.warning when the invoice's limitation clock reached a warning offset not
 * announced before, or expired (R-L1, R-L3). *stored is the last one announced (0 none, the
 * offset in days, -1 expired) and is updated. */
static int
s_limitation_event (hk_daemon_t *d, const char *invoice, const char *debtor,
                    const hk_limitation_t *lim, int32_t *stored, const char *trace_id)
{
    int32_t now = lim->expired ? -1 : lim->warning;
    bool news = lim->expired ? *stored != -1 : now > 0 && (*stored == 0 || now < *stored);
    if (!news)
        return 0;
    *stored = now;
    char expires[16];
    hk_date_format (lim->expiry, expires, sizeof expires);
    char *rules[] = { "R-L1", "R-L3" };
    Huikuan__V1__LimitationWarning ev = HUIKUAN__V1__LIMITATION_WARNING__INIT;
    ev.invoice_id = (char *) invoice;
    ev.debtor_id = (char *) debtor;
    ev.expires_on = expires;
    ev.days_left = lim->days_left;
    ev.warning_days = lim->expired ? 0 : lim->warning;
    ev.expired = lim->expired;
    ev.jurisdiction = (char *) lim->rule->code;
    ev.explanation = (char *) lim->explanation;
    ev.n_rules = 2;
    ev.rules = rules;
    return hk_daemon_emit (d, "limitation.warning", debtor, trace_id, &ev.base);
}

/* Ages the rows of res (AGING_COLUMNS) as of date; caller holds their row locks inside an
 * open transaction. Per invoice: DPD and bucket (R-A1), grade with its reasons (R-A2),
 * expected recovery (R-A3) and the limitation clock (R-L1). An event when the bucket or the
 * grade changed; a limitation warning when one is reached. */
static int
s_age_rows (hk_daemon_t *d, PGresult *res, int32_t as_of, const char *trace_id)
{
    char as_of_s[16];
    hk_date_format (as_of, as_of_s, sizeof as_of_s);
    hk_risk_policy_t policy;
    hk_risk_policy_default (&policy);
    int n = PQntuples (res);
    s_arr_t cols[S_AGED_COLS];
    if (s_arr_open (cols) != 0)
        return HK_ENOMEM;
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        const char *invoice = PQgetvalue (res, i, 0), *debtor = PQgetvalue (res, i, 1);
        int32_t due;
        if (hk_date_parse (PQgetvalue (res, i, 2), &due) != 0) {
            rc = HK_EINVAL;
            break;
        }
        const char *prev = PQgetisnull (res, i, 3) ? "" : PQgetvalue (res, i, 3);
        int64_t outstanding = strtoll (PQgetvalue (res, i, 5), NULL, 10);
        int prev_grade = PQgetisnull (res, i, 6) ? 0 : atoi (PQgetvalue (res, i, 6));
        int32_t stored_warning = atoi (PQgetvalue (res, i, 7));
        int32_t dpd = hk_aging_dpd (due, as_of);
        const char *bucket = hk_buckets_name (&s_buckets, dpd);

        hk_risk_input_t in = {
            .dpd = dpd,
            .outstanding_minor = outstanding,
            .dispute_open = PQgetvalue (res, i, 8)[0] == 't',
            .days_since_contact = PQgetisnull (res, i, 9) ? -1 : atoi (PQgetvalue (res, i, 9)),
            .reach = HK_REACH_REACHABLE,
        };
        hk_risk_grade_result_t grade;
        if (hk_risk_grade (&policy, &in, &grade) != 0) {
            rc = HK_EINVAL;
            break;
        }
        int32_t bp = hk_recovery_bp (&policy, dpd);
        int64_t recoverable = hk_expected_recoverable (outstanding, bp);
        hk_limitation_input_t lin = { .start = due, .today = as_of };
        hk_limitation_t lim;
        if (hk_limitation_compute (&lin, &lim) != 0) {
            rc = HK_EINVAL;
            break;
        }
        int32_t warning = stored_warning;
        if (s_limitation_event (d, invoice, debtor, &lim, &warning, trace_id) != 0) {
            rc = HK_EDB;
            break;
        }

        char exp_s[16];
        hk_date_format (lim.expiry, exp_s, sizeof exp_s);
        /* the row's results join the batch's arrays; one UPDATE writes them all below */
        s_arr_text (&cols[0], invoice);
        fprintf (cols[1].f, "%s%d", cols[1].n++ ? "," : "", dpd);
        s_arr_text (&cols[2], bucket);
        fprintf (cols[3].f, "%s%d", cols[3].n++ ? "," : "", (int) grade.grade);
        fprintf (cols[4].f, "%s%d", cols[4].n++ ? "," : "", bp);
        fprintf (cols[5].f, "%s%lld", cols[5].n++ ? "," : "", (long long) recoverable);
        s_arr_text (&cols[6], exp_s);
        fprintf (cols[7].f, "%s%d", cols[7].n++ ? "," : "", warning);
        hk_metric_add (s_m_aged, 1);
        if (strcmp (prev, bucket) == 0 && prev_grade == (int) grade.grade)
            continue;
        Huikuan__V1__Money out = HUIKUAN__V1__MONEY__INIT, rec = HUIKUAN__V1__MONEY__INIT;
        out.currency = rec.currency = PQgetvalue (res, i, 4);
        out.minor = outstanding;
        rec.minor = recoverable;
        char reason_text[HK_RISK_MAX_REASONS][HK_RISK_TEXT + 16];
        char *reasons[HK_RISK_MAX_REASONS];
        for (int r = 0; r < grade.n_reasons; r++) {
            snprintf (reason_text[r], sizeof reason_text[r], "%s: %s", grade.reasons[r].rule,
                      grade.reasons[r].text);
            reasons[r] = reason_text[r];
        }
        Huikuan__V1__InvoiceAged ev = HUIKUAN__V1__INVOICE_AGED__INIT;
        ev.invoice_id = (char *) invoice;
        ev.debtor_id = (char *) debtor;
        ev.as_of = as_of_s;
        ev.dpd = dpd;
        ev.bucket = (char *) bucket;
        ev.previous_bucket = (char *) prev;
        ev.outstanding = &out;
        ev.time_zone = (char *) d->tenant_tz;
        ev.grade = (int32_t) grade.grade;
        ev.previous_grade = prev_grade;
        ev.n_grade_reasons = (size_t) grade.n_reasons;
        ev.grade_reasons = reasons;
        ev.recovery_bp = bp;
        ev.expected_recoverable = &rec;
        ev.limitation_expires_on = exp_s;
        if (hk_daemon_emit (d, "invoice.aged", debtor, trace_id, &ev.base) != 0) {
            rc = HK_EDB;
            break;
        }
        hk_metric_add (s_m_changed, 1);
    }
    char *arrays[S_AGED_COLS];
    s_arr_close (cols, arrays);
    if (rc == 0 && n > 0) {
        const char *p[] = { d->tenant,  as_of_s,   arrays[0], arrays[1], arrays[2],
                            arrays[3], arrays[4], arrays[5], arrays[6], arrays[7] };
        if (hk_db_exec (d->db,
                        "UPDATE invoice i SET aged_as_of = $2::date, dpd = s.dpd,"
                        " bucket = s.bucket, grade = s.grade, recovery_bp = s.bp,"
                        " expected_recoverable_minor = s.rec, limitation_expires_on = s.expires,"
                        " limitation_warning = s.warning"
                        " FROM unnest ($3::text[], $4::int[], $5::text[], $6::smallint[],"
                        "   $7::int[], $8::bigint[], $9::date[], $10::int[])"
                        "   AS s (invoice_id, dpd, bucket, grade, bp, rec, expires, warning)"
                        " WHERE i.tenant = $1 AND i.invoice_id = s.invoice_id",
                        10, p)
            != n)
            rc = HK_EDB;
    }
    for (int c = 0; c < S_AGED_COLS; c++)
        free (arrays[c]);
    return rc == 0 ? n : rc;
}

/* Credit hold (R-H1, R-H2) for a debtor with settlement terms on record (its latest
 * contract): cash terms hold while anything invoiced is unpaid; deliver-two-settle-one while
 * anything is unpaid on an invoice before the latest one (paid or not); periodic and one-off terms once an invoice is
 * overdue beyond the policy's grace. Placing and lifting are events for billing/ERP. */
static int
s_credit_hold (hk_daemon_t *d, const char *debtor, const char *as_of_s, int32_t max_dpd,
               const char *trace_id)
{
    const char *p[] = { d->tenant, debtor };
    PGresult *res = hk_db_query (
        d->db,
        "SELECT k.contract_id, k.terms, b.credit_hold,"
        " (SELECT coalesce (sum (outstanding_minor), 0) FROM invoice i"
        "   WHERE i.tenant = $1 AND i.debtor_id = $2 AND i.status = 'open'),"
        /* the previous batches: every invoice but the latest one, paid or not */
        " (SELECT coalesce (sum (outstanding_minor) FILTER (WHERE status = 'open'), 0)"
        "   FROM (SELECT outstanding_minor, status,"
        "   row_number () OVER (ORDER BY coalesce (issued_on, due_on) DESC, invoice_id DESC) AS n"
        "   FROM invoice i WHERE i.tenant = $1 AND i.debtor_id = $2) o WHERE n > 1)"
        " FROM debtor b JOIN LATERAL (SELECT contract_id, terms FROM contract c"
        "   WHERE c.tenant = b.tenant AND c.debtor_id = b.debtor_id"
        "   ORDER BY c.updated_at DESC, c.contract_id LIMIT 1) k ON true"
        " WHERE b.tenant = $1 AND b.debtor_id = $2",
        2, p);
    if (!res)
        return HK_EDB;
    if (PQntuples (res) != 1) {
        PQclear (res); /* no terms on record: nothing to decide */
        return 0;
    }
    const char *terms = PQgetvalue (res, 0, 1);
    hk_hold_input_t in = {
        .terms = strcmp (terms, "cash") == 0                     ? HK_TERMS_CASH
                 : strcmp (terms, "deliver_two_settle_one") == 0 ? HK_TERMS_DELIVER_TWO_SETTLE_ONE
                 : strcmp (terms, "one_off") == 0                ? HK_TERMS_ONE_OFF
                                                                 : HK_TERMS_PERIODIC,
        .unpaid_delivered_minor = strtoll (PQgetvalue (res, 0, 3), NULL, 10),
        .previous_batch_unpaid_minor = strtoll (PQgetvalue (res, 0, 4), NULL, 10),
        .max_dpd = max_dpd,
        .held = PQgetvalue (res, 0, 2)[0] == 't',
    };
    hk_hold_t out;
    int rc = hk_credit_hold (NULL, &in, &out);
    if (rc == 0 && (out.placed || out.lifted)) {
        const char *up[] = { d->tenant, debtor, out.hold ? "true" : "false", out.reason };
        if (hk_db_exec (d->db,
                        "UPDATE debtor SET credit_hold = $3::boolean, credit_hold_reason = $4"
                        " WHERE tenant = $1 AND debtor_id = $2",
                        4, up)
            != 1)
            rc = HK_EDB;
        Huikuan__V1__CreditHold ev = HUIKUAN__V1__CREDIT_HOLD__INIT;
        ev.debtor_id = (char *) debtor;
        ev.as_of = (char *) as_of_s;
        ev.hold = out.hold;
        ev.terms = (char *) terms;
        ev.rule = (char *) (out.rule ? out.rule : "R-H1");
        ev.reason = out.reason;
        ev.contract_id = PQgetvalue (res, 0, 0);
        if (rc == 0)
            rc = hk_daemon_emit (d, out.placed ? "credit_hold.placed" : "credit_hold.lifted",
                                 debtor, trace_id, &ev.base);
    }
    PQclear (res);
    return rc;
}

/* Debtor-level risk for one debtor as of a date (R-A2, R-A4, R-A7), after its invoices were
 * aged in the same transaction. Inputs the feeds do not carry yet (creditworthiness,
 * cooperation, capital strength, closure) are neutral. The amount part uses the debtor's
 * largest single-currency total: sums across currencies mean nothing. */
static int
s_grade_debtor (hk_daemon_t *d, const char *debtor, int32_t as_of, const char *trace_id)
{
    char as_of_s[16];
    hk_date_format (as_of, as_of_s, sizeof as_of_s);
    const char *p[] = { d->tenant, debtor, as_of_s, d->tenant_tz };
    PGresult *res = hk_db_query (
        d->db,
        "SELECT b.grade,"
        " (SELECT max (dpd) FROM invoice i WHERE i.tenant = $1 AND i.debtor_id = $2"
        "   AND i.status = 'open'),"
        " (SELECT max (t) FROM (SELECT sum (outstanding_minor) AS t FROM invoice i"
        "   WHERE i.tenant = $1 AND i.debtor_id = $2 AND i.status = 'open' GROUP BY currency) s),"
        " EXISTS (SELECT 1 FROM dispute x WHERE x.tenant = $1 AND x.debtor_id = $2"
        "   AND x.status = 'open'),"
        " $3::date - (SELECT (max (c.updated_at) AT TIME ZONE $4)::date FROM contact c"
        "   WHERE c.tenant = $1 AND c.debtor_id = $2 AND c.status = 'sent'),"
        " coalesce (b.distance_km, 0),"
        /* monthly delivered amounts of the last 12 months, oldest first (R-A7) */
        " (SELECT array_agg (coalesce (v, 0) ORDER BY m) FROM generate_series ("
        "   date_trunc ('month', $3::date) - interval '11 months',"
        "   date_trunc ('month', $3::date), interval '1 month') m"
        "   LEFT JOIN LATERAL (SELECT sum (coalesce (amount_minor, quantity, 0)) AS v"
        "     FROM goods_delivery g WHERE g.tenant = $1 AND g.debtor_id = $2"
        "     AND date_trunc ('month', g.delivered_on) = m) s ON true),"
        /* days late of the last 8 payments, oldest first (R-A7) */
        " (SELECT array_agg (late ORDER BY at) FROM (SELECT p.received_at AS at,"
        "   greatest (0, (p.received_at AT TIME ZONE $4)::date - max (i.due_on)) AS late"
        "   FROM payment p JOIN payment_allocation a ON a.tenant = p.tenant"
        "     AND a.payment_id = p.payment_id"
        "   JOIN invoice i ON i.tenant = a.tenant AND i.invoice_id = a.invoice_id"
        "   WHERE p.tenant = $1 AND p.debtor_id = $2 GROUP BY p.payment_id, p.received_at"
        "   ORDER BY p.received_at DESC LIMIT 8) q)"
        ", coalesce (b.cause_of_default, ''), coalesce (b.uncooperative, false), b.stance"
        " FROM debtor b WHERE b.tenant = $1 AND b.debtor_id = $2 FOR UPDATE OF b",
        4, p);
    if (!res)
        return HK_EDB;
    if (PQntuples (res) != 1) {
        PQclear (res);
        return 0;
    }
    int prev_grade = PQgetisnull (res, 0, 0) ? 0 : atoi (PQgetvalue (res, 0, 0));
    int64_t volumes[12] = { 0 };
    int nvol = 0;
    int32_t delays[8] = { 0 };
    int ndel = 0;
    /* "{1,2,3}" arrays of integers */
    for (const char *c = PQgetvalue (res, 0, 6); *c && nvol < 12;) {
        while (*c && (*c == '{' || *c == ',' || *c == '}'))
            c++;
        if (!*c)
            break;
        volumes[nvol++] = strtoll (c, (char **) &c, 10);
    }
    for (const char *c = PQgetvalue (res, 0, 7); *c && ndel < 8;) {
        while (*c && (*c == '{' || *c == ',' || *c == '}'))
            c++;
        if (!*c)
            break;
        delays[ndel++] = (int32_t) strtol (c, (char **) &c, 10);
    }
    hk_risk_policy_t policy;
    hk_risk_policy_default (&policy);
    bool volume_drop = hk_signal_volume_drop (volumes, nvol, policy.volume_drop_bp);
    bool delay = hk_signal_lengthening_delay (&policy, delays, ndel);
    hk_risk_input_t in = {
        .dpd = PQgetisnull (res, 0, 1) ? 0 : atoi (PQgetvalue (res, 0, 1)),
        .outstanding_minor = PQgetisnull (res, 0, 2) ? 0 : strtoll (PQgetvalue (res, 0, 2), NULL, 10),
        .dispute_open = PQgetvalue (res, 0, 3)[0] == 't',
        .days_since_contact = PQgetisnull (res, 0, 4) ? -1 : atoi (PQgetvalue (res, 0, 4)),
        .reach = HK_REACH_REACHABLE,
        .signal_volume_drop = volume_drop,
        .signal_delay = delay,
    };
    /* R-A5/R-A6: hard only for the uncooperative or wilful; the cause is as recorded */
    hk_cause_t cause = HK_CAUSE_UNKNOWN;
    hk_cause_parse (PQgetvalue (res, 0, 8), &cause);
    const char *stance
        = hk_stance (PQgetvalue (res, 0, 9)[0] == 't', false, cause) == HK_STANCE_HARD ? "hard"
                                                                                         : "soft";
    bool stance_changed = PQgetisnull (res, 0, 10) || strcmp (PQgetvalue (res, 0, 10), stance) != 0;
    char cause_s[24];
    snprintf (cause_s, sizeof cause_s, "%s", cause == HK_CAUSE_UNKNOWN ? "" : hk_cause_name (cause));
    hk_priority_input_t pin = {
        .dpd = in.dpd,
        .outstanding_minor = in.outstanding_minor,
        .creditworthiness = 50,
        .cooperation = 50,
        .capital_strength = 50,
        .distance_km = atoi (PQgetvalue (res, 0, 5)),
        .signal_volume_drop = volume_drop,
        .signal_delay = delay,
    };
    PQclear (res);
    hk_risk_grade_result_t grade;
    hk_priority_t prio;
    if (hk_risk_grade (&policy, &in, &grade) != 0 || hk_priority (&policy, &pin, &prio) != 0)
        return HK_EINVAL;

    /* text[] literal of the reasons: our own texts, quoted and escaped for the array syntax */
    char reasons_lit[HK_RISK_MAX_REASONS * (2 * HK_RISK_TEXT + 40) + 4];
    char reason_text[HK_RISK_MAX_REASONS][HK_RISK_TEXT + 16];
    char *reasons[HK_RISK_MAX_REASONS];
    size_t len = 0;
    reasons_lit[len++] = '{';
    for (int r = 0; r < grade.n_reasons; r++) {
        snprintf (reason_text[r], sizeof reason_text[r], "%s: %s", grade.reasons[r].rule,
                  grade.reasons[r].text);
        reasons[r] = reason_text[r];
        if (r > 0)
            reasons_lit[len++] = ',';
        reasons_lit[len++] = '"';
        for (const char *c = reason_text[r]; *c; c++) {
            if (*c == '"' || *c == '\\')
                reasons_lit[len++] = '\\';
            reasons_lit[len++] = *c;
        }
        reasons_lit[len++] = '"';
    }
    reasons_lit[len++] = '}';
    reasons_lit[len] = 0;
    char *signals[2];
    int nsig = 0;
    if (volume_drop)
        signals[nsig++] = "volume_drop";
    if (delay)
        signals[nsig++] = "lengthening_delay";
    char signals_lit[64];
    snprintf (signals_lit, sizeof signals_lit, "{%s%s%s}", nsig > 0 ? signals[0] : "",
              nsig > 1 ? "," : "", nsig > 1 ? signals[1] : "");
    char grade_s[4], prio_s[16], parts[256];
    snprintf (grade_s, sizeof grade_s, "%d", (int) grade.grade);
    snprintf (prio_s, sizeof prio_s, "%d", prio.score);
    snprintf (parts, sizeof parts,
              "{\"age\": %d, \"amount\": %d, \"credit\": %d, \"cooperation\": %d,"
              " \"capital\": %d, \"distance\": %d, \"signal\": %d}",
              prio.age, prio.amount, prio.credit, prio.cooperation, prio.capital, prio.distance,
              prio.signal);
    const char *up[] = { d->tenant, debtor, grade_s, reasons_lit, prio_s, parts, signals_lit,
                         as_of_s, stance };
    if (hk_db_exec (d->db,
                    "UPDATE debtor SET grade = $3::smallint, grade_reasons = $4::text[],"
                    " priority = $5::int, priority_parts = $6::jsonb, signals = $7::text[],"
                    " risk_as_of = $8::date, stance = $9 WHERE tenant = $1 AND debtor_id = $2",
                    9, up)
            != 1
        || s_credit_hold (d, debtor, as_of_s, in.dpd, trace_id) != 0)
        return HK_EDB;
    if (prev_grade == (int) grade.grade && !stance_changed)
        return 0;
    Huikuan__V1__DebtorGraded ev = HUIKUAN__V1__DEBTOR_GRADED__INIT;
    ev.stance = (char *) stance;
    ev.cause_of_default = cause_s;
    ev.debtor_id = (char *) debtor;
    ev.as_of = as_of_s;
    ev.grade = (int32_t) grade.grade;
    ev.previous_grade = prev_grade;
    ev.n_grade_reasons = (size_t) grade.n_reasons;
    ev.grade_reasons = reasons;
    ev.priority = prio.score;
    ev.priority_age = prio.age;
    ev.priority_amount = prio.amount;
    ev.priority_credit = prio.credit;
    ev.priority_cooperation = prio.cooperation;
    ev.priority_capital = prio.capital;
    ev.priority_distance = prio.distance;
    ev.priority_signal = prio.signal;
    ev.n_signals = (size_t) nsig;
    ev.signals = signals;
    return hk_daemon_emit (d, "debtor.graded", debtor, trace_id, &ev.base);
}

/* Marks a debtor for grading by the next debtor pass (its risk_as_of is cleared). */
static int
s_mark_debtor (hk_daemon_t *d, const char *debtor)
{
    const char *p[] = { d->tenant, debtor };
    return hk_db_exec (d->db,
                       "UPDATE debtor SET risk_as_of = NULL WHERE tenant = $1 AND debtor_id = $2"
                       "  AND risk_as_of IS NOT NULL",
                       2, p)
                   < 0
               ? HK_EDB
               : 0;
}

/* The debtor pass, once the day's invoices are aged: grades, in a batch claimed with SKIP
 * LOCKED, the debtors marked by an event or not graded today that owe something or are held.
 * A debtor with an invoice still being aged (by this or another instance) waits for the next
 * pass, so its grade sees the whole day. Returns how many were graded. */
static int
s_debtor_pass (hk_daemon_t *d, int32_t today, const char *limit)
{
    char today_s[16];
    hk_date_format (today, today_s, sizeof today_s);
    const char *p[] = { d->tenant, today_s, limit };
    PGresult *res = hk_db_query (
        d->db,
        "SELECT b.debtor_id FROM debtor b WHERE b.tenant = $1"
        "  AND (b.risk_as_of IS NULL OR b.risk_as_of < $2::date)"
        "  AND (b.credit_hold OR EXISTS (SELECT 1 FROM invoice i WHERE i.tenant = b.tenant"
        "       AND i.debtor_id = b.debtor_id AND i.status = 'open'))"
        "  AND NOT EXISTS (SELECT 1 FROM invoice i WHERE i.tenant = b.tenant"
        "       AND i.debtor_id = b.debtor_id AND i.status = 'open'"
        "       AND (i.aged_as_of IS NULL OR i.aged_as_of < $2::date))"
        " ORDER BY b.debtor_id LIMIT $3::int FOR UPDATE OF b SKIP LOCKED",
        3, p);
    if (!res)
        return HK_EDB;
    int n = PQntuples (res), rc = 0;
    for (int i = 0; i < n && rc == 0; i++)
        rc = s_grade_debtor (d, PQgetvalue (res, i, 0), today, NULL);
    PQclear (res);
    return rc == 0 ? n : rc;
}

static int
s_today (hk_daemon_t *d, int32_t *today)
{
    hk_local_t local;
    if (hk_tz_local (d->tenant_tz, hk_clock_now (d->clock), &local) != 0)
        return HK_EINVAL;
    *today = local.date;
    return 0;
}

/* Columns s_age_rows reads; $TZ is the tenant zone parameter, $TODAY the as-of date. The last
 * successful contact is the last message sent to the debtor (R-A2 "no contact"). */
#define AGING_COLUMNS(TZ, TODAY)                                                             \
    "invoice_id, debtor_id, due_on, bucket, currency, outstanding_minor, grade,"              \
    " limitation_warning,"                                                                   \
    " EXISTS (SELECT 1 FROM dispute x WHERE x.tenant = invoice.tenant"                       \
    "         AND x.invoice_id = invoice.invoice_id AND x.status = 'open'),"                 \
    " " TODAY "::date - (SELECT (max (c.updated_at) AT TIME ZONE " TZ ")::date FROM contact c" \
    "   WHERE c.tenant = invoice.tenant AND c.debtor_id = invoice.debtor_id"                 \
    "     AND c.status = 'sent')"

/* Incremental: the invoice of a recorded event, aged at once (inside the consume transaction). */
static int
s_on_event (hk_daemon_t *d, const Huikuan__V1__Envelope *env)
{
    if (strcmp (env->type, "payment.recorded") == 0) {
        /* a payment can clear a credit hold (R-H1) or change the debtor's grade: the next
         * debtor pass grades it again */
        return *env->aggregate_id ? s_mark_debtor (d, env->aggregate_id) : 0;
    }
    if (strcmp (env->type, "invoice.recorded") != 0)
        return 0;
    ProtobufCMessage *msg = hk_payload_unpack (env);
    if (!msg)
        return 0; /* not decodable: nothing to age; logged by the bus layer */
    Huikuan__V1__InvoiceRecorded *ir = (Huikuan__V1__InvoiceRecorded *) msg;
    int32_t today;
    int rc = s_today (d, &today);
    if (rc == 0) {
        char today_s[16];
        hk_date_format (today, today_s, sizeof today_s);
        const char *p[] = { env->tenant, ir->invoice_id, today_s, d->tenant_tz };
        PGresult *res = hk_db_query (d->db,
                                     "SELECT " AGING_COLUMNS ("$4", "$3") " FROM invoice"
                                     " WHERE tenant = $1 AND invoice_id = $2 AND status = 'open'"
                                     "   AND (aged_as_of IS NULL OR aged_as_of < $3::date)"
                                     " FOR UPDATE OF invoice",
                                     4, p);
        if (!res)
            rc = HK_EDB;
        else {
            rc = s_age_rows (d, res, today, env->trace_id);
            PQclear (res);
            if (rc >= 0)
                rc = s_mark_debtor (d, ir->debtor_id);
        }
    }
    hk_payload_destroy (&msg);
    return rc < 0 ? rc : 0;
}

/* The daily re-age: every open invoice not yet aged for today, in batches. */
static int
s_on_tick (hk_daemon_t *d)
{
    int32_t today;
    if (s_today (d, &today) != 0)
        return HK_EINVAL;
    char today_s[16], limit[16];
    hk_date_format (today, today_s, sizeof today_s);
    snprintf (limit, sizeof limit, "%lld", (long long) hk_config_int (d->config, "batch_size"));
    if (hk_db_begin (d->db) != 0)
        return HK_EDB;
    const char *p[] = { d->tenant, today_s, limit, d->tenant_tz };
    PGresult *res = hk_db_query (d->db,
                                 "SELECT " AGING_COLUMNS ("$4", "$2") " FROM invoice"
                                 " WHERE tenant = $1 AND status = 'open'"
                                 "   AND (aged_as_of IS NULL OR aged_as_of < $2::date)"
                                 " ORDER BY invoice_id LIMIT $3::int FOR UPDATE OF invoice SKIP LOCKED",
                                 4, p);
    int rc = res ? s_age_rows (d, res, today, NULL) : HK_EDB;
    PQclear (res);
    if (rc == 0)
        rc = s_debtor_pass (d, today, limit);
    if (rc >= 0 && hk_db_commit (d->db) == 0)
        return rc;
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
    s_m_aged = hk_metric_counter ("hk_invoices_aged_total", "Invoices aged");
    s_m_changed = hk_metric_counter ("hk_bucket_changes_total", "Aging bucket changes emitted");
    return 0;
}

int
main (int argc, char **argv)
{
    static const hk_daemon_def_t def = {
        .kind = "aging",
        .summary = "Ages open invoices (R-A1), grades invoices and debtors (R-A2, R-A4, R-A7), "
                   "expects recovery (R-A3), keeps the limitation clock (R-L1) and decides "
                   "credit holds (R-H1).",
        .config = s_config,
        .consumes = s_consumes,
        .init = s_init,
        .on_event = s_on_event,
        .on_tick = s_on_tick,
    };
    return hk_daemon_main (argc, argv, &def);
}
