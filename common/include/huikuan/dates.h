/* dates: civil dates as day numbers, instants as microseconds, and time-zone conversion.
 * Domain piece shared by several daemons. Instants are always UTC microseconds since
 * 1970-01-01T00:00:00Z; civil dates are days since 1970-01-01 and only mean something
 * together with a time zone, which callers carry alongside. */
#ifndef HUIKUAN_DATES_H
#define HUIKUAN_DATES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HK_US_PER_SEC  INT64_C(1000000)
#define HK_US_PER_MIN  (60 * HK_US_PER_SEC)
#define HK_US_PER_HOUR (60 * HK_US_PER_MIN)
#define HK_US_PER_DAY  (24 * HK_US_PER_HOUR)

/* Day number of a proleptic Gregorian date. */
int32_t hk_date_from_ymd (int year, int month, int day);
void hk_date_to_ymd (int32_t days, int *year, int *month, int *day);
/* ISO weekday: 1 = Monday ... 7 = Sunday. */
int hk_date_weekday (int32_t days);
/* Strict "YYYY-MM-DD"; returns 0 or HK_EINVAL (bad shape, month 13, Feb 30 ...). */
int hk_date_parse (const char *text, int32_t *days_out);
/* Writes "YYYY-MM-DD" (buf of at least 11 bytes). */
void hk_date_format (int32_t days, char *buf, size_t len);

/* System wall-clock time. Daemons use hk_clock_now() instead (promise 5). */
int64_t hk_time_system_us (void);
/* RFC 3339 / ISO 8601 instant with an explicit offset or Z: "2026-11-24T09:15:00+08:00",
 * "2026-11-24T01:15:00Z", fractional seconds allowed. A value without offset is rejected
 * (dates carry time zones). Returns 0 or HK_EINVAL. */
int hk_time_parse (const char *text, int64_t *us_out);
/* "2026-11-24T01:15:00.000000Z" (buf of at least 28 bytes). */
void hk_time_format (int64_t us, char *buf, size_t len);

/* Broken-down local time in an IANA zone ("Asia/Shanghai", "America/New_York"). */
typedef struct {
    int32_t date;        /* local civil date, day number */
    int minute_of_day;   /* 0 .. 1439 */
    int second;          /* 0 .. 59 */
    int utc_offset_min;  /* e.g. +480 for UTC+8 */
} hk_local_t;

/* True when the zone name is known to the system's tz database. */
bool hk_tz_valid (const char *zone);
/* Instant -> local time in zone. Returns 0 or HK_EINVAL for an unknown zone. */
int hk_tz_local (const char *zone, int64_t us, hk_local_t *out);
/* Local civil date and minute of day in zone -> instant. For a local time skipped by a DST
 * change the later instant is taken. Returns 0 or HK_EINVAL. */
int hk_tz_instant (const char *zone, int32_t date, int minute_of_day, int64_t *us_out);

/* Durations written as "3d", "2h30m", "90s", "1w", "500ms", "-1d" -> microseconds.
 * Returns 0 or HK_EINVAL. */
int hk_duration_parse (const char *text, int64_t *us_out);

#endif
