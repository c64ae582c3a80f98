/* selftest: runs one module's self-test by name; one ctest per module (STYLE 3). */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "check.h"

#define HK_TESTS(X)                                                                   \
    X (money) X (dates) X (ids) X (rules) X (files) X (config) X (log) X (metrics) X (http)       \
    X (db) X (migrate) X (clock) X (queue) X (bus) X (event)                            \
    X (ingestion) X (aging) X (notification) X (legal) X (statements) \
    X (readers) X (limitation) X (risk) X (calendar) X (strategy) X (json) X (retention)

#define X(name) int hk_##name##_test (bool verbose);
HK_TESTS (X)
#undef X

static const struct {
    const char *name;
    int (*fn) (bool);
} s_tests[] = {
#define X(name) { #name, hk_##name##_test },
    HK_TESTS (X)
#undef X
};

int
main (int argc, char **argv)
{
    bool verbose = false;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp (argv[i], "-v") == 0)
            verbose = true;
        else if (strcmp (argv[i], "--help") == 0) {
            printf ("usage: hk_selftest [-v] [MODULE]\nmodules:");
            for (size_t t = 0; t < sizeof s_tests / sizeof s_tests[0]; t++)
                printf (" %s", s_tests[t].name);
            printf ("\n");
            return 0;
        }
        else
            only = argv[i];
    }
    int failures = 0, ran = 0;
    for (size_t t = 0; t < sizeof s_tests / sizeof s_tests[0]; t++) {
        if (only && strcmp (only, s_tests[t].name) != 0)
            continue;
        int f = s_tests[t].fn (verbose);
        printf ("%s: %s (%d failed checks)\n", s_tests[t].name, f ? "FAIL" : "ok", f);
        failures += f;
        ran++;
    }
    if (ran == 0) {
        fprintf (stderr, "hk_selftest: no module named '%s'\n", only ? only : "");
        return 2;
    }
    return failures ? 1 : 0;
}
