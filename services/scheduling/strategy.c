/* strategy: the escalation ladder as data (R-C1..R-C5, R-S4, R-A8), champion/challenger,
 * contact selection (R-C3, R-C4) and the contact caps (R-C2). Pure functions. */
#include "strategy.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "huikuan/dates.h"
#include "huikuan/digest.h"
#include "huikuan/errcodes.h"
#include "huikuan/json.h"
#include "huikuan/money.h"

#define S_NAME_MAX 64       /* names of strategies, challengers and rules, NUL included */
#define S_MAX_RULES 64
#define S_MAX_CURRENCIES 16 /* per amount bound */
#define S_MAX_WAIT (366 * HK_US_PER_DAY)
#define S_MAX_DOC (1 << 20) /* a strategy is configuration, not data */

/* Formats into why (which may be NULL), truncating. */
static void s_why (char *why, size_t len, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

static void
s_why (char *why, size_t len, const char *fmt, ...)
{
    if (!why || !len)
        return;
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (why, len, fmt, ap);
    va_end (ap);
}

/* ---------------------------------------------------------------------------------------- */
/* Steps */

static const char *const s_step_names[HK_STEP_COUNT] = {
    "none", "pre_due_reminder", "written_notice", "phone", "visit", "agency", "legal", "tracing",
};

const char *
hk_step_name (hk_step_t s)
{
    return (unsigned) s < HK_STEP_COUNT ? s_step_names[s] : "none";
}

int
hk_step_parse (const char *name, hk_step_t *out)
{
    hk_step_t found = HK_STEP_COUNT;
    for (int i = 0; name && i < HK_STEP_COUNT; i++)
        if (strcmp (name, s_step_names[i]) == 0)
            found = (hk_step_t) i;
    if (out)
        *out = found == HK_STEP_COUNT ? HK_STEP_NONE : found;
    return found == HK_STEP_COUNT ? HK_EINVAL : 0;
}

/* Channels a step may use; the first is the default. R-C1: written notice by letter, e-mail
 * or SMS; the other rungs are what they say. */
static const char *const s_step_channels[HK_STEP_COUNT][5] = {
    [HK_STEP_PRE_DUE] = { "email", "sms", "letter", "phone", NULL },
    [HK_STEP_NOTICE] = { "email", "sms", "letter", NULL },
    [HK_STEP_PHONE] = { "phone", NULL },
    [HK_STEP_VISIT] = { "visit", NULL },
    [HK_STEP_AGENCY] = { "agency", NULL },
    [HK_STEP_LEGAL] = { "legal", NULL },
    [HK_STEP_TRACE] = { "tracing", NULL },
};

/* Steps that are followed by another and so need a wait. */
static bool
s_needs_wait (hk_step_t s)
{
    return s == HK_STEP_NOTICE || s == HK_STEP_PHONE || s == HK_STEP_VISIT
           || s == HK_STEP_AGENCY || s == HK_STEP_TRACE;
}

/* ---------------------------------------------------------------------------------------- */
/* Causes of default (R-A6): bit 0 unknown, then the four recorded causes */

static const struct {
    const char *key, *zh;
} s_causes[] = {
    { "unknown", NULL },  { "oversight", "疏忽" },       { "dispute", "对产品不满" },
    { "cash_shortage", "资金紧张" }, { "wilful", "故意" },
};
#define S_NCAUSES ((int) (sizeof s_causes / sizeof s_causes[0]))

static int
s_cause_of (const char *text)
{
    for (int i = 1; text && i < S_NCAUSES; i++)
        if (strcasecmp (text, s_causes[i].key) == 0 || strcmp (text, s_causes[i].zh) == 0)
            return i;
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* The parsed document */

typedef struct {
    char currency[4];          /* "*" for any currency not listed */
    int64_t minor;
} s_bound_t;

typedef struct {
    s_bound_t b[S_MAX_CURRENCIES];
    int n;                     /* 0: no bound */
} s_bounds_t;

typedef struct {
    char name[S_NAME_MAX];
    bool has_grade, has_amount;
    int grade_min, grade_max;
    int stance;                /* -1 any, 0 soft, 1 hard */
    unsigned causes;           /* 0 any, else a bit per s_causes index */
    s_bounds_t amount_min, amount_max;
    int reachable;             /* -1 any, 0 lost, 1 reachable */
    hk_step_t ladder[HK_STEP_COUNT];
    int nladder;
    char channel[HK_STEP_COUNT][16];
    int64_t wait[HK_STEP_COUNT];
    bool has_wait[HK_STEP_COUNT];
} s_rule_t;

typedef struct {
    s_rule_t *rules;
    int n;
} s_ruleset_t;

struct hk_strategy {
    char name[S_NAME_MAX];
    int version;
    int remind_days_before;
    int max_phone, max_visit;
    s_ruleset_t champion;
    bool has_challenger;
    char challenger[S_NAME_MAX];
    int share_percent;
    s_ruleset_t challenger_rules;
};

/* ---------------------------------------------------------------------------------------- */
/* Parsing */

typedef struct {
    char *err;
    size_t errlen;
    int rc;
    /* top-level defaults merged into every rule */
    char channel[HK_STEP_COUNT][16];
    int64_t wait[HK_STEP_COUNT];
    bool has_wait[HK_STEP_COUNT];
} s_ctx_t;

/* Records "path: message" (the first error wins) and returns false. */
static bool
s_fail (s_ctx_t *ctx, const char *path, const char *fmt, ...)
{
    if (ctx->rc != 0)
        return false;
    char msg[256];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (msg, sizeof msg, fmt, ap);
    va_end (ap);
    ctx->rc = HK_EINVAL;
    if (ctx->err && ctx->errlen)
        snprintf (ctx->err, ctx->errlen, "%s%s%s", path && *path ? path : "",
                  path && *path ? ": " : "", msg);
    return false;
}

/* base.key, or key at the top. */
static const char *
s_path (char *buf, size_t len, const char *base, const char *key)
{
    s_why (buf, len, "%s%s%s", base, *base ? "." : "", key);
    return buf;
}

static const char *
s_path_ix (char *buf, size_t len, const char *base, size_t i)
{
    s_why (buf, len, "%s[%zu]", base, i);
    return buf;
}

static bool
s_keys_ok (s_ctx_t *ctx, json_object *obj, const char *const *allowed, const char *base)
{
    char list[240], p[160];
    const char *key = hk_json_unknown_key (obj, allowed, list, sizeof list);
    return !key
           || s_fail (ctx, s_path (p, sizeof p, base, key), "unknown key (known: %s)", list);
}

static json_object *
s_member (json_object *obj, const char *key)
{
    json_object *v = NULL;
    return json_object_object_get_ex (obj, key, &v) ? v : NULL;
}

/* Integer member: 1 found, 0 absent, -1 after an error. */
static int
s_int (s_ctx_t *ctx, json_object *obj, const char *key, const char *base, int min, int max,
       int *out)
{
    json_object *v = s_member (obj, key);
    char p[160];
    if (!v)
        return 0;
    if (!json_object_is_type (v, json_type_int) || json_object_get_int64 (v) < min
        || json_object_get_int64 (v) > max) {
        s_fail (ctx, s_path (p, sizeof p, base, key), "must be an integer from %d to %d", min,
                max);
        return -1;
    }
    *out = (int) json_object_get_int64 (v);
    return 1;
}

/* A name: a string of 1..63 bytes without control characters. */
static bool
s_name (s_ctx_t *ctx, json_object *obj, const char *key, const char *base, char *out)
{
    json_object *v = s_member (obj, key);
    char p[160];
    s_path (p, sizeof p, base, key);
    if (!v || !json_object_is_type (v, json_type_string))
        return s_fail (ctx, p, "required: a name (string)");
    const char *s = json_object_get_string (v);
    size_t n = strlen (s);
    if (n == 0 || n >= S_NAME_MAX)
        return s_fail (ctx, p, "must be 1 to %d bytes long", S_NAME_MAX - 1);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char) s[i] < 0x20 || s[i] == 0x7F)
            return s_fail (ctx, p, "must not contain control characters");
    memcpy (out, s, n + 1);
    return true;
}

/* "description" is free text for people reading the document. */
static bool
s_description (s_ctx_t *ctx, json_object *obj, const char *base)
{
    json_object *v = s_member (obj, "description");
    char p[160];
    if (v && !json_object_is_type (v, json_type_string))
        return s_fail (ctx, s_path (p, sizeof p, base, "description"), "must be a string");
    return true;
}

/* "channels": {step: channel}. */
static bool
s_channels (s_ctx_t *ctx, json_object *v, const char *base, char channel[][16])
{
    char p[160];
    if (!json_object_is_type (v, json_type_object))
        return s_fail (ctx, base, "must be an object of step: channel");
    json_object_object_foreach (v, key, val) {
        hk_step_t step;
        s_path (p, sizeof p, base, key);
        if (hk_step_parse (key, &step) != 0 || step == HK_STEP_NONE)
            return s_fail (ctx, p, "unknown step (pre_due_reminder, written_notice, phone, "
                                   "visit, agency, legal, tracing)");
        if (!json_object_is_type (val, json_type_string))
            return s_fail (ctx, p, "must be a channel name (string)");
        const char *ch = json_object_get_string (val);
        const char *const *ok = s_step_channels[step];
        while (*ok && strcmp (*ok, ch) != 0)
            ok++;
        if (!*ok) {
            char list[64] = "";
            for (ok = s_step_channels[step]; *ok; ok++)
                snprintf (list + strlen (list), sizeof list - strlen (list), "%s%s",
                          ok == s_step_channels[step] ? "" : ", ", *ok);
            return s_fail (ctx, p, "'%.20s' is not a channel of %s (R-C1: %s)", ch, key, list);
        }
        snprintf (channel[step], 16, "%s", ch);
    }
    return true;
}

/* "wait": {step: duration}, the silence after a step before the next one. */
static bool
s_waits (s_ctx_t *ctx, json_object *v, const char *base, int64_t *wait, bool *has)
{
    char p[160];
    if (!json_object_is_type (v, json_type_object))
        return s_fail (ctx, base, "must be an object of step: duration (\"5d\")");
    json_object_object_foreach (v, key, val) {
        hk_step_t step;
        s_path (p, sizeof p, base, key);
        if (hk_step_parse (key, &step) != 0 || step == HK_STEP_NONE)
            return s_fail (ctx, p, "unknown step (written_notice, phone, visit, agency, "
                                   "tracing)");
        if (!s_needs_wait (step))
            return s_fail (ctx, p, "no wait after %s: %s", key,
                           step == HK_STEP_LEGAL ? "nothing follows it"
                                                 : "the next rung comes when the debt is overdue");
        int64_t us = 0;
        if (!json_object_is_type (val, json_type_string)
            || hk_duration_parse (json_object_get_string (val), &us) != 0)
            return s_fail (ctx, p, "must be a duration such as \"5d\", \"36h\", \"1w\"");
        if (us <= 0 || us > S_MAX_WAIT)
            return s_fail (ctx, p, "must be more than 0 and at most 366d");
        wait[step] = us;
        has[step] = true;
    }
    return true;
}

/* "amount_min" / "amount_max": {"CNY": 100000, "*": ...} in minor units. */
static bool
s_bounds (s_ctx_t *ctx, json_object *v, const char *base, s_bounds_t *out)
{
    char p[160];
    if (!json_object_is_type (v, json_type_object) || json_object_object_length (v) == 0)
        return s_fail (ctx, base, "must be an object of currency: amount in minor units "
                                  "({\"CNY\": 100000}; \"*\" for any other currency)");
    json_object_object_foreach (v, key, val) {
        s_path (p, sizeof p, base, key);
        if (strcmp (key, "*") != 0 && hk_currency_exponent (key) < 0)
            return s_fail (ctx, p, "not an ISO 4217 currency code (or \"*\")");
        if (!json_object_is_type (val, json_type_int) || json_object_get_int64 (val) < 0)
            return s_fail (ctx, p, "must be an amount in minor units (integer >= 0)");
        if (out->n == S_MAX_CURRENCIES)
            return s_fail (ctx, base, "at most %d currencies", S_MAX_CURRENCIES);
        snprintf (out->b[out->n].currency, sizeof out->b[out->n].currency, "%s", key);
        out->b[out->n++].minor = json_object_get_int64 (val);
    }
    return true;
}

static const s_bound_t *
s_bound_for (const s_bounds_t *bs, const char *currency)
{
    const s_bound_t *any = NULL;
    for (int i = 0; i < bs->n; i++) {
        if (currency && strcmp (bs->b[i].currency, currency) == 0)
            return &bs->b[i];
        if (strcmp (bs->b[i].currency, "*") == 0)
            any = &bs->b[i];
    }
    return any;
}

static bool
s_match_spec (s_ctx_t *ctx, s_rule_t *r, json_object *m, const char *base)
{
    static const char *const keys[] = { "grade_min", "grade_max", "stance", "cause",
                                        "amount_min", "amount_max", "reachable", NULL };
    char p[160];
    if (!json_object_is_type (m, json_type_object))
        return s_fail (ctx, base, "must be an object of conditions ({} matches every debt)");
    if (!s_keys_ok (ctx, m, keys, base))
        return false;
    int a = s_int (ctx, m, "grade_min", base, 1, 5, &r->grade_min);
    int b = s_int (ctx, m, "grade_max", base, 1, 5, &r->grade_max);
    if (a < 0 || b < 0)
        return false;
    r->has_grade = a || b;
    if (r->grade_min > r->grade_max)
        return s_fail (ctx, s_path (p, sizeof p, base, "grade_max"),
                       "%d is below grade_min %d (R-A2 grades: 5 not due ... 1 dead)",
                       r->grade_max, r->grade_min);
    json_object *v;
    if ((v = s_member (m, "stance"))) {
        const char *t = json_object_is_type (v, json_type_string) ? json_object_get_string (v)
                                                                 : "";
        if (strcmp (t, "soft") != 0 && strcmp (t, "hard") != 0)
            return s_fail (ctx, s_path (p, sizeof p, base, "stance"),
                           "must be \"soft\" (文收) or \"hard\" (武收) (R-A5)");
        r->stance = strcmp (t, "hard") == 0;
    }
    if ((v = s_member (m, "cause"))) {
        s_path (p, sizeof p, base, "cause");
        if (!json_object_is_type (v, json_type_array) || json_object_array_length (v) == 0)
            return s_fail (ctx, p, "must be a non-empty array of causes (R-A6)");
        for (size_t i = 0; i < json_object_array_length (v); i++) {
            json_object *c = json_object_array_get_idx (v, i);
            const char *t = json_object_is_type (c, json_type_string) ? json_object_get_string (c)
                                                                     : "";
            int k = 0;
            while (k < S_NCAUSES && strcmp (t, s_causes[k].key) != 0)
                k++;
            if (k == S_NCAUSES) {
                char pi[176];
                return s_fail (ctx, s_path_ix (pi, sizeof pi, p, i),
                               "unknown cause (R-A6: oversight, dispute, cash_shortage, wilful, "
                               "unknown)");
            }
            r->causes |= 1u << k;
        }
    }
    if ((v = s_member (m, "amount_min"))
        && !s_bounds (ctx, v, s_path (p, sizeof p, base, "amount_min"), &r->amount_min))
        return false;
    if ((v = s_member (m, "amount_max"))
        && !s_bounds (ctx, v, s_path (p, sizeof p, base, "amount_max"), &r->amount_max))
        return false;
    r->has_amount = r->amount_min.n || r->amount_max.n;
    for (int i = 0; i < r->amount_max.n; i++) {
        const s_bound_t *lo = s_bound_for (&r->amount_min, r->amount_max.b[i].currency);
        if (lo && strcmp (lo->currency, r->amount_max.b[i].currency) == 0
            && lo->minor > r->amount_max.b[i].minor)
            return s_fail (ctx, s_path (p, sizeof p, base, "amount_max"),
                           "%s is below amount_min", r->amount_max.b[i].currency);
    }
    if ((v = s_member (m, "reachable"))) {
        if (!json_object_is_type (v, json_type_boolean))
            return s_fail (ctx, s_path (p, sizeof p, base, "reachable"),
                           "must be true or false (R-A8)");
        r->reachable = json_object_get_boolean (v) ? 1 : 0;
    }
    return true;
}

static bool
s_unconditional (const s_rule_t *r)
{
    return !r->has_grade && r->stance < 0 && !r->causes && !r->has_amount && r->reachable < 0;
}

static bool
s_rule (s_ctx_t *ctx, s_rule_t *r, json_object *obj, const char *base)
{
    static const char *const keys[] = { "name", "description", "match", "ladder", "channels",
                                        "wait", NULL };
    char p[160];
    r->grade_min = 1;
    r->grade_max = 5;
    r->stance = -1;
    r->reachable = -1;
    memcpy (r->channel, ctx->channel, sizeof r->channel);
    memcpy (r->wait, ctx->wait, sizeof r->wait);
    memcpy (r->has_wait, ctx->has_wait, sizeof r->has_wait);
    if (!json_object_is_type (obj, json_type_object))
        return s_fail (ctx, base, "must be an object with name, match, ladder");
    if (!s_keys_ok (ctx, obj, keys, base) || !s_name (ctx, obj, "name", base, r->name)
        || !s_description (ctx, obj, base))
        return false;
    json_object *v;
    if ((v = s_member (obj, "match"))
        && !s_match_spec (ctx, r, v, s_path (p, sizeof p, base, "match")))
        return false;
    if ((v = s_member (obj, "channels"))
        && !s_channels (ctx, v, s_path (p, sizeof p, base, "channels"), r->channel))
        return false;
    if ((v = s_member (obj, "wait"))
        && !s_waits (ctx, v, s_path (p, sizeof p, base, "wait"), r->wait, r->has_wait))
        return false;

    /* the ladder: a subset of the rungs in R-C1 order */
    s_path (p, sizeof p, base, "ladder");
    v = s_member (obj, "ladder");
    if (r->reachable == 0) {
        if (v && (!json_object_is_type (v, json_type_array) || json_object_array_length (v)))
            return s_fail (ctx, p, "a rule for lost debtors takes no ladder: they go to "
                                   "tracing, not to the dialler (R-A8)");
    } else if (!v || !json_object_is_type (v, json_type_array))
        return s_fail (ctx, p, "required: an array of steps, softest first (R-C1: "
                               "pre_due_reminder, written_notice, phone, visit, agency, legal)");
    for (size_t i = 0; v && i < json_object_array_length (v); i++) {
        json_object *e = json_object_array_get_idx (v, i);
        char pi[176];
        s_path_ix (pi, sizeof pi, p, i);
        hk_step_t step;
        if (!json_object_is_type (e, json_type_string)
            || hk_step_parse (json_object_get_string (e), &step) != 0 || step == HK_STEP_NONE)
            return s_fail (ctx, pi, "unknown step (pre_due_reminder, written_notice, phone, "
                                    "visit, agency, legal)");
        if (step == HK_STEP_TRACE)
            return s_fail (ctx, pi, "tracing is not a rung: it comes by itself when the debtor "
                                    "is lost (R-A8)");
        if (r->nladder > 0 && step <= r->ladder[r->nladder - 1])
            return s_fail (ctx, pi, "'%s' after '%s': each step once, softest first (R-C1: "
                                    "pre_due_reminder, written_notice, phone, visit, agency, "
                                    "legal)",
                           hk_step_name (step), hk_step_name (r->ladder[r->nladder - 1]));
        r->ladder[r->nladder++] = step;
    }

    /* every channel and wait the walk can need, here or at the top */
    for (int i = 0; i < r->nladder; i++)
        if (!r->channel[r->ladder[i]][0]) {
            if (!s_step_channels[r->ladder[i]][1])
                snprintf (r->channel[r->ladder[i]], 16, "%s", s_step_channels[r->ladder[i]][0]);
            else
                return s_fail (ctx, s_path (p, sizeof p, base, "channels"),
                               "no channel for %s (give it here or in the top-level "
                               "\"channels\")",
                               hk_step_name (r->ladder[i]));
        }
    snprintf (r->channel[HK_STEP_TRACE], 16, "tracing");
    for (int s = 0; s < HK_STEP_COUNT; s++)
        if (s_needs_wait ((hk_step_t) s) && !r->has_wait[s])
            return s_fail (ctx, s_path (p, sizeof p, base, "wait"),
                           "no wait after %s (give it here or in the top-level \"wait\")",
                           hk_step_name ((hk_step_t) s));
    return true;
}

static bool
s_rules (s_ctx_t *ctx, s_ruleset_t *set, json_object *v, const char *base)
{
    char p[160];
    if (!v || !json_object_is_type (v, json_type_array) || json_object_array_length (v) == 0)
        return s_fail (ctx, base, "required: a non-empty array of rules, the last one without "
                                  "conditions (the catch-all)");
    size_t n = json_object_array_length (v);
    if (n > S_MAX_RULES)
        return s_fail (ctx, base, "at most %d rules", S_MAX_RULES);
    set->rules = calloc (n, sizeof *set->rules);
    if (!set->rules) {
        ctx->rc = HK_ENOMEM;
        snprintf (ctx->err, ctx->errlen, "out of memory");
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        s_path_ix (p, sizeof p, base, i);
        s_rule_t *r = &set->rules[set->n++];
        if (!s_rule (ctx, r, json_object_array_get_idx (v, i), p))
            return false;
        for (size_t j = 0; j < i; j++)
            if (strcmp (set->rules[j].name, r->name) == 0) {
                char pn[176];
                return s_fail (ctx, s_path (pn, sizeof pn, p, "name"),
                               "'%s' is the name of %s[%zu] too", r->name, base, j);
            }
        if (s_unconditional (r) && i + 1 < n)
            return s_fail (ctx, p, "rule '%s' matches every debt, so the rules after it would "
                                   "never be used: only the last rule may be the catch-all",
                           r->name);
        if (!s_unconditional (r) && i + 1 == n)
            return s_fail (ctx, p, "the last rule must be the catch-all: no \"match\" "
                                   "conditions, so that every debt has a rule");
    }
    return true;
}

static bool
s_document (s_ctx_t *ctx, hk_strategy_t *s, json_object *root)
{
    static const char *const keys[] = { "name", "version", "description", "remind_days_before",
                                        "max_phone", "max_visit", "channels", "wait", "rules",
                                        "challenger", NULL };
    if (!json_object_is_type (root, json_type_object))
        return s_fail (ctx, NULL, "a strategy is a JSON object with name, version and rules");
    if (!s_keys_ok (ctx, root, keys, "") || !s_name (ctx, root, "name", "", s->name)
        || !s_description (ctx, root, ""))
        return false;
    int rc = s_int (ctx, root, "version", "", 1, INT32_MAX, &s->version);
    if (rc == 0)
        return s_fail (ctx, "version", "required: an integer from 1");
    /* doctrine values when absent: three reminders before the due date is the shipped
     * default; R-C2 three calls, one visit */
    s->remind_days_before = 3;
    s->max_phone = 3;
    s->max_visit = 1;
    if (rc < 0 || s_int (ctx, root, "remind_days_before", "", 0, 60, &s->remind_days_before) < 0)
        return false;
    json_object *v = s_member (root, "max_phone");
    if (v && json_object_is_type (v, json_type_int) && json_object_get_int64 (v) > 3)
        return s_fail (ctx, "max_phone",
                       "%" PRId64 " is above 3: at most three phone reminders per debt, then "
                       "escalate (R-C2 事不过三)",
                       json_object_get_int64 (v));
    v = s_member (root, "max_visit");
    if (v && json_object_is_type (v, json_type_int) && json_object_get_int64 (v) > 1)
        return s_fail (ctx, "max_visit",
                       "%" PRId64 " is above 1: one visit per debt, then escalate (R-C2)",
                       json_object_get_int64 (v));
    if (s_int (ctx, root, "max_phone", "", 0, 3, &s->max_phone) < 0
        || s_int (ctx, root, "max_visit", "", 0, 1, &s->max_visit) < 0)
        return false;
    if ((v = s_member (root, "channels")) && !s_channels (ctx, v, "channels", ctx->channel))
        return false;
    if ((v = s_member (root, "wait")) && !s_waits (ctx, v, "wait", ctx->wait, ctx->has_wait))
        return false;
    if (!s_rules (ctx, &s->champion, s_member (root, "rules"), "rules"))
        return false;
    if ((v = s_member (root, "challenger"))) {
        static const char *const ckeys[] = { "name", "description", "share_percent", "rules",
                                             NULL };
        if (!json_object_is_type (v, json_type_object))
            return s_fail (ctx, "challenger", "must be an object with name, share_percent and "
                                              "rules");
        if (!s_keys_ok (ctx, v, ckeys, "challenger")
            || !s_name (ctx, v, "name", "challenger", s->challenger)
            || !s_description (ctx, v, "challenger"))
            return false;
        if (strcmp (s->challenger, "champion") == 0)
            return s_fail (ctx, "challenger.name", "\"champion\" names the other variant");
        rc = s_int (ctx, v, "share_percent", "challenger", 0, 100, &s->share_percent);
        if (rc == 0)
            return s_fail (ctx, "challenger.share_percent", "required: an integer from 0 to 100");
        if (rc < 0 || !s_rules (ctx, &s->challenger_rules, s_member (v, "rules"),
                                "challenger.rules"))
            return false;
        s->has_challenger = true;
    }
    return true;
}

int
hk_strategy_parse (const char *json, size_t len, hk_strategy_t **out, char *err, size_t errlen)
{
    s_ctx_t ctx = { .err = err, .errlen = errlen };
    char scratch[8];
    if (!err || !errlen)
        ctx.err = scratch, ctx.errlen = sizeof scratch;
    ctx.err[0] = 0;
    if (out)
        *out = NULL;
    if (!json || !out) {
        s_fail (&ctx, NULL, "no document");
        return HK_EINVAL;
    }
    if (len > S_MAX_DOC) {
        s_fail (&ctx, NULL, "larger than %d bytes: not a strategy", S_MAX_DOC);
        return HK_EINVAL;
    }
    char *text = malloc (len + 1);
    json_tokener *tok = json_tokener_new ();
    hk_strategy_t *s = calloc (1, sizeof *s);
    json_object *root = NULL;
    if (!text || !tok || !s) {
        ctx.rc = HK_ENOMEM;
        snprintf (ctx.err, ctx.errlen, "out of memory");
        goto done;
    }
    memcpy (text, json, len);
    text[len] = 0;
    if (strlen (text) != len) {
        s_fail (&ctx, NULL, "not JSON text (contains NUL bytes)");
        ctx.rc = HK_EPARSE;
        goto done;
    }
    const char *body = strncmp (text, "\xEF\xBB\xBF", 3) == 0 ? text + 3 : text;
    json_tokener_set_flags (tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    root = json_tokener_parse_ex (tok, body, (int) strlen (body) + 1);
    enum json_tokener_error jerr = json_tokener_get_error (tok);
    size_t end = json_tokener_get_parse_end (tok);
    if (jerr == json_tokener_success)
        for (size_t i = end; body[i]; i++)
            if (body[i] != ' ' && body[i] != '\t' && body[i] != '\n' && body[i] != '\r') {
                jerr = json_tokener_error_parse_unexpected;
                end = i;
                break;
            }
    if (jerr != json_tokener_success) {
        int line = 1;
        for (size_t i = 0; i < end && body[i]; i++)
            line += body[i] == '\n';
        s_fail (&ctx, NULL, "not valid JSON: line %d: %s", line,
                jerr == json_tokener_error_parse_unexpected && root
                    ? "text after the document"
                    : json_tokener_error_desc (jerr));
        ctx.rc = HK_EPARSE;
        goto done;
    }
    if (s_document (&ctx, s, root)) {
        *out = s;
        s = NULL;
    }
done:
    json_object_put (root);
    if (tok)
        json_tokener_free (tok);
    free (text);
    hk_strategy_free (s);
    return ctx.rc;
}

void
hk_strategy_free (hk_strategy_t *s)
{
    if (!s)
        return;
    free (s->champion.rules);
    free (s->challenger_rules.rules);
    free (s);
}

const char *
hk_strategy_name (const hk_strategy_t *s)
{
    return s ? s->name : "";
}

int
hk_strategy_version (const hk_strategy_t *s)
{
    return s ? s->version : 0;
}

int
hk_strategy_challenger_share (const hk_strategy_t *s)
{
    return s && s->has_challenger ? s->share_percent : 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Champion / challenger */

int
hk_strategy_variant (const hk_strategy_t *s, const char *tenant, const char *debtor_id)
{
    if (!s || !s->has_challenger || s->share_percent <= 0)
        return 0;
    if (s->share_percent >= 100)
        return 1;
    /* NUL-separated fields: no two different tuples give the same bytes */
    const char *f[4] = { s->name, s->challenger, tenant ? tenant : "", debtor_id ? debtor_id : "" };
    size_t n = 0;
    for (int i = 0; i < 4; i++)
        n += strlen (f[i]) + 1;
    char stack[512], *buf = n <= sizeof stack ? stack : malloc (n);
    if (!buf)
        return 0;
    size_t at = 0;
    for (int i = 0; i < 4; i++) {
        size_t k = strlen (f[i]) + 1;
        memcpy (buf + at, f[i], k);
        at += k;
    }
    char hex[HK_SHA256_HEX_LEN];
    int rc = hk_sha256_hex (buf, n, hex);
    if (buf != stack)
        free (buf);
    if (rc != 0)
        return 0; /* out of memory: the champion, which is the safe default */
    /* 48 bits of the hash in basis points: the modulo bias is below 1e-10 */
    uint64_t v = 0;
    for (int i = 0; i < 12; i++) {
        char c = hex[i];
        v = v * 16 + (uint64_t) (c <= '9' ? c - '0' : c - 'a' + 10);
    }
    return v % 10000 < (uint64_t) s->share_percent * 100 ? 1 : 0;
}

const char *
hk_strategy_variant_name (const hk_strategy_t *s, int variant)
{
    if (!s)
        return "";
    if (variant == 0)
        return "champion";
    return variant == 1 && s->has_challenger ? s->challenger : "";
}

/* ---------------------------------------------------------------------------------------- */
/* The ladder (R-C1) */

static bool
s_matches (const s_rule_t *r, const hk_debt_view_t *in)
{
    if (r->has_grade && (in->grade < r->grade_min || in->grade > r->grade_max))
        return false;
    if (r->stance >= 0) {
        /* R-A5: hard only when recorded as hard */
        int hard = in->stance && strcasecmp (in->stance, "hard") == 0;
        if (hard != r->stance)
            return false;
    }
    if (r->causes && !(r->causes & (1u << s_cause_of (in->cause))))
        return false;
    /* an amount bound that does not speak of the debt's currency (nor "*") fails the rule */
    if (r->amount_min.n) {
        const s_bound_t *b = s_bound_for (&r->amount_min, in->currency);
        if (!b || in->amount_minor < b->minor)
            return false;
    }
    if (r->amount_max.n) {
        const s_bound_t *b = s_bound_for (&r->amount_max, in->currency);
        if (!b || in->amount_minor > b->minor)
            return false;
    }
    if (r->reachable >= 0 && r->reachable != (in->reachable ? 1 : 0))
        return false;
    return true;
}

static bool
s_in_ladder (const s_rule_t *r, hk_step_t step)
{
    for (int i = 0; i < r->nladder; i++)
        if (r->ladder[i] == step)
            return true;
    return false;
}

/* The first rung above last (or last itself when it may repeat), after the due date. */
static hk_step_t
s_next_rung (const hk_strategy_t *s, const s_rule_t *r, hk_step_t last, const hk_debt_view_t *in,
             bool leave_current, bool *capped)
{
    for (int i = 0; i < r->nladder; i++) {
        hk_step_t x = r->ladder[i];
        if (x == HK_STEP_PRE_DUE || x < last)
            continue;
        bool phone_left = in->phone_count < s->max_phone;
        bool visit_left = in->visit_count < s->max_visit;
        if (x == last) {
            if (!leave_current && ((x == HK_STEP_PHONE && phone_left)
                                   || (x == HK_STEP_VISIT && visit_left)))
                return x;
            if ((x == HK_STEP_PHONE && !phone_left) || (x == HK_STEP_VISIT && !visit_left))
                *capped = true;
            continue;
        }
        if ((x == HK_STEP_PHONE && !phone_left) || (x == HK_STEP_VISIT && !visit_left)) {
            *capped = true; /* R-C2: the cap is reached, the ladder moves on */
            continue;
        }
        return x;
    }
    return HK_STEP_NONE;
}

/* "5d", "36h", "90m", "45s" for a reason text. */
static void
s_fmt_dur (int64_t us, char *buf, size_t len)
{
    if (us % HK_US_PER_DAY == 0)
        snprintf (buf, len, "%" PRId64 "d", us / HK_US_PER_DAY);
    else if (us % HK_US_PER_HOUR == 0)
        snprintf (buf, len, "%" PRId64 "h", us / HK_US_PER_HOUR);
    else if (us % HK_US_PER_MIN == 0)
        snprintf (buf, len, "%" PRId64 "m", us / HK_US_PER_MIN);
    else
        snprintf (buf, len, "%" PRId64 "s", us / HK_US_PER_SEC);
}

static void
s_add_id (char *ids, size_t len, const char *id)
{
    if (strstr (ids, id))
        return;
    size_t n = strlen (ids);
    snprintf (ids + n, len - n, "%s%s", n ? "," : "", id);
}

/* Fills the decision: step now when not_before has come, else upcoming only. */
static void
s_set (hk_decision_t *out, const s_rule_t *r, hk_step_t step, int64_t not_before, int64_t now)
{
    out->upcoming = step;
    out->step = step != HK_STEP_NONE && not_before <= now ? step : HK_STEP_NONE;
    out->not_before_us = step != HK_STEP_NONE ? not_before : 0;
    snprintf (out->channel, sizeof out->channel, "%s", step ? r->channel[step] : "");
}

/* What a step is, in words, for reasons. */
static const char *
s_words (hk_step_t step)
{
    static const char *const w[HK_STEP_COUNT] = {
        "nothing",    "pre-due reminder", "written notice", "phone call",
        "visit",      "hand-over to an agency", "legal action", "tracing",
    };
    return (unsigned) step < HK_STEP_COUNT ? w[step] : "nothing";
}

int
hk_strategy_decide (const hk_strategy_t *s, const hk_debt_view_t *in, hk_decision_t *out)
{
    if (!s || !in || !out)
        return HK_EINVAL;
    memset (out, 0, sizeof *out);
    out->variant = in->variant_given ? (in->variant == 1 && s->challenger_rules.n > 0)
                                     : hk_strategy_variant (s, in->tenant, in->debtor_id);
    const s_ruleset_t *set = out->variant ? &s->challenger_rules : &s->champion;
    const s_rule_t *r = &set->rules[set->n - 1];
    for (int i = 0; i < set->n; i++)
        if (s_matches (&set->rules[i], in)) {
            r = &set->rules[i];
            break;
        }
    snprintf (out->rule, sizeof out->rule, "%s", r->name);
    char who[160], dur[24], what[200] = "";
    snprintf (who, sizeof who, "%s rule '%s'", hk_strategy_variant_name (s, out->variant),
              r->name);
    char *ids = out->rule_ids;
    size_t idl = sizeof out->rule_ids;
    int64_t now = in->now_us;

    /* R-A8: a lost debtor goes to tracing, not to the dialler */
    if (!in->reachable) {
        s_add_id (ids, idl, "R-A8");
        int64_t nb = now;
        if (in->last_step == HK_STEP_TRACE && in->last_step_at_us > 0)
            nb = in->last_step_at_us + r->wait[HK_STEP_TRACE];
        s_set (out, r, HK_STEP_TRACE, nb, now);
        s_fmt_dur (r->wait[HK_STEP_TRACE], dur, sizeof dur);
        if (out->step)
            snprintf (what, sizeof what, "debtor lost (R-A8): tracing, not the dialler");
        else
            snprintf (what, sizeof what, "debtor lost (R-A8): tracing again %s after the last "
                                         "search", dur);
        s_why (out->reason, sizeof out->reason, "%s: %s", who, what);
        return 0;
    }
    if (r->has_grade)
        s_add_id (ids, idl, "R-A2");
    if (r->stance >= 0)
        s_add_id (ids, idl, "R-A5");
    if (r->causes)
        s_add_id (ids, idl, "R-A6");
    /* found again after tracing: the ladder starts over (the counts still cap it) */
    hk_step_t last = in->last_step == HK_STEP_TRACE ? HK_STEP_NONE : in->last_step;
    bool capped = false;

    if (in->dpd <= 0) {
        /* R-S4: before the due date only the reminder */
        if (s_in_ladder (r, HK_STEP_PRE_DUE) && last < HK_STEP_PRE_DUE) {
            s_add_id (ids, idl, "R-S4");
            s_add_id (ids, idl, "R-C1");
            int64_t open = in->dpd >= -s->remind_days_before
                               ? now
                               : now + (int64_t) (-s->remind_days_before - in->dpd) * HK_US_PER_DAY;
            s_set (out, r, HK_STEP_PRE_DUE, open, now);
            if (!out->step)
                snprintf (what, sizeof what, "pre-due reminder %d days before the due date",
                          s->remind_days_before);
            else if (in->dpd == 0)
                snprintf (what, sizeof what, "pre-due reminder on the due date, early");
            else
                snprintf (what, sizeof what, "pre-due reminder, due in %d day%s", -in->dpd,
                          in->dpd == -1 ? "" : "s");
            s_why (out->reason, sizeof out->reason, "%s: %s", who, what);
            return 0;
        }
        s_add_id (ids, idl, "R-C1");
        hk_step_t next = s_next_rung (s, r, last, in, false, &capped);
        if (next == HK_STEP_NONE) {
            s_why (out->reason, sizeof out->reason, "%s: nothing %s before or after the "
                                                       "due date",
                      who, last > HK_STEP_PRE_DUE ? "left" : "on the ladder");
            return 0;
        }
        s_set (out, r, next, now + (int64_t) (1 - in->dpd) * HK_US_PER_DAY, now);
        s_why (out->reason, sizeof out->reason, "%s: not overdue yet: %s once overdue", who,
                  s_words (next));
        return 0;
    }

    s_add_id (ids, idl, "R-C1");
    /* R-C5: a promise broken since the last step shows the rung did not work */
    bool broken = in->broken_promises > 0 && last > HK_STEP_PRE_DUE
                  && (in->promise_broken_at_us > 0
                          ? in->promise_broken_at_us >= in->last_step_at_us
                          : in->answered);
    /* R-C1: a contact of the last step reported not to work (refused, a "no supply, no
     * payment" threat (R-H2), wrong number, mail returned) shows it the same way */
    bool failed = last > HK_STEP_PRE_DUE && in->failed_at_us > 0 && in->last_step_at_us > 0
                  && in->failed_at_us >= in->last_step_at_us;
    hk_step_t next = s_next_rung (s, r, last, in, broken || failed, &capped);
    /* R-A7: a signal raised since the last step asks for settlement now: the next rung
     * without its wait (the rung itself is not skipped) */
    bool signal = last > HK_STEP_PRE_DUE && in->signal_at_us > 0 && in->last_step_at_us > 0
                  && in->signal_at_us >= in->last_step_at_us;
    if (capped || next == HK_STEP_PHONE || next == HK_STEP_VISIT)
        s_add_id (ids, idl, "R-C2");
    if (broken)
        s_add_id (ids, idl, "R-C5");
    if (signal)
        s_add_id (ids, idl, "R-A7");
    if (next == HK_STEP_NONE) {
        s_why (out->reason, sizeof out->reason, "%s: the ladder ends%s%s: nothing further",
                  who, last > HK_STEP_PRE_DUE ? " after " : "",
                  last > HK_STEP_PRE_DUE ? s_words (last) : " before it starts");
        return 0;
    }
    int64_t nb = now, wait = 0;
    bool hold = false;
    if (last > HK_STEP_PRE_DUE && in->last_step_at_us > 0 && !broken && !failed && !signal) {
        wait = r->wait[last];
        hold = in->answered && next != last;
        nb = in->last_step_at_us + (hold ? 2 * wait : wait);
    }
    s_set (out, r, next, nb, now);

    char count[48] = "", cap[64] = "";
    if (next == HK_STEP_PHONE)
        snprintf (count, sizeof count, " %d of %d", in->phone_count + 1, s->max_phone);
    else if (next == HK_STEP_VISIT)
        snprintf (count, sizeof count, " %d of %d", in->visit_count + 1, s->max_visit);
    if (capped && next > HK_STEP_VISIT && in->visit_count >= s->max_visit
        && s_in_ladder (r, HK_STEP_VISIT))
        snprintf (cap, sizeof cap, " (R-C2: %d visit%s made)", in->visit_count,
                  in->visit_count == 1 ? "" : "s");
    else if (capped && next > HK_STEP_PHONE && in->phone_count >= s->max_phone)
        snprintf (cap, sizeof cap, " (R-C2 事不过三: %d calls made)", in->phone_count);
    char since[120] = "";
    if (broken)
        snprintf (since, sizeof since, "a promise was broken after the %s (R-C5): no waiting",
                  s_words (last));
    else if (failed)
        snprintf (since, sizeof since, "the %s did not work (refused, no supply no payment,"
                                       " wrong number or returned): no waiting", s_words (last));
    else if (signal)
        snprintf (since, sizeof since, "an early-warning signal since the %s (R-A7):"
                                       " settlement requested now, no waiting", s_words (last));
    else if (last > HK_STEP_PRE_DUE && wait > 0) {
        s_fmt_dur (hold ? 2 * wait : wait, dur, sizeof dur);
        snprintf (since, sizeof since, "%s after the %s%s", dur, s_words (last),
                  hold ? ", one more wait as it got a reply" : " without payment");
    } else if (last > HK_STEP_PRE_DUE)
        snprintf (since, sizeof since, "the time of the %s is not known", s_words (last));
    else
        snprintf (since, sizeof since, "first rung of the ladder");
    snprintf (what, sizeof what, "%s%s%s%s", out->step ? "" : "next ", s_words (next), count,
              cap);
    s_why (out->reason, sizeof out->reason, "%s: %s; %s", who, what, since);
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Whom to contact (R-C3) and who speaks (R-C4) */

static bool
s_role_is (const hk_person_t *p, const char *role)
{
    return p->role && strcasecmp (p->role, role) == 0;
}

static bool
s_initial (const hk_person_t *p)
{
    return p->initial || s_role_is (p, "initial");
}

int
hk_contact_pick (const char *size_class, const hk_person_t *people, size_t n, char *why,
                 size_t len)
{
    static const char *const big[] = { "payment", "finance", NULL };
    static const char *const small[] = { "owner", NULL };
    static const char *const unknown[] = { "payment", "finance", "owner", NULL };
    const char *const *suit = unknown, *const *rest = NULL;
    const char *size = "size unknown";
    if (size_class && (strcasecmp (size_class, "large") == 0
                       || strcasecmp (size_class, "medium") == 0)) {
        suit = big, rest = small;
        size = "large/medium enterprise";
    } else if (size_class && (strcasecmp (size_class, "small") == 0
                              || strcasecmp (size_class, "micro") == 0)) {
        suit = small, rest = big;
        size = "small enterprise";
    }
    if (why && len)
        why[0] = 0;
    /* the initial contact person first when he is one of the suitable ones */
    for (const char *const *role = suit; *role; role++)
        for (size_t i = 0; i < n; i++)
            if (people[i].reachable && s_initial (&people[i]) && s_role_is (&people[i], *role)) {
                s_why (why, len, "R-C3 %s: the initial contact person, the %s contact", size,
                       *role);
                return (int) i;
            }
    for (const char *const *role = suit; *role; role++)
        for (size_t i = 0; i < n; i++)
            if (people[i].reachable && s_role_is (&people[i], *role)) {
                s_why (why, len, "R-C3 %s: the %s contact", size, *role);
                return (int) i;
            }
    for (size_t i = 0; i < n; i++)
        if (people[i].reachable && s_initial (&people[i])) {
            s_why (why, len, "R-C3 %s: nobody suitable reachable, the initial contact person",
                   size);
            return (int) i;
        }
    for (const char *const *role = rest; role && *role; role++)
        for (size_t i = 0; i < n; i++)
            if (people[i].reachable && s_role_is (&people[i], *role)) {
                s_why (why, len, "R-C3 %s: nobody suitable reachable, the %s contact instead",
                       size, *role);
                return (int) i;
            }
    for (size_t i = 0; i < n; i++)
        if (people[i].reachable) {
            s_why (why, len, "R-C3 %s: nobody suitable reachable, a contact on record (%.24s)",
                   size, people[i].role ? people[i].role : "no role");
            return (int) i;
        }
    s_why (why, len, "R-C3: nobody reachable among %zu people on record", n);
    return -1;
}

const char *
hk_caller_role (hk_step_t step, bool hostile, int broken_promises)
{
    if (step == HK_STEP_LEGAL || (hostile && broken_promises > 0))
        return "legal";
    if (hostile || broken_promises > 0)
        return "manager";
    return "collections";
}

/* ---------------------------------------------------------------------------------------- */
/* Caps (R-C2) */

void
hk_caps_default (hk_caps_t *c)
{
    *c = (hk_caps_t) { .max_phone_per_debt = 3, .max_visit_per_debt = 1,
                       .max_per_debtor_day = 2, .max_per_debtor_week = 5,
                       .min_gap_us = 4 * HK_US_PER_HOUR };
}

int
hk_caps_validate (const hk_caps_t *c, char *why, size_t len)
{
    if (!c) {
        s_why (why, len, "no caps");
        return HK_EINVAL;
    }
    if (c->max_phone_per_debt < 0 || c->max_phone_per_debt > 3)
        s_why (why, len, "max_phone_per_debt %d: from 0 to 3, at most three phone reminders "
                         "per debt (R-C2 事不过三)",
               c->max_phone_per_debt);
    else if (c->max_visit_per_debt < 0 || c->max_visit_per_debt > 1)
        s_why (why, len, "max_visit_per_debt %d: 0 or 1, one visit per debt (R-C2)",
               c->max_visit_per_debt);
    else if (c->max_per_debtor_day < 1)
        s_why (why, len, "max_per_debtor_day %d: at least 1 (R-C2)", c->max_per_debtor_day);
    else if (c->max_per_debtor_week < c->max_per_debtor_day)
        s_why (why, len, "max_per_debtor_week %d is below max_per_debtor_day %d (R-C2)",
               c->max_per_debtor_week, c->max_per_debtor_day);
    else if (c->min_gap_us < 0)
        s_why (why, len, "min_gap is negative (R-C2)");
    else {
        s_why (why, len, "%s", "");
        return 0;
    }
    return HK_EINVAL;
}

bool
hk_caps_allow (const hk_caps_t *c, const hk_contact_counts_t *k, hk_step_t step, int64_t at_us,
               char *why, size_t len)
{
    if (!c || !k || step == HK_STEP_NONE || (unsigned) step >= HK_STEP_COUNT) {
        s_why (why, len, "no contact to allow");
        return false;
    }
    if (step == HK_STEP_AGENCY || step == HK_STEP_LEGAL || step == HK_STEP_TRACE) {
        s_why (why, len, "%s is a hand-over, not a contact with the debtor", hk_step_name (step));
        return true;
    }
    int max_phone = c->max_phone_per_debt > 3 ? 3 : c->max_phone_per_debt;
    int max_visit = c->max_visit_per_debt > 1 ? 1 : c->max_visit_per_debt;
    if (step == HK_STEP_PHONE && k->phone_on_debt >= max_phone) {
        s_why (why, len, "R-C2 phone cap: %d phone reminders made on this debt, at most %d "
                         "(事不过三): escalate",
               k->phone_on_debt, max_phone);
        return false;
    }
    if (step == HK_STEP_VISIT && k->visit_on_debt >= max_visit) {
        s_why (why, len, "R-C2 visit cap: %d visit%s made on this debt, at most %d: escalate",
               k->visit_on_debt, k->visit_on_debt == 1 ? "" : "s", max_visit);
        return false;
    }
    if (k->last_contact_us > 0 && at_us < k->last_contact_us + c->min_gap_us) {
        char gap[24];
        s_fmt_dur (c->min_gap_us, gap, sizeof gap);
        s_why (why, len, "R-C2 gap: the debtor was contacted less than %s ago", gap);
        return false;
    }
    if (k->debtor_today >= c->max_per_debtor_day) {
        s_why (why, len, "R-C2 daily cap: %d contacts of this debtor today, at most %d",
               k->debtor_today, c->max_per_debtor_day);
        return false;
    }
    if (k->debtor_week >= c->max_per_debtor_week) {
        s_why (why, len, "R-C2 weekly cap: %d contacts of this debtor this week, at most %d",
               k->debtor_week, c->max_per_debtor_week);
        return false;
    }
    s_why (why, len, "within the caps (R-C2)");
    return true;
}

int64_t
hk_caps_next_free (const hk_caps_t *c, const char *zone, const int64_t *times, int n,
                   int64_t at_us, char *why, size_t len)
{
    hk_local_t at;
    if (!c || !zone || (n > 0 && !times) || hk_tz_local (zone, at_us, &at) != 0)
        return 0;
    /* the gap: past the latest contact less than min_gap away on either side */
    int64_t after = 0;
    for (int i = 0; i < n; i++)
        if (times[i] > at_us - c->min_gap_us && times[i] < at_us + c->min_gap_us
            && times[i] + c->min_gap_us > after)
            after = times[i] + c->min_gap_us;
    if (after) {
        char gap[24];
        s_fmt_dur (c->min_gap_us, gap, sizeof gap);
        s_why (why, len, "R-C2 gap: %s after the debtor's other contact", gap);
        return after;
    }
    int32_t monday = at.date - (hk_date_weekday (at.date) - 1);
    int day = 0, week = 0;
    for (int i = 0; i < n; i++) {
        hk_local_t l;
        if (hk_tz_local (zone, times[i], &l) != 0)
            continue;
        day += l.date == at.date;
        week += l.date >= monday && l.date < monday + 7;
    }
    int64_t next;
    if (day >= c->max_per_debtor_day && hk_tz_instant (zone, at.date + 1, 0, &next) == 0) {
        s_why (why, len, "R-C2 daily cap: %d contacts of this debtor that day, at most %d", day,
               c->max_per_debtor_day);
        return next;
    }
    if (week >= c->max_per_debtor_week && hk_tz_instant (zone, monday + 7, 0, &next) == 0) {
        s_why (why, len, "R-C2 weekly cap: %d contacts of this debtor that week, at most %d",
               week, c->max_per_debtor_week);
        return next;
    }
    return 0;
}
