/* digest: SHA-256 as lowercase hex (OpenSSL libcrypto), for content hashes (R-N3) and
 * intake file identity. */
#ifndef HUIKUAN_DIGEST_H
#define HUIKUAN_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#define HK_SHA256_HEX_LEN 65  /* 64 hex digits and NUL */

/* Hash of a buffer. Returns 0 or HK_ENOMEM. */
int hk_sha256_hex (const void *data, size_t len, char out[HK_SHA256_HEX_LEN]);
/* Hash of a file's bytes, streamed. Returns 0, HK_EIO or HK_ENOMEM. */
int hk_sha256_file_hex (const char *path, char out[HK_SHA256_HEX_LEN]);

/* FNV-1a (32 bits) of a string: the hash of the in-memory tables (bus producers, intake
 * batches, dispatch debts). Not for anything stored or compared across processes. */
uint32_t hk_str_hash (const char *s);

#endif
