/* Self-test of the working-day calendar and contact timing (R-S1 .. R-S6, R-C6 remainder
 * reminders). Expected instants are written as RFC 3339 text with the zone's offset, so they
 * do not come from the code under test. The PRC calendar is the real deploy/calendars/CN.cal
 * of the source tree ($HK_SOURCE_DIR, else beside this file). */
#include <stdlib.h>

#include "calendar.h"
#include "check.h"
#include "huikuan/dates.h"
#include "huikuan/errcodes.h"

#define D(y, m, d) hk_date_from_ymd (y, m, d)

/* Instant of an RFC 3339 text; aborts the test loudly (returns INT64_MIN) when malformed. */
static int64_t
T (const char *text)
{
    int64_t us;
    if (hk_time_parse (text, &us) != 0) {
        fprintf (stderr, "calendar test: bad instant literal %s\n", text);
        return INT64_MIN;
    }
    return us;
}

/* Checks that slot's instant is the instant of text; prints both on failure. */
#define CHECK_AT(slot, text)                                                               \
    do {                                                                                   \
        int64_t want_ = T (text);                                                          \
        if ((slot).at_us != want_) {                                                       \
            char got_[32];                                                                 \
            hk_time_format ((slot).at_us, got_, sizeof got_);                              \
            fprintf (stderr, "%s:%d: slot at %s, expected %s (why: %s)\n", __FILE__,       \
                     __LINE__, got_, text, (slot).why);                                    \
            failures++;                                                                    \
        }                                                                                  \
    } while (0)

#define CHECK_HAS(haystack, needle)                                                        \
    do {                                                                                   \
        const char *h_ = (haystack);                                                       \
        if (!h_ || !strstr (h_, needle)) {                                                 \
            fprintf (stderr, "%s:%d: \"%s\" does not contain \"%s\"\n", __FILE__, __LINE__,  \
                     h_ ? h_ : "(null)", needle);                                          \
            failures++;                                                                    \
        }                                                                                  \
    } while (0)

static void
s_cn_path (char *out, size_t len)
{
    const char *src = getenv ("HK_SOURCE_DIR");
    if (src && *src) {
        snprintf (out, len, "%s/deploy/calendars/CN.cal", src);
        return;
    }
    const char *self = __FILE__;
    const char *tail = strstr (self, "tests/unit/test_calendar.c");
    if (tail)
        snprintf (out, len, "%.*sdeploy/calendars/CN.cal", (int) (tail - self), self);
    else
        snprintf (out, len, "deploy/calendars/CN.cal");
}

/* ---- calendar data structure and text format ---- */
static int
s_test_calendar (void)
{
    int failures = 0;
    char err[200];

    /* R-S2: the default calendar is Monday..Friday */
    hk_calendar_t *cal = hk_calendar_new ();
    CHECK (cal != NULL);
    CHECK (hk_calendar_is_working (cal, D (2026, 3, 2)));   /* Mon */
    CHECK (hk_calendar_is_working (cal, D (2026, 3, 6)));   /* Fri */
    CHECK (!hk_calendar_is_working (cal, D (2026, 3, 7)));  /* Sat */
    CHECK (!hk_calendar_is_working (cal, D (2026, 3, 8)));  /* Sun */
    CHECK (hk_calendar_is_working (NULL, D (2026, 3, 6)));
    CHECK (!hk_calendar_is_working (NULL, D (2026, 3, 7)));
    CHECK (hk_calendar_note (cal, D (2026, 3, 2)) == NULL);
    CHECK (!hk_calendar_covers (cal, D (2026, 3, 2)));
    CHECK_INT (hk_calendar_size (cal), 0);

    /* set: a day off on a weekday, a make-up Saturday, overriding */
    CHECK_INT (hk_calendar_set (cal, D (2026, 3, 3), false, "Company day"), 0);
    CHECK_INT (hk_calendar_set (cal, D (2026, 3, 7), true, NULL), 0);
    CHECK (!hk_calendar_is_working (cal, D (2026, 3, 3)));
    CHECK_STR (hk_calendar_note (cal, D (2026, 3, 3)), "Company day");
    CHECK (hk_calendar_is_working (cal, D (2026, 3, 7)));
    CHECK (hk_calendar_note (cal, D (2026, 3, 7)) == NULL);
    CHECK_INT (hk_calendar_set (cal, D (2026, 3, 3), true, "back to work"), 0);
    CHECK (hk_calendar_is_working (cal, D (2026, 3, 3)));
    CHECK_STR (hk_calendar_note (cal, D (2026, 3, 3)), "back to work");
    CHECK_INT (hk_calendar_size (cal), 2);
    char longnote[200];
    memset (longnote, 'x', sizeof longnote - 1);
    longnote[sizeof longnote - 1] = '\0';
    CHECK_INT (hk_calendar_set (cal, D (2026, 3, 4), false, longnote), HK_EINVAL);
    CHECK_INT (hk_calendar_set (NULL, D (2026, 3, 4), false, NULL), HK_EINVAL);
    /* many out-of-order entries keep lookups right (sorted insert) */
    for (int i = 59; i >= 0; i--)
        CHECK_INT (hk_calendar_set (cal, D (2030, 1, 1) + i * 3, i % 2 == 0, NULL), 0);
    CHECK_INT (hk_calendar_size (cal), 62);
    CHECK (hk_calendar_is_working (cal, D (2030, 1, 1)));
    CHECK (!hk_calendar_is_working (cal, D (2030, 1, 1) + 3));
    CHECK (hk_calendar_is_working (cal, D (2030, 1, 1) + 6 * 29));
    hk_calendar_free (cal);
    hk_calendar_free (NULL);

    /* text format: comments, blanks, CRLF, BOM, notes, covers; later entries override */
    cal = hk_calendar_new ();
    const char text[] = "\xEF\xBB\xBF# test calendar\r\n"
                        "covers 2026 2026\r\n"
                        "\r\n"
                        "   # indented comment\n"
                        "2026-02-16 off Spring Festival\n"
                        "2026-02-14\twork  Spring Festival make-up day  \n"
                        "2026-03-05 off\n"
                        "2026-03-05 work Cancelled\n"
                        "2026-03-06 off Bridge day";
    CHECK_INT (hk_calendar_load_text (cal, text, strlen (text), err, sizeof err), 0);
    CHECK_STR (err, "");
    CHECK (!hk_calendar_is_working (cal, D (2026, 2, 16)));
    CHECK_STR (hk_calendar_note (cal, D (2026, 2, 16)), "Spring Festival");
    CHECK (hk_calendar_is_working (cal, D (2026, 2, 14)));
    CHECK_STR (hk_calendar_note (cal, D (2026, 2, 14)), "Spring Festival make-up day");
    CHECK (hk_calendar_is_working (cal, D (2026, 3, 5)));
    CHECK_STR (hk_calendar_note (cal, D (2026, 3, 5)), "Cancelled");
    CHECK (!hk_calendar_is_working (cal, D (2026, 3, 6)));
    CHECK_STR (hk_calendar_note (cal, D (2026, 3, 6)), "Bridge day");
    CHECK (hk_calendar_covers (cal, D (2026, 12, 31)));
    CHECK (!hk_calendar_covers (cal, D (2025, 12, 31)));
    CHECK (!hk_calendar_covers (cal, D (2027, 1, 1)));
    CHECK_INT (hk_calendar_size (cal), 4);
    CHECK_INT (hk_calendar_load_text (cal, "", 0, err, sizeof err), 0);

    /* malformed lines: HK_EINVAL, "line N: reason", calendar unchanged */
    static const struct {
        const char *text;
        const char *want;
    } bad[] = {
        { "2026-04-01 off ok\n2026-02-30 off Nope\n", "line 2: bad date \"2026-02-30\"" },
        { "# c\n\n2026-04-01 holiday Nope\n", "line 3: 2026-04-01: expected \"off\" or \"work\"" },
        { "2026-04-01\n", "line 1: 2026-04-01: missing \"off\" or \"work\"" },
        { "2026-04-01 off\ncovers 2026\n", "line 2: covers wants two years" },
        { "covers 2027 2026\n", "line 1: covers 2027 2026: years out of order" },
        { "covers 2024 2026 2027\n", "line 1: unexpected text after the years" },
        { "holiday 2026-04-01\n", "line 1: expected \"covers\", \"weekend\" or a date" },
        { "26-4-1 off\n", "line 1: bad date \"26-4-1\"" },
        { "2026-04-01 off a\x01" "b\n", "line 1: control character" },
        { "\n\n\n\nweekend funday\n", "line 5: weekend wants day names" },
        { "weekend mon tue wed thu fri sat sun\n", "line 1: weekend wants day names" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_INT (hk_calendar_load_text (cal, bad[i].text, strlen (bad[i].text), err, sizeof err),
                   HK_EINVAL);
        CHECK_HAS (err, bad[i].want);
        CHECK (strncmp (err, "line ", 5) == 0);
    }
    char toolong[300];
    snprintf (toolong, sizeof toolong, "2026-04-01 off %s\n", longnote);
    CHECK_INT (hk_calendar_load_text (cal, toolong, strlen (toolong), err, sizeof err), HK_EINVAL);
    CHECK_HAS (err, "line 1: 2026-04-01: note longer than 127 bytes");
    CHECK_INT (hk_calendar_size (cal), 4);               /* nothing of the bad texts applied */
    CHECK (hk_calendar_is_working (cal, D (2026, 4, 1)));
    CHECK_INT (hk_calendar_load_text (NULL, "x", 1, err, sizeof err), HK_EINVAL);
    CHECK_INT (hk_calendar_load_text (cal, "2026-04-01 x", 12, NULL, 0), HK_EINVAL);

    /* files */
    CHECK_INT (hk_calendar_load_file (cal, "/nonexistent/XX.cal", err, sizeof err), HK_EIO);
    CHECK_HAS (err, "/nonexistent/XX.cal: ");

    /* another weekend (countries with Friday-Saturday weekends) */
    hk_calendar_t *ae = hk_calendar_new ();
    const char fs[] = "weekend fri sat\n2026-03-08 off Test holiday\n";
    CHECK_INT (hk_calendar_load_text (ae, fs, strlen (fs), err, sizeof err), 0);
    CHECK (!hk_calendar_is_working (ae, D (2026, 3, 6)));  /* Fri */
    CHECK (!hk_calendar_is_working (ae, D (2026, 3, 7)));  /* Sat */
    CHECK (!hk_calendar_is_working (ae, D (2026, 3, 8)));  /* Sun, by entry */
    CHECK (hk_calendar_is_working (ae, D (2026, 3, 15)));  /* Sun */
    CHECK_INT (hk_calendar_set_weekend (ae, "Sat, Sunday"), 0);
    CHECK (hk_calendar_is_working (ae, D (2026, 3, 6)));
    CHECK (!hk_calendar_is_working (ae, D (2026, 3, 15)));
    CHECK_INT (hk_calendar_set_weekend (ae, "sat,sat"), HK_EINVAL);
    CHECK_INT (hk_calendar_set_weekend (ae, "mon tue wed thu fri sat sun"), HK_EINVAL);
    CHECK_INT (hk_calendar_set_weekend (ae, ""), 0);        /* seven-day week */
    CHECK (hk_calendar_is_working (ae, D (2026, 3, 15)));
    hk_calendar_free (ae);
    hk_calendar_free (cal);
    return failures;
}

/* ---- the real PRC calendar ---- */
static int
s_test_cn (const hk_calendar_t *cn)
{
    int failures = 0;
    CHECK (hk_calendar_covers (cn, D (2024, 1, 1)));
    CHECK (hk_calendar_covers (cn, D (2026, 12, 31)));
    CHECK (!hk_calendar_covers (cn, D (2023, 12, 31)));
    CHECK (!hk_calendar_covers (cn, D (2027, 1, 1)));
    /* 2027, not covered: the statutory days only (春节: 除夕 and 初一至初三 = 2027-02-05..08;
     * lunar dates from the Chinese calendar, not from the code under test), no make-up days */
    for (int day = 5; day <= 8; day++)
        CHECK (!hk_calendar_is_working (cn, D (2027, 2, day)));
    CHECK_STR (hk_calendar_note (cn, D (2027, 2, 5)), "Spring Festival (New Year's Eve)");
    CHECK (hk_calendar_is_working (cn, D (2027, 2, 4)));
    CHECK (hk_calendar_is_working (cn, D (2027, 2, 9))); /* in lieu days: the notice's to say */
    CHECK (!hk_calendar_is_working (cn, D (2027, 1, 1)));
    CHECK (!hk_calendar_is_working (cn, D (2027, 4, 5)));
    CHECK (!hk_calendar_is_working (cn, D (2027, 6, 9)));
    CHECK (!hk_calendar_is_working (cn, D (2027, 9, 15)));
    CHECK (!hk_calendar_is_working (cn, D (2027, 10, 1)));
    CHECK (hk_calendar_is_working (cn, D (2027, 10, 4)));
    /* 2026 notice: 春节 2月15日至23日 off, 2月14日(周六)、2月28日(周六)上班 */
    CHECK (!hk_calendar_is_working (cn, D (2026, 2, 16)));
    CHECK_STR (hk_calendar_note (cn, D (2026, 2, 16)), "Spring Festival");
    CHECK (!hk_calendar_is_working (cn, D (2026, 2, 23)));
    CHECK (hk_calendar_is_working (cn, D (2026, 2, 24)));
    CHECK (hk_calendar_is_working (cn, D (2026, 2, 14)));
    CHECK (hk_calendar_is_working (cn, D (2026, 2, 28)));
    CHECK (!hk_calendar_is_working (cn, D (2026, 10, 2)));
    CHECK_STR (hk_calendar_note (cn, D (2026, 10, 2)), "National Day");
    CHECK (hk_calendar_is_working (cn, D (2026, 10, 8)));
    CHECK (hk_calendar_is_working (cn, D (2026, 1, 4)));   /* Sun, 元旦 make-up */
    /* 2025: 元旦 one day without make-up; 春节 1月26日(周日) make-up */
    CHECK (!hk_calendar_is_working (cn, D (2025, 1, 1)));
    CHECK (hk_calendar_is_working (cn, D (2025, 1, 2)));
    CHECK (hk_calendar_is_working (cn, D (2025, 1, 26)));
    CHECK (!hk_calendar_is_working (cn, D (2025, 10, 8)));
    /* 2024: 除夕 (2月9日) only encouraged as rest: a working day */
    CHECK (hk_calendar_is_working (cn, D (2024, 2, 9)));
    CHECK (hk_calendar_is_working (cn, D (2024, 2, 4)));
    CHECK (!hk_calendar_is_working (cn, D (2024, 6, 10)));
    /* Every worked weekend day of the file is a make-up day, every weekday off has a name. */
    for (int32_t d = D (2024, 1, 1); d <= D (2026, 12, 31); d++) {
        bool weekend = hk_date_weekday (d) > 5;
        if (weekend && hk_calendar_is_working (cn, d))
            CHECK_HAS (hk_calendar_note (cn, d), "make-up day");
        if (!weekend && !hk_calendar_is_working (cn, d))
            CHECK (hk_calendar_note (cn, d) != NULL);
    }
    return failures;
}

/* ---- policy ---- */
static int
s_test_policy (void)
{
    int failures = 0;
    hk_timing_t t, u;
    char why[160], buf[96];
    hk_timing_default (&t);
    CHECK_INT (hk_timing_validate (&t, why, sizeof why), 0);
    CHECK_INT (t.workday_start_min, 540);
    CHECK_INT (t.window_min, 15);
    CHECK_INT (t.prefer_days, 3);
    /* R-S1 default: Fri > Thu > Tue, Mon and Wed avoided */
    CHECK (t.weekday_rank[5] > t.weekday_rank[4]);
    CHECK (t.weekday_rank[4] > t.weekday_rank[2]);
    CHECK (t.weekday_rank[2] > 0);
    CHECK_INT (t.weekday_rank[1], 0);
    CHECK_INT (t.weekday_rank[3], 0);
    hk_timing_format_ranking (&t, buf, sizeof buf);
    CHECK_STR (buf, "friday,thursday,tuesday");

    /* custom ranking (R-S1 configurable; seed 000's Tuesday-Thursday view) */
    u = t;
    CHECK_INT (hk_timing_set_ranking (&u, " Tue = wed=THURSDAY , fri"), 0);
    CHECK_INT (u.weekday_rank[2], u.weekday_rank[3]);
    CHECK_INT (u.weekday_rank[3], u.weekday_rank[4]);
    CHECK (u.weekday_rank[2] > u.weekday_rank[5]);
    CHECK (u.weekday_rank[5] > 0);
    CHECK_INT (u.weekday_rank[1], 0);
    hk_timing_format_ranking (&u, buf, sizeof buf);
    CHECK_STR (buf, "tuesday=wednesday=thursday,friday");
    hk_timing_t v = u;
    CHECK_INT (hk_timing_set_ranking (&v, buf), 0);      /* round trip */
    CHECK (memcmp (&u, &v, sizeof u) == 0);
    static const char *const bad_rankings[] = { "", "fri,fri", "fri,xyz", "fri,,thu", "fri;thu",
                                                "fri=", "f", NULL };
    for (int i = 0; bad_rankings[i]; i++) {
        v = u;
        CHECK_INT (hk_timing_set_ranking (&v, bad_rankings[i]), HK_EINVAL);
        CHECK (memcmp (&u, &v, sizeof u) == 0);
    }

    /* validation */
    v = t;
    v.window_min = 0;
    CHECK_INT (hk_timing_validate (&v, why, sizeof why), HK_EINVAL);
    CHECK_HAS (why, "R-S2");
    v = t;
    v.workday_start_min = 1070; /* window 17:50-18:05 ends after the working day */
    CHECK_INT (hk_timing_validate (&v, why, sizeof why), HK_EINVAL);
    v = t;
    v.workday_start_min = 680;  /* window 11:20-11:35 runs into lunch */
    CHECK_INT (hk_timing_validate (&v, why, sizeof why), HK_EINVAL);
    CHECK_HAS (why, "lunch");
    v = t;
    v.quiet_start_min = 1380;   /* 23:00: narrower than the 22:00-08:00 floor */
    CHECK_INT (hk_timing_validate (&v, why, sizeof why), HK_EINVAL);
    CHECK_HAS (why, "22:00-08:00");
    v = t;
    v.quiet_end_min = 420;      /* 07:00 */
    CHECK_INT (hk_timing_validate (&v, why, sizeof why), HK_EINVAL);
    v = t;
    v.quiet_start_min = 600;    /* not wrapping midnight: cannot hold 22:00-08:00 */
    v.quiet_end_min = 700;
    CHECK_INT (hk_timing_validate (&v, why, sizeof why), HK_EINVAL);
    v = t;
    v.quiet_start_min = 1260;   /* wider quiet hours 21:00-09:00 are fine */
    v.quiet_end_min = 540;
    CHECK_INT (hk_timing_validate (&v, why, sizeof why), 0);
    v.workday_start_min = 510;  /* but not a window in them */
    CHECK_INT (hk_timing_validate (&v, why, sizeof why), HK_EINVAL);
    CHECK_HAS (why, "quiet");
    v = t;
    v.prefer_days = 0;
    CHECK_INT (hk_timing_validate (&v, why, sizeof why), HK_EINVAL);
    v = t;
    v.weekday_rank[6] = -1;
    CHECK_INT (hk_timing_validate (&v, why, sizeof why), HK_EINVAL);
    v = t;
    v.lunch_start_min = 900;
    v.lunch_end_min = 840;
    CHECK_INT (hk_timing_validate (&v, why, sizeof why), HK_EINVAL);
    CHECK_INT (hk_timing_validate (NULL, why, sizeof why), HK_EINVAL);
    return failures;
}

/* ---- R-S2: what is allowed when ---- */
static int
s_test_allowed (const hk_calendar_t *cn)
{
    int failures = 0;
    hk_timing_t t;
    hk_timing_default (&t);
    char why[128];
    const char *sh = "Asia/Shanghai";

    /* quiet hours as a floor: their end, or the instant itself outside them */
    int64_t until = 0;
    CHECK_INT (hk_timing_quiet_until (sh, &t, T ("2026-03-05T23:10:00+08:00"), &until), 0);
    CHECK (until == T ("2026-03-06T08:00:00+08:00"));
    CHECK_INT (hk_timing_quiet_until (sh, &t, T ("2026-03-05T07:59:59+08:00"), &until), 0);
    CHECK (until == T ("2026-03-05T08:00:00+08:00"));
    CHECK_INT (hk_timing_quiet_until (sh, &t, T ("2026-03-05T22:00:00+08:00"), &until), 0);
    CHECK (until == T ("2026-03-06T08:00:00+08:00"));
    CHECK_INT (hk_timing_quiet_until (sh, &t, T ("2026-03-05T08:00:00+08:00"), &until), 0);
    CHECK (until == T ("2026-03-05T08:00:00+08:00"));
    CHECK_INT (hk_timing_quiet_until (sh, &t, T ("2026-03-05T21:59:59+08:00"), &until), 0);
    CHECK (until == T ("2026-03-05T21:59:59+08:00"));
    CHECK_INT (hk_timing_quiet_until ("Mars/Olympus", &t, 0, &until), HK_EINVAL);

    /* working hours 09:00-18:00 on Thu 2026-03-05 */
    CHECK (!hk_timing_allowed (cn, sh, &t, T ("2026-03-05T08:59:59+08:00"), why, sizeof why));
    CHECK_STR (why, "R-S2 outside working hours 09:00-18:00");
    CHECK (hk_timing_allowed (cn, sh, &t, T ("2026-03-05T09:00:00+08:00"), why, sizeof why));
    CHECK_STR (why, "");
    CHECK (hk_timing_allowed (cn, sh, &t, T ("2026-03-05T17:59:59+08:00"), why, sizeof why));
    CHECK (!hk_timing_allowed (cn, sh, &t, T ("2026-03-05T18:00:00+08:00"), why, sizeof why));
    /* R-S2 lunch and midday rest 11:30-14:00 */
    CHECK (hk_timing_allowed (cn, sh, &t, T ("2026-03-05T11:29:59+08:00"), why, sizeof why));
    CHECK (!hk_timing_allowed (cn, sh, &t, T ("2026-03-05T11:30:00+08:00"), why, sizeof why));
    CHECK_STR (why, "R-S2 lunch 11:30-14:00");
    CHECK (!hk_timing_allowed (cn, sh, &t, T ("2026-03-05T13:59:59+08:00"), why, sizeof why));
    CHECK (hk_timing_allowed (cn, sh, &t, T ("2026-03-05T14:00:00+08:00"), why, sizeof why));
    /* quiet hours 22:00-08:00 bind even when working hours are configured over them */
    hk_timing_t late = t;
    late.workday_start_min = 480;
    late.workday_end_min = 1440;
    CHECK_INT (hk_timing_validate (&late, why, sizeof why), 0);
    CHECK (hk_timing_allowed (cn, sh, &late, T ("2026-03-05T21:59:00+08:00"), why, sizeof why));
    CHECK (!hk_timing_allowed (cn, sh, &late, T ("2026-03-05T22:00:00+08:00"), why, sizeof why));
    CHECK_STR (why, "quiet hours 22:00-08:00");
    CHECK (!hk_timing_allowed (cn, sh, &late, T ("2026-03-05T07:59:00+08:00"), why, sizeof why));
    CHECK_STR (why, "quiet hours 22:00-08:00");
    CHECK (hk_timing_allowed (cn, sh, &late, T ("2026-03-05T08:00:00+08:00"), why, sizeof why));
    /* the same edges west of UTC: Sao Paulo (UTC-3) 21:59 / 22:00 fall on the next UTC day */
    CHECK (hk_timing_allowed (NULL, "America/Sao_Paulo", &late, T ("2026-03-04T00:59:00Z"), why,
                              sizeof why));
    CHECK (!hk_timing_allowed (NULL, "America/Sao_Paulo", &late, T ("2026-03-04T01:00:00Z"), why,
                               sizeof why));
    CHECK_STR (why, "quiet hours 22:00-08:00");
    /* R-S2 holidays and weekends of the debtor's calendar, make-up days worked */
    CHECK (!hk_timing_allowed (cn, sh, &t, T ("2026-02-16T10:00:00+08:00"), why, sizeof why));
    CHECK_STR (why, "R-S2 public holiday Spring Festival");
    CHECK (!hk_timing_allowed (cn, sh, &t, T ("2026-03-07T10:00:00+08:00"), why, sizeof why));
    CHECK_STR (why, "R-S2 weekend");
    CHECK (hk_timing_allowed (cn, sh, &t, T ("2026-02-14T10:00:00+08:00"), why, sizeof why));
    CHECK (hk_timing_allowed (NULL, sh, &t, T ("2026-02-16T10:00:00+08:00"), why, sizeof why));
    /* the holiday is a local date: 2026-02-15T17:00Z is Mon 01:00 in Shanghai, Sun in UTC */
    CHECK (!hk_timing_allowed (cn, sh, &late, T ("2026-02-15T17:00:00Z"), why, sizeof why));
    CHECK_STR (why, "R-S2 public holiday Spring Festival");
    /* bad inputs */
    CHECK (!hk_timing_allowed (cn, "Mars/Olympus", &t, T ("2026-03-05T10:00:00Z"), why,
                               sizeof why));
    CHECK_HAS (why, "unknown time zone");
    hk_timing_t bad = t;
    bad.window_min = -5;
    CHECK (!hk_timing_allowed (cn, sh, &bad, T ("2026-03-05T10:00:00+08:00"), why, sizeof why));
    CHECK (hk_timing_allowed (cn, sh, &t, T ("2026-03-05T10:00:00+08:00"), NULL, 0));
    return failures;
}

/* ---- R-S1 + R-S2: best slot ---- */
static int
s_test_best_slot (const hk_calendar_t *cn)
{
    int failures = 0;
    hk_timing_t t;
    hk_timing_default (&t);
    hk_slot_t s;
    const char *sh = "Asia/Shanghai";

    /* R-S2 window: start, its 15th minute, then gone (Fri 2026-03-06, best of Fri/Mon/Tue) */
    CHECK_INT (hk_timing_best_slot (cn, sh, &t, T ("2026-03-06T07:00:00+08:00"), &s), 0);
    CHECK_AT (s, "2026-03-06T09:00:00+08:00");
    CHECK_HAS (s.why, "R-S1 Fri ranked best of 3 working days");
    CHECK_HAS (s.why, "R-S2 09:00 start +15 min");
    CHECK_INT (hk_timing_best_slot (cn, sh, &t, T ("2026-03-06T09:14:00+08:00"), &s), 0);
    CHECK_AT (s, "2026-03-06T09:14:00+08:00");
    CHECK_HAS (s.why, "R-S2 inside the 09:00 window");
    CHECK_INT (hk_timing_best_slot (cn, sh, &t, T ("2026-03-06T09:14:59+08:00"), &s), 0);
    CHECK_AT (s, "2026-03-06T09:14:59+08:00");
    /* 09:15: the window has passed; Mon 9, Tue 10, Wed 11 -> Tue */
    CHECK_INT (hk_timing_best_slot (cn, sh, &t, T ("2026-03-06T09:15:00+08:00"), &s), 0);
    CHECK_AT (s, "2026-03-10T09:00:00+08:00");
    CHECK_HAS (s.why, "R-S1 Tue ranked best of 3 working days");
    CHECK (strstr (s.why, "does not cover") == NULL);

    /* past the years the calendar covers (CN.cal: through 2026) the slot says so, by the
     * debtor's local date: the last evening of 2026 in Shanghai is already 2027 there */
    CHECK_INT (hk_timing_best_slot (cn, sh, &t, T ("2027-03-03T08:00:00+08:00"), &s), 0);
    CHECK_HAS (s.why, "the calendar does not cover 2027: its holidays may be incomplete");
    CHECK_INT (hk_timing_next_allowed (cn, sh, &t, T ("2026-12-31T17:00:00+00:00"), &s), 0);
    CHECK_HAS (s.why, "does not cover 2027");
    CHECK_INT (hk_timing_next_allowed (cn, sh, &t, T ("2026-12-31T09:00:00+08:00"), &s), 0);
    CHECK (strstr (s.why, "does not cover") == NULL);

    /* R-S1: a Monday request goes to Tuesday; further ahead, to Friday */
    CHECK_INT (hk_timing_best_slot (cn, sh, &t, T ("2026-03-02T08:00:00+08:00"), &s), 0);
    CHECK_AT (s, "2026-03-03T09:00:00+08:00");
    hk_timing_t u = t;
    u.prefer_days = 5;
    CHECK_INT (hk_timing_best_slot (cn, sh, &u, T ("2026-03-02T08:00:00+08:00"), &s), 0);
    CHECK_AT (s, "2026-03-06T09:00:00+08:00");
    CHECK_HAS (s.why, "best of 5 working days");
    /* prefer_days 1: an avoided Monday only because nothing else is in reach */
    u.prefer_days = 1;
    CHECK_INT (hk_timing_best_slot (cn, sh, &u, T ("2026-03-02T08:00:00+08:00"), &s), 0);
    CHECK_AT (s, "2026-03-02T09:00:00+08:00");
    CHECK_HAS (s.why, "only avoided weekdays");
    /* a Wednesday request: Friday over Thursday; with 2 days in reach, Thursday */
    CHECK_INT (hk_timing_best_slot (cn, sh, &t, T ("2026-03-04T08:00:00+08:00"), &s), 0);
    CHECK_AT (s, "2026-03-06T09:00:00+08:00");
    u.prefer_days = 2;
    CHECK_INT (hk_timing_best_slot (cn, sh, &u, T ("2026-03-04T08:00:00+08:00"), &s), 0);
    CHECK_AT (s, "2026-03-05T09:00:00+08:00");
    CHECK_HAS (s.why, "R-S1 Thu");

    /* custom ranking: seed 000's Tuesday-Thursday, ties go to the earliest */
    u = t;
    CHECK_INT (hk_timing_set_ranking (&u, "tue=wed=thu"), 0);
    CHECK_INT (hk_timing_best_slot (cn, sh, &u, T ("2026-03-02T08:00:00+08:00"), &s), 0);
    CHECK_AT (s, "2026-03-03T09:00:00+08:00");
    CHECK_INT (hk_timing_best_slot (cn, sh, &u, T ("2026-03-04T08:00:00+08:00"), &s), 0);
    CHECK_AT (s, "2026-03-04T09:00:00+08:00");
    CHECK_INT (hk_timing_set_ranking (&u, "mon"), 0);
    u.prefer_days = 5;
    CHECK_INT (hk_timing_best_slot (cn, sh, &u, T ("2026-03-04T08:00:00+08:00"), &s), 0);
    CHECK_AT (s, "2026-03-09T09:00:00+08:00");
    /* a different working day: 08:30 start, 30 minute window */
    u = t;
    u.workday_start_min = 510;
    u.window_min = 30;
    CHECK_INT (hk_timing_best_slot (cn, sh, &u, T ("2026-03-06T08:59:00+08:00"), &s), 0);
    CHECK_AT (s, "2026-03-06T08:59:00+08:00");
    CHECK_HAS (s.why, "08:30");

    /* R-S2 public holiday skipped: Fri 2026-02-13 after the window -> make-up Sat 14 (avoided),
     * Spring Festival 15-23, Tue 24 (ranked), Wed 25 -> Tue 24 */
    CHECK_INT (hk_timing_best_slot (cn, sh, &t, T ("2026-02-13T10:00:00+08:00"), &s), 0);
    CHECK_AT (s, "2026-02-24T09:00:00+08:00");
    CHECK_HAS (s.why, "skipped public holiday Spring Festival");
    /* make-up Saturday used when nothing better is in reach */
    u = t;
    u.prefer_days = 1;
    CHECK_INT (hk_timing_best_slot (cn, sh, &u, T ("2026-02-13T10:00:00+08:00"), &s), 0);
    CHECK_AT (s, "2026-02-14T09:00:00+08:00");
    /* without the PRC calendar the same request goes to the holiday week */
    CHECK_INT (hk_timing_best_slot (NULL, sh, &t, T ("2026-02-13T10:00:00+08:00"), &s), 0);
    CHECK_AT (s, "2026-02-17T09:00:00+08:00");

    /* zones east: a request around local midnight */
    CHECK_INT (hk_timing_best_slot (NULL, "Asia/Tokyo", &t, T ("2026-03-08T23:59:00+09:00"), &s),
               0);
    CHECK_AT (s, "2026-03-10T09:00:00+09:00");                 /* Mon, Tue, Wed -> Tue */
    CHECK_INT (hk_timing_best_slot (NULL, "Asia/Tokyo", &t, T ("2026-03-06T23:59:00+09:00"), &s),
               0);
    CHECK_AT (s, "2026-03-10T09:00:00+09:00");
    CHECK_INT (hk_timing_best_slot (NULL, "Asia/Tokyo", &t, T ("2026-03-06T00:00:00+09:00"), &s),
               0);
    CHECK_AT (s, "2026-03-06T09:00:00+09:00");                 /* Fri itself */
    /* Auckland: Monday 00:00 local is Sunday noon UTC; DST ended that Sunday (+13 -> +12) */
    CHECK_INT (hk_timing_best_slot (NULL, "Pacific/Auckland", &t,
                                    T ("2026-04-06T00:00:00+12:00"), &s), 0);
    CHECK_AT (s, "2026-04-07T09:00:00+12:00");
    CHECK_INT (hk_timing_best_slot (NULL, "Pacific/Auckland", &t,
                                    T ("2026-04-02T10:00:00+13:00"), &s), 0);
    CHECK_AT (s, "2026-04-03T09:00:00+13:00");                 /* Fri before the change */
    /* zones west: Los Angeles across the DST start (Sun 2026-03-08, -08 -> -07) */
    CHECK_INT (hk_timing_best_slot (NULL, "America/Los_Angeles", &t,
                                    T ("2026-03-06T12:00:00-08:00"), &s), 0);
    CHECK_AT (s, "2026-03-10T09:00:00-07:00");
    /* Sao Paulo: Thursday 22:30 local is already Friday in UTC; Fri is ranked best */
    CHECK_INT (hk_timing_best_slot (NULL, "America/Sao_Paulo", &t, T ("2026-03-06T01:30:00Z"), &s),
               0);
    CHECK_AT (s, "2026-03-06T09:00:00-03:00");
    CHECK_INT (hk_timing_best_slot (NULL, "America/Sao_Paulo", &t, T ("2026-03-06T12:14:00Z"), &s),
               0);
    CHECK_AT (s, "2026-03-06T09:14:00-03:00");

    /* errors */
    CHECK_INT (hk_timing_best_slot (cn, "Mars/Olympus", &t, 0, &s), HK_EINVAL);
    CHECK_HAS (s.why, "unknown time zone");
    u = t;
    u.prefer_days = 0;
    CHECK_INT (hk_timing_best_slot (cn, sh, &u, 0, &s), HK_EINVAL);
    CHECK_INT (hk_timing_best_slot (cn, NULL, &t, 0, &s), HK_EINVAL);
    /* a calendar with no working day at all in reach */
    hk_calendar_t *none = hk_calendar_new ();
    CHECK_INT (hk_calendar_set_weekend (none, ""), 0);
    for (int32_t d = D (2026, 3, 1); d < D (2027, 6, 1); d++)
        hk_calendar_set (none, d, false, NULL);
    CHECK_INT (hk_timing_best_slot (none, sh, &t, T ("2026-03-02T08:00:00+08:00"), &s), HK_EINVAL);
    CHECK_INT (hk_timing_next_allowed (none, sh, &t, T ("2026-03-02T08:00:00+08:00"), &s),
               HK_EINVAL);
    hk_calendar_free (none);
    return failures;
}

/* ---- next allowed instant (R-S2, R-C6 remainder reminders) ---- */
static int
s_test_next_allowed (const hk_calendar_t *cn)
{
    int failures = 0;
    hk_timing_t t;
    hk_timing_default (&t);
    hk_slot_t s;
    const char *sh = "Asia/Shanghai";

    CHECK_INT (hk_timing_next_allowed (cn, sh, &t, T ("2026-03-05T10:07:31+08:00"), &s), 0);
    CHECK_AT (s, "2026-03-05T10:07:31+08:00");                 /* allowed now */
    CHECK_INT (hk_timing_next_allowed (cn, sh, &t, T ("2026-03-05T08:59:00+08:00"), &s), 0);
    CHECK_AT (s, "2026-03-05T09:00:00+08:00");
    CHECK_INT (hk_timing_next_allowed (cn, sh, &t, T ("2026-03-05T11:30:00+08:00"), &s), 0);
    CHECK_AT (s, "2026-03-05T14:00:00+08:00");                 /* R-S2 not at lunch */
    CHECK_HAS (s.why, "R-S2 lunch");
    CHECK_INT (hk_timing_next_allowed (cn, sh, &t, T ("2026-03-05T11:29:30+08:00"), &s), 0);
    CHECK_AT (s, "2026-03-05T11:29:30+08:00");
    CHECK_INT (hk_timing_next_allowed (cn, sh, &t, T ("2026-03-05T18:00:00+08:00"), &s), 0);
    CHECK_AT (s, "2026-03-06T09:00:00+08:00");
    CHECK_INT (hk_timing_next_allowed (cn, sh, &t, T ("2026-03-05T23:59:59+08:00"), &s), 0);
    CHECK_AT (s, "2026-03-06T09:00:00+08:00");
    CHECK_INT (hk_timing_next_allowed (cn, sh, &t, T ("2026-03-06T18:00:00+08:00"), &s), 0);
    CHECK_AT (s, "2026-03-09T09:00:00+08:00");                 /* over the weekend */
    /* R-S2 make-up Saturday used, then the whole Spring Festival skipped */
    CHECK_INT (hk_timing_next_allowed (cn, sh, &t, T ("2026-02-13T18:30:00+08:00"), &s), 0);
    CHECK_AT (s, "2026-02-14T09:00:00+08:00");
    CHECK_INT (hk_timing_next_allowed (cn, sh, &t, T ("2026-02-14T18:00:00+08:00"), &s), 0);
    CHECK_AT (s, "2026-02-24T09:00:00+08:00");
    CHECK_INT (hk_timing_next_allowed (cn, sh, &t, T ("2026-02-16T10:00:00+08:00"), &s), 0);
    CHECK_AT (s, "2026-02-24T09:00:00+08:00");
    CHECK_HAS (s.why, "R-S2 public holiday Spring Festival");
    CHECK_INT (hk_timing_next_allowed (cn, sh, &t, T ("2026-09-30T19:00:00+08:00"), &s), 0);
    CHECK_AT (s, "2026-10-08T09:00:00+08:00");                 /* National Day week */
    /* quiet hours as the binding limit: working hours to midnight, 22:00 still closes */
    hk_timing_t late = t;
    late.workday_start_min = 480;
    late.workday_end_min = 1440;
    CHECK_INT (hk_timing_next_allowed (cn, sh, &late, T ("2026-03-05T22:00:00+08:00"), &s), 0);
    CHECK_AT (s, "2026-03-06T08:00:00+08:00");
    CHECK_HAS (s.why, "quiet hours");
    CHECK_INT (hk_timing_next_allowed (cn, sh, &late, T ("2026-03-05T21:59:00+08:00"), &s), 0);
    CHECK_AT (s, "2026-03-05T21:59:00+08:00");
    /* Los Angeles: Friday evening before the DST start -> Monday 09:00 PDT */
    CHECK_INT (hk_timing_next_allowed (NULL, "America/Los_Angeles", &t,
                                       T ("2026-03-06T18:30:00-08:00"), &s), 0);
    CHECK_AT (s, "2026-03-09T09:00:00-07:00");
    /* ... and before the DST end (Sun 2026-11-01, -07 -> -08) */
    CHECK_INT (hk_timing_next_allowed (NULL, "America/Los_Angeles", &t,
                                       T ("2026-10-30T18:30:00-07:00"), &s), 0);
    CHECK_AT (s, "2026-11-02T09:00:00-08:00");
    /* Sao Paulo: Monday 21:30 local is Tuesday 00:30 UTC: the local date counts */
    CHECK_INT (hk_timing_next_allowed (NULL, "America/Sao_Paulo", &t, T ("2026-03-03T00:30:00Z"),
                                       &s), 0);
    CHECK_AT (s, "2026-03-03T09:00:00-03:00");
    /* Auckland across both DST changes */
    CHECK_INT (hk_timing_next_allowed (NULL, "Pacific/Auckland", &t,
                                       T ("2026-04-03T18:30:00+13:00"), &s), 0);
    CHECK_AT (s, "2026-04-06T09:00:00+12:00");
    CHECK_INT (hk_timing_next_allowed (NULL, "Pacific/Auckland", &t,
                                       T ("2026-09-25T19:00:00+12:00"), &s), 0);
    CHECK_AT (s, "2026-09-28T09:00:00+13:00");
    /* Tokyo, one second before and at local midnight */
    CHECK_INT (hk_timing_next_allowed (NULL, "Asia/Tokyo", &t, T ("2026-03-05T23:59:59+09:00"), &s),
               0);
    CHECK_AT (s, "2026-03-06T09:00:00+09:00");
    CHECK_INT (hk_timing_next_allowed (NULL, "Asia/Tokyo", &t, T ("2026-03-07T00:00:00+09:00"), &s),
               0);
    CHECK_AT (s, "2026-03-09T09:00:00+09:00");
    CHECK_INT (hk_timing_next_allowed (cn, "Nowhere/City", &t, 0, &s), HK_EINVAL);
    return failures;
}

/* ---- R-S3 / R-S4: before a date ---- */
static int
s_test_before_date (const hk_calendar_t *cn)
{
    int failures = 0;
    hk_timing_t t;
    hk_timing_default (&t);
    hk_slot_t s;
    const char *sh = "Asia/Shanghai";
    int64_t early = T ("2026-01-05T00:00:00+08:00");

    /* R-S3: incoming payment on Monday 2026-03-09: three days before is Friday */
    CHECK_INT (hk_timing_before_date (cn, sh, &t, D (2026, 3, 9), 3, early, &s), 0);
    CHECK_AT (s, "2026-03-06T09:00:00+08:00");
    CHECK_HAS (s.why, "R-S3");
    CHECK_HAS (s.why, "3 days before 2026-03-09");
    /* payment on Tuesday after the weekend: Saturday 7 -> back to Friday 6 */
    CHECK_INT (hk_timing_before_date (cn, sh, &t, D (2026, 3, 10), 3, early, &s), 0);
    CHECK_AT (s, "2026-03-06T09:00:00+08:00");
    CHECK_HAS (s.why, "moved back to Fri 2026-03-06 (R-S2 weekend)");
    /* payment after Spring Festival: Sun 22 (holiday) -> back to the make-up Saturday 14 */
    CHECK_INT (hk_timing_before_date (cn, sh, &t, D (2026, 2, 25), 3, early, &s), 0);
    CHECK_AT (s, "2026-02-14T09:00:00+08:00");
    CHECK_HAS (s.why, "Spring Festival");
    /* R-S4: early on the contractual collection date */
    CHECK_INT (hk_timing_before_date (cn, sh, &t, D (2026, 3, 5), 0, early, &s), 0);
    CHECK_AT (s, "2026-03-05T09:00:00+08:00");
    CHECK_HAS (s.why, "R-S4");
    /* a collection date on a holiday: the last working day before it */
    CHECK_INT (hk_timing_before_date (cn, sh, &t, D (2026, 10, 2), 0, early, &s), 0);
    CHECK_AT (s, "2026-09-30T09:00:00+08:00");
    /* the instant has passed: next allowed time from not_before, said in why */
    CHECK_INT (hk_timing_before_date (cn, sh, &t, D (2026, 3, 10), 3,
                                      T ("2026-03-06T10:00:00+08:00"), &s), 0);
    CHECK_AT (s, "2026-03-06T10:00:00+08:00");
    CHECK_HAS (s.why, "passed");
    CHECK_INT (hk_timing_before_date (cn, sh, &t, D (2026, 3, 10), 3,
                                      T ("2026-03-06T12:00:00+08:00"), &s), 0);
    CHECK_AT (s, "2026-03-06T14:00:00+08:00");
    CHECK_INT (hk_timing_before_date (cn, sh, &t, D (2026, 3, 10), 3,
                                      T ("2026-03-06T09:00:00+08:00"), &s), 0);
    CHECK_AT (s, "2026-03-06T09:00:00+08:00");                 /* exactly on time */
    CHECK (strstr (s.why, "passed") == NULL);
    /* west of UTC: the date is the debtor's local date */
    CHECK_INT (hk_timing_before_date (NULL, "America/Los_Angeles", &t, D (2026, 3, 10), 3, early,
                                      &s), 0);
    CHECK_AT (s, "2026-03-06T09:00:00-08:00");
    CHECK_INT (hk_timing_before_date (cn, sh, &t, D (2026, 3, 10), -1, early, &s), HK_EINVAL);
    return failures;
}

/* ---- R-S5: promise reminders ---- */
static int
s_test_promise (const hk_calendar_t *cn)
{
    int failures = 0;
    hk_timing_t t;
    hk_timing_default (&t);
    hk_slot_t s;
    const char *sh = "Asia/Shanghai";
    int64_t now = T ("2026-01-01T00:00:00+08:00");

    /* seed 002: 承诺3点还款 -> 两点半打电话 */
    CHECK_INT (hk_timing_promise_reminder (cn, sh, &t, T ("2026-03-05T15:00:00+08:00"), 30, now,
                                           &s), 0);
    CHECK_AT (s, "2026-03-05T14:30:00+08:00");
    CHECK_HAS (s.why, "R-S5 T-30 min");
    /* agreed times are kept at lunch, after hours and on a holiday */
    CHECK_INT (hk_timing_promise_reminder (cn, sh, &t, T ("2026-03-05T12:00:00+08:00"), 30, now,
                                           &s), 0);
    CHECK_AT (s, "2026-03-05T11:30:00+08:00");
    CHECK_INT (hk_timing_promise_reminder (cn, sh, &t, T ("2026-02-16T10:00:00+08:00"), 30, now,
                                           &s), 0);
    CHECK_AT (s, "2026-02-16T09:30:00+08:00");
    /* quiet-hour edges: 21:59 kept, 22:00 moved to 21:59 */
    CHECK_INT (hk_timing_promise_reminder (cn, sh, &t, T ("2026-03-05T22:29:00+08:00"), 30, now,
                                           &s), 0);
    CHECK_AT (s, "2026-03-05T21:59:00+08:00");
    CHECK_INT (hk_timing_promise_reminder (cn, sh, &t, T ("2026-03-05T22:30:00+08:00"), 30, now,
                                           &s), 0);
    CHECK_AT (s, "2026-03-05T21:59:00+08:00");
    CHECK_HAS (s.why, "quiet hours 22:00-08:00");
    CHECK_INT (hk_timing_promise_reminder (cn, sh, &t, T ("2026-03-05T23:40:00+08:00"), 30, now,
                                           &s), 0);
    CHECK_AT (s, "2026-03-05T21:59:00+08:00");
    /* morning: 07:59 is quiet, 08:00 not; a reminder at 07:40 waits for 08:00 */
    CHECK_INT (hk_timing_promise_reminder (cn, sh, &t, T ("2026-03-05T08:30:00+08:00"), 30, now,
                                           &s), 0);
    CHECK_AT (s, "2026-03-05T08:00:00+08:00");
    CHECK_INT (hk_timing_promise_reminder (cn, sh, &t, T ("2026-03-05T08:29:00+08:00"), 30, now,
                                           &s), 0);
    CHECK_AT (s, "2026-03-05T08:00:00+08:00");
    CHECK_INT (hk_timing_promise_reminder (cn, sh, &t, T ("2026-03-05T08:10:00+08:00"), 30, now,
                                           &s), 0);
    CHECK_AT (s, "2026-03-05T08:00:00+08:00");
    /* a promise inside quiet hours: the last minute before them, the evening before */
    CHECK_INT (hk_timing_promise_reminder (cn, sh, &t, T ("2026-03-05T07:00:00+08:00"), 30, now,
                                           &s), 0);
    CHECK_AT (s, "2026-03-04T21:59:00+08:00");
    /* already due: now, unless now is quiet */
    CHECK_INT (hk_timing_promise_reminder (cn, sh, &t, T ("2026-03-05T15:00:00+08:00"), 30,
                                           T ("2026-03-05T14:45:00+08:00"), &s), 0);
    CHECK_AT (s, "2026-03-05T14:45:00+08:00");
    CHECK_INT (hk_timing_promise_reminder (cn, sh, &t, T ("2026-03-05T23:30:00+08:00"), 30,
                                           T ("2026-03-05T22:30:00+08:00"), &s), 0);
    CHECK_AT (s, "2026-03-06T08:00:00+08:00");
    /* Los Angeles on the DST start day (2026-03-08 02:00 PST -> 03:00 PDT) */
    CHECK_INT (hk_timing_promise_reminder (NULL, "America/Los_Angeles", &t,
                                           T ("2026-03-08T15:00:00-07:00"), 30, now, &s), 0);
    CHECK_AT (s, "2026-03-08T14:30:00-07:00");
    CHECK_INT (hk_timing_promise_reminder (NULL, "America/Los_Angeles", &t,
                                           T ("2026-03-08T08:20:00-07:00"), 30, now, &s), 0);
    CHECK_AT (s, "2026-03-08T08:00:00-07:00");
    CHECK_INT (hk_timing_promise_reminder (NULL, "America/Los_Angeles", &t,
                                           T ("2026-03-08T03:20:00-07:00"), 30, now, &s), 0);
    CHECK_AT (s, "2026-03-07T21:59:00-08:00");
    /* Auckland: 30 minutes before a 09:00 promise */
    CHECK_INT (hk_timing_promise_reminder (NULL, "Pacific/Auckland", &t,
                                           T ("2026-04-06T09:00:00+12:00"), 30, now, &s), 0);
    CHECK_AT (s, "2026-04-06T08:30:00+12:00");
    CHECK_INT (hk_timing_promise_reminder (cn, sh, &t, 0, -1, now, &s), HK_EINVAL);
    CHECK_INT (hk_timing_promise_reminder (cn, "Bad/Zone", &t, 0, 30, now, &s), HK_EINVAL);
    return failures;
}

/* ---- R-S6: cadence ---- */
static int
s_test_cadence (const hk_calendar_t *cn)
{
    int failures = 0;
    hk_timing_t t;
    hk_timing_default (&t);
    hk_slot_t s;
    const char *sh = "Asia/Shanghai";

    /* first Friday of March 2026 is the 6th */
    CHECK_INT (hk_timing_cadence (cn, sh, &t, 5, 1, T ("2026-03-01T00:00:00+08:00"), &s), 0);
    CHECK_AT (s, "2026-03-06T09:00:00+08:00");
    CHECK_HAS (s.why, "R-S6 1st Fri of 2026-03 is 2026-03-06");
    CHECK_INT (hk_timing_cadence (cn, sh, &t, 5, 1, T ("2026-03-06T09:10:00+08:00"), &s), 0);
    CHECK_AT (s, "2026-03-06T09:10:00+08:00");
    CHECK_INT (hk_timing_cadence (cn, sh, &t, 5, 1, T ("2026-03-06T09:15:00+08:00"), &s), 0);
    CHECK_AT (s, "2026-04-03T09:00:00+08:00");
    /* first Friday of October 2026 is National Day (10-02): forward to Thu 10-08 */
    CHECK_INT (hk_timing_cadence (cn, sh, &t, 5, 1, T ("2026-09-15T00:00:00+08:00"), &s), 0);
    CHECK_AT (s, "2026-10-08T09:00:00+08:00");
    CHECK_HAS (s.why, "R-S2 public holiday National Day");
    CHECK_HAS (s.why, "moved to Thu 2026-10-08");
    /* ... and still due on 10-05, after the nominal Friday */
    CHECK_INT (hk_timing_cadence (cn, sh, &t, 5, 1, T ("2026-10-05T12:00:00+08:00"), &s), 0);
    CHECK_AT (s, "2026-10-08T09:00:00+08:00");
    CHECK_INT (hk_timing_cadence (NULL, sh, &t, 5, 1, T ("2026-09-15T00:00:00+08:00"), &s), 0);
    CHECK_AT (s, "2026-10-02T09:00:00+08:00");
    /* last Friday; a 5th Friday exists only in some months (March/April 2026 have four) */
    CHECK_INT (hk_timing_cadence (cn, sh, &t, 5, -1, T ("2026-03-01T00:00:00+08:00"), &s), 0);
    CHECK_AT (s, "2026-03-27T09:00:00+08:00");
    CHECK_INT (hk_timing_cadence (cn, sh, &t, 5, 5, T ("2026-03-01T00:00:00+08:00"), &s), 0);
    CHECK_AT (s, "2026-05-29T09:00:00+08:00");
    /* last Friday of January 2025 (01-31) falls in Spring Festival: it moves to Wed 02-05,
     * which a request on 02-03 must still find (not February's last Friday, 02-28) */
    CHECK_INT (hk_timing_cadence (cn, sh, &t, 5, -1, T ("2025-02-03T10:00:00+08:00"), &s), 0);
    CHECK_AT (s, "2025-02-05T09:00:00+08:00");
    CHECK_HAS (s.why, "R-S6 last Fri of 2025-01 is 2025-01-31");
    CHECK_INT (hk_timing_cadence (cn, sh, &t, 5, -1, T ("2025-01-10T10:00:00+08:00"), &s), 0);
    CHECK_AT (s, "2025-02-05T09:00:00+08:00");
    /* second Monday in Sao Paulo, requested late Sunday local (Monday UTC) */
    CHECK_INT (hk_timing_cadence (NULL, "America/Sao_Paulo", &t, 1, 2,
                                  T ("2026-03-09T01:00:00Z"), &s), 0);
    CHECK_AT (s, "2026-03-09T09:00:00-03:00");
    CHECK_INT (hk_timing_cadence (cn, sh, &t, 8, 1, 0, &s), HK_EINVAL);
    CHECK_INT (hk_timing_cadence (cn, sh, &t, 5, 0, 0, &s), HK_EINVAL);
    CHECK_INT (hk_timing_cadence (cn, sh, &t, 5, 6, 0, &s), HK_EINVAL);
    return failures;
}

int
hk_calendar_test (bool verbose)
{
    int failures = 0;
    failures += s_test_calendar ();
    failures += s_test_policy ();

    char path[1024], err[300];
    s_cn_path (path, sizeof path);
    hk_calendar_t *cn = hk_calendar_new ();
    int rc = hk_calendar_load_file (cn, path, err, sizeof err);
    if (rc != 0) {
        fprintf (stderr, "calendar: cannot load %s: %s (set HK_SOURCE_DIR to the source tree)\n",
                 path, err);
        failures++;
    }
    else {
        if (verbose)
            printf ("calendar: %s, %zu entries\n", path, hk_calendar_size (cn));
        failures += s_test_cn (cn);
        failures += s_test_allowed (cn);
        failures += s_test_best_slot (cn);
        failures += s_test_next_allowed (cn);
        failures += s_test_before_date (cn);
        failures += s_test_promise (cn);
        failures += s_test_cadence (cn);
    }
    hk_calendar_free (cn);
    return failures;
}
