/* Self-test of dates: civil dates, leap years, instants with offsets, zones around midnight. */
#include "check.h"
#include "huikuan/dates.h"
#include "huikuan/errcodes.h"

int
hk_dates_test (bool verbose)
{
    int failures = 0;
    int32_t d;
    char buf[40];

    CHECK_INT (hk_date_from_ymd (1970, 1, 1), 0);
    CHECK_INT (hk_date_from_ymd (2000, 3, 1), 11017);
    CHECK_INT (hk_date_from_ymd (1969, 12, 31), -1);
    int y, m, dd;
    hk_date_to_ymd (hk_date_from_ymd (2024, 2, 29), &y, &m, &dd);
    CHECK (y == 2024 && m == 2 && dd == 29);
    CHECK_INT (hk_date_weekday (hk_date_from_ymd (2026, 11, 24)), 2); /* Tuesday */
    CHECK_INT (hk_date_weekday (hk_date_from_ymd (2026, 11, 29)), 7); /* Sunday */
    CHECK_INT (hk_date_weekday (hk_date_from_ymd (1969, 12, 29)), 1); /* Monday */

    CHECK_INT (hk_date_parse ("2024-02-29", &d), 0);
    CHECK_INT (hk_date_parse ("2023-02-29", &d), HK_EINVAL);
    CHECK_INT (hk_date_parse ("2100-02-29", &d), HK_EINVAL);
    CHECK_INT (hk_date_parse ("2000-02-29", &d), 0);
    CHECK_INT (hk_date_parse ("2026-13-01", &d), HK_EINVAL);
    CHECK_INT (hk_date_parse ("2026-1-01", &d), HK_EINVAL);
    CHECK_INT (hk_date_parse ("2026-01-01x", &d), HK_EINVAL);
    CHECK_INT (hk_date_parse ("", &d), HK_EINVAL);
    CHECK_INT (hk_date_parse ("售完后付款", &d), HK_EINVAL);
    hk_date_parse ("2026-03-10", &d);
    hk_date_format (d, buf, sizeof buf);
    CHECK_STR (buf, "2026-03-10");
    /* 2024 is leap: 2024-02-28 to 2024-03-01 is two days */
    CHECK_INT (hk_date_from_ymd (2024, 3, 1) - hk_date_from_ymd (2024, 2, 28), 2);

    int64_t us, us2;
    CHECK_INT (hk_time_parse ("2026-03-12T08:30:00+08:00", &us), 0);
    CHECK_INT (hk_time_parse ("2026-03-12T00:30:00Z", &us2), 0);
    CHECK (us == us2);
    hk_time_format (us, buf, sizeof buf);
    CHECK_STR (buf, "2026-03-12T00:30:00.000000Z");
    CHECK_INT (hk_time_parse ("2026-03-12T00:30:00.25-0500", &us), 0);
    CHECK (us - us2 == 5 * HK_US_PER_HOUR + 250000);
    CHECK_INT (hk_time_parse ("2026-03-12T08:30:00", &us), HK_EINVAL); /* no zone */
    CHECK_INT (hk_time_parse ("2026-03-12", &us), HK_EINVAL);
    CHECK_INT (hk_time_parse ("2026-03-12T25:00:00Z", &us), HK_EINVAL);
    hk_time_format (-1, buf, sizeof buf);
    CHECK_STR (buf, "1969-12-31T23:59:59.999999Z");

    CHECK (hk_tz_valid ("Asia/Shanghai"));
    CHECK (hk_tz_valid ("UTC"));
    CHECK (!hk_tz_valid ("Mars/Olympus"));
    CHECK (!hk_tz_valid ("../etc/passwd"));
    CHECK (!hk_tz_valid (""));

    /* 2026-03-11T16:30Z is already the 12th in Shanghai (+8) and still the 11th in New York */
    hk_local_t loc;
    hk_time_parse ("2026-03-11T16:30:00Z", &us);
    CHECK_INT (hk_tz_local ("Asia/Shanghai", us, &loc), 0);
    CHECK_INT (loc.date, hk_date_from_ymd (2026, 3, 12));
    CHECK_INT (loc.minute_of_day, 30);
    CHECK_INT (loc.utc_offset_min, 480);
    CHECK_INT (hk_tz_local ("America/New_York", us, &loc), 0);
    CHECK_INT (loc.date, hk_date_from_ymd (2026, 3, 11));
    CHECK_INT (loc.utc_offset_min, -240); /* DST began 2026-03-08 */
    CHECK_INT (hk_tz_local ("Nowhere/City", us, &loc), HK_EINVAL);
    /* the zone in force is not checked again, but another one is: a bad or empty zone after
     * a good one is still refused, and the good one still converts after it */
    CHECK_INT (hk_tz_local ("America/New_York", us, &loc), 0);
    CHECK_INT (hk_tz_local ("", us, &loc), HK_EINVAL);
    CHECK_INT (hk_tz_local (NULL, us, &loc), HK_EINVAL);
    CHECK_INT (hk_tz_local ("America/New_York/..", us, &loc), HK_EINVAL);
    CHECK_INT (hk_tz_local ("America/New_York", us, &loc), 0);
    CHECK_INT (loc.utc_offset_min, -240);

    CHECK_INT (hk_tz_instant ("Asia/Shanghai", hk_date_from_ymd (2026, 3, 12), 9 * 60 + 15, &us), 0);
    hk_time_parse ("2026-03-12T09:15:00+08:00", &us2);
    CHECK (us == us2);
    CHECK_INT (hk_tz_instant ("America/New_York", hk_date_from_ymd (2026, 1, 5), 9 * 60, &us), 0);
    hk_time_parse ("2026-01-05T14:00:00Z", &us2);
    CHECK (us == us2);

    CHECK_INT (hk_duration_parse ("3d", &us), 0);
    CHECK (us == 3 * HK_US_PER_DAY);
    CHECK_INT (hk_duration_parse ("2h30m", &us), 0);
    CHECK (us == 150 * HK_US_PER_MIN);
    CHECK_INT (hk_duration_parse ("500ms", &us), 0);
    CHECK (us == 500000);
    CHECK_INT (hk_duration_parse ("-1w", &us), 0);
    CHECK (us == -7 * HK_US_PER_DAY);
    CHECK_INT (hk_duration_parse ("5", &us), HK_EINVAL);
    CHECK_INT (hk_duration_parse ("d", &us), HK_EINVAL);
    CHECK_INT (hk_duration_parse ("", &us), HK_EINVAL);
    CHECK_INT (hk_duration_parse ("3x", &us), HK_EINVAL);
    if (verbose)
        printf ("dates: %d failures\n", failures);
    return failures;
}
