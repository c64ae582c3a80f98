/* feed: validation of one canonical record (record.h) into a typed fact, per kind, and the
 * payment allocation rule. Pure: no I/O. Field names and rules: docs/feeds.md.
 * R-T1: an invoice without a concrete due date is rejected, naming the field. */
#ifndef HK_INGESTION_FEED_H
#define HK_INGESTION_FEED_H

#include <stdbool.h>
#include <stdint.h>

#include "record.h"

typedef struct {
    char field[32];
    char reason[192];
} hk_row_error_t;

/* Strings point into the record's values and live as long as they do. "" when absent. */
typedef struct {
    const char *debtor_id, *name, *size_class, *time_zone, *calendar, *address, *email, *phone,
        *country, *cause_of_default, *reachability;
    int uncooperative;           /* 1 uncooperative, 0 cooperative, -1 not stated (R-A5) */
    int do_not_contact;          /* 1, 0, or -1 not stated */
    int bankrupt;                /* 1, 0, or -1 not stated */
    int closure;                 /* known closure or demolition (R-A7): 1, 0, or -1 */
    int clearance_sale;          /* clearance sales (R-A7): 1, 0, or -1 */
    bool has_distance;
    int32_t distance_km;
    bool has_limit;
    int64_t credit_limit_minor;
    char currency[4];
} hk_debtor_fact_t;

typedef struct {
    const char *contact_id, *debtor_id, *role, *name, *phone, *email, *postal_address;
} hk_contact_fact_t;

typedef struct {
    const char *contract_id, *debtor_id, *terms, *signed_by;
    int32_t period_day;          /* 0 when not periodic */
    bool has_due_on, has_signed_on;
    int32_t due_on, signed_on;
    int sealed;                  /* 1 sealed, 0 not sealed, -1 not stated (R-T4) */
} hk_contract_fact_t;

typedef struct {
    const char *invoice_id, *debtor_id, *debtor_name, *debtor_email, *contract_id;
    char currency[4];
    int64_t amount_minor;
    bool has_issued_on;
    int32_t issued_on, due_on;   /* day numbers */
} hk_invoice_row_t;

typedef struct {
    const char *credit_note_id, *debtor_id, *invoice_id;
    char currency[4];
    int64_t amount_minor;
    bool has_issued_on;
    int32_t issued_on;
} hk_credit_note_fact_t;

typedef struct {
    const char *payment_id, *debtor_id, *invoice_id, *reference, *payer_name, *payer_account;
    char currency[4];
    int64_t amount_minor;
    int64_t received_at_us;
} hk_payment_row_t;

typedef struct {
    const char *promise_id, *debtor_id, *invoice_id;
    char currency[4];
    int64_t amount_minor;
    int64_t promised_at_us;
    bool has_recorded_at;
    int64_t recorded_at_us;
} hk_promise_fact_t;

typedef struct {
    const char *dispute_id, *debtor_id, *invoice_id, *reason, *status;
    char currency[4];
    bool has_amount, has_resolved_on;
    int64_t amount_minor;
    int32_t opened_on, resolved_on;
} hk_dispute_fact_t;

typedef struct {
    const char *debtor_id, *note;
    int32_t expected_on;
} hk_incoming_fact_t;

typedef struct {
    const char *delivery_id, *debtor_id, *contract_id;
    int32_t delivered_on;
    char currency[4];
    bool has_amount, has_quantity;
    int64_t amount_minor, quantity;
} hk_delivery_fact_t;

/* R-L2: interruption is one of lawsuit, demand, acknowledgement, repayment_plan,
 * interest_paid, extension_request; evidence "" when none was given (recorded, not counted). */
typedef struct {
    const char *interruption_id, *debtor_id, *invoice_id, *interruption, *evidence;
    int32_t occurred_on;
} hk_interruption_fact_t;

/* What came of a dispatched contact: outcome is one of reached, no_answer, left_message,
 * wrong_number, hostile, refused, delivered, returned, no_supply_no_payment (the debtor's
 * threat "no supply, no payment", R-H2). */
typedef struct {
    const char *outcome_id, *task_id, *outcome, *note;
    int64_t occurred_at_us;
} hk_outcome_fact_t;

typedef struct {
    hk_record_kind_t kind;
    union {
        hk_debtor_fact_t debtor;
        hk_contact_fact_t contact;
        hk_contract_fact_t contract;
        hk_invoice_row_t invoice;
        hk_credit_note_fact_t credit_note;
        hk_payment_row_t payment;
        hk_promise_fact_t promise;
        hk_dispute_fact_t dispute;
        hk_incoming_fact_t incoming;
        hk_delivery_fact_t delivery;
        hk_interruption_fact_t interruption;
        hk_outcome_fact_t outcome;
    } u;
} hk_fact_t;

/* Validates rec into out. Returns 0, or HK_EINVAL with the first bad field and why (values
 * that are personal data are never quoted in the reason). */
int hk_feed_validate (const hk_record_t *rec, hk_fact_t *out, hk_row_error_t *err);

/* The kind a project-CSV header describes when it has no "kind" column: the kind whose
 * identifying columns are present (payment_id → payment, credit_note_id → credit note, ...,
 * invoice_id with due_on → invoice, debtor_id alone → debtor). HK_REC_UNKNOWN when none;
 * missing (may be NULL) then lists what an invoice feed lacks. */
hk_record_kind_t hk_feed_kind_of_header (char *const *names, int n, char *missing, size_t len);

/* Payment allocation (R-C6): the referenced invoice first when given (the caller orders it
 * first), then oldest first. outstanding[i] > 0 in that order; writes alloc[i] and returns
 * what is left over (credit or parked for review). Pure. */
int64_t hk_feed_allocate (int64_t amount, const int64_t *outstanding, int n, int64_t *alloc);

#endif
