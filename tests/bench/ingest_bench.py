#!/usr/bin/python3
"""ingest_bench: how fast huikuan-ingestion loads an invoice feed, compared with psql's \\copy.

    tests/bench/ingest_bench.py [--rows N] [--json] [--timeout S] [--build-dir DIR] [--keep]

One run, one private PostgreSQL (tests/harness/servers.py), three timed phases on the same
generated feed (see tests/bench/README.md):

  copy       \\copy of the feed into invoice_bench, a table shaped like invoice (same columns,
             types, defaults, checks, primary key and indexes), in a fresh migrated database
  fresh      huikuan-ingestion loads the feed into a second fresh migrated database
             (drop into run/inbox -> intake_file row 'done')
  redelivery the identical file again under another name: every row unchanged

Prints a table (or JSON with --json) of rows/s, ratios against \\copy, the daemon's peak RSS and
the events the re-delivery added, each against its target. Exit status: 0 when the
measurement completed (whatever PASS/MISS says), 1 when something broke (daemon died, file
failed or rows rejected, timeout), 2 on bad usage.
Standard library plus Debian's python3-psycopg2.
"""

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.dirname(os.path.dirname(BENCH_DIR))
HARNESS_DIR = os.path.join(SOURCE_DIR, "tests", "harness")

HEADER = "invoice_id,debtor_id,debtor_name,debtor_email,currency,amount,issued_on,due_on"
COPY_COLUMNS = "invoice_id, debtor_id, debtor_name, debtor_email, currency, amount, issued_on, due_on"
POLL = 0.2
MIB = 1024 * 1024

TARGET_FRESH_RATIO = 0.8
TARGET_REDELIVERY_RATIO = 1.5
TARGET_RSS_MIB = 64.0


class Broken(Exception):
    """The measurement could not be completed."""


def log(msg):
    sys.stderr.write("ingest_bench: %s\n" % msg)
    sys.stderr.flush()


# ---------------------------------------------------------------- the feed

def generate_feed(path, rows, debtors, seed):
    """Writes rows invoice lines in the project CSV schema to path, streaming. A debtor's name
    and email are a function of its id, so the feed never asks for a debtor update."""
    rng = random.Random(seed)
    days = []  # every date of 2026 as text
    t = time.mktime((2026, 1, 1, 12, 0, 0, 0, 0, -1))
    while True:
        tm = time.localtime(t)
        if tm.tm_year != 2026:
            break
        days.append("%04d-%02d-%02d" % (tm.tm_year, tm.tm_mon, tm.tm_mday))
        t += 86400
    issue_span = len(days) - 91           # issued_on + terms stays in 2026
    terms = (30, 30, 45, 60, 60, 90)
    currencies = ("CNY",) * 9 + ("USD",)
    randrange, choice = rng.randrange, rng.choice
    with open(path, "w", encoding="ascii", newline="\n", buffering=1 << 20) as f:
        f.write(HEADER + "\n")
        batch = []
        for i in range(1, rows + 1):
            d = randrange(debtors)
            issued = randrange(issue_span)
            batch.append("INV-%08d,D%06d,Debtor %06d Trading Co.,ar%06d@debtor.example.cn,%s,"
                         "%d.%02d,%s,%s\n"
                         % (i, d, d, d, choice(currencies), randrange(100, 1000000),
                            randrange(100), days[issued], days[issued + choice(terms)]))
            if len(batch) == 10000:
                f.write("".join(batch))
                batch.clear()
        f.write("".join(batch))


# ---------------------------------------------------------------- databases

def admin_exec(admin_url, sql):
    import psycopg2
    conn = psycopg2.connect(admin_url)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


def db_url(admin_url, dbname):
    u = urllib.parse.urlsplit(admin_url)
    return urllib.parse.urlunsplit(u._replace(path="/" + dbname))


def hkctl_migrate(fleet_mod, url):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUIKUAN_")}
    env["HUIKUAN_DATABASE_URL"] = url
    r = subprocess.run([fleet_mod.binary("hkctl"), "migrate"], env=env, capture_output=True,
                       text=True, timeout=120, stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        raise Broken("hkctl migrate exited %d: %s%s" % (r.returncode, r.stdout, r.stderr))


# invoice_bench: invoice's columns, types, defaults, checks, primary key (tenant, invoice_id) and
# indexes (invoice_debtor, invoice_open_aging), by LIKE ... INCLUDING ALL; tenant defaults to
# 'default' like the daemon's; the feed's raw columns (debtor_name, debtor_email, amount) are
# extra columns and amount_minor / outstanding_minor are computed from amount as the daemon
# computes them. No foreign key to debtor: \copy writes no debtor rows (README).
BENCH_TABLE_SQL = """
CREATE TABLE invoice_bench (LIKE invoice INCLUDING ALL);
ALTER TABLE invoice_bench
    ALTER COLUMN tenant SET DEFAULT 'default',
    DROP COLUMN amount_minor,
    DROP COLUMN outstanding_minor,
    ADD COLUMN debtor_name text,
    ADD COLUMN debtor_email text,
    ADD COLUMN amount numeric(20, 2) NOT NULL,
    ADD COLUMN amount_minor bigint GENERATED ALWAYS AS ((amount * 100)::bigint) STORED
        CHECK (amount_minor >= 0),
    ADD COLUMN outstanding_minor bigint GENERATED ALWAYS AS ((amount * 100)::bigint) STORED;
"""


def psql_bin(pg_bin):
    p = os.path.join(pg_bin, "psql")
    return p if os.access(p, os.X_OK) else (shutil.which("psql") or "psql")


def run_copy(pg_bin, url, feed, timeout):
    """Times psql's \\copy of feed into invoice_bench. Returns (seconds, rows in the table)."""
    import psycopg2
    conn = psycopg2.connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(BENCH_TABLE_SQL)
            cur.execute("CHECKPOINT")
        quoted = "'" + feed.replace("'", "''") + "'"
        cmd = [psql_bin(pg_bin), "-X", "-q", "-v", "ON_ERROR_STOP=1", url, "-c",
               "\\copy invoice_bench (%s) FROM %s CSV HEADER" % (COPY_COLUMNS, quoted)]
        t0 = time.monotonic()
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                               stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise Broken("\\copy did not finish in %.0f s" % timeout)
        seconds = time.monotonic() - t0
        if r.returncode != 0:
            raise Broken("psql \\copy exited %d: %s%s" % (r.returncode, r.stdout, r.stderr))
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM invoice_bench")
            count = cur.fetchone()[0]
        return seconds, count
    finally:
        conn.close()


# ---------------------------------------------------------------- the daemon

def vm_hwm_bytes(pid):
    """Peak resident set size of pid (VmHWM), or None."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def drop_and_wait(fleet, daemon, feed, name, timeout):
    """Links feed into the fleet's scratch folder, renames it into run/inbox as name, and polls
    intake_file every POLL s until the file's row says 'done'. Returns (seconds, row dict)."""
    staged = os.path.join(fleet.scratch, name)
    try:
        os.link(feed, staged)               # same filesystem: no copy
    except OSError:
        shutil.copyfile(feed, staged)
    inbox_path = os.path.join(fleet.run_dir, "inbox", name)
    q = ("SELECT status, rows_total, rows_accepted, rows_unchanged, rows_rejected, reason"
         " FROM intake_file WHERE name = %s ORDER BY id DESC LIMIT 1")
    t0 = time.monotonic()
    os.rename(staged, inbox_path)
    deadline = t0 + timeout
    while True:
        rows = fleet.query(q, (name,))
        now = time.monotonic()
        if rows:
            status, total, acc, unch, rej, reason = rows[0]
            row = {"status": status, "rows_total": total, "rows_accepted": acc,
                   "rows_unchanged": unch, "rows_rejected": rej, "reason": reason}
            if status == "done":
                return now - t0, row
            raise Broken("%s ended with status %s: %s\n%s" % (name, status, reason,
                                                               daemon.log()))
        if not daemon.running():
            raise Broken("huikuan-ingestion died (exit %s) while loading %s:\n%s"
                         % (daemon.proc.returncode, name, daemon.log()))
        if now > deadline:
            raise Broken("%s not done after %.0f s (timeout; --timeout to change):\n%s"
                         % (name, timeout, daemon.log()))
        time.sleep(POLL)


# ---------------------------------------------------------------- report

def verdict(ok):
    return "PASS" if ok else "MISS"


def build_result(a):
    rows = a["rows"]
    copy_rps = rows / a["copy_s"]
    fresh_rps = rows / a["fresh_s"]
    re_rps = rows / a["redelivery_s"]
    rss_mib = a["rss_bytes"] / MIB if a["rss_bytes"] is not None else None
    fresh_ratio = fresh_rps / copy_rps
    re_ratio = re_rps / copy_rps
    return {
        "rows": rows,
        "debtors": a["debtors"],
        "feed_mib": round(a["feed_bytes"] / MIB, 1),
        "copy": {"seconds": round(a["copy_s"], 3), "rows_per_s": round(copy_rps)},
        "fresh": {"seconds": round(a["fresh_s"], 3), "rows_per_s": round(fresh_rps),
                  "ratio": round(fresh_ratio, 3), "target": ">= %g" % TARGET_FRESH_RATIO,
                  "verdict": verdict(fresh_ratio >= TARGET_FRESH_RATIO),
                  "intake": a["fresh_row"], "outbox_rows": a["outbox_after_fresh"]},
        "redelivery": {"seconds": round(a["redelivery_s"], 3), "rows_per_s": round(re_rps),
                       "ratio": round(re_ratio, 3),
                       "target": ">= %g" % TARGET_REDELIVERY_RATIO,
                       "verdict": verdict(re_ratio >= TARGET_REDELIVERY_RATIO),
                       "intake": a["re_row"]},
        "peak_rss_mib": {"value": None if rss_mib is None else round(rss_mib, 1),
                         "target": "< %g" % TARGET_RSS_MIB,
                         "verdict": verdict(rss_mib is not None and rss_mib < TARGET_RSS_MIB)},
        "outbox_rows_added_by_redelivery": {
            "value": a["outbox_added"], "target": "== 0",
            "verdict": verdict(a["outbox_added"] == 0)},
        "writes": {"copy_invoice_rows": a["copy_count"], "fresh_invoice_rows": a["invoices"],
                   "fresh_debtor_rows": a["debtor_rows"],
                   "fresh_outbox_rows": a["outbox_after_fresh"],
                   "fresh_outbox_table_rows": a["outbox_table_fresh"],
                   "redelivery_outbox_rows": a["outbox_added"],
                   "redelivery_outbox_table_rows": a["outbox_table_added"]},
        "rounds": [dict(r, fresh_ratio=round(r["copy_s"] / r["fresh_s"], 3),
                        redelivery_ratio=round(r["copy_s"] / r["redelivery_s"], 3))
                   for r in a["rounds"]],
        "build_dir": a["build_dir"],
        "notes": a["notes"],
    }


def print_table(r, out=sys.stdout):
    def line(what, value, target="", v=""):
        out.write(("  %-34s %18s   %-8s %s" % (what, value, target, v)).rstrip() + "\n")
    out.write("huikuan-ingestion vs psql \\copy  (%d rows, %d debtors, %.1f MiB feed)\n"
              % (r["rows"], r["debtors"], r["feed_mib"]))
    out.write("  %-34s %18s   %-8s %s\n" % ("measure", "value", "target", "result"))
    line("\\copy rows/s", "%d  (%.1f s)" % (r["copy"]["rows_per_s"], r["copy"]["seconds"]))
    f, d = r["fresh"], r["redelivery"]
    line("fresh load rows/s", "%d  (%.1f s)" % (f["rows_per_s"], f["seconds"]))
    line("fresh load ratio (÷ \\copy)", "%.3f" % f["ratio"], f["target"], f["verdict"])
    line("re-delivery rows/s", "%d  (%.1f s)" % (d["rows_per_s"], d["seconds"]))
    line("re-delivery ratio (÷ \\copy)", "%.3f" % d["ratio"], d["target"], d["verdict"])
    p = r["peak_rss_mib"]
    line("daemon peak RSS MiB (VmHWM)", "-" if p["value"] is None else "%.1f" % p["value"],
         p["target"], p["verdict"])
    o = r["outbox_rows_added_by_redelivery"]
    line("events added by re-delivery", "%d" % o["value"], o["target"], o["verdict"])
    fi, ri = f["intake"], d["intake"]
    out.write("  intake_file: fresh %d accepted / %d unchanged / %d rejected; re-delivery %d "
              "accepted / %d unchanged / %d rejected; events after fresh load: %d\n"
              % (fi["rows_accepted"], fi["rows_unchanged"], fi["rows_rejected"],
                 ri["rows_accepted"], ri["rows_unchanged"], ri["rows_rejected"],
                 f["outbox_rows"]))
    w = r["writes"]
    out.write("  writes: \\copy %d invoice_bench rows (primary key + 2 indexes), nothing else;"
              " fresh load %d invoice rows (same indexes + invoice->debtor reference check per statement), %d debtor"
              " rows, %d events in %d outbox_row rows, 1 intake_file row; re-delivery %d events"
              " in %d outbox_row rows, 1 intake_file row\n"
              % (w["copy_invoice_rows"], w["fresh_invoice_rows"], w["fresh_debtor_rows"],
                 w["fresh_outbox_rows"], w["fresh_outbox_table_rows"],
                 w["redelivery_outbox_rows"], w["redelivery_outbox_table_rows"]))
    if len(r["rounds"]) > 1:
        out.write("  rounds (above: the one with the median fresh-load ratio): %s\n"
                  % "; ".join("\\copy %.1f s, fresh %.1f s (%.3f), re-delivery %.1f s (%.3f)"
                              % (x["copy_s"], x["fresh_s"], x["fresh_ratio"],
                                 x["redelivery_s"], x["redelivery_ratio"])
                              for x in r["rounds"]))
    for n in r["notes"]:
        out.write("  note: %s\n" % n)


# ---------------------------------------------------------------- main

def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="ingest_bench.py",
        description="Measures huikuan-ingestion against psql \\copy on one generated invoice "
                    "feed (see tests/bench/README.md).")
    p.add_argument("--rows", type=int, default=1000000, help="invoice rows (default 1000000)")
    p.add_argument("--debtors", type=int, default=100000,
                   help="distinct debtors drawn from (default 100000)")
    p.add_argument("--seed", type=int, default=1, help="random seed of the feed (default 1)")
    p.add_argument("--timeout", type=float, default=1800.0,
                   help="seconds each phase may take before the run counts as broken "
                        "(default 1800)")
    p.add_argument("--build-dir", default=os.environ.get("HK_BUILD_DIR")
                   or os.path.join(SOURCE_DIR, "build"),
                   help="build with services/huikuan-ingestion and services/hkctl "
                        "(default $HK_BUILD_DIR or ./build)")
    p.add_argument("--rounds", type=int, default=3,
                   help="rounds of \\copy, fresh load and re-delivery; the round with the "
                        "median fresh-load ratio is printed, with every round's times "
                        "(default 3)")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.add_argument("--keep", action="store_true",
                   help="keep the work folder (feed, run dir, logs); servers are stopped anyway")
    a = p.parse_args(argv)
    if a.rows < 1 or a.debtors < 1 or a.timeout <= 0 or a.rounds < 1:
        p.error("--rows, --debtors, --timeout and --rounds must be positive")
    return a


def one_round(args, fleet_mod, pg, feed, work, k, state):
    """One round: \\copy into a fresh database, then the daemon's fresh load and re-delivery
    into another. Returns the round's figures. state keeps what must be cleaned up."""
    admin = state["admin"]
    # 1. \\copy baseline in its own fresh, migrated database
    copy_db = "b_" + os.urandom(6).hex()
    admin_exec(admin, "CREATE DATABASE %s" % copy_db)
    state["copy_db"] = copy_db
    copy_url = db_url(admin, copy_db)
    hkctl_migrate(fleet_mod, copy_url)
    log("\\copy into invoice_bench ...")
    copy_s, copy_count = run_copy(pg["PG_BIN"], copy_url, feed, args.timeout)
    if copy_count != args.rows:
        raise Broken("\\copy loaded %d rows, want %d" % (copy_count, args.rows))
    log("\\copy: %.1f s" % copy_s)
    admin_exec(admin, "DROP DATABASE IF EXISTS %s WITH (FORCE)" % copy_db)
    state["copy_db"] = None
    admin_exec(admin, "CHECKPOINT")

    # 2. fresh load by the daemon into a second fresh, migrated database
    fleet = fleet_mod.Fleet(os.path.join(work, "fleet-%d" % (k + 1)), admin_url=admin,
                            extra_env={"HUIKUAN_LOG_LEVEL": "warn"})
    state["fleet"] = fleet
    daemon = fleet.start("ingestion")
    log("huikuan-ingestion pid %d, loading ..." % daemon.proc.pid)
    fresh_s, fresh_row = drop_and_wait(fleet, daemon, feed, "bench-1.csv", args.timeout)
    log("fresh load: %.1f s" % fresh_s)
    notes = []
    if fresh_row["rows_rejected"]:
        raise Broken("the daemon rejected %d of the generated rows (see %s)"
                     % (fresh_row["rows_rejected"], os.path.join(fleet.run_dir, "done")))
    invoices = fleet.scalar("SELECT count(*) FROM invoice")
    if invoices != args.rows:
        raise Broken("invoice holds %d rows after the fresh load, want %d"
                     % (invoices, args.rows))
    outbox_fresh = fleet.outbox_count()
    outbox_table_fresh = fleet.scalar("SELECT count(*) FROM outbox_row")
    debtor_rows = fleet.scalar("SELECT count(*) FROM debtor")
    admin_exec(admin, "CHECKPOINT")

    # 3. re-delivery of the identical file under another name
    log("re-delivery ...")
    re_s, re_row = drop_and_wait(fleet, daemon, feed, "bench-2.csv", args.timeout)
    log("re-delivery: %.1f s" % re_s)
    outbox_added = fleet.outbox_count() - outbox_fresh
    outbox_table_added = fleet.scalar("SELECT count(*) FROM outbox_row") - outbox_table_fresh
    if re_row["rows_unchanged"] != args.rows:
        notes.append("re-delivery counted %d unchanged rows of %d"
                     % (re_row["rows_unchanged"], args.rows))
    rss = vm_hwm_bytes(daemon.proc.pid)
    if not daemon.running():
        raise Broken("huikuan-ingestion died (exit %s):\n%s"
                     % (daemon.proc.returncode, daemon.log()))
    fleet.close()                           # SIGTERM: asserts a clean exit 0
    state["fleet"] = None
    return {"copy_s": copy_s, "fresh_s": fresh_s, "redelivery_s": re_s,
            "fresh_row": fresh_row, "re_row": re_row, "rss_bytes": rss,
            "outbox_after_fresh": outbox_fresh, "outbox_added": outbox_added,
            "outbox_table_fresh": outbox_table_fresh, "outbox_table_added": outbox_table_added,
            "copy_count": copy_count, "invoices": invoices, "debtor_rows": debtor_rows,
            "notes": notes}


def main(argv):
    args = parse_args(argv)
    build_dir = os.path.abspath(args.build_dir)
    os.environ["HK_BUILD_DIR"] = build_dir
    os.environ.pop("HK_TESTENV", None)      # always private servers, never a ctest run's
    sys.path.insert(0, HARNESS_DIR)
    import fleet as fleet_mod               # tests/harness/fleet.py
    import servers                          # tests/harness/servers.py

    work = tempfile.mkdtemp(prefix="hk-bench-")
    servers_dir = os.path.join(work, "servers")
    fleet = None
    copy_db = None
    admin = None
    measured = None
    error = None
    try:
        for b in ("huikuan-ingestion", "hkctl"):
            fleet_mod.binary(b)             # raises when not built
        feed = os.path.join(work, "feed.csv")
        log("generating %d rows (%d debtors) into %s" % (args.rows, args.debtors, feed))
        t0 = time.monotonic()
        generate_feed(feed, args.rows, args.debtors, args.seed)
        feed_bytes = os.path.getsize(feed)
        log("feed: %.1f MiB in %.1f s" % (feed_bytes / MIB, time.monotonic() - t0))

        pg = servers.start_postgres(servers_dir)
        admin = pg["ADMIN_URL"]
        log("private PostgreSQL at %s" % admin)
        state = {"admin": admin, "copy_db": None, "fleet": None}
        rounds = []
        try:
            for k in range(args.rounds):
                log("round %d of %d" % (k + 1, args.rounds))
                rounds.append(one_round(args, fleet_mod, pg, feed, work, k, state))
        finally:
            fleet, copy_db = state["fleet"], state["copy_db"]
        # the round whose fresh-load ratio is the median stands for the run; RSS is the most
        # any round's daemon reached
        order = sorted(range(len(rounds)),
                       key=lambda i: rounds[i]["copy_s"] / rounds[i]["fresh_s"])
        mid = dict(rounds[order[len(order) // 2]])
        rss = [r["rss_bytes"] for r in rounds if r["rss_bytes"] is not None]
        mid["rss_bytes"] = max(rss) if rss else None
        mid.update({"rows": args.rows, "debtors": args.debtors, "feed_bytes": feed_bytes,
                    "build_dir": build_dir,
                    "rounds": [{"copy_s": round(r["copy_s"], 3),
                                "fresh_s": round(r["fresh_s"], 3),
                                "redelivery_s": round(r["redelivery_s"], 3)} for r in rounds]})
        measured = build_result(mid)
    except Broken as e:
        error = str(e)
    except Exception as e:  # noqa: BLE001 - harness assertions, psycopg2, OS errors alike
        error = "%s: %s" % (type(e).__name__, e)
    finally:
        if fleet is not None:
            try:
                fleet.close()               # SIGTERM: asserts a clean exit 0
            except AssertionError as e:
                if error is None:
                    error = "shutdown: %s" % e
        if copy_db and admin:
            try:
                admin_exec(admin, "DROP DATABASE IF EXISTS %s WITH (FORCE)" % copy_db)
            except Exception:  # noqa: BLE001 - best effort
                pass
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
