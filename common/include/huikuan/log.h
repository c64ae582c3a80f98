/* log: structured logging (STYLE 8). One line per event: fixed prefix (time, level, daemon,
 * pid), then the event name and key=value pairs; or one JSON object per line. The macro
 * checks the level before anything is formatted. PII values are masked on the way out. */
#ifndef HUIKUAN_LOG_H
#define HUIKUAN_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { HK_DEBUG = 0, HK_INFO = 1, HK_WARN = 2, HK_ERROR = 3 } hk_log_level_t;

typedef enum {
    HK_KV_NONE = 0, HK_KV_STR, HK_KV_INT,
    HK_KV_PHONE, HK_KV_EMAIL, HK_KV_NAME   /* PII: masked when written */
} hk_kv_kind_t;

typedef struct {
    const char *key;
    hk_kv_kind_t kind;
    const char *s;
    int64_t i;
} hk_kv_t;

#define HK_S(k, v)     ((hk_kv_t) { .key = (k), .kind = HK_KV_STR, .s = (v) })
#define HK_I(k, v)     ((hk_kv_t) { .key = (k), .kind = HK_KV_INT, .i = (int64_t) (v) })
#define HK_PHONE(k, v) ((hk_kv_t) { .key = (k), .kind = HK_KV_PHONE, .s = (v) })
#define HK_EMAIL(k, v) ((hk_kv_t) { .key = (k), .kind = HK_KV_EMAIL, .s = (v) })
#define HK_NAME(k, v)  ((hk_kv_t) { .key = (k), .kind = HK_KV_NAME, .s = (v) })

extern hk_log_level_t hk_log_level;

/* HK_LOG (HK_INFO, "invoice.aged", HK_S ("invoice", id), HK_I ("dpd", dpd)); */
#define HK_LOG(level, event, ...)                                                  \
    do {                                                                           \
        if ((level) >= hk_log_level) {                                             \
            hk_kv_t hk_kv_[] = { { 0 }, __VA_ARGS__ };                              \
            hk_log_write ((level), (event), hk_kv_ + 1,                            \
                          sizeof hk_kv_ / sizeof hk_kv_[0] - 1);                    \
        }                                                                          \
    } while (0)

/* daemon: name in the prefix; json: one JSON object per line. Output goes to stderr unless
 * hk_log_set_stream() says otherwise. Safe to call again (reload). */
void hk_log_init (const char *daemon, hk_log_level_t level, bool json);
/* Returns 0 or HK_EINVAL for names other than debug/info/warn/error. */
int hk_log_level_parse (const char *name, hk_log_level_t *out);
/* Redirects output (tests); NULL restores stderr. */
void hk_log_set_stream (void *file);
void hk_log_write (hk_log_level_t level, const char *event, const hk_kv_t *kv, size_t n);

/* PII masking helpers (promise 7). Each writes a NUL-terminated masked form into buf:
 *   phone "13812345678"        -> "*******5678"
 *   email "zhang.san@acme.cn"  -> "z***@a***.cn"
 *   name  "张三丰"             -> "张**"   (first character kept, UTF-8 aware)  */
void hk_mask_phone (const char *in, char *buf, size_t len);
void hk_mask_email (const char *in, char *buf, size_t len);
void hk_mask_name (const char *in, char *buf, size_t len);

#endif
