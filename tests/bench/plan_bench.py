#!/usr/bin/python3
"""plan_bench: how fast huikuan-scheduling plans for every overdue debtor and dispatches the
due contacts, compared with the aging daemon's full run over the same data and with raw
pipelined XADDs into the same Redis.

    tests/bench/plan_bench.py [--debtors N] [--json] [--timeout S] [--build-dir DIR] [--keep]

One run, one private PostgreSQL and Redis (tests/harness), one fresh migrated database loaded
with psql \\copy: N debtors with one overdue invoice each (aging_bench.py's generator with as
many invoices as debtors, due dates before AS_OF).

  aging      huikuan-aging's full re-age as of AS_OF (aging_bench.time_reage)
  plan       every open invoice enters collection (one INSERT .. SELECT, as the invoice events
             would; not timed), then huikuan-scheduling is started and timed until every debt
             has its next step planned: the target is <= 2 x aging
  dispatch   --schedulers instances (default 2: the first, which planned, and more started
             after planning, each waited for until it shares the due contacts with the
             others); the fleet clock moves to the minute the first contacts were planned
             for (the best weekday's first minutes, R-S1/R-S2), where every debtor's first
             notice is due at once (a debtor's others were planned the caps' gap later,
             R-C2, and are not due yet); timed until none due is left planned: contacts per
             second (target >= 20,000/s), beside raw `redis-cli --pipe` XADDs of as many
             entries (the same Redis, the same run); then, not a target, the seconds until
             the schedulers' outboxes are relayed

Exit status: 0 when measured (whatever PASS/MISS says), 1 when something broke, 2 on bad
usage. Standard library plus Debian's python3-psycopg2.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse

from aging_bench import (AS_OF, CLOCK, generate_csvs, psql_copy, time_reage, vacuum_analyze)
from ingest_bench import HARNESS_DIR, SOURCE_DIR, Broken, admin_exec, verdict

POLL = 0.2
POLL_DISPATCH = 0.05   # the burst takes seconds: a coarser poll would add up to 7 % to it
TARGET_PLAN = 2.0
TARGET_DISPATCH = 20000


def log(msg):
    sys.stderr.write("plan_bench: %s\n" % msg)
    sys.stderr.flush()


def wait_for(fleet, daemon, sql, what, timeout, t0=None, count_sql=None, interval=POLL):
    """Polls sql (a count) until it is 0; returns the seconds taken since t0 (default now).
    count_sql, when sql only tells whether anything is left: the count for progress lines."""
    t0 = t0 or time.monotonic()
    last = t0
    while True:
        n = fleet.scalar(sql)
        now = time.monotonic()
        if n == 0:
            return now - t0
        if count_sql and (not daemon.running() or now - t0 > timeout or now - last >= 30):
            n = fleet.scalar(count_sql)
        if not daemon.running():
            raise Broken("%s died (exit %s) with %d left:\n%s"
                         % (daemon.instance, daemon.proc.returncode, n, daemon.log()))
        if now - t0 > timeout:
            raise Broken("%s: %d left after %.0f s:\n%s" % (what, n, timeout, daemon.log()))
        if now - last >= 30:
            log("%s: %d left after %.0f s" % (what, n, now - t0))
            last = now
        time.sleep(interval)


def raw_xadd_rate(fleet, n):
    """Entries per second of `redis-cli --pipe` XADDing n contact-sized entries."""
    port = str(urllib.parse.urlsplit(fleet.redis_url).port)
    entry = "00000000-0000-4000-8000-000000000000"
    cmd = "*5\r\n$4\r\nXADD\r\n$14\r\nhk:bench:xadds\r\n$1\r\n*\r\n$1\r\nd\r\n$%d\r\n%s\r\n" \
        % (len(entry), entry)
    payload = (cmd * n).encode()
    t0 = time.monotonic()
    r = subprocess.run(["redis-cli", "-p", port, "--pipe"], input=payload, capture_output=True,
                       timeout=600)
    s = time.monotonic() - t0
    if r.returncode != 0:
        raise Broken("redis-cli --pipe exited %d: %s" % (r.returncode, r.stderr[-400:]))
    subprocess.run(["redis-cli", "-p", port, "DEL", "hk:bench:xadds"], capture_output=True,
                   timeout=60)
    return n / s


def main(argv):
    p = argparse.ArgumentParser(prog="plan_bench.py", description=__doc__.split("\n")[0])
    p.add_argument("--debtors", type=int, default=100000,
                   help="overdue debtors, one invoice each (default 100000)")
    p.add_argument("--schedulers", type=int, default=2,
                   help="scheduler instances dispatching (default 2)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--timeout", type=float, default=3600.0)
    p.add_argument("--build-dir", default=os.environ.get("HK_BUILD_DIR")
                   or os.path.join(SOURCE_DIR, "build"))
    p.add_argument("--json", action="store_true")
    p.add_argument("--keep", action="store_true")
    a = p.parse_args(argv)
    if a.debtors < 1 or a.timeout <= 0 or a.schedulers < 1:
        p.error("--debtors, --schedulers and --timeout must be positive")
    build_dir = os.path.abspath(a.build_dir)
    os.environ["HK_BUILD_DIR"] = build_dir
    os.environ.pop("HK_TESTENV", None)
    sys.path.insert(0, HARNESS_DIR)
    import fleet as fleet_mod
    import servers

    work = tempfile.mkdtemp(prefix="hk-bench-plan-")
    servers_dir = os.path.join(work, "servers")
    fleet, result, error = None, None, None
    try:
        for b in ("huikuan-aging", "huikuan-scheduling", "hkctl"):
            fleet_mod.binary(b)
        debtor_csv = os.path.join(work, "debtors.csv")
        invoice_csv = os.path.join(work, "invoices.csv")
        generate_csvs(debtor_csv, invoice_csv, a.debtors, a.debtors, a.seed)
        pg = servers.start_postgres(servers_dir)
        fleet = fleet_mod.Fleet(os.path.join(work, "fleet"), admin_url=pg["ADMIN_URL"],
                                extra_env={"HUIKUAN_LOG_LEVEL": "warn"})
        psql_copy(pg["PG_BIN"], fleet.database_url, "debtor", "tenant, debtor_id, name, email",
                  debtor_csv, a.timeout)
        psql_copy(pg["PG_BIN"], fleet.database_url, "invoice",
                  "tenant, invoice_id, debtor_id, currency, amount_minor, outstanding_minor,"
                  " issued_on, due_on, status", invoice_csv, a.timeout)
        # overdue on AS_OF, all of them
        fleet.query("UPDATE invoice SET due_on = LEAST (due_on, %s::date - 1) RETURNING 1",
                    (AS_OF,))
        vacuum_analyze(fleet.database_url)
        n = fleet.scalar("SELECT count(*) FROM invoice")

        # 1. aging's full run of the same data (each timed phase starts after a CHECKPOINT:
        # none pays for the dirty pages of the one before)
        admin_exec(pg["ADMIN_URL"], "CHECKPOINT")
        fleet.clock_set(CLOCK)
        aging_s, aging = time_reage(fleet, n, a.timeout)
        while fleet.scalar("SELECT count(*) FROM event_unpublished"):
            time.sleep(POLL)
        aging.stop()
        log("aging: %.1f s" % aging_s)

        # 2. planning. The aging run's events are dropped from the scheduler's streams: the
        # collection rows below stand for them, and their consumption is not what is measured.
        port = str(urllib.parse.urlsplit(fleet.redis_url).port)
        for stream in ("invoice.aged", "invoice.recorded", "debtor.graded"):
            subprocess.run(["redis-cli", "-p", port, "DEL", "hk:ev:" + stream],
                           capture_output=True, timeout=60)
        fleet.query("INSERT INTO collection (tenant, invoice_id, debtor_id, strategy,"
                    " strategy_version, next_review_at, opened_at)"
                    " SELECT tenant, invoice_id, debtor_id, 'default', 1, %s, %s FROM invoice"
                    " WHERE status = 'open' RETURNING 1", (CLOCK, CLOCK))
        fleet.query("ANALYZE collection; SELECT 1")
        admin_exec(pg["ADMIN_URL"], "CHECKPOINT")
        t0 = time.monotonic()
        sched = fleet.start("scheduling", wait=False)
        # asked as "is there still one", as the dispatch poll below: a count read every
        # collection row each time (22 ms every 0.2 s beside the daemon on the same cores)
        unplanned = ("FROM collection WHERE state = 'active' AND pending_contact IS NULL"
                     " AND next_review_at <= '%s'" % CLOCK)
        plan_s = wait_for(fleet, sched,
                          "SELECT count(*) FROM (SELECT 1 %s ORDER BY next_review_at LIMIT 1)"
                          " AS first" % unplanned, "planning", a.timeout, t0,
                          "SELECT count(*) " + unplanned)
        planned = fleet.scalar("SELECT count(*) FROM contact WHERE status = 'planned'")
        log("planning: %.1f s, %d contacts" % (plan_s, planned))

        # 3. dispatch: the burst at the minute the first contacts were planned for, shared by
        # every scheduler instance
        fleet.query("ANALYZE contact; SELECT 1")
        scheds = [sched] + [fleet.start("scheduling", "scheduling-%d" % k)
                            for k in range(2, a.schedulers + 1)]
        t_share = time.monotonic()

        def shares():
            return [d.metric("hk_dispatch_share_instances") for d in scheds]
        while a.schedulers > 1 and any(n != a.schedulers for n in shares()):
            if time.monotonic() - t_share > 30:
                raise Broken("the schedulers did not see each other in 30 s: %s"
                             % shares())
            time.sleep(POLL)
        unpublished = ("SELECT count(*) FROM event_unpublished WHERE producer IN (%s)"
                       % ", ".join("'%s'" % d.instance for d in scheds))
        backlog = fleet.scalar(unpublished)
        burst = fleet.scalar("SELECT to_char (min (due_at) AT TIME ZONE 'UTC',"
                             " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM contact"
                             " WHERE status = 'planned'")
        due_n = fleet.scalar("SELECT count(*) FROM contact WHERE status = 'planned'"
                             " AND due_at <= %s", (burst,))
        log("dispatch: %d contacts due at %s" % (due_n, burst))
        admin_exec(pg["ADMIN_URL"], "CHECKPOINT")
        fleet.clock_set(burst)
        t_disp = time.monotonic()
        # the same condition as a count of planned due contacts reaching 0, asked as "is the
        # first one in due order still there": a count(*) per poll read the whole contact
        # table (stale statistics after the burst starts), 75-135 ms every 0.2 s beside the
        # daemon on the same cores
        due = ("FROM contact WHERE status = 'planned' AND due_at <= '%s'" % burst)
        disp_s = wait_for(fleet, sched,
                          "SELECT count(*) FROM (SELECT 1 %s ORDER BY due_at LIMIT 1) AS first"
                          % due, "dispatch", a.timeout, t_disp, "SELECT count(*) " + due,
                          interval=POLL_DISPATCH)
        dispatched = fleet.scalar("SELECT count(*) FROM contact WHERE status = 'dispatched'")
        deferred = fleet.scalar("SELECT count(*) FROM contact WHERE cap_deferrals > 0")
        # not part of the target: until the scheduler's events (contact.dispatched, and what
        # planning left) are relayed from its outbox to Redis and the bus
        relay_s = wait_for(fleet, sched, unpublished, "relay", a.timeout, t_disp)
        for d in scheds:
            d.stop()
        raw = raw_xadd_rate(fleet, max(dispatched, 1))
        rate = dispatched / disp_s if disp_s > 0 else 0
        ratio = plan_s / aging_s
        result = {
            "debtors": a.debtors, "invoices": n, "as_of": AS_OF,
            "aging_s": round(aging_s, 3),
            "plan": {"seconds": round(plan_s, 3), "contacts": planned,
                     "ratio": round(ratio, 2), "target": "<= %g x aging" % TARGET_PLAN,
                     "verdict": verdict(ratio <= TARGET_PLAN)},
            "dispatch": {"schedulers": a.schedulers, "at": burst, "due": due_n,
                         "seconds": round(disp_s, 3), "contacts": dispatched,
                         "deferred_by_caps": deferred, "per_s": round(rate),
                         "target": ">= %d/s" % TARGET_DISPATCH,
                         "verdict": verdict(rate >= TARGET_DISPATCH),
                         "raw_xadd_per_s": round(raw), "ratio_to_raw": round(rate / raw, 3),
                         "outbox_drained_s": round(relay_s, 3),
                         "outbox_backlog_at_start": backlog},
            "notes": ["planning starts from collection rows seeded in SQL; the aging run's "
                      "events are not fed to the scheduler (event consumption is not timed); "
                      "polled every %.1f s (dispatch: %.2f s)" % (POLL, POLL_DISPATCH),
                      "dispatch writes, per contact: the contact row, its ladder state, one "
                      "outbox event and one Redis stream entry, under the caps",
                      "dispatch by %d scheduler instance%s on this machine, sharing the due "
                      "contacts by debtor" % (a.schedulers, "s" if a.schedulers > 1 else ""),
                      "dispatch at %s, the minute the first contacts were planned for: each "
                      "debtor's first is due; its others were planned at least the caps' gap "
                      "later (R-C2)" % burst,
                      "outbox drained: seconds from the clock move until the schedulers' "
                      "outboxes hold no unpublished event (each relay runs between dispatch "
                      "slices and after the burst); measured after the dispatch, not a target"],
        }
    except Broken as e:
        error = str(e)
    except Exception as e:  # noqa: BLE001
        error = "%s: %s" % (type(e).__name__, e)
    finally:
        if fleet is not None:
            try:
                fleet.close()
            except AssertionError as e:
                error = error or "shutdown: %s" % e
        servers.stop_postgres(servers_dir)
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            log("work folder kept: %s" % work)
    if result is not None:
        if a.json:
            json.dump(result, sys.stdout, indent=2)
            sys.stdout.write("\n")
        else:
            out = sys.stdout
            out.write("huikuan-scheduling planning and dispatch  (%d overdue debtors, as of %s)\n"
                      % (result["debtors"], result["as_of"]))
            pl, di = result["plan"], result["dispatch"]
            out.write("  aging full run s               %10.1f\n" % result["aging_s"])
            out.write("  planning s                     %10.1f   (%d contacts)\n"
                      % (pl["seconds"], pl["contacts"]))
            out.write("  planning ÷ aging               %10.2f   %-12s %s\n"
                      % (pl["ratio"], pl["target"], pl["verdict"]))
            out.write("  dispatch contacts/s            %10d   %-12s %s\n"
                      % (di["per_s"], di["target"], di["verdict"]))
            out.write("  raw redis-cli --pipe XADD/s    %10d   (dispatch ÷ raw %.3f)\n"
                      % (di["raw_xadd_per_s"], di["ratio_to_raw"]))
            out.write("  deferred by the caps           %10d\n" % di["deferred_by_caps"])
            out.write("  outbox drained after s         %10.1f   (not a target: events relayed;"
                      " %d waiting at the start)\n"
                      % (di["outbox_drained_s"], di["outbox_backlog_at_start"]))
            for note in result["notes"]:
                out.write("  note: %s\n" % note)
    if error:
        log("broken: %s" % error)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
