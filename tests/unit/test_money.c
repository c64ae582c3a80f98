/* Self-test of money: exact parsing per currency exponent, no silent rounding. */
#include "check.h"
#include "huikuan/errcodes.h"
#include "huikuan/money.h"

int
hk_money_test (bool verbose)
{
    int failures = 0;
    int64_t v = 0;
    char err[128], buf[64];

    CHECK_INT (hk_currency_exponent ("CNY"), 2);
    CHECK_INT (hk_currency_exponent ("JPY"), 0);
    CHECK_INT (hk_currency_exponent ("BHD"), 3);
    CHECK_INT (hk_currency_exponent ("XXX"), -1);
    CHECK_INT (hk_currency_exponent ("cny"), -1);

    CHECK_INT (hk_money_parse ("1234.5", '.', 0, "CNY", &v, err, sizeof err), 0);
    CHECK_INT (v, 123450);
    CHECK_INT (hk_money_parse ("1,234.56", '.', ',', "CNY", &v, err, sizeof err), 0);
    CHECK_INT (v, 123456);
    CHECK_INT (hk_money_parse ("1.234,56", ',', '.', "EUR", &v, err, sizeof err), 0);
    CHECK_INT (v, 123456);
    CHECK_INT (hk_money_parse ("-0.05", '.', 0, "USD", &v, err, sizeof err), 0);
    CHECK_INT (v, -5);
    CHECK_INT (hk_money_parse ("100", '.', 0, "JPY", &v, err, sizeof err), 0);
    CHECK_INT (v, 100);
    CHECK_INT (hk_money_parse ("1.250", '.', 0, "BHD", &v, err, sizeof err), 0);
    CHECK_INT (v, 1250);
    CHECK_INT (hk_money_parse (".5", '.', 0, "CNY", &v, err, sizeof err), 0);
    CHECK_INT (v, 50);
    /* trailing zeros beyond the exponent are exact; other digits would need rounding */
    CHECK_INT (hk_money_parse ("10.500", '.', 0, "CNY", &v, err, sizeof err), 0);
    CHECK_INT (v, 1050);
    CHECK_INT (hk_money_parse ("10.505", '.', 0, "CNY", &v, err, sizeof err), HK_EINVAL);
    CHECK (strstr (err, "not rounded") != NULL);
    CHECK_INT (hk_money_parse ("100.5", '.', 0, "JPY", &v, err, sizeof err), HK_EINVAL);
    CHECK_INT (hk_money_parse ("", '.', 0, "CNY", &v, err, sizeof err), HK_EINVAL);
    CHECK_INT (hk_money_parse ("abc", '.', 0, "CNY", &v, err, sizeof err), HK_EINVAL);
    CHECK_INT (hk_money_parse ("1e5", '.', 0, "CNY", &v, err, sizeof err), HK_EINVAL);
    CHECK_INT (hk_money_parse ("1.2.3", '.', 0, "CNY", &v, err, sizeof err), HK_EINVAL);
    CHECK_INT (hk_money_parse ("12", '.', 0, "ZZZ", &v, err, sizeof err), HK_EINVAL);
    CHECK (strstr (err, "unknown currency") != NULL);
    CHECK_INT (hk_money_parse ("92233720368547758.07", '.', 0, "CNY", &v, err, sizeof err), 0);
    CHECK_INT (v, INT64_MAX);
    CHECK_INT (hk_money_parse ("92233720368547758.08", '.', 0, "CNY", &v, err, sizeof err),
               HK_EINVAL);
    CHECK (strstr (err, "too large") != NULL);

    hk_money_format (123450, "CNY", buf, sizeof buf);
    CHECK_STR (buf, "1234.50");
    hk_money_format (-5, "USD", buf, sizeof buf);
    CHECK_STR (buf, "-0.05");
    hk_money_format (100, "JPY", buf, sizeof buf);
    CHECK_STR (buf, "100");
    hk_money_format (1250, "BHD", buf, sizeof buf);
    CHECK_STR (buf, "1.250");
    hk_money_format (INT64_MIN, "CNY", buf, sizeof buf);
    CHECK_STR (buf, "-92233720368547758.08");
    CHECK_INT (hk_money_format (1, "ZZZ", buf, sizeof buf), HK_EINVAL);

    int64_t sum;
    CHECK (hk_money_add (1, 2, &sum) && sum == 3);
    CHECK (!hk_money_add (INT64_MAX, 1, &sum));
    if (verbose)
        printf ("money: %d failures\n", failures);
    return failures;
}
