/* render: the written notice (R-C1 written_notice) as an e-mail. Pure: no I/O.
 * R-N1: concise, amount first, short sentences and paragraphs. */
#ifndef HK_NOTIFICATION_RENDER_H
#define HK_NOTIFICATION_RENDER_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *contact_id;
    const char *tenant;
    const char *debtor_name;     /* may be "" */
    const char *recipient;       /* e-mail address */
    const char *sender;          /* From: address */
    const char *invoice_id;
    const char *currency;
    int64_t outstanding_minor;
    const char *due_on;          /* YYYY-MM-DD */
    int32_t dpd;
    int64_t now_us;              /* Date: header, by the fleet clock */
} hk_notice_t;

#define HK_NOTICE_TEMPLATE "written_notice.v1"

/* Renders the whole RFC 5322 message (headers, blank line, UTF-8 text body, CRLF line ends)
 * into a malloc'd string the caller frees. NULL on ENOMEM or an unknown currency. */
char *hk_render_notice (const hk_notice_t *n);

#endif
