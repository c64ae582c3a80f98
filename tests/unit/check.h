/* check: the tiny assertion kit of the self-tests (STYLE 3). Each module test is
 *   int hk_<module>_test (bool verbose)
 * returning the number of failed checks, listed in selftest.c. */
#ifndef HK_TEST_CHECK_H
#define HK_TEST_CHECK_H

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf (stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                               \
        }                                                                             \
    } while (0)

#define CHECK_INT(a, b)                                                               \
    do {                                                                              \
        long long a_ = (long long) (a), b_ = (long long) (b);                          \
        if (a_ != b_) {                                                               \
            fprintf (stderr, "%s:%d: %s == %lld, expected %s == %lld\n", __FILE__,     \
                     __LINE__, #a, a_, #b, b_);                                       \
            failures++;                                                               \
        }                                                                             \
    } while (0)

#define CHECK_STR(a, b)                                                               \
    do {                                                                              \
        const char *a_ = (a), *b_ = (b);                                              \
        if (!a_ || !b_ || strcmp (a_, b_) != 0) {                                     \
            fprintf (stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__,       \
                     __LINE__, #a, a_ ? a_ : "(null)", b_ ? b_ : "(null)");           \
            failures++;                                                               \
        }                                                                             \
    } while (0)

/* Value of KEY in the file named by $HK_TESTENV (KEY=VALUE lines written by the test
 * servers fixture), or NULL when absent. Returned string is static per key slot. */
const char *hk_testenv (const char *key);

#endif
