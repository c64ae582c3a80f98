/* Self-test of the collection strategy: the ladder as data (R-C1, R-C2, R-C5, R-S4, R-A8),
 * rule matching (R-A2, R-A5, R-A6), parse errors with JSON paths, the shipped default, the
 * champion/challenger split, whom to contact (R-C3), who speaks (R-C4) and the caps (R-C2). */
#include <stdlib.h>

#include "check.h"
#include "huikuan/dates.h"
#include "huikuan/errcodes.h"
#include "huikuan/files.h"
#include "strategy.h"

#define DAY HK_US_PER_DAY
#define HOUR HK_US_PER_HOUR

/* The common head of the test documents: channels and waits for every rule. */
#define HEAD                                                                                    \
    "\"channels\": {\"pre_due_reminder\": \"email\", \"written_notice\": \"email\"},"           \
    "\"wait\": {\"written_notice\": \"5d\", \"phone\": \"3d\", \"visit\": \"7d\","              \
    "\"agency\": \"30d\", \"tracing\": \"14d\"},"

/* A document of name/version/HEAD, extra top-level members (ending in a comma) and rules. */
static hk_strategy_t *
s_doc (const char *extra, const char *rules, char *err, size_t errlen, int *rc)
{
    char text[8192];
    snprintf (text, sizeof text, "{\"name\": \"t\", \"version\": 3, %s" HEAD "\"rules\": [%s]}",
              extra, rules);
    hk_strategy_t *s = NULL;
    *rc = hk_strategy_parse (text, strlen (text), &s, err, errlen);
    return s;
}

static const char s_rules[] =
    "{\"name\": \"lost\", \"match\": {\"reachable\": false}},"
    "{\"name\": \"big-hard\", \"match\": {\"stance\": \"hard\", \"amount_min\": {\"CNY\": 1000000}},"
    " \"ladder\": [\"written_notice\", \"visit\", \"legal\"],"
    " \"channels\": {\"written_notice\": \"letter\"}},"
    "{\"name\": \"hard\", \"match\": {\"stance\": \"hard\"},"
    " \"ladder\": [\"written_notice\", \"phone\", \"visit\", \"agency\", \"legal\"],"
    " \"channels\": {\"written_notice\": \"letter\"},"
    " \"wait\": {\"written_notice\": \"2d\", \"phone\": \"1d\"}},"
    "{\"name\": \"grade23\", \"match\": {\"grade_min\": 2, \"grade_max\": 3},"
    " \"ladder\": [\"phone\", \"agency\"]},"
    "{\"name\": \"wilful\", \"match\": {\"cause\": [\"wilful\", \"unknown\"]},"
    " \"ladder\": [\"written_notice\", \"legal\"], \"channels\": {\"written_notice\": \"sms\"}},"
    "{\"name\": \"soft\", \"ladder\": [\"pre_due_reminder\", \"written_notice\", \"phone\","
    " \"visit\", \"agency\", \"legal\"]}";

/* A soft, reachable, overdue debt with nothing done yet. */
static hk_debt_view_t
s_view (int64_t now)
{
    return (hk_debt_view_t) { .tenant = "acme", .debtor_id = "D1", .grade = 4, .stance = "soft",
                              .cause = "oversight", .currency = "CNY", .amount_minor = 500000,
                              .dpd = 10, .reachable = true, .last_step = HK_STEP_NONE,
                              .now_us = now };
}

static hk_decision_t
s_decide (const hk_strategy_t *s, const hk_debt_view_t *v)
{
    hk_decision_t d;
    memset (&d, 0x5A, sizeof d);
    if (hk_strategy_decide (s, v, &d) != 0)
        memset (&d, 0, sizeof d);
    return d;
}

static int
s_test_steps (void)
{
    int failures = 0;
    hk_step_t st;
    for (int i = 0; i < HK_STEP_COUNT; i++) {
        CHECK_INT (hk_step_parse (hk_step_name ((hk_step_t) i), &st), 0);
        CHECK_INT (st, i);
    }
    CHECK_STR (hk_step_name (HK_STEP_PRE_DUE), "pre_due_reminder");
    CHECK_STR (hk_step_name (HK_STEP_NOTICE), "written_notice");
    CHECK_STR (hk_step_name (HK_STEP_TRACE), "tracing");
    CHECK_STR (hk_step_name (HK_STEP_COUNT), "none");
    st = HK_STEP_LEGAL;
    CHECK_INT (hk_step_parse ("Phone", &st), HK_EINVAL);
    CHECK_INT (st, HK_STEP_NONE);
    CHECK_INT (hk_step_parse (NULL, &st), HK_EINVAL);
    return failures;
}

/* R-C1 walk of the soft catch-all with its waits, the phone cap 3, one visit (R-C2). */
static int
s_test_walk (const hk_strategy_t *s)
{
    int failures = 0;
    int64_t t0 = INT64_C (1790000000000000);
    hk_debt_view_t v = s_view (t0);
    hk_decision_t d = s_decide (s, &v);
    CHECK_INT (d.step, HK_STEP_NOTICE);
    CHECK_STR (d.channel, "email");
    CHECK_STR (d.rule, "soft");
    CHECK (d.not_before_us == t0);
    CHECK_INT (d.variant, 0);
    CHECK (strstr (d.rule_ids, "R-C1") != NULL);
    CHECK (strstr (d.reason, "'soft'") != NULL);

    /* written notice at t1: phone after 5d, not a microsecond before */
    int64_t t1 = t0 + HOUR;
    v.last_step = HK_STEP_NOTICE;
    v.last_step_at_us = t1;
    v.now_us = t1 + 5 * DAY - 1;
    d = s_decide (s, &v);
    CHECK_INT (d.step, HK_STEP_NONE);
    CHECK_INT (d.upcoming, HK_STEP_PHONE);
    CHECK (d.not_before_us == t1 + 5 * DAY);
    CHECK_STR (d.channel, "phone");
    v.now_us = t1 + 5 * DAY;
    d = s_decide (s, &v);
    CHECK_INT (d.step, HK_STEP_PHONE);
    CHECK (d.not_before_us == t1 + 5 * DAY);
    CHECK (strstr (d.rule_ids, "R-C2") != NULL);
    CHECK (strstr (d.reason, "phone call 1 of 3") != NULL);

    /* phone repeats every 3d until three calls are made (R-C2 事不过三) */
    int64_t t = v.now_us;
    v.last_step = HK_STEP_PHONE;
    for (int calls = 1; calls <= 2; calls++) {
        v.phone_count = calls;
        v.last_step_at_us = t;
        v.now_us = t + 3 * DAY - 1;
        d = s_decide (s, &v);
        CHECK_INT (d.step, HK_STEP_NONE);
        CHECK_INT (d.upcoming, HK_STEP_PHONE);
        CHECK (d.not_before_us == t + 3 * DAY);
        v.now_us = t + 3 * DAY;
        d = s_decide (s, &v);
        CHECK_INT (d.step, HK_STEP_PHONE);
        t = v.now_us;
    }
    CHECK (strstr (d.reason, "phone call 3 of 3") != NULL);
    /* the third call made: a fourth is never planned, the visit comes next */
    v.phone_count = 3;
    v.last_step_at_us = t;
    v.now_us = t + 3 * DAY - 1;
    d = s_decide (s, &v);
    CHECK_INT (d.step, HK_STEP_NONE);
    CHECK_INT (d.upcoming, HK_STEP_VISIT);
    v.now_us = t + 3 * DAY;
    d = s_decide (s, &v);
    CHECK_INT (d.step, HK_STEP_VISIT);
    CHECK_STR (d.channel, "visit");
    CHECK (strstr (d.rule_ids, "R-C2") != NULL);
    /* one visit, then the agency after 7d */
    t = v.now_us;
    v.last_step = HK_STEP_VISIT;
    v.visit_count = 1;
    v.last_step_at_us = t;
    v.now_us = t + 7 * DAY - 1;
    d = s_decide (s, &v);
    CHECK_INT (d.step, HK_STEP_NONE);
    CHECK_INT (d.upcoming, HK_STEP_AGENCY);
    v.now_us = t + 7 * DAY;
    d = s_decide (s, &v);
    CHECK_INT (d.step, HK_STEP_AGENCY);
    CHECK_STR (d.channel, "agency");
    /* the agency, then legal after 30d */
    t = v.now_us;
    v.last_step = HK_STEP_AGENCY;
    v.last_step_at_us = t;
    v.now_us = t + 30 * DAY - 1;
    CHECK_INT (s_decide (s, &v).step, HK_STEP_NONE);
    v.now_us = t + 30 * DAY;
    d = s_decide (s, &v);
    CHECK_INT (d.step, HK_STEP_LEGAL);
    CHECK_STR (d.channel, "legal");
    /* after legal: nothing at all */
    v.last_step = HK_STEP_LEGAL;
    v.last_step_at_us = v.now_us;
    v.now_us += 365 * DAY;
    d = s_decide (s, &v);
    CHECK_INT (d.step, HK_STEP_NONE);
    CHECK_INT (d.upcoming, HK_STEP_NONE);
    CHECK (d.not_before_us == 0);
    CHECK (strstr (d.reason, "ends") != NULL);

    /* a phone count reached under another rule is not repeated: notice -> visit */
    v = s_view (t0);
    v.last_step = HK_STEP_NOTICE;
    v.last_step_at_us = t0;
    v.phone_count = 3;
    v.now_us = t0 + 5 * DAY;
    CHECK_INT (s_decide (s, &v).step, HK_STEP_VISIT);
    /* a visit made: visit skipped too */
    v.visit_count = 1;
    CHECK_INT (s_decide (s, &v).step, HK_STEP_AGENCY);

    /* the hard rule's own waits override the top-level ones */
    v = s_view (t0);
    v.stance = "hard";
    d = s_decide (s, &v);
    CHECK_STR (d.rule, "hard");
    CHECK_INT (d.step, HK_STEP_NOTICE);
    CHECK_STR (d.channel, "letter");
    CHECK (strstr (d.rule_ids, "R-A5") != NULL);
    v.last_step = HK_STEP_NOTICE;
    v.last_step_at_us = t0;
    v.now_us = t0 + 2 * DAY - 1;
    CHECK_INT (s_decide (s, &v).step, HK_STEP_NONE);
    v.now_us = t0 + 2 * DAY;
    CHECK_INT (s_decide (s, &v).step, HK_STEP_PHONE);
    /* a step the ladder leaves out is skipped: grade23 goes phone -> agency */
    v = s_view (t0);
    v.grade = 3;
    v.last_step = HK_STEP_PHONE;
    v.phone_count = 3;
    v.last_step_at_us = t0;
    v.now_us = t0 + 3 * DAY;
    d = s_decide (s, &v);
    CHECK_STR (d.rule, "grade23");
    CHECK_INT (d.step, HK_STEP_AGENCY);
    /* the ladder never goes down: after a visit under another rule, grade23 has agency only */
    v.last_step = HK_STEP_VISIT;
    v.visit_count = 1;
    v.phone_count = 0;
    v.now_us = t0 + 7 * DAY;
    CHECK_INT (s_decide (s, &v).step, HK_STEP_AGENCY);
    /* no wait known: last step without time -> at once */
    v.last_step_at_us = 0;
    v.now_us = t0;
    CHECK_INT (s_decide (s, &v).step, HK_STEP_AGENCY);
    return failures;
}

/* The phone and visit maxima of a document (R-C2), and the refusal of more than three calls. */
static int
s_test_maxima (void)
{
    int failures = 0, rc;
    char err[256];
    const char *soft = "{\"name\": \"soft\", \"ladder\": [\"written_notice\", \"phone\", \"visit\","
                       " \"agency\"]}";
    hk_strategy_t *s = s_doc ("\"max_phone\": 4,", soft, err, sizeof err, &rc);
    CHECK (s == NULL);
    CHECK_INT (rc, HK_EINVAL);
    CHECK (strncmp (err, "max_phone: 4 is above 3", 23) == 0);
    CHECK (strstr (err, "R-C2") != NULL);
    s = s_doc ("\"max_visit\": 2,", soft, err, sizeof err, &rc);
    CHECK (s == NULL);
    CHECK (strncmp (err, "max_visit: 2 is above 1", 23) == 0);
    s = s_doc ("\"max_phone\": -1,", soft, err, sizeof err, &rc);
    CHECK (s == NULL);
    CHECK_STR (err, "max_phone: must be an integer from 0 to 3");

    /* max_phone 1: one call, then the visit */
    s = s_doc ("\"max_phone\": 1,", soft, err, sizeof err, &rc);
    CHECK (s != NULL);
    if (s) {
        hk_debt_view_t v = s_view (100 * DAY);
        v.last_step = HK_STEP_PHONE;
        v.last_step_at_us = 90 * DAY;
        v.phone_count = 1;
        CHECK_INT (s_decide (s, &v).step, HK_STEP_VISIT);
        v.phone_count = 0;
        CHECK_INT (s_decide (s, &v).step, HK_STEP_PHONE);
        hk_strategy_free (s);
    }
    /* max_phone 0 and max_visit 0: straight from the notice to the agency */
    s = s_doc ("\"max_phone\": 0, \"max_visit\": 0,", soft, err, sizeof err, &rc);
    CHECK (s != NULL);
    if (s) {
        hk_debt_view_t v = s_view (100 * DAY);
        v.last_step = HK_STEP_NOTICE;
        v.last_step_at_us = 90 * DAY;
        CHECK_INT (s_decide (s, &v).step, HK_STEP_AGENCY);
        hk_strategy_free (s);
    }
    /* defaults when absent: 3 calls, 1 visit, 3 days before */
    s = s_doc ("", soft, err, sizeof err, &rc);
    CHECK (s != NULL);
    if (s) {
        hk_debt_view_t v = s_view (100 * DAY);
        v.last_step = HK_STEP_PHONE;
        v.last_step_at_us = 90 * DAY;
        v.phone_count = 2;
        CHECK_INT (s_decide (s, &v).step, HK_STEP_PHONE);
        v.phone_count = 3;
        CHECK_INT (s_decide (s, &v).step, HK_STEP_VISIT);
        hk_strategy_free (s);
    }
    return failures;
}

/* R-C5 broken promise and the reply that holds the ladder (R-C1). */
static int
s_test_promises (const hk_strategy_t *s)
{
    int failures = 0;
    int64_t t = 200 * DAY;
    hk_debt_view_t v = s_view (t + HOUR);
    v.last_step = HK_STEP_PHONE;
    v.last_step_at_us = t;
    v.phone_count = 1;
    /* normal: the second call after 3d */
    hk_decision_t d = s_decide (s, &v);
    CHECK_INT (d.step, HK_STEP_NONE);
    CHECK_INT (d.upcoming, HK_STEP_PHONE);
    /* a promise made on that call (answered) and broken: the visit at once, no more calls */
    v.answered = true;
    v.broken_promises = 1;
    d = s_decide (s, &v);
    CHECK_INT (d.step, HK_STEP_VISIT);
    CHECK (strstr (d.rule_ids, "R-C5") != NULL);
    CHECK (strstr (d.reason, "R-C5") != NULL);
    /* with the time of the break: after the last step escalates, before it does not */
    v.answered = false;
    v.promise_broken_at_us = t + 1;
    CHECK_INT (s_decide (s, &v).step, HK_STEP_VISIT);
    v.promise_broken_at_us = t - 1;
    d = s_decide (s, &v);
    CHECK_INT (d.step, HK_STEP_NONE);
    CHECK_INT (d.upcoming, HK_STEP_PHONE);
    CHECK (d.not_before_us == t + 3 * DAY);
    CHECK (strstr (d.rule_ids, "R-C5") == NULL);
    /* broken after the written notice: the phone at once instead of after 5d */
    v = s_view (t + HOUR);
    v.last_step = HK_STEP_NOTICE;
    v.last_step_at_us = t;
    v.broken_promises = 2;
    v.promise_broken_at_us = t + 30;
    d = s_decide (s, &v);
    CHECK_INT (d.step, HK_STEP_PHONE);
    CHECK (d.not_before_us == t + HOUR);

    /* R-C1: the notice reported not to work (mail returned, refused, wrong number) after it
     * was made: the phone at once; a report older than the step changes nothing */
    v = s_view (t + HOUR);
    v.last_step = HK_STEP_NOTICE;
    v.last_step_at_us = t;
    v.failed_at_us = t + 30;
    d = s_decide (s, &v);
    CHECK_INT (d.step, HK_STEP_PHONE);
    CHECK (d.not_before_us == t + HOUR);
    CHECK (strstr (d.rule_ids, "R-C1") != NULL && strstr (d.rule_ids, "R-C5") == NULL);
    CHECK (strstr (d.reason, "did not work") != NULL);
    v.failed_at_us = t - 1;
    d = s_decide (s, &v);
    CHECK_INT (d.step, HK_STEP_NONE);
    CHECK_INT (d.upcoming, HK_STEP_PHONE);
    CHECK (d.not_before_us == t + 5 * DAY);
    /* a call that did not work (wrong number): no further call, the visit at once */
    v = s_view (t + HOUR);
    v.last_step = HK_STEP_PHONE;
    v.last_step_at_us = t;
    v.phone_count = 1;
    v.failed_at_us = t + 60;
    CHECK_INT (s_decide (s, &v).step, HK_STEP_VISIT);
    /* R-A7: a signal raised since the notice asks for settlement now: the next rung (the
     * phone, not beyond it) without the notice's five days; one raised before it waits */
    v = s_view (t + HOUR);
    v.last_step = HK_STEP_NOTICE;
    v.last_step_at_us = t;
    v.signal_at_us = t + 30;
    d = s_decide (s, &v);
    CHECK_INT (d.step, HK_STEP_PHONE);
    CHECK (d.not_before_us == t + HOUR);
    CHECK (strstr (d.rule_ids, "R-A7") != NULL && strstr (d.rule_ids, "R-C5") == NULL);
    CHECK (strstr (d.reason, "early-warning signal since the") != NULL);
    v.signal_at_us = t - 1;
    d = s_decide (s, &v);
    CHECK_INT (d.step, HK_STEP_NONE);
    CHECK_INT (d.upcoming, HK_STEP_PHONE);
    CHECK (d.not_before_us == t + 5 * DAY);
    CHECK (strstr (d.rule_ids, "R-A7") == NULL);
    /* before the first overdue rung there is no wait to skip: no R-A7 */
    v = s_view (t + HOUR);
    v.signal_at_us = t;
    CHECK (strstr (s_decide (s, &v).rule_ids, "R-A7") == NULL);

    /* answered, nothing broken: the move up waits one wait more */
    v = s_view (t);
    v.last_step = HK_STEP_NOTICE;
    v.last_step_at_us = t;
    v.answered = true;
    v.now_us = t + 5 * DAY;
    d = s_decide (s, &v);
    CHECK_INT (d.step, HK_STEP_NONE);
    CHECK_INT (d.upcoming, HK_STEP_PHONE);
    CHECK (d.not_before_us == t + 10 * DAY);
    v.now_us = t + 10 * DAY - 1;
    CHECK_INT (s_decide (s, &v).step, HK_STEP_NONE);
    v.now_us = t + 10 * DAY;
    CHECK_INT (s_decide (s, &v).step, HK_STEP_PHONE);
    /* a repeat of the same rung is not delayed */
    v.last_step = HK_STEP_PHONE;
    v.phone_count = 1;
    v.now_us = t + 3 * DAY;
    CHECK_INT (s_decide (s, &v).step, HK_STEP_PHONE);
    return failures;
}

/* R-A8 tracing, and R-S4 the pre-due window. */
static int
s_test_trace_pre_due (const hk_strategy_t *s)
{
    int failures = 0;
    int64_t t = 300 * DAY;
    hk_debt_view_t v = s_view (t);
    v.reachable = false;
    v.stance = "hard";
    v.amount_minor = 5000000;
    hk_decision_t d = s_decide (s, &v);
    CHECK_INT (d.step, HK_STEP_TRACE);
    CHECK_STR (d.channel, "tracing");
    CHECK_STR (d.rule, "lost");
    CHECK (strstr (d.rule_ids, "R-A8") != NULL);
    /* even with a phone rung due: never the dialler */
    v.last_step = HK_STEP_PHONE;
    v.last_step_at_us = t - 10 * DAY;
    CHECK_INT (s_decide (s, &v).step, HK_STEP_TRACE);
    /* traced at t: again after 14d */
    v.last_step = HK_STEP_TRACE;
    v.last_step_at_us = t;
    v.now_us = t + 14 * DAY - 1;
    d = s_decide (s, &v);
    CHECK_INT (d.step, HK_STEP_NONE);
    CHECK_INT (d.upcoming, HK_STEP_TRACE);
    CHECK (d.not_before_us == t + 14 * DAY);
    v.now_us = t + 14 * DAY;
    CHECK_INT (s_decide (s, &v).step, HK_STEP_TRACE);
    /* found again: the ladder starts over, the call count still holds */
    v.reachable = true;
    v.stance = "soft";
    v.amount_minor = 50000;
    v.phone_count = 3;
    CHECK_INT (s_decide (s, &v).step, HK_STEP_NOTICE);
    /* a document without a rule for lost debtors still traces them (R-A8 is not optional) */
    int rc;
    char err[256];
    hk_strategy_t *bare = s_doc ("", "{\"name\": \"all\", \"ladder\": [\"phone\"]}", err,
                                 sizeof err, &rc);
    CHECK (bare != NULL);
    if (bare) {
        v = s_view (t);
        v.reachable = false;
        d = s_decide (bare, &v);
        CHECK_INT (d.step, HK_STEP_TRACE);
        CHECK_STR (d.rule, "all");
        hk_strategy_free (bare);
    }

    /* R-S4: remind_days_before 3 (the default) */
    v = s_view (t);
    v.dpd = -4;
    d = s_decide (s, &v);
    CHECK_INT (d.step, HK_STEP_NONE);
    CHECK_INT (d.upcoming, HK_STEP_PRE_DUE);
    CHECK (d.not_before_us == t + DAY);
    v.dpd = -3;
    d = s_decide (s, &v);
    CHECK_INT (d.step, HK_STEP_PRE_DUE);
    CHECK_STR (d.channel, "email");
    CHECK (strstr (d.rule_ids, "R-S4") != NULL);
    v.dpd = 0;
    CHECK_INT (s_decide (s, &v).step, HK_STEP_PRE_DUE);
    /* reminded: nothing else before the debt is overdue */
    v.last_step = HK_STEP_PRE_DUE;
    v.last_step_at_us = t - DAY;
    v.dpd = -1;
    d = s_decide (s, &v);
    CHECK_INT (d.step, HK_STEP_NONE);
    CHECK_INT (d.upcoming, HK_STEP_NOTICE);
    CHECK (d.not_before_us == t + 2 * DAY);
    v.dpd = 0;
    CHECK_INT (s_decide (s, &v).step, HK_STEP_NONE);
    v.dpd = 1;
    d = s_decide (s, &v);
    CHECK_INT (d.step, HK_STEP_NOTICE);
    CHECK (d.not_before_us == t);
    /* overdue without a reminder: the reminder is not sent late */
    v.last_step = HK_STEP_NONE;
    v.last_step_at_us = 0;
    CHECK_INT (s_decide (s, &v).step, HK_STEP_NOTICE);
    /* a ladder without the reminder (hard): nothing before the due date */
    v.stance = "hard";
    v.dpd = -2;
    d = s_decide (s, &v);
    CHECK_INT (d.step, HK_STEP_NONE);
    CHECK_INT (d.upcoming, HK_STEP_NOTICE);
    CHECK (d.not_before_us == t + 3 * DAY);
    /* remind_days_before 5 */
    hk_strategy_t *five = s_doc ("\"remind_days_before\": 5,", s_rules, err, sizeof err, &rc);
    CHECK (five != NULL);
    if (five) {
        v = s_view (t);
        v.dpd = -5;
        CHECK_INT (s_decide (five, &v).step, HK_STEP_PRE_DUE);
        v.dpd = -6;
        CHECK_INT (s_decide (five, &v).step, HK_STEP_NONE);
        hk_strategy_free (five);
    }
    return failures;
}

/* First match wins, in document order (R-A2, R-A5, R-A6, amounts per currency). */
static int
s_test_match (const hk_strategy_t *s)
{
    int failures = 0;
    hk_debt_view_t v = s_view (400 * DAY);
    v.stance = "hard";
    v.amount_minor = 1000000;
    CHECK_STR (s_decide (s, &v).rule, "big-hard");
    v.amount_minor = 999999;
    CHECK_STR (s_decide (s, &v).rule, "hard");
    /* the bound speaks of CNY only: a USD debt of any size is not "big" */
    v.currency = "USD";
    v.amount_minor = 900000000;
    CHECK_STR (s_decide (s, &v).rule, "hard");
    v.currency = "CNY";
    v.stance = "HARD";
    v.amount_minor = 2000000;
    CHECK_STR (s_decide (s, &v).rule, "big-hard");
    /* grade 3: soft -> grade23, hard -> hard (listed first) */
    v.grade = 3;
    v.stance = "soft";
    CHECK_STR (s_decide (s, &v).rule, "grade23");
    CHECK (strstr (s_decide (s, &v).rule_ids, "R-A2") != NULL);
    v.stance = "hard";
    v.amount_minor = 5;
    CHECK_STR (s_decide (s, &v).rule, "hard");
    v.grade = 1;
    v.stance = "soft";
    CHECK_STR (s_decide (s, &v).rule, "soft");
    v.grade = 2;
    CHECK_STR (s_decide (s, &v).rule, "grade23");
    /* R-A6 causes: wilful and unknown */
    v.grade = 4;
    v.cause = "wilful";
    hk_decision_t d = s_decide (s, &v);
    CHECK_STR (d.rule, "wilful");
    CHECK_STR (d.channel, "sms");
    CHECK (strstr (d.rule_ids, "R-A6") != NULL);
    v.cause = "故意";
    CHECK_STR (s_decide (s, &v).rule, "wilful");
    v.cause = "";
    CHECK_STR (s_decide (s, &v).rule, "wilful");
    v.cause = NULL;
    CHECK_STR (s_decide (s, &v).rule, "wilful");
    v.cause = "cash_shortage";
    CHECK_STR (s_decide (s, &v).rule, "soft");
    /* no stance recorded: soft (R-A5, hard only when recorded) */
    v.stance = NULL;
    CHECK_STR (s_decide (s, &v).rule, "soft");

    /* the same rules in another order give another answer */
    int rc;
    char err[256];
    hk_strategy_t *swapped
        = s_doc ("",
                 "{\"name\": \"grade23\", \"match\": {\"grade_min\": 2, \"grade_max\": 3},"
                 " \"ladder\": [\"phone\"]},"
                 "{\"name\": \"hard\", \"match\": {\"stance\": \"hard\"}, \"ladder\": [\"phone\"]},"
                 "{\"name\": \"soft\", \"ladder\": [\"phone\"]}",
                 err, sizeof err, &rc);
    CHECK (swapped != NULL);
    if (swapped) {
        v = s_view (400 * DAY);
        v.grade = 3;
        v.stance = "hard";
        CHECK_STR (s_decide (swapped, &v).rule, "grade23");
        CHECK_STR (s_decide (s, &v).rule, "hard");
        hk_strategy_free (swapped);
    }
    /* amount_min and amount_max inclusive, "*" for any other currency */
    hk_strategy_t *amounts
        = s_doc ("",
                 "{\"name\": \"mid\", \"match\": {\"amount_min\": {\"CNY\": 100, \"*\": 10},"
                 " \"amount_max\": {\"CNY\": 200, \"*\": 20}}, \"ladder\": [\"phone\"]},"
                 "{\"name\": \"other\", \"ladder\": [\"phone\"]}",
                 err, sizeof err, &rc);
    CHECK (amounts != NULL);
    if (amounts) {
        v = s_view (400 * DAY);
        int64_t cny[] = { 99, 100, 200, 201 };
        const char *want[] = { "other", "mid", "mid", "other" };
        for (int i = 0; i < 4; i++) {
            v.amount_minor = cny[i];
            CHECK_STR (s_decide (amounts, &v).rule, want[i]);
        }
        v.currency = "EUR";
        v.amount_minor = 10;
        CHECK_STR (s_decide (amounts, &v).rule, "mid");
        v.amount_minor = 21;
        CHECK_STR (s_decide (amounts, &v).rule, "other");
        hk_strategy_free (amounts);
    }
    return failures;
}

/* Parse errors name the JSON path. */
static int
s_test_errors (void)
{
    int failures = 0;
    static const struct {
        const char *doc, *err;
        int rc;
    } cases[] = {
        { "{", "not valid JSON: line 1", HK_EPARSE },
        { "{\"name\": \"x\"} extra", "not valid JSON", HK_EPARSE },
        { "[1]", "a strategy is a JSON object", HK_EINVAL },
        { "{\"name\": \"t\", \"version\": 1, \"rulez\": []}", "rulez: unknown key", HK_EINVAL },
        { "{\"name\": \"t\"}", "version: required", HK_EINVAL },
        { "{\"name\": \"\", \"version\": 1}", "name: must be 1 to 63 bytes", HK_EINVAL },
        { "{\"name\": \"t\", \"version\": 1}", "rules: required", HK_EINVAL },
        { "{\"name\": \"t\", \"version\": 1, \"wait\": {\"legal\": \"5d\"}}",
          "wait.legal: no wait after legal", HK_EINVAL },
        { "{\"name\": \"t\", \"version\": 1, \"wait\": {\"phone\": \"3 days\"}}",
          "wait.phone: must be a duration", HK_EINVAL },
        { "{\"name\": \"t\", \"version\": 1, \"wait\": {\"phone\": \"-3d\"}}",
          "wait.phone: must be more than 0", HK_EINVAL },
        { "{\"name\": \"t\", \"version\": 1, \"channels\": {\"phone\": \"sms\"}}",
          "channels.phone: 'sms' is not a channel of phone", HK_EINVAL },
        { "{\"name\": \"t\", \"version\": 1, \"channels\": {\"written_notice\": \"fax\"}}",
          "channels.written_notice: 'fax' is not a channel", HK_EINVAL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[256] = "";
        hk_strategy_t *s = (hk_strategy_t *) 1;
        int rc = hk_strategy_parse (cases[i].doc, strlen (cases[i].doc), &s, err, sizeof err);
        CHECK_INT (rc, cases[i].rc);
        CHECK (s == NULL);
        if (strncmp (err, cases[i].err, strlen (cases[i].err)) != 0) {
            fprintf (stderr, "strategy: case %zu: error \"%s\", expected \"%s...\"\n", i, err,
                     cases[i].err);
            failures++;
        }
    }
    /* NUL inside the text; and len is honoured (no NUL terminator needed) */
    char err[256];
    hk_strategy_t *s = NULL;
    CHECK_INT (hk_strategy_parse ("{\"a\0\": 1}", 10, &s, err, sizeof err), HK_EPARSE);
    CHECK (strstr (err, "NUL") != NULL);

    /* errors inside rules, with their paths */
    static const struct {
        const char *rules, *err;
    } rc[] = {
        { "{\"name\": \"a\", \"match\": {\"stance\": \"soft\"}, \"ladder\": []},"
          "{\"name\": \"b\", \"match\": {\"grade_max\": 6},"
          " \"ladder\": []}",
          "rules[1].match.grade_max: must be an integer from 1 to 5" },
        { "{\"name\": \"a\", \"match\": {\"grade_min\": 3, \"grade_max\": 2}, \"ladder\": []},"
          "{\"name\": \"z\", \"ladder\": []}",
          "rules[0].match.grade_max: 2 is below grade_min 3" },
        { "{\"name\": \"a\", \"match\": {\"grade_max\": \"5\"}, \"ladder\": []}",
          "rules[0].match.grade_max: must be an integer" },
        { "{\"name\": \"a\", \"match\": {\"stance\": \"angry\"}, \"ladder\": []}",
          "rules[0].match.stance: must be \"soft\"" },
        { "{\"name\": \"a\", \"match\": {\"cause\": [\"wilful\", \"lazy\"]}, \"ladder\": []}",
          "rules[0].match.cause[1]: unknown cause" },
        { "{\"name\": \"a\", \"match\": {\"grade\": 3}, \"ladder\": []}",
          "rules[0].match.grade: unknown key" },
        { "{\"name\": \"a\", \"match\": {\"amount_min\": {\"XXX\": 5}}, \"ladder\": []}",
          "rules[0].match.amount_min.XXX: not an ISO 4217 currency" },
        { "{\"name\": \"a\", \"match\": {\"amount_min\": {\"CNY\": 1.5}}, \"ladder\": []}",
          "rules[0].match.amount_min.CNY: must be an amount in minor units" },
        { "{\"name\": \"a\", \"match\": {\"amount_min\": {\"CNY\": 500}, \"amount_max\":"
          " {\"CNY\": 100}}, \"ladder\": []}",
          "rules[0].match.amount_max: CNY is below amount_min" },
        { "{\"name\": \"a\", \"match\": {\"reachable\": \"no\"}, \"ladder\": []}",
          "rules[0].match.reachable: must be true or false" },
        { "{\"name\": \"a\", \"match\": {\"reachable\": false}, \"ladder\": [\"phone\"]},"
          "{\"name\": \"z\", \"ladder\": []}",
          "rules[0].ladder: a rule for lost debtors takes no ladder" },
        { "{\"name\": \"a\", \"ladder\": [\"written_notice\", \"visit\", \"phone\"]}",
          "rules[0].ladder[2]: 'phone' after 'visit'" },
        { "{\"name\": \"a\", \"ladder\": [\"phone\", \"phone\"]}",
          "rules[0].ladder[1]: 'phone' after 'phone'" },
        { "{\"name\": \"a\", \"ladder\": [\"tracing\"]}",
          "rules[0].ladder[0]: tracing is not a rung" },
        { "{\"name\": \"a\", \"ladder\": [\"letter\"]}", "rules[0].ladder[0]: unknown step" },
        { "{\"name\": \"a\"}", "rules[0].ladder: required" },
        { "{\"name\": \"a\", \"ladder\": [], \"wait\": {\"phone\": \"soon\"}}",
          "rules[0].wait.phone: must be a duration" },
        { "{\"name\": \"a\", \"ladder\": [], \"channels\": {\"visit\": \"email\"}}",
          "rules[0].channels.visit: 'email' is not a channel of visit" },
        { "{\"name\": \"a\", \"ladder\": [], \"colour\": 1}", "rules[0].colour: unknown key" },
        { "{\"name\": \"a\", \"match\": {\"stance\": \"hard\"}, \"ladder\": []}",
          "rules[0]: the last rule must be the catch-all" },
        { "{\"name\": \"a\", \"ladder\": []},{\"name\": \"b\", \"ladder\": []}",
          "rules[0]: rule 'a' matches every debt" },
        { "{\"name\": \"a\", \"match\": {}, \"ladder\": []},{\"name\": \"b\", \"ladder\": []}",
          "rules[0]: rule 'a' matches every debt" },
        { "{\"name\": \"a\", \"match\": {\"stance\": \"soft\"}, \"ladder\": []},"
          "{\"name\": \"a\", \"ladder\": []}",
          "rules[1].name: 'a' is the name of rules[0] too" },
        { "{\"ladder\": []}", "rules[0].name: required" },
        { "3", "rules[0]: must be an object" },
    };
    for (size_t i = 0; i < sizeof rc / sizeof rc[0]; i++) {
        int code;
        err[0] = 0;
        s = s_doc ("", rc[i].rules, err, sizeof err, &code);
        CHECK (s == NULL);
        CHECK_INT (code, HK_EINVAL);
        if (strncmp (err, rc[i].err, strlen (rc[i].err)) != 0) {
            fprintf (stderr, "strategy: rules case %zu: error \"%s\", expected \"%s...\"\n", i,
                     err, rc[i].err);
            failures++;
        }
        hk_strategy_free (s);
    }
    /* a missing wait or channel: here or at the top */
    const char *nowait = "{\"name\": \"t\", \"version\": 1, \"channels\": {\"written_notice\":"
                         " \"email\"}, \"wait\": {\"written_notice\": \"5d\", \"phone\": \"3d\","
                         " \"agency\": \"30d\", \"tracing\": \"14d\"}, \"rules\": [{\"name\":"
                         " \"a\", \"ladder\": [\"phone\"]}]}";
    s = NULL;
    CHECK_INT (hk_strategy_parse (nowait, strlen (nowait), &s, err, sizeof err), HK_EINVAL);
    CHECK_STR (err, "rules[0].wait: no wait after visit (give it here or in the top-level "
                    "\"wait\")");
    const char *nochan = "{\"name\": \"t\", \"version\": 1, \"wait\": {\"written_notice\":"
                         " \"5d\", \"phone\": \"3d\", \"visit\": \"7d\", \"agency\": \"30d\","
                         " \"tracing\": \"14d\"}, \"rules\": [{\"name\": \"a\", \"ladder\":"
                         " [\"written_notice\"]}]}";
    CHECK_INT (hk_strategy_parse (nochan, strlen (nochan), &s, err, sizeof err), HK_EINVAL);
    CHECK (strncmp (err, "rules[0].channels: no channel for written_notice", 48) == 0);

    /* the challenger's paths */
    static const struct {
        const char *extra, *err;
    } ch[] = {
        { "\"challenger\": {\"name\": \"c\", \"share_percent\": 120, \"rules\": []},",
          "challenger.share_percent: must be an integer from 0 to 100" },
        { "\"challenger\": {\"name\": \"c\", \"rules\": []},", "challenger.share_percent: "
                                                               "required" },
        { "\"challenger\": {\"name\": \"c\", \"share_percent\": 20, \"rules\": [{\"name\":"
          " \"a\", \"match\": {\"typo\": 1}, \"ladder\": []}]},",
          "challenger.rules[0].match.typo: unknown key" },
        { "\"challenger\": {\"name\": \"c\", \"share_percent\": 20},",
          "challenger.rules: required" },
        { "\"challenger\": {\"name\": \"champion\", \"share_percent\": 20, \"rules\": []},",
          "challenger.name: \"champion\" names the other variant" },
        { "\"challenger\": {\"share\": 20},", "challenger.share: unknown key" },
    };
    for (size_t i = 0; i < sizeof ch / sizeof ch[0]; i++) {
        int code;
        err[0] = 0;
        s = s_doc (ch[i].extra, "{\"name\": \"z\", \"ladder\": []}", err, sizeof err, &code);
        CHECK (s == NULL);
        if (strncmp (err, ch[i].err, strlen (ch[i].err)) != 0) {
            fprintf (stderr, "strategy: challenger case %zu: error \"%s\", expected \"%s...\"\n",
                     i, err, ch[i].err);
            failures++;
        }
        hk_strategy_free (s);
    }
    return failures;
}

/* The split: stable per debtor, the share honoured, reshuffled by another challenger name. */
static int
s_test_variant (void)
{
    int failures = 0, rc;
    char err[256];
    const char *rules = "{\"name\": \"soft\", \"ladder\": [\"written_notice\"]}";
    const char *chal = "\"challenger\": {\"name\": \"sms-first\", \"share_percent\": 20,"
                       " \"rules\": [{\"name\": \"soft\", \"ladder\": [\"written_notice\"],"
                       " \"channels\": {\"written_notice\": \"sms\"}}]},";
    const char *chal2 = "\"challenger\": {\"name\": \"sms-first-2\", \"share_percent\": 20,"
                        " \"rules\": [{\"name\": \"soft\", \"ladder\": [\"written_notice\"]}]},";
    hk_strategy_t *a = s_doc (chal, rules, err, sizeof err, &rc);
    hk_strategy_t *a2 = s_doc (chal, rules, err, sizeof err, &rc); /* "a restart" */
    hk_strategy_t *b = s_doc (chal2, rules, err, sizeof err, &rc);
    hk_strategy_t *none = s_doc ("", rules, err, sizeof err, &rc);
    CHECK (a && a2 && b && none);
    if (!(a && a2 && b && none)) {
        fprintf (stderr, "strategy: %s\n", err);
        goto done;
    }
    CHECK_STR (hk_strategy_variant_name (a, 0), "champion");
    CHECK_STR (hk_strategy_variant_name (a, 1), "sms-first");
    CHECK_STR (hk_strategy_variant_name (none, 1), "");
    CHECK_INT (hk_strategy_challenger_share (a), 20);
    int in_a = 0, moved = 0, unstable = 0, other_tenant = 0;
    for (int i = 0; i < 10000; i++) {
        char id[16];
        snprintf (id, sizeof id, "D%05d", i);
        int va = hk_strategy_variant (a, "acme", id);
        in_a += va;
        unstable += va != hk_strategy_variant (a, "acme", id)
                    || va != hk_strategy_variant (a2, "acme", id);
        moved += va != hk_strategy_variant (b, "acme", id);
        other_tenant += va != hk_strategy_variant (a, "other", id);
        CHECK_INT (hk_strategy_variant (none, "acme", id), 0);
    }
    if (in_a < 1800 || in_a > 2200) {
        fprintf (stderr, "strategy: %d of 10000 in the 20%% challenger\n", in_a);
        failures++;
    }
    CHECK_INT (unstable, 0);
    /* independent draws of 20%: 32% expected to differ */
    if (moved < 2800 || moved > 3600) {
        fprintf (stderr, "strategy: %d of 10000 moved with another challenger name\n", moved);
        failures++;
    }
    CHECK (other_tenant > 2800);
    /* decide follows the variant: the challenger's SMS notice */
    for (int i = 0, seen = 0; i < 100 && seen != 3; i++) {
        char id[16];
        snprintf (id, sizeof id, "D%05d", i);
        hk_debt_view_t v = s_view (DAY);
        v.debtor_id = id;
        hk_decision_t d = s_decide (a, &v);
        CHECK_INT (d.variant, hk_strategy_variant (a, "acme", id));
        CHECK_STR (d.channel, d.variant ? "sms" : "email");
        if (d.variant)
            CHECK (strstr (d.reason, "sms-first") != NULL);
        seen |= 1 << d.variant;
    }
    /* 0% and 100% */
    hk_strategy_free (b);
    b = s_doc ("\"challenger\": {\"name\": \"c\", \"share_percent\": 0, \"rules\": [" 
               "{\"name\": \"soft\", \"ladder\": []}]},",
               rules, err, sizeof err, &rc);
    hk_strategy_free (a2);
    a2 = s_doc ("\"challenger\": {\"name\": \"c\", \"share_percent\": 100, \"rules\": ["
                "{\"name\": \"soft\", \"ladder\": []}]},",
                rules, err, sizeof err, &rc);
    CHECK (b && a2);
    for (int i = 0; b && a2 && i < 200; i++) {
        char id[16];
        snprintf (id, sizeof id, "X%d", i);
        CHECK_INT (hk_strategy_variant (b, "acme", id), 0);
        CHECK_INT (hk_strategy_variant (a2, "acme", id), 1);
    }
done:
    hk_strategy_free (a);
    hk_strategy_free (a2);
    hk_strategy_free (b);
    hk_strategy_free (none);
    return failures;
}

/* The shipped deploy/strategies/default.json. */
static int
s_test_default (void)
{
    int failures = 0;
    char path[512];
    const char *src = getenv ("HK_SOURCE_DIR");
    snprintf (path, sizeof path, "%s%sdeploy/strategies/default.json", src && *src ? src : "",
              src && *src ? "/" : "");
    FILE *f = fopen (path, "rb");
    char *text = NULL;
    size_t len = 0;
    if (!f || hk_file_read_all (f, 1 << 20, &text, &len) != 0) {
        fprintf (stderr, "strategy: cannot read %s (set HK_SOURCE_DIR to the repository root "
                         "or run from it)\n",
                 path);
        if (f)
            fclose (f);
        return 1;
    }
    fclose (f);
    char err[256] = "";
    hk_strategy_t *s = NULL;
    CHECK_INT (hk_strategy_parse (text, len, &s, err, sizeof err), 0);
    free (text);
    if (!s) {
        fprintf (stderr, "strategy: default.json: %s\n", err);
        return failures + 1;
    }
    CHECK_STR (hk_strategy_name (s), "default");
    CHECK_INT (hk_strategy_version (s), 1);
    CHECK_STR (hk_strategy_variant_name (s, 1), "sms-first");
    CHECK_INT (hk_strategy_challenger_share (s), 20);
    /* find a champion debtor and a challenger debtor */
    const char *champ = NULL, *chal = NULL;
    static char ids[2][16];
    for (int i = 0; i < 1000 && (!champ || !chal); i++) {
        char id[16];
        snprintf (id, sizeof id, "C%d", i);
        int v = hk_strategy_variant (s, "acme", id);
        if (v && !chal)
            chal = strcpy (ids[1], id);
        if (!v && !champ)
            champ = strcpy (ids[0], id);
    }
    CHECK (champ && chal);
    if (champ && chal) {
        int64_t t = 1000 * DAY;
        hk_debt_view_t v = s_view (t);
        /* soft: notice by e-mail, then phone; the challenger by SMS */
        v.debtor_id = champ;
        hk_decision_t d = s_decide (s, &v);
        CHECK_INT (d.step, HK_STEP_NOTICE);
        CHECK_STR (d.channel, "email");
        CHECK_STR (d.rule, "soft");
        v.debtor_id = chal;
        d = s_decide (s, &v);
        CHECK_INT (d.step, HK_STEP_NOTICE);
        CHECK_STR (d.channel, "sms");
        CHECK_INT (d.variant, 1);
        v.debtor_id = champ;
        v.last_step = HK_STEP_NOTICE;
        v.last_step_at_us = t - 5 * DAY;
        CHECK_INT (s_decide (s, &v).step, HK_STEP_PHONE);
        /* hard: a registered letter first (R-N2), for both variants; visit sooner */
        for (int k = 0; k < 2; k++) {
            v = s_view (t);
            v.debtor_id = k ? chal : champ;
            v.stance = "hard";
            v.cause = "wilful";
            d = s_decide (s, &v);
            CHECK_INT (d.step, HK_STEP_NOTICE);
            CHECK_STR (d.channel, "letter");
            CHECK_STR (d.rule, "hard");
        }
        v.debtor_id = champ;
        v.last_step = HK_STEP_PHONE;
        v.phone_count = 3;
        v.last_step_at_us = t - 2 * DAY;
        CHECK_INT (s_decide (s, &v).step, HK_STEP_VISIT);
        v.stance = "soft";
        v.cause = "oversight";
        CHECK_INT (s_decide (s, &v).step, HK_STEP_NONE); /* soft waits 3d after a call */
        /* pre-due reminder by e-mail 3 days ahead */
        v = s_view (t);
        v.debtor_id = champ;
        v.dpd = -3;
        d = s_decide (s, &v);
        CHECK_INT (d.step, HK_STEP_PRE_DUE);
        CHECK_STR (d.channel, "email");
        /* soft, at most 1,000 CNY: no visit after the third call */
        v.dpd = 30;
        v.amount_minor = 100000;
        v.last_step = HK_STEP_PHONE;
        v.phone_count = 3;
        v.last_step_at_us = t - 3 * DAY;
        d = s_decide (s, &v);
        CHECK_STR (d.rule, "small-amount");
        CHECK_INT (d.step, HK_STEP_AGENCY);
        v.amount_minor = 100001;
        d = s_decide (s, &v);
        CHECK_STR (d.rule, "soft");
        CHECK_INT (d.step, HK_STEP_VISIT);
        v = s_view (t);
        v.debtor_id = champ;
        /* lost -> tracing */
        v.dpd = 30;
        v.reachable = false;
        d = s_decide (s, &v);
        CHECK_INT (d.step, HK_STEP_TRACE);
        CHECK_STR (d.rule, "lost");
        /* written off: the agency only */
        v = s_view (t);
        v.debtor_id = champ;
        v.grade = 1;
        CHECK_INT (s_decide (s, &v).step, HK_STEP_AGENCY);
        v.last_step = HK_STEP_AGENCY;
        v.last_step_at_us = t - 100 * DAY;
        d = s_decide (s, &v);
        CHECK_INT (d.step, HK_STEP_NONE);
        CHECK_INT (d.upcoming, HK_STEP_NONE);
    }
    hk_strategy_free (s);
    return failures;
}

/* R-C3 whom to contact, R-C4 who speaks. */
static int
s_test_people (void)
{
    int failures = 0;
    char why[160];
    hk_person_t all[] = {
        { "p1", "other", true, false },   { "p2", "finance", true, false },
        { "p3", "payment", true, false }, { "p4", "owner", true, false },
    };
    CHECK_INT (hk_contact_pick ("large", all, 4, why, sizeof why), 2);
    CHECK (strstr (why, "R-C3") != NULL);
    CHECK (strstr (why, "payment") != NULL);
    CHECK_INT (hk_contact_pick ("medium", all, 4, why, sizeof why), 2);
    CHECK_INT (hk_contact_pick ("small", all, 4, why, sizeof why), 3);
    CHECK (strstr (why, "owner") != NULL);
    CHECK_INT (hk_contact_pick ("micro", all, 4, why, sizeof why), 3);
    CHECK_INT (hk_contact_pick ("", all, 4, why, sizeof why), 2);
    /* large: no payment contact -> finance */
    all[2].reachable = false;
    CHECK_INT (hk_contact_pick ("large", all, 4, why, sizeof why), 1);
    CHECK (strstr (why, "finance") != NULL);
    /* unreachable skipped: nobody suitable for large -> the owner instead, then others */
    all[1].reachable = false;
    CHECK_INT (hk_contact_pick ("large", all, 4, why, sizeof why), 3);
    all[3].reachable = false;
    CHECK_INT (hk_contact_pick ("large", all, 4, why, sizeof why), 0);
    all[0].reachable = false;
    CHECK_INT (hk_contact_pick ("large", all, 4, why, sizeof why), -1);
    CHECK (strstr (why, "nobody reachable") != NULL);
    CHECK_INT (hk_contact_pick ("large", NULL, 0, why, sizeof why), -1);

    /* the initial contact person first when he is one of the suitable ones */
    hk_person_t init[] = {
        { "f", "finance", true, true },
        { "p", "payment", true, false },
    };
    CHECK_INT (hk_contact_pick ("large", init, 2, why, sizeof why), 0);
    CHECK (strstr (why, "initial") != NULL);
    init[0].initial = false;
    CHECK_INT (hk_contact_pick ("large", init, 2, why, sizeof why), 1);
    /* an initial contact who is not suitable comes after the suitable ones ... */
    hk_person_t init2[] = {
        { "i", "initial", true, false },
        { "p", "payment", true, false },
        { "o", "owner", true, false },
    };
    CHECK_INT (hk_contact_pick ("large", init2, 3, why, sizeof why), 1);
    CHECK_INT (hk_contact_pick ("small", init2, 3, why, sizeof why), 2);
    /* ... and first when nobody suitable is known */
    init2[1].reachable = false;
    CHECK_INT (hk_contact_pick ("large", init2, 3, why, sizeof why), 0);
    CHECK (strstr (why, "initial") != NULL);
    init2[2].reachable = false;
    init2[1].reachable = true;
    CHECK_INT (hk_contact_pick ("small", init2, 3, why, sizeof why), 0);
    init2[0].reachable = false;
    CHECK_INT (hk_contact_pick ("small", init2, 3, why, sizeof why), 1);
    CHECK_INT (hk_contact_pick ("small", init2, 3, NULL, 0), 1);

    /* R-C4 */
    CHECK_STR (hk_caller_role (HK_STEP_PHONE, false, 0), "collections");
    CHECK_STR (hk_caller_role (HK_STEP_NOTICE, false, 0), "collections");
    CHECK_STR (hk_caller_role (HK_STEP_PHONE, true, 0), "manager");
    CHECK_STR (hk_caller_role (HK_STEP_VISIT, false, 1), "manager");
    CHECK_STR (hk_caller_role (HK_STEP_PHONE, true, 2), "legal");
    CHECK_STR (hk_caller_role (HK_STEP_LEGAL, false, 0), "legal");
    return failures;
}

/* R-C2 caps, each at its edge. */
static int
s_test_caps (void)
{
    int failures = 0;
    char why[200];
    hk_caps_t c;
    hk_caps_default (&c);
    CHECK_INT (c.max_phone_per_debt, 3);
    CHECK_INT (c.max_visit_per_debt, 1);
    CHECK_INT (c.max_per_debtor_day, 2);
    CHECK_INT (c.max_per_debtor_week, 5);
    CHECK (c.min_gap_us == 4 * HOUR);
    CHECK_INT (hk_caps_validate (&c, why, sizeof why), 0);
    hk_caps_t bad = c;
    bad.max_phone_per_debt = 4;
    CHECK_INT (hk_caps_validate (&bad, why, sizeof why), HK_EINVAL);
    CHECK (strstr (why, "max_phone_per_debt") && strstr (why, "R-C2"));
    bad = c;
    bad.max_visit_per_debt = 2;
    CHECK_INT (hk_caps_validate (&bad, why, sizeof why), HK_EINVAL);
    CHECK (strstr (why, "max_visit_per_debt") != NULL);
    bad = c;
    bad.max_per_debtor_day = 0;
    CHECK_INT (hk_caps_validate (&bad, why, sizeof why), HK_EINVAL);
    bad = c;
    bad.max_per_debtor_week = 1;
    CHECK_INT (hk_caps_validate (&bad, why, sizeof why), HK_EINVAL);
    CHECK (strstr (why, "max_per_debtor_week") != NULL);
    bad = c;
    bad.min_gap_us = -1;
    CHECK_INT (hk_caps_validate (&bad, why, sizeof why), HK_EINVAL);
    CHECK_INT (hk_caps_validate (NULL, NULL, 0), HK_EINVAL);

    int64_t t = 500 * DAY;
    hk_contact_counts_t k = { 0 };
    /* the third call allowed, the fourth refused */
    k.phone_on_debt = 2;
    CHECK (hk_caps_allow (&c, &k, HK_STEP_PHONE, t, why, sizeof why));
    k.phone_on_debt = 3;
    CHECK (!hk_caps_allow (&c, &k, HK_STEP_PHONE, t, why, sizeof why));
    CHECK (strstr (why, "R-C2 phone cap") != NULL);
    /* the phone count does not cap a notice */
    CHECK (hk_caps_allow (&c, &k, HK_STEP_NOTICE, t, why, sizeof why));
    /* a cap set above 3 still stops at 3 */
    bad = c;
    bad.max_phone_per_debt = 5;
    CHECK (!hk_caps_allow (&bad, &k, HK_STEP_PHONE, t, why, sizeof why));
    k.phone_on_debt = 0;
    /* one visit */
    CHECK (hk_caps_allow (&c, &k, HK_STEP_VISIT, t, why, sizeof why));
    k.visit_on_debt = 1;
    CHECK (!hk_caps_allow (&c, &k, HK_STEP_VISIT, t, why, sizeof why));
    CHECK (strstr (why, "R-C2 visit cap") != NULL);
    k.visit_on_debt = 0;
    /* two a day */
    k.debtor_today = 1;
    CHECK (hk_caps_allow (&c, &k, HK_STEP_PHONE, t, why, sizeof why));
    k.debtor_today = 2;
    CHECK (!hk_caps_allow (&c, &k, HK_STEP_PHONE, t, why, sizeof why));
    CHECK (strstr (why, "R-C2 daily cap") != NULL);
    k.debtor_today = 0;
    /* five a week */
    k.debtor_week = 4;
    CHECK (hk_caps_allow (&c, &k, HK_STEP_NOTICE, t, why, sizeof why));
    k.debtor_week = 5;
    CHECK (!hk_caps_allow (&c, &k, HK_STEP_NOTICE, t, why, sizeof why));
    CHECK (strstr (why, "R-C2 weekly cap") != NULL);
    k.debtor_week = 0;
    /* four hours between two contacts: the gap minus 1 µs refused, the gap allowed */
    k.last_contact_us = t;
    CHECK (!hk_caps_allow (&c, &k, HK_STEP_PRE_DUE, t + 4 * HOUR - 1, why, sizeof why));
    CHECK (strstr (why, "R-C2 gap") != NULL);
    CHECK (strstr (why, "4h") != NULL);
    CHECK (hk_caps_allow (&c, &k, HK_STEP_PRE_DUE, t + 4 * HOUR, why, sizeof why));
    /* hand-overs are not contacts with the debtor */
    k = (hk_contact_counts_t) { 9, 9, 9, 9, t };
    CHECK (hk_caps_allow (&c, &k, HK_STEP_AGENCY, t, why, sizeof why));
    CHECK (hk_caps_allow (&c, &k, HK_STEP_LEGAL, t, NULL, 0));
    CHECK (hk_caps_allow (&c, &k, HK_STEP_TRACE, t, why, sizeof why));
    CHECK (!hk_caps_allow (&c, &k, HK_STEP_NONE, t, why, sizeof why));

    /* R-C2 when planning (hk_caps_next_free), in Shanghai: Friday 2026-07-03 09:00 local is
     * 01:00 UTC */
    const char *zone = "Asia/Shanghai";
    int32_t fri;
    CHECK_INT (hk_date_parse ("2026-07-03", &fri), 0);
    int64_t nine, midnight_sat, monday;
    CHECK_INT (hk_tz_instant (zone, fri, 9 * 60, &nine), 0);
    CHECK_INT (hk_tz_instant (zone, fri + 1, 0, &midnight_sat), 0);
    CHECK_INT (hk_tz_instant (zone, fri + 3, 0, &monday), 0);
    /* nothing else planned: free */
    CHECK (hk_caps_next_free (&c, zone, NULL, 0, nine, why, sizeof why) == 0);
    /* another contact at the same minute: after the gap */
    int64_t other[4] = { nine };
    CHECK (hk_caps_next_free (&c, zone, other, 1, nine, why, sizeof why) == nine + 4 * HOUR);
    CHECK (strstr (why, "R-C2 gap") != NULL);
    /* a later one within the gap pushes past it too; exactly the gap apart is free */
    other[0] = nine + HOUR;
    CHECK (hk_caps_next_free (&c, zone, other, 1, nine, why, sizeof why) == nine + 5 * HOUR);
    other[0] = nine + 4 * HOUR;
    CHECK (hk_caps_next_free (&c, zone, other, 1, nine, why, sizeof why) == 0);
    other[0] = nine - 4 * HOUR + 1;
    CHECK (hk_caps_next_free (&c, zone, other, 1, nine, why, sizeof why) == nine + 1);
    /* two that day already (05:00 and 13:00 local, each 4 h away): the next local midnight */
    other[0] = nine - 4 * HOUR;
    other[1] = nine + 4 * HOUR;
    CHECK (hk_caps_next_free (&c, zone, other, 2, nine, why, sizeof why) == midnight_sat);
    CHECK (strstr (why, "R-C2 daily cap") != NULL);
    /* one of them the day before instead: free */
    other[0] = nine - DAY;
    CHECK (hk_caps_next_free (&c, zone, other, 2, nine, why, sizeof why) == 0);
    /* five that ISO week (Monday to Thursday at 09:00, and Friday 13:00): the next Monday's
     * midnight */
    int64_t week[5];
    for (int i = 0; i < 4; i++)
        week[i] = nine - (4 - i) * DAY;
    week[4] = nine + 4 * HOUR;
    CHECK (hk_caps_next_free (&c, zone, week, 5, nine, why, sizeof why) == monday);
    CHECK (strstr (why, "R-C2 weekly cap") != NULL);
    /* the week before does not count */
    week[0] = nine - 7 * DAY;
    CHECK (hk_caps_next_free (&c, zone, week, 5, nine, why, sizeof why) == 0);
    CHECK (hk_caps_next_free (&c, "Nowhere/Null", other, 2, nine, why, sizeof why) == 0);
    return failures;
}

int
hk_strategy_test (bool verbose)
{
    int failures = 0, rc;
    char err[256] = "";
    failures += s_test_steps ();
    hk_strategy_t *s = s_doc ("", s_rules, err, sizeof err, &rc);
    CHECK_INT (rc, 0);
    CHECK_STR (err, "");
    if (!s) {
        fprintf (stderr, "strategy: test document: %s\n", err);
        return failures + 1;
    }
    CHECK_STR (hk_strategy_name (s), "t");
    CHECK_INT (hk_strategy_version (s), 3);
    CHECK_STR (hk_strategy_variant_name (s, 1), "");
    CHECK_INT (hk_strategy_decide (s, NULL, NULL), HK_EINVAL);
    failures += s_test_walk (s);
    failures += s_test_maxima ();
    failures += s_test_promises (s);
    failures += s_test_trace_pre_due (s);
    failures += s_test_match (s);
    hk_strategy_free (s);
    failures += s_test_errors ();
    failures += s_test_variant ();
    failures += s_test_default ();
    failures += s_test_people ();
    failures += s_test_caps ();
    if (verbose)
        printf ("strategy: %d failed checks\n", failures);
    return failures;
}
