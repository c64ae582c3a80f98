/* Fuzz target: the streaming CSV reader and the project-schema row validation. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "csv.h"
#include "feed.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    FILE *f = fmemopen ((void *) data, size, "r");
    if (!f)
        return 0;
    hk_csv_t *csv = hk_csv_new (f, ',');
    char **fields;
    int n;
    long line;
    hk_feed_header_t header = { 0 };
    bool first = true;
    while (csv && hk_csv_next (csv, &fields, &n, &line) == 1) {
        if (first) {
            hk_feed_header (fields, n, &header);
            first = false;
            continue;
        }
        hk_row_error_t err;
        if (header.kind == HK_FEED_INVOICES) {
            hk_invoice_row_t r;
            hk_feed_invoice (&header, fields, n, &r, &err);
        }
        else if (header.kind == HK_FEED_PAYMENTS) {
            hk_payment_row_t r;
            hk_feed_payment (&header, fields, n, &r, &err);
        }
    }
    hk_csv_destroy (&csv);
    fclose (f);
    return 0;
}
