"""ARCHITECTURE promises not covered by the walking skeleton, each a test that fails without it:
scaled-out instances act once (2), bad input on streams and sockets is dropped without a
crash (4), a Redis restart loses nothing (1), secrets and PII stay out of output (7), SQL is
parameterised (7), config reloads on SIGHUP, and the health and metrics endpoints answer (6)."""

import os
import re
import signal
import subprocess
import threading
import time
import urllib.request
from datetime import datetime, timezone

import zmq

from fleet import binary, wait_until
import servers

HEADER = "invoice_id,debtor_id,debtor_name,debtor_email,currency,amount,issued_on,due_on\n"


def invoices(prefix, n, debtor="D1", due="2026-03-10", email="ap@acme.example", name="Acme"):
    return HEADER + "".join("%s-%05d,%s,%s,%s,CNY,%d.00,2026-02-01,%s\n"
                            % (prefix, i, debtor, name, email, 100 + i, due) for i in range(n))


def http_get(port, path):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_two_ingestion_instances_take_each_file_once(fleet):
    """Promise 2: several instances on one inbox; the atomic claim gives each file to one."""
    fleet.clock_set("2026-03-01T00:00:00+08:00")
    fleet.start("ingestion", "ingestion-1")
    fleet.start("ingestion", "ingestion-2")
    for f in range(20):
        fleet.drop("batch-%02d.csv" % f, invoices("F%02d" % f, 5))
    wait_until(lambda: fleet.scalar("SELECT count(*) FROM intake_file") == 20, 60,
               what="20 files processed")
    assert fleet.scalar("SELECT count(DISTINCT name) FROM intake_file") == 20
    assert fleet.scalar("SELECT count(*) FROM invoice") == 100
    assert fleet.outbox_count("invoice.recorded") == 100
    assert len([p for p in fleet.files("done") if p.endswith(".csv")]) == 20
    assert fleet.files("inbox") == [] and fleet.files("processing") == []


def test_two_aging_instances_age_each_invoice_once(fleet):
    """Promise 2: two aging instances share the daily re-age; each invoice once; an unchanged
    bucket the next day emits nothing."""
    fleet.clock_set("2026-03-01T00:00:00+08:00")
    fleet.start("ingestion")
    fleet.drop("many.csv", invoices("M", 1500))
    wait_until(lambda: fleet.scalar("SELECT count(*) FROM invoice") == 1500, 60,
               what="1500 invoices")
    # The day is set before aging starts: a clock move in mid-run would rightly age some
    # invoices twice, once for each day.
    fleet.clock_set("2026-03-15T10:00:00+08:00")
    fleet.start("aging", "aging-1", HUIKUAN_AGING_BATCH_SIZE="40")
    fleet.start("aging", "aging-2", HUIKUAN_AGING_BATCH_SIZE="40")
    wait_until(lambda: fleet.scalar("SELECT count(*) FROM invoice WHERE aged_as_of = %s",
                                    ("2026-03-15",)) == 1500, 60, what="all aged")
    wait_until(lambda: fleet.scalar("SELECT count(*) FROM event_unpublished WHERE type = "
                                    "'invoice.aged'") == 0, 20,
               what="aged events published")
    by_producer = dict(fleet.query("SELECT producer, count(*) FROM event_outbox WHERE type = "
                                   "'invoice.aged' GROUP BY producer"))
    assert sum(by_producer.values()) == 1500, by_producer
    assert set(by_producer) <= {"aging-1", "aging-2"}
    # Next day: still 1-30, so the results hold and the day's run ages nothing, and emits
    # nothing. They hold through the bucket's last day, 30 days past due (April 9th).
    assert fleet.scalar("SELECT count(*) FROM invoice WHERE aged_through = '2026-04-09'") == 1500
    fleet.clock_set("2026-03-16T10:00:00+08:00")
    wait_until(lambda: fleet.scalar("SELECT finished_at IS NOT NULL FROM aging_run"
                                    " WHERE run_date = '2026-03-16'"), 60, what="run of the 16th")
    assert fleet.scalar("SELECT count(*) FROM invoice WHERE aged_as_of = '2026-03-15'") == 1500
    assert fleet.outbox_count("invoice.aged") == 1500
    # On April 10th every invoice leaves 1-30: the two instances share that run, each
    # invoice aged once, each with its event.
    fleet.clock_set("2026-04-10T10:00:00+08:00")
    wait_until(lambda: fleet.scalar("SELECT count(*) FROM invoice WHERE aged_as_of = %s",
                                    ("2026-04-10",)) == 1500, 60, what="all re-aged")
    wait_until(lambda: fleet.scalar("SELECT count(*) FROM event_unpublished WHERE type = "
                                    "'invoice.aged'") == 0, 20,
               what="aged events published")
    assert fleet.outbox_count("invoice.aged") == 3000
    assert set(r[0] for r in fleet.query("SELECT DISTINCT producer FROM event_outbox"
                                         " WHERE type = 'invoice.aged'")) <= {"aging-1", "aging-2"}
    assert fleet.scalar("SELECT count(*) FROM invoice WHERE bucket = '31-60'") == 1500


def test_malformed_stream_entries_are_dropped_not_fatal(fleet):
    """Promise 4: garbage on a Redis event stream is logged and dropped; the daemon lives on
    and still does its work."""
    fleet.clock_set("2026-03-12T08:00:00+08:00")
    aging = fleet.start("aging")
    fleet.start("ingestion")
    time.sleep(0.5)  # the consumer group exists once aging has read once
    fleet.redis("XADD", "hk:ev:invoice.recorded", "*", "d", "\x08\x01garbage\xff")
    fleet.redis("XADD", "hk:ev:invoice.recorded", "*", "other", "field")
    wait_until(lambda: re.search(r'hk_events_malformed_total\{[^}]*\} 2',
                                 http_get(aging.http_port, "/metrics")[1]), 20,
               what="two malformed entries counted")
    assert aging.running()
    fleet.drop("ok.csv", invoices("OK", 2))
    fleet.wait_events("invoice.aged", 2)
    pending = fleet.redis("XPENDING", "hk:ev:invoice.recorded", "aging")
    assert pending.split()[0] == "0", pending


def test_malformed_frames_on_the_bus_do_not_stop_a_subscriber(fleet):
    """Promise 4 on ZeroMQ: a publisher sending garbage frames next to a real daemon; the
    subscriber (hkctl events tail) drops them and still prints every real event in order."""
    fleet.clock_set("2026-03-01T00:00:00+08:00")
    fleet.start("ingestion")
    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    port = pub.bind_to_random_port("tcp://127.0.0.1")
    fleet.query("INSERT INTO fleet_instance (instance, kind, host, pid, bus_endpoint) "
                "VALUES ('rogue', 'test', 'localhost', 1, %s) RETURNING 1",
                ("tcp://127.0.0.1:%d" % port,))
    stop = threading.Event()

    def spam():
        while not stop.is_set():
            pub.send_multipart([b"invoice.recorded", b"\xff\xfe not protobuf"])
            pub.send_multipart([b"invoice.recorded"])
            pub.send_multipart([b"x", b"y", b"z"])
            time.sleep(0.01)

    t = threading.Thread(target=spam)
    t.start()
    try:
        tail = subprocess.Popen([binary("hkctl"), "events", "tail", "--json", "--count", "3",
                                 "--timeout", "30"], env=fleet.env(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        time.sleep(1.0)
        fleet.drop("three.csv", invoices("Z", 3))
        out, err = tail.communicate(timeout=60)
    finally:
        stop.set()
        t.join()
        pub.close(0)
        ctx.term()
    assert tail.returncode == 0, err
    lines = [line for line in out.splitlines() if line.startswith("{")]
    assert len(lines) == 3, (out, err)
    assert all('"invoice.recorded"' in line for line in lines)


def test_redis_restart_loses_nothing(fleet):
    """Promise 1: a Redis restart between intake and aging; queued work survives (AOF) or is
    found by the periodic scan; every invoice is aged exactly once."""
    fleet.clock_set("2026-03-12T08:00:00+08:00")
    fleet.start("ingestion")
    fleet.drop("before.csv", invoices("RB", 50))
    wait_until(lambda: fleet.outbox_count("invoice.recorded") == 50 and
               fleet.scalar("SELECT count(*) FROM event_unpublished") == 0,
               30, what="50 recorded and published")
    port = int(fleet.redis_url.rsplit(":", 1)[1])
    servers.stop_redis(fleet.redis_dir)
    fleet.drop("during.csv", invoices("RD", 50))  # accepted into PostgreSQL while Redis is down
    wait_until(lambda: fleet.outbox_count("invoice.recorded") == 100, 30,
               what="intake goes on without Redis")
    servers.start_redis(fleet.redis_dir, port=port)
    fleet.start("aging")
    wait_until(lambda: fleet.scalar("SELECT count(*) FROM invoice WHERE aged_as_of = %s",
                                    ("2026-03-12",)) == 100, 60, what="all 100 aged")
    wait_until(lambda: fleet.scalar("SELECT count(*) FROM event_unpublished") == 0, 30, what="everything published after the restart")
    assert fleet.outbox_count("invoice.aged") == 100


def test_events_lost_with_redis_data_are_made_up_for(fleet):
    """Promise 1: a day's run re-ages only what reached a change point, so what an event lost
    with Redis's data (a restart without its append-only file, after the relay had passed
    the events) would have changed is not found by the next run. Aging sees its consumer
    groups made again although it has consumed events before, and computes every result
    again from the database: the lost payments' effect on expected recovery arrives."""
    fleet.clock_set("2026-03-12T08:00:00+08:00")
    fleet.start("ingestion")
    aging = fleet.start("aging")
    fleet.drop("lost.csv", invoices("LS", 20))
    wait_until(lambda: fleet.scalar("SELECT count(*) FROM invoice WHERE aged_as_of ="
                                    " '2026-03-12' AND aged_through IS NOT NULL") == 20, 30,
               what="20 aged")
    aging.stop()
    fleet.drop("lost-pay.csv", "payment_id,debtor_id,invoice_id,currency,amount,received_at\n"
               + "".join("LP-%02d,D1,LS-%05d,CNY,10.00,2026-03-12T07:00:00+08:00\n" % (k, k)
                         for k in range(20)))
    wait_until(lambda: fleet.outbox_count("payment.recorded") == 20 and
               fleet.scalar("SELECT count(*) FROM event_unpublished") == 0, 30,
               what="payments recorded and relayed")
    fleet.redis("FLUSHALL")  # the streams, their entries and the groups are gone
    aging.start()
    wait_until(lambda: fleet.scalar("SELECT count(*) FROM invoice WHERE"
                                    " expected_recoverable_minor = outstanding_minor * 8 / 10"
                                    " AND aged_through IS NOT NULL") == 20, 30,
               what="the paid invoices' recovery recomputed")
    assert fleet.scalar("SELECT count(*) FROM invoice WHERE outstanding_minor ="
                        " amount_minor - 1000") == 20
    assert "event.stream_lost" in aging.log(400)


def planned_time(event, minutes=0):
    """RFC 3339 text of a contact.planned event's due time plus some minutes."""
    at = int(event["payload"]["due_at_us"]) / 1e6 + 60 * minutes
    return datetime.fromtimestamp(at, timezone.utc).isoformat()


def test_pii_and_secrets_stay_out_of_logs_and_config_dumps(fleet):
    """Promise 7: e-mail addresses and names are masked in logs; passwords are redacted."""
    fleet.clock_set("2026-03-12T08:00:00+08:00")
    fleet.extra_env["HUIKUAN_SCHEDULING_CHALLENGER"] = "false"   # e-mail notices for all
    fleet.start_all()
    fleet.drop("pii.csv", invoices("P", 1, email="zhang.sanfeng@wudang.example", name="张三丰"))
    planned = fleet.wait_events("contact.planned", 1)
    fleet.clock_set(planned_time(planned[0], minutes=5))
    sent = fleet.wait_events("contact.sent", 1)
    assert "zhang.sanfeng@wudang.example" not in sent[0]["payload"]["recipient_masked"]
    logs = fleet.logs(lines=None)
    assert "zhang.sanfeng@wudang.example" not in logs
    assert "张三丰" not in logs
    env = fleet.env()
    env["HUIKUAN_DATABASE_URL"] = "postgresql://collector:s3cr3t-pw@127.0.0.1:1/huikuan"
    env["HUIKUAN_NOTIFICATION_SMTP_URL"] = "smtp://mailer:m41l-pw@127.0.0.1:25"
    out = subprocess.run([binary("huikuan-notification"), "--show-config"], env=env,
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert "database_url" in out.stdout
    assert "s3cr3t-pw" not in out.stdout and "m41l-pw" not in out.stdout, out.stdout


def test_ids_that_look_like_sql_are_stored_as_data(fleet):
    """Promise 7: parameterised SQL only; an id that is an injection attempt is just an id."""
    fleet.clock_set("2026-03-01T00:00:00+08:00")
    fleet.start("ingestion")
    evil = "X'); DROP TABLE invoice; --"
    fleet.drop("evil.csv", HEADER + '"%s",D1,"Robert""); DROP TABLE debtor;--",,CNY,1.00,,'
               '2026-03-10\n' % evil)
    fleet.wait_events("invoice.recorded", 1)
    assert fleet.query("SELECT invoice_id FROM invoice") == [(evil,)]
    assert fleet.scalar("SELECT name FROM debtor") == 'Robert"); DROP TABLE debtor;--'


def test_sighup_reloads_and_http_endpoints_answer(fleet, tmp_path):
    """Reload on SIGHUP (reloadable keys only) and promise 6's health, readiness and metrics."""
    conf = tmp_path / "aging.conf"
    conf.write_text("log_level = info\nbatch_size = 100\n")
    d = fleet.start("aging", args=["--config", str(conf)])
    assert http_get(d.http_port, "/healthz")[0] == 200
    assert http_get(d.http_port, "/readyz")[0] == 200
    status, metrics = http_get(d.http_port, "/metrics")
    assert status == 200
    assert re.search(r'hk_loop_ticks_total\{daemon="aging",instance="aging-1"\} \d+', metrics), \
        metrics[:500]
    assert http_get(d.http_port, "/nope")[0] == 404
    conf.write_text("log_level = debug\nbatch_size = 100\n")
    d.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: re.search(r"reloaded.*changed=1", d.log(lines=None)), 10,
               what="reload logged")
    assert d.running()
    conf.write_text("log_level = loud\n")
    d.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: "reload.failed" in d.log(lines=None), 10, what="bad reload refused")
    assert d.running()
