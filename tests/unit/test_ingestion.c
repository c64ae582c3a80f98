/* Self-test of the ingestion daemon's pure parts: the CSV reader, header recognition, row
 * validation (R-T1) and payment allocation (R-C6). */
#include <stdlib.h>

#include "check.h"
#include "csv.h"
#include "feed.h"
#include "huikuan/dates.h"
#include "huikuan/errcodes.h"

static int
s_csv (void)
{
    int failures = 0;
    const char *text = "\xEF\xBB\xBF" "a,b,c\r\n"
                       "1,\"two, with comma\",3\r\n"
                       "\n"
                       "\"multi\nline\",\"say \"\"hi\"\"\",\r\n"
                       "last,row";
    FILE *f = fmemopen ((void *) text, strlen (text), "r");
    hk_csv_t *csv = hk_csv_new (f, ',');
    char **fields;
    int n;
    long line;
    CHECK_INT (hk_csv_next (csv, &fields, &n, &line), 1);
    CHECK_INT (n, 3);
    CHECK_STR (fields[0], "a"); /* BOM skipped */
    CHECK_INT (line, 1);
    CHECK_INT (hk_csv_next (csv, &fields, &n, &line), 1);
    CHECK_STR (fields[1], "two, with comma");
    CHECK_INT (line, 2);
    CHECK_INT (hk_csv_next (csv, &fields, &n, &line), 1);
    CHECK_INT (line, 4); /* blank line 3 skipped */
    CHECK_STR (fields[0], "multi\nline");
    CHECK_STR (fields[1], "say \"hi\"");
    CHECK_INT (n, 3);
    CHECK_STR (fields[2], "");
    CHECK_INT (hk_csv_next (csv, &fields, &n, &line), 1);
    CHECK_INT (line, 6);
    CHECK_STR (fields[1], "row");
    CHECK_INT (hk_csv_next (csv, &fields, &n, &line), 0);
    hk_csv_destroy (&csv);
    CHECK (csv == NULL);
    fclose (f);

    const char *broken = "a,b\n\"open,never closed\n";
    f = fmemopen ((void *) broken, strlen (broken), "r");
    csv = hk_csv_new (f, ',');
    CHECK_INT (hk_csv_next (csv, &fields, &n, &line), 1);
    CHECK_INT (hk_csv_next (csv, &fields, &n, &line), HK_EPARSE);
    CHECK (strstr (hk_csv_error (csv), "line 2") != NULL);
    hk_csv_destroy (&csv);
    fclose (f);
    return failures;
}

int
hk_ingestion_test (bool verbose)
{
    int failures = s_csv ();
    hk_feed_header_t h;
    char *inv_header[] = { "invoice_id", "debtor_id", "debtor_name", "debtor_email", "currency",
                           "amount", "issued_on", "due_on" };
    hk_feed_header (inv_header, 8, &h);
    CHECK_INT (h.kind, HK_FEED_INVOICES);
    char *pay_header[] = { "Payment_ID", "debtor_id", "invoice_id", "currency", "amount",
                           "received_at", "extra" };
    hk_feed_header (pay_header, 7, &h);
    CHECK_INT (h.kind, HK_FEED_PAYMENTS);
    char *bad_header[] = { "invoice_id", "debtor_id", "amount" };
    hk_feed_header (bad_header, 3, &h);
    CHECK_INT (h.kind, HK_FEED_UNKNOWN);
    CHECK (strstr (h.missing, "currency") && strstr (h.missing, "due_on"));

    hk_feed_header (inv_header, 8, &h);
    hk_invoice_row_t inv;
    hk_row_error_t err;
    char r1[][40] = { "INV-1", "D1", "Acme", "ap@acme.cn", "CNY", "1000.50", "2026-02-01", "2026-03-10" };
    char *row[8];
    for (int i = 0; i < 8; i++)
        row[i] = r1[i];
    CHECK_INT (hk_feed_invoice (&h, row, 8, &inv, &err), 0);
    CHECK_INT (inv.amount_minor, 100050);
    CHECK_INT (inv.due_on, hk_date_from_ymd (2026, 3, 10));
    CHECK (inv.has_issued_on);
    /* R-T1: no due date, or a vague one, is rejected naming the field */
    row[7] = "";
    CHECK_INT (hk_feed_invoice (&h, row, 8, &inv, &err), HK_EINVAL);
    CHECK_STR (err.field, "due_on");
    CHECK (strstr (err.reason, "R-T1") != NULL);
    row[7] = "售完后付款";
    CHECK_INT (hk_feed_invoice (&h, row, 8, &inv, &err), HK_EINVAL);
    CHECK_STR (err.field, "due_on");
    row[7] = "2026-01-10"; /* before issue date */
    CHECK_INT (hk_feed_invoice (&h, row, 8, &inv, &err), HK_EINVAL);
    row[7] = r1[7];
    row[5] = "10.505"; /* would need rounding */
    CHECK_INT (hk_feed_invoice (&h, row, 8, &inv, &err), HK_EINVAL);
    CHECK_STR (err.field, "amount");
    row[5] = r1[5];
    row[4] = "RMB";
    CHECK_INT (hk_feed_invoice (&h, row, 8, &inv, &err), HK_EINVAL);
    CHECK_STR (err.field, "currency");
    row[4] = r1[4];
    row[0] = "";
    CHECK_INT (hk_feed_invoice (&h, row, 8, &inv, &err), HK_EINVAL);
    CHECK_STR (err.field, "invoice_id");
    row[0] = r1[0];
    row[3] = "not-an-address";
    CHECK_INT (hk_feed_invoice (&h, row, 8, &inv, &err), HK_EINVAL);
    CHECK (strstr (err.reason, "not-an-address") == NULL); /* PII stays out of reports */
    row[3] = r1[3];
    CHECK_INT (hk_feed_invoice (&h, row, 6, &inv, &err), HK_EINVAL); /* short row */
    CHECK_STR (err.field, "due_on");

    hk_feed_header (pay_header, 7, &h);
    hk_payment_row_t pay;
    char p1[][40] = { "P1", "D1", "", "JPY", "5000", "2026-03-12T08:30:00+08:00", "x" };
    char *prow[7];
    for (int i = 0; i < 7; i++)
        prow[i] = p1[i];
    CHECK_INT (hk_feed_payment (&h, prow, 7, &pay, &err), 0);
    CHECK_INT (pay.amount_minor, 5000);
    CHECK_STR (pay.invoice_id, "");
    prow[5] = "2026-03-12 08:30"; /* no offset */
    CHECK_INT (hk_feed_payment (&h, prow, 7, &pay, &err), HK_EINVAL);
    CHECK_STR (err.field, "received_at");
    prow[5] = p1[5];
    prow[4] = "0";
    CHECK_INT (hk_feed_payment (&h, prow, 7, &pay, &err), HK_EINVAL);
    CHECK_STR (err.field, "amount");

    /* allocation: referenced/oldest first, partial leaves a remainder (R-C6), over is credit */
    int64_t outstanding[] = { 300, 500, 200 }, alloc[3];
    CHECK_INT (hk_feed_allocate (600, outstanding, 3, alloc), 0);
    CHECK (alloc[0] == 300 && alloc[1] == 300 && alloc[2] == 0);
    CHECK_INT (hk_feed_allocate (1100, outstanding, 3, alloc), 100);
    CHECK (alloc[0] == 300 && alloc[1] == 500 && alloc[2] == 200);
    CHECK_INT (hk_feed_allocate (50, outstanding, 0, alloc), 50);
    if (verbose)
        printf ("ingestion: %d failures\n", failures);
    return failures;
}
