/* Self-test of the limitation clock (R-L1, R-L2, R-L3 warnings), the per-tenant aging
 * buckets (R-A1) and DSO. */
#include "aging_rules.h"
#include "check.h"
#include "huikuan/dates.h"
#include "huikuan/errcodes.h"
#include "limitation.h"

#define D(y, m, d) hk_date_from_ymd (y, m, d)

/* Clock of start with the given interruptions, seen on today, default warnings. */
static int
s_clock (int32_t start, const hk_interruption_t *iv, size_t n, int32_t today,
         hk_limitation_t *out)
{
    hk_limitation_input_t in = { .jurisdiction = "CN", .start = start, .interruptions = iv,
                                 .interruption_count = n, .today = today };
    return hk_limitation_compute (&in, out);
}

static int
s_test_limitation (void)
{
    int failures = 0;
    hk_limitation_t c;

    /* R-L1 table */
    CHECK (hk_limitation_rule ("CN") != NULL);
    CHECK_INT (hk_limitation_rule ("CN")->years, 3);
    CHECK (hk_limitation_rule (NULL) == hk_limitation_rule ("CN"));
    CHECK_INT (hk_limitation_rule ("CN-GPCL")->years, 2);
    CHECK (hk_limitation_rule ("cn") == NULL);
    CHECK (hk_limitation_rule ("XX") == NULL);
    CHECK_INT (hk_limitation_rule_count (), 2);
    CHECK (hk_limitation_rule_at (2) == NULL);

    /* year arithmetic: corresponding day, else the month's last day */
    CHECK_INT (hk_limitation_add_years (D (2024, 2, 29), 3), D (2027, 2, 28));
    CHECK_INT (hk_limitation_add_years (D (2023, 2, 28), 3), D (2026, 2, 28));
    CHECK_INT (hk_limitation_add_years (D (2024, 2, 29), 4), D (2028, 2, 29));
    CHECK_INT (hk_limitation_add_years (D (2025, 3, 1), 3), D (2028, 3, 1));
    CHECK_INT (hk_limitation_add_years (D (2025, 12, 31), 3), D (2028, 12, 31));

    /* no interruption: 2026-03-10 + 3 years, 365 + 365 + 366 days */
    CHECK_INT (s_clock (D (2026, 3, 10), NULL, 0, D (2026, 3, 10), &c), 0);
    CHECK_INT (c.effective_start, D (2026, 3, 10));
    CHECK_INT (c.counted, -1);
    CHECK_INT (c.expiry, D (2029, 3, 10));
    CHECK_INT (c.days_left, 1096);
    CHECK (!c.expired);
    CHECK_INT (c.warning, 0);
    CHECK_INT (c.warnings_due, 0);
    CHECK (strstr (c.explanation, "R-L1 CN 3 years") != NULL);
    CHECK (strstr (c.explanation, "art. 188") != NULL);
    CHECK (strstr (c.explanation, "2029-03-10") != NULL);

    /* leap years through compute */
    CHECK_INT (s_clock (D (2024, 2, 29), NULL, 0, D (2025, 1, 1), &c), 0);
    CHECK_INT (c.expiry, D (2027, 2, 28));
    CHECK_INT (s_clock (D (2023, 2, 28), NULL, 0, D (2025, 1, 1), &c), 0);
    CHECK_INT (c.expiry, D (2026, 2, 28));

    /* R-L2: one demand with proof restarts the period */
    hk_interruption_t demand = { D (2027, 1, 5), HK_INTERRUPT_DEMAND, true };
    CHECK_INT (s_clock (D (2026, 3, 10), &demand, 1, D (2027, 6, 1), &c), 0);
    CHECK_INT (c.effective_start, D (2027, 1, 5));
    CHECK_INT (c.counted, 0);
    CHECK_INT (c.expiry, D (2030, 1, 5));
    CHECK (strstr (c.explanation, "R-L2 restarted by demand on 2027-01-05") != NULL);

    /* several, out of order: the latest counts */
    hk_interruption_t two[] = {
        { D (2028, 6, 1), HK_INTERRUPT_ACKNOWLEDGEMENT, true },
        { D (2027, 1, 5), HK_INTERRUPT_DEMAND, true },
    };
    CHECK_INT (s_clock (D (2026, 3, 10), two, 2, D (2028, 7, 1), &c), 0);
    CHECK_INT (c.effective_start, D (2028, 6, 1));
    CHECK_INT (c.counted, 0);
    CHECK_INT (c.expiry, D (2031, 6, 1));
    CHECK_INT (c.ignored_no_evidence + c.ignored_before_start + c.ignored_future
                   + c.ignored_after_expiry, 0);

    /* without evidence it does not count */
    two[0].has_evidence = false;
    CHECK_INT (s_clock (D (2026, 3, 10), two, 2, D (2028, 7, 1), &c), 0);
    CHECK_INT (c.effective_start, D (2027, 1, 5));
    CHECK_INT (c.counted, 1);
    CHECK_INT (c.expiry, D (2030, 1, 5));
    CHECK_INT (c.ignored_no_evidence, 1);
    CHECK (strstr (c.explanation, "ignored acknowledgement on 2028-06-01: no evidence") != NULL);

    /* before the start, and after today: ignored */
    hk_interruption_t odd[] = {
        { D (2026, 1, 1), HK_INTERRUPT_LAWSUIT, true },
        { D (2027, 6, 1), HK_INTERRUPT_INTEREST_PAID, true },
    };
    CHECK_INT (s_clock (D (2026, 3, 10), odd, 2, D (2027, 1, 1), &c), 0);
    CHECK_INT (c.effective_start, D (2026, 3, 10));
    CHECK_INT (c.counted, -1);
    CHECK_INT (c.expiry, D (2029, 3, 10));
    CHECK_INT (c.ignored_before_start, 1);
    CHECK_INT (c.ignored_future, 1);
    CHECK (strstr (c.explanation, "before the start") != NULL);
    CHECK (strstr (c.explanation, "after today") != NULL);
    /* the same interruption counts once today has reached it */
    CHECK_INT (s_clock (D (2026, 3, 10), odd, 2, D (2027, 6, 1), &c), 0);
    CHECK_INT (c.effective_start, D (2027, 6, 1));
    CHECK_INT (c.ignored_future, 0);
    /* on the start day itself: counts, changes nothing */
    hk_interruption_t same = { D (2026, 3, 10), HK_INTERRUPT_DEMAND, true };
    CHECK_INT (s_clock (D (2026, 3, 10), &same, 1, D (2026, 4, 1), &c), 0);
    CHECK_INT (c.counted, 0);
    CHECK_INT (c.expiry, D (2029, 3, 10));

    /* a chain: each inside the period running before it */
    hk_interruption_t chain[] = {
        { D (2025, 6, 1), HK_INTERRUPT_LAWSUIT, true },
        { D (2022, 12, 1), HK_INTERRUPT_DEMAND, true },
    };
    CHECK_INT (s_clock (D (2020, 1, 10), chain, 2, D (2026, 1, 1), &c), 0);
    CHECK_INT (c.effective_start, D (2025, 6, 1));
    CHECK_INT (c.expiry, D (2028, 6, 1));
    CHECK (!c.expired);

    /* after the period ended: no restart; a debtor's agreement flags a possible waiver */
    hk_interruption_t late = { D (2023, 2, 1), HK_INTERRUPT_REPAYMENT_PLAN, true };
    CHECK_INT (s_clock (D (2020, 1, 10), &late, 1, D (2024, 1, 1), &c), 0);
    CHECK_INT (c.expiry, D (2023, 1, 10));
    CHECK (c.expired);
    CHECK_INT (c.ignored_after_expiry, 1);
    CHECK (c.waiver_possible);
    CHECK (strstr (c.explanation, "art. 192") != NULL);
    late.kind = HK_INTERRUPT_LAWSUIT;
    CHECK_INT (s_clock (D (2020, 1, 10), &late, 1, D (2024, 1, 1), &c), 0);
    CHECK_INT (c.ignored_after_expiry, 1);
    CHECK (!c.waiver_possible);

    /* R-L3 warnings: exactly at 180 / 90 / 30 days left, and one day off each */
    int32_t start = D (2026, 3, 10), end = D (2029, 3, 10);
    static const struct {
        int32_t left, warning;
        uint32_t due;
    } w[] = {
        { 181, 0, 0x0 }, { 180, 180, 0x1 }, { 179, 180, 0x1 }, { 91, 180, 0x1 },
        { 90, 90, 0x3 }, { 89, 90, 0x3 },   { 31, 90, 0x3 },   { 30, 30, 0x7 },
        { 29, 30, 0x7 }, { 0, 30, 0x7 },    { -1, 30, 0x7 },
    };
    for (size_t i = 0; i < sizeof w / sizeof w[0]; i++) {
        CHECK_INT (s_clock (start, NULL, 0, end - w[i].left, &c), 0);
        CHECK_INT (c.days_left, w[i].left);
        CHECK_INT (c.warning, w[i].warning);
        CHECK_INT (c.warnings_due, w[i].due);
        CHECK_INT (c.expired, w[i].left < 0);
    }
    /* the last day is still in time; the day after, expired */
    CHECK_INT (s_clock (start, NULL, 0, end, &c), 0);
    CHECK (!c.expired);
    CHECK_INT (s_clock (start, NULL, 0, end + 1, &c), 0);
    CHECK (c.expired);
    CHECK_INT (c.days_left, -1);
    CHECK (strstr (c.explanation, "EXPIRED 1 days ago") != NULL);

    /* custom offsets and jurisdiction */
    int32_t offs[] = { 30, 365 };
    hk_limitation_input_t in = { .jurisdiction = "CN-GPCL", .start = start,
                                 .today = D (2028, 3, 10) - 100,
                                 .warn_days = offs, .warn_count = 2 };
    CHECK_INT (hk_limitation_compute (&in, &c), 0);
    CHECK_INT (c.expiry, D (2028, 3, 10));
    CHECK_INT (c.warning, 365);
    CHECK_INT (c.warnings_due, 0x2);
    in.warn_count = 0; /* no warnings wanted */
    CHECK_INT (hk_limitation_compute (&in, &c), 0);
    CHECK_INT (c.warning, 0);

    /* refusals */
    int32_t bad_off[] = { 30, -1 };
    in.warn_days = bad_off;
    in.warn_count = 2;
    CHECK_INT (hk_limitation_compute (&in, &c), HK_EINVAL);
    in.warn_count = HK_LIMITATION_MAX_WARNINGS + 1;
    CHECK_INT (hk_limitation_compute (&in, &c), HK_EINVAL);
    in.warn_days = NULL;
    in.jurisdiction = "XX";
    CHECK_INT (hk_limitation_compute (&in, &c), HK_ENOTFOUND);
    in.jurisdiction = NULL; /* default */
    CHECK_INT (hk_limitation_compute (&in, &c), 0);
    CHECK_STR (c.rule->code, "CN");
    hk_interruption_t weird = { D (2027, 1, 1), 99, true };
    in.interruptions = &weird;
    in.interruption_count = 1;
    CHECK_INT (hk_limitation_compute (&in, &c), HK_EINVAL);
    in.interruptions = NULL;
    CHECK_INT (hk_limitation_compute (&in, &c), HK_EINVAL);
    CHECK_INT (hk_limitation_compute (NULL, &c), HK_EINVAL);
    CHECK_INT (hk_limitation_compute (&in, NULL), HK_EINVAL);
    CHECK_STR (hk_interruption_kind_name (HK_INTERRUPT_EXTENSION_REQUEST), "extension-request");
    /* R-L2: the feed's names (docs/feeds.md) and the names above both parse */
    CHECK_INT (hk_interruption_kind_parse ("repayment_plan"), HK_INTERRUPT_REPAYMENT_PLAN);
    CHECK_INT (hk_interruption_kind_parse ("repayment-plan"), HK_INTERRUPT_REPAYMENT_PLAN);
    CHECK_INT (hk_interruption_kind_parse ("lawsuit"), HK_INTERRUPT_LAWSUIT);
    CHECK_INT (hk_interruption_kind_parse ("extension_request"), HK_INTERRUPT_EXTENSION_REQUEST);
    CHECK_INT (hk_interruption_kind_parse ("interest_paid"), HK_INTERRUPT_INTEREST_PAID);
    CHECK_INT (hk_interruption_kind_parse ("lawsui"), 0);
    CHECK_INT (hk_interruption_kind_parse ("lawsuits"), 0);
    CHECK_INT (hk_interruption_kind_parse (""), 0);
    CHECK_INT (hk_interruption_kind_parse (NULL), 0);
    for (int k = HK_INTERRUPT_LAWSUIT; k <= HK_INTERRUPT_EXTENSION_REQUEST; k++)
        CHECK_INT (hk_interruption_kind_parse (hk_interruption_kind_name (k)), k);
    return failures;
}

static int
s_test_buckets (void)
{
    int failures = 0;
    hk_buckets_t b, def;
    char err[80];

    /* the default equals the parsed default spec and the fixed hk_aging_bucket () */
    hk_buckets_default (&def);
    CHECK_INT (hk_buckets_parse ("0,30,60,90,180,365,730", &b, err, sizeof err), 0);
    CHECK_STR (err, "");
    CHECK_INT (b.count, def.count);
    CHECK_INT (def.count, 6);
    for (int32_t d = -5; d <= 800; d++) {
        CHECK_STR (hk_buckets_name (&def, d), hk_aging_bucket (d));
        CHECK_STR (hk_buckets_name (&b, d), hk_aging_bucket (d));
    }
    CHECK_STR (hk_buckets_name (&b, 731), "over-730");

    /* custom, with spaces and without the leading 0 */
    CHECK_INT (hk_buckets_parse (" 15, 45 ,120", &b, err, sizeof err), 0);
    CHECK_INT (b.count, 3);
    CHECK_STR (hk_buckets_name (&b, 0), "current");
    CHECK_STR (hk_buckets_name (&b, 1), "1-15");
    CHECK_STR (hk_buckets_name (&b, 15), "1-15");
    CHECK_STR (hk_buckets_name (&b, 16), "16-45");
    CHECK_STR (hk_buckets_name (&b, 45), "16-45");
    CHECK_STR (hk_buckets_name (&b, 46), "46-120");
    CHECK_STR (hk_buckets_name (&b, 120), "46-120");
    CHECK_STR (hk_buckets_name (&b, 121), "over-120");

    /* boundary days 30/31 and 730/731 with coarse buckets */
    CHECK_INT (hk_buckets_parse ("0,30,730", &b, err, sizeof err), 0);
    CHECK_STR (hk_buckets_name (&b, 30), "1-30");
    CHECK_STR (hk_buckets_name (&b, 31), "31-730");
    CHECK_STR (hk_buckets_name (&b, 730), "31-730");
    CHECK_STR (hk_buckets_name (&b, 731), "over-730");
    CHECK_STR (hk_buckets_name (&b, -1), "current");

    /* the most: 16 numbers, with or without 0 */
    CHECK_INT (hk_buckets_parse ("0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15", &b, err, sizeof err), 0);
    CHECK_INT (b.count, 15);
    CHECK_STR (hk_buckets_name (&b, 1), "1-1");
    CHECK_STR (hk_buckets_name (&b, 16), "over-15");
    CHECK_INT (hk_buckets_parse ("1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,36500", &b, err,
                                 sizeof err), 0);
    CHECK_INT (b.count, 16);
    CHECK_STR (hk_buckets_name (&b, 36500), "16-36500");
    CHECK_STR (hk_buckets_name (&b, 36501), "over-36500");

    /* refusals, with the reason */
    static const struct {
        const char *spec, *msg;
    } bad[] = {
        { "", "empty" },
        { "   ", "empty" },
        { "0,,30", "empty" },
        { "0,30,", "empty" },
        { "0,30,30", "not increasing" },
        { "0,60,30", "not increasing" },
        { "-5,30", "negative" },
        { "0,-30", "negative" },
        { "abc", "not a number" },
        { "0,30x", "not a number" },
        { "0,3 0", "not a number" },
        { "0", "no bound above 0" },
        { "0,36501", "over 36500" },
        { "0,99999999999999999999", "over 36500" },
        { "0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16", "more than 16" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_INT (hk_buckets_parse (bad[i].spec, &b, err, sizeof err), HK_EINVAL);
        if (!strstr (err, bad[i].msg)) {
            fprintf (stderr, "spec \"%s\": error \"%s\", expected \"%s\"\n", bad[i].spec, err,
                     bad[i].msg);
            failures++;
        }
        CHECK_INT (b.count, 0);
    }
    CHECK_INT (hk_buckets_parse (NULL, &b, err, sizeof err), HK_EINVAL);
    CHECK_INT (hk_buckets_parse ("0,30", &b, NULL, 0), 0);
    CHECK_INT (hk_buckets_parse ("0,x", &b, NULL, 0), HK_EINVAL);
    CHECK_INT (hk_buckets_parse ("0,30", NULL, err, sizeof err), HK_EINVAL);
    return failures;
}

static int
s_test_dso (void)
{
    int failures = 0;
    /* 2,500.00 owed on 10,000.00 of sales over 90 days: 22.5 days */
    CHECK_INT (hk_dso (250000, 1000000, 90), 2250);
    /* 1,234,567.89 on 5,000,000.00 over 91 days: 22.4691... -> 22.47 */
    CHECK_INT (hk_dso (123456789, 500000000, 91), 2247);
    /* 1/3 day = 33.33 -> 33; 2/3 = 66.67 -> 67 */
    CHECK_INT (hk_dso (1, 3, 1), 33);
    CHECK_INT (hk_dso (2, 3, 1), 67);
    /* exactly half: 1/8 day = 12.5 hundredths -> 13; 1/16 = 6.25 -> 6 */
    CHECK_INT (hk_dso (1, 8, 1), 13);
    CHECK_INT (hk_dso (1, 16, 1), 6);
    CHECK_INT (hk_dso (0, 1000, 30), 0);
    /* receivables above the period's sales: more days than the period */
    CHECK_INT (hk_dso (3000, 1000, 30), 9000);
    /* undefined */
    CHECK_INT (hk_dso (1000, 0, 30), -1);
    CHECK_INT (hk_dso (1000, -5, 30), -1);
    CHECK_INT (hk_dso (1000, 1000, 0), -1);
    CHECK_INT (hk_dso (-1, 1000, 30), -1);
    /* no overflow at the ends */
    CHECK_INT (hk_dso (INT64_MAX, INT64_MAX, 365), 36500);
    CHECK_INT (hk_dso (INT64_MAX, 1, 365), INT64_MAX);
    CHECK_INT (hk_dso (INT64_MAX / 2, INT64_MAX, 1), 50);
    return failures;
}

/* The stored parts of a clock: what the daily run must see change on its day. */
static bool
s_same_clock (const hk_limitation_t *a, const hk_limitation_t *b)
{
    return a->expiry == b->expiry && a->effective_start == b->effective_start
           && a->warning == b->warning && a->expired == b->expired;
}

/* A clock and its input, for hk_test_walk_steady. */
typedef struct {
    const hk_limitation_input_t *in;
    const hk_limitation_t *clock;
} s_clock_at_t;

/* Whether the clock k days on is the one computed (the stored parts). */
static bool
s_clock_same_at (void *ctx, int32_t k)
{
    const s_clock_at_t *at = ctx;
    hk_limitation_input_t b = *at->in;
    b.today += k;
    hk_limitation_t cb;
    return hk_limitation_compute (&b, &cb) == 0 && s_same_clock (at->clock, &cb);
}

/* hk_limitation_steady_days: the clock holds through its steady days and changes on the day
 * after (a warning reached, the expiry passed, an interruption dated ahead taking effect). */
static int
s_test_steady (void)
{
    int failures = 0;
    hk_limitation_t c;
    hk_limitation_input_t in = { .start = D (2024, 1, 10), .today = D (2026, 1, 1) };
    hk_limitation_compute (&in, &c); /* expires 2027-01-10: 374 days left, 180 first */
    CHECK_INT (hk_limitation_steady_days (&in, &c), 374 - 180 - 1);
    in.today = D (2027, 1, 10); /* the last day: tomorrow it has expired */
    hk_limitation_compute (&in, &c);
    CHECK_INT (hk_limitation_steady_days (&in, &c), 0);
    in.today = D (2027, 1, 11);
    hk_limitation_compute (&in, &c);
    CHECK_INT (hk_limitation_steady_days (&in, &c), INT32_MAX);

    uint32_t st = 7;
    int late = 0, early = 0;
    for (int n = 0; n < 3000; n++) {
        st = st * 1664525u + 1013904223u;
        hk_interruption_t iv[2];
        size_t niv = (st >> 8) % 3;
        int32_t start = D (2022, 1, 1) + (int32_t) ((st >> 4) % 1500);
        for (size_t i = 0; i < niv; i++) {
            st = st * 1664525u + 1013904223u;
            iv[i] = (hk_interruption_t) { .date = start + (int32_t) ((st >> 8) % 1400),
                                          .kind = 1, .has_evidence = (st >> 3) % 4 != 0 };
        }
        st = st * 1664525u + 1013904223u;
        hk_limitation_input_t a = { .start = start, .interruptions = iv,
                                    .interruption_count = niv,
                                    .today = start + (int32_t) ((st >> 8) % 1600) - 100 };
        hk_limitation_t ca;
        if (hk_limitation_compute (&a, &ca) != 0) {
            late++;
            continue;
        }
        s_clock_at_t at = { &a, &ca };
        hk_test_walk_steady (hk_limitation_steady_days (&a, &ca), 1500, s_clock_same_at, &at,
                             &late, &early);
    }
    CHECK_INT (late, 0);
    CHECK_INT (early, 0);
    return failures;
}

int
hk_limitation_test (bool verbose)
{
    int failures = s_test_limitation () + s_test_buckets () + s_test_dso () + s_test_steady ();
    if (verbose)
        printf ("limitation: %d failures\n", failures);
    return failures;
}
