/* record: what every feed reader produces and the validators consume.
 *
 * A reader (project CSV, JSON Lines, mapped CSV, camt.053/054, BAI2) turns its input into
 * records in the project's canonical schema: a kind and named text fields, with values already
 * in canonical form (amounts as plain decimals with '.', dates YYYY-MM-DD, instants RFC 3339
 * with an offset, booleans true/false). The field names per kind are the documented feed
 * schema (docs/feeds.md). Readers never touch the database; the daemon validates each record
 * (feed.c) and applies it.
 *
 * A reader reports three things through a sink: a record, a rejected row (line, field,
 * reason: the row is skipped, the file goes on), or it returns HK_EPARSE with a reason when the
 * file as a whole is not what it claims (then nothing of it is applied). */
#ifndef HK_INGESTION_RECORD_H
#define HK_INGESTION_RECORD_H

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    HK_REC_UNKNOWN = 0,
    HK_REC_DEBTOR,            /* customer: size class, zone, calendar, address, distance, limit */
    HK_REC_CONTACT,           /* a person at a debtor, with role (R-C3) */
    HK_REC_CONTRACT,          /* settlement terms (R-T2), signer and seal (R-T4) */
    HK_REC_INVOICE,           /* a receivable (R-T1) */
    HK_REC_CREDIT_NOTE,       /* reduces what a debtor owes */
    HK_REC_PAYMENT,           /* money received, with allocation hints */
    HK_REC_PROMISE,           /* promise to pay (R-C5) */
    HK_REC_DISPUTE,           /* dispute on an invoice (R-C8) */
    HK_REC_INCOMING_PAYMENT,  /* a debtor's known incoming-payment date (R-S3) */
    HK_REC_DELIVERY,          /* delivery / order (R-H1, R-A7) */
    HK_REC_LIMITATION_INTERRUPTION, /* interruption of a limitation period (R-L2) */
    HK_REC_CONTACT_OUTCOME,   /* what came of a dispatched contact (R-C1, R-C3, R-C4) */
    HK_REC_KIND_COUNT
} hk_record_kind_t;

/* "invoice", "credit_note" ... ; NULL for HK_REC_UNKNOWN. */
const char *hk_record_kind_name (hk_record_kind_t kind);
/* Inverse of the above; HK_REC_UNKNOWN for other names. Accepts "debtor" and "customer". */
hk_record_kind_t hk_record_kind_parse (const char *name);

#define HK_RECORD_MAX_FIELDS 32

typedef struct {
    const char *name;    /* canonical field name, e.g. "due_on" */
    const char *value;   /* canonical text; "" means absent */
} hk_field_t;

typedef struct {
    hk_record_kind_t kind;
    long line;           /* 1-based line (or entry number for XML) in the source, for reports */
    int nfields;
    hk_field_t fields[HK_RECORD_MAX_FIELDS];
} hk_record_t;

/* Value of a field, or "" when absent. Never NULL. */
const char *hk_record_get (const hk_record_t *rec, const char *name);
/* Adds or replaces a field; pointers are borrowed (they must live until the sink returns).
 * Returns 0 or HK_EINVAL when the record is full. */
int hk_record_set (hk_record_t *rec, const char *name, const char *value);

typedef struct {
    void *arg;
    /* One record. The record and its strings are valid only during the call. Return 0 to go
     * on, negative to stop the reader (the reader returns that code). */
    int (*record) (void *arg, const hk_record_t *rec);
    /* A row that cannot become a record: skipped, reported, the file goes on. */
    void (*reject) (void *arg, long line, const char *field, const char *reason);
    /* Optional: told before the first record when every record of the file is of one kind
     * (a CSV file whose header names the kind). Returns 0 or negative as record does. */
    int (*one_kind) (void *arg, hk_record_kind_t kind);
} hk_sink_t;

#endif
