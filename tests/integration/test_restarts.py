"""Promise 1 across server restarts, and the e-mail channel against a real SMTP server.

- PostgreSQL restarted under a running fleet: daemons reconnect, nothing accepted is lost,
  nothing is done twice, sequences stay gapless.
- SMTP: the notification daemon hands the written notice to a local SMTP server (aiosmtpd,
  Debian's python3-aiosmtpd) and records the delivery (R-N3)."""

import hashlib
import time
from datetime import datetime, timezone

from aiosmtpd.controller import Controller

from fleet import check_sequences, wait_until
import servers

HEADER = "invoice_id,debtor_id,debtor_name,debtor_email,currency,amount,issued_on,due_on\n"


def invoices(prefix, n, email="ap@acme.example"):
    return HEADER + "".join("%s-%04d,D1,Acme,%s,CNY,%d.00,2026-02-01,2026-03-10\n"
                            % (prefix, i, email, 10 + i) for i in range(n))


def test_postgresql_restart_under_a_running_fleet(fleet_factory, tmp_path):
    pg = servers.start_postgres(str(tmp_path / "private-pg"))
    try:
        fleet = fleet_factory(admin_url=pg["ADMIN_URL"])
        fleet.clock_set("2026-03-12T08:00:00+08:00")
        fleet.start("ingestion")
        fleet.start("aging")
        fleet.drop("before.csv", invoices("B", 100))
        wait_until(lambda: fleet.scalar("SELECT count(*) FROM invoice WHERE aged_as_of IS NOT "
                                        "NULL") == 100, 30, what="first 100 aged")
        fleet.close_db()
        servers.stop_postgres(str(tmp_path / "private-pg"))
        time.sleep(1.0)  # daemons see the server gone
        fleet.drop("during.csv", invoices("D", 100))  # waits in the inbox for the database
        time.sleep(1.0)
        servers.start_postgres(str(tmp_path / "private-pg"), port=int(pg["PG_PORT"]))
        wait_until(lambda: fleet.scalar("SELECT count(*) FROM invoice WHERE aged_as_of IS NOT "
                                        "NULL") == 200, 60, what="all 200 aged after restart")
        for d in fleet.daemons.values():
            assert d.running(), d.log()
        assert fleet.outbox_count("invoice.recorded") == 200
        assert fleet.outbox_count("invoice.aged") == 200
        wait_until(lambda: fleet.scalar("SELECT count(*) FROM event_unpublished") == 0, 30, what="everything published")
        check_sequences(fleet.events())
        fleet.stop_all()
    finally:
        servers.stop_postgres(str(tmp_path / "private-pg"))


class _Collector:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK queued"


def test_written_notice_goes_to_a_real_smtp_server(fleet):
    collector = _Collector()
    port = servers.free_port()
    smtp = Controller(collector, hostname="127.0.0.1", port=port)
    smtp.start()
    try:
        fleet.clock_set("2026-03-12T08:00:00+08:00")
        fleet.start("ingestion")
        fleet.start("aging")
        fleet.start("scheduling", HUIKUAN_SCHEDULING_CHALLENGER="false")  # e-mail notices
        fleet.start("notification", HUIKUAN_NOTIFICATION_EMAIL_TRANSPORT="smtp",
                    HUIKUAN_NOTIFICATION_SMTP_URL="smtp://127.0.0.1:%d" % port,
                    HUIKUAN_NOTIFICATION_SENDER="ar@creditor.example")
        fleet.drop("one.csv", invoices("S", 1, email="finance@debtor.example"))
        planned = fleet.wait_events("contact.planned", 1)
        at = int(planned[0]["payload"]["due_at_us"]) / 1e6 + 60
        fleet.clock_set(datetime.fromtimestamp(at, timezone.utc).isoformat())
        sent = fleet.wait_events("contact.sent", 1)
        wait_until(lambda: collector.messages, 10, what="the SMTP server got the message")
        mail_from, rcpt, content = collector.messages[0]
        assert mail_from == "ar@creditor.example"
        assert rcpt == ["finance@debtor.example"]
        text = content.decode("utf-8")
        assert "Amount due: 10.00 CNY." in text  # R-N1: the amount first
        assert "S-0000" in text
        # R-N3: the recorded hash is the hash of what the server received
        p = sent[0]["payload"]
        assert p["delivery_status"] == "accepted"
        assert p["content_sha256"] == hashlib.sha256(content).hexdigest()
        assert "finance@debtor.example" not in p["recipient_masked"]
        row = fleet.query("SELECT channel, template, recipient, status FROM delivery")
        assert row == [("email", "written_notice.v1", "finance@debtor.example", "accepted")]
        assert len(collector.messages) == 1
    finally:
        smtp.stop()
