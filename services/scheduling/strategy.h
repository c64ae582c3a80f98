/* strategy: the collection strategy as data (DOMAIN section 5). Pure functions, no I/O.
 *
 *   ladder    which rung comes next for a debt and when (R-C1, R-C2, R-C5, R-S4, R-A8),
 *             chosen by the first rule of a strategy document that matches the debt
 *             (grade R-A2, stance R-A5, cause R-A6, amount, reachability R-A8)
 *   variant   champion/challenger split of debtors, stable across runs and instances
 *   person    whom to contact (R-C3) and who speaks for the creditor (R-C4)
 *   caps      contact caps as a pure comparison (R-C2, ARCHITECTURE promise 3)
 *
 * The document format is described in deploy/strategies/README.md; the shipped default is
 * deploy/strategies/default.json. */
#ifndef HK_SCHEDULING_STRATEGY_H
#define HK_SCHEDULING_STRATEGY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The rungs of R-C1, softest first, and tracing (R-A8), which is not a rung. */
typedef enum {
    HK_STEP_NONE = 0,
    HK_STEP_PRE_DUE,   /* pre_due_reminder (提前通知, R-S4) */
    HK_STEP_NOTICE,    /* written_notice (书面催告) */
    HK_STEP_PHONE,     /* phone (电话催收) */
    HK_STEP_VISIT,     /* visit (上门催收) */
    HK_STEP_AGENCY,    /* agency (委外催收) */
    HK_STEP_LEGAL,     /* legal (诉讼催收) */
    HK_STEP_TRACE,     /* tracing: the debtor is lost (R-A8) */
    HK_STEP_COUNT
} hk_step_t;

/* "none", "pre_due_reminder", "written_notice", "phone", "visit", "agency", "legal",
 * "tracing"; "none" for anything out of range. Static strings. */
const char *hk_step_name (hk_step_t s);
/* Exact name -> step. Returns 0, or HK_EINVAL (and *out = HK_STEP_NONE) for an unknown or
 * NULL name. */
int hk_step_parse (const char *name, hk_step_t *out);

typedef struct hk_strategy hk_strategy_t;

/* Parses a strategy document (json need not be NUL-terminated; len bytes are read). On
 * success returns 0 and a new strategy in *out that the caller frees with hk_strategy_free.
 * Otherwise returns HK_EPARSE (not JSON), HK_EINVAL (JSON, but not a valid strategy) or
 * HK_ENOMEM, leaves *out NULL and writes to err a message that names the JSON path:
 * "rules[2].match.grade_max: must be an integer from 1 to 5". Unknown keys are errors. */
int hk_strategy_parse (const char *json, size_t len, hk_strategy_t **out, char *err,
                       size_t errlen);
/* Accepts NULL. */
void hk_strategy_free (hk_strategy_t *s);
/* The document's "name" (owned by s) and "version". */
const char *hk_strategy_name (const hk_strategy_t *s);
int hk_strategy_version (const hk_strategy_t *s);

/* Champion/challenger: 0 = champion, 1 = challenger. Deterministic from (strategy name,
 * challenger name, tenant, debtor_id) via SHA-256, so a debtor stays in its variant across
 * runs, instances and restarts, and the challenger's share_percent is honoured within sampling
 * error; renaming the challenger draws a new sample. 0 without a challenger. NULL strings
 * count as "". */
int hk_strategy_variant (const hk_strategy_t *s, const char *tenant, const char *debtor_id);
/* "champion" for 0, the challenger's name for 1 (owned by s), "" otherwise or when there is
 * no challenger. Never NULL. */
const char *hk_strategy_variant_name (const hk_strategy_t *s, int variant);
/* The challenger's share in percent (0 without a challenger). */
int hk_strategy_challenger_share (const hk_strategy_t *s);

/* One debt as the ladder sees it. Strings are borrowed for the call only. */
typedef struct {
    const char *tenant, *debtor_id;
    int grade;                /* 5 = 未收款 ... 1 = 死账, R-A2 */
    const char *stance;       /* "soft" or "hard" (R-A5); anything else counts as soft */
    const char *cause;        /* recorded cause of default (R-A6): oversight, dispute,
                                 cash_shortage, wilful (or 疏忽, 对产品不满, 资金紧张, 故意);
                                 "" or NULL = unknown */
    const char *currency;
    int64_t amount_minor;     /* outstanding on this debt */
    int32_t dpd;              /* days past due; negative before the due date, 0 on it */
    bool reachable;           /* R-A8: false -> tracing task */
    hk_step_t last_step;      /* highest rung taken on this debt so far (NONE) */
    int64_t last_step_at_us;  /* when that rung's contact happened (0 = none / unknown) */
    bool answered;            /* the last contact got a reply (promise, dispute, call answered) */
    int phone_count;          /* phone contacts made on this debt (R-C2) */
    int visit_count;          /* visits made on this debt (R-C2) */
    int broken_promises;      /* promises broken on this debt, all time (R-C5) */
    int64_t now_us;
    int64_t promise_broken_at_us; /* when the latest promise broke (0 = not known): a promise
                                     broken at or after last_step_at_us escalates (R-C5).
                                     When 0, a broken promise counts as broken since the last
                                     step if answered is set (a promise followed that step). */
    int64_t failed_at_us;     /* when a contact of this debt was last reported not to work
                                 (refused, no supply no payment, wrong number, returned
                                 mail; 0 = never): at or after last_step_at_us the next
                                 rung comes at once (R-C1) */
    int64_t signal_at_us;     /* when an early-warning signal was last raised on the debtor
                                 (0 = never): at or after last_step_at_us, an overdue debt's
                                 next rung comes at once, settlement requested now (R-A7) */
    bool variant_given;       /* true: use variant below (the one stored for the debt); false:
                                 hk_strategy_variant () decides */
    int variant;
} hk_debt_view_t;

typedef struct {
    hk_step_t step;           /* the step to take now; NONE: nothing to do yet (upcoming and
                                 not_before_us say what and when) or nothing at all
                                 (upcoming NONE, not_before_us 0) */
    char channel[16];         /* of step or upcoming: email, sms, letter, phone, visit, agency,
                                 legal, tracing */
    int64_t not_before_us;    /* earliest instant for the step (previous step + its wait); may
                                 lie in the past when step is set */
    int variant;              /* 0 champion, 1 challenger */
    char rule_ids[64];        /* "R-C1,R-C2" */
    char reason[240];         /* plain words: which strategy rule matched, why this step */
    hk_step_t upcoming;       /* step, or the step that comes at not_before_us */
    char rule[64];            /* name of the strategy rule that matched */
} hk_decision_t;

/* R-C1: the next rung for this debt.
 *
 * The first rule (of the debtor's variant) that matches the debt gives the ladder, the channel
 * of each step and the wait after each step (silence time before the next); the document's
 * last rule matches everything. Walk:
 *   - not reachable: tracing, repeated each wait["tracing"] (R-A8); once found again the
 *     ladder starts over from its first rung (counts stay: R-C2 caps still hold);
 *   - not overdue (dpd <= 0): only the pre-due reminder, once, when dpd >= -remind_days_before
 *     (R-S4); the other rungs wait until dpd reaches 1 (not_before_us then counts whole days);
 *   - overdue: the first rung of the ladder above last_step, at last_step_at + wait[last_step];
 *     phone repeats until phone_count reaches max_phone (<= 3) and visit until visit_count
 *     reaches max_visit (<= 1), then the ladder moves on (R-C2); a rung the ladder leaves out is
 *     skipped; the ladder never goes down;
 *   - answered: the last contact got a reply, so it is not yet known not to work (R-C1): the
 *     move to a higher rung waits one more wait; repeats of a rung (phone) are not delayed;
 *   - broken promise since the last step (R-C5): no further repeat of the current rung, the
 *     next higher rung at once (the remaining wait is skipped);
 *   - the last step reported not to work (failed_at_us: refused, a "no supply, no payment"
 *     threat, wrong number, returned mail): the same, under R-C1 ("a step is taken only
 *     when the previous did not work");
 *   - after the ladder's last rung: nothing at all.
 * Returns 0, or HK_EINVAL when an argument is NULL. */
int hk_strategy_decide (const hk_strategy_t *s, const hk_debt_view_t *in, hk_decision_t *out);

/* R-C3 / R-C4: whom to contact. Strings are borrowed. */
typedef struct {
    const char *person_id;
    const char *role;         /* "payment", "finance", "owner", "initial", other */
    bool reachable;           /* over the channel at hand */
    bool initial;             /* the initial contact person (找初始联系人) whatever the role;
                                 role "initial" means the same */
} hk_person_t;

/* size_class: "large", "medium", "small", "micro" (debtor record). Suitable people:
 * large/medium -> the payment contact, then finance; small/micro -> the owner; unknown size
 * -> payment, finance, owner. Order: the initial contact person when he is one of the suitable
 * ones; the suitable ones in order; the initial contact person when nobody suitable is
 * reachable; then the other designated roles; then anyone else on record (R-C3).
 * Unreachable people are skipped. Returns the index into people, or -1 when nobody is
 * reachable; why (may be NULL) names the rule and the choice. */
int hk_contact_pick (const char *size_class, const hk_person_t *people, size_t n, char *why,
                     size_t len);

/* R-C4: who speaks for the creditor: "collections"; "manager" for a hostile debtor or after
 * a broken promise; "legal" at the legal rung or with a very hostile debtor (hostile and a
 * broken promise). Static strings. */
const char *hk_caller_role (hk_step_t step, bool hostile, int broken_promises);

/* Caps (R-C2, ARCHITECTURE promise 3). Pure comparison; the daemon supplies counts it read
 * from PostgreSQL under a per-debtor lock. */
typedef struct {
    int max_phone_per_debt;    /* 3, never above 3 */
    int max_visit_per_debt;    /* 1, never above 1 */
    int max_per_debtor_day;    /* 2 */
    int max_per_debtor_week;   /* 5 */
    int64_t min_gap_us;        /* 4 h between two contacts of one debtor */
} hk_caps_t;

/* The doctrine's values above. */
void hk_caps_default (hk_caps_t *c);
/* 0, or HK_EINVAL with why (may be NULL) naming the field and the rule: phone 0..3, visit
 * 0..1, day >= 1, week >= day, gap >= 0. */
int hk_caps_validate (const hk_caps_t *c, char *why, size_t len);

typedef struct {
    int phone_on_debt, visit_on_debt;   /* made (dispatched or sent) on this debt */
    int debtor_today, debtor_week;      /* contacts of this debtor in its local day / ISO week */
    int64_t last_contact_us;            /* 0 = none */
} hk_contact_counts_t;

/* true when one more contact of this step may happen at at_us; else why (may be NULL) names
 * the cap and the rule. Agency, legal and tracing are hand-overs, not contacts with the
 * debtor: always allowed. NONE is refused. Per-debt caps above 3 / 1 count as 3 / 1. */
bool hk_caps_allow (const hk_caps_t *c, const hk_contact_counts_t *k, hk_step_t step,
                    int64_t at_us, char *why, size_t len);

/* R-C2 when planning: whether a contact of the debtor at at_us keeps the caps against the
 * debtor's other contacts, planned or made, at times[0..n): at least min_gap from each, at
 * most max_per_debtor_day on its local day and max_per_debtor_week in its ISO week (zone).
 * 0 when it does; else the earliest instant worth trying instead (the end of the gap, the
 * next local midnight or the next Monday's), with why (may be NULL) naming the cap. The
 * planner asks so that a debtor's contacts are not planned where dispatch would only defer
 * them; dispatch still decides (hk_caps_allow). 0 too on an unknown zone. */
int64_t hk_caps_next_free (const hk_caps_t *c, const char *zone, const int64_t *times, int n,
                           int64_t at_us, char *why, size_t len);

#endif
