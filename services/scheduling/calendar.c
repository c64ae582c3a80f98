/* calendar: working-day calendar and contact timing (R-S1 .. R-S6). See calendar.h. */
#include "calendar.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "huikuan/dates.h"
#include "huikuan/errcodes.h"
#include "huikuan/files.h"

#define S_NOTE_MAX 127
#define S_HORIZON_DAYS 400          /* "no slot within 400 days" */
#define S_FILE_MAX (1024 * 1024)

typedef struct {
    int32_t date;
    bool working;
    char *note;     /* owned, NULL for none */
} s_entry_t;

typedef struct {
    int from, to;   /* years, inclusive */
} s_covers_t;

struct hk_calendar {
    unsigned weekend;       /* bit d set: ISO weekday d is a day off without entry */
    s_entry_t *entries;     /* sorted by date, one per date */
    size_t count, cap;
    s_covers_t *covers;
    size_t covers_count, covers_cap;
};

static const char *const s_day_short[8] = { "?", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun" };
static const char *const s_day_long[8] = { "?", "monday", "tuesday", "wednesday", "thursday",
                                           "friday", "saturday", "sunday" };

/* Formats into buf like snprintf, never fails (truncates); buf may be NULL when len is 0. */
static void
s_say (char *buf, size_t len, const char *fmt, ...)
{
    if (!buf || len == 0)
        return;
    va_list ap;
    va_start (ap, fmt);
    int n = vsnprintf (buf, len, fmt, ap);
    va_end (ap);
    if (n < 0)
        buf[0] = '\0';
}

/* Appends to a NUL-terminated buf of size len, truncating. */
static void
s_append (char *buf, size_t len, const char *fmt, ...)
{
    size_t used = strnlen (buf, len);
    if (used + 1 >= len)
        return;
    va_list ap;
    va_start (ap, fmt);
    int n = vsnprintf (buf + used, len - used, fmt, ap);
    va_end (ap);
    if (n < 0)
        buf[used] = '\0';
}

static bool
s_blank (char c)
{
    return c == ' ' || c == '\t';
}

static int
s_day_by_name (const char *s, size_t n)
{
    char low[16];
    if (n == 0 || n >= sizeof low)
        return 0;
    for (size_t i = 0; i < n; i++)
        low[i] = (char) tolower ((unsigned char) s[i]);
    low[n] = '\0';
    for (int d = 1; d <= 7; d++) {
        if (strcmp (low, s_day_long[d]) == 0)
            return d;
        if (n == 3 && strncmp (low, s_day_long[d], 3) == 0)
            return d;
    }
    return 0;
}

/* Parses day names separated by blanks or commas in [p, end) into a mask of ISO weekdays.
 * False for an unknown or repeated name, or a week without any working day. */
static bool
s_weekend_mask (const char *p, const char *end, unsigned *mask_out)
{
    unsigned mask = 0;
    while (p < end) {
        while (p < end && (s_blank (*p) || *p == ','))
            p++;
        if (p == end)
            break;
        const char *w = p;
        while (p < end && isalpha ((unsigned char) *p))
            p++;
        int d = s_day_by_name (w, (size_t) (p - w));
        if (d == 0 || (mask & (1u << d)))
            return false;
        mask |= 1u << d;
    }
    if (mask == 0xFEu)
        return false;
    *mask_out = mask;
    return true;
}

/* ------------------------------------------------------------------------------------------ */
/* Calendar                                                                                   */

hk_calendar_t *
hk_calendar_new (void)
{
    hk_calendar_t *cal = calloc (1, sizeof (hk_calendar_t));
    if (cal)
        cal->weekend = 1u << 6 | 1u << 7;
    return cal;
}

void
hk_calendar_free (hk_calendar_t *cal)
{
    if (!cal)
        return;
    for (size_t i = 0; i < cal->count; i++)
        free (cal->entries[i].note);
    free (cal->entries);
    free (cal->covers);
    free (cal);
}

/* Index of date, or of where it would be inserted; *found tells which. */
static size_t
s_find (const hk_calendar_t *cal, int32_t date, bool *found)
{
    size_t lo = 0, hi = cal->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cal->entries[mid].date < date)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < cal->count && cal->entries[lo].date == date;
    return lo;
}

static const s_entry_t *
s_entry (const hk_calendar_t *cal, int32_t date)
{
    if (!cal)
        return NULL;
    bool found;
    size_t i = s_find (cal, date, &found);
    return found ? &cal->entries[i] : NULL;
}

int
hk_calendar_set (hk_calendar_t *cal, int32_t date, bool working, const char *note)
{
    if (!cal || (note && strlen (note) > S_NOTE_MAX))
        return HK_EINVAL;
    char *copy = NULL;
    if (note && *note && !(copy = strdup (note)))
        return HK_ENOMEM;
    bool found;
    size_t i = s_find (cal, date, &found);
    if (found) {
        free (cal->entries[i].note);
        cal->entries[i].working = working;
        cal->entries[i].note = copy;
        return 0;
    }
    if (cal->count == cal->cap) {
        size_t cap = cal->cap ? cal->cap * 2 : 64;
        s_entry_t *grown = realloc (cal->entries, cap * sizeof *grown);
        if (!grown) {
            free (copy);
            return HK_ENOMEM;
        }
        cal->entries = grown;
        cal->cap = cap;
    }
    memmove (&cal->entries[i + 1], &cal->entries[i], (cal->count - i) * sizeof *cal->entries);
    cal->entries[i] = (s_entry_t) { .date = date, .working = working, .note = copy };
    cal->count++;
    return 0;
}

static int
s_add_covers (hk_calendar_t *cal, int from, int to)
{
    if (cal->covers_count == cal->covers_cap) {
        size_t cap = cal->covers_cap ? cal->covers_cap * 2 : 4;
        s_covers_t *grown = realloc (cal->covers, cap * sizeof *grown);
        if (!grown)
            return HK_ENOMEM;
        cal->covers = grown;
        cal->covers_cap = cap;
    }
    cal->covers[cal->covers_count++] = (s_covers_t) { from, to };
    return 0;
}

bool
hk_calendar_is_working (const hk_calendar_t *cal, int32_t date)
{
    const s_entry_t *e = s_entry (cal, date);
    if (e)
        return e->working;
    unsigned weekend = cal ? cal->weekend : (1u << 6 | 1u << 7);
    return !(weekend & (1u << hk_date_weekday (date)));
}

int
hk_calendar_set_weekend (hk_calendar_t *cal, const char *days)
{
    unsigned mask;
    if (!cal || !days || !s_weekend_mask (days, days + strlen (days), &mask))
        return HK_EINVAL;
    cal->weekend = mask;
    return 0;
}

const char *
hk_calendar_note (const hk_calendar_t *cal, int32_t date)
{
    const s_entry_t *e = s_entry (cal, date);
    return e ? e->note : NULL;
}

bool
hk_calendar_covers (const hk_calendar_t *cal, int32_t date)
{
    if (!cal)
        return false;
    int y, m, d;
    hk_date_to_ymd (date, &y, &m, &d);
    for (size_t i = 0; i < cal->covers_count; i++)
        if (y >= cal->covers[i].from && y <= cal->covers[i].to)
            return true;
    return false;
}

size_t
hk_calendar_size (const hk_calendar_t *cal)
{
    return cal ? cal->count : 0;
}

/* One parsed line of the text format. */
typedef struct {
    enum { S_LINE_NONE, S_LINE_COVERS, S_LINE_WEEKEND, S_LINE_DATE } kind;
    int from, to;
    unsigned weekend;
    int32_t date;
    bool working;
    char note[S_NOTE_MAX + 1];
} s_line_t;

/* Parses a year of 4 digits at *p, advancing it. */
static bool
s_year (const char **p, const char *end, int *year)
{
    const char *s = *p;
    if (end - s < 4)
        return false;
    int y = 0;
    for (int i = 0; i < 4; i++) {
        if (!isdigit ((unsigned char) s[i]))
            return false;
        y = y * 10 + (s[i] - '0');
    }
    if (s + 4 < end && !s_blank (s[4]))
        return false;
    *year = y;
    *p = s + 4;
    return true;
}

/* Parses the line [s, end) (no newline) into *out; why gets the reason on failure. */
static int
s_parse_line (const char *s, const char *end, s_line_t *out, char *why, size_t len)
{
    out->kind = S_LINE_NONE;
    while (s < end && s_blank (*s))
        s++;
    while (end > s && (s_blank (end[-1]) || end[-1] == '\r'))
        end--;
    if (s == end || *s == '#')
        return 0;
    for (const char *c = s; c < end; c++)
        if ((unsigned char) *c < 0x20 && *c != '\t') {
            s_say (why, len, "control character in line");
            return HK_EINVAL;
        }
    if (end - s >= 6 && memcmp (s, "covers", 6) == 0 && (end - s == 6 || s_blank (s[6]))) {
        const char *p = s + 6;
        while (p < end && s_blank (*p))
            p++;
        int from, to;
        if (!s_year (&p, end, &from)) {
            s_say (why, len, "covers wants two years, e.g. \"covers 2024 2026\"");
            return HK_EINVAL;
        }
        while (p < end && s_blank (*p))
            p++;
        if (!s_year (&p, end, &to)) {
            s_say (why, len, "covers wants two years, e.g. \"covers 2024 2026\"");
            return HK_EINVAL;
        }
        while (p < end && s_blank (*p))
            p++;
        if (p != end) {
            s_say (why, len, "unexpected text after the years of covers");
            return HK_EINVAL;
        }
        if (from < 1900 || to > 9999 || from > to) {
            s_say (why, len, "covers %d %d: years out of order or before 1900", from, to);
            return HK_EINVAL;
        }
        out->kind = S_LINE_COVERS;
        out->from = from;
        out->to = to;
        return 0;
    }
    if (end - s >= 7 && memcmp (s, "weekend", 7) == 0 && (end - s == 7 || s_blank (s[7]))) {
        if (!s_weekend_mask (s + 7, end, &out->weekend)) {
            s_say (why, len, "weekend wants day names, e.g. \"weekend sat sun\"");
            return HK_EINVAL;
        }
        out->kind = S_LINE_WEEKEND;
        return 0;
    }
    /* date word */
    const char *w = s;
    while (w < end && !s_blank (*w))
        w++;
    char date_text[16];
    size_t n = (size_t) (w - s);
    if (n >= sizeof date_text || !isdigit ((unsigned char) *s)) {
        s_say (why, len, "expected \"covers\", \"weekend\" or a date YYYY-MM-DD, got \"%.*s\"",
               (int) (n > 20 ? 20 : n), s);
        return HK_EINVAL;
    }
    memcpy (date_text, s, n);
    date_text[n] = '\0';
    if (hk_date_parse (date_text, &out->date) != 0) {
        s_say (why, len, "bad date \"%s\" (want YYYY-MM-DD)", date_text);
        return HK_EINVAL;
    }
    /* kind word */
    const char *k = w;
    while (k < end && s_blank (*k))
        k++;
    const char *ke = k;
    while (ke < end && !s_blank (*ke))
        ke++;
    if (ke - k == 3 && memcmp (k, "off", 3) == 0)
        out->working = false;
    else if (ke - k == 4 && memcmp (k, "work", 4) == 0)
        out->working = true;
    else {
        if (k == ke)
            s_say (why, len, "%s: missing \"off\" or \"work\"", date_text);
        else
            s_say (why, len, "%s: expected \"off\" or \"work\", got \"%.*s\"", date_text,
                   (int) (ke - k > 20 ? 20 : ke - k), k);
        return HK_EINVAL;
    }
    /* note: the rest */
    const char *t = ke;
    while (t < end && s_blank (*t))
        t++;
    if (end - t > S_NOTE_MAX) {
        s_say (why, len, "%s: note longer than %d bytes", date_text, S_NOTE_MAX);
        return HK_EINVAL;
    }
    memcpy (out->note, t, (size_t) (end - t));
    out->note[end - t] = '\0';
    out->kind = S_LINE_DATE;
    return 0;
}

/* Runs over the lines of text; with apply false only checks, with apply true changes cal. */
static int
s_load (hk_calendar_t *cal, const char *text, size_t len, bool apply, char *err, size_t errlen)
{
    const char *p = text, *end = text + len;
    if (len >= 3 && memcmp (p, "\xEF\xBB\xBF", 3) == 0)
        p += 3; /* UTF-8 byte order mark */
    int line = 0;
    while (p < end) {
        line++;
        const char *nl = memchr (p, '\n', (size_t) (end - p));
        const char *le = nl ? nl : end;
        s_line_t parsed;
        char why[160];
        if (s_parse_line (p, le, &parsed, why, sizeof why) != 0) {
            s_say (err, errlen, "line %d: %s", line, why);
            return HK_EINVAL;
        }
        if (apply) {
            int rc = 0;
            if (parsed.kind == S_LINE_COVERS)
                rc = s_add_covers (cal, parsed.from, parsed.to);
            else if (parsed.kind == S_LINE_WEEKEND)
                cal->weekend = parsed.weekend;
            else if (parsed.kind == S_LINE_DATE)
                rc = hk_calendar_set (cal, parsed.date, parsed.working, parsed.note);
            if (rc != 0) {
                s_say (err, errlen, "line %d: out of memory", line);
                return rc;
            }
        }
        p = nl ? nl + 1 : end;
    }
    return 0;
}

int
hk_calendar_load_text (hk_calendar_t *cal, const char *text, size_t len, char *err,
                       size_t errlen)
{
    s_say (err, errlen, "%s", "");
    if (!cal || (!text && len)) {
        s_say (err, errlen, "no calendar or no text");
        return HK_EINVAL;
    }
    if (!text)
        return 0;
    int rc = s_load (cal, text, len, false, err, errlen);
    if (rc != 0)
        return rc;
    return s_load (cal, text, len, true, err, errlen);
}

int
hk_calendar_load_file (hk_calendar_t *cal, const char *path, char *err, size_t errlen)
{
    s_say (err, errlen, "%s", "");
    if (!cal || !path) {
        s_say (err, errlen, "no calendar or no path");
        return HK_EINVAL;
    }
    FILE *f = fopen (path, "rb");
    if (!f) {
        s_say (err, errlen, "%s: %s", path, strerror (errno));
        return HK_EIO;
    }
    char *data = NULL;
    size_t len = 0;
    int rc = hk_file_read_all (f, S_FILE_MAX, &data, &len);
    fclose (f);
    if (rc != 0) {
        s_say (err, errlen, "%s: %s", path,
               rc == HK_EINVAL ? "larger than 1 MiB" : rc == HK_ENOMEM ? "out of memory"
                                                                        : "read error");
        return rc;
    }
    char why[200];
    rc = hk_calendar_load_text (cal, data, len, why, sizeof why);
    free (data);
    if (rc != 0)
        s_say (err, errlen, "%s: %s", path, why);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* Timing policy                                                                              */

void
hk_timing_default (hk_timing_t *t)
{
    *t = (hk_timing_t) {
        .workday_start_min = 540,
        .workday_end_min = 1080,
        .window_min = 15,
        .lunch_start_min = 690,
        .lunch_end_min = 840,
        .quiet_start_min = HK_TIMING_QUIET_FLOOR_START,
        .quiet_end_min = HK_TIMING_QUIET_FLOOR_END,
        .prefer_days = 3,
    };
    /* R-S1, seed 001: Friday, Thursday, Tuesday; Monday and Wednesday avoided. */
    t->weekday_rank[5] = 3;
    t->weekday_rank[4] = 2;
    t->weekday_rank[2] = 1;
}

int
hk_timing_set_ranking (hk_timing_t *t, const char *text)
{
    if (!t || !text)
        return HK_EINVAL;
    /* Groups separated by ',' best first; days in a group tied by '='. */
    int group_of[8] = { 0 };
    int groups = 0;
    const char *p = text;
    for (;;) {
        groups++;
        for (;;) {
            while (s_blank (*p))
                p++;
            const char *w = p;
            while (isalpha ((unsigned char) *p))
                p++;
            int d = s_day_by_name (w, (size_t) (p - w));
            if (d == 0 || group_of[d] != 0)
                return HK_EINVAL; /* unknown, empty or repeated */
            group_of[d] = groups;
            while (s_blank (*p))
                p++;
            if (*p != '=')
                break;
            p++;
        }
        if (*p == '\0')
            break;
        if (*p != ',')
            return HK_EINVAL;
        p++;
    }
    for (int d = 1; d <= 7; d++)
        t->weekday_rank[d] = group_of[d] ? groups - group_of[d] + 1 : 0;
    t->weekday_rank[0] = 0;
    return 0;
}

void
hk_timing_format_ranking (const hk_timing_t *t, char *buf, size_t len)
{
    if (!buf || len == 0)
        return;
    buf[0] = '\0';
    int last = -1;
    for (;;) {
        /* next lower rank present */
        int best = 0;
        for (int d = 1; d <= 7; d++) {
            int r = t->weekday_rank[d];
            if (r > 0 && (last < 0 || r < last) && r > best)
                best = r;
        }
        if (best == 0)
            return;
        bool first = true;
        for (int d = 1; d <= 7; d++)
            if (t->weekday_rank[d] == best) {
                s_append (buf, len, "%s%s", first ? (buf[0] ? "," : "") : "=", s_day_long[d]);
                first = false;
            }
        last = best;
    }
}

static bool
s_in_range (int m, int start, int end)
{
    return m >= start && m < end;
}

/* Quiet hours wrap midnight (validated): [quiet_start, 1440) + [0, quiet_end). */
static bool
s_quiet (const hk_timing_t *t, int m)
{
    return m >= t->quiet_start_min || m < t->quiet_end_min;
}

static void
s_hhmm (int m, char out[6])
{
    snprintf (out, 6, "%02d:%02d", (m / 60) % 100, m % 60);
}

int
hk_timing_validate (const hk_timing_t *t, char *why, size_t len)
{
    s_say (why, len, "%s", "");
    if (!t) {
        s_say (why, len, "no policy");
        return HK_EINVAL;
    }
    const int day = 24 * 60;
    if (t->workday_start_min < 0 || t->workday_end_min > day
        || t->workday_start_min >= t->workday_end_min) {
        s_say (why, len, "working hours %d-%d minutes: want 0 <= start < end <= 1440",
               t->workday_start_min, t->workday_end_min);
        return HK_EINVAL;
    }
    if (t->window_min <= 0 || t->workday_start_min + t->window_min > t->workday_end_min) {
        s_say (why, len, "contact window of %d minutes does not fit the working hours (R-S2)",
               t->window_min);
        return HK_EINVAL;
    }
    if (t->lunch_start_min < 0 || t->lunch_end_min > day
        || t->lunch_start_min > t->lunch_end_min) {
        s_say (why, len, "lunch %d-%d minutes: want 0 <= start <= end <= 1440",
               t->lunch_start_min, t->lunch_end_min);
        return HK_EINVAL;
    }
    if (t->quiet_start_min < 0 || t->quiet_start_min >= day || t->quiet_end_min < 0
        || t->quiet_end_min >= day || t->quiet_start_min > HK_TIMING_QUIET_FLOOR_START
        || t->quiet_end_min < HK_TIMING_QUIET_FLOOR_END
        || t->quiet_start_min <= t->quiet_end_min) {
        s_say (why, len, "quiet hours %d-%d minutes must include 22:00-08:00", t->quiet_start_min,
               t->quiet_end_min);
        return HK_EINVAL;
    }
    int ws = t->workday_start_min, we = ws + t->window_min;
    if (ws < t->lunch_end_min && we > t->lunch_start_min) {
        s_say (why, len, "contact window overlaps lunch (R-S2)");
        return HK_EINVAL;
    }
    if (ws < t->quiet_end_min || we > t->quiet_start_min) {
        s_say (why, len, "contact window overlaps quiet hours");
        return HK_EINVAL;
    }
    for (int d = 1; d <= 7; d++)
        if (t->weekday_rank[d] < 0 || t->weekday_rank[d] > 100) {
            s_say (why, len, "rank of %s is %d: want 0..100 (R-S1)", s_day_short[d],
                   t->weekday_rank[d]);
            return HK_EINVAL;
        }
    if (t->prefer_days < 1 || t->prefer_days > 31) {
        s_say (why, len, "prefer_days %d: want 1..31 (R-S1)", t->prefer_days);
        return HK_EINVAL;
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Slots                                                                                      */

/* Instant of local minute m (0..1440; 1440 = next day's midnight) of date in zone. */
static int
s_instant (const char *zone, int32_t date, int m, int64_t *us)
{
    if (m >= 24 * 60)
        return hk_tz_instant (zone, date + 1, m - 24 * 60, us);
    return hk_tz_instant (zone, date, m, us);
}

static int
s_check (const char *zone, const hk_timing_t *t, hk_slot_t *out)
{
    if (!out)
        return HK_EINVAL;
    out->at_us = 0;
    out->why[0] = '\0';
    if (!t || hk_timing_validate (t, out->why, sizeof out->why) != 0)
        return HK_EINVAL;
    if (!zone || !hk_tz_valid (zone)) {
        s_say (out->why, sizeof out->why, "unknown time zone \"%s\"", zone ? zone : "(null)");
        return HK_EINVAL;
    }
    return 0;
}

/* Why date is not a working day: "R-S2 public holiday <note>" or "R-S2 weekend". */
static void
s_day_off_why (const hk_calendar_t *cal, int32_t date, char *why, size_t len)
{
    const char *note = hk_calendar_note (cal, date);
    const s_entry_t *e = s_entry (cal, date);
    if (e && !e->working)
        s_say (why, len, "R-S2 public holiday%s%s", note ? " " : "", note ? note : "");
    else
        s_say (why, len, "R-S2 weekend");
}

bool
hk_timing_allowed (const hk_calendar_t *cal, const char *zone, const hk_timing_t *t,
                   int64_t at_us, char *why, size_t len)
{
    s_say (why, len, "%s", "");
    if (!t || hk_timing_validate (t, why, len) != 0)
        return false;
    hk_local_t l;
    if (!zone || hk_tz_local (zone, at_us, &l) != 0) {
        s_say (why, len, "unknown time zone \"%s\"", zone ? zone : "(null)");
        return false;
    }
    char a[6], b[6];
    if (!hk_calendar_is_working (cal, l.date)) {
        s_day_off_why (cal, l.date, why, len);
        return false;
    }
    int m = l.minute_of_day;
    if (s_quiet (t, m)) {
        s_hhmm (t->quiet_start_min, a);
        s_hhmm (t->quiet_end_min, b);
        s_say (why, len, "quiet hours %s-%s", a, b);
        return false;
    }
    if (!s_in_range (m, t->workday_start_min, t->workday_end_min)) {
        s_hhmm (t->workday_start_min, a);
        s_hhmm (t->workday_end_min, b);
        s_say (why, len, "R-S2 outside working hours %s-%s", a, b);
        return false;
    }
    if (s_in_range (m, t->lunch_start_min, t->lunch_end_min)) {
        s_hhmm (t->lunch_start_min, a);
        s_hhmm (t->lunch_end_min, b);
        s_say (why, len, "R-S2 lunch %s-%s", a, b);
        return false;
    }
    return true;
}

int
hk_timing_quiet_until (const char *zone, const hk_timing_t *t, int64_t at_us, int64_t *until_us)
{
    hk_local_t l;
    if (!zone || !t || !until_us || hk_tz_local (zone, at_us, &l) != 0)
        return HK_EINVAL;
    *until_us = at_us;
    if (!s_quiet (t, l.minute_of_day))
        return 0;
    int32_t day = l.minute_of_day >= t->quiet_start_min ? l.date + 1 : l.date;
    return hk_tz_instant (zone, day, t->quiet_end_min, until_us) == 0 ? 0 : HK_EINVAL;
}

/* The allowed local-minute intervals of a working day, in order: working hours minus lunch
 * minus quiet hours. Returns their number (at most 2). */
static int
s_day_intervals (const hk_timing_t *t, int from[2], int to[2])
{
    int a = t->workday_start_min, b = t->workday_end_min;
    if (a < t->quiet_end_min)
        a = t->quiet_end_min;
    if (b > t->quiet_start_min)
        b = t->quiet_start_min;
    int n = 0;
    int ls = t->lunch_start_min, le = t->lunch_end_min;
    if (ls >= le || le <= a || ls >= b) {
        if (a < b) {
            from[n] = a;
            to[n++] = b;
        }
        return n;
    }
    if (a < ls) {
        from[n] = a;
        to[n++] = ls;
    }
    if (le < b) {
        from[n] = le;
        to[n++] = b;
    }
    return n;
}

/* Earliest allowed instant >= not_before; *day_out its local date. Validated inputs. */
static int
s_next_allowed (const hk_calendar_t *cal, const char *zone, const hk_timing_t *t,
                int64_t not_before, int64_t *at, int32_t *day_out)
{
    hk_local_t l;
    if (hk_tz_local (zone, not_before, &l) != 0)
        return HK_EINVAL;
    int from[2], to[2];
    int n = s_day_intervals (t, from, to);
    for (int k = 0; k <= S_HORIZON_DAYS; k++) {
        int32_t d = l.date + k;
        if (!hk_calendar_is_working (cal, d))
            continue;
        for (int i = 0; i < n; i++) {
            int64_t a, b;
            if (s_instant (zone, d, from[i], &a) != 0 || s_instant (zone, d, to[i], &b) != 0)
                return HK_EINVAL;
            if (not_before >= b)
                continue;
            int64_t c = not_before > a ? not_before : a;
            /* Guard against a DST change inside the interval (none happens in working hours
             * anywhere today, but the tz database is data). */
            if (!hk_timing_allowed (cal, zone, t, c, NULL, 0))
                continue;
            *at = c;
            *day_out = d;
            return 0;
        }
    }
    return HK_EINVAL;
}

/* A slot in a year the calendar does not cover (its "covers" line) may fall on a holiday or
 * make-up day nobody entered yet: why says so, so that hkctl why and the contact log show it. */
static int
s_covered (const hk_calendar_t *cal, const char *zone, hk_slot_t *out, int rc)
{
    hk_local_t l;
    if (rc == 0 && cal && out->at_us > 0 && hk_tz_local (zone, out->at_us, &l) == 0
        && !hk_calendar_covers (cal, l.date)) {
        int y, m, d;
        hk_date_to_ymd (l.date, &y, &m, &d);
        s_append (out->why, sizeof out->why,
                  "; the calendar does not cover %04d: its holidays may be incomplete", y);
    }
    return rc;
}

static int
s_timing_next_allowed (const hk_calendar_t *cal, const char *zone, const hk_timing_t *t,
                        int64_t not_before_us, hk_slot_t *out)
{
    int rc = s_check (zone, t, out);
    if (rc != 0)
        return rc;
    char why[96];
    if (hk_timing_allowed (cal, zone, t, not_before_us, why, sizeof why)) {
        out->at_us = not_before_us;
        s_say (out->why, sizeof out->why, "R-S2 allowed now (working day, working hours)");
        return 0;
    }
    int32_t day;
    if (s_next_allowed (cal, zone, t, not_before_us, &out->at_us, &day) != 0) {
        s_say (out->why, sizeof out->why, "no allowed time within %d days", S_HORIZON_DAYS);
        return HK_EINVAL;
    }
    hk_local_t l;
    hk_tz_local (zone, out->at_us, &l);
    char date[11], hm[6];
    hk_date_format (day, date, sizeof date);
    s_hhmm (l.minute_of_day, hm);
    s_say (out->why, sizeof out->why, "not then: %s; next allowed %s %s %s", why,
           s_day_short[hk_date_weekday (day)], date, hm);
    return 0;
}

int
hk_timing_next_allowed (const hk_calendar_t *cal, const char *zone, const hk_timing_t *t,
                        int64_t not_before_us, hk_slot_t *out)
{
    return s_covered (cal, zone, out, s_timing_next_allowed (cal, zone, t, not_before_us, out));
}

/* Window [start, end) of date as instants. */
static int
s_window (const char *zone, const hk_timing_t *t, int32_t date, int64_t *start, int64_t *end)
{
    if (s_instant (zone, date, t->workday_start_min, start) != 0
        || s_instant (zone, date, t->workday_start_min + t->window_min, end) != 0)
        return HK_EINVAL;
    return 0;
}

/* Slot on date: window start, or not_before when inside the window. */
static int64_t
s_window_slot (int64_t start, int64_t not_before)
{
    return not_before > start ? not_before : start;
}

/* First holiday note among working-day-less dates [from, to), for the explanation. */
static const char *
s_skipped_holiday (const hk_calendar_t *cal, int32_t from, int32_t to)
{
    for (int32_t d = from; d < to; d++) {
        const s_entry_t *e = s_entry (cal, d);
        if (e && !e->working && e->note && hk_date_weekday (d) <= 5)
            return e->note;
    }
    return NULL;
}

static void
s_window_why (const hk_timing_t *t, int64_t slot, int64_t start, char *buf, size_t len)
{
    char hm[6];
    s_hhmm (t->workday_start_min, hm);
    if (slot > start)
        s_append (buf, len, "R-S2 inside the %s window +%d min", hm, t->window_min);
    else
        s_append (buf, len, "R-S2 %s start +%d min", hm, t->window_min);
}

static int
s_timing_best_slot (const hk_calendar_t *cal, const char *zone, const hk_timing_t *t,
                     int64_t not_before_us, hk_slot_t *out)
{
    int rc = s_check (zone, t, out);
    if (rc != 0)
        return rc;
    hk_local_t l;
    if (hk_tz_local (zone, not_before_us, &l) != 0)
        return HK_EINVAL;
    int found = 0, best_rank = -1;
    int32_t best_day = 0;
    int64_t best_start = 0;
    for (int k = 0; k <= S_HORIZON_DAYS && found < t->prefer_days; k++) {
        int32_t d = l.date + k;
        if (!hk_calendar_is_working (cal, d))
            continue;
        int64_t start, end;
        if (s_window (zone, t, d, &start, &end) != 0)
            return HK_EINVAL;
        if (not_before_us >= end)
            continue; /* today's window has passed */
        found++;
        int r = t->weekday_rank[hk_date_weekday (d)];
        if (r > best_rank) {
            best_rank = r;
            best_day = d;
            best_start = start;
        }
    }
    if (found == 0) {
        s_say (out->why, sizeof out->why, "no working day within %d days", S_HORIZON_DAYS);
        return HK_EINVAL;
    }
    out->at_us = s_window_slot (best_start, not_before_us);
    const char *wd = s_day_short[hk_date_weekday (best_day)];
    char date[11];
    hk_date_format (best_day, date, sizeof date);
    if (best_rank > 0)
        s_say (out->why, sizeof out->why, "R-S1 %s ranked best of %d working day%s (%s); ", wd,
               found, found == 1 ? "" : "s", date);
    else
        s_say (out->why, sizeof out->why,
               "R-S1 only avoided weekdays among %d working day%s, earliest %s (%s); ", found,
               found == 1 ? "" : "s", wd, date);
    s_window_why (t, out->at_us, best_start, out->why, sizeof out->why);
    const char *hol = s_skipped_holiday (cal, l.date, best_day);
    if (hol)
        s_append (out->why, sizeof out->why, "; skipped public holiday %s", hol);
    return 0;
}

int
hk_timing_best_slot (const hk_calendar_t *cal, const char *zone, const hk_timing_t *t,
                     int64_t not_before_us, hk_slot_t *out)
{
    return s_covered (cal, zone, out, s_timing_best_slot (cal, zone, t, not_before_us, out));
}

static int
s_timing_before_date (const hk_calendar_t *cal, const char *zone, const hk_timing_t *t,
                       int32_t date, int days_before, int64_t not_before_us, hk_slot_t *out)
{
    int rc = s_check (zone, t, out);
    if (rc != 0)
        return rc;
    if (days_before < 0 || days_before > 366) {
        s_say (out->why, sizeof out->why, "days_before %d: want 0..366", days_before);
        return HK_EINVAL;
    }
    char target[11], moved[11];
    hk_date_format (date, target, sizeof target);
    if (days_before > 0)
        s_say (out->why, sizeof out->why, "R-S3/R-S4 %d day%s before %s", days_before,
               days_before == 1 ? "" : "s", target);
    else
        s_say (out->why, sizeof out->why, "R-S4 early on the collection date %s", target);
    int32_t d = date - days_before, want = d;
    int k = 0;
    while (!hk_calendar_is_working (cal, d) && k++ < S_HORIZON_DAYS)
        d--;
    if (k > S_HORIZON_DAYS) {
        s_append (out->why, sizeof out->why, ": no working day within %d days", S_HORIZON_DAYS);
        return HK_EINVAL;
    }
    if (d != want) {
        char off[96];
        s_day_off_why (cal, want, off, sizeof off);
        hk_date_format (d, moved, sizeof moved);
        s_append (out->why, sizeof out->why, ", moved back to %s %s (%s)",
                  s_day_short[hk_date_weekday (d)], moved, off);
    }
    int64_t start, end;
    if (s_window (zone, t, d, &start, &end) != 0)
        return HK_EINVAL;
    if (start >= not_before_us) {
        out->at_us = start;
        s_append (out->why, sizeof out->why, "; ");
        s_window_why (t, start, start, out->why, sizeof out->why);
        return 0;
    }
    int32_t day;
    if (s_next_allowed (cal, zone, t, not_before_us, &out->at_us, &day) != 0) {
        s_append (out->why, sizeof out->why, ": no allowed time within %d days", S_HORIZON_DAYS);
        return HK_EINVAL;
    }
    hk_date_format (day, moved, sizeof moved);
    s_append (out->why, sizeof out->why, "; that window has passed, next allowed time %s",
              moved);
    return 0;
}

int
hk_timing_before_date (const hk_calendar_t *cal, const char *zone, const hk_timing_t *t,
                       int32_t date, int days_before, int64_t not_before_us, hk_slot_t *out)
{
    int rc = s_timing_before_date (cal, zone, t, date, days_before, not_before_us, out);
    return s_covered (cal, zone, out, rc);
}

/* Latest non-quiet minute strictly before the quiet instant at: quiet_start - 1 of the same
 * local day in the evening part, of the day before in the morning part. */
static int
s_before_quiet (const char *zone, const hk_timing_t *t, int64_t at, int64_t *us)
{
    hk_local_t l;
    if (hk_tz_local (zone, at, &l) != 0)
        return HK_EINVAL;
    int32_t d = l.minute_of_day >= t->quiet_start_min ? l.date : l.date - 1;
    return hk_tz_instant (zone, d, t->quiet_start_min - 1, us);
}

/* End of the quiet hours that hold the quiet instant at. */
static int
s_after_quiet (const char *zone, const hk_timing_t *t, int64_t at, int64_t *us)
{
    hk_local_t l;
    if (hk_tz_local (zone, at, &l) != 0)
        return HK_EINVAL;
    int32_t d = l.minute_of_day >= t->quiet_start_min ? l.date + 1 : l.date;
    return hk_tz_instant (zone, d, t->quiet_end_min, us);
}

static bool
s_quiet_at (const char *zone, const hk_timing_t *t, int64_t at)
{
    hk_local_t l;
    return hk_tz_local (zone, at, &l) == 0 && s_quiet (t, l.minute_of_day);
}

static int
s_timing_promise_reminder (const hk_calendar_t *cal, const char *zone, const hk_timing_t *t,
                            int64_t promised_us, int lead_min, int64_t now_us, hk_slot_t *out)
{
    (void) cal; /* the promise was agreed: working days do not move it (R-S5) */
    int rc = s_check (zone, t, out);
    if (rc != 0)
        return rc;
    if (lead_min < 0 || lead_min > 24 * 60) {
        s_say (out->why, sizeof out->why, "lead of %d minutes: want 0..1440", lead_min);
        return HK_EINVAL;
    }
    char qa[6], qb[6];
    s_hhmm (t->quiet_start_min, qa);
    s_hhmm (t->quiet_end_min, qb);
    int64_t at = promised_us - (int64_t) lead_min * HK_US_PER_MIN;
    s_say (out->why, sizeof out->why, "R-S5 T-%d min", lead_min);
    if (s_quiet_at (zone, t, at)) {
        hk_local_t l;
        if (hk_tz_local (zone, at, &l) != 0)
            return HK_EINVAL;
        int64_t moved;
        if (l.minute_of_day >= t->quiet_start_min) {
            if (s_before_quiet (zone, t, at, &moved) != 0)
                return HK_EINVAL;
            s_append (out->why, sizeof out->why, ", moved before quiet hours %s-%s", qa, qb);
        }
        else {
            if (s_after_quiet (zone, t, at, &moved) != 0)
                return HK_EINVAL;
            if (moved <= promised_us)
                s_append (out->why, sizeof out->why, ", moved to the end of quiet hours %s-%s",
                          qa, qb);
            else if (!s_quiet_at (zone, t, promised_us)) {
                moved = promised_us;
                s_append (out->why, sizeof out->why, ", quiet hours %s-%s: at the promise", qa,
                          qb);
            }
            else {
                if (s_before_quiet (zone, t, promised_us, &moved) != 0)
                    return HK_EINVAL;
                s_append (out->why, sizeof out->why,
                          ", promise in quiet hours %s-%s: last minute before them", qa, qb);
            }
        }
        at = moved;
    }
    if (at < now_us) {
        if (!s_quiet_at (zone, t, now_us)) {
            at = now_us;
            s_append (out->why, sizeof out->why, "; already due: now");
        }
        else {
            if (s_after_quiet (zone, t, now_us, &at) != 0)
                return HK_EINVAL;
            s_append (out->why, sizeof out->why, "; already due, now quiet: at %s", qb);
        }
    }
    out->at_us = at;
    return 0;
}

int
hk_timing_promise_reminder (const hk_calendar_t *cal, const char *zone, const hk_timing_t *t,
                            int64_t promised_us, int lead_min, int64_t now_us, hk_slot_t *out)
{
    int rc = s_timing_promise_reminder (cal, zone, t, promised_us, lead_min, now_us, out);
    return s_covered (cal, zone, out, rc);
}

/* Day number of the nth (1..5, -1 last) ISO weekday wd of month y-m, or INT32_MIN if none. */
static int32_t
s_nth_weekday (int y, int m, int wd, int nth)
{
    if (nth == -1) {
        int ny = m == 12 ? y + 1 : y, nm = m == 12 ? 1 : m + 1;
        int32_t last = hk_date_from_ymd (ny, nm, 1) - 1;
        return last - ((hk_date_weekday (last) - wd + 7) % 7);
    }
    int32_t first = hk_date_from_ymd (y, m, 1);
    int32_t d = first + ((wd - hk_date_weekday (first) + 7) % 7) + 7 * (nth - 1);
    int yy, mm, dd;
    hk_date_to_ymd (d, &yy, &mm, &dd);
    return mm == m ? d : INT32_MIN;
}

static int
s_timing_cadence (const hk_calendar_t *cal, const char *zone, const hk_timing_t *t,
                   int weekday, int nth, int64_t not_before_us, hk_slot_t *out)
{
    int rc = s_check (zone, t, out);
    if (rc != 0)
        return rc;
    if (weekday < 1 || weekday > 7 || nth == 0 || nth < -1 || nth > 5) {
        s_say (out->why, sizeof out->why, "cadence weekday %d nth %d: want 1..7 and 1..5 or -1",
               weekday, nth);
        return HK_EINVAL;
    }
    hk_local_t l;
    if (hk_tz_local (zone, not_before_us, &l) != 0)
        return HK_EINVAL;
    int y, m, dd;
    hk_date_to_ymd (l.date, &y, &m, &dd);
    /* Start a month early: last month's occurrence may move forward past not_before. */
    if (--m == 0) {
        m = 12;
        y--;
    }
    for (int i = 0; i < 15; i++, m = m == 12 ? 1 : m + 1, y = m == 1 ? y + 1 : y) {
        int32_t occ = s_nth_weekday (y, m, weekday, nth);
        if (occ == INT32_MIN)
            continue;
        int32_t d = occ;
        int k = 0;
        while (!hk_calendar_is_working (cal, d) && k++ < S_HORIZON_DAYS)
            d++;
        if (k > S_HORIZON_DAYS)
            break;
        int64_t start, end;
        if (s_window (zone, t, d, &start, &end) != 0)
            return HK_EINVAL;
        if (not_before_us >= end)
            continue;
        out->at_us = s_window_slot (start, not_before_us);
        char occ_text[11], moved[11], off[96];
        hk_date_format (occ, occ_text, sizeof occ_text);
        const char *nth_text[] = { "last", "1st", "2nd", "3rd", "4th", "5th" };
        s_say (out->why, sizeof out->why, "R-S6 %s %s of %04d-%02d is %s", nth_text[nth < 0 ? 0 : nth],
               s_day_short[weekday], y, m, occ_text);
        if (d != occ) {
            s_day_off_why (cal, occ, off, sizeof off);
            hk_date_format (d, moved, sizeof moved);
            s_append (out->why, sizeof out->why, " (%s), moved to %s %s", off,
                      s_day_short[hk_date_weekday (d)], moved);
        }
        s_append (out->why, sizeof out->why, "; ");
        s_window_why (t, out->at_us, start, out->why, sizeof out->why);
        return 0;
    }
    s_say (out->why, sizeof out->why, "no occurrence within 15 months");
    return HK_EINVAL;
}

int
hk_timing_cadence (const hk_calendar_t *cal, const char *zone, const hk_timing_t *t,
                   int weekday, int nth, int64_t not_before_us, hk_slot_t *out)
{
    int rc = s_timing_cadence (cal, zone, t, weekday, nth, not_before_us, out);
    return s_covered (cal, zone, out, rc);
}
