/* Self-test of log: the text and JSON line formats (read back from a file), quoting, level
 * filtering before formatting, and masking of phone numbers, e-mail addresses and names. */
#include <ctype.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "huikuan/errcodes.h"
#include "huikuan/log.h"

static int s_evaluated;

static int64_t
s_expensive (void)
{
    s_evaluated++;
    return 42;
}

static bool
s_timestamp_ok (const char *ts)
{
    /* 2026-11-24T07:27:24.123Z */
    const char *shape = "dddd-dd-ddTdd:dd:dd.dddZ";
    for (size_t i = 0; shape[i]; i++) {
        if (shape[i] == 'd' ? !isdigit ((unsigned char) ts[i]) : ts[i] != shape[i])
            return false;
    }
    return true;
}

static int
s_masks (bool verbose)
{
    int failures = 0;
    char buf[64];
    hk_mask_phone ("13812345678", buf, sizeof buf);
    CHECK_STR (buf, "*******5678");
    hk_mask_phone ("+86 138-1234-5678", buf, sizeof buf);
    CHECK_STR (buf, "+** ***-****-5678");
    hk_mask_phone ("12345", buf, sizeof buf);   /* too short to show any of it */
    CHECK_STR (buf, "*****");
    hk_mask_phone ("", buf, sizeof buf);
    CHECK_STR (buf, "");
    hk_mask_phone (NULL, buf, sizeof buf);
    CHECK_STR (buf, "");
    hk_mask_email ("zhang.san@acme.cn", buf, sizeof buf);
    CHECK_STR (buf, "z***@a***.cn");
    hk_mask_email ("x@mail.acme.com.cn", buf, sizeof buf);
    CHECK_STR (buf, "x***@m***.cn");
    hk_mask_email ("张三@例子.中国", buf, sizeof buf);
    CHECK_STR (buf, "张***@例***.***");
    hk_mask_email ("not-an-address", buf, sizeof buf);
    CHECK_STR (buf, "n***");
    hk_mask_email ("@acme.cn", buf, sizeof buf);
    CHECK_STR (buf, "***@a***.cn");
    hk_mask_email ("root@localhost", buf, sizeof buf);
    CHECK_STR (buf, "r***@l***");
    hk_mask_name ("张三丰", buf, sizeof buf);
    CHECK_STR (buf, "张**");
    hk_mask_name ("李四", buf, sizeof buf);
    CHECK_STR (buf, "李*");
    hk_mask_name ("张", buf, sizeof buf);
    CHECK_STR (buf, "*");
    hk_mask_name ("欧阳娜娜", buf, sizeof buf);
    CHECK_STR (buf, "欧***");
    hk_mask_name ("Zhang San", buf, sizeof buf);
    CHECK_STR (buf, "Z********");
    hk_mask_name ("\xff\xfe", buf, sizeof buf);   /* not UTF-8: nothing of it shows */
    CHECK_STR (buf, "**");
    /* a short buffer never gets half a character */
    char tiny[4];
    hk_mask_name ("张三丰", tiny, sizeof tiny);
    CHECK_STR (tiny, "张");
    char two[3];
    hk_mask_name ("张三丰", two, sizeof two);
    CHECK_STR (two, "");
    hk_mask_phone ("13812345678", tiny, sizeof tiny);
    CHECK_STR (tiny, "***");
    if (verbose)
        printf ("  masks ok\n");
    return failures;
}

int
hk_log_test (bool verbose)
{
    int failures = 0;
    hk_log_level_t saved = hk_log_level;
    hk_log_level_t lv;
    CHECK_INT (hk_log_level_parse ("debug", &lv), 0);
    CHECK_INT (lv, HK_DEBUG);
    CHECK_INT (hk_log_level_parse ("WARN", &lv), 0);
    CHECK_INT (lv, HK_WARN);
    CHECK_INT (hk_log_level_parse ("error", &lv), 0);
    CHECK_INT (lv, HK_ERROR);
    CHECK_INT (hk_log_level_parse ("verbose", &lv), HK_EINVAL);
    CHECK_INT (hk_log_level_parse (NULL, &lv), HK_EINVAL);
    CHECK_INT (lv, HK_ERROR);

    FILE *f = tmpfile ();
    CHECK (f != NULL);
    if (!f)
        return failures;
    hk_log_set_stream (f);

    /* Text */
    hk_log_init ("aging", HK_INFO, false);
    CHECK_INT (hk_log_level, HK_INFO);
    HK_LOG (HK_INFO, "invoice.aged", HK_S ("invoice", "INV-1"), HK_I ("dpd", 3));
    char *out = hk_test_take (f);
    char want[128];
    snprintf (want, sizeof want, " INFO aging[%d] invoice.aged invoice=INV-1 dpd=3\n",
              (int) getpid ());
    CHECK (out && strlen (out) == 24 + strlen (want));
    CHECK (out && s_timestamp_ok (out));
    CHECK (out && strlen (out) >= 24 && strcmp (out + 24, want) == 0);
    if (verbose && out)
        printf ("  %s", out);
    free (out);

    HK_LOG (HK_WARN, "payment.note", HK_S ("note", "late \"again\" said x=1"),
            HK_S ("empty", ""), HK_S ("null", NULL), HK_S ("lines", "a\nb\tc\\d"),
            HK_I ("neg", -5), HK_S ("raw", "a\xff" "b"), HK_S ("city", "上海"));
    out = hk_test_take (f);
    CHECK (out && strstr (out, " WARN aging["));
    CHECK (out && strstr (out, " payment.note note=\"late \\\"again\\\" said x=1\" empty=\"\" "
                               "null=\"\" lines=\"a\\nb\\tc\\\\d\" neg=-5 raw=a?b city=上海\n"));
    CHECK (out && strchr (out, '\n') == out + strlen (out) - 1);   /* one line */
    free (out);

    /* PII in text lines */
    HK_LOG (HK_INFO, "contact.planned", HK_PHONE ("phone", "13812345678"),
            HK_EMAIL ("email", "zhang.san@acme.cn"), HK_NAME ("debtor", "张三丰"));
    out = hk_test_take (f);
    CHECK (out && strstr (out, " phone=*******5678 email=z***@a***.cn debtor=张**\n"));
    CHECK (out && !strstr (out, "1381234") && !strstr (out, "zhang") && !strstr (out, "三丰"));
    free (out);

    /* A long value goes through whole, on one line */
    char *big = malloc (5001);
    memset (big, 'x', 5000);
    big[5000] = 0;
    HK_LOG (HK_INFO, "big", HK_S ("v", big));
    out = hk_test_take (f);
    CHECK (out && strstr (out, big) && out[strlen (out) - 1] == '\n');
    free (out);
    free (big);

    /* Levels: below the level nothing is evaluated nor written */
    s_evaluated = 0;
    HK_LOG (HK_DEBUG, "noise", HK_I ("n", s_expensive ()));
    CHECK_INT (s_evaluated, 0);
    hk_log_init ("aging", HK_WARN, false);
    HK_LOG (HK_INFO, "noise", HK_I ("n", s_expensive ()));
    CHECK_INT (s_evaluated, 0);
    hk_kv_t direct[] = { HK_I ("n", 1) };
    hk_log_write (HK_INFO, "direct", direct, 1);
    out = hk_test_take (f);
    CHECK_STR (out, "");
    free (out);
    HK_LOG (HK_ERROR, "failed", HK_I ("n", s_expensive ()));
    CHECK_INT (s_evaluated, 1);
    out = hk_test_take (f);
    CHECK (out && strstr (out, " ERROR aging[") && strstr (out, " failed n=42\n"));
    free (out);
    hk_log_init ("aging", HK_DEBUG, false);
    HK_LOG (HK_DEBUG, "detail");
    out = hk_test_take (f);
    CHECK (out && strstr (out, " DEBUG aging[") && strstr (out, " detail\n"));
    free (out);

    /* JSON */
    hk_log_init ("aging", HK_DEBUG, true);
    HK_LOG (HK_INFO, "invoice.aged", HK_S ("invoice", "INV-1"), HK_I ("dpd", 3),
            HK_I ("big", INT64_C (9007199254740993)), HK_PHONE ("phone", "13812345678"),
            HK_EMAIL ("email", "zhang.san@acme.cn"), HK_NAME ("debtor", "张三丰"),
            HK_S ("event", "clash"), HK_S ("note", "say \"hi\"\n/ok"));
    out = hk_test_take (f);
    CHECK (out && strchr (out, '\n') == out + strlen (out) - 1);
    json_object *o = out ? json_tokener_parse (out) : NULL;
    CHECK (o != NULL);
    if (o) {
        json_object *v;
        CHECK (json_object_object_get_ex (o, "ts", &v)
               && s_timestamp_ok (json_object_get_string (v)));
        CHECK (json_object_object_get_ex (o, "level", &v));
        CHECK_STR (json_object_get_string (v), "info");
        CHECK (json_object_object_get_ex (o, "daemon", &v));
        CHECK_STR (json_object_get_string (v), "aging");
        CHECK (json_object_object_get_ex (o, "pid", &v) && json_object_is_type (v, json_type_int));
        CHECK_INT (json_object_get_int64 (v), getpid ());
        CHECK (json_object_object_get_ex (o, "event", &v));
        CHECK_STR (json_object_get_string (v), "invoice.aged");
        CHECK (json_object_object_get_ex (o, "event_", &v));
        CHECK_STR (json_object_get_string (v), "clash");
        CHECK (json_object_object_get_ex (o, "invoice", &v));
        CHECK_STR (json_object_get_string (v), "INV-1");
        CHECK (json_object_object_get_ex (o, "dpd", &v) && json_object_is_type (v, json_type_int));
        CHECK_INT (json_object_get_int64 (v), 3);
        CHECK (json_object_object_get_ex (o, "big", &v));
        CHECK_INT (json_object_get_int64 (v), INT64_C (9007199254740993));
        CHECK (json_object_object_get_ex (o, "phone", &v));
        CHECK_STR (json_object_get_string (v), "*******5678");
        CHECK (json_object_object_get_ex (o, "email", &v));
        CHECK_STR (json_object_get_string (v), "z***@a***.cn");
        CHECK (json_object_object_get_ex (o, "debtor", &v));
        CHECK_STR (json_object_get_string (v), "张**");
        CHECK (json_object_object_get_ex (o, "note", &v));
        CHECK_STR (json_object_get_string (v), "say \"hi\"\n/ok");
        json_object_put (o);
    }
    CHECK (out && !strstr (out, "1381234") && !strstr (out, "三丰"));
    if (verbose && out)
        printf ("  %s", out);
    free (out);
    HK_LOG (HK_ERROR, "bad.bytes", HK_S ("raw", "a\xc3" "b"));
    out = hk_test_take (f);
    o = out ? json_tokener_parse (out) : NULL;
    CHECK (o != NULL);
    if (o) {
        json_object *v;
        CHECK (json_object_object_get_ex (o, "level", &v));
        CHECK_STR (json_object_get_string (v), "error");
        CHECK (json_object_object_get_ex (o, "raw", &v));
        CHECK_STR (json_object_get_string (v), "a?b");
        json_object_put (o);
    }
    free (out);

    failures += s_masks (verbose);

    hk_log_set_stream (NULL);
    fclose (f);
    hk_log_init ("huikuan", saved, false);
    return failures;
}
