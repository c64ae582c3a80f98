/* encoding: feed files as UTF-8, whatever they were written in (UTF-8 or GB18030/GBK/GB2312).
 *
 * hk_encoding_utf8 wraps a stream so that readers (csv.c, jsonl.c, mapping.c) always see UTF-8.
 * It streams: at most 64 KiB of input (the detection window) and 16 KiB of output are held at
 * a time, and multibyte sequences split across reads are carried over.
 *
 * Ownership: hk_encoding_utf8 takes `in` over in every case. On success the returned FILE owns
 * it: fclose() on the returned FILE closes `in` and frees everything. On failure (NULL) `in`
 * has been closed already: the caller must not touch it again.
 *
 * Errors while reading: a byte sequence that is not valid in the stream's encoding (or a
 * truncated sequence at end of file) makes the read fail with errno EILSEQ; stdio then sets the
 * stream's error flag, so getc() returns EOF and ferror() is true. A reader that sees EOF must
 * therefore check ferror() and, when set, report hk_encoding_error() (which says where and
 * what) and fail the file as a whole. The failure is sticky: later reads fail too. */
#ifndef HK_INGESTION_ENCODING_H
#define HK_INGESTION_ENCODING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* declared: "utf-8" (also "utf8"), "gb18030", "gbk", "gb2312" or "cp936" (case-insensitive;
 * GBK and GB2312 are decoded as GB18030, of which they are subsets), or NULL / "" / "auto" to
 * detect: the first 64 KiB valid UTF-8 → UTF-8, else valid GB18030 → GB18030, else NULL with a
 * reason (`in` is closed). UTF-8 is passed through byte for byte (a BOM stays: the readers skip it) but
 * validated as it goes. Returns NULL with why for an unknown declared encoding, undetectable
 * data, a read error on `in`, or no memory. */
FILE *hk_encoding_utf8 (FILE *in, const char *declared, char *why, size_t whylen);

/* True when len bytes of s are well-formed UTF-8, by the same strict validator the streams use
 * (no overlong forms, no surrogates, nothing above U+10FFFF, no sequence cut at the end). */
bool hk_encoding_is_utf8 (const char *s, size_t len);

/* True for the names hk_encoding_utf8 accepts (NULL, "" and "auto" included). */
bool hk_encoding_known (const char *declared);

/* Why a read on a stream from hk_encoding_utf8 failed ("GB18030: invalid byte sequence at byte
 * 1234"), or NULL when it has not failed or f is not such a stream. The string belongs to the
 * stream and lives until fclose(f). Thread-safe. */
const char *hk_encoding_error (FILE *f);

/* Name of the encoding the stream decodes ("UTF-8" or "GB18030"), or NULL for other streams. */
const char *hk_encoding_name (FILE *f);

#endif
