/* rules: the rule-ID vocabulary of ../shared/DOMAIN.md ("R-A1" ...), so code, events and
 * explanations cite the doctrine the same way. */
#ifndef HUIKUAN_RULES_H
#define HUIKUAN_RULES_H

typedef struct {
    const char *id;       /* "R-A1" */
    const char *summary;  /* one line */
} hk_rule_t;

/* The rule table, terminated by { NULL, NULL }. */
extern const hk_rule_t hk_rules[];

/* Summary of a rule, or NULL when the ID is not a rule. */
const char *hk_rule_summary (const char *id);

#endif
