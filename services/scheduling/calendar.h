/* calendar: the debtor's working-day calendar and the timing rules of the doctrine (R-S1 ..
 * R-S6, R-C6 remainder reminders). Pure logic: no I/O except hk_calendar_load_file, no clock;
 * callers pass "now" in. Instants are UTC microseconds, civil dates day numbers, and all zone
 * work goes through huikuan/dates.h (R-S2: every time is in the debtor's time zone).
 *
 * A calendar says which civil dates are working days: Monday to Friday by default, overridden
 * per date by entries ("off" for a public holiday, "work" for a make-up working day, 调休).
 * Functions that take a calendar accept NULL for the default Monday-to-Friday calendar. */
#ifndef HK_SCHEDULING_CALENDAR_H
#define HK_SCHEDULING_CALENDAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hk_calendar hk_calendar_t;

/* A calendar with Monday..Friday working, no holidays, no covered years; NULL on ENOMEM.
 * The caller frees it with hk_calendar_free. */
hk_calendar_t *hk_calendar_new (void);
/* Frees cal and its notes; NULL is fine. */
void hk_calendar_free (hk_calendar_t *cal);

/* Text format, one entry per line (UTF-8; blank lines and lines starting with '#' ignored):
 *   covers 2024 2026                 years whose holidays the file lists completely
 *   weekend sat sun                  weekdays off without an entry (default; "weekend fri sat")
 *   2026-02-16 off Spring Festival   a day off, even if a weekday (the rest is the note)
 *   2026-02-14 work Spring Festival make-up day   (调休: a weekend day that is a working day)
 * The note is optional, at most 127 bytes. Later entries override earlier ones (also over
 * earlier loads and hk_calendar_set). Returns 0, or HK_EINVAL with "line N: reason" in err
 * (err may be NULL); on error the calendar is left unchanged. HK_ENOMEM when out of memory. */
int hk_calendar_load_text (hk_calendar_t *cal, const char *text, size_t len, char *err,
                           size_t errlen);
/* hk_calendar_load_text of the file at path (at most 1 MiB). HK_EIO with "path: reason" in
 * err when it cannot be read; otherwise as hk_calendar_load_text ("path: line N: reason"). */
int hk_calendar_load_file (hk_calendar_t *cal, const char *path, char *err, size_t errlen);
/* Makes date a working day or a day off, with an optional note (copied; NULL for none).
 * Returns 0, HK_EINVAL (cal NULL, note over 127 bytes) or HK_ENOMEM. */
int hk_calendar_set (hk_calendar_t *cal, int32_t date, bool working, const char *note);
/* Weekdays that are days off unless an entry says otherwise: names as in
 * hk_timing_set_ranking, blank or comma separated ("sat sun", "fri,sat"; "" for none). All
 * seven, an unknown or a repeated name: HK_EINVAL, cal unchanged. */
int hk_calendar_set_weekend (hk_calendar_t *cal, const char *days);
/* The entry of date if any, else whether its weekday is outside the weekend. cal NULL:
 * Monday..Friday. */
bool hk_calendar_is_working (const hk_calendar_t *cal, int32_t date);
/* The note of date's entry (holiday name, or what a make-up day makes up for), or NULL when
 * date has no entry or no note. Points into cal: valid until the entry changes or cal is
 * freed. */
const char *hk_calendar_note (const hk_calendar_t *cal, int32_t date);
/* True when date's year is inside one of the "covers" ranges: outside them a weekday without
 * entry may still be an unlisted holiday, and the caller may want to say so. */
bool hk_calendar_covers (const hk_calendar_t *cal, int32_t date);
/* Number of date entries (for reports and tests). */
size_t hk_calendar_size (const hk_calendar_t *cal);

/* The timing policy of one tenant (R-S1, R-S2). Minutes are local minutes after midnight;
 * ranges are half-open [start, end). */
typedef struct {
    int workday_start_min;   /* 540: the debtor's working day starts 09:00 local */
    int workday_end_min;     /* 1080 */
    int window_min;          /* 15: contact within 15 min after the start (R-S2) */
    int lunch_start_min;     /* 690 (11:30) */
    int lunch_end_min;       /* 840 (14:00): lunch and midday rest, never (R-S2) */
    int quiet_start_min;     /* 1320 (22:00) hard floor, whatever else is configured */
    int quiet_end_min;       /* 480 (08:00) */
    int weekday_rank[8];     /* index = ISO weekday 1..7; higher is better; 0 = avoid */
    int prefer_days;         /* look this many working days ahead for a better weekday (3) */
} hk_timing_t;

/* Quiet hours may be widened but never narrowed: hk_timing_validate refuses a policy whose
 * quiet hours do not include 22:00-08:00. They bind every kind of slot, including promise
 * reminders (R-S5) that otherwise ignore working hours. */
#define HK_TIMING_QUIET_FLOOR_START 1320
#define HK_TIMING_QUIET_FLOOR_END   480

/* R-S1 default: Fri > Thu > Tue, Mon and Wed avoided (weekends: 0, used only on make-up
 * working days when nothing better is in reach), 09:00-18:00, window 15 min, lunch
 * 11:30-14:00, quiet 22:00-08:00, prefer_days 3. */
void hk_timing_default (hk_timing_t *t);
/* Weekday ranking, best first, comma separated: "fri,thu,tue". Names: mon..sun or monday..
 * sunday, any case, blanks around names allowed; '=' ties days ("tue=wed=thu" is seed 000's
 * view, R-S1). Unnamed weekdays become "avoid" (0). A day named twice, an unknown name or an
 * empty list: HK_EINVAL and t unchanged. */
int hk_timing_set_ranking (hk_timing_t *t, const char *text);
/* Writes the ranking of t in the hk_timing_set_ranking form ("fri,thu,tue"; "" when every day
 * is avoided) into buf. */
void hk_timing_format_ranking (const hk_timing_t *t, char *buf, size_t len);
/* Checks a policy: minutes in range, working hours non-empty, the contact window inside working
 * hours and outside lunch and quiet hours, lunch inside the day, quiet hours including
 * 22:00-08:00, ranks 0..100, prefer_days 1..31. 0 or HK_EINVAL with why (may be NULL). */
int hk_timing_validate (const hk_timing_t *t, char *why, size_t len);

typedef struct {
    int64_t at_us;
    char why[192];    /* rule IDs and the reasoning, e.g. "R-S1 Fri ranked best of 3 working days; R-S2 09:00 start +15 min" */
} hk_slot_t;

/* Every function below returns 0 with *out filled, or HK_EINVAL (unknown zone, invalid policy,
 * bad argument, no slot within 400 days). cal may be NULL (Monday..Friday). A slot whose local
 * date lies in a year cal does not cover (hk_calendar_covers) ends its why with "the calendar
 * does not cover YYYY: its holidays are not known". */

/* R-S1 + R-S2: among the next prefer_days working days from not_before (today counts if its
 * window has not passed), the best-ranked weekday (ties: earliest), at the start of its contact
 * window (or not_before itself if that is inside the window). Avoided weekdays (rank 0) only
 * when nothing else is in reach. */
int hk_timing_best_slot (const hk_calendar_t *cal, const char *zone, const hk_timing_t *t,
                         int64_t not_before_us, hk_slot_t *out);
/* Earliest allowed instant at or after not_before: a working day, inside working hours, not
 * lunch, not quiet hours. Mornings first is naturally satisfied. (R-C6 remainder reminder,
 * written confirmations.) */
int hk_timing_next_allowed (const hk_calendar_t *cal, const char *zone, const hk_timing_t *t,
                            int64_t not_before_us, hk_slot_t *out);
/* True when a contact may happen at at_us: working day, working hours, not lunch, not quiet.
 * why (may be NULL) gets the rule that forbids it, the day first: "R-S2 public holiday Spring
 * Festival", "R-S2 weekend", then "quiet hours 22:00-08:00", "R-S2 outside working hours
 * 09:00-18:00", "R-S2 lunch 11:30-14:00"; "" when allowed. An unknown zone or invalid policy
 * gives false with the reason. */
bool hk_timing_allowed (const hk_calendar_t *cal, const char *zone, const hk_timing_t *t,
                        int64_t at_us, char *why, size_t len);
/* Quiet hours, the hard floor: *until_us is at_us itself when at_us is not inside them, else
 * the first instant after them (their end, local to zone). 0 or HK_EINVAL (unknown zone). */
int hk_timing_quiet_until (const char *zone, const hk_timing_t *t, int64_t at_us,
                           int64_t *until_us);
/* R-S3 / R-S4: days_before (0..366) calendar days before date (3 for a known incoming payment,
 * 0 for "early on the contractual collection date"), moved back to the previous working day
 * when that day is not one, at the window start. If that instant is already before not_before,
 * fall back to hk_timing_next_allowed(not_before) and say so in why. */
int hk_timing_before_date (const hk_calendar_t *cal, const char *zone, const hk_timing_t *t,
                           int32_t date, int days_before, int64_t not_before_us, hk_slot_t *out);
/* R-S5: reminder lead_min (0..1440) minutes before a promised instant (30). The promise time
 * was agreed with the debtor, so lunch, working hours and working days do not move it, but
 * quiet hours do:
 *  - a reminder in the evening part of quiet hours moves to the latest non-quiet minute before
 *    it on the same local day (22:30 -> 21:59);
 *  - one in the morning part moves to the end of quiet hours when that is not after the
 *    promise (07:40 for an 08:10 promise -> 08:00: still before the promise, which the plain
 *    "promised_us itself" reading would not be);
 *  - when the promise itself is in quiet hours too (a 07:00 promise), to the latest non-quiet
 *    minute before the promise (21:59 the evening before).
 * If the result is before now_us, now_us when that is not quiet, else the end of the quiet
 * hours that hold now_us. Always 0 with a valid zone and policy. */
int hk_timing_promise_reminder (const hk_calendar_t *cal, const char *zone, const hk_timing_t *t,
                                int64_t promised_us, int lead_min, int64_t now_us, hk_slot_t *out);
/* R-S6: the next occurrence at or after not_before of the nth (1..5, or -1 = last) given ISO
 * weekday (1..7) of a month ("first Friday"), moved forward to the next working day when it is
 * not one, at the window start (not_before itself when that is inside the window). An
 * occurrence counts while its window has not passed; months without a 5th such weekday are
 * skipped. */
int hk_timing_cadence (const hk_calendar_t *cal, const char *zone, const hk_timing_t *t,
                       int weekday, int nth, int64_t not_before_us, hk_slot_t *out);

#endif
