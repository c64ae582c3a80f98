#!/usr/bin/python3
"""aging_bench: how fast huikuan-aging re-ages every open invoice, compared with one SQL
aggregate computing the same bucket sums.

    tests/bench/aging_bench.py [--rows N] [--debtors D] [--instances N] [--days N] [--json]
                               [--timeout S] [--build-dir DIR] [--keep] [--no-floor]

One run, one private PostgreSQL (tests/harness/servers.py), one fresh migrated database
(tests/harness/fleet.py) loaded with psql \\copy (see tests/bench/README.md):

  aggregate  SELECT bucket, count(*), sum(outstanding_minor) ... GROUP BY 1, dpd computed from
             due_on against AS_OF; best of 3
  Every measure runs --instances huikuan-aging processes (default 2) sharing the work.

  first aging  hkctl clock set AS_OF, start huikuan-aging, time until its run of AS_OF is
             finished and every invoice has aged_as_of = AS_OF (polled every 0.05 s), then
             SIGTERM (exit 0 expected): every result of a bulk load computed and written
  daily runs  huikuan-aging running and idle, the fleet clock moved to midnight of the next
             day, --days times (default 3): each day's run re-ages only the invoices and
             debtors whose results stop holding (a change point: migration 24), and leaves
             every invoice and debtor with results that hold on the new day. Timed by the
             run's own record (planned_at -> finished_at, the server's clock) and, as a
             bound, from the clock move until nothing is left (polled); the median day is
             held to the target. Both the first aging and the daily run are held to the
             issue's <= 2 x: which of the two its "full re-age" means is an open question
             (README)
  incremental  with huikuan-aging stopped, huikuan-ingestion records --payments payments
             (default 1,000, on distinct debtors' invoices) and relays their events; then
             huikuan-aging is started again and timed until it consumed every payment event
             and re-aged the touched debtors (their open invoices and their grade). The time
             includes the daemon's start, so it is an upper bound; reported as a fraction of
             the first aging (target <= 2%)
  running    after the daily runs, both instances still running: --payments more payments
             on other debtors in one file; timed from the file's intake_file row visible
             until aging consumed them and nothing is left to age (polled every 2 ms);
             reported as a fraction of the median daily run (target <= 2%)
  update floor  (extra, not a target; --no-floor skips it) one UPDATE writing aged_as_of,
             aged_through and bucket to every open invoice, rolled back: what storing a
             result per invoice costs at least
  incremental floor  (extra, not a target; --no-floor skips it) for the running measure's
             invoices and debtors: record that many events consumed, write a result to each
             invoice and each debtor, rolled back: what any incremental of them writes at
             least

Exit status: 0 when measured (whatever PASS/MISS says), 1 when something broke, 2 on bad
usage. Standard library plus Debian's python3-psycopg2.
"""

import argparse
import datetime
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

import psycopg2

from ingest_bench import (HARNESS_DIR, SOURCE_DIR, Broken, admin_exec, psql_bin,
                          verdict)

AS_OF = "2026-07-01"                     # tenant-local date of the re-age
CLOCK = AS_OF + "T10:00:00+08:00"        # Asia/Shanghai, the fleet's zone
POLL = 0.05
TARGET_RATIO = 2.0
TARGET_INCREMENTAL = "<= 2% of first aging"
TARGET_INCREMENTAL_RUN = "<= 2% of daily run"

# Same buckets as the daemon's default config (30,60,90,180,365,730; aging_rules.c).
BUCKET_SQL = """
SELECT CASE WHEN dpd <= 0 THEN 'current'
            WHEN dpd <= 30 THEN '1-30'
            WHEN dpd <= 60 THEN '31-60'
            WHEN dpd <= 90 THEN '61-90'
            WHEN dpd <= 180 THEN '91-180'
            WHEN dpd <= 365 THEN '181-365'
            WHEN dpd <= 730 THEN '366-730'
            ELSE 'over-730' END AS bucket,
       count(*), sum(outstanding_minor)
  FROM (SELECT %s::date - due_on AS dpd, outstanding_minor FROM invoice
         WHERE tenant = 'default' AND status = 'open') s
 GROUP BY 1 ORDER BY 1
"""


def log(msg):
    sys.stderr.write("aging_bench: %s\n" % msg)
    sys.stderr.flush()


# ---------------------------------------------------------------- data

def generate_csvs(debtor_path, invoice_path, rows, debtors, seed):
    """Debtor rows (tenant, debtor_id, name, email) and invoice rows (tenant, invoice_id,
    debtor_id, currency, amount_minor, outstanding_minor, issued_on, due_on, status), CNY,
    due dates spread over 2023-01-01 .. 2026-12-31."""
    rng = random.Random(seed)
    with open(debtor_path, "w", encoding="ascii", buffering=1 << 20) as f:
        for d in range(debtors):
            f.write("default,D%06d,Debtor %06d Trading Co.,ar%06d@debtor.example.cn\n"
                    % (d, d, d))
    first = datetime.date(2023, 1, 1)
    span = (datetime.date(2026, 12, 31) - first).days + 1
    days = [(first + datetime.timedelta(days=i)) for i in range(span)]
    terms = (30, 30, 45, 60, 60, 90)
    randrange, choice = rng.randrange, rng.choice
    with open(invoice_path, "w", encoding="ascii", buffering=1 << 20) as f:
        batch = []
        for i in range(1, rows + 1):
            due = days[randrange(span)]
            amount = randrange(10000, 100000000)
            outstanding = amount if randrange(4) else randrange(1, amount + 1)
            batch.append("default,INV-%08d,D%06d,CNY,%d,%d,%s,%s,open\n"
                         % (i, randrange(debtors), amount, outstanding,
                            due - datetime.timedelta(days=choice(terms)), due))
            if len(batch) == 10000:
                f.write("".join(batch))
                batch.clear()
        f.write("".join(batch))


def psql_copy(pg_bin, url, table, columns, path, timeout):
    quoted = "'" + path.replace("'", "''") + "'"
    cmd = [psql_bin(pg_bin), "-X", "-q", "-v", "ON_ERROR_STOP=1", url, "-c",
           "\\copy %s (%s) FROM %s CSV" % (table, columns, quoted)]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                           stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise Broken("\\copy %s did not finish in %.0f s" % (table, timeout))
    if r.returncode != 0:
        raise Broken("psql \\copy %s exited %d: %s%s" % (table, r.returncode, r.stdout,
                                                         r.stderr))


def vacuum_analyze(url):
    admin_exec(url, "VACUUM ANALYZE debtor")
    admin_exec(url, "VACUUM ANALYZE invoice")


# ---------------------------------------------------------------- phases

def time_aggregate(fleet):
    """Best of 3 wall times of BUCKET_SQL; returns (seconds, rows)."""
    conn = fleet.db()
    best, rows = None, None
    for _ in range(3):
        with conn.cursor() as cur:
            t0 = time.monotonic()
            cur.execute(BUCKET_SQL, (AS_OF,))
            rows = cur.fetchall()
            s = time.monotonic() - t0
        best = s if best is None else min(best, s)
    return best, [(b, int(n), int(m)) for b, n, m in rows]


# An extra measure, not the issue's: the same buckets written to every open invoice by one
# UPDATE (aged_as_of, aged_through, bucket), in a transaction rolled back. Storing a result
# in every invoice row costs at least this; the target compares the runs with the
# aggregate, which writes nothing.
UPDATE_SQL = """
UPDATE invoice SET aged_as_of = %(d)s::date, aged_through = %(d)s::date,
       bucket = CASE WHEN %(d)s::date - due_on <= 0 THEN 'current'
                     WHEN %(d)s::date - due_on <= 30 THEN '1-30'
                     WHEN %(d)s::date - due_on <= 60 THEN '31-60'
                     WHEN %(d)s::date - due_on <= 90 THEN '61-90'
                     WHEN %(d)s::date - due_on <= 180 THEN '91-180'
                     WHEN %(d)s::date - due_on <= 365 THEN '181-365'
                     WHEN %(d)s::date - due_on <= 730 THEN '366-730'
                     ELSE 'over-730' END
 WHERE tenant = 'default' AND status = 'open'
"""


def time_update_floor(url, as_of):
    """Wall time of UPDATE_SQL, rolled back (a fresh connection: the fleet's is autocommit)."""
    import psycopg2
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            t0 = time.monotonic()
            cur.execute(UPDATE_SQL, {"d": as_of})
            s = time.monotonic() - t0
        conn.rollback()
    finally:
        conn.close()
    return s


# An extra measure, not the issue's: the writes any incremental re-age of n payments must do
# at least, in one transaction rolled back: record the n events consumed (promise 2), write
# a result to each paid invoice and each debtor. No read, no rule, no event: a floor.
INC_FLOOR_SQL = (
    "INSERT INTO consumed_event (consumer, event_id)"
    " SELECT 'bench-floor', gen_random_uuid () FROM unnest (%(inv)s::text[])",
    "UPDATE invoice SET aged_as_of = %(d)s::date, aged_through = %(d)s::date + 30,"
    " expected_recoverable_minor = outstanding_minor / 2"
    " WHERE tenant = 'default' AND invoice_id = ANY (%(inv)s::text[])",
    "UPDATE debtor SET risk_as_of = %(d)s::date, graded_through = %(d)s::date + 30,"
    " priority = coalesce (priority, 0) + 1"
    " WHERE tenant = 'default' AND debtor_id = ANY (%(deb)s::text[])",
)


def time_incremental_floor(url, paid, day):
    """Best of 3 wall times of INC_FLOOR_SQL for the (invoice, debtor) pairs, each rolled
    back."""
    conn = psycopg2.connect(url)
    args = {"d": day, "inv": [p[0] for p in paid], "deb": [p[1] for p in paid]}
    best = None
    try:
        for _ in range(3):
            with conn.cursor() as cur:
                t0 = time.monotonic()
                for sql in INC_FLOOR_SQL:
                    cur.execute(sql, args)
                s = time.monotonic() - t0
            conn.rollback()
            best = s if best is None else min(best, s)
    finally:
        conn.close()
    return best


def start_agings(fleet, instances):
    """Starts `instances` huikuan-aging processes (aging-1, aging-2, ...), not waiting."""
    return [fleet.start("aging", instance="aging-%d" % (k + 1), wait=False)
            for k in range(instances)]


def check_running(daemons, what):
    for d in daemons:
        if not d.running():
            raise Broken("%s died (exit %s) %s:\n%s" % (d.instance, d.proc.returncode, what,
                                                        d.log()))


def logs(daemons):
    return "\n".join(d.log() for d in daemons)


def stop_all(daemons):
    for d in daemons:
        d.stop()                            # SIGTERM; AssertionError unless exit 0


def time_reage(fleet, rows, instances, timeout):
    """Starts huikuan-aging (`instances` processes) and polls until rows invoices have
    aged_as_of = AS_OF. Returns (seconds, daemons)."""
    q = "SELECT count(*) FROM invoice WHERE aged_as_of = %s"
    # the run's own record is cheap to poll; the count (a scan) is checked once it says done
    finished = "SELECT count(*) FROM aging_run WHERE run_date = %s AND finished_at IS NOT NULL"
    t0 = time.monotonic()
    daemons = start_agings(fleet, instances)
    deadline = t0 + timeout
    last_log = t0
    while True:
        n = fleet.scalar(q, (AS_OF,)) if fleet.scalar(finished, (AS_OF,)) else 0
        now = time.monotonic()
        if n >= rows:
            return now - t0, daemons
        check_running(daemons, "with %d of %d aged" % (n, rows))
        if now > deadline:
            raise Broken("%d of %d aged after %.0f s (timeout; --timeout to change):\n%s"
                         % (n, rows, timeout, logs(daemons)))
        if now - last_log >= 30:
            log("re-age: %d of %d after %.0f s" % (n, rows, now - t0))
            last_log = now
        time.sleep(POLL)


# Whether anything is left to age for a day (twice as a parameter): an open invoice or an
# owing debtor whose results were never computed or do not hold on it. Polled every POLL
# seconds on a 2-core machine, so each poll must cost next to nothing: each part is an index
# probe (a count of the invoices not aged scanned the table: a third of a second a poll,
# competing with the daemon).
LEFT_SQL = ("SELECT EXISTS (SELECT 1 FROM invoice WHERE tenant = 'default' AND status = 'open'"
            "  AND aged_through IS NULL)"
            " OR EXISTS (SELECT 1 FROM invoice WHERE tenant = 'default' AND status = 'open'"
            "  AND aged_through < %s)"
            " OR EXISTS (SELECT 1 FROM debtor b WHERE tenant = 'default'"
            "  AND graded_through IS NULL AND EXISTS (SELECT 1 FROM invoice i"
            "  WHERE i.tenant = b.tenant AND i.debtor_id = b.debtor_id AND i.status = 'open'))"
            " OR EXISTS (SELECT 1 FROM debtor b WHERE tenant = 'default'"
            "  AND graded_through < %s AND EXISTS (SELECT 1 FROM invoice i"
            "  WHERE i.tenant = b.tenant AND i.debtor_id = b.debtor_id AND i.status = 'open'))")


def poll_session(fleet):
    """A session of the bench's own for its polls, autocommit, that keeps the planner on the
    indexes whatever the statistics say. Returns (connection, scalar (sql, params))."""
    poll = psycopg2.connect(fleet.database_url)
    poll.autocommit = True

    def scalar(sql, params=None):
        with poll.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchone()[0]

    scalar("SELECT set_config('enable_seqscan', 'off', false),"
           " set_config('enable_bitmapscan', 'off', false)")
    return poll, scalar


def payments_feed(fleet, payments, seed, prefix, day):
    """A project CSV of payments of half the outstanding of one open invoice each of
    `payments` distinct debtors (drawn with seed), received on day. Returns (text,
    [(invoice, debtor), ...])."""
    rng = random.Random(seed)
    rows = fleet.query("SELECT DISTINCT ON (debtor_id) invoice_id, debtor_id, outstanding_minor"
                       " FROM invoice WHERE status = 'open' ORDER BY debtor_id, invoice_id")
    rng.shuffle(rows)
    rows = rows[:payments]
    lines = ["payment_id,debtor_id,invoice_id,currency,amount,received_at"]
    for k, (invoice, debtor, outstanding) in enumerate(rows):
        part = max(1, outstanding // 2)
        lines.append("%s-%06d,%s,%s,CNY,%d.%02d,%sT09:00:00+08:00"
                     % (prefix, k, debtor, invoice, part // 100, part % 100, day))
    return "\n".join(lines) + "\n", [(r[0], r[1]) for r in rows]


def time_incremental(fleet, payments, instances, seed, timeout):
    """Payments on `payments` distinct debtors' open invoices through huikuan-ingestion (aging
    stopped), then huikuan-aging started and timed until the events are consumed and the
    touched debtors re-aged. Returns (seconds, debtors touched)."""
    feed, paid = payments_feed(fleet, payments, seed + 1, "BP", AS_OF)
    n = len(paid)
    ingestion = fleet.start("ingestion")
    fleet.drop("bench-payments.csv", feed)
    deadline = time.monotonic() + timeout
    relayed = ("SELECT count(*) FROM event_outbox o WHERE type = 'payment.recorded'"
               " AND NOT EXISTS (SELECT 1 FROM event_unpublished u"
               "  WHERE u.producer = o.producer AND u.seq = o.seq)")
    while fleet.scalar(relayed) < n:
        if time.monotonic() > deadline:
            raise Broken("payments not recorded after %.0f s:\n%s" % (timeout, ingestion.log()))
        time.sleep(POLL)
    ingestion.stop()
    ids = [r[0] for r in fleet.query("SELECT event_id::text FROM event_outbox"
                                     " WHERE type = 'payment.recorded'")]
    consumed = ("SELECT count(*) FROM consumed_event WHERE consumer = 'aging'"
                " AND event_id = ANY (%s::uuid[])")
    poll, scalar = poll_session(fleet)
    t0 = time.monotonic()
    daemons = start_agings(fleet, instances)
    while True:
        if scalar(consumed, (ids,)) >= n and not scalar(LEFT_SQL, (AS_OF, AS_OF)):
            s = time.monotonic() - t0
            break
        check_running(daemons, "in the incremental re-age")
        if time.monotonic() > deadline:
            raise Broken("incremental re-age not done after %.0f s:\n%s" % (timeout,
                                                                          logs(daemons)))
        time.sleep(POLL)
    poll.close()
    stop_all(daemons)
    return s, n


# The running measure polls this often: its figure is tens of milliseconds.
FAST_POLL = 0.002


def time_incremental_running(fleet, scalar, daemons, payments, seed, day, timeout):
    """With huikuan-aging running and idle on day and huikuan-ingestion started: ingestion
    records `payments` payments on distinct debtors in one file (one transaction; its
    intake_file row commits with them), relays their events, and aging consumes them and
    re-ages what they touched. Timed from the moment the file's record is visible (polled
    every FAST_POLL s) until aging has consumed that many more events and nothing is left to
    age on day. Returns (seconds, [(invoice, debtor) paid])."""
    feed, paid = payments_feed(fleet, payments, seed + 2, "BR", day)
    n = len(paid)
    ingestion = fleet.start("ingestion")
    consumed = "SELECT count(*) FROM consumed_event WHERE consumer = 'aging'"
    stored = ("SELECT count(*) FROM intake_file WHERE name = 'bench-payments-running.csv'"
              " AND status = 'done'")
    before = scalar(consumed)
    deadline = time.monotonic() + timeout
    fleet.drop("bench-payments-running.csv", feed)
    while not scalar(stored):
        if time.monotonic() > deadline:
            raise Broken("payments not recorded after %.0f s:\n%s" % (timeout, ingestion.log()))
        time.sleep(FAST_POLL)
    t0 = time.monotonic()
    while scalar(consumed) < before + n or scalar(LEFT_SQL, (day, day)):
        check_running(daemons, "in the incremental re-age")
        if time.monotonic() > deadline:
            raise Broken("incremental re-age not done after %.0f s:\n%s" % (timeout,
                                                                          logs(daemons)))
        time.sleep(FAST_POLL)
    s = time.monotonic() - t0
    got = fleet.scalar("SELECT rows_accepted FROM intake_file"
                       " WHERE name = 'bench-payments-running.csv'")
    ingestion.stop()
    if got != n:
        raise Broken("the running measure's file accepted %s of %d payments" % (got, n))
    return s, paid


def time_daily_runs(fleet, instances, days, timeout, payments, seed):
    """With huikuan-aging running and idle (nothing left for AS_OF), moves the fleet clock to
    midnight of each of the `days` days after AS_OF in turn and polls until the run of that
    day is finished and no invoice or owing debtor is left whose results do not hold on it.
    Then, the daemons still running, the incremental measure of time_incremental_running
    (when payments > 0). Returns (one dict a day: day, run_s (by its record), wall_s (from
    the clock move), invoices aged, debtors graded; (seconds, payments) or None)."""
    poll, scalar = poll_session(fleet)
    finished = ("SELECT (SELECT extract (epoch FROM finished_at - planned_at) FROM aging_run"
                " WHERE run_date = %s AND finished_at IS NOT NULL)")
    daemons = start_agings(fleet, instances)
    deadline = time.monotonic() + timeout
    runs = []
    day = datetime.date.fromisoformat(AS_OF)
    for _ in range(days):
        before = day.isoformat()
        while scalar(LEFT_SQL, (before, before)):   # idle first: the day before is done
            check_running(daemons, "before the daily run")
            if time.monotonic() > deadline:
                raise Broken("huikuan-aging not idle before the daily run:\n%s"
                             % logs(daemons))
            time.sleep(POLL)
        time.sleep(1.0)                     # and its relay caught up
        day += datetime.timedelta(days=1)
        day_s = day.isoformat()
        t0 = time.monotonic()
        fleet.clock_set(day_s + "T00:00:00+08:00")
        while True:
            run_s = scalar(finished, (day_s,))
            if run_s is not None and not scalar(LEFT_SQL, (day_s, day_s)):
                wall_s = time.monotonic() - t0
                break
            check_running(daemons, "in the daily run of %s" % day_s)
            if time.monotonic() > deadline:
                raise Broken("daily run of %s not done after %.0f s:\n%s"
                             % (day_s, timeout, logs(daemons)))
            time.sleep(POLL / 5)
        runs.append({
            "day": day_s, "run_s": float(run_s), "wall_s": wall_s,
            "aged": scalar("SELECT count(*) FROM invoice WHERE aged_as_of = %s", (day_s,)),
            "graded": scalar("SELECT count(*) FROM aging_run_debtor WHERE run_date = %s",
                             (day_s,))})
        log("daily run of %s: %.3f s by its record, %.3f s from the clock move; %d invoices"
            " aged, %d debtors graded" % (day_s, run_s, wall_s, runs[-1]["aged"],
                                          runs[-1]["graded"]))
    running = None
    if payments > 0:
        while scalar(LEFT_SQL, (day.isoformat(), day.isoformat())):   # the passes are done
            time.sleep(POLL)
        time.sleep(1.0)
        running = time_incremental_running(fleet, scalar, daemons, payments, seed,
                                           day.isoformat(), timeout)
        log("incremental, aging running: %.3f s for %d payments" % (running[0],
                                                                       len(running[1])))
    poll.close()
    stop_all(daemons)
    return runs, running


# ---------------------------------------------------------------- report

def build_result(a):
    ratio = a["reage_s"] / a["aggregate_s"]
    runs = a["runs"]
    median = sorted(runs, key=lambda r: r["run_s"])[(len(runs) - 1) // 2]
    run_ratio = median["run_s"] / a["aggregate_s"]
    return {
        "rows": a["rows"],
        "debtors": a["debtors"],
        "instances": a["instances"],
        "as_of": AS_OF,
        "load_seconds": round(a["load_s"], 3),
        "aggregate": {"seconds": round(a["aggregate_s"], 4), "buckets": a["buckets"]},
        "first_aging": {"seconds": round(a["reage_s"], 3),
                        "rows_per_s": round(a["rows"] / a["reage_s"]),
                        "ratio": round(ratio, 2), "target": "<= %g" % TARGET_RATIO,
                        "verdict": verdict(ratio <= TARGET_RATIO)},
        "daily_runs": {"days": [{"as_of": r["day"], "seconds": round(r["run_s"], 3),
                                 "wall_seconds": round(r["wall_s"], 3),
                                 "invoices_aged": r["aged"], "debtors_graded": r["graded"],
                                 "ratio": round(r["run_s"] / a["aggregate_s"], 2)}
                                for r in runs],
                       "median_as_of": median["day"],
                       "median_seconds": round(median["run_s"], 3),
                       "ratio": round(run_ratio, 2),
                       "wall_ratio": round(median["wall_s"] / a["aggregate_s"], 2),
                       "target": "<= %g" % TARGET_RATIO,
                       "verdict": verdict(run_ratio <= TARGET_RATIO)},
        "update_floor": ({"measured": False} if a.get("floor_s") is None else
                         {"measured": True, "seconds": round(a["floor_s"], 3),
                          "reage_ratio": round(a["reage_s"] / a["floor_s"], 2),
                          "aggregate_ratio": round(a["floor_s"] / a["aggregate_s"], 1)}),
        "incremental": ({"measured": False, "target": TARGET_INCREMENTAL}
                        if a.get("incremental_s") is None else
                        {"measured": True, "payments": a["payments"],
                         "seconds": round(a["incremental_s"], 3),
                         "fraction": round(a["incremental_s"] / a["reage_s"], 4),
                         "of": "the first aging",
                         "target": TARGET_INCREMENTAL,
                         "verdict": verdict(a["incremental_s"] / a["reage_s"] <= 0.02)}),
        "incremental_running": (
            {"measured": False} if a.get("running_s") is None else
            {"measured": True, "payments": a["payments"],
             "seconds": round(a["running_s"], 4),
             "of_daily_run": round(a["running_s"] / median["run_s"], 4),
             "of_first_aging": round(a["running_s"] / a["reage_s"], 5),
             "target": TARGET_INCREMENTAL_RUN,
             "verdict": verdict(a["running_s"] / median["run_s"] <= 0.02)}),
        "incremental_floor": (
            {"measured": False} if a.get("inc_floor_s") is None else
            {"measured": True, "seconds": round(a["inc_floor_s"], 4),
             "of_daily_run": round(a["inc_floor_s"] / median["run_s"], 4)}),
        "build_dir": a["build_dir"],
        "notes": a["notes"],
    }


def print_table(r, out=sys.stdout):
    def line(what, value, target="", v=""):
        out.write(("  %-34s %18s   %-8s %s" % (what, value, target, v)).rstrip() + "\n")
    out.write("huikuan-aging re-age vs one SQL aggregate  (%d rows, %d debtors, as of %s,"
              " aging instances: %d)\n" % (r["rows"], r["debtors"], r["as_of"], r["instances"]))
    out.write("  %-34s %18s   %-8s %s\n" % ("measure", "value", "target", "result"))
    line("aggregate s (best of 3)", "%.3f" % r["aggregate"]["seconds"])
    g = r["first_aging"]
    line("first aging of the load s", "%.1f  (%d rows/s)" % (g["seconds"], g["rows_per_s"]))
    line("first aging ÷ aggregate", "%.1f" % g["ratio"], g["target"], g["verdict"])
    dr = r["daily_runs"]
    for k in dr["days"]:
        line("daily run %s s (its record)" % k["as_of"], "%.3f  (÷ %.2f)" % (k["seconds"],
                                                                          k["ratio"]))
        line("  invoices aged / debtors graded", "%d / %d" % (k["invoices_aged"],
                                                           k["debtors_graded"]))
        line("  from the clock move (polled) s", "%.3f" % k["wall_seconds"])
    line("daily run (median) ÷ aggregate", "%.2f" % dr["ratio"], dr["target"], dr["verdict"])
    line("  from the clock move (median run)", "÷ %.2f" % dr["wall_ratio"])
    fl = r["update_floor"]
    if fl["measured"]:
        line("extra: one SQL UPDATE of the results s", "%.3f" % fl["seconds"])
        line("extra: that UPDATE ÷ aggregate", "%.1f" % fl["aggregate_ratio"])
        line("extra: re-age ÷ that UPDATE", "%.2f" % fl["reage_ratio"])
    inc = r["incremental"]
    if inc["measured"]:
        line("incremental s (%d payments, incl. start)" % inc["payments"],
             "%.3f" % inc["seconds"])
        line("incremental ÷ first aging", "%.2f%%" % (100 * inc["fraction"]), inc["target"],
             inc["verdict"])
    else:
        line("incremental", "not measured", inc["target"])
    ir = r["incremental_running"]
    if ir["measured"]:
        line("incremental s (%d payments, running)" % ir["payments"], "%.3f" % ir["seconds"])
        line("  ÷ first aging", "%.2f%%" % (100 * ir["of_first_aging"]))
        line("  ÷ daily run (median)", "%.1f%%" % (100 * ir["of_daily_run"]), ir["target"],
             ir["verdict"])
    fi = r["incremental_floor"]
    if fi["measured"]:
        line("extra: the incremental's least writes s", "%.4f" % fi["seconds"])
        line("  ÷ daily run (median)", "%.1f%%" % (100 * fi["of_daily_run"]))
    for n in r["notes"]:
        out.write("  note: %s\n" % n)


# ---------------------------------------------------------------- main

def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="aging_bench.py",
        description="Measures huikuan-aging's full re-age against one SQL aggregate over the "
                    "same invoices (see tests/bench/README.md).")
    p.add_argument("--rows", type=int, default=1000000, help="invoices (default 1000000)")
    p.add_argument("--debtors", type=int, default=100000, help="debtors (default 100000)")
    p.add_argument("--seed", type=int, default=1, help="random seed of the data (default 1)")
    p.add_argument("--payments", type=int, default=1000,
                   help="payments of the incremental measure (default 1000; 0 skips it)")
    p.add_argument("--instances", type=int, default=2,
                   help="huikuan-aging processes sharing each run (default 2, one per core of"
                        " the machine the figures are from)")
    p.add_argument("--days", type=int, default=3,
                   help="daily runs measured, one a day after the first aging (default 3;"
                        " the median is held to the target)")
    p.add_argument("--timeout", type=float, default=3600.0,
                   help="seconds the load and the re-age may each take (default 3600)")
    p.add_argument("--build-dir", default=os.environ.get("HK_BUILD_DIR")
                   or os.path.join(SOURCE_DIR, "build"),
                   help="build with services/huikuan-aging and services/hkctl "
                        "(default $HK_BUILD_DIR or ./build)")
    p.add_argument("--no-floor", action="store_true",
                   help="skip the extra measure: one SQL UPDATE writing the results to every"
                        " open invoice, rolled back")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.add_argument("--keep", action="store_true",
                   help="keep the work folder (CSVs, run dir, logs); servers are stopped anyway")
    a = p.parse_args(argv)
    if a.rows < 1 or a.debtors < 1 or a.instances < 1 or a.days < 1 \
            or a.timeout <= 0:
        p.error("--rows, --debtors, --instances, --days and --timeout must be positive")
    return a


def main(argv):
    args = parse_args(argv)
    build_dir = os.path.abspath(args.build_dir)
    os.environ["HK_BUILD_DIR"] = build_dir
    os.environ.pop("HK_TESTENV", None)      # always private servers, never a ctest run's
    sys.path.insert(0, HARNESS_DIR)
    import fleet as fleet_mod               # tests/harness/fleet.py
    import servers                          # tests/harness/servers.py

    work = tempfile.mkdtemp(prefix="hk-bench-aging-")
    servers_dir = os.path.join(work, "servers")
    fleet = None
    measured = None
    error = None
    try:
        for b in ("huikuan-aging", "huikuan-ingestion", "hkctl"):
            fleet_mod.binary(b)             # raises when not built
        debtor_csv = os.path.join(work, "debtors.csv")
        invoice_csv = os.path.join(work, "invoices.csv")
        log("generating %d invoices over %d debtors" % (args.rows, args.debtors))
        generate_csvs(debtor_csv, invoice_csv, args.rows, args.debtors, args.seed)

        pg = servers.start_postgres(servers_dir)
        log("private PostgreSQL at %s" % pg["ADMIN_URL"])
        # a fresh database migrated with hkctl migrate, its own redis-server and run dir
        fleet = fleet_mod.Fleet(os.path.join(work, "fleet"), admin_url=pg["ADMIN_URL"],
                                extra_env={"HUIKUAN_LOG_LEVEL": "warn"})

        # 1. load
        t0 = time.monotonic()
        psql_copy(pg["PG_BIN"], fleet.database_url, "debtor", "tenant, debtor_id, name, email",
                  debtor_csv, args.timeout)
        psql_copy(pg["PG_BIN"], fleet.database_url, "invoice",
                  "tenant, invoice_id, debtor_id, currency, amount_minor, outstanding_minor,"
                  " issued_on, due_on, status", invoice_csv, args.timeout)
        vacuum_analyze(fleet.database_url)
        load_s = time.monotonic() - t0
        count = fleet.scalar("SELECT count(*) FROM invoice")
        if count != args.rows:
            raise Broken("invoice holds %d rows after \\copy, want %d" % (count, args.rows))
        log("loaded in %.1f s" % load_s)
        admin_exec(pg["ADMIN_URL"], "CHECKPOINT")

        # 2. baseline: the bucket sums in one statement
        agg_s, buckets = time_aggregate(fleet)
        log("aggregate: %.3f s (best of 3)" % agg_s)
        admin_exec(pg["ADMIN_URL"], "CHECKPOINT")

        # 3. full re-age by the daemon
        fleet.clock_set(CLOCK)
        log("re-age as of %s ..." % AS_OF)
        reage_s, daemons = time_reage(fleet, args.rows, args.instances, args.timeout)
        log("re-age: %.1f s" % reage_s)
        # the run's events are relayed before the daemon stops (not timed): the incremental
        # measure below must not pay for this backlog
        drain = time.monotonic() + args.timeout
        while fleet.scalar("SELECT count(*) FROM event_unpublished"):
            if time.monotonic() > drain:
                raise Broken("the re-age's events were not relayed in %.0f s" % args.timeout)
            time.sleep(POLL)
        stop_all(daemons)
        # and the run's dead row versions vacuumed, as autovacuum does after a run rewrote
        # every row: else the first index scan of the measure below walks a million of them
        vacuum_analyze(fleet.database_url)

        notes = []
        got = fleet.query("SELECT bucket, count(*), sum(outstanding_minor) FROM invoice"
                          " WHERE status = 'open' GROUP BY 1 ORDER BY 1")
        got = [(b, int(n), int(m)) for b, n, m in got]
        if got != buckets:
            notes.append("the daemon's buckets differ from the aggregate's: %s vs %s"
                         % (got, buckets))
        # 4. incremental: payments on distinct debtors, then the re-age of those debtors
        inc_s, touched = (time_incremental(fleet, args.payments, args.instances, args.seed,
                                           args.timeout)
                          if args.payments > 0 else (None, 0))
        if inc_s is not None:
            log("incremental: %.3f s for %d payments" % (inc_s, touched))
        # 5. the daily run: the day after, with the daemon running
        runs, running = time_daily_runs(fleet, args.instances, args.days, args.timeout,
                                        args.payments, args.seed)
        # 6. extra measure (not a target): what one UPDATE writing the results costs
        floor_s = inc_floor_s = None
        if not args.no_floor:
            admin_exec(pg["ADMIN_URL"], "CHECKPOINT")
            floor_s = time_update_floor(fleet.database_url, AS_OF)
            log("extra: one SQL UPDATE of the results: %.3f s (rolled back)" % floor_s)
            if running:
                inc_floor_s = time_incremental_floor(fleet.database_url, running[1],
                                                     runs[-1]["day"])
                log("extra: the incremental's least writes: %.4f s (rolled back)"
                    % inc_floor_s)
        measured = build_result({
            "rows": args.rows, "debtors": args.debtors, "instances": args.instances,
            "load_s": load_s,
            "aggregate_s": agg_s, "buckets": buckets, "reage_s": reage_s,
            "runs": runs,
            "incremental_s": inc_s, "payments": touched, "floor_s": floor_s,
            "running_s": running[0] if running else None, "inc_floor_s": inc_floor_s,
            "build_dir": build_dir, "notes": notes})
    except Broken as e:
        error = str(e)
    except Exception as e:  # noqa: BLE001 - harness assertions, psycopg2, OS errors alike
        error = "%s: %s" % (type(e).__name__, e)
    finally:
        if fleet is not None:
            try:
                fleet.close()
            except AssertionError as e:
                if error is None:
                    error = "shutdown: %s" % e
        servers.stop_postgres(servers_dir)
        if args.keep:
            log("work folder kept: %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)

    if measured is not None:
        if error is not None:
            measured["error"] = error
        if args.json:
            json.dump(measured, sys.stdout, indent=2)
            sys.stdout.write("\n")
        else:
            print_table(measured)
    if error is not None:
        if args.json and measured is None:
            json.dump({"error": error}, sys.stdout, indent=2)
            sys.stdout.write("\n")
        log("broken: %s" % error)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
