/* store: writes one validated fact to PostgreSQL with its event, inside the caller's open
 * transaction (promise 1). Idempotent: a fact identical to what is stored writes nothing and
 * emits nothing; a changed one updates and emits with changed=true. */
#ifndef HK_INGESTION_STORE_H
#define HK_INGESTION_STORE_H

#include "feed.h"
#include "huikuan/daemon.h"

/* Invoices are stored in batches (a probe of their ids, then one UPDATE of the changed, one
 * COPY of the new and one COPY of their events), the other kinds one by one; before a fact of
 * another kind the pending invoices are flushed, so order within a file is kept (a payment
 * sees the invoices above it). */
typedef struct hk_store hk_store_t;

/* d is borrowed. NULL on ENOMEM. */
hk_store_t *hk_store_new (hk_daemon_t *d);
void hk_store_destroy (hk_store_t **self_p);

/* Stores or queues one fact (strings are copied). Returns 0 or HK_EDB/HK_ENOMEM; after an error
 * the transaction must be rolled back (hk_store_rollback) and the store reset. HK_ENOTFOUND is no
 * such error: the fact names something the database does not have (a contact outcome for a task
 * never dispatched), nothing was written, and err says which field and why (the caller rejects the
 * row, as for a validation error). */
int hk_store_fact (hk_store_t *self, const hk_fact_t *fact, const char *source, long line,
                   hk_row_error_t *err);
/* Writes what is queued. Call before committing. Returns 0 or HK_EDB/HK_ENOMEM. */
int hk_store_flush (hk_store_t *self);
/* Facts written (new or changed) and unchanged since the last reset. */
int hk_store_accepted (const hk_store_t *self);
int hk_store_unchanged (const hk_store_t *self);
/* Drops anything queued and zeroes the counters (new file, or after a rollback); first waits
 * for the lanes' workers to finish what they were handed. */
void hk_store_reset (hk_store_t *self);

/* Two lanes (issue 3: intake speed). For a file that holds invoices alone, called after the caller
 * began its transaction on the daemon's connection: the file's invoices are then split by debtor
 * between that connection and a second one of the store's, each writing its debtors' invoices and
 * their events in a transaction of its own (the second as producer d->producer2, which the
 * daemon's loop relays), so that two backends work at once. Returns 0, also when the second
 * connection cannot be had (one lane then, logged once). A file whose lanes wait for each other
 * (an invoice moving between debtors of both lanes) fails with HK_ECONFLICT from hk_store_fact or
 * hk_store_flush: roll back and take it again without splitting. */
int hk_store_split (hk_store_t *self);
/* Ends the file's transaction(s): commits the second lane, then the caller's. */
int hk_store_commit (hk_store_t *self);
void hk_store_rollback (hk_store_t *self);
/* The connection whose statement failed last (a lane's, or the caller's): its SQLSTATE and
 * message say why. */
hk_db_t *hk_store_error_db (const hk_store_t *self);


#endif
