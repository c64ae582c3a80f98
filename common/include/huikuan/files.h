/* files: small filesystem helpers shared by daemons that own folders (inbox, outbox). */
#ifndef HUIKUAN_FILES_H
#define HUIKUAN_FILES_H

/* Creates path and its missing parents (mode 0755), like mkdir -p. Returns 0 or HK_EIO with
 * errno set. */
int hk_mkdirs (const char *path);

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Reads all of f into a malloc'd buffer (NUL-terminated, the NUL not counted in *len_out; the
 * caller frees). Refuses inputs over max_bytes. Returns 0, HK_EIO, HK_ENOMEM or HK_EINVAL (too
 * large). For small documents that a parser needs whole (bank statements). */
int hk_file_read_all (FILE *f, size_t max_bytes, char **data_out, size_t *len_out);

/* A file name a client may give for a file it hands over: letters, digits, '.', '_', '-';
 * not hidden; 1..100 bytes. */
bool hk_file_name_ok (const char *name);

/* Puts the complete, fsync'd and closed file tmp (in dir) in place as dir/name: linked in, so
 * an existing dir/name is never replaced; tmp removed in every case; the folder fsync'd so the
 * new name survives a crash. Returns 0 or HK_EIO with errno set (EEXIST: a file of that name
 * is there). */
int hk_file_link_in (const char *tmp, const char *dir, const char *name);

/* Stores len bytes as dir/name so that it is complete or absent, even across a crash: written
 * under a hidden name, fsync'd, linked in (an existing dir/name is never replaced), the folder
 * fsync'd. Returns 0, HK_EINVAL (bad name), or HK_EIO with errno set (EEXIST: a file of that
 * name is there). */
int hk_file_publish (const char *dir, const char *name, const void *data, size_t len);

#endif
