/* camt: ISO 20022 bank-to-customer statements (camt.053, BkToCstmrStmt/Stmt/Ntry) and
 * debit/credit notifications (camt.054, BkToCstmrDbtCdtNtfctn/Ntfctn/Ntry), any version,
 * read with libxml2 into `payment` records (docs/feeds.md).
 *
 * Credit entries become payments (one per transaction detail when an entry is a batch whose
 * details carry amounts that add up to the entry); debit entries are skipped; reversals,
 * unbooked entries and entries without amount, currency or date are rejected with a reason.
 * The document is parsed without network access and without entity expansion; a DOCTYPE is
 * refused. The whole file is checked (well-formed, camt namespace, statements present) before
 * the first record is handed to the sink.
 *
 * Ownership: f is borrowed (the caller closes it); every record and string passed to the sink
 * lives only during the call. The reader keeps nothing after it returns. */
#ifndef HK_INGESTION_CAMT_H
#define HK_INGESTION_CAMT_H

#include <stdio.h>

#include "record.h"

/* zone: IANA zone in which date-only bookings are taken at 00:00 (e.g. "Asia/Shanghai").
 * Returns 0; a negative code returned by the sink; HK_EINVAL for an unknown zone; HK_EIO or
 * HK_ENOMEM; or HK_EPARSE with why when the file is not well-formed camt (nothing of it
 * should be applied). `line` in records and rejects is the entry number (1-based, across the
 * file). */
int hk_camt_read (FILE *f, const char *zone, const hk_sink_t *sink, char *why, size_t whylen);

#endif
