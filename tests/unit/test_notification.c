/* Self-test of notification: the written notice (R-N1 amount first) and the file channel. */
#include <stdlib.h>
#include <unistd.h>

#include "channel.h"
#include "check.h"
#include "huikuan/dates.h"
#include "huikuan/errcodes.h"
#include "render.h"

int
hk_notification_test (bool verbose)
{
    int failures = 0;
    int64_t now;
    hk_time_parse ("2026-03-12T09:00:00+08:00", &now);
    hk_notice_t n = {
        .contact_id = "0b7e2f3c-1111-4222-8333-944455556666",
        .tenant = "default",
        .debtor_name = "Acme",
        .recipient = "ap@acme.example",
        .sender = "collections@huikuan.invalid",
        .invoice_id = "INV-A",
        .currency = "CNY",
        .outstanding_minor = 100000,
        .due_on = "2026-03-10",
        .dpd = 2,
        .now_us = now,
    };
    char *msg = hk_render_notice (&n);
    CHECK (msg != NULL);
    if (msg) {
        CHECK (strstr (msg, "To: ap@acme.example\r\n") != NULL);
        CHECK (strstr (msg, "Date: Thu, 12 Mar 2026 01:00:00 +0000\r\n") != NULL);
        /* R-N1: the body opens with the amount */
        const char *body = strstr (msg, "\r\n\r\n");
        CHECK (body && strncmp (body + 4, "Amount due: 1000.00 CNY.", 24) == 0);
        CHECK (strstr (msg, "INV-A") != NULL);
        CHECK (strstr (msg, "2 days overdue") != NULL);
    }
    n.currency = "ZZZ";
    CHECK (hk_render_notice (&n) == NULL);

    char dir[] = "/tmp/hk_outbox_XXXXXX";
    CHECK (mkdtemp (dir) != NULL);
    char ref[1100];
    CHECK_INT (hk_channel_file_write (dir, n.contact_id, msg ? msg : "", ref, sizeof ref), 0);
    char path[1200];
    snprintf (path, sizeof path, "%s/%s.eml", dir, n.contact_id);
    CHECK_STR (ref, path);
    /* rewriting the same contact replaces, never adds */
    CHECK_INT (hk_channel_file_write (dir, n.contact_id, "second", ref, sizeof ref), 0);
    FILE *f = fopen (path, "r");
    char buf[32] = "";
    CHECK (f && fgets (buf, sizeof buf, f));
    CHECK_STR (buf, "second");
    if (f)
        fclose (f);
    unlink (path);
    rmdir (dir);
    CHECK_INT (hk_channel_file_write ("/nonexistent/dir", "x", "m", ref, sizeof ref), HK_EIO);
    /* SMTP to a port nobody listens on fails with a reason, not a crash */
    CHECK_INT (hk_channel_smtp_send ("smtp://127.0.0.1:1", "a@b.c", "d@e.f", "m", ref, sizeof ref),
               HK_EIO);
    CHECK (*ref != 0);
    free (msg);
    if (verbose)
        printf ("notification: %d failures\n", failures);
    return failures;
}
