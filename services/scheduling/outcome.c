/* outcome: what came of a dispatched contact moves the plan (contact_outcome.recorded).
 *
 *   - refused, no_supply_no_payment, wrong_number, returned: the step did not work (R-C1). A
 *     "no supply, no payment" threat (R-H2) is a refusal to pay: aging keeps the credit hold
 *     and makes the stance hard, the ladder moves on as for a refusal. The debt's pending ladder
 *     step is withdrawn and the debt reviewed at once; the review sees the failure
 *     (contact_outcome, hk_debt_view_t.failed_at_us) and takes the next rung without waiting.
 *     A wrong number or returned mail also stops that person being used on that channel until
 *     the feed changes the person's details (review.c, R-C3).
 *   - hostile: the debtor's debts are marked hostile and a manager speaks from now on, in the
 *     contacts already planned too (R-C4).
 *   - reached: the debtor answered; the review holds the next rung one more wait (R-C1).
 *   - no_answer, left_message, delivered: recorded; the ladder moves on its waits. */
#include <stdio.h>
#include <string.h>

#include "huikuan/errcodes.h"
#include "huikuan/log.h"
#include "sched.h"

int
sched_on_outcome (hk_daemon_t *d, const Huikuan__V1__ContactOutcomeRecorded *ev)
{
    const char *o = ev->outcome;
    if (strcmp (o, "refused") == 0 || strcmp (o, "no_supply_no_payment") == 0
        || strcmp (o, "wrong_number") == 0 || strcmp (o, "returned") == 0) {
        char why[160];
        snprintf (why, sizeof why, "the %s did not work (%s): the next rung at once",
                  ev->channel, o);
        int n = sched_cancel (d, SCHED_SCOPE_PENDING_INVOICE, ev->invoice_id, ev->debtor_id, why,
                              "R-C1");
        if (n < 0)
            return n;
        const char *p[] = { d->tenant, ev->invoice_id, sched_now_text (d) };
        return hk_db_exec (d->db,
                           "UPDATE collection SET next_review_at = $3::timestamptz,"
                           " updated_at = now()"
                           " WHERE tenant = $1 AND invoice_id = $2 AND state = 'active'",
                           3, p)
                       < 0
                   ? HK_EDB
                   : 0;
    }
    if (strcmp (o, "hostile") == 0) {
        const char *p[] = { d->tenant, ev->debtor_id };
        if (hk_db_exec (d->db,
                        "UPDATE collection SET hostile = true, updated_at = now()"
                        " WHERE tenant = $1 AND debtor_id = $2 AND NOT hostile",
                        2, p)
                < 0
            || hk_db_exec (d->db,
                           "UPDATE contact SET caller_role = 'manager', updated_at = now(),"
                           " rules = array_append (rules, 'R-C4')"
                           " WHERE tenant = $1 AND debtor_id = $2 AND status = 'planned'"
                           " AND caller_role = 'collections'",
                           2, p)
                   < 0)
            return HK_EDB;
        HK_LOG (HK_INFO, "plan.hostile", HK_S ("debtor", ev->debtor_id),
                HK_S ("contact", ev->task_id));
    }
    return 0;
}
