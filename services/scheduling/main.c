/* huikuan-scheduling: plans contacts and hands due ones to the channel queues.
 *
 * Skeleton strategy: an invoice aged overdue gets one written notice (R-C1) by e-mail, timed in
 * the debtor's zone at the start of its working day (R-S2). A settled invoice cancels what is
 * still planned or queued. Due contacts are claimed with FOR UPDATE SKIP LOCKED (one instance
 * takes each), pushed to the Redis stream hk:notify:<channel> and marked dispatched in the same
 * transaction as their event; a crash between push and commit pushes again, and the
 * notification daemon sends each contact once (delivery keyed by contact id). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "huikuan/daemon.h"
#include "huikuan/dates.h"
#include "huikuan/errcodes.h"
#include "huikuan/ids.h"
#include "huikuan/log.h"
#include "huikuan/metrics.h"
#include "plan.h"

static const hk_cfg_entry_t s_config[] = {
    { "notice_channel", HK_CFG_STRING, "email", 0, 0, 0, NULL,
      "channel of the written notice (R-C1)" },
    { "notice_min_dpd", HK_CFG_INT, "1", 0, 3650, 0, NULL,
      "days past due from which an invoice gets a written notice" },
    { "workday_start", HK_CFG_INT, "540", 0, 1439, 0, NULL,
      "debtors' working day start, minutes after local midnight (R-S2)" },
    { "contact_window", HK_CFG_INT, "15", 1, 240, 0, NULL,
      "contact within this many minutes after the working day starts (R-S2)" },
    { "dispatch_batch", HK_CFG_INT, "200", 1, 100000, 0, NULL,
      "due contacts dispatched per transaction" },
    { 0 },
};

static const char *const s_consumes[] = { "invoice.aged", "invoice.settled", NULL };

static hk_metric_t *s_m_planned, *s_m_dispatched, *s_m_cancelled;

static int
s_plan_notice (hk_daemon_t *d, const Huikuan__V1__Envelope *env, Huikuan__V1__InvoiceAged *ev)
{
    int64_t outstanding = ev->outstanding ? ev->outstanding->minor : 0;
    if (!hk_plan_wants_notice (ev->dpd, (int32_t) hk_config_int (d->config, "notice_min_dpd"),
                               outstanding))
        return 0;
    const char *p[] = { env->tenant, ev->debtor_id, ev->invoice_id };
    PGresult *res = hk_db_query (d->db,
                                 "SELECT d.time_zone FROM invoice i JOIN debtor d"
                                 "  ON d.tenant = i.tenant AND d.debtor_id = i.debtor_id"
                                 " WHERE i.tenant = $1 AND i.debtor_id = $2"
                                 "   AND i.invoice_id = $3 AND i.status = 'open'",
                                 3, p);
    if (!res)
        return HK_EDB;
    if (PQntuples (res) == 0) {
        PQclear (res); /* settled meanwhile: nothing to plan */
        return 0;
    }
    char zone[72];
    snprintf (zone, sizeof zone, "%s", PQgetvalue (res, 0, 0));
    PQclear (res);
    hk_slot_policy_t policy = {
        .workday_start_min = (int) hk_config_int (d->config, "workday_start"),
        .window_min = (int) hk_config_int (d->config, "contact_window"),
    };
    int64_t due_at;
    if (hk_plan_next_slot (zone, hk_clock_now (d->clock), &policy, &due_at) != 0) {
        HK_LOG (HK_WARN, "plan.bad_zone", HK_S ("debtor", ev->debtor_id), HK_S ("zone", zone));
        return 0;
    }
    char id[HK_UUID_LEN], due_s[40];
    hk_uuid_v4 (id);
    hk_time_format (due_at, due_s, sizeof due_s);
    const char *channel = hk_config_str (d->config, "notice_channel");
    const char *ip[] = { id, env->tenant, ev->debtor_id, ev->invoice_id, channel, due_s };
    res = hk_db_query (d->db,
                       "INSERT INTO contact (contact_id, tenant, debtor_id, invoice_id, channel,"
                       " step, due_at, rules, reason) VALUES ($1, $2, $3, $4, $5,"
                       " 'written_notice', $6::timestamptz, '{R-C1,R-S2}',"
                       " 'overdue: first written notice')"
                       " ON CONFLICT (tenant, invoice_id, step) DO NOTHING RETURNING 1",
                       6, ip);
    if (!res)
        return HK_EDB;
    int fresh = PQntuples (res);
    PQclear (res);
    if (!fresh)
        return 0; /* planned before */
    char *rules[] = { "R-C1", "R-S2" };
    Huikuan__V1__ContactPlanned cp = HUIKUAN__V1__CONTACT_PLANNED__INIT;
    cp.contact_id = id;
    cp.invoice_id = ev->invoice_id;
    cp.debtor_id = ev->debtor_id;
    cp.channel = (char *) channel;
    cp.step = "written_notice";
    cp.due_at_us = due_at;
    cp.n_rules = 2;
    cp.rules = rules;
    hk_metric_add (s_m_planned, 1);
    return hk_daemon_emit (d, "contact.planned", ev->debtor_id, env->trace_id, &cp.base);
}

static int
s_cancel_for (hk_daemon_t *d, const Huikuan__V1__Envelope *env, Huikuan__V1__InvoiceSettled *ev)
{
    const char *p[] = { env->tenant, ev->invoice_id };
    PGresult *res = hk_db_query (d->db,
                                 "UPDATE contact SET status = 'cancelled', updated_at = now(),"
                                 " reason = 'invoice settled'"
                                 " WHERE tenant = $1 AND invoice_id = $2"
                                 "   AND status IN ('planned', 'dispatched')"
                                 " RETURNING contact_id",
                                 2, p);
    if (!res)
        return HK_EDB;
    int rc = 0;
    for (int i = 0; i < PQntuples (res) && rc == 0; i++) {
        char *rules[] = { "R-C1" };
        Huikuan__V1__ContactCancelled cc = HUIKUAN__V1__CONTACT_CANCELLED__INIT;
        cc.contact_id = PQgetvalue (res, i, 0);
        cc.invoice_id = ev->invoice_id;
        cc.reason = "invoice settled";
        cc.n_rules = 1;
        cc.rules = rules;
        rc = hk_daemon_emit (d, "contact.cancelled", ev->debtor_id, env->trace_id, &cc.base);
        hk_metric_add (s_m_cancelled, 1);
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
    if (strcmp (env->type, "invoice.aged") == 0)
        rc = s_plan_notice (d, env, (Huikuan__V1__InvoiceAged *) msg);
    else if (strcmp (env->type, "invoice.settled") == 0)
        rc = s_cancel_for (d, env, (Huikuan__V1__InvoiceSettled *) msg);
    hk_payload_destroy (&msg);
    return rc;
}

/* Hands due contacts to their channel queues. */
static int
s_on_tick (hk_daemon_t *d)
{
    char now_s[40], limit[16];
    hk_time_format (hk_clock_now (d->clock), now_s, sizeof now_s);
    snprintf (limit, sizeof limit, "%lld", (long long) hk_config_int (d->config, "dispatch_batch"));
    if (hk_db_begin (d->db) != 0)
        return HK_EDB;
    const char *p[] = { now_s, limit };
    PGresult *res = hk_db_query (d->db,
                                 "SELECT contact_id, channel, debtor_id FROM contact"
                                 " WHERE status = 'planned' AND due_at <= $1::timestamptz"
                                 " ORDER BY due_at LIMIT $2::int FOR UPDATE SKIP LOCKED",
                                 2, p);
    int rc = res ? 0 : HK_EDB, n = res ? PQntuples (res) : 0;
    for (int i = 0; i < n && rc == 0; i++) {
        const char *id = PQgetvalue (res, i, 0), *channel = PQgetvalue (res, i, 1);
        char stream[96];
        snprintf (stream, sizeof stream, "hk:notify:%s", channel);
        if (hk_stream_add (d->redis, stream, id, strlen (id), NULL, 0) != 0) {
            rc = HK_EREDIS;
            break;
        }
        const char *up[] = { id };
        if (hk_db_exec (d->db,
                        "UPDATE contact SET status = 'dispatched', updated_at = now()"
                        " WHERE contact_id = $1",
                        1, up)
            != 1) {
            rc = HK_EDB;
            break;
        }
        Huikuan__V1__ContactDispatched cd = HUIKUAN__V1__CONTACT_DISPATCHED__INIT;
        cd.contact_id = (char *) id;
        cd.channel = (char *) channel;
        cd.queue = stream;
        rc = hk_daemon_emit (d, "contact.dispatched", PQgetvalue (res, i, 2), NULL, &cd.base);
    }
    PQclear (res);
    if (rc == 0 && hk_db_commit (d->db) == 0) {
        hk_metric_add (s_m_dispatched, n);
        return n;
    }
    hk_db_rollback (d->db);
    HK_LOG (HK_WARN, "dispatch.failed", HK_S ("error", rc == HK_EREDIS ? hk_redis_errstr (d->redis)
                                                                      : hk_db_errstr (d->db)));
    return rc ? rc : HK_EDB;
}

static int
s_init (hk_daemon_t *d)
{
    s_m_planned = hk_metric_counter ("hk_contacts_planned_total", "Contacts planned");
    s_m_dispatched = hk_metric_counter ("hk_contacts_dispatched_total", "Contacts dispatched");
    s_m_cancelled = hk_metric_counter ("hk_contacts_cancelled_total", "Contacts cancelled");
    return 0;
}

int
main (int argc, char **argv)
{
    static const hk_daemon_def_t def = {
        .kind = "scheduling",
        .summary = "Plans contacts for overdue invoices and dispatches due ones to the channel "
                   "queues.",
        .config = s_config,
        .consumes = s_consumes,
        .init = s_init,
        .on_event = s_on_event,
        .on_tick = s_on_tick,
    };
    return hk_daemon_main (argc, argv, &def);
}
