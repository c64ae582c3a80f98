/* huikuan-legal: opens a legal case when an invoice passes the configured days past due,
 * or when its limitation period nears its end (R-L3, R-L1: limitation.warning events).
 * Triggered by invoice.aged events and, for thresholds inside a bucket, by a scan of the open
 * invoices by due date once a tenant-local day, after aging's run of that day (or every
 * `sweep_wait` while that run is not finished). A case is unique per invoice (database
 * constraint), so any number of instances open it once (promise 2). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "escalate.h"
#include "huikuan/daemon.h"
#include "huikuan/dates.h"
#include "huikuan/errcodes.h"
#include "huikuan/ids.h"
#include "huikuan/log.h"
#include "huikuan/metrics.h"

static const hk_cfg_entry_t s_config[] = {
    { "escalate_dpd", HK_CFG_INT, "90", 1, 3650, 0, NULL,
      "days past due at which an open invoice goes to legal (R-L3)" },
    { "escalate_limitation_days", HK_CFG_INT, "90", 0, 3650, 0, NULL,
      "days before the limitation period ends at which an open invoice goes to legal (R-L1, "
      "R-L3)" },
    { "sweep_wait", HK_CFG_DURATION, "10m", 1000000LL, 86400000000LL, 0, NULL,
      "how long the scan of aged invoices waits between runs while the day's aging run is not "
      "finished; once it is, the scan runs once more, then the next day" },
    { 0 },
};

static const char *const s_consumes[] = { "invoice.aged", "limitation.warning", NULL };

static hk_metric_t *s_m_opened, *s_m_sweeps;

/* The scan's progress: the tenant-local day whose finished aging run it has covered, and
 * when (by the fleet clock) it last ran while that run was not finished. */
static int32_t s_swept_day;
static int64_t s_swept_early_us;

/* Opens the case for one invoice row if a rule says so: its age, or (limitation_days_left
 * given, i.e. not INT32_MAX) its limitation period near the end. Inside an open transaction. */
static int
s_open_case (hk_daemon_t *d, const char *invoice, const char *trace_id,
             int32_t limitation_days_left)
{
    int32_t day;
    char today[16];
    if (hk_daemon_today (d, &day, today, sizeof today) != 0)
        return HK_EINVAL;
    const char *p[] = { d->tenant, invoice, today };
    /* days past due as of today, the tenant's day by the fleet clock (R-A1) */
    PGresult *res = hk_db_query (d->db,
                                 "SELECT debtor_id, $3::date - due_on, currency, outstanding_minor,"
                                 " status = 'open' FROM invoice"
                                 " WHERE tenant = $1 AND invoice_id = $2 FOR SHARE",
                                 3, p);
    if (!res)
        return HK_EDB;
    if (PQntuples (res) == 0) {
        PQclear (res);
        return 0;
    }
    int32_t dpd = atoi (PQgetvalue (res, 0, 1));
    int64_t outstanding = strtoll (PQgetvalue (res, 0, 3), NULL, 10);
    bool open = PQgetvalue (res, 0, 4)[0] == 't';
    int rc = 0;
    bool by_age = hk_legal_should_open (dpd, (int32_t) hk_config_int (d->config, "escalate_dpd"),
                                        outstanding, open);
    bool by_limitation = limitation_days_left != INT32_MAX
                         && hk_legal_limitation_near (
                             limitation_days_left,
                             (int32_t) hk_config_int (d->config, "escalate_limitation_days"),
                             outstanding, open);
    if (by_age || by_limitation) {
        char id[HK_UUID_LEN], dpd_s[16];
        hk_uuid_v4 (id);
        snprintf (dpd_s, sizeof dpd_s, "%d", dpd);
        const char *ip[] = { id, d->tenant, PQgetvalue (res, 0, 0), invoice, dpd_s,
                             PQgetvalue (res, 0, 2), PQgetvalue (res, 0, 3) };
        PGresult *ins = hk_db_query (d->db,
                                     "INSERT INTO legal_case (case_id, tenant, debtor_id,"
                                     " invoice_id, dpd, currency, outstanding_minor)"
                                     " VALUES ($1::uuid, $2, $3, $4, $5::int, $6, $7::bigint)"
                                     " ON CONFLICT (tenant, invoice_id) DO NOTHING RETURNING 1",
                                     7, ip);
        if (!ins)
            rc = HK_EDB;
        else if (PQntuples (ins) == 1) {
            char *rules[] = { "R-L3", "R-L1" };
            Huikuan__V1__Money out = HUIKUAN__V1__MONEY__INIT;
            out.currency = PQgetvalue (res, 0, 2);
            out.minor = outstanding;
            Huikuan__V1__CaseOpened co = HUIKUAN__V1__CASE_OPENED__INIT;
            co.case_id = id;
            co.invoice_id = (char *) invoice;
            co.debtor_id = PQgetvalue (res, 0, 0);
            co.dpd = dpd;
            co.outstanding = &out;
            co.n_rules = by_limitation ? 2 : 1;
            co.rules = rules;
            rc = hk_daemon_emit (d, "case.opened", co.debtor_id, trace_id, &co.base);
            hk_metric_add (s_m_opened, 1);
            HK_LOG (HK_INFO, "case.opened", HK_S ("invoice", invoice), HK_I ("dpd", dpd));
        }
        PQclear (ins);
    }
    PQclear (res);
    return rc;
}

static int
s_on_event (hk_daemon_t *d, const Huikuan__V1__Envelope *env)
{
    ProtobufCMessage *msg = hk_payload_unpack (env);
    if (!msg)
        return 0;
    int rc = 0;
    if (strcmp (env->type, "limitation.warning") == 0) {
        Huikuan__V1__LimitationWarning *w = (Huikuan__V1__LimitationWarning *) msg;
        rc = s_open_case (d, w->invoice_id, env->trace_id, w->days_left);
    }
    else {
        Huikuan__V1__InvoiceAged *ev = (Huikuan__V1__InvoiceAged *) msg;
        if (ev->dpd >= hk_config_int (d->config, "escalate_dpd"))
            rc = s_open_case (d, ev->invoice_id, env->trace_id, INT32_MAX);
    }
    hk_payload_destroy (&msg);
    return rc;
}

/* Thresholds that fall inside a bucket produce no aging event on the day they are passed:
 * the scan finds those invoices by their due date. The results change once a day, so
 * the scan runs once a day after aging's run (in batches of 100 until one comes back short);
 * while the run is not finished (or aging is not running), every sweep_wait. It ran every
 * tick before: a scan of every open invoice ten times a second at a million invoices. */
static int
s_on_tick (hk_daemon_t *d)
{
    int64_t now = hk_clock_now (d->clock);
    hk_local_t local;
    if (hk_tz_local (d->tenant_tz, now, &local) != 0)
        return HK_EINVAL;
    if (local.date == s_swept_day)
        return 0;
    char today[16];
    hk_date_format (local.date, today, sizeof today);
    const char *rp[] = { d->tenant, today };
    PGresult *run = hk_db_query (d->db,
                                 "SELECT EXISTS (SELECT 1 FROM aging_run WHERE tenant = $1"
                                 " AND run_date = $2::date AND finished_at IS NOT NULL)",
                                 2, rp);
    if (!run)
        return HK_EDB;
    bool aged = PQgetvalue (run, 0, 0)[0] == 't';
    PQclear (run);
    if (!aged && s_swept_early_us != 0 && now >= s_swept_early_us
        && now - s_swept_early_us < hk_config_int (d->config, "sweep_wait"))
        return 0;
    char threshold[16];
    snprintf (threshold, sizeof threshold, "%lld",
              (long long) hk_config_int (d->config, "escalate_dpd"));
    if (hk_db_begin (d->db) != 0)
        return HK_EDB;
    const char *p[] = { d->tenant, threshold, today };
    PGresult *res = hk_db_query (d->db,
                                 "SELECT i.invoice_id FROM invoice i"
                                 " WHERE i.tenant = $1 AND i.status = 'open'"
                                 "   AND i.due_on <= $3::date - $2::int"
                                 "   AND NOT EXISTS (SELECT 1 FROM legal_case c"
                                 "       WHERE c.tenant = i.tenant AND c.invoice_id = i.invoice_id)"
                                 " LIMIT 100 FOR UPDATE SKIP LOCKED",
                                 3, p);
    int rc = res ? 0 : HK_EDB, n = res ? PQntuples (res) : 0;
    hk_metric_add (s_m_sweeps, 1);
    for (int i = 0; i < n && rc == 0; i++)
        rc = s_open_case (d, PQgetvalue (res, i, 0), NULL, INT32_MAX);
    PQclear (res);
    if (rc == 0 && hk_db_commit (d->db) == 0) {
        if (n < 100 && aged)
            s_swept_day = local.date; /* covered: until tomorrow */
        else if (n < 100)
            s_swept_early_us = now;   /* again after sweep_wait, or once the run finished */
        return n;
    }
    hk_db_rollback (d->db);
    return rc ? rc : HK_EDB;
}

static int
s_init (hk_daemon_t *d)
{
    s_m_opened = hk_metric_counter ("hk_cases_opened_total", "Legal cases opened");
    s_m_sweeps = hk_metric_counter ("hk_legal_sweeps_total",
                                    "Scans of the aged invoices for cases to open");
    return 0;
}

int
main (int argc, char **argv)
{
    static const hk_daemon_def_t def = {
        .kind = "legal",
        .summary = "Opens legal cases for invoices past the escalation age or near the end of "
                   "their limitation period (R-L3, R-L1).",
        .config = s_config,
        .consumes = s_consumes,
        .init = s_init,
        .on_event = s_on_event,
        .on_tick = s_on_tick,
    };
    return hk_daemon_main (argc, argv, &def);
}
