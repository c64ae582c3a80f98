/* risk: R-A2..R-A8 grade, recovery, priority, stance, cause, signals; R-H1/R-H2 credit hold.
 * Integer arithmetic only; see risk.h for each rule. */
#include "risk.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "huikuan/dates.h"
#include "huikuan/errcodes.h"

void
hk_risk_policy_default (hk_risk_policy_t *policy)
{
    if (!policy)
        return;
    memset (policy, 0, sizeof *policy);
    policy->doubtful_dpd = 365;
    policy->doubtful_promises = 2;
    policy->doubtful_promises_dpd = 90;
    policy->doubtful_no_contact = 180;
    policy->doubtful_no_contact_dpd = 90;
    policy->doubtful_dispute_dpd = 180;
    policy->lost_is_doubtful = true;
    policy->bad_dpd = 730;
    policy->bad_closure_no_contact = 180;
    policy->curve[0] = (hk_curve_point_t) { 730, 8000 };
    policy->curve[1] = (hk_curve_point_t) { INT32_MAX, 2000 };
    policy->curve_n = 2;
    policy->w_age = 250;
    policy->w_amount = 200;
    policy->w_credit = 100;
    policy->w_cooperation = 150;
    policy->w_capital = 100;
    policy->w_distance = 50;
    policy->w_signal = 50;
    policy->age_full_dpd = 365;
    policy->age_step_days = 30;
    policy->amount_full_minor = 10000000;
    policy->distance_full_km = 500;
    policy->volume_drop_bp = 5000;
    policy->delay_increasing_k = 3;
    policy->delay_margin_days = 10;
    policy->delay_min_payments = 4;
    policy->hold_grace_days = 0;
}

/* The policy to use: the caller's, or the defaults in *scratch. */
static const hk_risk_policy_t *
s_policy (const hk_risk_policy_t *policy, hk_risk_policy_t *scratch)
{
    if (policy)
        return policy;
    hk_risk_policy_default (scratch);
    return scratch;
}

/* ---- Grade ---- */

static void
s_reason (hk_risk_grade_result_t *out, const char *rule, hk_grade_t grade, const char *fmt,
          ...)
{
    if (grade < out->grade)
        out->grade = grade;
    if (out->n_reasons >= HK_RISK_MAX_REASONS)
        return; /* cannot happen with the conditions below; the grade is still right */
    hk_risk_reason_t *r = &out->reasons[out->n_reasons++];
    r->rule = rule;
    r->grade = grade;
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (r->text, sizeof r->text, fmt, ap);
    va_end (ap);
}

/* No successful contact for at least days (never counts as forever). */
static bool
s_no_contact (int32_t since, int32_t days)
{
    return since < 0 || since >= days;
}

/* The due date of a debt dpd days past due on in->as_of, "YYYY-MM-DD" into buf. */
static const char *
s_due (const hk_risk_input_t *in, char buf[16])
{
    hk_date_format (in->as_of - in->dpd, buf, 16);
    return buf;
}

int
hk_risk_grade (const hk_risk_policy_t *policy, const hk_risk_input_t *in,
               hk_risk_grade_result_t *out)
{
    if (!in || !out)
        return HK_EINVAL;
    hk_risk_policy_t scratch;
    const hk_risk_policy_t *p = s_policy (policy, &scratch);
    memset (out, 0, sizeof *out);
    out->grade = HK_GRADE_NOT_DUE;
    /* Every text below names dates and thresholds, never a count of days that grows daily:
     * a reason stays true for as long as its grade holds (hk_risk_steady_days). */
    char due[16], seen[16];
    s_due (in, due);

    if (in->written_off)
        s_reason (out, "R-A2", HK_GRADE_DEAD, "written off");
    if (in->bankrupt)
        s_reason (out, "R-A2", HK_GRADE_DEAD, "bankrupt");
    if (in->dpd <= 0) {
        s_reason (out, "R-A2", HK_GRADE_NOT_DUE, "not yet due (due %s)", due);
        return 0;
    }
    s_reason (out, "R-A2", HK_GRADE_COLLECTING, "overdue (due %s)", due);

    if (in->dpd > p->bad_dpd)
        s_reason (out, "R-A2", HK_GRADE_BAD, "overdue more than %d days (due %s)",
                  (int) p->bad_dpd, due);
    if (in->days_since_contact >= 0)
        hk_date_format (in->as_of - in->days_since_contact, seen, sizeof seen);
    if (in->signal_closure) {
        if (in->days_since_contact < 0)
            s_reason (out, "R-A7", HK_GRADE_BAD, "closure and never reached");
        else if (in->days_since_contact >= p->bad_closure_no_contact)
            s_reason (out, "R-A7", HK_GRADE_BAD, "closure and no contact since %s", seen);
        else
            s_reason (out, "R-A7", HK_GRADE_COLLECTING, "closure signal");
    }
    if (in->dpd > p->doubtful_dpd)
        s_reason (out, "R-A2", HK_GRADE_DOUBTFUL, "overdue more than %d days (due %s)",
                  (int) p->doubtful_dpd, due);
    if (in->reach == HK_REACH_LOST)
        s_reason (out, "R-A8", p->lost_is_doubtful ? HK_GRADE_DOUBTFUL : HK_GRADE_COLLECTING,
                  "debtor lost (失联)");
    else if (in->reach == HK_REACH_HALF_LOST)
        s_reason (out, "R-A8", HK_GRADE_COLLECTING, "debtor half-lost (半失联)");
    if (in->broken_promises >= p->doubtful_promises && in->dpd >= p->doubtful_promises_dpd)
        s_reason (out, "R-A2", HK_GRADE_DOUBTFUL, "%d broken promises, overdue %d days or more",
                  (int) in->broken_promises, (int) p->doubtful_promises_dpd);
    if (s_no_contact (in->days_since_contact, p->doubtful_no_contact)
        && in->dpd >= p->doubtful_no_contact_dpd) {
        if (in->days_since_contact < 0)
            s_reason (out, "R-A2", HK_GRADE_DOUBTFUL, "never reached, overdue %d days or more",
                      (int) p->doubtful_no_contact_dpd);
        else
            s_reason (out, "R-A2", HK_GRADE_DOUBTFUL, "no contact since %s", seen);
    }
    if (in->dispute_open) {
        if (in->dpd > p->doubtful_dispute_dpd)
            s_reason (out, "R-A6", HK_GRADE_DOUBTFUL, "open dispute, overdue more than %d days",
                      (int) p->doubtful_dispute_dpd);
        else
            s_reason (out, "R-A6", HK_GRADE_COLLECTING, "open dispute");
    }
    if (in->signal_volume_drop)
        s_reason (out, "R-A7", HK_GRADE_COLLECTING, "order volume dropped");
    if (in->signal_delay)
        s_reason (out, "R-A7", HK_GRADE_COLLECTING, "payment delays lengthening");
    if (in->signal_clearance)
        s_reason (out, "R-A7", HK_GRADE_COLLECTING, "clearance sales");
    return 0;
}

/* A value growing by one a day, now at value, first reaches at after at - value days: k
 * becomes that when it is sooner. */
static void
s_reaches (int64_t *k, int64_t value, int64_t at)
{
    if (at > value && at - value < *k)
        *k = at - value;
}

/* The steady days before the first day k (>= 1) on which something may change. */
static int32_t
s_steady (int64_t k)
{
    return k >= HK_STEADY_FOREVER ? HK_STEADY_FOREVER : (int32_t) (k - 1);
}

int32_t
hk_risk_steady_days (const hk_risk_policy_t *policy, const hk_risk_input_t *in)
{
    hk_risk_policy_t scratch;
    const hk_risk_policy_t *p = s_policy (policy, &scratch);
    int64_t k = HK_STEADY_FOREVER, dpd = in->dpd, seen = in->days_since_contact;
    /* each condition of hk_risk_grade that the date moves: "dpd > t" first holds at t + 1,
     * "dpd >= t" at t; conditions the date cannot make true are left out */
    s_reaches (&k, dpd, 1);
    s_reaches (&k, dpd, (int64_t) p->bad_dpd + 1);
    s_reaches (&k, dpd, (int64_t) p->doubtful_dpd + 1);
    if (in->broken_promises >= p->doubtful_promises)
        s_reaches (&k, dpd, p->doubtful_promises_dpd);
    /* no contact and overdue long enough: both grow, the later of the two decides */
    int64_t kc = seen < 0 || seen >= p->doubtful_no_contact ? 0 : p->doubtful_no_contact - seen;
    int64_t kd = dpd >= p->doubtful_no_contact_dpd ? 0 : p->doubtful_no_contact_dpd - dpd;
    int64_t both = kc > kd ? kc : kd;
    if (both > 0 && both < k)
        k = both;
    if (in->dispute_open)
        s_reaches (&k, dpd, (int64_t) p->doubtful_dispute_dpd + 1);
    /* closure and no contact, once overdue (before, the due date comes first); never
     * reached stays never reached */
    if (seen >= 0 && in->signal_closure && dpd + p->bad_closure_no_contact - seen > 0)
        s_reaches (&k, seen, p->bad_closure_no_contact);
    /* the recovery curve: a point ends after its max_dpd */
    int n = p->curve_n < HK_RISK_CURVE_MAX ? p->curve_n : HK_RISK_CURVE_MAX;
    for (int i = 0; i < n - 1; i++) /* the last point holds beyond its max_dpd too */
        s_reaches (&k, dpd, (int64_t) p->curve[i].max_dpd + 1);
    return s_steady (k);
}

const char *
hk_grade_name (hk_grade_t grade)
{
    static const char *names[] = { "", "死账", "呆账", "准呆账", "催收款", "未收款" };
    return grade >= 1 && grade <= 5 ? names[grade] : "";
}

/* ---- Recovery ---- */

int32_t
hk_recovery_bp (const hk_risk_policy_t *policy, int32_t dpd)
{
    hk_risk_policy_t scratch;
    const hk_risk_policy_t *p = s_policy (policy, &scratch);
    int n = p->curve_n < HK_RISK_CURVE_MAX ? p->curve_n : HK_RISK_CURVE_MAX;
    if (n <= 0)
        return 0;
    for (int i = 0; i < n; i++)
        if (dpd <= p->curve[i].max_dpd)
            return p->curve[i].bp;
    return p->curve[n - 1].bp;
}

int64_t
hk_expected_recoverable (int64_t outstanding_minor, int32_t bp)
{
    if (outstanding_minor <= 0 || bp <= 0)
        return 0;
    if (bp > 10000)
        bp = 10000;
    /* floor (o * bp / 10000) without overflow: o = q * 10000 + r */
    int64_t q = outstanding_minor / 10000, r = outstanding_minor % 10000;
    return q * bp + r * bp / 10000;
}

/* ---- Priority ---- */

/* Level 0..1000 of value on 0..full, linear, clamped. */
static int64_t
s_level (int64_t value, int64_t full)
{
    if (value <= 0 || full <= 0)
        return value > 0 ? 1000 : 0;
    if (value >= full)
        return 1000;
    return value * 1000 / full;
}

/* Level of a 0..100 score where a low score ranks higher. */
static int64_t
s_inverse_level (int32_t score)
{
    if (score < 0)
        score = 0;
    if (score > 100)
        score = 100;
    return (100 - score) * 10;
}

static int32_t
s_part (int32_t weight, int64_t level)
{
    return (int32_t) (weight * level / 1000);
}

/* The age the priority counts: dpd up to the end of its step (1..30 days as 30), so the age
 * part moves once a step; dpd itself when the policy has no step. */
static int64_t
s_age_days (const hk_risk_policy_t *p, int32_t dpd)
{
    if (dpd <= 0 || p->age_step_days <= 0)
        return dpd;
    return ((int64_t) dpd + p->age_step_days - 1) / p->age_step_days * p->age_step_days;
}

int32_t
hk_priority_steady_days (const hk_risk_policy_t *policy, int32_t dpd)
{
    hk_risk_policy_t scratch;
    const hk_risk_policy_t *p = s_policy (policy, &scratch);
    int64_t k = HK_STEADY_FOREVER;
    if (s_age_days (p, dpd) < p->age_full_dpd) /* the age part is full from then on */
        s_reaches (&k, dpd,
                   dpd <= 0                ? 1
                   : p->age_step_days > 0 ? s_age_days (p, dpd) + 1
                                          : (int64_t) dpd + 1);
    s_reaches (&k, dpd, (int64_t) p->hold_grace_days + 1); /* R-H1, periodic terms */
    return s_steady (k);
}

int
hk_priority (const hk_risk_policy_t *policy, const hk_priority_input_t *in, hk_priority_t *out)
{
    if (!in || !out)
        return HK_EINVAL;
    hk_risk_policy_t scratch;
    const hk_risk_policy_t *p = s_policy (policy, &scratch);
    memset (out, 0, sizeof *out);
    int32_t w[] = { p->w_age, p->w_capital, p->w_amount, p->w_credit, p->w_cooperation,
                    p->w_distance, p->w_signal };
    int64_t total = 0;
    for (unsigned i = 0; i < sizeof w / sizeof w[0]; i++) {
        if (w[i] < 0 || w[i] > 1000)
            return HK_EINVAL;
        total += w[i];
    }
    total += 2 * (int64_t) p->w_signal; /* three signals at most */
    if (total > 1000)
        return HK_EINVAL;

    out->age = s_part (p->w_age, s_level (s_age_days (p, in->dpd), p->age_full_dpd));
    out->amount = s_part (p->w_amount, s_level (in->outstanding_minor, p->amount_full_minor));
    out->credit = s_part (p->w_credit, s_inverse_level (in->creditworthiness));
    out->cooperation = s_part (p->w_cooperation, s_inverse_level (in->cooperation));
    out->capital = s_part (p->w_capital, s_inverse_level (in->capital_strength));
    out->distance = s_part (p->w_distance, s_level (in->distance_km, p->distance_full_km));
    int32_t signals = (int32_t) in->signal_closure + (int32_t) in->signal_volume_drop
                      + (int32_t) in->signal_delay + (int32_t) in->signal_clearance;
    out->signal = p->w_signal * (signals > 3 ? 3 : signals); /* the weights' budget holds 3 */
    out->score = out->age + out->amount + out->credit + out->cooperation + out->capital
                 + out->distance + out->signal;
    return 0;
}

/* ---- Stance and cause ---- */

hk_stance_t
hk_stance (bool uncooperative, bool bad_faith, hk_cause_t cause)
{
    return uncooperative || bad_faith || cause == HK_CAUSE_WILFUL ? HK_STANCE_HARD
                                                                   : HK_STANCE_SOFT;
}

static const struct {
    hk_cause_t cause;
    const char *key;
    const char *zh;
} s_causes[] = {
    { HK_CAUSE_OVERSIGHT, "oversight", "疏忽" },
    { HK_CAUSE_DISPUTE, "dispute", "对产品不满" },
    { HK_CAUSE_CASH_SHORTAGE, "cash_shortage", "资金紧张" },
    { HK_CAUSE_WILFUL, "wilful", "故意" },
};

int
hk_cause_parse (const char *text, hk_cause_t *out)
{
    hk_cause_t found = HK_CAUSE_UNKNOWN;
    for (unsigned i = 0; text && i < sizeof s_causes / sizeof s_causes[0]; i++)
        if (strcasecmp (text, s_causes[i].key) == 0 || strcmp (text, s_causes[i].zh) == 0)
            found = s_causes[i].cause;
    if (out)
        *out = found;
    return found == HK_CAUSE_UNKNOWN ? HK_EINVAL : 0;
}

const char *
hk_cause_name (hk_cause_t cause)
{
    for (unsigned i = 0; i < sizeof s_causes / sizeof s_causes[0]; i++)
        if (s_causes[i].cause == cause)
            return s_causes[i].key;
    return "unknown";
}

/* ---- Signals ---- */

bool
hk_signal_volume_drop (const int64_t *monthly_volumes, int n, int drop_bp)
{
    if (!monthly_volumes || n < 4 || drop_bp < 1 || drop_bp > 10000)
        return false;
    __int128 sum = 0;
    for (int i = 0; i < n - 1; i++)
        sum += monthly_volumes[i];
    if (sum <= 0)
        return false;
    /* last <= mean * (10000 - drop_bp) / 10000, scaled by (n - 1) * 10000 */
    __int128 last = (__int128) monthly_volumes[n - 1] * (n - 1) * 10000;
    return last <= sum * (10000 - drop_bp);
}

bool
hk_signal_lengthening_delay (const hk_risk_policy_t *policy, const int32_t *days_late, int n)
{
    hk_risk_policy_t scratch;
    const hk_risk_policy_t *p = s_policy (policy, &scratch);
    if (!days_late || n < 2)
        return false;
    int k = p->delay_increasing_k;
    if (k >= 2 && n >= k && days_late[n - 1] > 0) {
        bool rising = true;
        for (int i = n - k + 1; i < n; i++)
            if (days_late[i] <= days_late[i - 1])
                rising = false;
        if (rising)
            return true;
    }
    if (n < p->delay_min_payments || n < 2)
        return false;
    int h = n / 2;
    int64_t early = 0, late = 0;
    for (int i = 0; i < h; i++) {
        early += days_late[i];
        late += days_late[n - h + i];
    }
    return late > early + (int64_t) p->delay_margin_days * h;
}

/* ---- Credit hold ---- */

int
hk_credit_hold (const hk_risk_policy_t *policy, const hk_hold_input_t *in, hk_hold_t *out)
{
    if (!in || !out)
        return HK_EINVAL;
    hk_risk_policy_t scratch;
    const hk_risk_policy_t *p = s_policy (policy, &scratch);
    memset (out, 0, sizeof *out);
    bool broken;
    const char *why, *cleared;
    switch (in->terms) {
    case HK_TERMS_CASH:
        broken = in->unpaid_delivered_minor > 0;
        why = "cash terms, delivered goods unpaid";
        cleared = "delivered goods paid";
        break;
    case HK_TERMS_DELIVER_TWO_SETTLE_ONE:
        broken = in->previous_batch_unpaid_minor > 0;
        why = "送二结一, previous batch unpaid";
        cleared = "previous batch paid";
        break;
    case HK_TERMS_PERIODIC:
    case HK_TERMS_ONE_OFF:
        broken = in->max_dpd > p->hold_grace_days;
        why = "invoice past due beyond grace";
        cleared = "no invoice past due beyond grace";
        break;
    default:
        return HK_EINVAL;
    }
    if (broken) {
        out->hold = true;
        out->placed = !in->held;
        if (in->threat_no_supply_no_payment) {
            out->rule = "R-H2";
            snprintf (out->reason, sizeof out->reason,
                      "R-H2: threat of no supply, no payment does not lift; R-H1: %s", why);
        }
        else {
            out->rule = "R-H1";
            snprintf (out->reason, sizeof out->reason, "R-H1: %s", why);
        }
    }
    else if (in->held) {
        out->lifted = true;
        out->rule = "R-H1";
        snprintf (out->reason, sizeof out->reason, "R-H1: cleared by payment, %s", cleared);
    }
    return 0;
}
