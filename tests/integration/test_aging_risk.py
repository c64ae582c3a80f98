"""Aging with the doctrine wired in (aging issue, part): grade with reasons (R-A2), expected
recovery (R-A3), the limitation clock and its warnings (R-L1), and legal escalation when the
period nears its end (R-L3) — on the fleet clock, through the daemons."""

import json
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from fleet import wait_until

FEED = """\
invoice_id,debtor_id,currency,amount,issued_on,due_on
OLD-1,D1,CNY,1000.01,,2023-06-01
MID-1,D1,CNY,500.00,,2025-01-10
NEW-1,D2,CNY,300.00,2026-03-01,2026-04-01
EXP-1,D3,CNY,80.00,,2022-03-01
"""


def aged(fleet, as_of):
    return fleet.scalar("SELECT count(*) FROM invoice WHERE aged_as_of = %s", (as_of,))


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


def test_tenant_buckets_from_configuration(fleet):
    """R-A1: buckets are configuration; a bad list is refused at start with the reason."""
    import subprocess
    from fleet import binary
    fleet.clock_set("2026-03-30T10:00:00+08:00")
    fleet.start("ingestion")
    fleet.start("aging", HUIKUAN_AGING_BUCKETS="15,45")
    fleet.drop("b.csv", "invoice_id,debtor_id,currency,amount,due_on\n"
                        "T-1,D1,CNY,1.00,2026-03-20\nT-2,D1,CNY,1.00,2026-03-01\n"
                        "T-3,D1,CNY,1.00,2026-01-01\n")
    wait_until(lambda: fleet.scalar("SELECT count(*) FROM invoice WHERE bucket IS NOT NULL") == 3,
               30, what="aged")
    assert fleet.query("SELECT invoice_id, bucket FROM invoice ORDER BY 1") == \
        [("T-1", "1-15"), ("T-2", "16-45"), ("T-3", "over-45")]
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
