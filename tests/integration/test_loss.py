"""Promise 1, nothing lost: kill -9 the aging daemon while it emits, restart it under the same
instance name, and every invoice is still aged exactly once, with gapless sequences, and a
subscriber that was listening throughout sees every event exactly once."""

import collections
import json
import subprocess
import time

from fleet import binary, check_sequences, wait_until

N = 3000
AS_OF = "2026-04-01"


def feed(n):
    lines = ["invoice_id,debtor_id,debtor_name,debtor_email,currency,amount,issued_on,due_on"]
    for i in range(n):
        d = i % 50
        lines.append("L-%05d,D%02d,Debtor %02d,d%02d@example.test,CNY,%d.%02d,2026-01-15,2026-02-%02d"
                     % (i, d, d, d, 100 + i, i % 100, 1 + i % 28))
    return "\n".join(lines) + "\n"


def test_kill9_aging_midway(fleet):
    fleet.clock_set("2026-01-20T10:00:00+08:00")
    fleet.start("ingestion")
    fleet.drop("bulk.csv", feed(N))
    wait_until(lambda: fleet.outbox_count("invoice.recorded") == N, 40,
               what="%d invoice.recorded" % N)
    assert fleet.scalar("SELECT count(*) FROM invoice") == N

    # A subscriber listening from before the crash to the end: each invoice recorded and aged,
    # each debtor graded once (its first grade).
    debtors = fleet.scalar("SELECT count(*) FROM debtor")
    total = 2 * N + debtors
    tail = subprocess.Popen([binary("hkctl"), "events", "tail", "--from-start", "--json",
                             "--count", str(total), "--timeout", "90"],
                            env=fleet.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True)
    try:
        # Every invoice is past due on AS_OF: one invoice.aged each.
        fleet.clock_set(AS_OF + "T10:00:00+08:00")
        # the day's run in chunks of two debtors (120 invoices and the two debtors: the
        # running count passes a multiple of 120 at every second debtor), each its own
        # transaction
        aging = fleet.start("aging", "aging-1", wait=False, HUIKUAN_AGING_CHUNK_SIZE="120")
        seen = []
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            n = fleet.outbox_count("invoice.aged")
            seen.append(n)
            if N * 0.1 <= n <= N * 0.9:
                aging.kill9()
                break
            assert n < N * 0.9, ("aging committed %d of %d events before the harness could kill "
                                 "it (seen: %s); it must work in batches" % (n, N, seen[-20:]))
            assert aging.running(), "aging exited:\n" + aging.log()
            time.sleep(0.005)
        else:
            raise AssertionError("aging emitted too slowly: %s\n%s" % (seen[-20:], aging.log()))
        killed_at = fleet.outbox_count("invoice.aged")

        aging.start()
        wait_until(lambda: fleet.scalar("SELECT count(*) FROM invoice WHERE aged_as_of = %s",
                                        (AS_OF,)) == N, 60, what="all invoices aged")
        wait_until(lambda: fleet.outbox_count("invoice.aged") >= N, 30, what="all aged events")
        wait_until(lambda: fleet.outbox_count("debtor.graded") >= debtors, 30,
                   what="every debtor graded")
        out, err = tail.communicate(timeout=120)
    finally:
        if tail.poll() is None:
            tail.kill()
            tail.communicate()

    assert 0 < killed_at < N
    assert fleet.outbox_count("invoice.aged") == N, "an invoice was aged twice"
    assert fleet.query("SELECT DISTINCT aged_as_of::text FROM invoice") == [(AS_OF,)]
    for producer, max_seq, count in fleet.query(
            "SELECT producer, max(seq), count(*) FROM event_outbox GROUP BY producer"):
        assert max_seq == count, "%s: gaps in its outbox sequence" % producer
    assert fleet.scalar("SELECT count(DISTINCT producer) FROM event_outbox "
                        "WHERE type = 'invoice.aged'") == 1
    assert fleet.outbox_count("debtor.graded") == debtors, "a debtor was graded twice"

    # The subscriber: every event exactly once.
    events = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert len(events) == total, "subscriber got %d of %d events: %s" % (len(events), total,
                                                                         err[-2000:])
    check_sequences(events)
    outbox_ids = {str(i) for (i,) in fleet.query("SELECT event_id::text FROM event_outbox")}
    assert {e["event_id"] for e in events} == outbox_ids
    aged = collections.Counter(e["payload"]["invoice_id"] for e in events
                               if e["type"] == "invoice.aged")
    assert len(aged) == N and set(aged.values()) == {1}
    assert {e["payload"]["as_of"] for e in events if e["type"] == "invoice.aged"} == {AS_OF}

    fleet.stop_all()


def test_an_instance_gone_before_its_relay_has_its_events_published(fleet):
    """Promise 1 when an instance dies between a commit and its relay and never comes back
    under its name (names default to <kind>-<host>-<pid>): the instance holding the fleet's
    housekeeping turn adopts its producers (both lanes of a file of invoices) and publishes
    what they left, and the consumers apply it."""
    fleet.clock_set("2026-03-12T08:00:00+08:00")
    gone = fleet.start("ingestion", instance="ingestion-gone")
    fleet.drop("a.csv", feed(12))
    wait_until(lambda: fleet.outbox_count("invoice.recorded") == 12, 30,
               what="12 invoice.recorded")
    wait_until(lambda: fleet.scalar("SELECT count(*) FROM event_unpublished") == 0, 20,
               what="relayed")
    gone.kill9()
    del fleet.daemons[gone.instance]          # gone for good: the teardown does not stop it
    # As if it had died after its commit and before its relay: the events unpublished, none
    # on the streams, its last beat long ago.
    producers = fleet.query("UPDATE producer_sequence SET published_seq = 0"
                            " WHERE split_part (producer, '/', 1) = 'ingestion-gone'"
                            " RETURNING producer")
    assert len(producers) == 2, producers    # the file went through both lanes
    for t in ("invoice.recorded", "debtor.recorded"):
        fleet.redis("DEL", "hk:ev:" + t)
    fleet.query("UPDATE fleet_instance SET heartbeat_at = now () - interval '1 minute'"
                " WHERE instance = 'ingestion-gone' RETURNING 1")
    unpublished = fleet.scalar("SELECT count(*) FROM event_unpublished")
    assert unpublished >= 12

    fleet.start("aging", HUIKUAN_HOUSEKEEPING_INTERVAL="1s")
    wait_until(lambda: fleet.scalar("SELECT count(*) FROM event_unpublished") == 0, 30,
               what="the gone instance's events published:\n" + fleet.logs(30))
    recorded = ("SELECT count(*) FROM consumed_event c JOIN event_outbox o"
                " ON o.event_id = c.event_id WHERE c.consumer = 'aging'"
                " AND o.type = 'invoice.recorded'")
    wait_until(lambda: fleet.scalar(recorded) == 12, 30,
               what="aging consumed the 12 invoice.recorded")
    assert "outbox.adopted" in fleet.logs(400)
    fleet.stop_all()
