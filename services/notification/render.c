/* render: the written notice e-mail. */
#include "render.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "huikuan/dates.h"
#include "huikuan/money.h"

/* RFC 5322 date from an instant, in UTC. */
static void
s_rfc5322_date (int64_t us, char *buf, size_t len)
{
    static const char *const days[] = { "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun" };
    static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    int64_t secs = us / HK_US_PER_SEC;
    int32_t day = (int32_t) (secs / 86400);
    int sod = (int) (secs % 86400);
    int y, m, d;
    hk_date_to_ymd (day, &y, &m, &d);
    snprintf (buf, len, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[hk_date_weekday (day) - 1], d,
              months[m - 1], y, sod / 3600, sod % 3600 / 60, sod % 60);
}

char *
hk_render_notice (const hk_notice_t *n)
{
    char amount[40], date[64];
    if (hk_money_format (n->outstanding_minor, n->currency, amount, sizeof amount) < 0)
        return NULL;
    s_rfc5322_date (n->now_us, date, sizeof date);
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream (&out, &len);
    if (!f)
        return NULL;
    /* R-N1: the amount comes first, in the subject and the first line. */
    fprintf (f,
             "From: %s\r\n"
             "To: %s\r\n"
             "Subject: =?UTF-8?Q?Payment_reminder:_%s_%s_overdue?=\r\n"
             "Date: %s\r\n"
             "Message-ID: <%s@huikuan>\r\n"
             "X-Huikuan-Template: " HK_NOTICE_TEMPLATE "\r\n"
             "MIME-Version: 1.0\r\n"
             "Content-Type: text/plain; charset=UTF-8\r\n"
             "Content-Transfer-Encoding: 8bit\r\n"
             "\r\n",
             n->sender, n->recipient, amount, n->currency, date, n->contact_id);
    fprintf (f, "Amount due: %s %s.\r\n", amount, n->currency);
    fprintf (f, "Invoice %s was due on %s.\r\n", n->invoice_id, n->due_on);
    fprintf (f, "It is %d day%s overdue.\r\n\r\n", n->dpd, n->dpd == 1 ? "" : "s");
    fprintf (f, "%s%s,\r\n", *n->debtor_name ? "Dear " : "Dear customer", n->debtor_name);
    fprintf (f, "please pay the full amount now.\r\n");
    fprintf (f, "If you have paid already, thank you:\r\n");
    fprintf (f, "reply with the payment date.\r\n\r\n");
    fprintf (f, "应付金额：%s %s。\r\n", amount, n->currency);
    fprintf (f, "发票 %s 已于 %s 到期。\r\n", n->invoice_id, n->due_on);
    fprintf (f, "请尽快全额付款。\r\n");
    if (fclose (f) != 0) {
        free (out);
        return NULL;
    }
    return out;
}
