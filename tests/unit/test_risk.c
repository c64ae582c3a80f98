/* Self-test of risk (R-A2..R-A8, R-H1, R-H2): grade boundaries and reasons, recovery curve and
 * its rounding, priority parts, stance and cause, signals on short histories, credit holds. */
#include "check.h"
#include "huikuan/dates.h"
#include "huikuan/errcodes.h"
#include "aging_rules.h"
#include "risk.h"

/* Grade of in under the default policy. */
static hk_risk_grade_result_t
s_grade (hk_risk_input_t in)
{
    hk_risk_grade_result_t out;
    hk_risk_grade (NULL, &in, &out);
    return out;
}

/* True when out lists a reason of rule at grade whose text starts with prefix. */
static bool
s_has (const hk_risk_grade_result_t *out, const char *rule, hk_grade_t grade,
       const char *prefix)
{
    for (int i = 0; i < out->n_reasons; i++)
        if (strcmp (out->reasons[i].rule, rule) == 0 && out->reasons[i].grade == grade
            && strncmp (out->reasons[i].text, prefix, strlen (prefix)) == 0)
            return true;
    return false;
}

/* Day number of "YYYY-MM-DD". */
static int32_t
s_day (const char *text)
{
    int32_t d = 0;
    hk_date_parse (text, &d);
    return d;
}

static int
s_test_grade (void)
{
    int failures = 0;
    /* reachable, contacted yesterday, nothing else */
    hk_risk_input_t base = { .as_of = s_day ("2026-03-10"), .dpd = 0, .outstanding_minor = 100000,
                             .days_since_contact = 1 };
    hk_risk_input_t in = base;
    hk_risk_grade_result_t out = s_grade (in);
    CHECK_INT (out.grade, 5);
    CHECK_INT (out.n_reasons, 1);
    CHECK (s_has (&out, "R-A2", 5, "not yet due"));
    CHECK_STR (hk_grade_name (out.grade), "未收款");

    in.dpd = 1;
    out = s_grade (in);
    CHECK_INT (out.grade, 4);
    CHECK (s_has (&out, "R-A2", 4, "overdue (due 2026-03-09)"));
    CHECK_STR (hk_grade_name (out.grade), "催收款");
    in.dpd = 30;
    CHECK_INT (s_grade (in).grade, 4);
    in.dpd = 31;
    CHECK_INT (s_grade (in).grade, 4);

    /* age boundaries 365/366 and 730/731 */
    in.dpd = 365;
    CHECK_INT (s_grade (in).grade, 4);
    in.dpd = 366;
    out = s_grade (in);
    CHECK_INT (out.grade, 3);
    CHECK (s_has (&out, "R-A2", 3, "overdue more than 365 days"));
    CHECK_STR (hk_grade_name (out.grade), "准呆账");
    in.dpd = 730;
    CHECK_INT (s_grade (in).grade, 3);
    in.dpd = 731;
    out = s_grade (in);
    CHECK_INT (out.grade, 2);
    CHECK (s_has (&out, "R-A2", 2, "overdue more than 730 days"));
    CHECK (s_has (&out, "R-A2", 3, "overdue more than 365 days"));
    CHECK_STR (hk_grade_name (out.grade), "呆账");

    /* written off / bankrupt: 1, even before the due date */
    in = base;
    in.written_off = true;
    out = s_grade (in);
    CHECK_INT (out.grade, 1);
    CHECK (s_has (&out, "R-A2", 1, "written off"));
    CHECK_STR (hk_grade_name (out.grade), "死账");
    in = base;
    in.dpd = 40;
    in.bankrupt = true;
    out = s_grade (in);
    CHECK_INT (out.grade, 1);
    CHECK (s_has (&out, "R-A2", 1, "bankrupt"));
    CHECK (s_has (&out, "R-A2", 4, "overdue (due 2026-01-29)"));

    /* reachability R-A8 */
    in = base;
    in.dpd = 10;
    in.reach = HK_REACH_LOST;
    out = s_grade (in);
    CHECK_INT (out.grade, 3);
    CHECK (s_has (&out, "R-A8", 3, "debtor lost"));
    in.reach = HK_REACH_HALF_LOST;
    out = s_grade (in);
    CHECK_INT (out.grade, 4);
    CHECK (s_has (&out, "R-A8", 4, "debtor half-lost"));
    in.dpd = 0; /* lost but not yet due stays 5 */
    in.reach = HK_REACH_LOST;
    CHECK_INT (s_grade (in).grade, 5);

    /* broken promises: 2 at 90 days, not 1, not at 89 */
    in = base;
    in.broken_promises = 2;
    in.dpd = 89;
    CHECK_INT (s_grade (in).grade, 4);
    in.dpd = 90;
    out = s_grade (in);
    CHECK_INT (out.grade, 3);
    CHECK (s_has (&out, "R-A2", 3, "2 broken promises, overdue 90 days or more"));
    in.broken_promises = 1;
    CHECK_INT (s_grade (in).grade, 4);

    /* no contact: 180 days at 90 dpd, or never */
    in = base;
    in.dpd = 90;
    in.days_since_contact = 179;
    CHECK_INT (s_grade (in).grade, 4);
    in.days_since_contact = 180;
    out = s_grade (in);
    CHECK_INT (out.grade, 3);
    CHECK (s_has (&out, "R-A2", 3, "no contact since 2025-09-11"));
    in.days_since_contact = -1;
    out = s_grade (in);
    CHECK_INT (out.grade, 3);
    CHECK (s_has (&out, "R-A2", 3, "never reached, overdue 90 days or more"));
    in.dpd = 89;
    CHECK_INT (s_grade (in).grade, 4);

    /* dispute: listed at 4, doubtful past 180 days */
    in = base;
    in.dispute_open = true;
    in.dpd = 180;
    out = s_grade (in);
    CHECK_INT (out.grade, 4);
    CHECK (s_has (&out, "R-A6", 4, "open dispute"));
    in.dpd = 181;
    out = s_grade (in);
    CHECK_INT (out.grade, 3);
    CHECK (s_has (&out, "R-A6", 3, "open dispute, overdue more than 180 days"));

    /* closure: bad with no contact 180 days or never, else only listed */
    in = base;
    in.dpd = 20;
    in.signal_closure = true;
    out = s_grade (in);
    CHECK_INT (out.grade, 4);
    CHECK (s_has (&out, "R-A7", 4, "closure signal"));
    in.days_since_contact = 180;
    out = s_grade (in);
    CHECK_INT (out.grade, 2);
    CHECK (s_has (&out, "R-A7", 2, "closure and no contact since 2025-09-11"));
    in.days_since_contact = -1;
    out = s_grade (in);
    CHECK_INT (out.grade, 2);
    CHECK (s_has (&out, "R-A7", 2, "closure and never reached"));

    /* volume drop, delay and clearance-sale signals are listed, grade unchanged */
    in = base;
    in.dpd = 5;
    in.signal_volume_drop = true;
    in.signal_delay = true;
    in.signal_clearance = true;
    out = s_grade (in);
    CHECK_INT (out.grade, 4);
    CHECK (s_has (&out, "R-A7", 4, "order volume dropped"));
    CHECK (s_has (&out, "R-A7", 4, "payment delays lengthening"));
    CHECK (s_has (&out, "R-A7", 4, "clearance sales"));
    CHECK_INT (out.n_reasons, 4);

    /* everything at once fits the reason array; the grade is the worst */
    in = (hk_risk_input_t) { .dpd = 800, .broken_promises = 5, .days_since_contact = -1,
                             .dispute_open = true, .reach = HK_REACH_LOST,
                             .signal_closure = true, .signal_volume_drop = true,
                             .signal_delay = true, .signal_clearance = true, .bankrupt = true,
                             .written_off = true };
    out = s_grade (in);
    CHECK_INT (out.grade, 1);
    CHECK_INT (out.n_reasons, 13);
    CHECK (out.n_reasons <= HK_RISK_MAX_REASONS);

    /* a tenant policy moves the thresholds */
    hk_risk_policy_t p;
    hk_risk_policy_default (&p);
    p.doubtful_dpd = 180;
    p.lost_is_doubtful = false;
    in = base;
    in.dpd = 181;
    CHECK (hk_risk_grade (&p, &in, &out) == 0 && out.grade == 3);
    in.dpd = 10;
    in.reach = HK_REACH_LOST;
    CHECK (hk_risk_grade (&p, &in, &out) == 0 && out.grade == 4);
    CHECK_INT (hk_risk_grade (&p, NULL, &out), HK_EINVAL);
    CHECK_INT (hk_risk_grade (&p, &in, NULL), HK_EINVAL);
    CHECK_STR (hk_grade_name (0), "");
    CHECK_STR (hk_grade_name (6), "");
    return failures;
}

static int
s_test_recovery (void)
{
    int failures = 0;
    CHECK_INT (hk_recovery_bp (NULL, -10), 8000);
    CHECK_INT (hk_recovery_bp (NULL, 0), 8000);
    CHECK_INT (hk_recovery_bp (NULL, 730), 8000);
    CHECK_INT (hk_recovery_bp (NULL, 731), 2000);
    CHECK_INT (hk_recovery_bp (NULL, INT32_MAX), 2000);
    /* a three-point tenant curve; past the last point keeps the last rate */
    hk_risk_policy_t p;
    hk_risk_policy_default (&p);
    p.curve[0] = (hk_curve_point_t) { 90, 9500 };
    p.curve[1] = (hk_curve_point_t) { 365, 7000 };
    p.curve[2] = (hk_curve_point_t) { 1095, 1000 };
    p.curve_n = 3;
    CHECK_INT (hk_recovery_bp (&p, 90), 9500);
    CHECK_INT (hk_recovery_bp (&p, 91), 7000);
    CHECK_INT (hk_recovery_bp (&p, 366), 1000);
    CHECK_INT (hk_recovery_bp (&p, 2000), 1000);
    p.curve_n = 0;
    CHECK_INT (hk_recovery_bp (&p, 10), 0);

    /* rounding is floor */
    CHECK_INT (hk_expected_recoverable (1, 8000), 0);
    CHECK_INT (hk_expected_recoverable (10, 8000), 8);
    CHECK_INT (hk_expected_recoverable (11, 8000), 8);  /* 8.8 */
    CHECK_INT (hk_expected_recoverable (9, 2000), 1);   /* 1.8 */
    CHECK_INT (hk_expected_recoverable (4, 2000), 0);   /* 0.8 */
    CHECK_INT (hk_expected_recoverable (12345, 8000), 9876);
    CHECK_INT (hk_expected_recoverable (10000, 10000), 10000);
    CHECK_INT (hk_expected_recoverable (10000, 12000), 10000); /* clamped */
    CHECK_INT (hk_expected_recoverable (0, 8000), 0);
    CHECK_INT (hk_expected_recoverable (-500, 8000), 0);
    CHECK_INT (hk_expected_recoverable (500, -1), 0);
    /* no overflow at the top of the range: floor ((2^63 - 1) * 0.8) */
    CHECK_INT (hk_expected_recoverable (INT64_MAX, 8000), 7378697629483820645LL);
    CHECK_INT (hk_expected_recoverable (INT64_MAX, 10000), INT64_MAX);
    /* per piece floors never exceed the floor of the total */
    CHECK (hk_expected_recoverable (11, 8000) * 3 <= hk_expected_recoverable (33, 8000));
    return failures;
}

static int
s_sum (const hk_priority_t *o)
{
    return o->age + o->amount + o->credit + o->cooperation + o->capital + o->distance
           + o->signal;
}

static int
s_test_priority (void)
{
    int failures = 0;
    hk_priority_t out;
    /* nothing pressing: good debtor, not due, next door */
    hk_priority_input_t in = { .dpd = 0, .outstanding_minor = 0, .creditworthiness = 100,
                               .cooperation = 100, .capital_strength = 100,
                               .distance_km = 0 };
    CHECK_INT (hk_priority (NULL, &in, &out), 0);
    CHECK_INT (out.score, 0);
    /* everything at full: the score reaches 1000 exactly */
    in = (hk_priority_input_t) { .dpd = 1000, .outstanding_minor = INT64_MAX,
                                 .creditworthiness = -5, .cooperation = 0,
                                 .capital_strength = 0, .distance_km = 9999,
                                 .signal_closure = true, .signal_volume_drop = true,
                                 .signal_delay = true };
    CHECK_INT (hk_priority (NULL, &in, &out), 0);
    CHECK_INT (out.score, 1000);
    in.signal_clearance = true; /* a fourth signal: still three signals' worth, 1000 at most */
    CHECK_INT (hk_priority (NULL, &in, &out), 0);
    CHECK_INT (out.score, 1000);
    CHECK_INT (out.age, 250);
    CHECK_INT (out.amount, 200);
    CHECK_INT (out.credit, 100);
    CHECK_INT (out.cooperation, 150);
    CHECK_INT (out.capital, 100);
    CHECK_INT (out.distance, 50);
    CHECK_INT (out.signal, 150);
    CHECK_INT (s_sum (&out), out.score);
    /* a middle case: each part visible, floored, and summing to the score */
    in = (hk_priority_input_t) { .dpd = 100, .outstanding_minor = 2500000,
                                 .creditworthiness = 70, .cooperation = 40,
                                 .capital_strength = 55, .distance_km = 120,
                                 .signal_volume_drop = true };
    CHECK_INT (hk_priority (NULL, &in, &out), 0);
    CHECK_INT (out.age, 82);       /* 100 days count as 120: 250 * 328/1000 */
    CHECK_INT (out.amount, 50);    /* 200 * 250/1000 */
    CHECK_INT (out.credit, 30);    /* 100 * 300/1000 */
    CHECK_INT (out.cooperation, 90); /* 150 * 600/1000 */
    CHECK_INT (out.capital, 45);   /* 100 * 450/1000 */
    CHECK_INT (out.distance, 12);  /* 50 * 240/1000 */
    CHECK_INT (out.signal, 50);
    CHECK_INT (out.score, 359);
    CHECK_INT (s_sum (&out), out.score);
    /* the age part moves once a 30-day step begins: 91..120 days are one step */
    in.dpd = 91;
    hk_priority (NULL, &in, &out);
    CHECK_INT (out.age, 82);
    in.dpd = 90;
    hk_priority (NULL, &in, &out);
    CHECK_INT (out.age, 61); /* 90 days: 250 * 246/1000 */
    CHECK_INT (hk_priority_steady_days (NULL, 90), 0);
    CHECK_INT (hk_priority_steady_days (NULL, 91), 29);
    CHECK_INT (hk_priority_steady_days (NULL, 100), 20);
    CHECK_INT (hk_priority_steady_days (NULL, -10), 10); /* dpd 1 is the first step */
    CHECK_INT (hk_priority_steady_days (NULL, 361), HK_STEADY_FOREVER); /* full from 361 */
    CHECK_INT (hk_priority_steady_days (NULL, 331), 29);
    /* a signal moves the debtor up (R-A7) */
    int before = out.score;
    in.signal_closure = true;
    hk_priority (NULL, &in, &out);
    CHECK_INT (out.score, before + 50);
    in.signal_clearance = true;
    hk_priority (NULL, &in, &out);
    CHECK_INT (out.score, before + 100);
    /* weights that could pass 1000 are refused */
    hk_risk_policy_t p;
    hk_risk_policy_default (&p);
    p.w_age = 300;
    CHECK_INT (hk_priority (&p, &in, &out), HK_EINVAL);
    p.w_age = -1;
    CHECK_INT (hk_priority (&p, &in, &out), HK_EINVAL);
    CHECK_INT (hk_priority (NULL, NULL, &out), HK_EINVAL);
    return failures;
}

static int
s_test_stance_cause (void)
{
    int failures = 0;
    CHECK_INT (hk_stance (false, false, HK_CAUSE_UNKNOWN), HK_STANCE_SOFT);
    CHECK_INT (hk_stance (false, false, HK_CAUSE_CASH_SHORTAGE), HK_STANCE_SOFT);
    CHECK_INT (hk_stance (false, false, HK_CAUSE_DISPUTE), HK_STANCE_SOFT);
    CHECK_INT (hk_stance (true, false, HK_CAUSE_OVERSIGHT), HK_STANCE_HARD);
    CHECK_INT (hk_stance (false, true, HK_CAUSE_OVERSIGHT), HK_STANCE_HARD);
    CHECK_INT (hk_stance (false, false, HK_CAUSE_WILFUL), HK_STANCE_HARD);

    hk_cause_t c;
    CHECK_INT (hk_cause_parse ("oversight", &c), 0);
    CHECK_INT (c, HK_CAUSE_OVERSIGHT);
    CHECK_INT (hk_cause_parse ("Dispute", &c), 0);
    CHECK_INT (c, HK_CAUSE_DISPUTE);
    CHECK_INT (hk_cause_parse ("cash_shortage", &c), 0);
    CHECK_INT (c, HK_CAUSE_CASH_SHORTAGE);
    CHECK_INT (hk_cause_parse ("WILFUL", &c), 0);
    CHECK_INT (c, HK_CAUSE_WILFUL);
    CHECK_INT (hk_cause_parse ("疏忽", &c), 0);
    CHECK_INT (c, HK_CAUSE_OVERSIGHT);
    CHECK_INT (hk_cause_parse ("对产品不满", &c), 0);
    CHECK_INT (c, HK_CAUSE_DISPUTE);
    CHECK_INT (hk_cause_parse ("资金紧张", &c), 0);
    CHECK_INT (c, HK_CAUSE_CASH_SHORTAGE);
    CHECK_INT (hk_cause_parse ("故意", &c), 0);
    CHECK_INT (c, HK_CAUSE_WILFUL);
    CHECK_INT (hk_cause_parse ("wilful ", &c), HK_EINVAL);
    CHECK_INT (c, HK_CAUSE_UNKNOWN);
    CHECK_INT (hk_cause_parse ("", &c), HK_EINVAL);
    CHECK_INT (hk_cause_parse (NULL, &c), HK_EINVAL);
    CHECK_STR (hk_cause_name (HK_CAUSE_CASH_SHORTAGE), "cash_shortage");
    CHECK_STR (hk_cause_name (HK_CAUSE_UNKNOWN), "unknown");
    return failures;
}

static int
s_test_signals (void)
{
    int failures = 0;
    /* volume drop: mean of 100,100,100 = 100; 50% drop means last <= 50 */
    int64_t v[] = { 100, 100, 100, 50 };
    CHECK (hk_signal_volume_drop (v, 4, 5000));
    v[3] = 51;
    CHECK (!hk_signal_volume_drop (v, 4, 5000));
    v[3] = 0;
    CHECK (!hk_signal_volume_drop (v, 3, 5000)); /* two months of history only */
    CHECK (!hk_signal_volume_drop (v, 1, 5000));
    CHECK (!hk_signal_volume_drop (v, 0, 5000));
    CHECK (!hk_signal_volume_drop (NULL, 4, 5000));
    CHECK (!hk_signal_volume_drop (v, 4, 0));
    CHECK (!hk_signal_volume_drop (v, 4, 10001));
    int64_t none[] = { 0, 0, 0, 0 };
    CHECK (!hk_signal_volume_drop (none, 4, 5000)); /* no history to drop from */
    int64_t uneven[] = { 90, 100, 110, 200, 75 }; /* mean 125, 40% drop */
    CHECK (hk_signal_volume_drop (uneven, 5, 4000));
    CHECK (!hk_signal_volume_drop (uneven, 5, 4001));
    int64_t big[] = { INT64_MAX, INT64_MAX, INT64_MAX, 1 };
    CHECK (hk_signal_volume_drop (big, 4, 9999));

    /* lengthening delay */
    int32_t rising[] = { 0, 2, 5, 9 };
    CHECK (hk_signal_lengthening_delay (NULL, rising, 4));
    CHECK (hk_signal_lengthening_delay (NULL, rising + 1, 3)); /* k = 3 on a short history */
    CHECK (!hk_signal_lengthening_delay (NULL, rising + 2, 2)); /* too short for both tests */
    CHECK (!hk_signal_lengthening_delay (NULL, rising, 1));
    CHECK (!hk_signal_lengthening_delay (NULL, rising, 0));
    CHECK (!hk_signal_lengthening_delay (NULL, NULL, 4));
    int32_t flat[] = { 5, 5, 6, 6 };
    CHECK (!hk_signal_lengthening_delay (NULL, flat, 4));
    int32_t early[] = { -3, -2, -1 }; /* rising but paid early */
    CHECK (!hk_signal_lengthening_delay (NULL, early, 3));
    /* halves: 2,4 | 20,10 -> 6 vs 30, margin 10 per payment: 30 > 6 + 20 */
    int32_t halves[] = { 2, 4, 20, 10 };
    CHECK (hk_signal_lengthening_delay (NULL, halves, 4));
    int32_t just[] = { 2, 4, 16, 10 }; /* 26 > 26 is false */
    CHECK (!hk_signal_lengthening_delay (NULL, just, 4));
    int32_t odd[] = { 1, 3, 99, 25, 8 }; /* 4 vs 33, middle 99 left out */
    CHECK (hk_signal_lengthening_delay (NULL, odd, 5));
    hk_risk_policy_t p;
    hk_risk_policy_default (&p);
    p.delay_margin_days = 15;
    CHECK (!hk_signal_lengthening_delay (&p, odd, 5));
    p.delay_increasing_k = 4;
    CHECK (!hk_signal_lengthening_delay (&p, rising + 1, 3));
    return failures;
}

static int
s_test_hold (void)
{
    int failures = 0;
    hk_hold_t out;
    /* cash: any unpaid delivery holds; paying lifts */
    hk_hold_input_t in = { .terms = HK_TERMS_CASH, .unpaid_delivered_minor = 1 };
    CHECK_INT (hk_credit_hold (NULL, &in, &out), 0);
    CHECK (out.hold && out.placed && !out.lifted);
    CHECK_STR (out.rule, "R-H1");
    CHECK (strstr (out.reason, "R-H1") && strstr (out.reason, "cash"));
    in.held = true;
    hk_credit_hold (NULL, &in, &out);
    CHECK (out.hold && !out.placed && !out.lifted);
    in.unpaid_delivered_minor = 0;
    hk_credit_hold (NULL, &in, &out);
    CHECK (!out.hold && out.lifted);
    CHECK (strstr (out.reason, "cleared by payment") != NULL);
    in.held = false;
    hk_credit_hold (NULL, &in, &out);
    CHECK (!out.hold && !out.placed && !out.lifted && out.rule == NULL);
    CHECK_STR (out.reason, "");

    /* 送二结一: the previous batch must be fully paid */
    in = (hk_hold_input_t) { .terms = HK_TERMS_DELIVER_TWO_SETTLE_ONE,
                             .unpaid_delivered_minor = 500000,
                             .previous_batch_unpaid_minor = 1 };
    hk_credit_hold (NULL, &in, &out);
    CHECK (out.hold && out.placed);
    CHECK (strstr (out.reason, "送二结一") != NULL);
    in.held = true;
    in.previous_batch_unpaid_minor = 0; /* current batch still open: allowed */
    hk_credit_hold (NULL, &in, &out);
    CHECK (!out.hold && out.lifted);

    /* periodic and one-off: past due more than the grace */
    in = (hk_hold_input_t) { .terms = HK_TERMS_PERIODIC, .max_dpd = 0 };
    hk_credit_hold (NULL, &in, &out);
    CHECK (!out.hold);
    in.max_dpd = 1;
    hk_credit_hold (NULL, &in, &out);
    CHECK (out.hold && out.placed);
    hk_risk_policy_t p;
    hk_risk_policy_default (&p);
    p.hold_grace_days = 5;
    in.terms = HK_TERMS_ONE_OFF;
    in.max_dpd = 5;
    hk_credit_hold (&p, &in, &out);
    CHECK (!out.hold);
    in.max_dpd = 6;
    hk_credit_hold (&p, &in, &out);
    CHECK (out.hold);

    /* R-H2: "no supply, no payment" never lifts a hold */
    in = (hk_hold_input_t) { .terms = HK_TERMS_DELIVER_TWO_SETTLE_ONE,
                             .previous_batch_unpaid_minor = 300, .held = true,
                             .threat_no_supply_no_payment = true };
    hk_credit_hold (NULL, &in, &out);
    CHECK (out.hold && !out.lifted && !out.placed);
    CHECK_STR (out.rule, "R-H2");
    CHECK (strstr (out.reason, "R-H2") && strstr (out.reason, "R-H1"));
    in.previous_batch_unpaid_minor = 0; /* paid, threat or not: lifted */
    hk_credit_hold (NULL, &in, &out);
    CHECK (!out.hold && out.lifted);

    in.terms = (hk_terms_t) 42;
    CHECK_INT (hk_credit_hold (NULL, &in, &out), HK_EINVAL);
    CHECK_INT (hk_credit_hold (NULL, NULL, &out), HK_EINVAL);
    return failures;
}

/* A small deterministic generator for the property checks below. */
static uint32_t
s_next (uint32_t *state)
{
    *state = *state * 1664525u + 1013904223u;
    return *state >> 8;
}

/* Results of in as of its day that a later day could change: grade, reasons, recovery and
 * the priority's age part. */
static bool
s_same_results (const hk_risk_input_t *a, const hk_risk_input_t *b)
{
    hk_risk_grade_result_t ga, gb;
    hk_risk_grade (NULL, a, &ga);
    hk_risk_grade (NULL, b, &gb);
    if (ga.grade != gb.grade || ga.n_reasons != gb.n_reasons
        || hk_recovery_bp (NULL, a->dpd) != hk_recovery_bp (NULL, b->dpd))
        return false;
    for (int r = 0; r < ga.n_reasons; r++)
        if (strcmp (ga.reasons[r].text, gb.reasons[r].text) != 0)
            return false;
    return true;
}

/* Whether the results k days after those of the input ctx are the same. */
static bool
s_same_at (void *ctx, int32_t k)
{
    const hk_risk_input_t *a = ctx;
    hk_risk_input_t b = *a;
    b.as_of += k;
    b.dpd += k;
    if (b.days_since_contact >= 0)
        b.days_since_contact += k;
    return s_same_results (a, &b);
}

/* The change points the daily run relies on: results hold on every day of the steady days
 * (never too late), and on the day after, the first one not promised, something changed for
 * the thresholds the date alone reaches (no needless re-aging). */
static int
s_test_steady (void)
{
    int failures = 0;
    /* 100 days overdue, reached 10 days ago: the no-contact rule (180 days) moves it first */
    hk_risk_input_t in = { .as_of = s_day ("2026-03-10"), .dpd = 100, .days_since_contact = 10,
                           .outstanding_minor = 500 };
    CHECK_INT (hk_risk_steady_days (NULL, &in), 169);
    in.days_since_contact = -1; /* never reached: 90 days already passed, next is 366 */
    CHECK_INT (hk_risk_steady_days (NULL, &in), 265);
    in.dpd = -5; /* not yet due: tomorrow is still before the first day overdue */
    CHECK_INT (hk_risk_steady_days (NULL, &in), 5);
    in.dpd = 800; /* past every threshold and curve point */
    CHECK_INT (hk_risk_steady_days (NULL, &in), HK_STEADY_FOREVER);
    in.dpd = 800; /* but a contact ages */
    in.days_since_contact = 0;
    CHECK_INT (hk_risk_steady_days (NULL, &in), 179);

    uint32_t st = 20261125;
    int late = 0, early = 0;
    for (int n = 0; n < 4000; n++) {
        hk_risk_input_t a = {
            .as_of = s_day ("2026-03-10") + (int32_t) (s_next (&st) % 400),
            .dpd = (int32_t) (s_next (&st) % 900) - 60,
            .days_since_contact = (int32_t) (s_next (&st) % 260) - 1,
            .broken_promises = (int32_t) (s_next (&st) % 3),
            .dispute_open = s_next (&st) % 4 == 0,
            .signal_closure = s_next (&st) % 5 == 0,
            .reach = (hk_reach_t) (s_next (&st) % 3),
            .outstanding_minor = 1000,
        };
        hk_test_walk_steady (hk_risk_steady_days (NULL, &a), 1000, s_same_at, &a, &late,
                             &early);
    }
    CHECK_INT (late, 0);
    CHECK_INT (early, 0);

    /* buckets: "current" through the due date, then each bucket to its bound */
    hk_buckets_t b;
    hk_buckets_default (&b);
    CHECK_INT (hk_buckets_steady_days (&b, -3), 3);
    CHECK_INT (hk_buckets_steady_days (&b, 0), 0);
    CHECK_INT (hk_buckets_steady_days (&b, 1), 29);
    CHECK_INT (hk_buckets_steady_days (&b, 730), 0);
    CHECK_INT (hk_buckets_steady_days (&b, 731), INT32_MAX);
    for (int32_t dpd = -40; dpd < 800; dpd++) {
        int32_t s = hk_buckets_steady_days (&b, dpd);
        if (s == INT32_MAX)
            continue;
        CHECK (strcmp (hk_buckets_name (&b, dpd), hk_buckets_name (&b, dpd + s)) == 0);
        CHECK (strcmp (hk_buckets_name (&b, dpd), hk_buckets_name (&b, dpd + s + 1)) != 0);
    }
    return failures;
}

int
hk_risk_test (bool verbose)
{
    int failures = 0;
    failures += s_test_grade ();
    failures += s_test_recovery ();
    failures += s_test_priority ();
    failures += s_test_stance_cause ();
    failures += s_test_signals ();
    failures += s_test_hold ();
    failures += s_test_steady ();
    if (verbose)
        printf ("risk: %d failures\n", failures);
    return failures;
}
