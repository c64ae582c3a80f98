/* huikuan-notification: sends dispatched contacts through their channel and records the
 * delivery (R-N3: channel, template, recipient, content hash, status).
 *
 * Reads its tenant's e-mail queue (hk:notify:email for the tenant "default",
 * hk:notify:email@<tenant> for another; hk_notify_queue) through a Redis consumer group (work
 * held by a dead instance is claimed by another), and waits on it between ticks (the loop's
 * own_queue), so a contact is sent the moment the scheduler dispatches it. Each contact is sent once: the contact row
 * is locked, a contact that is no longer 'dispatched' (cancelled by a payment, or sent
 * already) is skipped, and the delivery row, the status change and the contact.sent event
 * commit together before the queue entry is acknowledged. The file channel rewrites the same
 * <contact_id>.eml if a crash comes between writing and committing, so a retry never makes a
 * second message. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "channel.h"
#include "huikuan/daemon.h"
#include "huikuan/digest.h"
#include "huikuan/errcodes.h"
#include "huikuan/files.h"
#include "huikuan/log.h"
#include "huikuan/metrics.h"
#include "render.h"

static const hk_cfg_entry_t s_config[] = {
    { "email_transport", HK_CFG_STRING, "file", 0, 0, 0, NULL,
      "how e-mail leaves: file (into email_outbox) or smtp (to smtp_url)" },
    { "email_outbox", HK_CFG_STRING, "", 0, 0, 0, NULL,
      "folder of the file transport (default <run_dir>/outbox/email)" },
    { "smtp_url", HK_CFG_STRING, "smtp://127.0.0.1:25", 0, 0, HK_CFG_SENSITIVE, NULL,
      "SMTP server of the smtp transport" },
    { "sender", HK_CFG_STRING, "collections@huikuan.invalid", 0, 0, 0, NULL,
      "From: address of e-mail" },
    { 0 },
};

typedef struct {
    hk_queue_t *email;
    char outbox[1024];
    hk_metric_t *m_sent, *m_skipped, *m_failed, *m_requeued;
} notification_t;

/* Sends one contact. Returns 0 when done with it (sent, skipped or failed for good),
 * negative to retry later. */
static int
s_send (hk_daemon_t *d, notification_t *st, const char *contact_id)
{
    if (hk_db_begin (d->db) != 0)
        return HK_EDB;
    int32_t day; /* days past due on the tenant's day by the fleet clock (R-A1) */
    char today[16];
    if (hk_daemon_today (d, &day, today, sizeof today) != 0) {
        hk_db_rollback (d->db);
        return HK_EINVAL;
    }
    const char *p[] = { contact_id, today };
    PGresult *res = hk_db_query (
        d->db,
        "SELECT c.status, c.channel, c.tenant, c.debtor_id, c.invoice_id,"
        "       COALESCE(b.name, ''), COALESCE(b.email, ''), i.currency, i.outstanding_minor,"
        "       i.due_on, $2::date - i.due_on"
        " FROM contact c JOIN debtor b ON b.tenant = c.tenant AND b.debtor_id = c.debtor_id"
        " JOIN invoice i ON i.tenant = c.tenant AND i.invoice_id = c.invoice_id"
        " WHERE c.contact_id = $1::uuid FOR UPDATE OF c",
        2, p);
    if (!res) {
        hk_db_rollback (d->db);
        /* a queue entry that is not a contact id can never succeed */
        return strcmp (hk_db_sqlstate (d->db), "22P02") == 0 ? 0 : HK_EDB;
    }
    if (PQntuples (res) == 0 || strcmp (PQgetvalue (res, 0, 0), "dispatched") != 0) {
        HK_LOG (HK_INFO, "contact.skipped", HK_S ("contact", contact_id),
                HK_S ("status", PQntuples (res) ? PQgetvalue (res, 0, 0) : "unknown"));
        PQclear (res);
        hk_db_rollback (d->db);
        hk_metric_add (st->m_skipped, 1);
        return 0;
    }
    if (strcmp (PQgetvalue (res, 0, 2), d->tenant) != 0) {
        /* Another tenant's contact (queued before queues were per tenant): it is sent by that
         * tenant's instances, with that tenant's sender and transport, so it moves to that
         * tenant's queue; never sent from here, never dropped. */
        char queue[192];
        int rc = hk_notify_queue (PQgetvalue (res, 0, 1), PQgetvalue (res, 0, 2), queue,
                                  sizeof queue)
                         && hk_stream_add (d->redis, queue, contact_id, strlen (contact_id),
                                           NULL, 0)
                                == 0
                     ? 0
                     : HK_EREDIS;
        if (rc == 0) {
            HK_LOG (HK_WARN, "contact.requeued", HK_S ("contact", contact_id),
                    HK_S ("tenant", PQgetvalue (res, 0, 2)), HK_S ("queue", queue));
            hk_metric_add (st->m_requeued, 1);
        }
        PQclear (res);
        hk_db_rollback (d->db);
        return rc;
    }
    const char *debtor = PQgetvalue (res, 0, 3), *email = PQgetvalue (res, 0, 6);
    hk_notice_t n = {
        .contact_id = contact_id,
        .tenant = PQgetvalue (res, 0, 2),
        .debtor_name = PQgetvalue (res, 0, 5),
        .recipient = email,
        .sender = hk_config_str (d->config, "sender"),
        .invoice_id = PQgetvalue (res, 0, 4),
        .currency = PQgetvalue (res, 0, 7),
        .outstanding_minor = strtoll (PQgetvalue (res, 0, 8), NULL, 10),
        .due_on = PQgetvalue (res, 0, 9),
        .dpd = atoi (PQgetvalue (res, 0, 10)),
        .now_us = hk_clock_now (d->clock),
    };
    char ref[1100] = "", sha[HK_SHA256_HEX_LEN] = "", masked[160];
    const char *status = "accepted";
    int rc = 0;
    char *message = NULL;
    if (!*email) {
        status = "failed";
        snprintf (ref, sizeof ref, "debtor has no e-mail address");
    }
    else {
        message = hk_render_notice (&n);
        if (!message)
            rc = HK_ENOMEM;
        else {
            hk_sha256_hex (message, strlen (message), sha);
            if (strcmp (hk_config_str (d->config, "email_transport"), "smtp") == 0)
                rc = hk_channel_smtp_send (hk_config_str (d->config, "smtp_url"), n.sender,
                                           email, message, ref, sizeof ref);
            else
                rc = hk_channel_file_write (st->outbox, contact_id, message, ref, sizeof ref);
        }
    }
    if (rc != 0) {
        HK_LOG (HK_WARN, "send.retry", HK_S ("contact", contact_id), HK_S ("error", ref));
        free (message);
        PQclear (res);
        hk_db_rollback (d->db);
        hk_metric_add (st->m_failed, 1);
        return rc;
    }
    hk_mask_email (email, masked, sizeof masked);
    const char *ip[] = { contact_id, PQgetvalue (res, 0, 1), HK_NOTICE_TEMPLATE, email, sha,
                         status, ref, d->instance };
    if (hk_db_exec (d->db,
                    "INSERT INTO delivery (contact_id, channel, template, recipient,"
                    " content_sha256, status, delivery_ref, instance)"
                    " VALUES ($1::uuid, $2, $3, $4, $5, $6, $7, $8)",
                    8, ip)
            != 1
        || hk_db_exec (d->db,
                       "UPDATE contact SET status = CASE WHEN $2 = 'failed' THEN 'failed'"
                       " ELSE 'sent' END, updated_at = now() WHERE contact_id = $1::uuid",
                       2, (const char *[]) { contact_id, status })
               != 1)
        rc = HK_EDB;
    if (rc == 0) {
        Huikuan__V1__ContactSent cs = HUIKUAN__V1__CONTACT_SENT__INIT;
        cs.contact_id = (char *) contact_id;
        cs.channel = PQgetvalue (res, 0, 1);
        cs.template_ = HK_NOTICE_TEMPLATE;
        cs.recipient_masked = masked;
        cs.content_sha256 = sha;
        cs.delivery_status = (char *) status;
        cs.delivery_ref = ref;
        rc = hk_daemon_emit (d, "contact.sent", debtor, NULL, &cs.base);
    }
    if (rc == 0)
        rc = hk_db_commit (d->db);
    else
        hk_db_rollback (d->db);
    if (rc == 0) {
        hk_metric_add (st->m_sent, 1);
        HK_LOG (HK_INFO, "contact.sent", HK_S ("contact", contact_id), HK_EMAIL ("to", email),
                HK_S ("status", status));
    }
    free (message);
    PQclear (res);
    return rc;
}

/* One queue entry: the contact it names is sent, or skipped; the entry is acknowledged once
 * done with it, or after five deliveries. */
static void
s_deliver (hk_daemon_t *d, notification_t *st, const hk_queue_msg_t *msg)
{
    char id[64];
    snprintf (id, sizeof id, "%.*s", (int) (msg->len < 63 ? msg->len : 63), msg->data);
    if (s_send (d, st, id) == 0 || msg->deliveries > 5)
        hk_queue_ack (st->email, msg->id);
}

static int
s_on_tick (hk_daemon_t *d)
{
    notification_t *st = d->state;
    hk_queue_msg_t msgs[32];
    int n = hk_queue_read (st->email, msgs, 32, 0);
    for (int i = 0; i < n; i++)
        s_deliver (d, st, &msgs[i]);
    if (n > 0)
        hk_queue_batch_clear (msgs, n);
    return n;
}

/* A contact dispatched while the loop waited for work: sent at once, not at the next tick. */
static void
s_on_own (hk_daemon_t *d, hk_queue_msg_t *msg)
{
    s_deliver (d, d->state, msg);
    hk_queue_batch_clear (msg, 1);
}

static int
s_init (hk_daemon_t *d)
{
    notification_t *st = calloc (1, sizeof *st);
    if (!st)
        return HK_ENOMEM;
    d->state = st;
    const char *outbox = hk_config_str (d->config, "email_outbox");
    if (*outbox)
        snprintf (st->outbox, sizeof st->outbox, "%s", outbox);
    else
        snprintf (st->outbox, sizeof st->outbox, "%.900s/outbox/email",
                  hk_config_str (d->config, "run_dir"));
    if (hk_mkdirs (st->outbox) != 0) {
        HK_LOG (HK_ERROR, "outbox.unusable", HK_S ("dir", st->outbox), HK_S ("error", strerror (errno)));
        return HK_EIO;
    }
    char queue[192];
    if (!hk_notify_queue ("email", d->tenant, queue, sizeof queue))
        return HK_EINVAL;
    /* read by the kind's group (the tenant's own), so the loop waits on it between ticks;
     * before, by the group "notification" whatever the tenant: a contact that group left
     * unsent is read again, and one sent already is skipped (no longer 'dispatched') */
    st->email = hk_daemon_own_queue (d, queue, "notification");
    if (!st->email)
        return HK_ENOMEM;
    st->m_sent = hk_metric_counter ("hk_messages_sent_total", "Messages handed to a channel");
    st->m_skipped = hk_metric_counter ("hk_messages_skipped_total",
                                       "Dispatched contacts no longer due");
    st->m_failed = hk_metric_counter ("hk_messages_failed_total", "Channel failures (retried)");
    st->m_requeued = hk_metric_counter ("hk_messages_requeued_total",
                                        "Another tenant's contacts moved to its queue");
    return 0;
}

static void
s_fini (hk_daemon_t *d)
{
    notification_t *st = d->state;
    d->own_queue = NULL;
    if (st)
        hk_queue_destroy (&st->email);
    free (st);
    d->state = NULL;
}

int
main (int argc, char **argv)
{
    static const hk_daemon_def_t def = {
        .kind = "notification",
        .summary = "Sends dispatched contacts through their channel (e-mail: file outbox or "
                   "SMTP) and records each delivery.",
        .config = s_config,
        .init = s_init,
        .on_tick = s_on_tick,
        .on_own = s_on_own,
        .fini = s_fini,
    };
    return hk_daemon_main (argc, argv, &def);
}
