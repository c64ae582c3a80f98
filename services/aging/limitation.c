/* limitation: R-L1 limitation period per jurisdiction, R-L2 interruptions. Pure. */
#include "limitation.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "huikuan/dates.h"
#include "huikuan/errcodes.h"

/* R-L1: the jurisdiction table; the first row is the default. */
static const hk_limitation_rule_t s_rules[] = {
    { "CN", "PRC Civil Code", 3,
      "PRC Civil Code art. 188 (since 2021): three years from when the creditor knew of the "
      "default; art. 195 interruptions; 20-year longstop not modelled" },
    { "CN-GPCL", "PRC General Principles of Civil Law (repealed)", 2,
      "GPCL art. 135 (repealed 2021-01-01): two years; for periods that ended before 2021 "
      "only" },
};

static const int32_t s_default_warn[] = { 180, 90, 30 };

const hk_limitation_rule_t *
hk_limitation_rule (const char *code)
{
    if (!code)
        return &s_rules[0];
    for (size_t i = 0; i < sizeof s_rules / sizeof s_rules[0]; i++)
        if (strcmp (s_rules[i].code, code) == 0)
            return &s_rules[i];
    return NULL;
}

size_t
hk_limitation_rule_count (void)
{
    return sizeof s_rules / sizeof s_rules[0];
}

const hk_limitation_rule_t *
hk_limitation_rule_at (size_t i)
{
    return i < hk_limitation_rule_count () ? &s_rules[i] : NULL;
}

const char *
hk_interruption_kind_name (int kind)
{
    switch (kind) {
    case HK_INTERRUPT_LAWSUIT: return "lawsuit";
    case HK_INTERRUPT_DEMAND: return "demand";
    case HK_INTERRUPT_ACKNOWLEDGEMENT: return "acknowledgement";
    case HK_INTERRUPT_REPAYMENT_PLAN: return "repayment-plan";
    case HK_INTERRUPT_INTEREST_PAID: return "interest-paid";
    case HK_INTERRUPT_EXTENSION_REQUEST: return "extension-request";
    default: return "unknown";
    }
}

int
hk_interruption_kind_parse (const char *name)
{
    if (!name)
        return 0;
    for (int k = HK_INTERRUPT_LAWSUIT; k <= HK_INTERRUPT_EXTENSION_REQUEST; k++) {
        const char *a = hk_interruption_kind_name (k), *b = name;
        while (*a && (*a == *b || (*a == '-' && *b == '_'))) {
            a++;
            b++;
        }
        if (!*a && !*b)
            return k;
    }
    return 0;
}

/* Agreement to perform by the debtor (art. 192 waiver after expiry). */
static bool
s_debtor_side (int kind)
{
    return kind == HK_INTERRUPT_ACKNOWLEDGEMENT || kind == HK_INTERRUPT_REPAYMENT_PLAN
        || kind == HK_INTERRUPT_INTEREST_PAID || kind == HK_INTERRUPT_EXTENSION_REQUEST;
}

static int
s_days_in_month (int y, int m)
{
    static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

int32_t
hk_limitation_add_years (int32_t date, int years)
{
    int y, m, d;
    hk_date_to_ymd (date, &y, &m, &d);
    y += years;
    int last = s_days_in_month (y, m);
    /* Civil Code art. 202: the corresponding day, else the last day of that month. */
    return hk_date_from_ymd (y, m, d > last ? last : d);
}

/* Appends to the explanation; truncates silently (the numbers are in the struct). */
static void
s_say (hk_limitation_t *out, const char *fmt, ...)
{
    size_t used = strlen (out->explanation);
    if (used + 1 >= sizeof out->explanation)
        return;
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (out->explanation + used, sizeof out->explanation - used, fmt, ap);
    va_end (ap);
}

int
hk_limitation_compute (const hk_limitation_input_t *in, hk_limitation_t *out)
{
    if (!in || !out || (in->interruption_count && !in->interruptions))
        return HK_EINVAL;
    const int32_t *warn = in->warn_days ? in->warn_days : s_default_warn;
    size_t nwarn = in->warn_days ? in->warn_count
                                 : sizeof s_default_warn / sizeof s_default_warn[0];
    if (nwarn > HK_LIMITATION_MAX_WARNINGS)
        return HK_EINVAL;
    for (size_t i = 0; i < nwarn; i++)
        if (warn[i] < 0)
            return HK_EINVAL;
    for (size_t i = 0; i < in->interruption_count; i++)
        if (strcmp (hk_interruption_kind_name (in->interruptions[i].kind), "unknown") == 0)
            return HK_EINVAL;
    const hk_limitation_rule_t *rule = hk_limitation_rule (in->jurisdiction);
    if (!rule)
        return HK_ENOTFOUND;

    memset (out, 0, sizeof *out);
    out->rule = rule;
    out->counted = -1;
    const hk_interruption_t *iv = in->interruptions;
    size_t n = in->interruption_count;

    /* R-L2, in date order: from the period running [eff, expiry], the latest counted
     * interruption inside it restarts the period. Taking the latest at once is the same as
     * walking them one by one: every period it skips ends before the one it starts. */
    int32_t eff = in->start;
    int32_t expiry = hk_limitation_add_years (eff, rule->years);
    for (;;) {
        int best = -1;
        for (size_t i = 0; i < n; i++) {
            if (!iv[i].has_evidence || iv[i].date < eff || iv[i].date > in->today
                || iv[i].date > expiry)
                continue;
            if (best < 0 || iv[i].date >= iv[best].date)
                best = (int) i;
        }
        if (best < 0)
            break;
        out->counted = best;
        if (iv[best].date == eff)
            break;
        eff = iv[best].date;
        expiry = hk_limitation_add_years (eff, rule->years);
    }
    out->effective_start = eff;
    out->expiry = expiry;
    out->days_left = expiry - in->today;
    out->expired = out->days_left < 0;
    out->warning = 0;
    for (size_t i = 0; i < nwarn; i++)
        if (out->days_left <= warn[i]) {
            out->warnings_due |= UINT32_C (1) << i;
            if (out->warning == 0 || warn[i] < out->warning)
                out->warning = warn[i];
        }

    char d1[16], d2[16];
    hk_date_format (in->start, d1, sizeof d1);
    hk_date_format (expiry, d2, sizeof d2);
    s_say (out, "R-L1 %s %d years (%s) from %s", rule->code, rule->years, rule->note, d1);
    if (out->counted >= 0) {
        hk_date_format (eff, d1, sizeof d1);
        s_say (out, "; R-L2 restarted by %s on %s",
               hk_interruption_kind_name (iv[out->counted].kind), d1);
    }
    s_say (out, "; ends %s (art. 202: corresponding day, else the month's last day)", d2);
    if (out->expired)
        s_say (out, "; EXPIRED %d days ago", -out->days_left);
    else
        s_say (out, "; %d days left", out->days_left);
    if (out->warning)
        s_say (out, "; R-L3 warning %d days", out->warning);

    /* Why each other interruption did not count. */
    for (size_t i = 0; i < n; i++) {
        if ((int) i == out->counted)
            continue;
        const char *why = NULL;
        if (!iv[i].has_evidence) {
            out->ignored_no_evidence++;
            why = "no evidence";
        }
        else if (iv[i].date < in->start) {
            out->ignored_before_start++;
            why = "before the start";
        }
        else if (iv[i].date > in->today) {
            out->ignored_future++;
            why = "after today";
        }
        else if (iv[i].date > expiry) {
            out->ignored_after_expiry++;
            why = "after the period had ended";
            if (s_debtor_side (iv[i].kind))
                out->waiver_possible = true;
        }
        else
            continue; /* superseded by a later counted interruption */
        hk_date_format (iv[i].date, d1, sizeof d1);
        s_say (out, "; ignored %s on %s: %s", hk_interruption_kind_name (iv[i].kind), d1, why);
    }
    if (out->waiver_possible)
        s_say (out, "; debtor agreed to perform after expiry: art. 192 waiver, legal review");
    return 0;
}

int32_t
hk_limitation_steady_days (const hk_limitation_input_t *in, const hk_limitation_t *out)
{
    const int32_t *warn = in->warn_days ? in->warn_days : s_default_warn;
    size_t nwarn = in->warn_days ? in->warn_count
                                 : sizeof s_default_warn / sizeof s_default_warn[0];
    int64_t k = INT32_MAX, left = out->days_left;
    /* days_left falls by one a day: the warning at w is reached at days_left == w, the
     * expiry is passed at -1 */
    for (size_t i = 0; i < nwarn; i++)
        if (left > warn[i] && left - warn[i] < k)
            k = left - warn[i];
    if (left >= 0 && left + 1 < k)
        k = left + 1;
    for (size_t i = 0; i < in->interruption_count; i++) { /* one that will count, ahead */
        const hk_interruption_t *iv = &in->interruptions[i];
        if (iv->has_evidence && iv->date > in->today && iv->date > out->effective_start
            && iv->date <= out->expiry
            && iv->date - in->today < k)
            k = iv->date - in->today;
    }
    return k >= INT32_MAX ? INT32_MAX : (int32_t) (k - 1);
}
