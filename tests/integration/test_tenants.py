"""Tenants sharing one fleet's servers: each daemon instance works for one tenant (`tenant`),
and the event streams are shared. Each tenant's instances read the streams in a group of their
own (<kind>@<tenant>; plain <kind> for the default tenant), apply their tenant's events and
leave the others' to them, so no event is applied by the wrong tenant's instance or lost to
the right one.

Work queues are per tenant the same way: the scheduler of tenant acme puts its contacts in
hk:notify:<channel>@acme, and only acme's notification instances send them, with acme's
sender and transport."""

import os

from fleet import message_text, wait_until

HEADER = "invoice_id,debtor_id,debtor_name,debtor_email,currency,amount,issued_on,due_on\n"
N = 60


def test_each_tenant_applies_its_own_events(fleet):
    fleet.clock_set("2026-03-12T08:00:00+08:00")
    # acme's run stream as an earlier version left it: read by the group "aging", which the
    # tenant's own group ("aging@acme", the event streams' group) replaces
    fleet.redis("XGROUP", "CREATE", "hk:aging:run:acme", "aging", "0", "MKSTREAM")
    acme = fleet.start("aging", "aging-acme", HUIKUAN_TENANT="acme")
    default = fleet.start("aging", "aging-default")
    fleet.start("ingestion", "ingestion-acme", HUIKUAN_TENANT="acme")
    fleet.drop("acme.csv", HEADER + "".join(
        "T-%03d,D%d,Debtor %d,d%d@example.test,CNY,%d.00,2026-02-01,2026-03-10\n"
        % (i, i % 5, i % 5, i % 5, 10 + i) for i in range(N)))
    wait_until(lambda: fleet.scalar("SELECT count(*) FROM invoice WHERE tenant = 'acme'")
               == N, 30, what="acme's invoices")
    # every invoice.recorded reaches acme's aging, and none is applied by the default tenant's
    wait_until(lambda: acme.metric("hk_events_consumed_total") >= N, 30,
               what="acme's aging applied all %d events:\n%s" % (N, fleet.logs()))
    wait_until(lambda: default.metric("hk_events_other_tenant_total") >= N, 30,
               what="the default tenant's aging left all %d to acme" % N)
    assert default.metric("hk_events_consumed_total") == 0
    assert acme.metric("hk_events_other_tenant_total") == 0
    wait_until(lambda: fleet.scalar("SELECT count(*) FROM invoice WHERE tenant = 'acme'"
                                    " AND aged_as_of IS NOT NULL") == N, 30, what="aged")
    # acme's day was planned and shared over its run stream, read by acme's group alone
    groups = redis_words(fleet, "XINFO", "GROUPS", "hk:aging:run:acme")
    assert "aging@acme" in groups and "aging" not in groups, groups
    fleet.stop_all()


def redis_words(fleet, *args):
    return fleet.redis(*args).split()


def test_each_tenant_sends_its_own_contacts(fleet):
    """Promise 2 for work queues: acme's contacts are sent once each, by acme's notification
    with acme's sender, never by the default tenant's; a contact found in the default tenant's
    queue (as one queued before queues were per tenant would be) is moved to acme's queue,
    neither sent with the wrong sender nor lost."""
    n = 6
    fleet.clock_set("2026-03-01T00:00:00+08:00")
    for kind in ("ingestion", "aging", "scheduling"):
        fleet.start(kind, kind + "-acme", HUIKUAN_TENANT="acme")
    outbox = {t: os.path.join(fleet.run_dir, "outbox-" + t) for t in ("acme", "default")}
    default = fleet.start("notification", "notification-default",
                          HUIKUAN_NOTIFICATION_SENDER="ar@default.example",
                          HUIKUAN_NOTIFICATION_EMAIL_OUTBOX=outbox["default"])
    fleet.drop("acme.csv", HEADER + "".join(
        "A-%d,AD%d,Debtor %d,ap%d@example.test,CNY,%d.00,2026-02-08,2026-03-10\n"
        % (i, i, i, i, 100 + i) for i in range(n)))
    wait_until(lambda: fleet.scalar("SELECT count(*) FROM invoice WHERE tenant = 'acme'")
               == n, 30, what="acme's invoices")
    # two days past due: a written notice planned for each debt, due Friday 09:00 (R-S1, R-S2)
    fleet.clock_set("2026-03-12T08:00:00+08:00")
    wait_until(lambda: fleet.scalar("SELECT count(*) FROM contact WHERE tenant = 'acme'"
                                    " AND status = 'planned'") == n,
               30, what="acme's first contacts planned")
    # the challenger variant may send an SMS first: the e-mails are the ones checked
    n = fleet.scalar("SELECT count(*) FROM contact WHERE tenant = 'acme' AND channel = 'email'")
    assert n >= 2, fleet.query("SELECT debtor_id, channel, variant FROM contact")
    fleet.clock_set("2026-03-13T09:05:00+08:00")
    wait_until(lambda: len(redis_words(fleet, "XRANGE", "hk:notify:email@acme", "-", "+")) >= 3 * n,
               30, what="acme's notices in acme's queue")
    entries = redis_words(fleet, "XRANGE", "hk:notify:email@acme", "-", "+")
    assert redis_words(fleet, "XLEN", "hk:notify:email") == ["0"]
    # one entry moved to the shared queue, as a queue written before this change would hold
    moved_id, moved_contact = entries[0], entries[2]
    redis_words(fleet, "XDEL", "hk:notify:email@acme", moved_id)
    redis_words(fleet, "XADD", "hk:notify:email", "*", "d", moved_contact)
    wait_until(lambda: default.metric("hk_messages_requeued_total") == 1, 20,
               what="the default tenant's notification moved acme's contact")
    # acme's queue as an earlier version left it: read by the group "notification", which
    # acme's own group ("notification@acme") replaces
    fleet.redis("XGROUP", "CREATE", "hk:notify:email@acme", "notification", "0")
    acme = fleet.start("notification", "notification-acme", HUIKUAN_TENANT="acme",
                       HUIKUAN_NOTIFICATION_SENDER="ar@acme.example",
                       HUIKUAN_NOTIFICATION_EMAIL_OUTBOX=outbox["acme"])
    wait_until(lambda: fleet.scalar("SELECT count(*) FROM contact WHERE tenant = 'acme'"
                                    " AND channel = 'email' AND status = 'sent'") == n, 30,
               what="acme's contacts sent")
    assert fleet.scalar("SELECT count(*) FROM delivery d JOIN contact c USING (contact_id)"
                        " WHERE c.tenant = 'acme'") == n
    assert acme.metric("hk_messages_sent_total") == n
    assert default.metric("hk_messages_sent_total") == 0
    assert not os.path.isdir(outbox["default"]) or not os.listdir(outbox["default"])
    files = sorted(os.listdir(outbox["acme"]))
    assert len(files) == n and moved_contact + ".eml" in files, files
    for f in files:
        text = message_text(os.path.join(outbox["acme"], f))
        assert "ar@acme.example" in text and "ar@default.example" not in text, text[:500]
    groups = redis_words(fleet, "XINFO", "GROUPS", "hk:notify:email@acme")
    assert "notification@acme" in groups and "notification" not in groups, groups
    fleet.stop_all()
