/* risk: risk grade (R-A2, R-A8), recovery curve (R-A3), priority (R-A4), stance (R-A5),
 * cause of default (R-A6), early-warning signals (R-A7) and credit hold (R-H1, R-H2).
 *
 * Pure functions: plain structs in, plain structs out, no I/O, no allocation. Money is int64
 * minor units, rates are basis points (10000 = 100%); no floating point anywhere. Every
 * threshold is a field of hk_risk_policy_t; hk_risk_policy_default sets the DOMAIN.md values
 * and is the only place they live. Every function taking a policy accepts NULL for the
 * defaults. Nothing here hands out pointers that need freeing: reason texts live in the out
 * structs, rule ids are static strings. */
#ifndef HK_AGING_RISK_H
#define HK_AGING_RISK_H

#include <stdbool.h>
#include <stdint.h>

#define HK_RISK_MAX_REASONS 16 /* more conditions than that cannot hold at once */
#define HK_RISK_CURVE_MAX 8
#define HK_RISK_TEXT 96

typedef enum {
    HK_REACH_REACHABLE = 0, /* 可联 */
    HK_REACH_HALF_LOST,     /* 半失联: only relatives or other contacts answer */
    HK_REACH_LOST,          /* 失联: goes to tracing, not to the dialler */
} hk_reach_t;

typedef enum {
    HK_GRADE_DEAD = 1,       /* 死账 */
    HK_GRADE_BAD = 2,        /* 呆账 */
    HK_GRADE_DOUBTFUL = 3,   /* 准呆账 */
    HK_GRADE_COLLECTING = 4, /* 催收款 */
    HK_GRADE_NOT_DUE = 5,    /* 未收款 */
} hk_grade_t;

typedef struct {
    int32_t max_dpd; /* inclusive upper bound of dpd for this point */
    int32_t bp;      /* expected recovery, basis points */
} hk_curve_point_t;

typedef struct {
    /* Grade (R-A2). dpd thresholds are "more than": dpd > x. */
    int32_t doubtful_dpd;           /* 365: overdue more than this -> 3 */
    int32_t doubtful_promises;      /* 2: this many broken promises ... */
    int32_t doubtful_promises_dpd;  /* 90: ... and at least this dpd -> 3 */
    int32_t doubtful_no_contact;    /* 180: no contact for at least this (or never) ... */
    int32_t doubtful_no_contact_dpd; /* 90: ... and at least this dpd -> 3 */
    int32_t doubtful_dispute_dpd;   /* 180: open dispute and dpd more than this -> 3 */
    bool lost_is_doubtful;          /* true: lost (R-A8) and overdue -> 3 */
    int32_t bad_dpd;                /* 730: overdue more than this -> 2 */
    int32_t bad_closure_no_contact; /* 180: closure signal and no contact for at least this
                                       (or never) -> 2 */
    /* Recovery curve (R-A3): points by ascending max_dpd; a dpd past the last point takes the
     * last point's rate. Default (730, 8000), (INT32_MAX, 2000). */
    hk_curve_point_t curve[HK_RISK_CURVE_MAX];
    int curve_n;
    /* Priority (R-A4): weights are the most points each part can give; the weights plus
     * 3 * w_signal must not exceed 1000 so that the score is the plain sum of its parts. */
    int32_t w_age;         /* 250 */
    int32_t w_amount;      /* 200 */
    int32_t w_credit;      /* 100 */
    int32_t w_cooperation; /* 150 */
    int32_t w_capital;     /* 100 */
    int32_t w_distance;    /* 50 */
    int32_t w_signal;      /* 50 per early-warning signal (R-A7), up to three */
    int32_t age_full_dpd;        /* 365: dpd at which the age part is full */
    int32_t age_step_days;       /* 30: the age part counts each step begun (a month), so it
                                    moves once a step, not every day (hk_priority_steady_days) */
    int64_t amount_full_minor;   /* 10000000 (100 000.00): outstanding at which the amount part
                                    is full */
    int32_t distance_full_km;    /* 500: distance at which the distance part is full */
    /* Signals (R-A7). */
    int32_t volume_drop_bp;      /* 5000: last month below the mean by at least this */
    int32_t delay_increasing_k;  /* 3: the last k payments strictly later each time */
    int32_t delay_margin_days;   /* 10: latest half later than the earlier half by more */
    int32_t delay_min_payments;  /* 4: history needed for the halves comparison */
    /* Credit hold (R-H1). */
    int32_t hold_grace_days;     /* 0: periodic/one-off terms hold once dpd > this */
} hk_risk_policy_t;

/* Sets the DOMAIN.md defaults listed beside each field above. */
void hk_risk_policy_default (hk_risk_policy_t *policy);

/* ---- Grade (R-A2, with R-A8 reachability and R-A7 signals) ---- */

typedef struct {
    int32_t as_of;               /* the day graded: reasons name dates, not day counts, so a
                                    stored reason stays true for as long as the grade holds */
    int32_t dpd;                 /* days past due of the oldest open invoice (R-A1) */
    int64_t outstanding_minor;   /* open amount */
    int32_t broken_promises;     /* promises to pay not kept */
    int32_t days_since_contact;  /* since last successful contact, -1 = never */
    bool dispute_open;
    hk_reach_t reach;            /* R-A8 */
    bool signal_closure;         /* R-A7 known closure/demolition */
    bool signal_volume_drop;     /* R-A7 */
    bool signal_delay;           /* R-A7 lengthening payment delay */
    bool signal_clearance;       /* R-A7 clearance sales (清仓), from the feed */
    bool bankrupt;
    bool written_off;
} hk_risk_input_t;

typedef struct {
    const char *rule;         /* "R-A2", "R-A7", "R-A8" ... static */
    hk_grade_t grade;         /* the grade this condition alone leads to */
    char text[HK_RISK_TEXT];  /* short, with the numbers that triggered it */
} hk_risk_reason_t;

typedef struct {
    hk_grade_t grade;
    int n_reasons;
    hk_risk_reason_t reasons[HK_RISK_MAX_REASONS];
} hk_risk_grade_result_t;

/* Grade of a debtor or invoice: the lowest (worst) grade among the conditions that hold, all
 * of which are listed as reasons (those at 4 or 5 included, so the list explains the whole
 * picture). Conditions, with the policy fields in brackets:
 *   1  written off; bankrupt
 *   2  dpd > [bad_dpd]; closure signal and no contact >= [bad_closure_no_contact] days or never
 *   3  dpd > [doubtful_dpd]; lost and [lost_is_doubtful]; broken promises >= [doubtful_promises]
 *      and dpd >= [doubtful_promises_dpd]; no contact >= [doubtful_no_contact] days or never,
 *      and dpd >= [doubtful_no_contact_dpd]; open dispute and dpd > [doubtful_dispute_dpd]
 *   4  overdue (dpd > 0); half-lost, volume-drop, delay and clearance-sale signals, a closure
 *      without the contact gap, and an open dispute are listed at 4 (they feed priority, not
 *      the grade)
 *   5  not yet due (dpd <= 0)
 * Only written-off / bankrupt move a not-yet-due debtor below 5: the other conditions need
 * the debt to be overdue. Returns 0, or HK_EINVAL when in or out is NULL. */
int hk_risk_grade (const hk_risk_policy_t *policy, const hk_risk_input_t *in,
                   hk_risk_grade_result_t *out);

/* The results' change points, for the daily run (it re-ages only what reached one). When
 * nothing but the date changes, dpd and days_since_contact (when >= 0) grow by one a day:
 * hk_risk_steady_days is how many days after in->as_of the grade, its reasons and the
 * recovery (hk_recovery_bp) stay what they are on in->as_of (0: they may change tomorrow);
 * HK_STEADY_FOREVER when no date moves them. Never too late; a day early is harmless (the
 * results are computed again and found equal). */
#define HK_STEADY_FOREVER INT32_MAX
int32_t hk_risk_steady_days (const hk_risk_policy_t *policy, const hk_risk_input_t *in);

/* Chinese name of a grade (未收款 ... 死账), static; "" when out of range. */
const char *hk_grade_name (hk_grade_t grade);

/* ---- Recovery (R-A3) ---- */

/* Expected recovery in basis points at this dpd: the first curve point with dpd <= max_dpd
 * (not-yet-due counts as the first point). Default 8000 for dpd <= 730, 2000 beyond. */
int32_t hk_recovery_bp (const hk_risk_policy_t *policy, int32_t dpd);

/* Expected recoverable amount = floor (outstanding_minor * bp / 10000). Rounded DOWN on
 * purpose: an expectation must never promise a minor unit we may not collect, and flooring
 * each piece keeps any sum of pieces <= the same sum rounded once (a per-bucket total computed
 * from summed outstanding can exceed the sum of per-invoice floors by at most n-1 minor units;
 * report one or the other, not a mix). Exact for the whole int64 range (no overflow).
 * outstanding <= 0 gives 0; bp is clamped to 0..10000. */
int64_t hk_expected_recoverable (int64_t outstanding_minor, int32_t bp);

/* ---- Priority (R-A4, R-A7) ---- */

typedef struct {
    int32_t dpd;
    int64_t outstanding_minor;
    int32_t creditworthiness; /* 0..100, 100 = excellent; poor credit ranks higher */
    int32_t cooperation;      /* 0..100, 100 = fully cooperative (为人情况); less ranks higher */
    int32_t capital_strength; /* 0..100 (资金实力); weak capital ranks higher: the money may
                                 be gone before we come */
    int32_t distance_km;      /* from the company; far ranks higher: harder to watch */
    bool signal_closure;      /* R-A7 */
    bool signal_volume_drop;
    bool signal_delay;
    bool signal_clearance;
} hk_priority_input_t;

typedef struct {
    int32_t score; /* 0..1000, always the sum of the parts below */
    int32_t age, amount, credit, cooperation, capital, distance, signal;
} hk_priority_t;

/* Priority score as a weighted sum: each part is floor (weight * level / 1000) with level
 * 0..1000 (linear up to the policy's "full" point, inputs clamped to their ranges; the age
 * part's dpd counts each [age_step_days] step begun: 1..30 days as 30), and the
 * signal part is w_signal per signal, three at most (of closure, volume drop, delay and
 * clearance sales). Returns 0, or HK_EINVAL when in or out is NULL or the policy's weights
 * are negative or sum (with 3 * w_signal) above 1000. */
int hk_priority (const hk_risk_policy_t *policy, const hk_priority_input_t *in,
                 hk_priority_t *out);

/* Days after the day graded through which the age part of a debtor dpd days past due stays
 * what it is (its steps: [age_step_days]), and the credit hold of periodic terms (R-H1: dpd
 * > [hold_grace_days]) with it; HK_STEADY_FOREVER once neither moves again. */
int32_t hk_priority_steady_days (const hk_risk_policy_t *policy, int32_t dpd);

/* ---- Stance (R-A5) and cause of default (R-A6) ---- */

typedef enum {
    HK_CAUSE_UNKNOWN = 0,
    HK_CAUSE_OVERSIGHT,     /* 疏忽 */
    HK_CAUSE_DISPUTE,       /* 对产品不满 */
    HK_CAUSE_CASH_SHORTAGE, /* 资金紧张 */
    HK_CAUSE_WILFUL,        /* 故意 */
} hk_cause_t;

typedef enum {
    HK_STANCE_SOFT = 0, /* 文收 */
    HK_STANCE_HARD,     /* 武收 */
} hk_stance_t;

/* Hard only for a debtor who does not cooperate or acts in bad faith; a wilful default
 * (R-A6) counts as bad faith. Soft otherwise, whatever the amount or age. */
hk_stance_t hk_stance (bool uncooperative, bool bad_faith, hk_cause_t cause);

/* "oversight", "dispute", "cash_shortage", "wilful" (ASCII case-insensitive) or 疏忽,
 * 对产品不满, 资金紧张, 故意 (UTF-8). Returns 0 and sets *out, or HK_EINVAL (and
 * HK_CAUSE_UNKNOWN) for anything else, NULL included. */
int hk_cause_parse (const char *text, hk_cause_t *out);

/* English key of a cause ("oversight" ...), "unknown" otherwise; static. */
const char *hk_cause_name (hk_cause_t cause);

/* ---- Early-warning signals (R-A7) ---- */

/* Sudden drop in order volume against the debtor's own history: the last of n monthly
 * volumes (oldest first) is below the mean of the n-1 before it by at least drop_bp basis
 * points. Needs 3 months of history (n >= 4) and a positive mean; false otherwise, and for
 * drop_bp outside 1..10000. */
bool hk_signal_volume_drop (const int64_t *monthly_volumes, int n, int drop_bp);

/* Payment delays lengthening, from days late of the last n payments (oldest first): either
 * the last [delay_increasing_k] are strictly increasing and the last is late (> 0), or, with
 * at least [delay_min_payments], the latest half's mean exceeds the earlier half's mean by more
 * than [delay_margin_days] (halves of n/2 each; the middle one of an odd n is left out). */
bool hk_signal_lengthening_delay (const hk_risk_policy_t *policy, const int32_t *days_late,
                                  int n);

/* ---- Credit hold (R-H1, R-H2) ---- */

typedef enum {
    HK_TERMS_CASH = 0,               /* 现款: no credit at all */
    HK_TERMS_DELIVER_TWO_SETTLE_ONE, /* 送二结一 */
    HK_TERMS_PERIODIC,               /* monthly or other period statements */
    HK_TERMS_ONE_OFF,
} hk_terms_t;

typedef struct {
    hk_terms_t terms;
    int64_t unpaid_delivered_minor; /* cash: delivered and not yet paid */
    int64_t previous_batch_unpaid_minor; /* 送二结一: still owed on the batch before the
                                            current one */
    int32_t max_dpd;       /* periodic / one-off: worst dpd among open invoices */
    bool held;             /* a hold is in force now */
    bool threat_no_supply_no_payment; /* the debtor says "no supply, no payment" (R-H2) */
} hk_hold_input_t;

typedef struct {
    bool hold;    /* supply must stay stopped */
    bool placed;  /* hold is new: emit the hold event for billing/ERP */
    bool lifted;  /* was held, condition cleared by payment: emit the lift event */
    const char *rule;            /* "R-H1" or "R-H2", static; NULL when no hold and no change */
    char reason[HK_RISK_TEXT];   /* factual, cites the rule; "" when nothing to say */
} hk_hold_t;

/* Hold decision from the amounts still owed after payments were applied. The hold holds while
 * the terms are broken: cash terms with anything delivered unpaid; 送二结一 with anything
 * unpaid on the previous batch; periodic / one-off with max_dpd > [hold_grace_days]. It is
 * lifted only when those amounts are cleared, i.e. by payment: no flag lifts it, and a
 * "no supply, no payment" threat is named in the reason (R-H2) and changes nothing else.
 * Returns 0, or HK_EINVAL when in or out is NULL or the terms are unknown. */
int hk_credit_hold (const hk_risk_policy_t *policy, const hk_hold_input_t *in, hk_hold_t *out);

#endif
