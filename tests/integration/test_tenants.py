"""Tenants sharing one fleet's servers: each daemon instance works for one tenant (`tenant`),
and the event streams are shared. Each tenant's instances read the streams in a group of their
own (<kind>@<tenant>; plain <kind> for the default tenant), apply their tenant's events and
leave the others' to them, so no event is applied by the wrong tenant's instance or lost to
the right one."""

import re
import urllib.request

from fleet import wait_until

HEADER = "invoice_id,debtor_id,debtor_name,debtor_email,currency,amount,issued_on,due_on\n"
N = 60


def metric(daemon, name):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % daemon.http_port,
                                timeout=5) as r:
        text = r.read().decode()
    total = 0
    for line in text.splitlines():
        m = re.match(r"^%s(\{[^}]*\})? (\S+)$" % re.escape(name), line)
        if m:
            total += float(m.group(2))
    return total


def test_each_tenant_applies_its_own_events(fleet):
    fleet.clock_set("2026-03-12T08:00:00+08:00")
    acme = fleet.start("aging", "aging-acme", HUIKUAN_TENANT="acme")
    default = fleet.start("aging", "aging-default")
    fleet.start("ingestion", "ingestion-acme", HUIKUAN_TENANT="acme")
    fleet.drop("acme.csv", HEADER + "".join(
        "T-%03d,D%d,Debtor %d,d%d@example.test,CNY,%d.00,2026-02-01,2026-03-10\n"
        % (i, i % 5, i % 5, i % 5, 10 + i) for i in range(N)))
    wait_until(lambda: fleet.scalar("SELECT count(*) FROM invoice WHERE tenant = 'acme'")
               == N, 30, what="acme's invoices")
    # every invoice.recorded reaches acme's aging, and none is applied by the default tenant's
    wait_until(lambda: metric(acme, "hk_events_consumed_total") >= N, 30,
               what="acme's aging applied all %d events:\n%s" % (N, fleet.logs()))
    wait_until(lambda: metric(default, "hk_events_other_tenant_total") >= N, 30,
               what="the default tenant's aging left all %d to acme" % N)
    assert metric(default, "hk_events_consumed_total") == 0
    assert metric(acme, "hk_events_other_tenant_total") == 0
    wait_until(lambda: fleet.scalar("SELECT count(*) FROM invoice WHERE tenant = 'acme'"
                                    " AND aged_as_of IS NOT NULL") == N, 30, what="aged")
    fleet.stop_all()
