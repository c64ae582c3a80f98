/* limitation: the limitation clock of a debt (R-L1, R-L2). Pure functions, no I/O, integer
 * arithmetic on civil day numbers (huikuan/dates.h).
 *
 * R-L1: the period runs from the day the creditor knew of the default (the due date) and
 * lasts N years, N per jurisdiction (default "CN": PRC Civil Code art. 188, three years).
 * R-L2: a lawsuit, a demand that reached the debtor, or the debtor's agreement to perform
 * (acknowledgement, repayment plan, interest paid, request for extension) interrupts the
 * period, which restarts from the interruption. Only interruptions recorded with evidence
 * count.
 *
 * Year arithmetic (Civil Code art. 201, 202): the period ends on the corresponding day N years
 * later (same month and day); when that day does not exist (Feb 29 -> a non-leap year) it
 * ends on the last day of that month (Feb 28). The end day is the last day on which the
 * claim is still in time. Art. 203 (an end day on a public holiday moves to the next working
 * day) is deliberately NOT applied: the clock errs on the early side, it never promises a
 * day the law might not give. */
#ifndef HK_LIMITATION_H
#define HK_LIMITATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One row of the jurisdiction table: data, not code. */
typedef struct {
    const char *code;  /* "CN" */
    const char *name;  /* human name of the rule */
    int years;         /* length of the ordinary period */
    const char *note;  /* legal basis and caveats, for the explanation */
} hk_limitation_rule_t;

/* The rule of jurisdiction code (exact, case-sensitive), or NULL when unknown. A NULL code
 * gives the default rule ("CN"). Returns a pointer into a static table: never freed. */
const hk_limitation_rule_t *hk_limitation_rule (const char *code);
/* Number of rows of the table and row i (NULL when out of range), for listing. */
size_t hk_limitation_rule_count (void);
const hk_limitation_rule_t *hk_limitation_rule_at (size_t i);

/* Kinds of interruption of R-L2. */
typedef enum {
    HK_INTERRUPT_LAWSUIT = 1,        /* suit filed (or arbitration, payment order) */
    HK_INTERRUPT_DEMAND,             /* creditor's demand that reached the debtor */
    HK_INTERRUPT_ACKNOWLEDGEMENT,    /* debtor acknowledges the debt (对账单, 对帐函, 欠条) */
    HK_INTERRUPT_REPAYMENT_PLAN,     /* debtor signs a repayment plan (还款计划书, 承诺书) */
    HK_INTERRUPT_INTEREST_PAID,      /* debtor pays interest or a part */
    HK_INTERRUPT_EXTENSION_REQUEST,  /* debtor asks for more time */
} hk_interruption_kind_t;

/* Short name of a kind ("lawsuit", "demand", ...), "unknown" for anything else. Static. */
const char *hk_interruption_kind_name (int kind);
/* The kind named by a feed value (docs/feeds.md: "lawsuit", "demand", "acknowledgement",
 * "repayment_plan", "interest_paid", "extension_request"; '-' is accepted for '_', so the
 * names above round-trip). 0 for anything else or NULL. */
int hk_interruption_kind_parse (const char *name);

typedef struct {
    int32_t date;                /* civil day number */
    int kind;                    /* hk_interruption_kind_t */
    bool has_evidence;           /* receipt, signature, recording ...: without it, ignored */
} hk_interruption_t;

#define HK_LIMITATION_MAX_WARNINGS 8

typedef struct {
    const char *jurisdiction;                /* NULL: the default "CN" */
    int32_t start;                           /* due date: the creditor knew of the default */
    const hk_interruption_t *interruptions;  /* may be NULL when count is 0; not kept */
    size_t interruption_count;
    int32_t today;                           /* tenant-local date of the evaluation */
    const int32_t *warn_days;                /* days-left offsets; NULL: 180, 90, 30 */
    size_t warn_count;                       /* <= HK_LIMITATION_MAX_WARNINGS */
} hk_limitation_input_t;

typedef struct {
    const hk_limitation_rule_t *rule;  /* static table row */
    int32_t effective_start;  /* the latest counted interruption, else the start */
    int counted;              /* index of that interruption in the input, -1 for none */
    int32_t expiry;           /* last day the claim is in time */
    int32_t days_left;        /* expiry - today: 0 on the last day, negative once expired */
    bool expired;             /* today > expiry */
    /* Warnings: bit i of warnings_due is set when days_left <= warn_days[i]; warning is the
     * most urgent offset reached (the smallest offset >= days_left), 0 when none is. At 95
     * days left with 180, 90, 30: warnings_due = 0x1, warning = 180; at 90: 0x3, 90. */
    uint32_t warnings_due;
    int32_t warning;
    /* Interruptions that did not count, by reason. */
    int ignored_no_evidence;
    int ignored_before_start;   /* before the start: nothing to interrupt yet */
    int ignored_future;         /* after today: not yet happened */
    int ignored_after_expiry;   /* after the running period had already ended */
    /* An agreement to perform after expiry (acknowledgement, plan, interest, extension) may
     * bar the debtor from pleading the expiry (art. 192): a matter for legal review. */
    bool waiver_possible;
    char explanation[640];  /* one line: rule IDs, dates, each ignored interruption (cut when
                             * too long; the counts above are always complete) */
} hk_limitation_t;

/* Day number of date + years, on the corresponding day, or the month's last day when that
 * day does not exist (2024-02-29 + 3 years = 2027-02-28). */
int32_t hk_limitation_add_years (int32_t date, int years);

/* Computes the clock. Interruptions are taken in date order whatever their order in the
 * array: each counted one (with evidence, on or after the start, not after today, not after
 * the end of the period then running) restarts the period; several: the latest counts.
 * Returns 0, HK_EINVAL (NULL argument, unknown kind, bad warning offsets) or HK_ENOTFOUND
 * (unknown jurisdiction); out is filled only on 0. */
int hk_limitation_compute (const hk_limitation_input_t *in, hk_limitation_t *out);

/* Days after in->today through which out (hk_limitation_compute of in) stays the same when
 * only the date moves: the expiry, the most urgent warning reached and whether it expired; an
 * interruption dated after today that will count (with evidence, after the start, not after
 * the expiry) counts from its day. INT32_MAX when nothing changes again. */
int32_t hk_limitation_steady_days (const hk_limitation_input_t *in, const hk_limitation_t *out);

#endif
