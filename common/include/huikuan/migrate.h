/* migrate: numbered SQL migrations (common/sql/NNNN_name.sql), embedded in every binary at
 * build time and applied in order under an advisory lock, each in its own transaction, and
 * recorded in schema_migration. Safe with many daemons starting at once. */
#ifndef HUIKUAN_MIGRATE_H
#define HUIKUAN_MIGRATE_H

#include "huikuan/db.h"

typedef struct {
    int version;
    const char *name;
    const char *sql;
} hk_migration_t;

/* Generated table, terminated by { 0, NULL, NULL }. */
extern const hk_migration_t hk_migrations[];

/* Applies what is missing. Returns the number applied (>= 0) or HK_EDB. */
int hk_migrate (hk_db_t *db);
/* Highest applied version (0 when none) or HK_EDB. */
int hk_migrate_version (hk_db_t *db);

#endif
