/* hkctl plan / why: a debtor's next contacts with their reasons, and one contact explained
 * (what the scheduling daemon decided and why, read from PostgreSQL). */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hkctl.h"
#include "huikuan/rules.h"

static const char *
s_tenant (void)
{
    const char *t = getenv ("HUIKUAN_TENANT");
    return t && *t ? t : "default";
}

/* "{R-C1,R-S2}" -> each rule with its summary, one per line, indented. */
static void
s_print_rules (const char *array_text)
{
    char buf[512];
    snprintf (buf, sizeof buf, "%s", array_text);
    for (char *save = NULL, *tok = strtok_r (buf, "{},\"", &save); tok;
         tok = strtok_r (NULL, "{},\"", &save)) {
        const char *summary = hk_rule_summary (tok);
        printf ("    %-6s %s\n", tok, summary ? summary : "(not a doctrine rule)");
    }
}

static int
s_fail (hk_db_t *db)
{
    fprintf (stderr, "hkctl: %s\n", hk_db_errstr (db));
    return 1;
}

int
hkctl_plan (hk_db_t *db, int argc, char **argv)
{
    bool json = false;
    const char *debtor = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp (argv[i], "--json") == 0)
            json = true;
        else if (argv[i][0] == '-') {
            fprintf (stderr, "hkctl: plan: unknown option %s\n", argv[i]);
            return 2;
        } else
            debtor = argv[i];
    }
    if (!debtor) {
        fprintf (stderr, "usage: hkctl plan DEBTOR [--json]\n");
        return 2;
    }
    const char *p[] = { s_tenant (), debtor };
    PGresult *dr = hk_db_query (db,
                                "SELECT time_zone, calendar, coalesce (stance, ''),"
                                " coalesce (grade::text, ''), reachability, do_not_contact,"
                                " bankrupt FROM debtor WHERE tenant = $1 AND debtor_id = $2",
                                2, p);
    if (!dr)
        return s_fail (db);
    if (PQntuples (dr) == 0) {
        fprintf (stderr, "hkctl: plan: no debtor '%s' (tenant %s)\n", debtor, s_tenant ());
        PQclear (dr);
        return 1;
    }
    PGresult *cr = hk_db_query (db,
                                "SELECT invoice_id, state, coalesce (state_reason, ''), last_step,"
                                " coalesce (to_char (last_step_at AT TIME ZONE d.time_zone,"
                                "  'YYYY-MM-DD HH24:MI'), ''), phone_count, visit_count,"
                                " broken_promises, variant,"
                                " coalesce (to_char (next_review_at AT TIME ZONE d.time_zone,"
                                "  'YYYY-MM-DD HH24:MI'), ''), strategy || '@' || strategy_version"
                                " FROM collection c JOIN debtor d USING (tenant, debtor_id)"
                                " WHERE c.tenant = $1 AND c.debtor_id = $2 ORDER BY invoice_id",
                                2, p);
    PGresult *kr = cr ? hk_db_query (db,
                                     "SELECT contact_id, to_char (due_at AT TIME ZONE d.time_zone,"
                                     "  'YYYY-MM-DD Dy HH24:MI'), status, channel, step, kind,"
                                     " invoice_id, rules::text, coalesce (reason, ''),"
                                     " coalesce (caller_role, ''), coalesce (person_id, '')"
                                     " FROM contact c JOIN debtor d USING (tenant, debtor_id)"
                                     " WHERE c.tenant = $1 AND c.debtor_id = $2"
                                     "  AND (c.status = 'planned' OR c.updated_at > now () - interval '30 days')"
                                     " ORDER BY c.status <> 'planned', c.due_at, c.contact_id",
                                     2, p)
                     : NULL;
    if (!cr || !kr) {
        PQclear (dr);
        PQclear (cr);
        return s_fail (db);
    }
    if (json) {
        json_object *o = json_object_new_object ();
        json_object_object_add (o, "debtor", json_object_new_string (debtor));
        json_object_object_add (o, "time_zone", json_object_new_string (PQgetvalue (dr, 0, 0)));
        json_object_object_add (o, "calendar", json_object_new_string (PQgetvalue (dr, 0, 1)));
        json_object *debts = json_object_new_array ();
        for (int r = 0; r < PQntuples (cr); r++) {
            json_object *c = json_object_new_object ();
            static const char *const names[] = { "invoice_id", "state", "state_reason",
                                                 "last_step", "last_step_at", "phone_count",
                                                 "visit_count", "broken_promises", "variant",
                                                 "next_review", "strategy" };
            for (int f = 0; f < 11; f++)
                json_object_object_add (c, names[f], json_object_new_string (PQgetvalue (cr, r, f)));
            json_object_array_add (debts, c);
        }
        json_object_object_add (o, "debts", debts);
        json_object *contacts = json_object_new_array ();
        for (int r = 0; r < PQntuples (kr); r++) {
            json_object *c = json_object_new_object ();
            static const char *const names[] = { "contact_id", "due_local", "status", "channel",
                                                 "step", "kind", "invoice_id", "rules", "reason",
                                                 "caller_role", "person_id" };
            for (int f = 0; f < 11; f++)
                json_object_object_add (c, names[f], json_object_new_string (PQgetvalue (kr, r, f)));
            json_object_array_add (contacts, c);
        }
        json_object_object_add (o, "contacts", contacts);
        printf ("%s\n", json_object_to_json_string_ext (o, JSON_C_TO_STRING_PRETTY));
        json_object_put (o);
    } else {
        printf ("debtor %s  zone %s  calendar %s  stance %s  grade %s  %s%s%s\n", debtor,
                PQgetvalue (dr, 0, 0), PQgetvalue (dr, 0, 1), PQgetvalue (dr, 0, 2),
                PQgetvalue (dr, 0, 3), PQgetvalue (dr, 0, 4),
                PQgetvalue (dr, 0, 5)[0] == 't' ? "  DO NOT CONTACT" : "",
                PQgetvalue (dr, 0, 6)[0] == 't' ? "  BANKRUPT" : "");
        printf ("\ndebts (times local to the debtor)\n");
        printf ("  %-14s %-8s %-18s %-17s %5s %5s %6s %7s %-17s %s\n", "invoice", "state",
                "last step", "at", "calls", "visits", "broken", "variant", "next review",
                "strategy");
        for (int r = 0; r < PQntuples (cr); r++)
            printf ("  %-14s %-8s %-18s %-17s %5s %5s %6s %7s %-17s %s%s%s\n",
                    PQgetvalue (cr, r, 0), PQgetvalue (cr, r, 1), PQgetvalue (cr, r, 3),
                    PQgetvalue (cr, r, 4), PQgetvalue (cr, r, 5), PQgetvalue (cr, r, 6),
                    PQgetvalue (cr, r, 7), PQgetvalue (cr, r, 8)[0] == '1' ? "chall." : "champ.",
                    PQgetvalue (cr, r, 9), PQgetvalue (cr, r, 10),
                    *PQgetvalue (cr, r, 2) ? "  " : "", PQgetvalue (cr, r, 2));
        printf ("\ncontacts (planned first, then the last 30 days)\n");
        for (int r = 0; r < PQntuples (kr); r++) {
            printf ("  %s  %-10s %-6s %-16s %-16s %s  %s\n", PQgetvalue (kr, r, 1),
                    PQgetvalue (kr, r, 2), PQgetvalue (kr, r, 3), PQgetvalue (kr, r, 4),
                    PQgetvalue (kr, r, 5), PQgetvalue (kr, r, 6), PQgetvalue (kr, r, 0));
            printf ("      why: %s %s\n", PQgetvalue (kr, r, 7), PQgetvalue (kr, r, 8));
        }
        if (PQntuples (kr) == 0)
            printf ("  (none)\n");
    }
    PQclear (dr);
    PQclear (cr);
    PQclear (kr);
    return 0;
}

int
hkctl_why (hk_db_t *db, int argc, char **argv)
{
    if (argc < 2 || argv[1][0] == '-') {
        fprintf (stderr, "usage: hkctl why CONTACT_ID\n");
        return 2;
    }
    const char *p[] = { s_tenant (), argv[1] };
    PGresult *res = hk_db_query (
        db,
        "SELECT c.debtor_id, c.invoice_id, c.kind, c.step, c.channel, c.status,"
        " to_char (c.due_at AT TIME ZONE d.time_zone, 'YYYY-MM-DD Dy HH24:MI'), d.time_zone,"
        " c.rules::text, coalesce (c.reason, ''), coalesce (c.timing, ''),"
        " coalesce (c.caller_role, ''), coalesce (c.person_id, ''), coalesce (c.variant::text, ''),"
        " coalesce (c.strategy_version::text, ''), coalesce (c.promise_id, ''), c.cap_deferrals,"
        " coalesce (to_char (c.dispatched_at AT TIME ZONE d.time_zone, 'YYYY-MM-DD HH24:MI'), ''),"
        " coalesce (x.status, ''), coalesce (x.template, ''),"
        " coalesce ((SELECT string_agg (to_char (o.occurred_at AT TIME ZONE d.time_zone,"
        "   'YYYY-MM-DD HH24:MI') || ' ' || o.outcome || coalesce (' (' || o.note || ')', ''),"
        "   '; ' ORDER BY o.occurred_at) FROM contact_outcome o"
        "   WHERE o.tenant = c.tenant AND o.task_id = c.contact_id), ''),"
        " CASE WHEN c.wanted_at <> c.due_at THEN to_char (c.wanted_at AT TIME ZONE d.time_zone,"
        "  'YYYY-MM-DD Dy HH24:MI') ELSE '' END"
        " FROM contact c JOIN debtor d USING (tenant, debtor_id)"
        " LEFT JOIN delivery x ON x.contact_id = c.contact_id"
        " WHERE c.tenant = $1 AND c.contact_id::text = $2",
        2, p);
    if (!res)
        return s_fail (db);
    if (PQntuples (res) == 0) {
        fprintf (stderr, "hkctl: why: no contact '%s' (tenant %s)\n", argv[1], s_tenant ());
        PQclear (res);
        return 1;
    }
#define V(c) PQgetvalue (res, 0, c)
    printf ("contact %s\n", argv[1]);
    printf ("  debtor %s, invoice %s\n", V (0), V (1));
    printf ("  %s: %s by %s, %s\n", V (2), V (3), V (4), V (5));
    printf ("  when: %s (%s)\n", V (6), V (7));
    if (*V (21))
        printf ("  wanted: %s, moved clear of the debtor's other contacts (R-C2)\n", V (21));
    if (*V (10))
        printf ("  timing: %s\n", V (10));
    printf ("  reason: %s\n", V (9));
    if (*V (11) || *V (12))
        printf ("  speaking: %s to %s\n", *V (11) ? V (11) : "-", *V (12) ? V (12) : "the debtor");
    if (*V (13))
        printf ("  strategy version %s, %s\n", V (14), V (13)[0] == '1' ? "challenger" : "champion");
    if (*V (15))
        printf ("  promise: %s\n", V (15));
    if (atoi (V (16)) > 0)
        printf ("  deferred %s time(s) by the caps or the clock (see timing)\n", V (16));
    if (*V (17))
        printf ("  dispatched: %s\n", V (17));
    if (*V (18))
        printf ("  delivery: %s (template %s)\n", V (18), V (19));
    if (*V (20))
        printf ("  outcome: %s\n", V (20));
    printf ("  rules:\n");
    s_print_rules (V (8));
#undef V
    PQclear (res);
    return 0;
}

/* Champion/challenger results per variant and currency: debts, settled, recovered amount
 * (paid on the debts since they entered collection) and days from due date to the payment
 * that settled them. --json for machines. */
int
hkctl_report_strategy (hk_db_t *db, int argc, char **argv)
{
    bool json = argc > 1 && strcmp (argv[1], "--json") == 0;
    if (argc > 1 && !json) {
        fprintf (stderr, "usage: hkctl report strategy [--json]\n");
        return 2;
    }
    const char *p[] = { s_tenant () };
    PGresult *res = hk_db_query (
        db,
        "SELECT c.strategy || '@' || c.strategy_version, c.variant, i.currency, count (*),"
        "  count (*) FILTER (WHERE c.state = 'settled'),"
        "  sum (i.amount_minor - i.outstanding_minor),"
        "  coalesce (round (avg (paid.on - i.due_on) FILTER (WHERE c.state = 'settled'), 1)::text, '')"
        " FROM collection c JOIN invoice i ON i.tenant = c.tenant AND i.invoice_id = c.invoice_id"
        " LEFT JOIN LATERAL (SELECT max (pm.received_at)::date AS on FROM payment_allocation a"
        "  JOIN payment pm ON pm.tenant = a.tenant AND pm.payment_id = a.payment_id"
        "  WHERE a.tenant = i.tenant AND a.invoice_id = i.invoice_id) paid ON true"
        " WHERE c.tenant = $1 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
        1, p);
    if (!res)
        return s_fail (db);
    if (json) {
        json_object *arr = json_object_new_array ();
        for (int r = 0; r < PQntuples (res); r++) {
            json_object *o = json_object_new_object ();
            json_object_object_add (o, "strategy", json_object_new_string (PQgetvalue (res, r, 0)));
            json_object_object_add (o, "variant", json_object_new_string (
                                                      PQgetvalue (res, r, 1)[0] == '1' ? "challenger"
                                                                                       : "champion"));
            json_object_object_add (o, "currency", json_object_new_string (PQgetvalue (res, r, 2)));
            json_object_object_add (o, "debts", json_object_new_int64 (atoll (PQgetvalue (res, r, 3))));
            json_object_object_add (o, "settled", json_object_new_int64 (atoll (PQgetvalue (res, r, 4))));
            json_object_object_add (o, "recovered_minor",
                                    json_object_new_int64 (atoll (PQgetvalue (res, r, 5))));
            json_object_object_add (o, "avg_days_to_pay",
                                    *PQgetvalue (res, r, 6)
                                        ? json_object_new_string (PQgetvalue (res, r, 6))
                                        : NULL);
            json_object_array_add (arr, o);
        }
        printf ("%s\n", json_object_to_json_string_ext (arr, JSON_C_TO_STRING_PRETTY));
        json_object_put (arr);
    } else {
        printf ("%-16s %-10s %-8s %8s %8s %20s %16s\n", "strategy", "variant", "currency",
                "debts", "settled", "recovered (minor)", "avg days to pay");
        for (int r = 0; r < PQntuples (res); r++)
            printf ("%-16s %-10s %-8s %8s %8s %20s %16s\n", PQgetvalue (res, r, 0),
                    PQgetvalue (res, r, 1)[0] == '1' ? "challenger" : "champion",
                    PQgetvalue (res, r, 2), PQgetvalue (res, r, 3), PQgetvalue (res, r, 4),
                    PQgetvalue (res, r, 5), *PQgetvalue (res, r, 6) ? PQgetvalue (res, r, 6) : "-");
    }
    PQclear (res);
    return 0;
}
