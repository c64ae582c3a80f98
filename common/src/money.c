/* money: integer minor units with an ISO 4217 currency; parsing is exact, nothing is rounded
 * silently ("Data is money"). */
#include "huikuan/money.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "huikuan/errcodes.h"

/* ISO 4217 currencies whose minor unit is not 2 digits; every other listed code has 2. */
static const struct {
    const char *code;
    int exponent;
} s_exceptions[] = {
    { "BHD", 3 }, { "BIF", 0 }, { "CLF", 4 }, { "CLP", 0 }, { "DJF", 0 }, { "GNF", 0 },
    { "IQD", 3 }, { "ISK", 0 }, { "JOD", 3 }, { "JPY", 0 }, { "KMF", 0 }, { "KRW", 0 },
    { "KWD", 3 }, { "LYD", 3 }, { "OMR", 3 }, { "PYG", 0 }, { "RWF", 0 }, { "TND", 3 },
    { "UGX", 0 }, { "UYI", 0 }, { "UYW", 4 }, { "VND", 0 }, { "VUV", 0 }, { "XAF", 0 },
    { "XOF", 0 }, { "XPF", 0 },
};

/* ISO 4217 active codes with two decimals (the common case). */
static const char *const s_two[] = {
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT",
    "BGN", "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHF",
    "CNY", "COP", "CRC", "CUP", "CVE", "CZK", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR",
    "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF",
    "IDR", "ILS", "INR", "IRR", "JMD", "KES", "KGS", "KHR", "KPW", "KYD", "KZT", "LAK", "LBP",
    "LKR", "LRD", "LSL", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR",
    "MWK", "MXN", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "PAB", "PEN", "PGK",
    "PHP", "PKR", "PLN", "QAR", "RON", "RSD", "RUB", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD",
    "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TOP",
    "TRY", "TTD", "TWD", "TZS", "UAH", "USD", "UYU", "UZS", "VES", "WST", "XCD", "YER", "ZAR",
    "ZMW", "ZWL",
};

int
hk_currency_exponent (const char *code)
{
    if (!code || strlen (code) != 3)
        return -1;
    for (size_t i = 0; i < sizeof s_exceptions / sizeof s_exceptions[0]; i++)
        if (strcmp (code, s_exceptions[i].code) == 0)
            return s_exceptions[i].exponent;
    for (size_t i = 0; i < sizeof s_two / sizeof s_two[0]; i++)
        if (strcmp (code, s_two[i]) == 0)
            return 2;
    return -1;
}

static int
s_fail (char *err, size_t errlen, const char *reason, const char *text)
{
    if (err && errlen)
        snprintf (err, errlen, "%s: \"%s\"", reason, text ? text : "");
    return HK_EINVAL;
}

bool
hk_money_add (int64_t a, int64_t b, int64_t *out)
{
    return !__builtin_add_overflow (a, b, out);
}

int
hk_money_parse (const char *text, char decimal_sep, char group_sep, const char *currency,
                int64_t *minor_out, char *err, size_t errlen)
{
    int exponent = hk_currency_exponent (currency);
    if (exponent < 0)
        return s_fail (err, errlen, "unknown currency", currency);
    if (!text)
        return s_fail (err, errlen, "no amount", "");
    const char *p = text;
    while (*p == ' ' || *p == '\t')
        p++;
    bool negative = false;
    if (*p == '-' || *p == '+') {
        negative = *p == '-';
        p++;
    }
    int64_t value = 0;
    int int_digits = 0, frac_digits = 0;
    bool in_frac = false;
    for (; *p && *p != ' ' && *p != '\t'; p++) {
        if (isdigit ((unsigned char) *p)) {
            int digit = *p - '0';
            if (in_frac) {
                if (frac_digits >= exponent) {
                    if (digit != 0)
                        return s_fail (err, errlen,
                                       "more decimals than the currency has (not rounded)",
                                       text);
                    frac_digits++;
                    continue;
                }
                frac_digits++;
            }
            else
                int_digits++;
            if (__builtin_mul_overflow (value, 10, &value)
                || __builtin_add_overflow (value, digit, &value))
                return s_fail (err, errlen, "amount too large", text);
        }
        else if (*p == decimal_sep && !in_frac && exponent >= 0)
            in_frac = true;
        else if (group_sep && *p == group_sep && !in_frac && int_digits > 0)
            continue;
        else
            return s_fail (err, errlen, "not a decimal amount", text);
    }
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p)
        return s_fail (err, errlen, "not a decimal amount", text);
    if (int_digits == 0 && frac_digits == 0)
        return s_fail (err, errlen, "not a decimal amount", text);
    if (in_frac && exponent == 0 && frac_digits == 0 && int_digits == 0)
        return s_fail (err, errlen, "not a decimal amount", text);
    int used = frac_digits < exponent ? frac_digits : exponent;
    for (int i = used; i < exponent; i++)
        if (__builtin_mul_overflow (value, 10, &value))
            return s_fail (err, errlen, "amount too large", text);
    *minor_out = negative ? -value : value;
    return 0;
}

int
hk_money_format (int64_t minor, const char *currency, char *buf, size_t len)
{
    int exponent = hk_currency_exponent (currency);
    if (exponent < 0)
        return HK_EINVAL;
    /* Work on the magnitude as unsigned so INT64_MIN formats correctly. */
    uint64_t mag = minor < 0 ? (uint64_t) 0 - (uint64_t) minor : (uint64_t) minor;
    uint64_t scale = 1;
    for (int i = 0; i < exponent; i++)
        scale *= 10;
    if (exponent == 0)
        return snprintf (buf, len, "%s%llu", minor < 0 ? "-" : "", (unsigned long long) mag);
    return snprintf (buf, len, "%s%llu.%0*llu", minor < 0 ? "-" : "",
                     (unsigned long long) (mag / scale), exponent,
                     (unsigned long long) (mag % scale));
}
