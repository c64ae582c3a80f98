"""Scheduling scenarios driven by the fleet clock (DOMAIN sections 4 and 5), each naming the
rules it checks. Real ingestion, aging and scheduling daemons on a private PostgreSQL and
Redis; contacts are read from the contact log and the channel queues (hk:notify:<channel>)
the notification daemon would consume."""

import json
import os
import re
import time
import urllib.parse
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from fleet import wait_until
import servers

SOURCE_DIR = os.environ.get("HK_SOURCE_DIR") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

DEBTORS = """\
debtor_id,name,size_class,time_zone,calendar
{rows}"""

PEOPLE = """\
contact_id,debtor_id,role,name,phone,email
{rows}"""


def us(text):
    return int(datetime.fromisoformat(text).timestamp() * 1_000_000)


def local(at_us, zone):
    return datetime.fromtimestamp(at_us / 1_000_000, ZoneInfo(zone))


UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def queued(fleet, channel):
    """Contact ids in the channel's work queue, in order."""
    out = fleet.redis("XRANGE", "hk:notify:" + channel, "-", "+")
    return [line.strip() for line in out.splitlines() if UUID.match(line.strip())]


def contacts(fleet, debtor=None, status=None):
    """The contact log: dicts in due order."""
    sql = ("SELECT contact_id::text, debtor_id, invoice_id, kind, step, channel, status,"
           " (extract(epoch FROM due_at) * 1000000)::bigint, rules, reason, timing,"
           " coalesce(caller_role, ''), coalesce(person_id, ''), variant"
           " FROM contact WHERE true")
    params = []
    if debtor:
        sql += " AND debtor_id = %s"
        params.append(debtor)
    if status:
        sql += " AND status = %s"
        params.append(status)
    sql += " ORDER BY due_at, contact_id"
    keys = ("id", "debtor", "invoice", "kind", "step", "channel", "status", "due_us", "rules",
            "reason", "timing", "caller", "person", "variant")
    return [dict(zip(keys, row)) for row in fleet.query(sql, params)]


def wait_contacts(fleet, predicate, what, timeout=30):
    found = []

    def check():
        found[:] = [c for c in contacts(fleet) if predicate(c)]
        return bool(found)
    wait_until(check, timeout, what=what)
    return found


def collection(fleet, invoice):
    rows = fleet.query("SELECT state, last_step, phone_count, visit_count, broken_promises,"
                       " pending_contact IS NOT NULL, variant FROM collection"
                       " WHERE invoice_id = %s", (invoice,))
    keys = ("state", "last_step", "phones", "visits", "broken", "pending", "variant")
    return dict(zip(keys, rows[0])) if rows else None


def assert_r_s2(c, zone, start=(9, 0), window=15):
    """R-S2: inside the first minutes after the working day starts, local to the debtor."""
    t = local(c["due_us"], zone)
    assert t.weekday() < 5 or "make-up" in (c["timing"] or ""), (t, c)
    lo = t.replace(hour=start[0], minute=start[1], second=0, microsecond=0)
    assert lo <= t < lo + timedelta(minutes=window), (t, c)


def start(fleet, clock, *kinds, **env):
    fleet.clock_set(clock)
    for k in kinds or ("ingestion", "aging", "scheduling"):
        fleet.start(k, **env)


def feed(fleet, name, text):
    fleet.drop(name, text)
    wait_until(lambda: any(name.split(".")[0] in os.path.basename(p)
                           for p in fleet.files("done") + fleet.files("failed")),
               20, what=name + " taken in")
    assert not [p for p in fleet.files("failed") if name.split(".")[0] in p], name


def one_debtor(fleet, debtor="D1", zone="Asia/Shanghai", size="large", extra_people=""):
    feed(fleet, "debtors-%s.csv" % debtor, DEBTORS.format(
        rows="%s,Debtor %s Co.,%s,%s,CN\n" % (debtor, debtor, size, zone)))
    feed(fleet, "people-%s.csv" % debtor, PEOPLE.format(
        rows="%s-PAY,%s,payment_contact,Pay Clerk,+8613800000001,pay@%s.example\n"
             "%s-OWN,%s,owner,Owner,+8613800000002,boss@%s.example\n%s"
             % (debtor, debtor, debtor, debtor, debtor, debtor, extra_people)))


INVOICE = "invoice_id,debtor_id,currency,amount,issued_on,due_on\n{rows}"


def settle(fleet, seconds=2.0):
    """Lets the daemons run a few ticks at the current clock (for asserting that nothing
    more happens)."""
    time.sleep(seconds)


def at(fleet, when):
    """Moves the fleet clock (the daemons pick it up on their next tick)."""
    fleet.clock_set(when)


def test_cooperative_month(fleet):
    """R-S4 pre-due reminder and the collection date early in the day; R-C1 written notice
    after the due date on the best weekday (R-S1) at the start of the working day (R-S2),
    addressed to the payment contact of a large enterprise (R-C3); a full payment cancels
    what is planned."""
    zone = "Asia/Shanghai"
    start(fleet, "2026-03-02T10:00:00+08:00")
    one_debtor(fleet)
    feed(fleet, "inv.csv", INVOICE.format(rows="INV-1,D1,CNY,5000.00,2026-02-11,2026-03-13\n"))
    wait_until(lambda: collection(fleet, "INV-1") is not None, 20, what="debt tracked")
    assert contacts(fleet) == [], "nothing is due eleven days before the due date"

    # R-S4: three days before the due date (Tuesday 03-10) and early on the date itself.
    at(fleet, "2026-03-10T07:30:00+08:00")
    pre = wait_contacts(fleet, lambda c: c["kind"] in ("ladder", "pre_due"), "pre-due plan")
    wait_until(lambda: len(contacts(fleet)) == 2, 10, what="two pre-due contacts")
    pre = contacts(fleet)
    assert [(c["step"], c["kind"], c["channel"]) for c in pre] == \
        [("pre_due_reminder", "ladder", "email"), ("pre_due_reminder", "pre_due", "email")]
    assert local(pre[0]["due_us"], zone).date().isoformat() == "2026-03-10"
    assert local(pre[1]["due_us"], zone).date().isoformat() == "2026-03-13"
    for c in pre:
        assert_r_s2(c, zone)
        assert c["person"] == "D1-PAY", c    # R-C3: large enterprise -> payment contact
        assert c["caller"] == "collections"
    assert "R-S4" in pre[1]["rules"]

    # 09:05 the reminder goes to the e-mail queue, once.
    at(fleet, "2026-03-10T09:05:00+08:00")
    wait_until(lambda: pre[0]["id"] in queued(fleet, "email"), 20, what="reminder queued")
    at(fleet, "2026-03-13T09:05:00+08:00")
    wait_until(lambda: pre[1]["id"] in queued(fleet, "email"), 20, what="due-day queued")
    assert queued(fleet, "email").count(pre[0]["id"]) == 1

    # Saturday 03-14, one day overdue: the written notice (R-C1) goes to the best-ranked of the
    # next three working days (Mon 16, Tue 17, Wed 18 -> Tuesday, R-S1), at 09:00 (R-S2).
    at(fleet, "2026-03-14T10:00:00+08:00")
    notice = wait_contacts(fleet, lambda c: c["step"] == "written_notice", "written notice")[0]
    t = local(notice["due_us"], zone)
    assert t.date().isoformat() == "2026-03-17" and t.strftime("%a") == "Tue", t
    assert_r_s2(notice, zone)
    assert "R-S1" in notice["timing"] and "R-C1" in notice["rules"], notice
    assert notice["channel"] in ("email", "sms")   # champion e-mail, challenger SMS

    at(fleet, "2026-03-17T09:01:00+08:00")
    wait_until(lambda: notice["id"] in queued(fleet, notice["channel"]), 20,
               what="notice queued")
    wait_until(lambda: collection(fleet, "INV-1")["last_step"] == "written_notice", 10,
               what="ladder state")

    # Five days of silence: the phone step, planned after the wait (R-C1).
    at(fleet, "2026-03-22T12:00:00+08:00")
    phone = wait_contacts(fleet, lambda c: c["step"] == "phone", "phone step")[0]
    assert local(phone["due_us"], zone) >= datetime(2026, 3, 22, 12, tzinfo=ZoneInfo(zone))
    assert_r_s2(phone, zone)

    # Paid in full before the call: the call is cancelled, the debt settled, nothing more.
    feed(fleet, "pay.csv", "payment_id,debtor_id,invoice_id,currency,amount,received_at\n"
                           "P1,D1,INV-1,CNY,5000.00,2026-03-22T12:30:00+08:00\n")
    wait_until(lambda: contacts(fleet, status="planned") == [], 20, what="call cancelled")
    wait_until(lambda: collection(fleet, "INV-1")["state"] == "settled", 10, what="settled")
    at(fleet, "2026-04-30T10:00:00+08:00")
    settle(fleet)
    assert contacts(fleet, status="planned") == []

    # hkctl plan and why explain it all.
    out = fleet.hkctl("plan", "D1").stdout
    assert "INV-1" in out and "settled" in out and "written_notice" in out, out
    why = fleet.hkctl("why", notice["id"]).stdout
    assert "R-C1" in why and "R-S2" in why and "Tue" in why, why
    # unknown or hostile input: a clear error, exit 1, nothing else
    for args, want in ((("plan", "D9'; DROP TABLE contact; --"), "no debtor"),
                       (("why", "not-a-uuid"), "no contact"),
                       (("plan",), "usage")):
        r = fleet.hkctl(*args, check=False)
        assert r.returncode in (1, 2) and want in r.stderr, (args, r.returncode, r.stderr)
    assert fleet.scalar("SELECT count(*) FROM contact") > 0


def overdue_debt(fleet, clock, debtor="D1", invoice="INV-1", amount="5000.00",
                 due="2026-03-02", zone="Asia/Shanghai", size="large", **env):
    """A debtor with one overdue invoice and the scheduler running at clock."""
    start(fleet, clock, **env)
    one_debtor(fleet, debtor, zone=zone, size=size)
    feed(fleet, "inv-%s.csv" % invoice, INVOICE.format(
        rows="%s,%s,CNY,%s,2026-01-31,%s\n" % (invoice, debtor, amount, due)))
    wait_until(lambda: collection(fleet, invoice) is not None, 20, what="debt tracked")


PROMISE = "promise_id,debtor_id,invoice_id,currency,amount,promised_at,recorded_at\n{rows}"
PAYMENT = "payment_id,debtor_id,invoice_id,currency,amount,received_at\n{rows}"


def test_promise_kept(fleet):
    """R-C5: a promise is recorded with amount and time, confirmed in writing, reminded at
    T - 30 min (R-S5), checked at T + grace; kept, the debt is settled and nothing escalates."""
    zone = "Asia/Shanghai"
    overdue_debt(fleet, "2026-03-05T08:00:00+08:00")
    notice = wait_contacts(fleet, lambda c: c["step"] == "written_notice", "notice")[0]
    # Thursday 10:00: the debtor promises to pay everything at 15:00 (承诺3点还款).
    at(fleet, "2026-03-05T10:00:00+08:00")
    feed(fleet, "promise.csv", PROMISE.format(
        rows="PR1,D1,INV-1,CNY,5000.00,2026-03-05T15:00:00+08:00,2026-03-05T10:00:00+08:00\n"))
    conf = wait_contacts(fleet, lambda c: c["kind"] == "confirmation", "confirmation")[0]
    rem = wait_contacts(fleet, lambda c: c["kind"] == "promise_reminder", "reminder")[0]
    assert conf["channel"] == "email" and "R-C5" in conf["rules"]
    assert local(conf["due_us"], zone) >= datetime(2026, 3, 5, 10, tzinfo=ZoneInfo(zone))
    # R-S5: 两点半打电话 -- half past two.
    assert local(rem["due_us"], zone) == datetime(2026, 3, 5, 14, 30, tzinfo=ZoneInfo(zone))
    assert "R-S5" in rem["rules"]
    # the ladder waits for the check: the planned notice is withdrawn
    wait_until(lambda: [c for c in contacts(fleet) if c["id"] == notice["id"]][0]["status"]
               == "cancelled", 10, what="notice withdrawn")

    at(fleet, "2026-03-05T14:31:00+08:00")
    wait_until(lambda: rem["id"] in queued(fleet, "sms"), 20, what="reminder queued")
    feed(fleet, "pay.csv", PAYMENT.format(
        rows="P1,D1,INV-1,CNY,5000.00,2026-03-05T14:50:00+08:00\n"))
    at(fleet, "2026-03-05T17:05:00+08:00")   # T + 2 h grace
    kept = fleet.wait_events("promise.kept", 1)
    assert kept[0]["payload"]["promise_id"] == "PR1"
    assert fleet.scalar("SELECT status FROM promise WHERE promise_id = 'PR1'") == "kept"
    wait_until(lambda: collection(fleet, "INV-1")["state"] == "settled", 10, what="settled")
    assert contacts(fleet, status="planned") == []


def notice_made(fleet, zone="Asia/Shanghai"):
    """An overdue debt whose written notice has just been made: the notice's contact row."""
    overdue_debt(fleet, "2026-03-05T08:00:00+08:00", zone=zone)
    notice = wait_contacts(fleet, lambda c: c["step"] == "written_notice", "notice")[0]
    at(fleet, local(notice["due_us"], zone).isoformat())
    wait_until(lambda: collection(fleet, "INV-1")["last_step"] == "written_notice", 20,
               what="notice made")
    return notice


def test_promise_broken(fleet):
    """R-C5: a broken promise escalates: the next rung at once (no waiting out the notice's
    silence), spoken for by a manager (R-C4)."""
    zone = "Asia/Shanghai"
    notice = notice_made(fleet, zone)
    feed(fleet, "promise.csv", PROMISE.format(
        rows="PR1,D1,INV-1,CNY,5000.00,2026-03-06T15:00:00+08:00,2026-03-06T09:30:00+08:00\n"))
    wait_contacts(fleet, lambda c: c["kind"] == "promise_reminder", "reminder")
    # nothing paid; checked at 17:00 (T + 2 h): broken
    at(fleet, "2026-03-06T17:01:00+08:00")
    broken = fleet.wait_events("promise.broken", 1)
    assert broken[0]["payload"]["promise_id"] == "PR1"
    assert "R-C5" in broken[0]["payload"]["rules"]
    phone = wait_contacts(fleet, lambda c: c["step"] == "phone", "escalation to phone")[0]
    assert collection(fleet, "INV-1")["broken"] == 1
    # the notice's five days of silence are skipped: the call comes on the next good slot
    assert local(phone["due_us"], zone) < local(notice["due_us"], zone) + timedelta(days=5)
    assert phone["caller"] == "manager", phone    # R-C4 after a broken promise


def test_signal_requests_settlement_now(fleet):
    """R-A7: an early-warning signal (the feed reports clearance sales) moves the debtor up and
    asks for settlement now: the phone call the notice's five days of silence held back is
    planned at once, for the next allowed slot."""
    zone = "Asia/Shanghai"
    notice = notice_made(fleet, zone)
    settle(fleet)
    assert not [c for c in contacts(fleet) if c["step"] == "phone"], "the call waits 5 days"
    feed(fleet, "signal.csv", "debtor_id,clearance_sale\nD1,true\n")
    graded = fleet.wait_events("debtor.graded", 1, lambda p, e: p.get("signal_raised"))
    assert graded[0]["payload"]["signals"] == ["clearance_sale"], graded[0]["payload"]
    phone = wait_contacts(fleet, lambda c: c["step"] == "phone" and c["status"] == "planned"
                          and "R-A7" in c["rules"], "the call at once")[0]
    assert local(phone["due_us"], zone) < local(notice["due_us"], zone) + timedelta(days=5)
    assert "settlement requested now" in phone["reason"], phone["reason"]
    assert fleet.scalar("SELECT signal_at IS NOT NULL FROM debtor WHERE debtor_id = 'D1'")
    # the same signal again raises nothing more: the call stays where it is
    feed(fleet, "signal-again.csv", "debtor_id,clearance_sale,name\nD1,true,Debtor D1 Ltd.\n")
    settle(fleet)
    assert [c["id"] for c in contacts(fleet, status="planned") if c["step"] == "phone"] == \
        [phone["id"]]


def test_partial_payment(fleet):
    """R-C6: a part arrives: thank and remind of the remainder with a date, at the next
    allowed slot; the full-amount step gives way."""
    zone = "Asia/Shanghai"
    overdue_debt(fleet, "2026-03-05T08:00:00+08:00")
    notice = wait_contacts(fleet, lambda c: c["step"] == "written_notice", "notice")[0]
    at(fleet, "2026-03-05T12:40:00+08:00")   # lunch: the message waits for 14:00 (R-S2)
    feed(fleet, "pay.csv", PAYMENT.format(
        rows="P1,D1,INV-1,CNY,2000.00,2026-03-05T12:30:00+08:00\n"))
    rem = wait_contacts(fleet, lambda c: c["kind"] == "remainder", "remainder message")[0]
    assert "R-C6" in rem["rules"]
    assert "300000 CNY" in rem["reason"] and "2026-03-12" in rem["reason"], rem["reason"]
    assert local(rem["due_us"], zone) == datetime(2026, 3, 5, 14, 0, tzinfo=ZoneInfo(zone))
    assert [c for c in contacts(fleet) if c["id"] == notice["id"]][0]["status"] == "cancelled"
    assert fleet.scalar("SELECT outstanding_minor FROM invoice WHERE invoice_id = 'INV-1'") \
        == 300000
    # the ladder resumes after the remainder's date if nothing more comes
    at(fleet, "2026-03-12T13:00:00+08:00")
    nxt = wait_contacts(fleet, lambda c: c["kind"] == "ladder" and c["status"] == "planned",
                        "ladder resumed")[0]
    assert nxt["step"] == "written_notice"


def test_dispute_and_resolution(fleet):
    """R-C8: a dispute on the whole invoice pauses collection; resolution resumes it."""
    overdue_debt(fleet, "2026-03-05T08:00:00+08:00")
    notice = wait_contacts(fleet, lambda c: c["step"] == "written_notice", "notice")[0]
    dispute = "dispute_id,debtor_id,invoice_id,opened_on,reason,status,resolved_on\n{rows}"
    feed(fleet, "disp.csv", dispute.format(rows="DS1,D1,INV-1,2026-03-05,goods damaged,open,\n"))
    wait_until(lambda: collection(fleet, "INV-1")["state"] == "paused", 20, what="paused")
    c = [c for c in contacts(fleet) if c["id"] == notice["id"]][0]
    assert c["status"] == "cancelled", c
    cancelled = fleet.wait_events("contact.cancelled", 1,
                                  lambda p, e: p.get("contact_id") == notice["id"])
    assert cancelled[0]["payload"]["rules"] == ["R-C8"], cancelled
    at(fleet, "2026-03-20T10:00:00+08:00")
    # promise 3: a contact planned by anyone else is refused at dispatch while disputed
    cid = inject_call(fleet, "INV-1")
    wait_until(lambda: fleet.scalar("SELECT status FROM contact WHERE contact_id = %s",
                                    (cid,)) == "cancelled", 20, what="call on a disputed debt")
    assert cid not in queued(fleet, "phone")
    settle(fleet)
    assert contacts(fleet, status="planned") == [], "nothing while disputed"
    feed(fleet, "disp2.csv", dispute.format(
        rows="DS1,D1,INV-1,2026-03-05,goods damaged,resolved,2026-03-20\n"))
    wait_until(lambda: collection(fleet, "INV-1")["state"] == "active", 20, what="resumed")
    wait_contacts(fleet, lambda c: c["status"] == "planned" and c["kind"] == "ladder",
                  "collection resumed")


def test_holiday_and_make_up_day(fleet):
    """R-S2 with the shipped PRC calendar (deploy/calendars/CN.cal): no contact during the
    National Day holiday (2026-10-01..07); the make-up Saturday 2026-10-10 is a working day, an
    ordinary Saturday is not."""
    zone = "Asia/Shanghai"
    overdue_debt(fleet, "2026-09-30T10:00:00+08:00", due="2026-09-28")
    notice = wait_contacts(fleet, lambda c: c["step"] == "written_notice", "notice")[0]
    t = local(notice["due_us"], zone)
    # reachable working days: Thu 10-08, Fri 10-09, Sat 10-10 (make-up) -> Friday ranks best
    assert t.date().isoformat() == "2026-10-09", (t, notice["timing"])
    assert_r_s2(notice, zone)
    # during the holiday nothing is dispatched, even when due: the notice moved into it waits
    # for the first working day after it
    fleet.query("UPDATE contact SET due_at = '2026-10-05T01:00:00Z' WHERE contact_id = %s"
                " RETURNING 1", (notice["id"],))
    at(fleet, "2026-10-05T10:00:00+08:00")   # Monday, National Day holiday
    wait_until(lambda: "deferred: R-S2 public holiday" in (fleet.scalar(
        "SELECT timing FROM contact WHERE contact_id = %s", (notice["id"],)) or ""), 20,
        what="notice deferred by the holiday")
    assert notice["id"] not in queued(fleet, notice["channel"])
    due = fleet.scalar("SELECT due_at FROM contact WHERE contact_id = %s", (notice["id"],))
    assert due.astimezone(ZoneInfo(zone)) == datetime(2026, 10, 8, 9, 0, tzinfo=ZoneInfo(zone))
    at(fleet, "2026-10-08T09:01:00+08:00")
    wait_until(lambda: notice["id"] in queued(fleet, notice["channel"]), 20, what="dispatched")

    # a part paid on the make-up Saturday: thanked the same day (a working day)
    at(fleet, "2026-10-10T10:00:00+08:00")
    feed(fleet, "pay1.csv", PAYMENT.format(
        rows="P1,D1,INV-1,CNY,1000.00,2026-10-10T09:30:00+08:00\n"))
    r1 = wait_contacts(fleet, lambda c: c["kind"] == "remainder", "remainder on make-up day")[0]
    assert local(r1["due_us"], zone) == datetime(2026, 10, 10, 10, 0, tzinfo=ZoneInfo(zone))
    # a part paid on an ordinary Saturday: thanked on Monday at the start of the day
    at(fleet, "2026-10-17T10:00:00+08:00")
    feed(fleet, "pay2.csv", PAYMENT.format(
        rows="P2,D1,INV-1,CNY,1000.00,2026-10-17T09:30:00+08:00\n"))
    r2 = wait_contacts(fleet, lambda c: c["kind"] == "remainder" and c["id"] != r1["id"],
                       "remainder after the weekend")[0]
    assert local(r2["due_us"], zone) == datetime(2026, 10, 19, 9, 0, tzinfo=ZoneInfo(zone))


@pytest.mark.parametrize("zone", ["America/Los_Angeles", "Asia/Tokyo"])
def test_time_zones(fleet, zone):
    """R-S2 in the debtor's zone, west of UTC and east of it: planned for the start of the
    debtor's own working day and dispatched when its clock gets there, whatever the tenant's
    (Asia/Shanghai) date is."""
    # Thursday 2026-03-05 23:30 in Shanghai is Thursday 07:30 in Los Angeles and Friday 00:30
    # in Tokyo.
    overdue_debt(fleet, "2026-03-05T23:30:00+08:00", zone=zone, due="2026-03-02")
    notice = wait_contacts(fleet, lambda c: c["step"] == "written_notice", "notice")[0]
    t = local(notice["due_us"], zone)
    assert_r_s2(notice, zone)
    expected = {"America/Los_Angeles": "2026-03-06",   # Thu 07:30 -> Fri (ranked best)
                "Asia/Tokyo": "2026-03-06"}[zone]      # Fri 00:30 -> Fri 09:00 the same day
    assert t.date().isoformat() == expected, (t, notice["timing"])
    # not dispatched a minute before 09:00 local, dispatched after
    fleet.clock_set((t - timedelta(minutes=1)).isoformat())
    settle(fleet)
    assert notice["id"] not in queued(fleet, notice["channel"])
    fleet.clock_set((t + timedelta(minutes=1)).isoformat())
    wait_until(lambda: notice["id"] in queued(fleet, notice["channel"]), 20, what="dispatched")


CALLS_STRATEGY = """{
  "name": "calls", "version": 1, "remind_days_before": 0, "max_phone": 3, "max_visit": 1,
  "wait": {"written_notice": "1d", "phone": "1d", "visit": "2d", "agency": "30d",
           "tracing": "14d"},
  "rules": [{"name": "all", "ladder": ["phone", "visit", "agency"]}]
}
"""


def made(fleet, step, invoice=None):
    sql = "SELECT count(*) FROM contact WHERE step = %s AND dispatched_at IS NOT NULL"
    params = [step]
    if invoice:
        sql += " AND invoice_id = %s"
        params.append(invoice)
    return fleet.scalar(sql, params)


def inject_call(fleet, invoice, due="2026-01-01T00:00:00Z", key=None):
    """A planned phone contact written straight into the log, as a second planner or a
    careless strategy would: the caps must hold whoever planned it."""
    import uuid
    cid = str(uuid.uuid4())
    fleet.query("INSERT INTO contact (contact_id, tenant, debtor_id, invoice_id, channel, step,"
                " due_at, plan_key, kind, reason) VALUES (%s, 'default', 'D1', %s, 'phone',"
                " 'phone', %s, %s, 'ladder', 'injected') RETURNING 1",
                (cid, invoice, due, key or "injected:" + cid))
    return cid


def test_three_call_cap_two_schedulers_redis_restart(fleet, tmp_path):
    """R-C2 事不过三 and ARCHITECTURE promise 3: three calls per debt, then a visit, then
    escalation, with two scheduler instances dispatching and Redis restarted (its counters
    lost) in the middle; the log in PostgreSQL decides, so no fourth call and no more than the
    daily cap, whoever planned the contact."""
    strategy = tmp_path / "calls.json"
    strategy.write_text(CALLS_STRATEGY)
    env = {"HUIKUAN_SCHEDULING_STRATEGY_FILE": str(strategy)}
    overdue_debt(fleet, "2026-03-02T08:00:00+08:00", due="2026-02-20", **env)
    fleet.start("scheduling", instance="scheduling-2", **env)
    feed(fleet, "inv2.csv", INVOICE.format(rows="INV-2,D1,CNY,800.00,2026-01-31,2026-02-20\n"))
    wait_until(lambda: collection(fleet, "INV-2") is not None, 20, what="second debt")

    day = datetime(2026, 3, 2, tzinfo=ZoneInfo("Asia/Shanghai"))
    restarted = False
    for i in range(16):
        d = day + timedelta(days=i)
        for hour in (9, 13, 17):
            at(fleet, d.replace(hour=hour, minute=5).isoformat())
            time.sleep(1.2)
        calls = made(fleet, "phone")
        # per debtor and local day: at most two contacts (max_per_debtor_day)
        per_day = fleet.query(
            "SELECT (dispatched_at AT TIME ZONE 'Asia/Shanghai')::date, count(*) FROM contact"
            " WHERE dispatched_at IS NOT NULL GROUP BY 1 HAVING count(*) > 2")
        assert per_day == [], per_day
        if calls >= 2 and not restarted:
            # the fast counters: one hash per tenant-local day, a field per debtor, following
            # the log once it committed
            made_today = fleet.scalar(
                "SELECT count(*) FROM contact WHERE dispatched_at IS NOT NULL"
                " AND (dispatched_at AT TIME ZONE 'Asia/Shanghai')::date = %s", (d.date(),))
            assert made_today >= 1
            assert fleet.redis("HGET", "hk:cap:default:%s" % d.date(), "D1").strip() \
                == str(made_today)
            # Redis restart in the middle, its counters gone (as after a failover)
            port = urllib.parse.urlsplit(fleet.redis_url).port
            keys = [k for k in fleet.redis("--scan", "--pattern", "hk:cap:*").split()]
            assert "hk:cap:default:%s" % d.date() in keys, keys
            if keys:
                fleet.redis("DEL", *keys)
            servers.stop_redis(fleet.redis_dir)
            servers.start_redis(fleet.redis_dir, port=port)
            restarted = True
    assert restarted
    for inv in ("INV-1", "INV-2"):
        assert made(fleet, "phone", inv) == 3, fleet.query(
            "SELECT invoice_id, step, status, dispatched_at FROM contact ORDER BY due_at")
        assert made(fleet, "visit", inv) == 1
        assert made(fleet, "agency", inv) == 1, fleet.query(
            "SELECT invoice_id, step, status, due_at, dispatched_at, timing FROM contact"
            " ORDER BY due_at")
    # each dispatched contact is in its queue exactly once (two instances, one restart)
    for ch in ("phone", "visit", "agency"):
        ids = queued(fleet, ch)
        assert len(ids) == len(set(ids)), ch
        assert set(ids) == {r[0] for r in fleet.query(
            "SELECT contact_id::text FROM contact WHERE channel = %s"
            " AND dispatched_at IS NOT NULL", (ch,))}, ch
    # min gap: two contacts of the debtor never closer than 4 h
    times = [r[0] for r in fleet.query("SELECT dispatched_at FROM contact"
                                       " WHERE dispatched_at IS NOT NULL AND channel IN"
                                       " ('phone', 'visit') ORDER BY 1")]
    assert all(b - a >= timedelta(hours=4) for a, b in zip(times, times[1:])), times

    # a fourth call planned by someone else is refused by the caps, not by the strategy
    at(fleet, (day + timedelta(days=20)).replace(hour=9, minute=5).isoformat())
    cid = inject_call(fleet, "INV-1")
    wait_until(lambda: fleet.scalar("SELECT status FROM contact WHERE contact_id = %s",
                                    (cid,)) == "cancelled", 20, what="fourth call refused")
    assert "R-C2" in fleet.scalar("SELECT reason FROM contact WHERE contact_id = %s", (cid,))
    assert cid not in queued(fleet, "phone")
    assert made(fleet, "phone", "INV-1") == 3


def test_people_of_many_debtors_in_one_review(fleet):
    """R-C3 across a batch: debts of many debtors reviewed together each address a person of
    their own debtor (the payment contact of a large enterprise, the owner of a small one),
    whatever the order of the debtors' names."""
    names = ["D%02d" % i for i in range(12)] + ["a-%d" % i for i in range(6)] + \
        ["Zeta", "zeta", "B_1", "b.2"]
    start(fleet, "2026-03-05T08:00:00+08:00", "ingestion")
    feed(fleet, "many-debtors.csv", DEBTORS.format(rows="".join(
        "%s,Debtor %s Co.,%s,Asia/Shanghai,CN\n" % (b, b, "large" if i % 2 else "small")
        for i, b in enumerate(names))))
    feed(fleet, "many-people.csv", PEOPLE.format(rows="".join(
        "%s-PAY,%s,payment_contact,Pay Clerk,+8613800000001,pay@%d.example\n"
        "%s-OWN,%s,owner,Owner,+8613800000002,boss@%d.example\n" % (b, b, i, b, b, i)
        for i, b in enumerate(names))))
    feed(fleet, "many-invoices.csv", INVOICE.format(rows="".join(
        "INV-%s,%s,CNY,100.00,2026-01-31,2026-03-02\n" % (b, b) for b in names)))
    for k in ("aging", "scheduling"):
        fleet.start(k, HUIKUAN_SCHEDULING_CHALLENGER="false")
    wait_until(lambda: fleet.scalar("SELECT count(*) FROM contact WHERE step ="
                                    " 'written_notice'") == len(names), 30, what="notices")
    got = dict(fleet.query("SELECT debtor_id, person_id FROM contact"
                           " WHERE step = 'written_notice'"))
    want = {b: b + ("-PAY" if i % 2 else "-OWN") for i, b in enumerate(names)}
    assert got == want, got
    fleet.stop_all()


def test_champion_challenger_split(fleet):
    """Champion/challenger: a fixed share of debtors (20%) runs the challenger (SMS first),
    assigned deterministically, so the split is the same after a restart on another instance;
    results per variant come out of hkctl report strategy."""
    n = 300
    start(fleet, "2026-03-05T08:00:00+08:00")
    rows = "".join("INV-%03d,D%03d,CNY,100.00,2026-01-31,2026-03-02\n" % (i, i) for i in range(n))
    feed(fleet, "many.csv", INVOICE.format(rows=rows))
    wait_until(lambda: fleet.scalar("SELECT count(*) FROM contact WHERE step ="
                                    " 'written_notice'") == n, 60, what="notices planned")
    split = dict(fleet.query("SELECT debtor_id, variant FROM collection"))
    share = sum(split.values()) / n
    assert 0.12 <= share <= 0.28, share
    channels = dict(fleet.query("SELECT debtor_id, channel FROM contact"
                                " WHERE step = 'written_notice'"))
    for debtor, variant in split.items():
        assert channels[debtor] == ("sms" if variant else "email"), (debtor, variant)

    # Another instance, from scratch: the same debtors land in the same variants.
    fleet.daemons["scheduling-1"].stop()
    fleet.query("DELETE FROM collection RETURNING 1")
    fleet.start("scheduling", instance="scheduling-2")
    feed(fleet, "many2.csv", INVOICE.format(rows=rows.replace("100.00", "100.50")))
    wait_until(lambda: fleet.scalar("SELECT count(*) FROM collection") == n, 60,
               what="debts tracked again")
    assert dict(fleet.query("SELECT debtor_id, variant FROM collection")) == split

    # Results per variant: ten champion and ten challenger debtors pay.
    champ = sorted(d for d, v in split.items() if v == 0)[:10]
    chall = sorted(d for d, v in split.items() if v == 1)[:10]
    pays = "".join("P-%s,%s,INV-%s,CNY,100.50,2026-03-09T10:00:00+08:00\n" % (d, d, d[1:])
                   for d in champ + chall)
    feed(fleet, "pays.csv", PAYMENT.format(rows=pays))
    wait_until(lambda: fleet.scalar("SELECT count(*) FROM collection WHERE state ="
                                    " 'settled'") == 20, 30, what="settled")
    report = json.loads(fleet.hkctl("report", "strategy", "--json").stdout)
    by = {r["variant"]: r for r in report}
    assert by["champion"]["debts"] == n - sum(split.values())
    assert by["challenger"]["debts"] == sum(split.values())
    for v in ("champion", "challenger"):
        assert by[v]["settled"] == 10 and by[v]["recovered_minor"] == 10 * 10050, by[v]
        assert float(by[v]["avg_days_to_pay"]) == 7.0   # due 03-02, paid 03-09


def test_incoming_payment_and_cadence(fleet, tmp_path):
    """R-S3: three days before a known incoming payment; R-S6: a regular statement on the
    first Friday of each month, moved to the next working day when that Friday is a holiday
    (2026-10-02, National Day)."""
    zone = "Asia/Shanghai"
    # a ladder of one notice and then a year of patience, so that the debtor hears of little
    # else than these two
    strategy = tmp_path / "patient.json"
    strategy.write_text(json.dumps({
        "name": "patient", "version": 1, "remind_days_before": 0, "max_phone": 3,
        "max_visit": 1, "channels": {"written_notice": "email"},
        "wait": {"written_notice": "365d", "phone": "1d", "visit": "2d", "agency": "30d",
                 "tracing": "14d"},
        "rules": [{"name": "all", "ladder": ["written_notice", "agency"]}]}))
    overdue_debt(fleet, "2026-09-14T10:00:00+08:00", due="2026-09-01",
                 HUIKUAN_SCHEDULING_CADENCE="fri:1",
                 HUIKUAN_SCHEDULING_STRATEGY_FILE=str(strategy))
    statement = wait_contacts(fleet, lambda c: c["kind"] == "cadence", "statement")[0]
    t = local(statement["due_us"], zone)
    assert (t.date().isoformat(), t.hour, t.minute) == ("2026-10-08", 9, 0), statement["timing"]
    assert statement["rules"] == ["R-S6"]
    # known incoming payment on Monday 09-28: three days before is Friday 09-25, the
    # Mid-Autumn Festival holiday, so Thursday 09-24 at 09:00
    feed(fleet, "incoming.csv", "debtor_id,expected_on,note\nD1,2026-09-28,salary run\n")
    inc = wait_contacts(fleet, lambda c: c["kind"] == "incoming", "incoming contact")[0]
    assert local(inc["due_us"], zone) == datetime(2026, 9, 24, 9, 0, tzinfo=ZoneInfo(zone))
    assert inc["rules"] == ["R-S3"] and inc["channel"] == "phone"
    # the days go by: the notice, the call before the incoming payment, the statement
    for day in ("2026-09-17", "2026-09-24"):
        at(fleet, day + "T09:01:00+08:00")
        wait_until(lambda: fleet.scalar("SELECT count(*) FROM contact WHERE status = 'planned'"
                                        " AND due_at < %s", (day + "T10:00:00+08:00",)) == 0,
                   20, what="contacts of " + day)
    assert inc["id"] in queued(fleet, "phone")
    # once the statement went out, the next month's is planned: first Friday of November
    at(fleet, "2026-10-08T09:01:00+08:00")
    wait_until(lambda: statement["id"] in queued(fleet, "email"), 20, what="statement sent")
    nxt = wait_contacts(fleet, lambda c: c["kind"] == "cadence" and c["status"] == "planned",
                        "next statement")[0]
    assert local(nxt["due_us"], zone).date().isoformat() == "2026-11-06"


def test_contact_person_and_stops(fleet):
    """R-C3: a small enterprise is asked through its owner; do-not-contact and bankruptcy stop
    all contact; a debtor gone lost is traced, not called (R-A8); found again, collection
    resumes."""
    overdue_debt(fleet, "2026-03-05T08:00:00+08:00", size="small")
    notice = wait_contacts(fleet, lambda c: c["step"] == "written_notice", "notice")[0]
    assert notice["person"] == "D1-OWN", notice       # R-C3 small enterprise -> owner
    head = "debtor_id,name,do_not_contact,bankrupt,reachability\n"
    # a bad flag is rejected with its line and field; the good row of the file is kept
    feed(fleet, "dnc.csv", head + "D1,Debtor D1 Co.,true,,\nD1,Debtor D1 Co.,perhaps,,\n")
    assert fleet.query("SELECT r.line, r.field FROM intake_reject r JOIN intake_file f"
                       " ON f.id = r.file_id WHERE f.name LIKE %s", ("%dnc.csv",)) \
        == [(3, "do_not_contact")]
    wait_until(lambda: collection(fleet, "INV-1")["state"] == "stopped", 20, what="stopped")
    assert contacts(fleet, status="planned") == []
    assert fleet.scalar("SELECT state_reason FROM collection") == "do not contact"
    # promise 3: a call planned by anyone else is refused at dispatch
    cid = inject_call(fleet, "INV-1")
    wait_until(lambda: fleet.scalar("SELECT status FROM contact WHERE contact_id = %s",
                                    (cid,)) == "cancelled", 20, what="call to a DNC debtor refused")
    assert cid not in queued(fleet, "phone")
    feed(fleet, "dnc2.csv", head + "D1,Debtor D1 Co.,false,,lost\n")
    tracing = wait_contacts(fleet, lambda c: c["step"] == "tracing", "tracing task")[0]
    assert "R-A8" in tracing["rules"] and tracing["channel"] == "tracing", tracing
    at(fleet, "2026-03-05T10:00:00+08:00")
    wait_until(lambda: tracing["id"] in queued(fleet, "tracing"), 20, what="tracing handed over")
    assert not [c for c in contacts(fleet, status="planned") if c["channel"] == "phone"]
    feed(fleet, "found.csv", head + "D1,Debtor D1 Co.,,,reachable\n")
    at(fleet, "2026-03-20T10:00:00+08:00")  # after the tracing wait, the ladder again
    wait_contacts(fleet, lambda c: c["status"] == "planned" and c["step"] != "tracing",
                  "collection resumed")
    feed(fleet, "bankrupt.csv", head + "D1,Debtor D1 Co.,,true,\n")
    wait_until(lambda: collection(fleet, "INV-1")["state"] == "stopped", 20, what="bankrupt")
    assert contacts(fleet, status="planned") == []


def test_debtor_contacts_spaced_when_planned(fleet):
    """R-C2 when planning: three overdue debts of one debtor reviewed together do not get
    their notices at the same minute, for dispatch to defer two of them; they are planned at
    least the 4-hour gap apart, at most two a local day, each at an allowed minute (R-S2), as
    dispatch would have deferred them. A fourth debt reviewed later is planned after the three
    already planned (read from the log, not only from its own batch). Each then goes out at
    its planned minute with no cap deferral, and the caps still hold at dispatch."""
    zone = "Asia/Shanghai"
    start(fleet, "2026-03-02T08:00:00+08:00")
    one_debtor(fleet)
    feed(fleet, "inv3.csv", INVOICE.format(rows="".join(
        "INV-%d,D1,CNY,%d00.00,2026-01-31,2026-02-20\n" % (k, k) for k in (1, 2, 3))))
    wait_contacts(fleet, lambda c: c["step"] == "written_notice", "three notices")
    wait_until(lambda: len([c for c in contacts(fleet)
                            if c["step"] == "written_notice"]) == 3, 20, what="three notices")
    feed(fleet, "inv4.csv", INVOICE.format(rows="INV-4,D1,CNY,400.00,2026-01-31,2026-02-20\n"))
    wait_until(lambda: len([c for c in contacts(fleet)
                            if c["step"] == "written_notice"]) == 4, 20, what="fourth notice")
    notices = [c for c in contacts(fleet) if c["step"] == "written_notice"]
    assert notices[-1]["invoice"] == "INV-4", notices
    times = [local(c["due_us"], zone) for c in notices]
    assert_r_s2(notices[0], zone)
    for a, b in zip(times, times[1:]):
        assert b - a >= timedelta(hours=4), (a, b, notices)
    per_day = {}
    for t, c in zip(times, notices):
        per_day[t.date()] = per_day.get(t.date(), 0) + 1
        assert t.weekday() < 5 and 9 <= t.hour < 18, (t, c)
        assert not (11 * 60 + 30 <= t.hour * 60 + t.minute < 14 * 60), (t, c)   # lunch
    assert max(per_day.values()) <= 2, per_day
    for c in notices[1:]:
        assert "after the debtor's other contacts: R-C2" in c["timing"], c
    why = fleet.hkctl("why", notices[1]["id"]).stdout
    assert "wanted: 2026-" in why and "(R-C2)" in why, why
    assert "wanted:" not in fleet.hkctl("why", notices[0]["id"]).stdout

    # each goes out at its minute, none deferred by the caps
    for c, t in zip(notices, times):
        at(fleet, (t + timedelta(minutes=1)).isoformat())
        wait_until(lambda c=c: c["id"] in queued(fleet, "email"), 20,
                   what="%s dispatched" % c["invoice"])
    assert fleet.query("SELECT invoice_id, cap_deferrals FROM contact"
                       " WHERE step = 'written_notice' AND cap_deferrals > 0") == []
    assert sorted(queued(fleet, "email")) == sorted(c["id"] for c in notices)


def test_contact_moved_back_when_the_one_before_is_cancelled(fleet):
    """R-C2 when planning, undone: a notice the caps moved four hours on to make way for the
    same debtor's other notice takes its minute back when that notice is cancelled (its debt
    paid), and goes out then; the timing says why."""
    zone = "Asia/Shanghai"
    start(fleet, "2026-03-02T08:00:00+08:00")
    one_debtor(fleet)
    feed(fleet, "inv2.csv", INVOICE.format(rows="INV-1,D1,CNY,100.00,2026-01-31,2026-02-20\n"
                                                "INV-2,D1,CNY,200.00,2026-01-31,2026-02-20\n"))
    wait_until(lambda: len([c for c in contacts(fleet)
                            if c["step"] == "written_notice"]) == 2, 20, what="two notices")
    first, second = [c for c in contacts(fleet) if c["step"] == "written_notice"]
    assert second["due_us"] - first["due_us"] >= 4 * 3600 * 1_000_000, (first, second)
    assert fleet.scalar("SELECT wanted_at FROM contact WHERE contact_id = %s",
                        (second["id"],)).timestamp() * 1_000_000 == first["due_us"]
    # the first one's debt is paid in full: its notice cancelled, the second takes its minute
    feed(fleet, "pay.csv", PAYMENT.format(rows="P1,D1,%s,CNY,%s,2026-03-02T09:00:00+08:00\n"
                                          % (first["invoice"],
                                             "100.00" if first["invoice"] == "INV-1"
                                             else "200.00")))
    wait_until(lambda: [c["status"] for c in contacts(fleet) if c["id"] == first["id"]]
               == ["cancelled"], 20, what="first notice cancelled")
    wait_until(lambda: [c["due_us"] for c in contacts(fleet) if c["id"] == second["id"]]
               == [first["due_us"]], 20, what="second notice moved back")
    moved = [c for c in contacts(fleet) if c["id"] == second["id"]][0]
    assert "moved back" in moved["timing"] and "R-C2" in moved["timing"], moved
    at(fleet, (local(first["due_us"], zone) + timedelta(minutes=1)).isoformat())
    wait_until(lambda: second["id"] in queued(fleet, "email"), 20, what="sent at that minute")


def test_dispatch_burst_across_batches_two_schedulers(fleet):
    """Promise 3 and R-C2 through a burst larger than a batch: two scheduler instances take
    due contacts two at a time, batch after batch within a tick (dispatch_batch, dispatch_slice),
    and still each contact is queued once, each debtor gets one contact (the 4-hour gap), the
    others wait with the rule named, and every one made has its contact.dispatched event."""
    env = {"HUIKUAN_SCHEDULING_DISPATCH_BATCH": "2"}
    start(fleet, "2026-03-03T10:00:00+08:00", "ingestion")
    debtors = ["B%d" % i for i in range(1, 8)]
    feed(fleet, "burst-debtors.csv", DEBTORS.format(
        rows="".join("%s,Debtor %s Co.,large,Asia/Shanghai,CN\n" % (b, b) for b in debtors)))
    import uuid
    planned = {}
    for b in debtors:
        for k in range(3):   # three debts each, all due at 09:00 local
            cid = str(uuid.uuid4())
            fleet.query("INSERT INTO contact (contact_id, tenant, debtor_id, invoice_id, channel,"
                        " step, due_at, plan_key, kind, reason) VALUES (%s, 'default', %s, %s,"
                        " 'email', 'written_notice', '2026-03-03T01:00:00Z', %s, 'ladder',"
                        " 'burst') RETURNING 1",
                        (cid, b, "%s-INV-%d" % (b, k), "burst:" + cid))
            planned[cid] = b
    fleet.start("scheduling", **env)
    fleet.start("scheduling", instance="scheduling-2", **env)
    wait_until(lambda: fleet.scalar("SELECT count(*) FROM contact WHERE status = 'planned'"
                                    " AND due_at <= '2026-03-03T02:00:00Z'") == 0, 30,
               what="burst handled")
    made = dict(fleet.query("SELECT contact_id::text, debtor_id FROM contact"
                            " WHERE status = 'dispatched'"))
    assert sorted(made.values()) == debtors, made          # one per debtor
    q = queued(fleet, "email")
    assert sorted(q) == sorted(made), (q, made)            # queued once each, nothing else
    waiting = contacts(fleet, status="planned")
    assert len(waiting) == 2 * len(debtors), waiting
    for c in waiting:
        assert "R-C2" in c["timing"] and c["due_us"] >= us("2026-03-03T14:00:00+08:00"), c
    settle(fleet)
    assert fleet.outbox_count("contact.dispatched") == len(made)


def test_dispatch_leaves_a_debtor_another_batch_holds(fleet):
    """Promise 3: the caps of a debtor are decided by one batch at a time, under the debtor's
    transaction lock. While another session holds that lock (as another scheduler's batch
    would), dispatch leaves the debtor's due contact planned and goes on with the others; once
    the lock is released, the contact goes out. A dispatch that decided without the lock
    would send it while the lock is held."""
    import psycopg2
    import uuid
    start(fleet, "2026-03-03T08:00:00+08:00", "ingestion")
    feed(fleet, "held-debtors.csv", DEBTORS.format(
        rows="H1,Debtor H1 Co.,large,Asia/Shanghai,CN\nH2,Debtor H2 Co.,large,Asia/Shanghai,CN\n"))
    ids = {}
    for b in ("H1", "H2"):
        ids[b] = str(uuid.uuid4())
        fleet.query("INSERT INTO contact (contact_id, tenant, debtor_id, invoice_id, channel,"
                    " step, due_at, plan_key, kind, reason) VALUES (%s, 'default', %s, %s,"
                    " 'email', 'written_notice', '2026-03-03T01:00:00Z', %s, 'ladder',"
                    " 'held') RETURNING 1", (ids[b], b, b + "-INV", "held:" + b))
    holder = psycopg2.connect(fleet.database_url)
    try:
        cur = holder.cursor()   # psycopg2 opens the transaction the lock lives in
        cur.execute("SELECT pg_advisory_xact_lock (hashtextextended ('default/H1', 0))")
        fleet.start("scheduling")
        at(fleet, "2026-03-03T09:05:00+08:00")
        wait_until(lambda: ids["H2"] in queued(fleet, "email"), 20, what="H2 dispatched")
        settle(fleet)
        assert fleet.scalar("SELECT status FROM contact WHERE contact_id = %s",
                            (ids["H1"],)) == "planned"
        assert ids["H1"] not in queued(fleet, "email")
        holder.commit()
    finally:
        holder.close()
    wait_until(lambda: ids["H1"] in queued(fleet, "email"), 20, what="H1 dispatched")
    assert fleet.scalar("SELECT cap_deferrals FROM contact WHERE contact_id = %s",
                        (ids["H1"],)) == 0


def test_dispatch_shares_and_a_killed_scheduler(fleet):
    """Scheduler instances of a tenant share the due contacts by debtor (a share each, from
    the directory of live instances), so that in a burst each walks its own; the locks, not
    the shares, keep each contact once (promise 3). When one instance is killed, its share
    goes out at once all the same: the directory still lists it for up to 15 s, and the other
    takes any due contact once its own share is done."""
    env = {"HUIKUAN_SCHEDULING_DISPATCH_BATCH": "4"}
    start(fleet, "2026-03-03T08:00:00+08:00", "ingestion")
    debtors = ["S%02d" % i for i in range(40)]
    feed(fleet, "share-debtors.csv", DEBTORS.format(
        rows="".join("%s,Debtor %s Co.,large,Asia/Shanghai,CN\n" % (b, b) for b in debtors)))
    import uuid

    def plan(group):
        for b in group:
            cid = str(uuid.uuid4())
            fleet.query("INSERT INTO contact (contact_id, tenant, debtor_id, invoice_id, channel,"
                        " step, due_at, plan_key, kind, reason) VALUES (%s, 'default', %s, %s,"
                        " 'email', 'written_notice', '2026-03-03T01:00:00Z', %s, 'ladder',"
                        " 'share') RETURNING 1", (cid, b, b + "-INV", "share:" + cid))

    one = fleet.start("scheduling", **env)
    two = fleet.start("scheduling", instance="scheduling-2", **env)
    for daemon, place in ((one, 0), (two, 1)):
        wait_until(lambda d=daemon, k=place: "dispatch.share instances=2 place=%d" % k
                   in d.log(lines=None), 20, what=daemon.instance + " sees its share")
    plan(debtors[:20])
    at(fleet, "2026-03-03T09:05:00+08:00")
    wait_until(lambda: fleet.scalar("SELECT count(*) FROM contact WHERE status = 'dispatched'")
               == 20, 20, what="the first burst dispatched")

    two.kill9()
    plan(debtors[20:])
    t0 = time.monotonic()
    wait_until(lambda: fleet.scalar("SELECT count(*) FROM contact WHERE status = 'dispatched'")
               == 40, 6, what="the killed instance's share dispatched by the other")
    assert time.monotonic() - t0 < 6
    # still listed as live while that happened: the share alone would have left half waiting
    assert fleet.scalar("SELECT count(*) FROM fleet_instance WHERE instance = 'scheduling-2'"
                        " AND heartbeat_at > now () - interval '15 seconds'") == 1
    q = queued(fleet, "email")
    assert len(q) == len(set(q)) == 40, q
    assert fleet.query("SELECT debtor_id FROM contact WHERE status <> 'dispatched'") == []
    two.start()
    fleet.stop_all()


OUTCOME = "outcome_id,task_id,outcome,occurred_at,note\n{rows}"


def test_contact_outcomes(fleet):
    """R-C1: a step is taken only after the previous one's outcome, or its silence. What came of
    a dispatched contact is fed back: mail that came back means the step did not work, so the
    next rung comes at once instead of after the notice's wait, and that address is no longer
    used (R-C3); hostile hands the debt to a manager (R-C4), also in what is already planned.
    An outcome for a task never dispatched, or with a malformed id, is rejected with its line
    and field; the same outcome delivered twice changes nothing."""
    zone = "Asia/Shanghai"
    notice = notice_made(fleet, zone)
    made_at = local(notice["due_us"], zone)
    at(fleet, (made_at + timedelta(hours=5)).isoformat())  # min_gap has passed
    settle(fleet)
    assert not [c for c in contacts(fleet) if c["step"] == "phone"], \
        "silence: the call waits for the end of the notice's wait"

    # the notice's mail came back: the step did not work, the call comes at once (R-C1)
    feed(fleet, "out1.csv", OUTCOME.format(rows="O1,%s,returned,%s,\n"
                                           % (notice["id"], (made_at + timedelta(hours=2))
                                              .isoformat())))
    phone = wait_contacts(fleet, lambda c: c["step"] == "phone" and c["status"] == "planned",
                          "call planned at once")[0]
    # on the best of the next working days (R-S1), before the notice's five days would end
    assert local(phone["due_us"], zone) < made_at + timedelta(days=5), phone
    assert "did not work" in phone["reason"] and "R-C1" in phone["rules"], phone
    assert phone["caller"] == "collections", phone

    # hostile: a manager speaks, in the call already planned too (R-C4)
    feed(fleet, "out2.csv", OUTCOME.format(rows="O2,%s,hostile,%s,shouted\n"
                                           % (notice["id"], (made_at + timedelta(hours=3))
                                              .isoformat())))
    wait_until(lambda: [c for c in contacts(fleet) if c["id"] == phone["id"]][0]["caller"]
               == "manager", 20, what="planned call handed to a manager")
    assert "R-C4" in [c for c in contacts(fleet) if c["id"] == phone["id"]][0]["rules"]
    assert fleet.scalar("SELECT hostile FROM collection WHERE invoice_id = 'INV-1'") is True
    event = fleet.wait_events("contact_outcome.recorded", 2)
    assert sorted(e["payload"]["outcome"] for e in event) == ["hostile", "returned"]
    assert {e["payload"]["person_id"] for e in event} == {notice["person"]}
    # R-C3: that person's address no longer counts for written contact
    usable = fleet.scalar(
        "SELECT p.email IS NOT NULL AND NOT EXISTS (SELECT 1 FROM contact_outcome o"
        " WHERE o.person_id = p.contact_id AND o.outcome = 'returned'"
        " AND o.created_at > p.updated_at) FROM contact_person p WHERE contact_id = %s",
        (notice["person"],))
    assert usable is False
    why = fleet.hkctl("why", notice["id"]).stdout
    assert "outcome:" in why and "returned" in why and "hostile (shouted)" in why, why

    # bad rows are rejected with their field; a re-delivery emits nothing new
    feed(fleet, "out3.csv", OUTCOME.format(
        rows="O3,00000000-0000-4000-8000-000000000000,reached,2026-03-06T10:00:00+08:00,\n"
             "O4,not-a-uuid,reached,2026-03-06T10:00:00+08:00,\n"
             "O5,%s,shrugged,2026-03-06T10:00:00+08:00,\n" % notice["id"]))
    assert fleet.query("SELECT r.line, r.field FROM intake_reject r JOIN intake_file f"
                       " ON f.id = r.file_id WHERE f.name LIKE %s ORDER BY 1", ("%out3.csv",)) \
        == [(2, "task_id"), (3, "task_id"), (4, "outcome")]
    before = fleet.outbox_count("contact_outcome.")
    feed(fleet, "out2-again.csv", OUTCOME.format(rows="O2,%s,hostile,%s,shouted\n"
                                                 % (notice["id"], (made_at + timedelta(hours=3))
                                                    .isoformat())))
    assert fleet.outbox_count("contact_outcome.") == before == 2


def test_calendar_coverage_ends(fleet):
    """R-S1/R-S2 need the debtor's public holidays. CN.cal lists them in full through 2026 and
    2027's statutory days only, until the State Council's notice for 2027 is added. Planning
    in 2027 warns in the log that the year is not covered, a contact there says in its timing
    that the calendar may be incomplete, and it still avoids the statutory Spring Festival days
    (除夕 to 初三, 2027-02-05..08; the best-ranked day would be Friday the 5th)."""
    zone = "Asia/Shanghai"
    start(fleet, "2027-02-02T10:00:00+08:00")
    one_debtor(fleet)
    feed(fleet, "inv.csv", INVOICE.format(rows="INV-1,D1,CNY,5000.00,2027-01-10,2027-01-25\n"))
    notice = wait_contacts(fleet, lambda c: c["step"] == "written_notice", "notice")[0]
    day = local(notice["due_us"], zone).date()
    assert day.year == 2027, notice
    assert not (date(2027, 2, 5) <= day <= date(2027, 2, 8)), notice
    assert "does not cover 2027" in notice["timing"], notice
    log = fleet.daemons["scheduling-1"].log(400)
    assert "calendar.not_covered" in log and "calendar=CN" in log, log
