/* money: integer minor units with an ISO 4217 currency; never floating point.
 * Domain piece shared by several daemons. */
#ifndef HUIKUAN_MONEY_H
#define HUIKUAN_MONEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    int64_t minor;      /* amount in minor units, e.g. fen for CNY */
    char currency[4];   /* ISO 4217 alphabetic code, NUL-terminated */
} hk_money_t;

/* Number of minor-unit digits of a currency (JPY 0, CNY 2, BHD 3), or -1 when the code
 * is not a known ISO 4217 code. */
int hk_currency_exponent (const char *code);

/* Parses a decimal amount such as "1234.5", "-12", "1,234.50" (grouping given by
 * group_sep, 0 for none) with decimal separator decimal_sep into minor units of the currency.
 * Exact: more fractional digits than the currency allows is an error unless they are all
 * zeros (nothing is rounded silently); overflow is an error.
 * Returns 0 or HK_EINVAL with a reason in err. */
int hk_money_parse (const char *text, char decimal_sep, char group_sep, const char *currency,
                    int64_t *minor_out, char *err, size_t errlen);

/* Formats minor units as a plain decimal ("1234.50", "-0.05", "100" for JPY).
 * Returns the length written, or HK_EINVAL for an unknown currency. */
int hk_money_format (int64_t minor, const char *currency, char *buf, size_t len);

/* Overflow-checked addition; returns false on overflow. */
bool hk_money_add (int64_t a, int64_t b, int64_t *out);

#endif
