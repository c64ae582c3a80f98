"""Retention in a running fleet (common/src/retention.c, docs/architecture.md "Retention"):
with a short housekeeping interval, event stream entries every consumer group acknowledged
leave Redis, entries a stopped consumer has not read stay, published outbox events past their
age leave PostgreSQL, and an instance that died without its clean stop leaves fleet_instance.
unit.retention covers unpublished events, the row limit and the turn; unit.queue the trim
rules one by one."""


from fleet import wait_until

HEADER = "invoice_id,debtor_id,debtor_name,debtor_email,currency,amount,issued_on,due_on\n"


def invoices(prefix, n):
    return HEADER + "".join("%s-%04d,D%d,Debtor %d,d%d@example.test,CNY,%d.00,2026-02-01,2026-03-10\n"
                            % (prefix, i, i % 7, i % 7, i % 7, 10 + i) for i in range(n))


def xlen(fleet, stream):
    return int(fleet.redis("XLEN", stream))


HOUSEKEEPING = {"HUIKUAN_HOUSEKEEPING_INTERVAL": "1s", "HUIKUAN_STREAM_RETENTION": "0s",
                "HUIKUAN_INSTANCE_EXPIRY": "15s"}


def test_housekeeping_trims_what_every_consumer_has(fleet):
    fleet.clock_set("2026-03-12T08:00:00+08:00")
    # an instance killed long ago, without its clean stop
    fleet.query("INSERT INTO fleet_instance (instance, kind, host, pid, heartbeat_at)"
                " VALUES ('aging-ghost', 'aging', 'gone.example', 1, now() - interval '1 hour')"
                " RETURNING 1")
    ingestion = fleet.start("ingestion", **HOUSEKEEPING)
    aging = fleet.start("aging", **HOUSEKEEPING)
    fleet.drop("a.csv", invoices("A", 40))
    wait_until(lambda: fleet.scalar("SELECT count(*) FROM invoice WHERE aged_as_of IS NOT NULL")
               == 40, 30, what="40 invoices aged")
    # aging's group acknowledged every invoice.recorded: the stream empties
    wait_until(lambda: xlen(fleet, "hk:ev:invoice.recorded") == 0, 20,
               what="invoice.recorded trimmed:\n" + "\n".join(fleet.logs().splitlines()[-20:]))
    # the same housekeeping run removes the dead instance after the streams: wait for it too
    wait_until(lambda: fleet.scalar("SELECT count(*) FROM fleet_instance"
                                    " WHERE instance = 'aging-ghost'") == 0, 10,
               what="the dead instance removed")
    live = {r[0] for r in fleet.query("SELECT instance FROM fleet_instance")}
    assert live == {ingestion.instance, aging.instance}

    # aging stopped: what it has not read stays, however long housekeeping runs
    aging.stop()
    fleet.drop("b.csv", invoices("B", 25))
    wait_until(lambda: fleet.scalar("SELECT count(*) FROM invoice") == 65, 30, what="65 invoices")
    wait_until(lambda: xlen(fleet, "hk:ev:invoice.recorded") == 25, 20,
               what="the 25 new entries on the stream")
    before = fleet.scalar("SELECT count(*) FROM event_outbox")
    # published outbox events past the retention go; the ingestion's are all published
    fleet.query("UPDATE outbox_row SET created_at = now() - interval '8 days'"
                " WHERE type = 'invoice.recorded'"
                " AND (aggregate_id = 'D0' OR 'D0' = ANY (aggregate_ids)) RETURNING 1")
    old = fleet.scalar("SELECT count(*) FROM event_outbox WHERE created_at < now() - interval"
                       " '7 days'")
    assert old > 0
    wait_until(lambda: fleet.scalar("SELECT count(*) FROM event_outbox") == before - old, 20,
               what="old published events removed")
    assert xlen(fleet, "hk:ev:invoice.recorded") == 25
    assert "housekeeping.done" in fleet.logs(400)

    aging.start()
    wait_until(lambda: xlen(fleet, "hk:ev:invoice.recorded") == 0, 30,
               what="trimmed once aging read and acknowledged the rest")
    fleet.stop_all()
