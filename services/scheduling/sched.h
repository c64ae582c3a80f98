/* sched: the scheduling daemon's state and its three passes (the daemon's own files; the
 * doctrine itself is in the pure calendar.c and strategy.c).
 *
 *   events   (main.c)     facts that change a debt's plan: new or aged invoices, payments,
 *                          promises, disputes, known incoming payments, debtor flags
 *   review   (review.c)   debts due for a decision get their next ladder step planned (R-C1)
 *   dispatch (dispatch.c) due contacts pass the caps (R-C2, promise 3) and go to the channel
 *                          queues, once each */
#ifndef HK_SCHEDULING_SCHED_H
#define HK_SCHEDULING_SCHED_H

#include "calendar.h"
#include "huikuan/daemon.h"
#include "huikuan/dates.h"
#include "strategy.h"

#define SCHED_MAX_CALENDARS 16

typedef struct {
    char name[16];
    hk_calendar_t *cal;
} sched_calendar_t;

typedef struct {
    hk_strategy_t *strategy;
    int strategy_version;      /* the stored version (strategy table) */
    hk_timing_t timing;
    hk_caps_t caps;
    sched_calendar_t calendars[SCHED_MAX_CALENDARS];
    int n_calendars;
    char now_text[40];
    int cadence_weekday;       /* R-S6: ISO weekday of the regular statement, 0 = none */
    int cadence_nth;           /* 1..5, -1 = last */
    /* This instance's share of the due contacts: debtors whose hash modulo share_n is
     * share_k (sched_dispatch_share); share_n 1 when it is the only live instance. */
    int share_n, share_k;
    int64_t share_checked_us;  /* monotonic time of the last look at the directory */
} sched_t;

static inline sched_t *
sched_of (hk_daemon_t *d)
{
    return (sched_t *) d->state;
}

/* The debtor's calendar by name ("CN"); an unknown one falls back to Monday..Friday with a
 * warning logged once. Never NULL. */
const hk_calendar_t *sched_calendar (hk_daemon_t *d, const char *name);

/* One contact to plan (status planned). plan_key makes it idempotent: a key planned before is
 * skipped. Strings are copied by sched_batch_add. */
typedef struct {
    const char *plan_key;      /* NULL: "<invoice>:<step>:<contact id>" */
    const char *kind;          /* ladder, pre_due, confirmation, promise_reminder, remainder,
                                  incoming, cadence */
    const char *debtor_id;
    const char *invoice_id;
    const char *step;          /* hk_step_name () */
    const char *channel;
    int64_t due_at_us;
    const char *rules;         /* "R-C1,R-S2" */
    const char *reason;
    const char *timing;        /* hk_slot_t.why */
    int64_t wanted_at_us;      /* the minute it wanted, when the caps moved it (R-C2); 0 */
    const char *person_id;     /* NULL: none */
    const char *caller_role;   /* NULL: none */
    const char *promise_id;    /* NULL: none */
    int variant;
    const char *trace_id;      /* NULL: new */
} sched_contact_t;

/* Contacts planned together: one INSERT and one outbox COPY for the lot. */
typedef struct sched_batch sched_batch_t;
sched_batch_t *sched_batch_new (void);
void sched_batch_destroy (sched_batch_t **self_p);
/* Copies c; writes the new contact id (36 chars + NUL) to id_out when not NULL. 0 or HK_ENOMEM. */
int sched_batch_add (sched_batch_t *b, const sched_contact_t *c, char *id_out);
int sched_batch_count (const sched_batch_t *b);
/* Inserts the batch's contacts inside the open transaction and emits contact.planned for each
 * one that was new. Returns the number planned or negative. The batch is emptied. */
int sched_batch_flush (hk_daemon_t *d, sched_batch_t *b);
/* One contact on its own (a batch of one). Returns 1 planned, 0 planned before, negative. */
int sched_plan_contact (hk_daemon_t *d, const sched_contact_t *c, char *id_out);

/* Cancels contacts with reason and rule and emits contact.cancelled for each: one planned
 * contact (SCHED_SCOPE_CONTACT); the pending ladder steps of an invoice's or a debtor's debts
 * (SCHED_SCOPE_PENDING_*; _UNTRACED leaves tracing tasks alone); or everything planned or queued
 * and not yet sent for an invoice or a debtor. Returns the number cancelled or negative. */
typedef enum {
    SCHED_SCOPE_INVOICE, SCHED_SCOPE_DEBTOR, SCHED_SCOPE_CONTACT, SCHED_SCOPE_PENDING_INVOICE,
    SCHED_SCOPE_PENDING_DEBTOR, SCHED_SCOPE_PENDING_DEBTOR_UNTRACED
} sched_scope_t;
int sched_cancel (hk_daemon_t *d, sched_scope_t scope, const char *id, const char *debtor_id,
                  const char *reason, const char *rule);

/* After a debtor's contact was cancelled: the debtor's planned contacts that the caps moved
 * away from the minute they wanted (R-C2, contact.wanted_at) come back as near to it as the
 * debtor's other contacts allow, never later than they are (review.c). Returns how many
 * moved, or negative. */
int sched_respace (hk_daemon_t *d, const char *debtor_id);

/* The debtor's variant for a new debt: the strategy's split, or 0 when the challenger is
 * switched off (config "challenger"). */
int sched_variant (hk_daemon_t *d, const char *debtor);

/* True for the channels that reach the debtor (email, sms, phone, letter, visit); agency,
 * legal and tracing are hand-overs, outside the timing rules and the caps. */
bool sched_debtor_facing (const char *channel);
/* Slots of an open-addressing table for n entries: a power of two, at least 64, at least
 * twice n (so it never fills and probes stay short). */
static inline unsigned
sched_table_slots (int n)
{
    unsigned size = 64;
    while (size < (unsigned) n * 2u)
        size <<= 1;
    return size;
}

/* How far back the contacts made count toward the caps: the week cap's ISO week and the gap
 * (at most a week), with a day to spare for time zones. */
#define SCHED_CAPS_LOOKBACK_US (8 * HK_US_PER_DAY)

/* The same channels as an SQL condition on a contact's channel column. */
#define SCHED_FACING_SQL "channel IN ('email', 'sms', 'phone', 'letter', 'visit')"

/* contact_outcome.recorded: what came of a dispatched contact (outcome.c). Returns 0 or
 * negative. */
int sched_on_outcome (hk_daemon_t *d, const Huikuan__V1__ContactOutcomeRecorded *ev);

/* The fleet clock's now as RFC 3339 text (a static buffer per call site is not needed: the
 * text lives in the daemon state until the next call). */
const char *sched_now_text (hk_daemon_t *d);

/* Passes, each in its own transaction; return how much was done or negative. sched_dispatch
 * takes one batch (dispatch_batch) and returns the due contacts it handled: dispatched,
 * deferred or cancelled. With own_share, only contacts of this instance's share of the
 * debtors are taken (sched_dispatch_share); *taken (may be NULL) receives how many contacts
 * the batch took, which is 0 when none was left for it. */
int sched_review (hk_daemon_t *d);
int sched_dispatch (hk_daemon_t *d, bool own_share, int *taken);
/* Looks up the live scheduler instances of this tenant in the directory (heartbeat within
 * 15 s), at most every 5 s: sched_t.share_n and share_k, this instance's place among them by
 * name. On a database error the share is left as it was. */
void sched_dispatch_share (hk_daemon_t *d, int64_t mono_us);
int sched_check_promises (hk_daemon_t *d);
int sched_cadence (hk_daemon_t *d);

/* Comma list "R-C1,R-S2" -> text[] for the contact row and the repeated rules field. */
int sched_split_rules (const char *list, char *buf, size_t len, char **out, int max);

#endif
