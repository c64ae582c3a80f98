/* Self-test of legal escalation's age trigger (R-L3). */
#include "check.h"
#include "escalate.h"

int
hk_legal_test (bool verbose)
{
    int failures = 0;
    CHECK (hk_legal_should_open (90, 90, 1, true));
    CHECK (!hk_legal_should_open (89, 90, 1, true));
    CHECK (!hk_legal_should_open (400, 90, 0, true));   /* nothing owed */
    CHECK (!hk_legal_should_open (400, 90, 100, false)); /* settled */
    CHECK (hk_legal_limitation_near (90, 90, 1, true));
    CHECK (hk_legal_limitation_near (-5, 90, 1, true)); /* expired: still to legal */
    CHECK (!hk_legal_limitation_near (91, 90, 1, true));
    CHECK (!hk_legal_limitation_near (10, 90, 0, true));
    CHECK (!hk_legal_limitation_near (10, 90, 1, false));
    if (verbose)
        printf ("legal: %d failures\n", failures);
    return failures;
}
