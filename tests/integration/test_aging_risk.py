"""Aging with the doctrine wired in (aging issue, part): grade with reasons (R-A2), expected
recovery (R-A3), the limitation clock and its warnings (R-L1), and legal escalation when the
period nears its end (R-L3) — on the fleet clock, through the daemons."""

import json
import os
import time
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from fleet import wait_until

SOURCE_DIR = os.environ.get("HK_SOURCE_DIR") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

FEED = """\
invoice_id,debtor_id,currency,amount,issued_on,due_on
OLD-1,D1,CNY,1000.01,,2023-06-01
MID-1,D1,CNY,500.00,,2025-01-10
NEW-1,D2,CNY,300.00,2026-03-01,2026-04-01
EXP-1,D3,CNY,80.00,,2022-03-01
"""


def aged(fleet, as_of):
    """Invoices whose stored results hold on as_of (computed on or before it, holding through
    it), once aging's run of that day is over: a run re-ages only what reached a change
    point, so holding is what "aged for the day" means."""
    return fleet.scalar("SELECT count(*) FROM invoice WHERE aged_as_of <= %s"
                        " AND aged_through >= %s AND EXISTS (SELECT 1 FROM aging_run"
                        " WHERE run_date = %s AND finished_at IS NOT NULL)", (as_of,) * 3)


def test_grades_recovery_and_limitation(fleet):
    fleet.clock_set("2026-03-15T10:00:00+08:00")
    fleet.start("ingestion")
    fleet.start("aging")
    fleet.start("legal", HUIKUAN_LEGAL_ESCALATE_DPD="3650")  # only the limitation escalates
    # D2's deliveries fell from 1000 a month to 100 (R-A7 volume drop)
    fleet.drop("deliveries.csv", "delivery_id,debtor_id,delivered_on,currency,amount\n" + "".join(
        "DL-%d,D2,%s,CNY,%s\n" % (i, day, amount) for i, (day, amount) in enumerate(
            [("2025-11-05", "1000.00"), ("2025-12-05", "1000.00"), ("2026-01-05", "1000.00"),
             ("2026-02-05", "1000.00"), ("2026-03-05", "100.00")])))
    wait_until(lambda: fleet.scalar("SELECT count(*) FROM goods_delivery") == 5, 30,
               what="deliveries")
    fleet.drop("old.csv", FEED)
    wait_until(lambda: aged(fleet, date(2026, 3, 15)) == 4, 30, what="all aged")
    rows = {r[0]: r[1:] for r in fleet.query(
        "SELECT invoice_id, grade, recovery_bp, expected_recoverable_minor,"
        " limitation_expires_on, bucket FROM invoice")}
    # OLD-1: 1018 days overdue, over two years: grade 2, 20% (R-A3), floor(100001 x 0.2)
    assert rows["OLD-1"] == (2, 2000, 20000, date(2026, 6, 1), "over-730")
    # MID-1: 429 days: grade 3, 80%
    assert rows["MID-1"] == (3, 8000, 40000, date(2028, 1, 10), "366-730")
    # NEW-1: not due yet: grade 5
    assert rows["NEW-1"][0] == 5 and rows["NEW-1"][4] == "current"
    # EXP-1: period ended 2025-03-01
    assert rows["EXP-1"][3] == date(2025, 3, 1)

    warnings = fleet.wait_events("limitation.warning", 2)
    by_invoice = {e["payload"]["invoice_id"]: e["payload"] for e in warnings}
    assert by_invoice["OLD-1"]["warning_days"] == 90 and by_invoice["OLD-1"]["days_left"] == 78
    assert by_invoice["EXP-1"]["expired"] is True
    assert "MID-1" not in by_invoice and "NEW-1" not in by_invoice
    cases = fleet.wait_events("case.opened", 2)
    assert sorted(c["payload"]["invoice_id"] for c in cases) == ["EXP-1", "OLD-1"]
    assert all("R-L1" in c["payload"]["rules"] for c in cases)
    old = [e for e in fleet.events("invoice.aged") if e["payload"]["invoice_id"] == "OLD-1"][0]
    assert old["payload"]["grade"] == 2
    assert any(r.startswith("R-A2") for r in old["payload"]["grade_reasons"])
    assert old["payload"]["expected_recoverable"]["minor"] == 20000

    # Debtor level (R-A2 worst grade, R-A4 priority with its parts, R-A7 signals)
    debtors = {r[0]: r[1:] for r in fleet.query(
        "SELECT debtor_id, grade, priority, priority_parts, signals FROM debtor")}
    assert debtors["D1"][0] == 2 and debtors["D2"][0] == 5 and debtors["D3"][0] == 2
    for debtor_id, (grade, priority, parts, signals) in debtors.items():
        assert priority == sum(parts.values()), (debtor_id, priority, parts)
    assert debtors["D2"][3] == ["volume_drop"]
    assert 0 < debtors["D2"][1] < debtors["D1"][1]
    graded = {e["payload"]["debtor_id"]: e["payload"] for e in fleet.events("debtor.graded")}
    assert graded["D1"]["grade"] == 2 and graded["D1"]["priority"] == debtors["D1"][1]
    assert any(r.startswith("R-A2") for r in graded["D1"]["grade_reasons"])

    # The portfolio report (hkctl report aging), checked against the rows themselves.
    report = json.loads(fleet.hkctl("report", "aging", "--format", "json").stdout)
    by_bucket = {r["bucket"]: r for r in report["bucket"]}
    assert by_bucket["over-730"]["invoices"] == 2  # OLD-1 and EXP-1
    assert by_bucket["over-730"]["outstanding"] == "1080.01"
    assert by_bucket["current"]["expected_recoverable"] == "240.00"
    by_grade = {r["grade"]: r for r in report["grade"]}
    assert by_grade["3"]["outstanding"] == "500.00"
    # per debtor (R-A3), the debtors who come first first (R-A4)
    rows = fleet.query("SELECT b.debtor_id, count(*), sum(i.outstanding_minor),"
                       " sum(i.expected_recoverable_minor) FROM debtor b JOIN invoice i"
                       " USING (tenant, debtor_id) WHERE i.status = 'open'"
                       " GROUP BY b.debtor_id, b.priority ORDER BY b.priority DESC, 1")
    assert [(r["debtor"], r["invoices"], r["outstanding"], r["expected_recoverable"])
            for r in report["debtor"]] == [
        (d, n, "%d.%02d" % divmod(o, 100), "%d.%02d" % divmod(e, 100)) for d, n, o, e in rows]
    top = json.loads(fleet.hkctl("report", "aging", "--format", "json", "--debtors", "1").stdout)
    assert [r["debtor"] for r in top["debtor"]] == [rows[0][0]]
    assert fleet.hkctl("report", "aging", "--debtors", "x", check=False).returncode == 2
    # DSO: open receivables / credit sales of the last 90 days x 90, in hundredths, half up
    receivables = Decimal(fleet.scalar("SELECT sum(outstanding_minor) FROM invoice"))
    sales = Decimal(30000)
    expected = (receivables / sales * 90).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    assert report["dso"] == [{"currency": "CNY", "days": 90, "dso": str(expected)}], report["dso"]
    assert "DSO over the last 90 days" in fleet.hkctl("report", "aging").stdout
    assert fleet.hkctl("report", "aging", "--format", "csv").stdout.startswith("section,key,")
    assert fleet.hkctl("report", "aging", "--format", "xml", check=False).returncode == 2

    # The next day nothing changed: no aged event, no warning again.
    before = (fleet.outbox_count("invoice.aged"), fleet.outbox_count("limitation.warning"))
    fleet.clock_set("2026-03-16T10:00:00+08:00")
    wait_until(lambda: aged(fleet, date(2026, 3, 16)) == 4, 30, what="re-aged")
    assert (fleet.outbox_count("invoice.aged"), fleet.outbox_count("limitation.warning")) == before

    # 22 days left: the 30-day warning, once; the case is not opened twice.
    fleet.clock_set("2026-05-10T10:00:00+08:00")
    wait_until(lambda: aged(fleet, date(2026, 5, 10)) == 4, 30, what="re-aged in May")
    evs = fleet.wait_events("limitation.warning", 1,
                            lambda p, e: p.get("invoice_id") == "OLD-1" and
                            p.get("warning_days") == 30)
    assert evs[0]["payload"]["days_left"] == 22
    assert fleet.scalar("SELECT count(*) FROM legal_case") == 2


def test_credit_hold_placed_and_lifted_only_by_payment(fleet):
    """R-H1: cash terms allow no credit; deliver-two-settle-one (送二结一) holds while an earlier
    batch is unpaid. The hold is an event for billing/ERP, lifted only by payment (R-H2)."""
    fleet.clock_set("2026-03-15T10:00:00+08:00")
    fleet.start("ingestion")
    fleet.start("aging")
    fleet.drop("a-contracts.csv", "contract_id,debtor_id,terms,sealed\n"
                                  "K-CASH,D4,cash,true\nK-221,D5,deliver_two_settle_one,true\n")
    wait_until(lambda: fleet.scalar("SELECT count(*) FROM contract") == 2, 30, what="contracts")
    fleet.drop("b-invoices.csv", "invoice_id,debtor_id,currency,amount,issued_on,due_on\n"
                                 "C-1,D4,CNY,50.00,2026-03-14,2026-04-14\n"
                                 "B-1,D5,CNY,70.00,2026-02-01,2026-03-30\n"
                                 "B-2,D5,CNY,80.00,2026-03-01,2026-04-30\n")
    placed = fleet.wait_events("credit_hold.placed", 2)
    by = {e["payload"]["debtor_id"]: e["payload"] for e in placed}
    assert by["D4"]["terms"] == "cash" and by["D4"]["rule"] == "R-H1"
    assert by["D5"]["terms"] == "deliver_two_settle_one"
    assert fleet.query("SELECT debtor_id FROM debtor WHERE credit_hold ORDER BY 1") == \
        [("D4",), ("D5",)]
    # Paying the latest batch of D5 does not lift its hold: the earlier one is still unpaid.
    fleet.drop("c-payments.csv", "payment_id,debtor_id,invoice_id,currency,amount,received_at\n"
                                 "PB-2,D5,B-2,CNY,80.00,2026-03-15T11:00:00+08:00\n")
    wait_until(lambda: fleet.scalar("SELECT count(*) FROM payment") == 1, 30, what="payment")
    wait_until(lambda: fleet.scalar("SELECT count(*) FROM consumed_event WHERE consumer ="
                                    " 'aging' AND event_id IN (SELECT event_id FROM event_outbox"
                                    " WHERE type = 'payment.recorded')") == 1, 30,
               what="aging saw the payment")
    assert fleet.outbox_count("credit_hold.lifted") == 0
    fleet.drop("d-payments.csv", "payment_id,debtor_id,invoice_id,currency,amount,received_at\n"
                                 "PB-1,D5,B-1,CNY,70.00,2026-03-15T12:00:00+08:00\n"
                                 "PC-1,D4,C-1,CNY,50.00,2026-03-15T12:00:00+08:00\n")
    lifted = fleet.wait_events("credit_hold.lifted", 2)
    assert sorted(e["payload"]["debtor_id"] for e in lifted) == ["D4", "D5"]
    assert fleet.scalar("SELECT count(*) FROM debtor WHERE credit_hold") == 0


def test_no_supply_no_payment_threat_keeps_the_hold(fleet):
    """R-H2: a debtor held under cash terms (R-H1) answers a dispatched contact with "no
    supply, no payment" (不供货就不再付款). Within seconds, whatever its grade: the hold stays,
    its reason names R-H2, the stance is hard (bad faith, R-A5), nothing is lifted, and the
    scheduler takes the next rung at once as for a refusal (R-C1). A payment that leaves goods
    unpaid keeps the hold; the one that clears them lifts it (R-H1), and the threat, older than
    the lift, no longer makes the stance hard."""
    zone = ZoneInfo("Asia/Shanghai")
    fleet.clock_set("2026-03-05T08:00:00+08:00")
    fleet.start("ingestion")
    fleet.start("aging")
    fleet.start("scheduling")
    fleet.drop("a-debtors.csv", "debtor_id,name,size_class,time_zone,calendar\n"
                                "T1,Debtor T1 Co.,large,Asia/Shanghai,CN\n")
    wait_until(lambda: fleet.scalar("SELECT count(*) FROM debtor") == 1, 30, what="debtor")
    fleet.drop("b-people.csv", "contact_id,debtor_id,role,name,phone,email\n"
                               "T1-PAY,T1,payment_contact,Pay Clerk,+8613800000001,"
                               "pay@t1.example\n")
    fleet.drop("c-contracts.csv", "contract_id,debtor_id,terms,sealed\nK-T1,T1,cash,true\n")
    wait_until(lambda: fleet.scalar("SELECT count(*) FROM contract") == 1
               and fleet.scalar("SELECT count(*) FROM contact_person") == 1, 30,
               what="people and contract")
    fleet.drop("d-invoices.csv", "invoice_id,debtor_id,currency,amount,issued_on,due_on\n"
                                 "T1-1,T1,CNY,5000.00,2026-01-31,2026-03-02\n")
    placed = fleet.wait_events("credit_hold.placed", 1)
    assert placed[0]["payload"]["rule"] == "R-H1", placed
    wait_until(lambda: fleet.scalar("SELECT stance FROM debtor WHERE debtor_id = 'T1'")
               == "soft", 30, what="graded soft")
    # 3 days overdue: grade 4, which a plain contact outcome does not re-grade
    assert fleet.scalar("SELECT grade FROM debtor WHERE debtor_id = 'T1'") == 4

    notice = wait_until(lambda: fleet.query(
        "SELECT contact_id::text, due_at FROM contact WHERE debtor_id = 'T1'"
        " AND step = 'written_notice'"), 30, what="notice planned")[0]
    fleet.clock_set(notice[1].astimezone(zone).isoformat())
    wait_until(lambda: fleet.scalar("SELECT dispatched_at FROM contact WHERE contact_id = %s",
                                    (notice[0],)), 30, what="notice dispatched")
    said = notice[1].astimezone(zone) + timedelta(hours=1)
    fleet.clock_set((said + timedelta(minutes=5)).isoformat())
    graded_before = fleet.outbox_count("debtor.graded")
    fleet.drop("e-outcomes.csv", "outcome_id,task_id,outcome,occurred_at,note\n"
                                 "O-1,%s,no_supply_no_payment,%s,no delivery no money\n"
                                 "O-2,%s,no_supply,%s,\n"
                                 % (notice[0], said.isoformat(), notice[0], said.isoformat()))

    def reason():
        return fleet.query("SELECT credit_hold, credit_hold_reason, stance FROM debtor"
                           " WHERE debtor_id = 'T1'")[0]
    wait_until(lambda: "R-H2" in (reason()[1] or ""), 10, what="hold reason names R-H2")
    held, why, stance = reason()
    assert held is True and "R-H1" in why and stance == "hard", (held, why, stance)
    assert fleet.query("SELECT r.line, r.field FROM intake_reject r JOIN intake_file f"
                       " ON f.id = r.file_id WHERE f.name LIKE %s", ("%e-outcomes.csv",)) \
        == [(3, "outcome")]
    graded = fleet.wait_events("debtor.graded", 1,
                               lambda p, e: p.get("debtor_id") == "T1"
                               and p.get("stance") == "hard")
    assert fleet.outbox_count("debtor.graded") > graded_before, graded
    # a reason change alone is no event: billing acts on placed and lifted
    assert fleet.outbox_count("credit_hold.") == 1
    # the scheduler: a refusal, the next rung at once (R-C1)
    call = wait_until(lambda: fleet.query(
        "SELECT reason, rules FROM contact WHERE debtor_id = 'T1' AND step = 'phone'"
        " AND status = 'planned'"), 20, what="the next rung at once")[0]
    assert "did not work" in call[0] and "R-C1" in call[1], call
    # the debtor spoke: its last contact (R-A2)
    assert fleet.scalar("SELECT count(*) FROM contact_outcome WHERE outcome ="
                        " 'no_supply_no_payment'") == 1

    # part paid: cash terms still broken, the hold and its reason stay
    fleet.drop("f-payments.csv", "payment_id,debtor_id,invoice_id,currency,amount,received_at\n"
                                 "TP-1,T1,T1-1,CNY,2000.00,%s\n" % said.isoformat())
    wait_until(lambda: fleet.scalar("SELECT count(*) FROM consumed_event WHERE consumer ="
                                    " 'aging' AND event_id IN (SELECT event_id FROM event_outbox"
                                    " WHERE type = 'payment.recorded')") == 1, 30,
               what="aging saw the payment")
    time.sleep(1.0)
    held, why, stance = reason()
    assert held is True and "R-H2" in why and stance == "hard", (held, why, stance)
    assert fleet.outbox_count("credit_hold.lifted") == 0
    # the rest paid: only payment lifts the hold (R-H1)
    fleet.clock_set((said + timedelta(hours=2)).isoformat())
    fleet.drop("g-payments.csv", "payment_id,debtor_id,invoice_id,currency,amount,received_at\n"
                                 "TP-2,T1,T1-1,CNY,3000.00,%s\n"
                                 % (said + timedelta(hours=1)).isoformat())
    lifted = fleet.wait_events("credit_hold.lifted", 1)
    assert lifted[0]["payload"]["debtor_id"] == "T1" and lifted[0]["payload"]["rule"] == "R-H1"
    held, why, stance = reason()
    assert held is False and "cleared by payment" in why and stance == "soft", (held, why, stance)
    # the lift's time on the fleet clock ends the threat's window
    lifted_at = fleet.scalar("SELECT credit_hold_lifted_at FROM debtor WHERE debtor_id = 'T1'")
    assert said + timedelta(hours=2) <= lifted_at < said + timedelta(hours=2, minutes=5), \
        lifted_at


def test_tenant_buckets_from_configuration(fleet):
    """R-A1: buckets are configuration; a bad list is refused at start with the reason. Results
    are kept until their change point, so other buckets at a start compute them all again the
    same day (aging_rules), not when each invoice's old bucket would have ended."""
    import subprocess
    from fleet import binary
    fleet.clock_set("2026-03-30T10:00:00+08:00")
    fleet.start("ingestion")
    aging = fleet.start("aging", HUIKUAN_AGING_BUCKETS="15,45")
    fleet.drop("b.csv", "invoice_id,debtor_id,currency,amount,due_on\n"
                        "T-1,D1,CNY,1.00,2026-03-20\nT-2,D1,CNY,1.00,2026-03-01\n"
                        "T-3,D1,CNY,1.00,2026-01-01\n")
    wait_until(lambda: fleet.scalar("SELECT count(*) FROM invoice WHERE bucket IS NOT NULL") == 3,
               30, what="aged")
    assert fleet.query("SELECT invoice_id, bucket FROM invoice ORDER BY 1") == \
        [("T-1", "1-15"), ("T-2", "16-45"), ("T-3", "over-45")]
    aging.stop()
    again = fleet.start("aging", "aging-default")     # the default buckets, the same day
    wait_until(lambda: fleet.query("SELECT invoice_id, bucket FROM invoice ORDER BY 1") ==
               [("T-1", "1-30"), ("T-2", "1-30"), ("T-3", "61-90")], 30,
               what="buckets computed again")
    assert "rules or buckets changed" in again.log(200)
    again.stop()
    same = fleet.start("aging", "aging-same")          # the same buckets: nothing again
    time.sleep(1.0)
    assert "recompute_all" not in same.log(200)
    assert fleet.scalar("SELECT count(*) FROM aging_rules") == 1
    env = fleet.env()
    env["HUIKUAN_AGING_BUCKETS"] = "30,20"
    r = subprocess.run([binary("huikuan-aging"), "--show-config"], env=env, capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 2 and "buckets" in r.stderr, r.stderr


def test_stance_from_cause_and_cooperation(fleet):
    """R-A5/R-A6: the recorded cause of default and cooperation set the stance: hard (武收)
    only for the wilful or uncooperative, soft (文收) otherwise."""
    fleet.clock_set("2026-03-15T10:00:00+08:00")
    fleet.start("ingestion")
    fleet.start("aging")
    fleet.drop("a-debtors.csv", "debtor_id,cause_of_default,cooperative\n"
                                "S1,cash_shortage,true\nS2,wilful,\nS3,oversight,false\n"
                                "S4,lazy,true\n")
    wait_until(lambda: fleet.scalar("SELECT count(*) FROM intake_file") == 1, 30, what="debtors")
    rejects = fleet.query("SELECT line, field FROM intake_reject")
    assert rejects == [(5, "cause_of_default")]
    fleet.drop("b-invoices.csv", "invoice_id,debtor_id,currency,amount,due_on\n"
                                 "S1-1,S1,CNY,1.00,2026-03-01\nS2-1,S2,CNY,1.00,2026-03-01\n"
                                 "S3-1,S3,CNY,1.00,2026-03-01\n")
    wait_until(lambda: fleet.scalar("SELECT count(*) FROM debtor WHERE stance IS NOT NULL") == 3,
               30, what="stances")
    assert fleet.query("SELECT debtor_id, stance FROM debtor WHERE stance IS NOT NULL"
                       " ORDER BY 1") == [("S1", "soft"), ("S2", "hard"), ("S3", "hard")]
    graded = {e["payload"]["debtor_id"]: e["payload"] for e in fleet.events("debtor.graded")}
    assert graded["S2"]["stance"] == "hard" and graded["S2"]["cause_of_default"] == "wilful"


def test_limitation_interruptions_restart_the_clock(fleet):
    """R-L1/R-L2: the clock runs three years from the due date; an interruption recorded with
    its evidence (CSV or JSON Lines feed) restarts it from the interruption on its event, the
    new expiry is stored and the warnings are armed again. Without evidence, after the expiry
    or with no interruption at all, the clock stays as it was."""
    fleet.clock_set("2026-03-15T10:00:00+08:00")
    fleet.start("ingestion")
    fleet.start("aging")
    fleet.drop("a-invoices.csv", "invoice_id,debtor_id,currency,amount,due_on\n"
                                 "LI-A,D1,CNY,10.00,2023-06-01\nLI-B,D1,CNY,10.00,2023-06-01\n"
                                 "LI-C,D2,CNY,10.00,2023-06-01\nLI-X,D2,CNY,10.00,2022-03-01\n")
    wait_until(lambda: aged(fleet, date(2026, 3, 15)) == 4, 30, what="aged")
    expiry = dict(fleet.query("SELECT invoice_id, limitation_expires_on FROM invoice"))
    assert expiry == {"LI-A": date(2026, 6, 1), "LI-B": date(2026, 6, 1),
                      "LI-C": date(2026, 6, 1), "LI-X": date(2025, 3, 1)}
    fleet.wait_events("limitation.warning", 4)  # 90 days for A, B, C; X expired

    fleet.drop("b-interruptions.csv",
               "interruption_id,debtor_id,invoice_id,interruption,occurred_on,evidence\n"
               "I-1,D1,LI-A,demand,2025-01-10,EMS receipt 1234 signed by the debtor\n"
               "I-2,D1,LI-B,acknowledgement,2025-02-01,\n"           # no evidence: ignored
               "I-3,D2,LI-X,demand,2025-06-01,registered letter\n"   # after expiry: ignored
               "I-4,D2,LI-C,settlement,2025-06-01,x\n")              # unknown kind: rejected
    fleet.drop("c-interruptions.jsonl",
               '{"kind": "limitation_interruption", "interruption_id": "I-5", "debtor_id": "D1",'
               ' "invoice_id": "LI-B", "interruption": "lawsuit", "occurred_on": "2026-03-01",'
               ' "evidence": "court filing 2026-001"}\n')
    wait_until(lambda: fleet.scalar("SELECT count(*) FROM consumed_event WHERE consumer ="
                                    " 'aging' AND event_id IN (SELECT event_id FROM event_outbox"
                                    " WHERE type = 'limitation_interruption.recorded')") == 4,
               30, what="aging saw the interruptions")
    assert fleet.query("SELECT line, field FROM intake_reject") == [(5, "interruption")]
    assert fleet.query("SELECT interruption_id, interruption, evidence FROM"
                       " limitation_interruption ORDER BY 1") == [
        ("I-1", "demand", "EMS receipt 1234 signed by the debtor"),
        ("I-2", "acknowledgement", None), ("I-3", "demand", "registered letter"),
        ("I-5", "lawsuit", "court filing 2026-001")]
    expiry = dict(fleet.query("SELECT invoice_id, limitation_expires_on FROM invoice"))
    # three years after the counted interruption (Civil Code art. 188, 195)
    assert expiry == {"LI-A": date(2028, 1, 10), "LI-B": date(2029, 3, 1),
                      "LI-C": date(2026, 6, 1), "LI-X": date(2025, 3, 1)}
    assert fleet.query("SELECT invoice_id, limitation_start FROM invoice ORDER BY 1") == [
        ("LI-A", date(2025, 1, 10)), ("LI-B", date(2026, 3, 1)), ("LI-C", date(2023, 6, 1)),
        ("LI-X", date(2022, 3, 1))]

    # 70 days before the new expiry of LI-A the 90-day warning comes again (re-armed), with
    # the new date; LI-C (no interruption) expired meanwhile.
    fleet.clock_set("2027-11-01T10:00:00+08:00")
    wait_until(lambda: aged(fleet, date(2027, 11, 1)) == 4, 30, what="re-aged")
    again = fleet.wait_events("limitation.warning", 1,
                              lambda p, e: p.get("invoice_id") == "LI-A" and
                              p.get("expires_on") == "2028-01-10")
    assert again[0]["payload"]["warning_days"] == 90 and again[0]["payload"]["days_left"] == 70
    c = fleet.wait_events("limitation.warning", 1, lambda p, e: p.get("invoice_id") == "LI-C"
                          and p.get("expired") is True)
    assert c[0]["payload"]["expires_on"] == "2026-06-01"
    assert not [e for e in fleet.events("limitation.warning")
                if e["payload"]["invoice_id"] == "LI-B" and e["payload"]["expires_on"] ==
                "2029-03-01"]


def test_day_boundary_in_the_tenant_zone_by_the_fleet_clock(fleet_factory):
    """R-A1 DPD counts tenant-local days: New York on 2026-03-11 is on daylight time (since
    March 8th), so its midnight is 04:00 UTC, not 05:00. One second before it the invoice due
    on the 10th is still current; at midnight the day's run ages it 1 day past due."""
    fleet = fleet_factory("ny", time_zone="America/New_York")
    fleet.clock_set("2026-03-10T12:00:00-04:00")
    fleet.start("ingestion")
    fleet.start("aging")
    fleet.drop("tz.csv", "invoice_id,debtor_id,currency,amount,due_on\nTZ-1,NY1,USD,5.00,2026-03-10\n")
    wait_until(lambda: aged(fleet, date(2026, 3, 10)) == 1, 30, what="aged on the 10th")
    fleet.clock_set("2026-03-11T03:59:59Z")
    time.sleep(1.0)
    assert fleet.query("SELECT aged_as_of, aged_through, bucket FROM invoice") == \
        [(date(2026, 3, 10), date(2026, 3, 10), "current")]
    assert fleet.scalar("SELECT count(*) FROM aging_run WHERE run_date = '2026-03-11'") == 0
    fleet.clock_set("2026-03-11T04:00:00Z")
    wait_until(lambda: aged(fleet, date(2026, 3, 11)) == 1, 30, what="aged on the 11th")
    assert fleet.query("SELECT aged_as_of, bucket FROM invoice") == [(date(2026, 3, 11), "1-30")]
    ev = fleet.wait_events("invoice.aged", 1, lambda p, e: p.get("as_of") == "2026-03-11")
    assert ev[0]["payload"]["time_zone"] == "America/New_York"
    assert ev[0]["payload"]["previous_bucket"] == "current"


def test_ibm_data_dso_and_days_late_through_the_daemons(fleet_factory):
    """The IBM accounts-receivable sample (shared/data/realworld/ibm-ar) loaded through the
    shipped mapping as the books stood on 2012-12-31 (invoices issued by then; payments
    settled after it not yet received), aged by the daemon that day in the mapping's zone.
    Checked against an independent reading of the file: each open invoice's DPD and bucket
    (R-A1), the DSO of the aging report, and the days late of each debtor's last 8 payments
    through the lengthening-delay signal (R-A7)."""
    import csv
    import os
    import shutil
    from datetime import datetime
    from fleet import SOURCE_DIR
    as_of = date(2012, 12, 31)
    src = os.path.join(os.path.dirname(SOURCE_DIR), "shared", "data", "realworld", "ibm-ar",
                       "accounts-receivable.csv")
    mapping = os.path.join(SOURCE_DIR, "deploy", "mappings", "ibm-ar.mapping.json")
    fleet = fleet_factory("ibm", time_zone=json.load(open(mapping))["time_zone"])
    fleet.clock_set("2012-12-31T18:00:00-05:00")
    os.makedirs(os.path.join(fleet.run_dir, "mappings"), exist_ok=True)
    shutil.copy(mapping, os.path.join(fleet.run_dir, "mappings"))

    def day(text):
        return datetime.strptime(text, "%m/%d/%Y").date()

    with open(src, newline="") as f:
        reader = csv.DictReader(f)
        header = reader.fieldnames
        rows = [r for r in reader if day(r["InvoiceDate"]) <= as_of]
    snapshot = []
    for r in rows:
        r = dict(r)
        if day(r["SettledDate"]) > as_of:
            r["SettledDate"] = ""   # not yet paid on the day: an open invoice
        snapshot.append(r)
    import io
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=header, lineterminator="\n")
    w.writeheader()
    w.writerows(snapshot)
    fleet.start("ingestion")
    fleet.start("aging")
    fleet.drop("ibm-ar-2012.csv", out.getvalue())
    open_rows = [r for r in snapshot if not r["SettledDate"]]
    owing = {r["customerID"] for r in open_rows}
    wait_until(lambda: fleet.scalar("SELECT count(*) FROM payment") == len(rows) - len(open_rows),
               60, what="payments")
    wait_until(lambda: fleet.scalar("SELECT count(*) FROM invoice WHERE status = 'open' AND"
                                    " aged_as_of = %s", (as_of,)) == len(open_rows)
               and fleet.scalar("SELECT count(*) FROM debtor WHERE risk_as_of = %s",
                                (as_of,)) == len(owing), 60, what="aged and graded")

    # DPD and bucket of every open invoice
    got = {r[0]: (r[1], r[2]) for r in fleet.query(
        "SELECT invoice_id, %s::date - due_on, bucket FROM invoice WHERE status = 'open'",
        (as_of,))}
    bounds = [(0, "current"), (30, "1-30"), (60, "31-60"), (90, "61-90"), (180, "91-180"),
              (365, "181-365"), (730, "366-730")]

    def bucket(dpd):
        return next((name for top, name in bounds if dpd <= top), "over-730")
    want = {r["invoiceNumber"]: ((as_of - day(r["DueDate"])).days,
                                 bucket((as_of - day(r["DueDate"])).days)) for r in open_rows}
    assert got == want
    assert {b for _, b in want.values()} >= {"current", "1-30"}  # due and overdue

    # DSO = receivables / credit sales of the last 90 days x 90, in hundredths, half up
    cents = {r["invoiceNumber"]: int(Decimal(r["InvoiceAmount"]) * 100) for r in rows}
    receivables = sum(cents[r["invoiceNumber"]] for r in open_rows)
    sales = sum(cents[r["invoiceNumber"]] for r in rows
                if 0 <= (as_of - day(r["InvoiceDate"])).days < 90)
    dso = (Decimal(receivables) / Decimal(sales) * 90).quantize(Decimal("0.01"),
                                                                 rounding=ROUND_HALF_UP)
    report = json.loads(fleet.hkctl("report", "aging", "--format", "json").stdout)
    assert report["dso"] == [{"currency": "USD", "days": 90, "dso": str(dso)}]
    by_bucket = {b["bucket"]: b for b in report["bucket"]}
    for name in {b for _, b in want.values()}:
        n = [i for i, (_, b) in want.items() if b == name]
        assert by_bucket[name]["invoices"] == len(n)
        total = sum(cents[i] for i in n)
        assert by_bucket[name]["outstanding"] == "%d.%02d" % (total // 100, total % 100)

    # Days late (the file's DaysLate) of each owing debtor's last 8 payments, oldest first,
    # through R-A7: the last 3 strictly rising and late, or the later half's mean above the
    # earlier half's by more than 10 days. Debtors whose last 9 payments share a date are
    # left out (the order among them is not defined).
    def rising(late):
        n = len(late)
        if n >= 3 and late[-1] > 0 and late[-3] < late[-2] < late[-1]:
            return True
        if n < 4:
            return False
        h = n // 2
        return sum(late[n - h:]) > sum(late[:h]) + 10 * h
    signals = dict(fleet.query("SELECT debtor_id, signals FROM debtor"))
    checked = flagged = 0
    for c in owing:
        paid = sorted((r for r in snapshot if r["customerID"] == c and r["SettledDate"]),
                      key=lambda r: day(r["SettledDate"]))
        dates = [day(r["SettledDate"]) for r in paid[-9:]]
        if len(set(dates)) != len(dates):
            continue
        expect = rising([int(r["DaysLate"]) for r in paid[-8:]])
        assert ("lengthening_delay" in (signals[c] or [])) == expect, (c, paid[-8:])
        checked += 1
        flagged += expect
    assert checked >= 40 and flagged >= 2, (checked, flagged)


def test_standing_and_behaviour_regrade_within_seconds(fleet):
    """The grade's other inputs (R-A2 behaviour, R-A8 reachability, bankruptcy, the R-A7
    closure flag and clearance sales) are read, and the events that change them re-grade the
    debtor and its invoices at once, not at the next day's run: a debtor recorded bankrupt
    (grade 1), lost (3, R-A8), closed (2: closure and never reached, R-A7) or selling off its
    stock (a signal), a dispute opened, two promises the scheduler found broken (R-A2),
    settlement terms that put the debtor on hold (R-H1). The fleet clock stays on one day
    throughout."""
    fleet.clock_set("2026-03-15T10:00:00+08:00")
    fleet.start("ingestion")
    fleet.start("aging")
    fleet.start("scheduling")
    fleet.drop("a-invoices.csv", "invoice_id,debtor_id,currency,amount,due_on\n"
                                 "K1-1,K1,CNY,10.00,2026-03-01\nK2-1,K2,CNY,10.00,2026-03-01\n"
                                 "K3-1,K3,CNY,10.00,2026-03-01\nK4-1,K4,CNY,10.00,2026-03-01\n"
                                 "K5-1,K5,CNY,10.00,2025-12-01\nK6-1,K6,CNY,10.00,2026-03-01\n"
                                 "K7-1,K7,CNY,10.00,2026-03-01\n")

    def graded():
        return {r[0]: (r[1], list(r[2]), r[3]) for r in fleet.query(
            "SELECT debtor_id, grade, grade_reasons, credit_hold FROM debtor"
            " WHERE risk_as_of IS NOT NULL")}

    before = wait_until(lambda: (lambda g: g if len(g) == 7 else None)(graded()), 30,
                        what="seven debtors graded")
    assert [before[k][0] for k in ("K1", "K2", "K3", "K4", "K6", "K7")] == [4] * 6, before
    assert not any("broken promises" in r for r in before["K5"][1]), before["K5"]
    runs = fleet.scalar("SELECT count(*) FROM aging_run")

    fleet.drop("b-debtors.csv", "debtor_id,bankrupt,reachability,closure,clearance_sale\n"
                                "K1,true,,,\nK2,,lost,,\nK6,,,true,\nK7,,,,true\n")
    fleet.drop("c-disputes.csv", "dispute_id,debtor_id,invoice_id,opened_on,reason,status\n"
                                 "DS1,K3,K3-1,2026-03-14,wrong goods,open\n")
    fleet.drop("d-contracts.csv", "contract_id,debtor_id,terms,period_day,sealed\n"
                                  "KC4,K4,periodic,25,true\n")
    fleet.drop("e-promises.csv", "promise_id,debtor_id,invoice_id,currency,amount,promised_at,"
                                 "recorded_at\n"
                                 "KP1,K5,K5-1,CNY,10.00,2026-03-10T10:00:00+08:00,"
                                 "2026-03-09T10:00:00+08:00\n"
                                 "KP2,K5,K5-1,CNY,10.00,2026-03-12T10:00:00+08:00,"
                                 "2026-03-11T10:00:00+08:00\n")

    def settled():
        g = graded()  # a debtor marked for grading (risk_as_of cleared) is not in it yet
        ok = (len(g) == 7 and g["K1"][0] == 1 and g["K2"][0] == 3 and g["K6"][0] == 2
              and "R-A7: clearance sales" in g["K7"][1]
              and any("open dispute" in r for r in g["K3"][1]) and g["K4"][2]
              and any("2 broken promises" in r for r in g["K5"][1]))
        return g if ok else None

    try:
        after = wait_until(settled, 30, what="re-graded from the events")
    except AssertionError as e:
        raise AssertionError("%s: %s; rejects %s" % (e, graded(), fleet.query(
            "SELECT line, field, reason FROM intake_reject"))) from None
    assert "R-A2: bankrupt" in after["K1"][1], after["K1"]
    assert any(r.startswith("R-A8: debtor lost") for r in after["K2"][1]), after["K2"]
    assert "R-A7: closure and never reached" in after["K6"][1], after["K6"]
    assert fleet.query("SELECT debtor_id, signals, priority_parts->>'signal' FROM debtor"
                       " WHERE debtor_id IN ('K6', 'K7') ORDER BY 1") == [
        ("K6", ["closure"], "50"), ("K7", ["clearance_sale"], "50")]
    assert after["K7"][0] == 4  # a signal for priority (R-A7), not a grade
    # the invoices too: their grades read the same standing
    assert dict(fleet.query("SELECT invoice_id, grade FROM invoice WHERE invoice_id IN"
                            " ('K1-1', 'K2-1', 'K6-1') ORDER BY 1")) == {"K1-1": 1, "K2-1": 3,
                                                                         "K6-1": 2}
    assert fleet.scalar("SELECT count(*) FROM promise WHERE status = 'broken'") == 2
    # by the events, not by another day's run
    assert fleet.scalar("SELECT count(*) FROM aging_run") == runs
    held = fleet.events("credit_hold.placed")
    assert [e["payload"]["debtor_id"] for e in held] == ["K4"], held


def test_a_contact_regrades_a_debtor_never_reached(fleet, tmp_path):
    """R-A2 "no contact": debtors 105 days overdue and never reached are doubtful (3). Once a
    demand reaches one (contact.sent), or an outcome says a debtor was reached (a letter
    delivered), aging re-grades it at once (4), the same day: both were graded 3
    before, and no other run comes. The time of contact is the fleet clock's."""
    zone = ZoneInfo("Asia/Shanghai")
    # the shipped strategy sends a doubtful debt a registered letter, which the sender does
    # not handle yet; this one sends every written notice by e-mail
    strategy = json.loads(open(os.path.join(SOURCE_DIR, "deploy", "strategies",
                                            "default.json"), encoding="utf-8").read())
    for rule in strategy["rules"] + strategy["challenger"]["rules"]:
        if "written_notice" in rule.get("channels", {}):
            rule["channels"]["written_notice"] = "email"
    (tmp_path / "email.json").write_text(json.dumps(strategy), encoding="utf-8")
    fleet.clock_set("2026-03-16T07:00:00+08:00")
    fleet.start("ingestion")
    fleet.start("aging")
    fleet.start("scheduling", HUIKUAN_SCHEDULING_STRATEGY_FILE=str(tmp_path / "email.json"))
    fleet.drop("nc.csv", "invoice_id,debtor_id,debtor_name,debtor_email,currency,amount,due_on\n"
                         "NC-1,NC,Never Called Ltd,ap@nc.example,CNY,100.00,2025-12-01\n"
                         "NR-1,NR,Never Reached Ltd,ap@nr.example,CNY,100.00,2025-12-01\n")
    planned = fleet.wait_events("contact.planned", 2)
    due = max(datetime.fromtimestamp(int(e["payload"]["due_at_us"]) / 1e6, zone)
              for e in planned)
    day = due.date().isoformat()

    def grade(debtor):
        """Grade, reasons, and whether they hold on day."""
        return fleet.query("SELECT grade, grade_reasons, %s::date BETWEEN risk_as_of"
                           " AND graded_through FROM debtor WHERE debtor_id = %s",
                           (day, debtor))[0]

    # the morning of that day: after its run both debtors' grades hold, never reached
    fleet.clock_set(due.replace(hour=8, minute=0).isoformat())
    wait_until(lambda: fleet.scalar("SELECT count(*) FROM aging_run WHERE run_date = %s"
                                    " AND finished_at IS NOT NULL", (day,)) == 1
               and grade("NC")[2] and grade("NR")[2], 30, what="the day's run")
    for debtor in ("NC", "NR"):
        g = grade(debtor)
        assert g[0] == 3 and any("never reached" in r for r in g[1]), g
    fleet.clock_set((due + timedelta(minutes=1)).isoformat())
    wait_until(lambda: fleet.scalar("SELECT count(*) FROM contact WHERE status = 'dispatched'")
               == 2, 30, what="the demands dispatched")

    def regraded(debtor):
        g = wait_until(lambda: (lambda g: g if g[0] == 4 else None)(grade(debtor)), 30,
                       what="%s re-graded after the contact" % debtor)
        assert not any("never reached" in r for r in g[1]), g
        wait_until(lambda: fleet.scalar("SELECT grade FROM invoice WHERE debtor_id = %s",
                                        (debtor,)) == 4, 30, what="its invoice re-graded")

    # NR: the post reports its demand delivered (an outcome, before anything is sent)
    task = fleet.scalar("SELECT contact_id::text FROM contact WHERE debtor_id = 'NR'")
    fleet.drop("outcomes.csv", "outcome_id,task_id,outcome,occurred_at\n"
                               "O-1,%s,delivered,%s\n" % (task, due.isoformat()))
    regraded("NR")
    assert grade("NC")[0] == 3
    # NC: its demand sent
    fleet.start("notification")
    try:
        fleet.wait_events("contact.sent", 1, lambda p, e: e["aggregate_id"] == "NC")
    except AssertionError as e:
        raise AssertionError("%s\n%s" % (str(e)[:300], fleet.query(
            "SELECT debtor_id, step, channel, status, due_at::text FROM contact"))) from None
    regraded("NC")
    assert fleet.scalar("SELECT count(*) FROM aging_run WHERE run_date = %s", (day,)) == 1
