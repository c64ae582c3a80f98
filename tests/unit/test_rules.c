/* Self-test of rules: every doctrine section is present and IDs are unique. */
#include "check.h"
#include "huikuan/rules.h"

int
hk_rules_test (bool verbose)
{
    int failures = 0;
    CHECK (hk_rule_summary ("R-T1") != NULL);
    CHECK (hk_rule_summary ("R-A1") != NULL);
    CHECK (hk_rule_summary ("R-S2") != NULL);
    CHECK (hk_rule_summary ("R-L6") != NULL);
    CHECK (hk_rule_summary ("R-R1") != NULL);
    CHECK (hk_rule_summary ("R-Z9") == NULL);
    CHECK (hk_rule_summary (NULL) == NULL);
    int n = 0;
    for (const hk_rule_t *r = hk_rules; r->id; r++, n++)
        for (const hk_rule_t *q = r + 1; q->id; q++)
            CHECK (strcmp (r->id, q->id) != 0);
    CHECK_INT (n, 39);
    if (verbose)
        printf ("rules: %d\n", n);
    return failures;
}
