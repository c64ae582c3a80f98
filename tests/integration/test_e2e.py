"""The walking skeleton: a feed goes in, invoices age, a reminder is planned and sent, a payment
cancels the other reminder, and a long-overdue invoice opens a legal case. All five daemons,
a simulated clock, events checked as an outside consumer sees them (hkctl events tail)."""

import os
import re
import time
from datetime import datetime

from fleet import check_sequences, message_text, wait_until

INVOICES = """\
invoice_id,debtor_id,debtor_name,debtor_email,currency,amount,issued_on,due_on
INV-A,D1,Acme Trading,ap@acme.example,CNY,1000.00,2026-02-08,2026-03-10
INV-B,D1,Acme Trading,ap@acme.example,CNY,250.50,2026-02-08,2026-03-10
INV-C,D1,Acme Trading,ap@acme.example,CNY,99.00,2026-02-08,
"""

PAYMENTS = """\
payment_id,debtor_id,invoice_id,currency,amount,received_at
P1,D1,INV-B,CNY,250.50,2026-03-12T08:30:00+08:00
"""


def us(rfc3339):
    return int(datetime.fromisoformat(rfc3339).timestamp()) * 1_000_000


def inv(invoice_id):
    return lambda p, e: p.get("invoice_id") == invoice_id


def minor(money):
    return int(money["minor"]), money["currency"]


def test_walking_skeleton(fleet):
    fleet.clock_set("2026-03-01T00:00:00+08:00")
    fleet.start_all()

    # Intake: two good rows, one without a due date (R-T1).
    fleet.drop("invoices.csv", INVOICES)
    recorded = fleet.wait_events("invoice.recorded", 2)
    assert sorted(e["payload"]["invoice_id"] for e in recorded) == ["INV-A", "INV-B"]
    for e in recorded:
        assert e["payload"]["due_on"] == "2026-03-10"
        assert e["aggregate_id"] == "D1"
    wait_until(lambda: any("invoices" in os.path.basename(p) for p in fleet.files("done")),
               10, what="invoices.csv in run/done/")
    assert fleet.query("SELECT invoice_id, amount_minor, currency FROM invoice ORDER BY 1") == \
        [("INV-A", 100000, "CNY"), ("INV-B", 25050, "CNY")]
    rejects = fleet.query("SELECT line, field, reason FROM intake_reject")
    assert [(line, field) for line, field, _ in rejects] == [(4, "due_on")], rejects
    assert rejects[0][2], "a reject carries a reason"
    assert fleet.scalar("SELECT rows_accepted FROM intake_file WHERE name LIKE %s",
                        ("%invoices%",)) == 2

    # Two days past due (Thursday): aged 1-30, a written notice planned on the best-ranked of
    # the next three working days (Thu, Fri, Mon: Friday, R-S1) at the start of the debtor's
    # working day, 09:00 local: inside the first 15 minutes after it starts (R-S2). The same
    # debtor's second notice waits the 4-hour gap (R-C2): 13:00 is lunch, so 14:00.
    fleet.clock_set("2026-03-12T08:00:00+08:00")
    for invoice_id in ("INV-A", "INV-B"):
        aged = fleet.wait_events("invoice.aged", 1, lambda p, e, i=invoice_id:
                                 p.get("invoice_id") == i and p.get("as_of") == "2026-03-12")
        assert int(aged[0]["payload"]["dpd"]) == 2
        assert aged[0]["payload"]["bucket"] == "1-30"
    planned, due = {}, {}
    for invoice_id in ("INV-A", "INV-B"):
        evs = fleet.wait_events("contact.planned", 1, lambda p, e, i=invoice_id:
                                p.get("invoice_id") == i and p.get("step") == "written_notice")
        p = evs[0]["payload"]
        assert p["channel"] == "email"
        planned[invoice_id] = p["contact_id"]
        due[invoice_id] = int(p["due_at_us"])
    assert sorted(due.values()) == [us("2026-03-13T09:00:00+08:00"),
                                    us("2026-03-13T14:00:00+08:00")], due

    # INV-B paid in full before its reminder is due: settled, reminder cancelled.
    fleet.clock_set("2026-03-12T08:45:00+08:00")
    fleet.drop("payments.csv", PAYMENTS)
    pay = fleet.wait_events("payment.recorded", 1, lambda p, e: p.get("payment_id") == "P1")
    assert minor(pay[0]["payload"]["amount"]) == (25050, "CNY")
    fleet.wait_events("invoice.settled", 1, inv("INV-B"))
    fleet.wait_events("contact.cancelled", 1,
                      lambda p, e: p.get("contact_id") == planned["INV-B"])
    assert fleet.query("SELECT status, outstanding_minor FROM invoice WHERE invoice_id = 'INV-B'") \
        == [("settled", 0)]
    # INV-A's notice, had it made way for INV-B's, takes its minute back (R-C2)
    wait_until(lambda: fleet.scalar("SELECT due_at FROM contact WHERE contact_id = %s",
                                    (planned["INV-A"],)).timestamp() * 1_000_000
               == us("2026-03-13T09:00:00+08:00"), 10, what="INV-A's notice at 09:00")

    # Friday 09:20: INV-A's reminder goes out by e-mail (R-N3), INV-B's does not.
    fleet.clock_set("2026-03-13T09:20:00+08:00")
    contact_a = planned["INV-A"]
    fleet.wait_events("contact.sent", 1, lambda p, e: p.get("contact_id") == contact_a)
    dispatched = fleet.wait_events("contact.dispatched", 1,
                                   lambda p, e: p.get("contact_id") == contact_a, timeout=5)
    assert dispatched[0]["payload"]["channel"] == "email"
    sent_ev = fleet.events("contact.sent")
    sent_ev = [e for e in sent_ev if e["payload"]["contact_id"] == contact_a]
    assert len(sent_ev) == 1, sent_ev
    when = "SELECT created_at FROM event_outbox WHERE event_id = %s"
    assert fleet.scalar(when, (dispatched[0]["event_id"],)) <= \
        fleet.scalar(when, (sent_ev[0]["event_id"],)), "contact.sent before contact.dispatched"
    assert re.fullmatch(r"[0-9a-f]{64}", sent_ev[0]["payload"]["content_sha256"])
    rows = fleet.query("SELECT channel, content_sha256 FROM delivery WHERE contact_id = %s",
                       (contact_a,))
    assert len(rows) == 1 and rows[0][0] == "email", rows
    assert re.fullmatch(r"[0-9a-f]{64}", rows[0][1]), rows[0][1]
    assert rows[0][1] == sent_ev[0]["payload"]["content_sha256"]
    assert fleet.query("SELECT 1 FROM delivery WHERE contact_id = %s", (planned["INV-B"],)) == []
    texts = [message_text(f) for f in fleet.files(os.path.join("outbox", "email"))]
    texts = [t for t in texts if "INV-A" in t]
    assert len(texts) == 1, "want one message naming INV-A in run/outbox/email/"
    assert "1000.00" in texts[0] and "CNY" in texts[0], texts[0][:2000]
    assert not [t for t in texts if "INV-B" in t]
    assert "ap@acme.example" not in fleet.logs(lines=None), "e-mail address in clear in a log"

    # 94 days past due: 91-180, and legal opens a case for INV-A only (escalate_dpd 90).
    fleet.clock_set("2026-06-12T09:00:00+08:00")
    aged = fleet.wait_events("invoice.aged", 1, lambda p, e:
                             p.get("invoice_id") == "INV-A" and p.get("as_of") == "2026-06-12")
    assert int(aged[0]["payload"]["dpd"]) == 94
    assert aged[0]["payload"]["bucket"] == "91-180"
    case = fleet.wait_events("case.opened", 1, inv("INV-A"))
    assert int(case[0]["payload"]["dpd"]) >= 90
    assert minor(case[0]["payload"]["outstanding"]) == (100000, "CNY")
    # legal's scan of the aged invoices runs once the day's aging run is finished, then not
    # again that day (it scanned every open invoice every tick)
    legal = [d for d in fleet.daemons.values() if d.kind == "legal"][0]
    wait_until(lambda: fleet.scalar("SELECT count(*) FROM aging_run WHERE run_date = '2026-06-12'"
                                    " AND finished_at IS NOT NULL") == 1, 15, what="the day's run")

    def scans_then_quiet():
        """The scan count once it ran and then stood still for a second; None before."""
        n = legal.metric("hk_legal_sweeps_total")
        time.sleep(1)
        return n if n >= 1 and legal.metric("hk_legal_sweeps_total") == n else None

    sweeps = wait_until(scans_then_quiet, 15, what="the day's scan done")
    time.sleep(2)  # twenty ticks
    assert legal.metric("hk_legal_sweeps_total") == sweeps

    # Let the fleet settle, then look at the whole stream as an outsider.
    wait_until(lambda: fleet.scalar("SELECT count(*) FROM event_unpublished") == 0, 15,
               what="every event published")
    events = fleet.events()
    assert len(events) == fleet.outbox_count()
    assert not [e for e in events if e["type"] == "case.opened"
                and e["payload"]["invoice_id"] == "INV-B"]
    assert not [e for e in events if e["type"] == "invoice.aged"
                and e["payload"]["invoice_id"] == "INV-B"
                and e["payload"]["as_of"] == "2026-06-12"]
    assert fleet.query("SELECT invoice_id FROM legal_case") == [("INV-A",)]
    assert not [e for e in events if e["payload"].get("invoice_id") == "INV-C"]
    check_sequences(events)
    for e in events:
        assert e["tenant"] and e["trace_id"] and e["payload_type"], e

    fleet.stop_all()
