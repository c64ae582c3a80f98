/* config: one table per daemon (STYLE 7). Load order: defaults from the table, then the file,
 * then the environment (HUIKUAN_<DAEMON>_<KEY>, falling back to HUIKUAN_<KEY> for keys every
 * daemon shares), then validation. Defaults live only in the tables. */
#ifndef HUIKUAN_CONFIG_H
#define HUIKUAN_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum {
    HK_CFG_STRING,
    HK_CFG_INT,       /* 64-bit integer within [min, max] */
    HK_CFG_BOOL,      /* true/false/yes/no/on/off/1/0 */
    HK_CFG_DURATION   /* "500ms", "30s", "5m", "3d"; stored as microseconds within [min, max] */
} hk_cfg_type_t;

enum {
    HK_CFG_NORELOAD  = 1u << 0,  /* SIGHUP does not change it; needs a restart */
    HK_CFG_SENSITIVE = 1u << 1   /* redacted when shown (passwords inside URLs too) */
};

typedef struct {
    const char *name;            /* lower_snake_case key */
    hk_cfg_type_t type;
    const char *default_value;   /* as text; NULL means empty string / 0 */
    int64_t min, max;            /* for INT and DURATION; ignored when min == max == 0 */
    unsigned flags;
    /* Optional extra check; returns 0 or non-zero with a reason in err. */
    int (*validate) (const char *value, char *err, size_t errlen);
    const char *help;
} hk_cfg_entry_t;

/* Keys shared by every daemon (instance, database_url, redis_url, bus_bind, http_listen,
 * log_level, log_format, tenant, tenant_time_zone, tick, run_dir, migrate_on_start).
 * Terminated by an entry with name == NULL. */
extern const hk_cfg_entry_t hk_config_common[];

typedef struct hk_config hk_config_t;

/* daemon: "aging" etc. (used for HUIKUAN_AGING_*). tables: NULL-terminated list of entry
 * tables, each NULL-name terminated; the caller keeps them alive. Returns NULL on ENOMEM. */
hk_config_t *hk_config_new (const char *daemon, const hk_cfg_entry_t *const *tables);
void hk_config_destroy (hk_config_t **self_p);

/* Loads defaults, the file (NULL: none; "key = value" lines, '#' comments), the environment,
 * then validates everything. Returns 0 or HK_ECONFIG with "file:line: key: reason" in err. */
int hk_config_load (hk_config_t *self, const char *file, char *err, size_t errlen);
/* Re-reads file and environment; applies only reloadable keys that changed, keeps the old
 * values when anything fails to validate. Returns number of keys changed or HK_ECONFIG. */
int hk_config_reload (hk_config_t *self, char *err, size_t errlen);

/* Typed getters; the name must be in a table (an unknown name aborts in debug builds and
 * returns ""/0). Strings stay owned by the config until the next reload/destroy. */
const char *hk_config_str (const hk_config_t *self, const char *name);
int64_t hk_config_int (const hk_config_t *self, const char *name);   /* INT, DURATION (us) */
bool hk_config_bool (const hk_config_t *self, const char *name);

/* Writes "key = value" for every key, sensitive values redacted ("********", or the password
 * part of a URL), to out. */
void hk_config_dump (const hk_config_t *self, FILE *out);
/* Redacts a value for display into buf (URL passwords, sensitive keys). */
void hk_config_redact (const hk_cfg_entry_t *entry, const char *value, char *buf, size_t len);
/* Prints the table as help text (name, type, default, description). */
void hk_config_help (const hk_config_t *self, FILE *out);

#endif
