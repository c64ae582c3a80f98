/* files: small filesystem helpers shared by daemons that own folders (inbox, outbox). */
#ifndef HUIKUAN_FILES_H
#define HUIKUAN_FILES_H

/* Creates path and its missing parents (mode 0755), like mkdir -p. Returns 0 or HK_EIO with
 * errno set. */
int hk_mkdirs (const char *path);

#endif
