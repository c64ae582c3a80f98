"""The ingestion daemon on real servers (issue: ingestion): every record kind, every format,
the real-world files, duplicate delivery, changed records, allocation, bad input, encodings,
and kill -9 in the middle of a file."""

import csv
import json
import io
import os
import shutil
import time
from datetime import date
from decimal import Decimal

from fleet import SOURCE_DIR, wait_until
import servers

REALWORLD = os.path.join(os.path.dirname(SOURCE_DIR), "shared", "data", "realworld")


def processed(fleet, n):
    wait_until(lambda: fleet.scalar("SELECT count(*) FROM intake_file") >= n, 60,
               what="%d file(s) processed\n%s" % (n, fleet.logs()))


def rejects(fleet, name):
    return fleet.query("SELECT r.line, r.field, r.reason FROM intake_reject r JOIN intake_file f"
                       " ON f.id = r.file_id WHERE f.name = %s ORDER BY r.line", (name,))


def file_row(fleet, name):
    return fleet.query("SELECT status, kind, rows_total, rows_accepted, rows_unchanged,"
                       " rows_rejected, reason FROM intake_file WHERE name = %s ORDER BY id DESC"
                       " LIMIT 1", (name,))[0]


ALL_KINDS_CSV = """\
kind,debtor_id,name,size_class,time_zone,distance_km,credit_limit,currency,contact_id,role,phone,email,contract_id,terms,period_day,sealed,invoice_id,amount,issued_on,due_on,credit_note_id,payment_id,received_at,promise_id,promised_at,dispute_id,opened_on,reason,expected_on,delivery_id,delivered_on,quantity
debtor,D1,华信建材,large,Asia/Shanghai,35,50000.00,CNY,,,,,,,,,,,,,,,,,,,,,,,,
contact,D1,王会计,,,,,,C1,finance,13812345678,wang@huaxin.example,,,,,,,,,,,,,,,,,,,,
contract,D1,,,,,,,,,,,K1,periodic,25,false,,,,,,,,,,,,,,,,
invoice,D1,,,,,,CNY,,,,,K1,,,,INV-1,1000.00,2026-02-01,2026-03-10,,,,,,,,,,,,
invoice,D1,,,,,,CNY,,,,,,,,,INV-2,500.00,2026-02-05,2026-03-15,,,,,,,,,,,,
credit_note,D1,,,,,,CNY,,,,,,,,,INV-2,100.00,2026-02-20,,CN-1,,,,,,,,,,,
payment,D1,,,,,,CNY,,,,,,,,,INV-1,400.00,,,,P-1,2026-03-12T10:00:00+08:00,,,,,,,,,
promise,D1,,,,,,CNY,,,,,,,,,INV-1,600.00,,,,,,PR-1,2026-03-20T15:00:00+08:00,,,,,,,
dispute,D1,,,,,,CNY,,,,,,,,,INV-2,50.00,,,,,,,,X-1,2026-03-16,damaged bags,,,,
incoming_payment,D1,,,,,,,,,,,,,,,,,,,,,,,,,,,2026-03-25,,,
delivery,D1,,,,,,CNY,,,,,K1,,,,,2000.00,,,,,,,,,,,,DL-1,2026-03-01,40
"""


def test_every_record_kind_from_one_csv(fleet):
    fleet.clock_set("2026-03-12T08:00:00+08:00")
    fleet.start("ingestion")
    fleet.drop("all-kinds.csv", ALL_KINDS_CSV)
    processed(fleet, 1)
    status, fmt, total, accepted, unchanged, rejected, reason = file_row(fleet, "all-kinds.csv")
    assert (status, fmt, total, accepted, rejected) == ("done", "csv", 11, 11, 0), \
        (reason, rejects(fleet, "all-kinds.csv"))
    assert fleet.query("SELECT size_class, distance_km, credit_limit_minor, credit_currency"
                       " FROM debtor") == [("large", 35, 5000000, "CNY")]
    assert fleet.query("SELECT role FROM contact_person") == [("finance",)]
    assert fleet.query("SELECT terms, period_day, sealed FROM contract") == [("periodic", 25, False)]
    # credit note reduces INV-2, payment part-pays INV-1 (R-C6: remainder stays open)
    assert fleet.query("SELECT invoice_id, outstanding_minor, status FROM invoice ORDER BY 1") == \
        [("INV-1", 60000, "open"), ("INV-2", 40000, "open")]
    assert fleet.query("SELECT amount_minor, promised_at FROM promise")[0][0] == 60000
    assert fleet.query("SELECT amount_minor, status FROM dispute") == [(5000, "open")]
    assert fleet.query("SELECT expected_on FROM incoming_payment") == [(date(2026, 3, 25),)]
    assert fleet.query("SELECT quantity, amount_minor FROM goods_delivery") == [(40, 200000)]
    types = sorted(r[0] for r in fleet.query("SELECT type FROM event_outbox"))
    for t in ("debtor.recorded", "contact.recorded", "contract.recorded", "invoice.recorded",
              "credit_note.recorded", "payment.recorded", "promise.recorded", "dispute.recorded",
              "incoming_payment.recorded", "delivery.recorded"):
        assert t in types, (t, types)
    # personal data stays off the stream (promise 7)
    events = fleet.events()
    text = str(events)
    for pii in ("华信建材", "王会计", "13812345678", "wang@huaxin.example"):
        assert pii not in text
    contract = [e for e in events if e["type"] == "contract.recorded"][0]["payload"]
    assert contract["weak_evidence"] is True  # R-T4: not sealed

    # Duplicate delivery: the same file again changes nothing and emits nothing.
    before = fleet.scalar("SELECT count(*) FROM event_outbox")
    fleet.drop("all-kinds-again.csv", ALL_KINDS_CSV)
    processed(fleet, 2)
    status, _, total, accepted, unchanged, rejected, _ = file_row(fleet, "all-kinds-again.csv")
    assert (status, total, accepted, unchanged) == ("done", 11, 0, 11)
    assert fleet.scalar("SELECT count(*) FROM event_outbox") == before
    assert fleet.query("SELECT outstanding_minor FROM invoice WHERE invoice_id = 'INV-1'") == \
        [(60000,)]


def test_jsonl_changes_and_rejects(fleet):
    fleet.clock_set("2026-03-12T08:00:00+08:00")
    fleet.start("ingestion")
    fleet.drop("day1.jsonl",
               '{"kind":"invoice","invoice_id":"J-1","debtor_id":"D9","currency":"JPY",'
               '"amount":"15000","due_on":"2026-04-01"}\n'
               '{"kind":"invoice","invoice_id":"J-2","debtor_id":"D9","currency":"CNY",'
               '"amount":"0.10","due_on":"2026-04-01"}\n'
               'this is not json\n'
               '{"kind":"invoice","invoice_id":"J-3","debtor_id":"D9","currency":"CNY",'
               '"amount":"5.00","due_on":"sometime after we sell"}\n')
    processed(fleet, 1)
    assert fleet.query("SELECT invoice_id, amount_minor FROM invoice ORDER BY 1") == \
        [("J-1", 15000), ("J-2", 10)]
    rj = rejects(fleet, "day1.jsonl")
    assert [(line, field) for line, field, _ in rj] == [(3, "(line)"), (4, "due_on")] or \
        [line for line, _, _ in rj] == [3, 4], rj
    # Same invoice, new amount, in another file: one change event.
    fleet.drop("day2.jsonl", '{"kind":"invoice","invoice_id":"J-1","debtor_id":"D9",'
                             '"currency":"JPY","amount":"16000","due_on":"2026-04-01"}\n')
    processed(fleet, 2)
    changes = [e for e in fleet.events("invoice.recorded") if e["payload"]["changed"]]
    assert len(changes) == 1 and changes[0]["payload"]["amount"]["minor"] == 16000


def test_payment_allocation_credit_and_parking(fleet):
    fleet.clock_set("2026-03-12T08:00:00+08:00")
    fleet.start("ingestion")
    fleet.drop("a-invoices.csv",
               "invoice_id,debtor_id,currency,amount,due_on\n"
               "OLD,D1,CNY,100.00,2026-01-10\nNEW,D1,CNY,100.00,2026-02-10\n"
               "REF,D1,CNY,100.00,2026-03-10\n")
    processed(fleet, 1)
    fleet.drop("b-payments.csv",
               "payment_id,debtor_id,invoice_id,currency,amount,received_at,reference\n"
               "P1,D1,REF,CNY,150.00,2026-03-12T09:00:00+08:00,\n"      # REF first, then OLD
               "P2,D1,,CNY,100.00,2026-03-12T09:00:00+08:00,\n"         # oldest open: OLD rest
               "P3,,,CNY,30.00,2026-03-12T09:00:00+08:00,pays NEW thanks\n"  # found from text
               "P4,,,CNY,10.00,2026-03-12T09:00:00+08:00,no idea\n"     # parked for review
               "P5,D1,,CNY,999.00,2026-03-12T09:00:00+08:00,\n")        # overpayment: credit
    processed(fleet, 2)
    assert fleet.query("SELECT invoice_id, outstanding_minor, status FROM invoice ORDER BY 1") == \
        [("NEW", 0, "settled"), ("OLD", 0, "settled"), ("REF", 0, "settled")]
    got = dict((p, (s, u)) for p, s, u in fleet.query(
        "SELECT payment_id, status, unallocated_minor FROM payment"))
    assert got["P1"] == ("allocated", 0)
    assert got["P3"] == ("allocated", 0)
    assert got["P4"] == ("unmatched", 1000)
    assert got["P5"][0] == "credit"
    # P1: 100 to REF, 50 to OLD; P2: 50 to OLD, 50 to NEW; P3: 30 to NEW; P5: 20 to NEW
    assert fleet.query("SELECT payment_id, invoice_id, amount_minor FROM payment_allocation"
                       " ORDER BY 1, 2") == [
        ("P1", "OLD", 5000), ("P1", "REF", 10000), ("P2", "NEW", 5000), ("P2", "OLD", 5000),
        ("P3", "NEW", 3000), ("P5", "NEW", 2000)]
    assert got["P5"] == ("credit", 97900)


def test_bad_files_fail_whole_and_nothing_is_half_applied(fleet):
    fleet.clock_set("2026-03-12T08:00:00+08:00")
    fleet.start("ingestion")
    fleet.drop("broken.csv", "invoice_id,debtor_id,currency,amount,due_on\n"
                             "OK-1,D1,CNY,1.00,2026-03-10\n\"unterminated,D1,CNY,1.00,2026-03-10\n")
    fleet.drop("nonsense.csv", "colour,size\nred,9\n")
    fleet.drop("statement-wrong.xml",
               open(os.path.join(REALWORLD, "camt", "camt053.v2.wrong.xml"), "rb").read())
    fleet.drop("truncated.xml", open(os.path.join(REALWORLD, "camt", "camt054.v2.xml"),
                                     "rb").read()[:900])
    fleet.drop("bank.bai2", open(os.path.join(REALWORLD, "bai2", "sample-parseError.txt"),
                                 "rb").read())
    # a file of invoices in two lanes, broken at its end while the lanes' workers still write
    fleet.drop("broken-big.csv", "invoice_id,debtor_id,currency,amount,due_on\n" + "".join(
        "BIG-%05d,D%03d,CNY,1.00,2026-03-10\n" % (i, i % 700) for i in range(30000))
        + "\"unterminated,D1,CNY,1.00,2026-03-10\n")
    processed(fleet, 6)
    for name in ("broken.csv", "nonsense.csv", "statement-wrong.xml", "truncated.xml",
                 "bank.bai2", "broken-big.csv"):
        status, _, _, accepted, _, _, reason = file_row(fleet, name)
        assert status == "failed" and reason, (name, reason)
        assert os.path.exists(os.path.join(fleet.run_dir, "failed", name))
        assert os.path.exists(os.path.join(fleet.run_dir, "failed", name + ".report"))
    assert fleet.scalar("SELECT count(*) FROM invoice") == 0  # OK-1 was not half-applied
    assert fleet.scalar("SELECT count(*) FROM event_outbox") == 0


def test_bank_statements(fleet):
    fleet.clock_set("2026-03-12T08:00:00+08:00")
    fleet.start("ingestion")
    names = []
    for f in sorted(os.listdir(os.path.join(REALWORLD, "camt"))):
        if "wrong" not in f:
            fleet.drop("stmt-" + f, open(os.path.join(REALWORLD, "camt", f), "rb").read())
            names.append("stmt-" + f)
    for f in ("sample1.txt", "sample2.txt", "sample3.txt"):
        fleet.drop("bank-" + f.replace(".txt", ".bai2"),
                   open(os.path.join(REALWORLD, "bai2", f), "rb").read())
        names.append("bank-" + f.replace(".txt", ".bai2"))
    processed(fleet, len(names))
    for name in names:
        status, fmt, total, accepted, unchanged, rejected, reason = file_row(fleet, name)
        assert status == "done", (name, reason)
        assert fmt in ("camt", "bai2")
    n = fleet.scalar("SELECT count(*) FROM payment")
    assert n > 0 and fleet.outbox_count("payment.recorded") == n
    # No debtor is known for bank payments here: all parked for review, none lost.
    assert fleet.scalar("SELECT count(*) FROM payment WHERE status = 'unmatched'") == n
    # Delivering the statements again adds nothing.
    for name in names:
        src = os.path.join(fleet.run_dir, "done", name)
        fleet.drop("again-" + name, open(src, "rb").read())
    processed(fleet, 2 * len(names))
    assert fleet.scalar("SELECT count(*) FROM payment") == n


def test_ibm_accounts_receivable_through_the_shipped_mapping(fleet):
    fleet.clock_set("2026-11-24T08:00:00+08:00")
    os.makedirs(os.path.join(fleet.run_dir, "mappings"), exist_ok=True)
    shutil.copy(os.path.join(SOURCE_DIR, "deploy", "mappings", "ibm-ar.mapping.json"),
                os.path.join(fleet.run_dir, "mappings"))
    fleet.start("ingestion")
    src = os.path.join(REALWORLD, "ibm-ar", "accounts-receivable.csv")
    fleet.drop("ibm-ar-2013.csv", open(src, "rb").read())
    processed(fleet, 1)
    status, fmt, total, accepted, unchanged, rejected, reason = file_row(fleet, "ibm-ar-2013.csv")
    assert status == "done" and fmt == "mapped-csv", reason
    # Independent reading of the file.
    rows = list(csv.DictReader(open(src, newline="")))
    assert fleet.scalar("SELECT count(*) FROM invoice") == len(rows) == 2466
    cents = sum(int(Decimal(r["InvoiceAmount"]) * 100) for r in rows)
    assert fleet.query("SELECT currency, sum(amount_minor) FROM invoice GROUP BY 1") == \
        [("USD", cents)]
    assert fleet.scalar("SELECT count(*) FROM payment") == len(rows)
    assert fleet.scalar("SELECT count(*) FROM invoice WHERE status = 'settled'") == len(rows)
    # Days late as the file states them: settled date minus due date, never negative.
    mapping = json.load(open(os.path.join(SOURCE_DIR, "deploy", "mappings",
                                          "ibm-ar.mapping.json")))
    late = dict(fleet.query(
        "SELECT i.invoice_id, greatest(0, (p.received_at AT TIME ZONE %s)::date - i.due_on)"
        " FROM invoice i JOIN payment_allocation a ON a.invoice_id = i.invoice_id"
        " JOIN payment p ON p.payment_id = a.payment_id", (mapping["time_zone"],)))
    for r in rows:
        assert late[r["invoiceNumber"]] == int(r["DaysLate"]), r


def test_gb18030_feed(fleet):
    fleet.clock_set("2026-03-12T08:00:00+08:00")
    fleet.start("ingestion")
    text = ("invoice_id,debtor_id,debtor_name,currency,amount,due_on\n"
            "G-1,D-GB,广州市白云区建材经营部,CNY,88.00,2026-03-10\n")
    fleet.drop("gbk-export.csv", text.encode("gb18030"))
    processed(fleet, 1)
    assert file_row(fleet, "gbk-export.csv")[0] == "done"
    assert fleet.query("SELECT name FROM debtor") == [("广州市白云区建材经营部",)]


def test_kill9_mid_file_then_restart(fleet):
    fleet.clock_set("2026-03-12T08:00:00+08:00")
    d = fleet.start("ingestion")
    n = 20000
    body = "invoice_id,debtor_id,currency,amount,due_on\n" + "".join(
        "K-%06d,D%03d,CNY,%d.00,2026-03-10\n" % (i, i % 500, 1 + i % 900) for i in range(n))
    fleet.drop("big.csv", body)
    wait_until(lambda: fleet.files("processing"), 20, interval=0.01, what="claimed")
    time.sleep(0.3)
    d.kill9()
    # all or none: two lanes, one transaction each, committed microseconds apart (store.c)
    assert fleet.scalar("SELECT count(*) FROM invoice") in (0, n)
    d.start()
    processed(fleet, 1)
    assert fleet.scalar("SELECT count(*) FROM invoice") == n
    assert fleet.outbox_count("invoice.recorded") == n
    assert fleet.scalar("SELECT count(*) FROM intake_file") == 1
    assert fleet.files("processing") == []


def test_a_file_of_invoices_is_written_by_two_lanes(fleet):
    """Issue 3 (intake speed): a file of invoices alone is split by debtor between two
    connections, each with its own outbox producer; every debtor stays in one lane, and the
    second lane's events are relayed too. An invoice that moves between debtors of both lanes
    within one file makes the lanes wait for each other: the file is taken again in one lane
    and ends as if it had been one all along."""
    fleet.clock_set("2026-03-12T08:00:00+08:00")
    fleet.start("ingestion")
    head = "invoice_id,debtor_id,currency,amount,due_on\n"
    fleet.drop("lanes.csv", head + "".join(
        "L-%02d,LD%02d,CNY,%d.00,2026-03-10\n" % (i, i % 30, 100 + i) for i in range(60)))
    processed(fleet, 1)
    assert file_row(fleet, "lanes.csv")[:5] == ("done", "csv", 60, 60, 0)
    assert fleet.scalar("SELECT count(*) FROM invoice") == 60
    lanes = dict(fleet.query("SELECT producer, count(*) FROM event_outbox"
                             " WHERE type = 'invoice.recorded' GROUP BY 1"))
    assert len(lanes) == 2 and sum(lanes.values()) == 60, lanes
    main = min(lanes, key=len)
    assert main + "/lane2" in lanes, lanes
    by_debtor = fleet.query("SELECT aggregate_id, min(producer), count(DISTINCT producer)"
                            " FROM event_outbox WHERE type = 'invoice.recorded' GROUP BY 1")
    assert len(by_debtor) == 30 and all(n == 1 for _, _, n in by_debtor), by_debtor
    wait_until(lambda: fleet.scalar("SELECT count(*) FROM event_unpublished") == 0, 20,
               what="both lanes' events relayed")

    first = next(d for d, p, _ in by_debtor if p == main)
    second = next(d for d, p, _ in by_debtor if p != main)
    fleet.drop("moves.csv", head + "MOVE-1,%s,CNY,5.00,2026-03-10\n"
                                   "MOVE-1,%s,CNY,5.00,2026-03-10\n" % (first, second))
    processed(fleet, 2)
    assert file_row(fleet, "moves.csv")[:5] == ("done", "csv", 2, 2, 0)
    assert fleet.query("SELECT debtor_id FROM invoice WHERE invoice_id = 'MOVE-1'") == \
        [(second,)]
    assert "intake.one_lane_retry" in fleet.logs(None)
    moves = fleet.query("SELECT producer, aggregate_id FROM event_outbox"
                        " WHERE type = 'invoice.recorded' AND seq > %s AND producer = %s"
                        " ORDER BY seq", (lanes[main], main))
    assert moves == [(main, first), (main, second)], moves


def test_new_invoices_skip_the_probe_until_one_is_stored(fleet):
    """Issue 3 (intake speed): once a lane's batches of a file were all new, the next ones are
    written without the probe, under a savepoint. An invoice stored before, late in the file,
    fails that COPY (23505): it is rolled back to the savepoint and the batch takes the probe,
    so the stored invoice is compared, not written twice, and nothing of the batch is lost."""
    fleet.clock_set("2026-03-12T08:00:00+08:00")
    fleet.start("ingestion")
    head = "invoice_id,debtor_id,currency,amount,due_on\n"
    fleet.drop("first.csv", head + "".join(
        "E-%03d,D%02d,CNY,10.00,2026-03-10\n" % (i, i % 40) for i in range(100)))
    processed(fleet, 1)
    fleet.drop("second.csv", head + "".join(
        "N-%05d,D%02d,CNY,1.00,2026-03-10\n" % (i, i % 40) for i in range(12000))
        + "E-050,D10,CNY,12.00,2026-03-10\nE-051,D11,CNY,10.00,2026-03-10\n")
    processed(fleet, 2)
    assert file_row(fleet, "second.csv")[:6] == ("done", "csv", 12002, 12001, 1, 0)
    assert fleet.scalar("SELECT count(*) FROM invoice") == 12100
    assert fleet.query("SELECT amount_minor, version FROM invoice WHERE invoice_id = 'E-050'") \
        == [(1200, 2)]
    assert fleet.outbox_count("invoice.recorded") == 100 + 12001
    assert "intake.probe_again" in fleet.logs(None)  # the COPY without the probe met E-050


def _post(port, path, body):
    import urllib.error
    import urllib.request
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), data=body,
                                 method="POST", headers={"Content-Type": "text/csv"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_push_over_http(fleet):
    """The streaming entry point: systems that push POST a feed; it is on disk before 202 and
    then processed like a dropped file."""
    fleet.clock_set("2026-03-12T08:00:00+08:00")
    d = fleet.start("ingestion", HUIKUAN_INGESTION_PUSH_MAX_BYTES="4096")
    body = ("invoice_id,debtor_id,currency,amount,due_on\n"
            "H-1,D1,CNY,12.34,2026-03-10\n").encode()
    status, text = _post(d.http_port, "/v1/feeds/pushed-1.csv", body)
    assert status == 202 and '"accepted":"pushed-1.csv"' in text, (status, text)
    processed(fleet, 1)
    assert fleet.query("SELECT invoice_id, amount_minor FROM invoice") == [("H-1", 1234)]
    assert file_row(fleet, "pushed-1.csv")[0] == "done"
    assert _post(d.http_port, "/v1/feeds/.hidden", body)[0] == 400
    assert _post(d.http_port, "/v1/feeds/../escape.csv", body)[0] in (400, 404)
    assert _post(d.http_port, "/v1/feeds/big.csv", b"x" * 5000)[0] == 413
    assert not [p for p in os.listdir(os.path.join(fleet.run_dir, "inbox")) if "big" in p]
    assert _post(d.http_port, "/v1/other", body)[0] == 405


def test_push_over_zeromq(fleet, proto):
    """The other streaming entry point: FeedBatch messages (proto/huikuan/v1/feed.proto) on the
    push_zmq socket. An accepted batch is on disk before the answer and then processed like a
    dropped JSON Lines file: a bad record is a reject of its line, the good ones are kept. A
    message that is not a batch, a batch without records or with an unsafe name is answered
    "rejected" and nothing is stored."""
    import importlib
    import zmq
    feed_pb2 = importlib.import_module("huikuan.v1.feed_pb2")
    port = servers.free_port()
    fleet.clock_set("2026-03-12T08:00:00+08:00")
    fleet.start("ingestion", HUIKUAN_INGESTION_PUSH_ZMQ="tcp://127.0.0.1:%d" % port)
    ctx = zmq.Context()
    sock = ctx.socket(zmq.REQ)
    sock.setsockopt(zmq.RCVTIMEO, 10000)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect("tcp://127.0.0.1:%d" % port)

    def record(kind, **fields):
        return feed_pb2.FeedRecord(kind=kind, fields=[feed_pb2.FeedField(name=k, value=v)
                                                      for k, v in fields.items()])

    def push(data):
        sock.send(data)
        return sock.recv().decode()

    try:
        batch = feed_pb2.FeedBatch(name="erp-push", records=[
            record("invoice", invoice_id="Z-1", debtor_id="D1", currency="CNY",
                   amount="1234.56", due_on="2026-03-10"),
            record("invoice", invoice_id="Z-2", debtor_id="D1", currency="CNY",
                   amount="10.00"),                                  # no due date (R-T1)
            record("payment", payment_id="ZP-1", debtor_id="D1", invoice_id="Z-1",
                   currency="CNY", amount="34.56", received_at="2026-03-11T10:00:00+08:00")])
        reply = push(batch.SerializeToString())
        assert reply.startswith("accepted erp-push.") and reply.endswith(".jsonl"), reply
        name = reply.split(" ", 1)[1]
        processed(fleet, 1)
        wait_until(lambda: file_row(fleet, name)[0] == "done", 20, what="batch processed")
        assert file_row(fleet, name)[2:6] == (3, 2, 0, 1)
        assert [(line, field) for line, field, _ in rejects(fleet, name)] == [(2, "due_on")]
        assert fleet.query("SELECT invoice_id, amount_minor, outstanding_minor FROM invoice") \
            == [("Z-1", 123456, 120000)]
        for bad, why in ((b"\x08\x96\x01 not a batch", "not a FeedBatch"),
                         (feed_pb2.FeedBatch(name="empty").SerializeToString(), "no records"),
                         (feed_pb2.FeedBatch(name="../escape", records=[
                             record("debtor", debtor_id="D2")]).SerializeToString(), "name")):
            reply = push(bad)
            assert reply.startswith("rejected: ") and why in reply, reply
        time.sleep(0.5)
        assert fleet.scalar("SELECT count(*) FROM intake_file") == 1
        assert [p for p in os.listdir(os.path.join(fleet.run_dir, "inbox"))
                if not p.startswith(".")] == []
    finally:
        sock.close()
        ctx.term()


def test_database_data_error_fails_the_file_instead_of_looping(fleet):
    """An error validation cannot foresee (here: bigint overflow while re-computing the
    outstanding amount) fails the file whole with the database's reason; it is not retried
    forever and nothing of it is applied."""
    fleet.clock_set("2026-03-12T08:00:00+08:00")
    fleet.start("ingestion")
    head = "invoice_id,debtor_id,currency,amount,due_on\n"
    fleet.drop("max.csv", head + "MAX,D1,CNY,92233720368547758.07,2026-03-10\n")
    processed(fleet, 1)
    fleet.drop("overflow.csv", head + "OK,D1,CNY,1.00,2026-03-10\n"
                                      "MAX,D1,CNY,92233720368547758.06,2026-03-10\n")
    processed(fleet, 2)
    status, _, _, _, _, _, reason = file_row(fleet, "overflow.csv")
    assert status == "failed" and "22003" in reason, reason
    assert fleet.query("SELECT invoice_id FROM invoice ORDER BY 1") == [("MAX",)]
    assert os.path.exists(os.path.join(fleet.run_dir, "failed", "overflow.csv"))


def test_invoice_debtor_reference_is_enforced_per_statement(fleet):
    """The invoice -> debtor reference (migration 14: checked once per statement instead of per
    row) still refuses what the foreign key refused, with its SQLSTATE 23503: an invoice row,
    by INSERT or COPY, naming a debtor that does not exist; moving an invoice to such a debtor;
    deleting or renaming a debtor that invoices name. A debtor no invoice names can go."""
    import psycopg2
    fleet.clock_set("2026-03-12T08:00:00+08:00")
    fleet.start("ingestion")
    fleet.drop("one.csv", "invoice_id,debtor_id,currency,amount,due_on\n"
                          "R1,D1,CNY,10.00,2026-03-10\n")
    processed(fleet, 1)
    conn = fleet.db()

    def refused(sql, params=None):
        with conn.cursor() as cur:
            try:
                cur.execute(sql, params)
            except psycopg2.Error as e:
                return e.pgcode
        return None

    cols = "(tenant, invoice_id, debtor_id, currency, amount_minor, outstanding_minor, due_on)"
    assert refused("INSERT INTO invoice " + cols + " VALUES ('default', 'R2', 'NOBODY', 'CNY',"
                   " 1, 1, '2026-03-10')") == "23503"
    with conn.cursor() as cur:
        try:
            cur.copy_expert("COPY invoice " + cols + " FROM STDIN",
                            io.StringIO("default\tR3\tD1\tCNY\t1\t1\t2026-03-10\n"
                                        "default\tR4\tNOBODY\tCNY\t1\t1\t2026-03-10\n"))
            code = None
        except psycopg2.Error as e:
            code = e.pgcode
    assert code == "23503"
    assert refused("UPDATE invoice SET debtor_id = 'NOBODY' WHERE invoice_id = 'R1'") == "23503"
    assert refused("DELETE FROM debtor WHERE debtor_id = 'D1'") == "23503"
    assert refused("UPDATE debtor SET debtor_id = 'D9' WHERE debtor_id = 'D1'") == "23503"
    assert fleet.query("SELECT invoice_id, debtor_id FROM invoice ORDER BY 1") == [("R1", "D1")]
    # what the reference allows still works
    assert refused("INSERT INTO debtor (tenant, debtor_id) VALUES ('default', 'D2')") is None
    assert refused("UPDATE invoice SET debtor_id = 'D2' WHERE invoice_id = 'R1'") is None
    assert refused("DELETE FROM debtor WHERE debtor_id = 'D1'") is None
    assert fleet.scalar("SELECT count(*) FROM debtor WHERE debtor_id = 'D1'") == 0
