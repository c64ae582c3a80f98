/* selftest: runs one module's self-test by name; one ctest per module (STYLE 3). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

#define HK_TESTS(X)                                                                   \
    X (money) X (dates) X (ids) X (rules) X (config) X (log) X (metrics) X (http)       \
    X (db) X (migrate) X (clock) X (queue) X (bus) X (event)                            \
    X (ingestion) X (aging) X (scheduling) X (notification) X (legal)

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

const char *
hk_testenv (const char *key)
{
    static char values[16][512];
    static int next;
    const char *path = getenv ("HK_TESTENV");
    if (!path)
        return NULL;
    FILE *f = fopen (path, "r");
    if (!f)
        return NULL;
    char line[600];
    size_t klen = strlen (key);
    const char *found = NULL;
    while (fgets (line, sizeof line, f)) {
        if (strncmp (line, key, klen) == 0 && line[klen] == '=') {
            char *v = line + klen + 1;
            v[strcspn (v, "\r\n")] = 0;
            char *slot = values[next++ % 16];
            snprintf (slot, 512, "%s", v);
            found = slot;
            break;
        }
    }
    fclose (f);
    return found;
}

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
