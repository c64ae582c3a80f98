"""The daily full re-age as a run of chunks handed out over Redis (aging issue 4): at the
tenant's day boundary by the fleet clock one instance plans the run, the chunks go out on a
Redis stream read through a consumer group, N instances share them, each debtor is aged
exactly once per run (evidence: aging_run_debtor), and a chunk held by an instance killed
with SIGKILL is claimed by another (XAUTOCLAIM) and finished there."""

import os
import random
import signal
import subprocess
import time
import uuid
from datetime import date, timedelta

from fleet import wait_until

DEBTORS = 600
CHUNK = 10
# each debtor has three results to compute (two invoices and itself) on the run days here:
# chunks of CHUNK debtors
FAST_CLAIM = {"HUIKUAN_AGING_CHUNK_SIZE": str(3 * CHUNK), "HUIKUAN_CLAIM_IDLE": "1s"}


def feed():
    """Two open invoices a debtor, due on dates whose results all change on March 2nd (a day
    run re-ages only what reached a change point): one due 2025-12-31 leaves "31-60" for
    "61-90", one due 2026-03-01 leaves "current", and the debtor's priority steps to 61 days."""
    rows = ["invoice_id,debtor_id,currency,amount,due_on"]
    for d in range(DEBTORS):
        for k, due in enumerate(("2025-12-31", "2026-03-01")):
            rows.append("R-%04d-%d,RD%04d,CNY,%d.00,%s" % (d, k, d, 10 + d, due))
    return "\n".join(rows) + "\n"


def load(fleet, env=FAST_CLAIM, stagger=0.0):
    fleet.clock_set("2026-03-01T10:00:00+08:00")
    fleet.start("ingestion")
    a = fleet.start("aging", "aging-1", **env)
    time.sleep(stagger)  # the instances' ticks out of step by that much
    b = fleet.start("aging", "aging-2", **env)
    fleet.drop("runs.csv", feed())
    wait_until(lambda: fleet.scalar("SELECT count(*) FROM invoice WHERE aged_as_of ="
                                    " '2026-03-01'") == 2 * DEBTORS, 60, what="first aging")
    wait_until(lambda: fleet.scalar("SELECT count(*) FROM consumed_event WHERE consumer ="
                                    " 'aging'") == 2 * DEBTORS, 60, what="events consumed")
    return a, b


def check_run(fleet, day):
    """Every owing debtor aged exactly once in the run of day, every invoice aged for day (the
    feed's dates make every result change on the run days of these tests)."""
    wait_until(lambda: fleet.scalar("SELECT finished_at IS NOT NULL FROM aging_run"
                                    " WHERE run_date = %s", (day,)), 90,
               what="run of %s finished" % day)
    chunks = fleet.scalar("SELECT chunks FROM aging_run WHERE run_date = %s", (day,))
    assert chunks == DEBTORS // CHUNK + 1  # the last one is open-ended (and empty here)
    per_debtor = fleet.query("SELECT debtor_id, count(*) FROM aging_run_debtor"
                             " WHERE run_date = %s GROUP BY 1", (day,))
    assert len(per_debtor) == DEBTORS
    assert {n for _, n in per_debtor} == {1}, [r for r in per_debtor if r[1] != 1][:5]
    assert fleet.scalar("SELECT sum(debtors) FROM aging_run_chunk WHERE run_date = %s",
                        (day,)) == DEBTORS
    assert fleet.scalar("SELECT count(*) FROM invoice WHERE aged_as_of = %s", (day,)) == \
        2 * DEBTORS
    assert fleet.scalar("SELECT count(*) FROM debtor WHERE risk_as_of = %s", (day,)) == DEBTORS
    # the evidence matches the chunk bounds: each debtor in the chunk that covers it
    assert fleet.scalar(
        "SELECT count(*) FROM aging_run_debtor e JOIN aging_run_chunk c USING (tenant,"
        " run_date, chunk) WHERE e.run_date = %s AND ((c.lo IS NOT NULL AND e.debtor_id <= c.lo)"
        " OR (c.hi IS NOT NULL AND e.debtor_id > c.hi))", (day,)) == 0
    return dict(fleet.query("SELECT done_by, count(*) FROM aging_run_chunk WHERE run_date = %s"
                            " GROUP BY 1", (day,)))


def test_two_instances_share_the_run(fleet):
    load(fleet)
    # the tenant's day boundary (Asia/Shanghai): 23:59 local is still March 1st ...
    fleet.clock_set("2026-03-01T15:59:58Z")
    time.sleep(1.5)
    assert fleet.scalar("SELECT count(*) FROM aging_run WHERE run_date = '2026-03-02'") == 0
    # ... 00:00 local (16:00 UTC) is March 2nd: the run of the 2nd starts
    fleet.clock_set("2026-03-01T16:00:00Z")
    by = check_run(fleet, date(2026, 3, 2))
    assert set(by) == {"aging-1", "aging-2"}, by
    assert fleet.scalar("SELECT count(*) FROM aging_run") == 2  # the 1st (empty) and the 2nd
    # the results moved by the day: invoices due 2025-12-31 are 61 days past due on March 2nd,
    # and hold until the no-contact rule (never reached, 90 days) moves them on March 31st
    assert fleet.query("SELECT DISTINCT bucket, aged_through::text FROM invoice"
                       " WHERE due_on = '2025-12-31'") == [("61-90", "2026-03-30")]
    # the day after, nothing reached a change point: the run ages and grades nothing
    fleet.clock_set("2026-03-03T10:00:00+08:00")
    wait_until(lambda: fleet.scalar("SELECT finished_at IS NOT NULL FROM aging_run"
                                    " WHERE run_date = '2026-03-03'"), 30, what="run of the 3rd")
    assert fleet.scalar("SELECT count(*) FROM aging_run_debtor"
                        " WHERE run_date = '2026-03-03'") == 0
    assert fleet.scalar("SELECT sum(invoices) FROM aging_run_chunk"
                        " WHERE run_date = '2026-03-03'") == 0
    assert fleet.scalar("SELECT count(*) FROM invoice WHERE aged_as_of = '2026-03-02'"
                        " AND aged_through >= '2026-03-03'") == 2 * DEBTORS


def test_a_small_day_is_shared_by_the_live_instances(fleet):
    """A day whose results fit in one chunk of chunk_size (5,000 by default; 1,800 here) is
    cut into one chunk per live aging instance all the same, so that N instances share a
    small day's run too, not only a first aging's."""
    load(fleet, {"HUIKUAN_CLAIM_IDLE": "1s"})
    fleet.clock_set("2026-03-02T10:00:00+08:00")
    wait_until(lambda: fleet.scalar("SELECT finished_at IS NOT NULL FROM aging_run"
                                    " WHERE run_date = '2026-03-02'"), 90, what="run of the 2nd")
    # two halves of 300 debtors (900 results each), and the open-ended chunk after the last
    # debtor (empty here); a single live instance would have had all 1,800 in one chunk
    assert fleet.query("SELECT chunk, debtors, invoices FROM aging_run_chunk"
                       " WHERE run_date = '2026-03-02' ORDER BY chunk") == [
        (0, DEBTORS // 2, DEBTORS), (1, DEBTORS // 2, DEBTORS), (2, 0, 0)]


def test_a_waiting_instance_takes_its_chunk_at_once(fleet):
    """Between ticks with nothing to do, an instance waits on the run's stream (the loop's
    own_queue, with its event streams): with a tick of 3 s, the instance that did not plan
    the day's run takes a chunk the moment the planner pushes it, instead of at its next tick,
    by when the planner would have done every chunk itself (the instances' ticks are half a
    tick out of step here). The chunks are pushed once the plan committed: a chunk read
    before would find no chunk row and be dropped, and the run would wait for claim_idle
    (30 s) and more."""
    load(fleet, {"HUIKUAN_TICK": "3s"}, stagger=1.5)
    fleet.clock_set("2026-03-02T10:00:00+08:00")
    wait_until(lambda: fleet.scalar("SELECT finished_at IS NOT NULL FROM aging_run"
                                    " WHERE run_date = '2026-03-02'"), 20, what="run of the 2nd")
    assert fleet.query("SELECT done_by, sum(invoices)::int FROM aging_run_chunk"
                       " WHERE run_date = '2026-03-02' AND invoices > 0 GROUP BY 1"
                       " ORDER BY 1") == [("aging-1", DEBTORS), ("aging-2", DEBTORS)]


def pending_of(fleet, consumer):
    r = subprocess.run(["redis-cli", "-u", fleet.redis_url, "XPENDING", "hk:aging:run:default",
                        "aging", "-", "+", "100", consumer], capture_output=True, text=True,
                       timeout=10)
    return [line for line in r.stdout.splitlines() if "-" in line and line[0].isdigit()]


def chunk_done(fleet, entry_id):
    """Whether the chunk of the run's stream entry entry_id is done in the database."""
    r = subprocess.run(["redis-cli", "-u", fleet.redis_url, "XRANGE", "hk:aging:run:default",
                        entry_id, entry_id], capture_output=True, text=True, timeout=10)
    words = [w for w in r.stdout.split() if w.isdigit()]
    if not words:
        return False
    return bool(fleet.scalar("SELECT count(*) FROM aging_run_chunk WHERE run_date = '2026-03-03'"
                             " AND chunk = %s AND done_at IS NOT NULL", (int(words[-1]),)))


def test_kill9_mid_run_the_other_finishes(fleet):
    a, b = load(fleet)
    fleet.clock_set("2026-03-03T10:00:00+08:00")
    # once aging-2 has done a chunk of the run and holds another (frozen with SIGSTOP to look
    # at what it holds), SIGKILL it
    wait_until(lambda: fleet.scalar("SELECT count(*) FROM aging_run_chunk WHERE run_date ="
                                    " '2026-03-03' AND done_by = 'aging-2'") >= 1, 60,
               interval=0.01, what="aging-2 mid-run")
    # a chunk it holds and has not finished: one it committed but had not acknowledged yet is
    # done already, and the other instance only acknowledges it
    held = []
    for _ in range(200):
        os.kill(b.proc.pid, signal.SIGSTOP)
        held = [i for i in pending_of(fleet, "aging-2") if not chunk_done(fleet, i)]
        if held:
            break
        os.kill(b.proc.pid, signal.SIGCONT)
        time.sleep(0.003)
    assert held, "aging-2 never held a chunk it had not finished"
    b.kill9()
    done_at_kill = fleet.scalar("SELECT count(*) FROM aging_run_chunk WHERE run_date ="
                                " '2026-03-03' AND done_at IS NOT NULL")
    assert done_at_kill < DEBTORS // CHUNK + 1, "the run was over before the kill"
    by = check_run(fleet, date(2026, 3, 3))
    assert by.get("aging-1", 0) > 0
    # what the dead instance held was claimed (a second delivery) and done by aging-1
    assert fleet.scalar("SELECT count(*) FROM aging_run_chunk WHERE run_date ="
                        " '2026-03-03' AND deliveries >= 2 AND done_by = 'aging-1'") >= 1
    assert pending_of(fleet, "aging-2") == []
    b.start()  # the fleet's teardown expects it running; it finds nothing left to do


def left_run(fleet, done):
    """Loads the feed, stops both instances and records a run of March 2nd that an instance
    left behind: planned an hour ago, its two chunks done (done=True) or not, its messages
    gone; then moves the clock to that day. Returns the two (stopped) instances."""
    a, b = load(fleet)
    b.stop()
    a.stop()
    done_at, done_by = ("now()", "'gone'") if done else ("NULL", "NULL")
    with fleet.db().cursor() as cur:
        cur.execute("INSERT INTO aging_run (tenant, run_date, planned_by, chunks, planned_at)"
                    " VALUES ('default', '2026-03-02', 'gone', 2, now() - interval '1 hour')")
        cur.execute("INSERT INTO aging_run_chunk (tenant, run_date, chunk, lo, hi, done_at,"
                    " done_by) VALUES ('default', '2026-03-02', 0, NULL, 'RD0299', %s, %s),"
                    " ('default', '2026-03-02', 1, 'RD0299', NULL, %s, %s)"
                    % (done_at, done_by, done_at, done_by))
    fleet.clock_set("2026-03-02T10:00:00+08:00")
    return a, b


def run_finished(fleet):
    wait_until(lambda: fleet.scalar("SELECT finished_at IS NOT NULL FROM aging_run"
                                    " WHERE run_date = '2026-03-02'"), 30, what="run finished")


def test_lost_chunk_messages_are_pushed_again(fleet):
    """A run whose chunk messages never reached Redis (or were lost with its data) is not stuck:
    with nothing pending in the group, its chunks not done are pushed again and done once."""
    a, b = left_run(fleet, done=False)
    a.start()
    run_finished(fleet)
    assert fleet.query("SELECT chunk, debtors, invoices, done_by FROM aging_run_chunk"
                       " WHERE run_date = '2026-03-02' ORDER BY 1") == \
        [(0, 300, 600, "aging-1"), (1, 300, 600, "aging-1")]
    assert fleet.scalar("SELECT count(*) FROM (SELECT debtor_id FROM aging_run_debtor WHERE"
                        " run_date = '2026-03-02' GROUP BY 1 HAVING count(*) = 1) s") == DEBTORS
    b.start()


def test_a_run_whose_chunks_are_all_done_is_marked_finished(fleet):
    """Two chunks committing at once each saw the other undone, and neither marked the run
    finished; the passes then waited for the next day's run. A chunk now locks the run's row
    before its check (s_finish_run). A run left that way (by a version before that) is marked
    finished at the next tick that finds nothing to do."""
    a, b = left_run(fleet, done=True)
    a.start()
    run_finished(fleet)
    # and the passes went on: every invoice aged for the day by them, none by a chunk
    wait_until(lambda: fleet.scalar("SELECT count(*) FROM invoice WHERE aged_as_of ="
                                    " '2026-03-02'") == 2 * DEBTORS, 30, what="passes")
    b.start()


def redis_add(fleet, stream, data):
    """XADD stream * d <data> with binary data (redis-cli -x reads the last argument from
    stdin)."""
    r = subprocess.run(["redis-cli", "-u", fleet.redis_url, "-x", "XADD", stream, "*", "d"],
                       input=data, capture_output=True, timeout=10)
    assert r.returncode == 0 and b"ERR" not in r.stdout, (r.stdout, r.stderr)


def test_events_consumed_together_a_bad_one_neither_lost_nor_blocking(fleet, proto):
    """The scaffold applies the events of one read in one transaction (daemon.c): each event
    once per consumer kind (an event twice in the same read is applied once), and when one of
    them fails the batch is split, so the others are applied and only the bad one is retried,
    then parked on hk:dead after its deliveries run out."""
    envelope_pb2, _ = proto
    fleet.clock_set("2026-03-01T10:00:00+08:00")
    fleet.start("ingestion")
    aging = fleet.start("aging", **FAST_CLAIM)
    fleet.drop("few.csv", "invoice_id,debtor_id,currency,amount,due_on\n" + "".join(
        "B-%02d,BD%02d,CNY,100.00,2026-02-01\n" % (k, k) for k in range(20)))
    wait_until(lambda: fleet.scalar("SELECT count(*) FROM invoice WHERE aged_as_of ="
                                    " '2026-03-01'") == 20, 30, what="first aging")
    aging.stop()                    # the payments wait in their stream, read together later
    fleet.drop("pay.csv", "payment_id,debtor_id,invoice_id,currency,amount,received_at\n" + "".join(
        "BP-%02d,BD%02d,B-%02d,CNY,10.00,2026-03-01T09:00:00+08:00\n" % (k, k, k)
        for k in range(20)))
    wait_until(lambda: fleet.scalar("SELECT count(*) FROM event_outbox o WHERE type ="
                                    " 'payment.recorded' AND NOT EXISTS (SELECT 1 FROM"
                                    " event_unpublished u WHERE u.producer = o.producer"
                                    " AND u.seq = o.seq)") == 20,
               30, what="payments relayed")
    first = bytes(fleet.scalar("SELECT envelope FROM event_outbox WHERE type ="
                               " 'payment.recorded' ORDER BY seq LIMIT 1"))
    bad = envelope_pb2.Envelope.FromString(first)
    bad.event_id = "not-a-uuid"     # consumed_event cannot record it: this event always fails
    redis_add(fleet, "hk:ev:payment.recorded", bad.SerializeToString())
    redis_add(fleet, "hk:ev:payment.recorded", first)   # the same event again, same read
    aging.start()
    # the 20 payments are applied, each once, beside the bad one
    wait_until(lambda: fleet.scalar("SELECT count(*) FROM consumed_event WHERE consumer ="
                                    " 'aging' AND event_id IN (SELECT event_id FROM event_outbox"
                                    " WHERE type = 'payment.recorded')") == 20, 30,
               what="payments consumed")
    wait_until(lambda: fleet.scalar("SELECT count(*) FROM invoice WHERE aged_as_of ="
                                    " '2026-03-01' AND outstanding_minor = 9000") == 20, 30,
               what="paid invoices aged again")
    assert aging.metric("hk_events_consumed_total") == 20
    assert aging.metric("hk_events_duplicate_total") == 1
    assert "event.batch_split" in aging.log(400)
    # the bad one alone is delivered again (claim_idle 1s) until it is parked
    wait_until(lambda: subprocess.run(
        ["redis-cli", "-u", fleet.redis_url, "XLEN", "hk:dead"], capture_output=True,
        text=True, timeout=10).stdout.strip() == "1", 60, what="bad event parked")
    wait_until(lambda: subprocess.run(
        ["redis-cli", "-u", fleet.redis_url, "XPENDING", "hk:ev:payment.recorded", "aging"],
        capture_output=True, text=True, timeout=10).stdout.split()[0] == "0", 20,
        what="nothing pending")
    assert aging.metric("hk_events_parked_total") == 1
    assert aging.metric("hk_events_consumed_total") == 20
    # a batch that goes through: a new event twice and a consumed one twice, in one read
    fresh = envelope_pb2.Envelope.FromString(first)
    fresh.event_id = str(uuid.uuid4())
    for data in (fresh.SerializeToString(), first, fresh.SerializeToString(), first):
        redis_add(fleet, "hk:ev:payment.recorded", data)
    wait_until(lambda: aging.metric("hk_events_duplicate_total") == 4, 20,
               what="three duplicates more")
    assert aging.metric("hk_events_consumed_total") == 21
    assert fleet.scalar("SELECT count(*) FROM consumed_event WHERE consumer = 'aging'"
                        " AND event_id = %s", (fresh.event_id,)) == 1
    assert aging.log(400).count("event.batch_split") == 1


def test_day_runs_hold_what_a_full_recomputation_gives(fleet):
    """A day's run re-ages only the invoices and debtors at a change point (migration 24);
    the results of every other row must still be exactly what aging them afresh gives. Over
    days chosen to cross buckets, grade thresholds, curve points, priority steps and month
    ends, each day's stored results are compared with a recomputation of every row."""
    rng = random.Random(24)
    rows = ["invoice_id,debtor_id,currency,amount,due_on"]
    start = date(2023, 1, 1)
    for k in range(400):
        due = start + timedelta(days=rng.randrange(0, 1300))
        rows.append("X-%04d,XD%03d,CNY,%d.%02d,%s" % (k, k % 120, rng.randrange(1, 9000),
                                                      rng.randrange(100), due.isoformat()))
    fleet.clock_set("2026-03-01T10:00:00+08:00")
    fleet.start("ingestion")
    fleet.start("aging")
    fleet.drop("spread.csv", "\n".join(rows) + "\n")
    wait_until(lambda: fleet.scalar("SELECT count(*) FROM invoice WHERE aged_as_of ="
                                    " '2026-03-01'") == 400, 60, what="first aging")
    invoice_sql = ("SELECT invoice_id, bucket, grade, recovery_bp, expected_recoverable_minor,"
                   " limitation_expires_on, limitation_warning FROM invoice ORDER BY 1")
    debtor_sql = ("SELECT debtor_id, grade, grade_reasons, priority, priority_parts, signals,"
                  " stance FROM debtor ORDER BY 1")
    aged_on_run_days = []
    for n, day in enumerate((date(2026, 3, 2), date(2026, 3, 31), date(2026, 5, 17),
                             date(2027, 1, 3))):
        fleet.clock_set("%sT10:00:00+08:00" % day.isoformat())
        # payments race the run's chunks (but on the first day, whose run is checked for
        # how little it ages, below): an event's writes must not be lost to the run's
        if n > 0:
            fleet.drop("pay-%d.csv" % n, "payment_id,debtor_id,invoice_id,currency,amount,"
                       "received_at\n" + "".join(
                           "RP-%d-%03d,XD%03d,X-%04d,CNY,0.50,%sT09:00:00+08:00\n"
                           % (n, k, k % 120, k, day.isoformat()) for k in range(0, 400, 7)))
        wait_until(lambda: fleet.scalar("SELECT finished_at IS NOT NULL FROM aging_run"
                                        " WHERE run_date = %s", (day,))
                   and fleet.scalar("SELECT count(*) FROM consumed_event WHERE consumer ="
                                    " 'aging' AND event_id IN (SELECT event_id FROM"
                                    " event_outbox WHERE type = 'payment.recorded')")
                   == 58 * n
                   and fleet.scalar("SELECT count(*) FROM invoice WHERE %s BETWEEN"
                                    " aged_as_of AND aged_through", (day,)) == 400
                   and fleet.scalar("SELECT count(*) FROM debtor WHERE %s BETWEEN"
                                    " risk_as_of AND graded_through", (day,)) == 120, 60,
                   what="run of %s" % day)
        aged_on_run_days.append(fleet.scalar("SELECT sum(invoices + debtors) FROM"
                                             " aging_run_chunk WHERE run_date = %s", (day,)))
        kept = (fleet.query(invoice_sql), fleet.query(debtor_sql))
        with fleet.db().cursor() as cur:  # every row computed again, as of the same day
            cur.execute("UPDATE invoice SET aged_through = NULL")
            cur.execute("UPDATE debtor SET graded_through = NULL")
        wait_until(lambda: fleet.scalar("SELECT count(*) FROM invoice WHERE aged_as_of = %s"
                                        " AND aged_through IS NOT NULL", (day,)) == 400
                   and fleet.scalar("SELECT count(*) FROM debtor WHERE risk_as_of = %s"
                                    " AND graded_through IS NOT NULL", (day,)) == 120, 60,
                   what="recomputed on %s" % day)
        fresh = (fleet.query(invoice_sql), fleet.query(debtor_sql))
        for what, a, b in (("invoice", kept[0], fresh[0]), ("debtor", kept[1], fresh[1])):
            differ = [(x, y) for x, y in zip(a, b) if x != y]
            assert not differ, "%s results on %s differ from a recomputation: %s" % (
                what, day, differ[:3])
    # and the runs did skip rows: on the day after the first aging only a few results moved
    # (of 400 invoices and 120 debtors)
    assert 0 < aged_on_run_days[0] < 40 and max(aged_on_run_days) < 520, aged_on_run_days
