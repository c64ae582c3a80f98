/* feed: the project's own feed schema (CSV, header row decides the kind) and the validation of
 * one row into a typed record. Pure: no I/O. Rule R-T1: an invoice without a concrete due date
 * is rejected, naming the field. */
#ifndef HK_INGESTION_FEED_H
#define HK_INGESTION_FEED_H

#include <stdbool.h>
#include <stdint.h>

typedef enum { HK_FEED_UNKNOWN = 0, HK_FEED_INVOICES, HK_FEED_PAYMENTS } hk_feed_kind_t;

/* Column positions of the known fields in a header; -1 when absent. */
#define HK_FEED_MAX_COLS 16
typedef struct {
    hk_feed_kind_t kind;
    int col[HK_FEED_MAX_COLS];
    char missing[128];        /* required columns absent, when kind is UNKNOWN */
} hk_feed_header_t;

/* Recognises the header row: invoices
 *   invoice_id,debtor_id,debtor_name,debtor_email,currency,amount,issued_on,due_on
 * or payments
 *   payment_id,debtor_id,invoice_id,currency,amount,received_at
 * in any column order, names case-insensitive; extra columns are ignored. */
void hk_feed_header (char *const *names, int n, hk_feed_header_t *out);
const char *hk_feed_kind_name (hk_feed_kind_t kind);

typedef struct {
    const char *invoice_id, *debtor_id, *debtor_name, *debtor_email;  /* point into the row */
    char currency[4];
    int64_t amount_minor;
    bool has_issued_on;
    int32_t issued_on, due_on;   /* day numbers */
} hk_invoice_row_t;

typedef struct {
    const char *payment_id, *debtor_id, *invoice_id;  /* invoice_id "" = oldest first */
    char currency[4];
    int64_t amount_minor;
    int64_t received_at_us;
} hk_payment_row_t;

typedef struct {
    char field[32];
    char reason[192];
} hk_row_error_t;

/* Validate one data row. Return 0, or HK_EINVAL with the first bad field and why. */
int hk_feed_invoice (const hk_feed_header_t *h, char *const *fields, int n,
                     hk_invoice_row_t *out, hk_row_error_t *err);
int hk_feed_payment (const hk_feed_header_t *h, char *const *fields, int n,
                     hk_payment_row_t *out, hk_row_error_t *err);

/* Payment allocation (R-C6; ingestion issue): the referenced invoice first when given (the
 * caller orders it first), then oldest first. outstanding[i] > 0 in that order; writes
 * alloc[i] and returns what is left over (credit or parked for review). Pure. */
int64_t hk_feed_allocate (int64_t amount, const int64_t *outstanding, int n, int64_t *alloc);

#endif
