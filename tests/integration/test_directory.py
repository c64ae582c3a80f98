"""The instance directory (fleet_instance) across hosts (promise 8): an instance bound to a
wildcard address announces an endpoint others can reach (advertise_host, default the host's
name) instead of the wildcard, and a subscriber connecting to what was announced receives the
instance's events."""

import time

import zmq

HEADER = "invoice_id,debtor_id,debtor_name,debtor_email,currency,amount,issued_on,due_on\n"


def test_wildcard_bind_announces_a_reachable_endpoint(fleet):
    ingestion = fleet.start("ingestion", HUIKUAN_BUS_BIND="tcp://*:*",
                            HUIKUAN_ADVERTISE_HOST="127.0.0.1")
    aging = fleet.start("aging", HUIKUAN_BUS_BIND="tcp://0.0.0.0:*")
    endpoints = dict(fleet.query("SELECT instance, bus_endpoint FROM fleet_instance"))
    announced = endpoints[ingestion.instance]
    assert announced.startswith("tcp://127.0.0.1:"), endpoints
    assert int(announced.rsplit(":", 1)[1]) > 0
    # no advertise_host: the host's name, never the wildcard
    host = fleet.scalar("SELECT host FROM fleet_instance WHERE instance = %s",
                        (aging.instance,))
    assert endpoints[aging.instance].startswith("tcp://%s:" % host), endpoints

    # a subscriber that knows only the announced endpoint receives the events
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    try:
        sub.setsockopt(zmq.SUBSCRIBE, b"invoice.recorded")
        sub.setsockopt(zmq.LINGER, 0)
        sub.connect(announced)
        time.sleep(0.5)  # the subscription reaches the publisher
        fleet.drop("a.csv", HEADER + "DIR-1,D1,Acme,ap@acme.example,CNY,10.00,2026-02-01,"
                   "2026-03-10\n")
        assert sub.poll(20000), "nothing arrived on " + announced
        topic, envelope = sub.recv_multipart()
        assert topic == b"invoice.recorded" and b"DIR-1" in envelope
    finally:
        sub.close()
        ctx.term()
    fleet.stop_all()
