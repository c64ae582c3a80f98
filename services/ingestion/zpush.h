/* zpush: systems that push feeds over ZeroMQ (docs/feeds.md, "Pushing feeds").
 *
 * A ROUTER socket takes one FeedBatch (proto/huikuan/v1/feed.proto) per message from REQ or
 * DEALER clients. A batch is turned into a JSON Lines feed in the project schema and stored
 * durably in the inbox (hk_file_publish) before the answer "accepted <file>"; the daemon then
 * takes it in like a dropped file (rejects, report, events). A batch that is not a FeedBatch,
 * has no records, names itself badly or is too large is answered "rejected: <reason>" and
 * nothing is stored. */
#ifndef HK_INGESTION_ZPUSH_H
#define HK_INGESTION_ZPUSH_H

#include <stddef.h>
#include <stdint.h>

/* The JSON Lines text of a packed FeedBatch (malloc'd into *text_out, caller frees) and the
 * batch's name (borrowed from nothing: copied into name, at most name_len - 1 bytes). Returns
 * 0, or HK_EINVAL with why. */
int hk_zpush_to_jsonl (const void *data, size_t len, char *name, size_t name_len,
                       char **text_out, size_t *text_len, char *why, size_t why_len);

typedef struct hk_zpush hk_zpush_t;

/* Binds endpoint and serves it on a thread of its own, storing batches in inbox. NULL with err
 * on failure. */
hk_zpush_t *hk_zpush_start (const char *endpoint, const char *inbox, int64_t max_bytes,
                            char *err, size_t err_len);
void hk_zpush_stop (hk_zpush_t **self_p);

#endif
