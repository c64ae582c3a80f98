/* dates: civil dates, instants and time zones. Civil-date arithmetic uses the proleptic
 * Gregorian day-number algorithms (days_from_civil / civil_from_days); zone conversion uses
 * the system tz database through TZ + localtime_r/mktime, which is exact for every zone the
 * database knows, DST included. Not thread-safe for zone conversion: daemons convert on their
 * one loop thread. */
#include "huikuan/dates.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "huikuan/errcodes.h"

int32_t
hk_date_from_ymd (int y, int m, int d)
{
    y -= m <= 2;
    int era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned) (y - era * 400);
    unsigned doy = (unsigned) ((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1);
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (int32_t) (era * 146097 + (int) doe - 719468);
}

void
hk_date_to_ymd (int32_t days, int *year, int *month, int *day)
{
    int z = days + 719468;
    int era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned) (z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int y = (int) yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned d = doy - (153 * mp + 2) / 5 + 1;
    unsigned m = mp < 10 ? mp + 3 : mp - 9;
    *year = y + (m <= 2);
    *month = (int) m;
    *day = (int) d;
}

int
hk_date_weekday (int32_t days)
{
    /* 1970-01-01 was a Thursday (4). */
    int w = (int) ((days % 7 + 7) % 7); /* 0 = Thursday */
    return (w + 3) % 7 + 1;
}

static bool
s_leap (int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
s_month_days (int y, int m)
{
    static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    return m == 2 && s_leap (y) ? 29 : days[m - 1];
}

/* Reads exactly n digits. */
static bool
s_digits (const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit ((unsigned char) (*p)[i]))
            return false;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return true;
}

static bool
s_parse_ymd (const char **p, int *y, int *m, int *d)
{
    if (!s_digits (p, 4, y) || **p != '-')
        return false;
    (*p)++;
    if (!s_digits (p, 2, m) || **p != '-')
        return false;
    (*p)++;
    if (!s_digits (p, 2, d))
        return false;
    return *m >= 1 && *m <= 12 && *d >= 1 && *d <= s_month_days (*y, *m);
}

int
hk_date_parse (const char *text, int32_t *days_out)
{
    if (!text)
        return HK_EINVAL;
    const char *p = text;
    int y, m, d;
    if (!s_parse_ymd (&p, &y, &m, &d) || *p)
        return HK_EINVAL;
    *days_out = hk_date_from_ymd (y, m, d);
    return 0;
}

void
hk_date_format (int32_t days, char *buf, size_t len)
{
    int y, m, d;
    hk_date_to_ymd (days, &y, &m, &d);
    snprintf (buf, len, "%04d-%02d-%02d", y, m, d);
}

int64_t
hk_time_system_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * HK_US_PER_SEC + ts.tv_nsec / 1000;
}

int
hk_time_parse (const char *text, int64_t *us_out)
{
    if (!text)
        return HK_EINVAL;
    const char *p = text;
    int y, mo, d, h, mi, s = 0;
    if (!s_parse_ymd (&p, &y, &mo, &d))
        return HK_EINVAL;
    if (*p != 'T' && *p != 't' && *p != ' ')
        return HK_EINVAL;
    p++;
    if (!s_digits (&p, 2, &h) || *p++ != ':' || !s_digits (&p, 2, &mi))
        return HK_EINVAL;
    if (*p == ':') {
        p++;
        if (!s_digits (&p, 2, &s))
            return HK_EINVAL;
    }
    int64_t frac_us = 0;
    if (*p == '.' || *p == ',') {
        p++;
        int n = 0;
        while (isdigit ((unsigned char) *p)) {
            if (n < 6)
                frac_us = frac_us * 10 + (*p - '0');
            n++;
            p++;
        }
        if (n == 0)
            return HK_EINVAL;
        for (; n < 6; n++)
            frac_us *= 10;
    }
    if (h > 23 || mi > 59 || s > 60)
        return HK_EINVAL;
    int offset_min;
    if (*p == 'Z' || *p == 'z') {
        offset_min = 0;
        p++;
    }
    else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1, oh, om = 0;
        p++;
        if (!s_digits (&p, 2, &oh))
            return HK_EINVAL;
        if (*p == ':')
            p++;
        if (*p && !s_digits (&p, 2, &om))
            return HK_EINVAL;
        if (oh > 23 || om > 59)
            return HK_EINVAL;
        offset_min = sign * (oh * 60 + om);
    }
    else
        return HK_EINVAL; /* no offset: dates carry time zones */
    if (*p)
        return HK_EINVAL;
    int64_t days = hk_date_from_ymd (y, mo, d);
    int64_t secs = days * 86400 + h * 3600 + mi * 60 + (s == 60 ? 59 : s) - offset_min * 60;
    *us_out = secs * HK_US_PER_SEC + frac_us;
    return 0;
}

void
hk_time_format (int64_t us, char *buf, size_t len)
{
    int64_t secs = us >= 0 ? us / HK_US_PER_SEC : -((-us + HK_US_PER_SEC - 1) / HK_US_PER_SEC);
    int64_t frac = us - secs * HK_US_PER_SEC;
    int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    int64_t sod = secs - days * 86400;
    char date[16];
    hk_date_format ((int32_t) days, date, sizeof date);
    snprintf (buf, len, "%sT%02d:%02d:%02d.%06dZ", date, (int) (sod / 3600),
              (int) (sod % 3600 / 60), (int) (sod % 60), (int) frac);
}

bool
hk_tz_valid (const char *zone)
{
    if (!zone || !*zone || zone[0] == '/' || strstr (zone, "..") || strlen (zone) > 64)
        return false;
    if (strcmp (zone, "UTC") == 0)
        return true;
    for (const char *p = zone; *p; p++)
        if (!isalnum ((unsigned char) *p) && !strchr ("/_+-", *p))
            return false;
    const char *dir = getenv ("TZDIR");
    char path[256];
    snprintf (path, sizeof path, "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", zone);
    struct stat st;
    return stat (path, &st) == 0 && S_ISREG (st.st_mode);
}

/* Switches the process zone to `zone` (TZ=":zone"); the zone last entered is cached. */
static char s_current[72];

static int
s_tz_enter (const char *zone)
{
    if (zone && *s_current && strcmp (s_current, zone) == 0)
        return 0; /* checked when it was entered: no look at the zone file per conversion */
    if (!hk_tz_valid (zone))
        return HK_EINVAL;
    char spec[80];
    snprintf (spec, sizeof spec, ":%s", zone);
    setenv ("TZ", spec, 1);
    tzset ();
    snprintf (s_current, sizeof s_current, "%s", zone);
    return 0;
}

int
hk_tz_local (const char *zone, int64_t us, hk_local_t *out)
{
    if (s_tz_enter (zone))
        return HK_EINVAL;
    int64_t secs = us >= 0 ? us / HK_US_PER_SEC : -((-us + HK_US_PER_SEC - 1) / HK_US_PER_SEC);
    time_t t = (time_t) secs;
    struct tm tm;
    if (!localtime_r (&t, &tm))
        return HK_EINVAL;
    out->date = hk_date_from_ymd (tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    out->minute_of_day = tm.tm_hour * 60 + tm.tm_min;
    out->second = tm.tm_sec > 59 ? 59 : tm.tm_sec;
    out->utc_offset_min = (int) (tm.tm_gmtoff / 60);
    return 0;
}

int
hk_tz_instant (const char *zone, int32_t date, int minute_of_day, int64_t *us_out)
{
    if (s_tz_enter (zone) || minute_of_day < 0 || minute_of_day >= 24 * 60)
        return HK_EINVAL;
    int y, m, d;
    hk_date_to_ymd (date, &y, &m, &d);
    struct tm tm = { 0 };
    tm.tm_year = y - 1900;
    tm.tm_mon = m - 1;
    tm.tm_mday = d;
    tm.tm_hour = minute_of_day / 60;
    tm.tm_min = minute_of_day % 60;
    tm.tm_isdst = -1;
    errno = 0;
    time_t t = mktime (&tm);
    if (t == (time_t) -1 && errno)
        return HK_EINVAL;
    *us_out = (int64_t) t * HK_US_PER_SEC;
    return 0;
}

int
hk_duration_parse (const char *text, int64_t *us_out)
{
    if (!text || !*text)
        return HK_EINVAL;
    const char *p = text;
    int sign = 1;
    if (*p == '-' || *p == '+') {
        sign = *p == '-' ? -1 : 1;
        p++;
    }
    int64_t total = 0;
    bool any = false;
    while (*p) {
        if (!isdigit ((unsigned char) *p))
            return HK_EINVAL;
        int64_t n = 0;
        while (isdigit ((unsigned char) *p)) {
            if (__builtin_mul_overflow (n, 10, &n) || __builtin_add_overflow (n, *p - '0', &n))
                return HK_EINVAL;
            p++;
        }
        int64_t unit;
        if (strncmp (p, "ms", 2) == 0) {
            unit = 1000;
            p += 2;
        }
        else if (strncmp (p, "us", 2) == 0) {
            unit = 1;
            p += 2;
        }
        else if (*p == 's') {
            unit = HK_US_PER_SEC;
            p++;
        }
        else if (*p == 'm') {
            unit = HK_US_PER_MIN;
            p++;
        }
        else if (*p == 'h') {
            unit = HK_US_PER_HOUR;
            p++;
        }
        else if (*p == 'd') {
            unit = HK_US_PER_DAY;
            p++;
        }
        else if (*p == 'w') {
            unit = 7 * HK_US_PER_DAY;
            p++;
        }
        else
            return HK_EINVAL;
        int64_t part;
        if (__builtin_mul_overflow (n, unit, &part) || __builtin_add_overflow (total, part, &total))
            return HK_EINVAL;
        any = true;
    }
    if (!any)
        return HK_EINVAL;
    *us_out = sign * total;
    return 0;
}
