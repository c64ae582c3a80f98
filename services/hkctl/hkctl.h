/* hkctl: commands kept in their own files (main.c dispatches). Each takes the connection and
 * its arguments (argv[0] is the command word) and returns the exit code. */
#ifndef HK_HKCTL_H
#define HK_HKCTL_H

#include <stdbool.h>

#include "huikuan/db.h"

int hkctl_plan (hk_db_t *db, int argc, char **argv);  /* hkctl plan DEBTOR [--json] */
int hkctl_why (hk_db_t *db, int argc, char **argv);   /* hkctl why CONTACT */
/* hkctl report strategy [--json]: champion/challenger results (argv[0] is "strategy") */
int hkctl_report_strategy (hk_db_t *db, int argc, char **argv);

#endif
