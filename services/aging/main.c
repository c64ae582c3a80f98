/* huikuan-aging: days past due and aging bucket for every open invoice (R-A1).
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
#include "huikuan/daemon.h"
#include "huikuan/dates.h"
#include "huikuan/errcodes.h"
#include "huikuan/log.h"
#include "huikuan/metrics.h"

static const hk_cfg_entry_t s_config[] = {
    { "batch_size", HK_CFG_INT, "500", 1, 100000, 0, NULL,
      "invoices aged per transaction" },
    { 0 },
};

static const char *const s_consumes[] = { "invoice.recorded", NULL };

static hk_metric_t *s_m_aged, *s_m_changed;

/* Ages the rows of res (invoice_id, debtor_id, due_on, bucket, currency, outstanding) as of
 * date; caller holds their row locks inside an open transaction. */
static int
s_age_rows (hk_daemon_t *d, PGresult *res, int32_t as_of, const char *trace_id)
{
    char as_of_s[16];
    hk_date_format (as_of, as_of_s, sizeof as_of_s);
    int n = PQntuples (res);
    for (int i = 0; i < n; i++) {
        const char *invoice = PQgetvalue (res, i, 0), *debtor = PQgetvalue (res, i, 1);
        int32_t due;
        if (hk_date_parse (PQgetvalue (res, i, 2), &due) != 0)
            return HK_EINVAL;
        const char *prev = PQgetisnull (res, i, 3) ? "" : PQgetvalue (res, i, 3);
        int32_t dpd = hk_aging_dpd (due, as_of);
        const char *bucket = hk_aging_bucket (dpd);
        char dpd_s[16];
        snprintf (dpd_s, sizeof dpd_s, "%d", dpd);
        const char *p[] = { d->tenant, invoice, as_of_s, dpd_s, bucket };
        if (hk_db_exec (d->db,
                        "UPDATE invoice SET aged_as_of = $3::date, dpd = $4::int, bucket = $5"
                        " WHERE tenant = $1 AND invoice_id = $2",
                        5, p)
            != 1)
            return HK_EDB;
        hk_metric_add (s_m_aged, 1);
        if (strcmp (prev, bucket) == 0)
            continue;
        Huikuan__V1__Money out = HUIKUAN__V1__MONEY__INIT;
        out.currency = PQgetvalue (res, i, 4);
        out.minor = strtoll (PQgetvalue (res, i, 5), NULL, 10);
        Huikuan__V1__InvoiceAged ev = HUIKUAN__V1__INVOICE_AGED__INIT;
        ev.invoice_id = (char *) invoice;
        ev.debtor_id = (char *) debtor;
        ev.as_of = as_of_s;
        ev.dpd = dpd;
        ev.bucket = (char *) bucket;
        ev.previous_bucket = (char *) prev;
        ev.outstanding = &out;
        ev.time_zone = (char *) d->tenant_tz;
        if (hk_daemon_emit (d, "invoice.aged", debtor, trace_id, &ev.base) != 0)
            return HK_EDB;
        hk_metric_add (s_m_changed, 1);
    }
    return n;
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

#define AGING_COLUMNS "invoice_id, debtor_id, due_on, bucket, currency, outstanding_minor"

/* Incremental: the invoice of a recorded event, aged at once (inside the consume transaction). */
static int
s_on_event (hk_daemon_t *d, const Huikuan__V1__Envelope *env)
{
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
        const char *p[] = { env->tenant, ir->invoice_id, today_s };
        PGresult *res = hk_db_query (d->db,
                                     "SELECT " AGING_COLUMNS " FROM invoice"
                                     " WHERE tenant = $1 AND invoice_id = $2 AND status = 'open'"
                                     "   AND (aged_as_of IS NULL OR aged_as_of < $3::date)"
                                     " FOR UPDATE",
                                     3, p);
        if (!res)
            rc = HK_EDB;
        else {
            rc = s_age_rows (d, res, today, env->trace_id);
            PQclear (res);
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
    const char *p[] = { d->tenant, today_s, limit };
    PGresult *res = hk_db_query (d->db,
                                 "SELECT " AGING_COLUMNS " FROM invoice"
                                 " WHERE tenant = $1 AND status = 'open'"
                                 "   AND (aged_as_of IS NULL OR aged_as_of < $2::date)"
                                 " ORDER BY invoice_id LIMIT $3::int FOR UPDATE SKIP LOCKED",
                                 3, p);
    int rc = res ? s_age_rows (d, res, today, NULL) : HK_EDB;
    PQclear (res);
    if (rc >= 0 && hk_db_commit (d->db) == 0)
        return rc;
    hk_db_rollback (d->db);
    HK_LOG (HK_WARN, "aging.batch_failed", HK_S ("error", hk_db_errstr (d->db)));
    return rc < 0 ? rc : HK_EDB;
}

static int
s_init (hk_daemon_t *d)
{
    s_m_aged = hk_metric_counter ("hk_invoices_aged_total", "Invoices aged");
    s_m_changed = hk_metric_counter ("hk_bucket_changes_total", "Aging bucket changes emitted");
    return 0;
}

int
main (int argc, char **argv)
{
    static const hk_daemon_def_t def = {
        .kind = "aging",
        .summary = "Computes days past due and aging buckets of open invoices (R-A1).",
        .config = s_config,
        .consumes = s_consumes,
        .init = s_init,
        .on_event = s_on_event,
        .on_tick = s_on_tick,
    };
    return hk_daemon_main (argc, argv, &def);
}
