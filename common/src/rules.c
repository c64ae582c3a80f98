/* rules: the rule-ID vocabulary of the collection doctrine (shared/DOMAIN.md). */
#include "huikuan/rules.h"

#include <string.h>

const hk_rule_t hk_rules[] = {
    { "R-T1", "every receivable carries a concrete due date; vague terms are rejected" },
    { "R-T2", "settlement terms: cash, deliver-two-settle-one, periodic, one-off date" },
    { "R-T3", "credit limit for new debtors; exposure alert on big first orders" },
    { "R-T4", "contracts record signer and company seal; unsealed is weak evidence" },
    { "R-A1", "each open invoice has days past due and an aging bucket" },
    { "R-A2", "five risk grades: 5 not due, 4 in collection, 3 doubtful, 2 bad, 1 dead" },
    { "R-A3", "expected recovery by age: 80% under two years, 20% over" },
    { "R-A4", "priority combines age, amount, credit, cooperation, capital, distance" },
    { "R-A5", "stance soft or hard; hard only for uncooperative or bad-faith debtors" },
    { "R-A6", "cause of default recorded: oversight, dispute, cash shortage, wilful" },
    { "R-A7", "early-warning signals move a debtor up the priority list" },
    { "R-A8", "reachability: reachable, half-lost, lost (tracing, not dialling)" },
    { "R-H1", "stop supply at once when terms are broken" },
    { "R-H2", "a threat of no supply, no payment does not lift a hold" },
    { "R-S1", "weekday preference: Friday, Thursday, Tuesday; avoid Monday, Wednesday" },
    { "R-S2", "contact within 15 minutes after the working day starts, mornings first" },
    { "R-S3", "contact three days before a known incoming payment" },
    { "R-S4", "remind before the due date; act early on the collection date" },
    { "R-S5", "a promise at time T gets a reminder at T - 30 minutes" },
    { "R-S6", "regular cadence allowed, e.g. the first Friday of each month" },
    { "R-C1", "escalation ladder: reminder, written notice, phone, visit, agency, legal" },
    { "R-C2", "at most three phone reminders and one visit per debt, then escalate" },
    { "R-C3", "right person: payment contact or finance for large, owner for small" },
    { "R-C4", "role change for hostile debtors: team, manager, legal" },
    { "R-C5", "a promise is not a payment: recorded, confirmed, tracked" },
    { "R-C6", "partial payment: thank and remind of the remainder with a date" },
    { "R-C7", "talk about new business only after payment" },
    { "R-C8", "a dispute pauses collection on the disputed amount" },
    { "R-C9", "prohibited conduct; templates checked for forbidden phrases" },
    { "R-N1", "letters concise, amount first" },
    { "R-N2", "demand letters by registered mail with return receipt" },
    { "R-N3", "every message records channel, template, recipient, content hash, status" },
    { "R-L1", "limitation period per jurisdiction, default three years" },
    { "R-L2", "limitation interrupted by suit, delivered demand, acknowledgement" },
    { "R-L3", "escalate to legal on failed contacts, broken promises, bad faith, expiry" },
    { "R-L4", "case file lists the evidence and what is missing" },
    { "R-L5", "venue: defendant's domicile or place of performance" },
    { "R-L6", "hand-off to agency or law firm exports the case file" },
    { "R-R1", "every action is recorded with who, when and why" },
    { NULL, NULL },
};

const char *
hk_rule_summary (const char *id)
{
    if (!id)
        return NULL;
    for (const hk_rule_t *r = hk_rules; r->id; r++)
        if (strcmp (r->id, id) == 0)
            return r->summary;
    return NULL;
}
