/* record: the canonical record every feed reader produces. */
#include "record.h"

#include <string.h>

#include "huikuan/errcodes.h"

static const char *const s_kind_names[HK_REC_KIND_COUNT] = {
    [HK_REC_DEBTOR] = "debtor",
    [HK_REC_CONTACT] = "contact",
    [HK_REC_CONTRACT] = "contract",
    [HK_REC_INVOICE] = "invoice",
    [HK_REC_CREDIT_NOTE] = "credit_note",
    [HK_REC_PAYMENT] = "payment",
    [HK_REC_PROMISE] = "promise",
    [HK_REC_DISPUTE] = "dispute",
    [HK_REC_INCOMING_PAYMENT] = "incoming_payment",
    [HK_REC_DELIVERY] = "delivery",
    [HK_REC_LIMITATION_INTERRUPTION] = "limitation_interruption",
    [HK_REC_CONTACT_OUTCOME] = "contact_outcome",
};

const char *
hk_record_kind_name (hk_record_kind_t kind)
{
    return kind > HK_REC_UNKNOWN && kind < HK_REC_KIND_COUNT ? s_kind_names[kind] : NULL;
}

hk_record_kind_t
hk_record_kind_parse (const char *name)
{
    if (!name)
        return HK_REC_UNKNOWN;
    if (strcmp (name, "customer") == 0)
        return HK_REC_DEBTOR;
    for (int k = HK_REC_UNKNOWN + 1; k < HK_REC_KIND_COUNT; k++)
        if (strcmp (name, s_kind_names[k]) == 0)
            return (hk_record_kind_t) k;
    return HK_REC_UNKNOWN;
}

const char *
hk_record_get (const hk_record_t *rec, const char *name)
{
    for (int i = 0; i < rec->nfields; i++)
        if (strcmp (rec->fields[i].name, name) == 0)
            return rec->fields[i].value ? rec->fields[i].value : "";
    return "";
}

int
hk_record_set (hk_record_t *rec, const char *name, const char *value)
{
    for (int i = 0; i < rec->nfields; i++)
        if (strcmp (rec->fields[i].name, name) == 0) {
            rec->fields[i].value = value;
            return 0;
        }
    if (rec->nfields >= HK_RECORD_MAX_FIELDS)
        return HK_EINVAL;
    rec->fields[rec->nfields].name = name;
    rec->fields[rec->nfields].value = value;
    rec->nfields++;
    return 0;
}
