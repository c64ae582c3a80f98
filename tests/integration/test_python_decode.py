"""Promise 6 from outside C: a Python program with only the .proto files (compiled by protoc at
test time) and pyzmq subscribes to the daemons' PUB sockets and decodes every frame."""

import collections
import time

import zmq

INVOICES = """\
invoice_id,debtor_id,debtor_name,debtor_email,currency,amount,issued_on,due_on
PY-1,D1,One,one@example.test,CNY,1000.00,2026-02-01,2026-03-01
PY-2,D1,One,one@example.test,CNY,0.01,2026-02-01,2026-03-02
PY-3,D2,Two,two@example.test,USD,12.50,2026-02-01,2026-03-03
PY-4,D2,Two,two@example.test,JPY,1500,2026-02-01,2026-03-04
PY-5,D3,Three,three@example.test,CNY,99999.99,2026-02-01,2026-03-05
"""
EXPECTED = {
    "PY-1": (100000, "CNY", "2026-03-01"),
    "PY-2": (1, "CNY", "2026-03-02"),
    "PY-3": (1250, "USD", "2026-03-03"),
    "PY-4": (1500, "JPY", "2026-03-04"),
    "PY-5": (9999999, "CNY", "2026-03-05"),
}


def payload_class(events_pb2, payload_type):
    """"huikuan.v1.InvoiceRecorded" (or a type URL ending so) -> the generated class."""
    return getattr(events_pb2, payload_type.rsplit("/", 1)[-1].rsplit(".", 1)[-1])


def test_decode_stream_with_generated_python(fleet, proto):
    envelope_pb2, events_pb2 = proto
    fleet.clock_set("2026-03-20T10:00:00+08:00")      # every invoice past due: aging speaks too
    fleet.start("ingestion")
    fleet.start("aging")

    endpoints = [line.strip() for line in fleet.hkctl("bus", "endpoints").stdout.splitlines()
                 if line.strip()]
    assert len(endpoints) >= 2, endpoints
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    try:
        for ep in endpoints:
            sub.connect(ep)
        time.sleep(1.0)                                 # let the subscriptions reach the PUBs

        fleet.drop("py.csv", INVOICES)
        recorded, aged = {}, {}
        seqs = collections.defaultdict(list)
        deadline = time.monotonic() + 30
        while (len(recorded) < 5 or len(aged) < 5) and time.monotonic() < deadline:
            if not sub.poll(500):
                continue
            frames = sub.recv_multipart()
            assert len(frames) == 2, frames
            env = envelope_pb2.Envelope.FromString(frames[1])
            assert frames[0].decode() == env.type
            assert env.version == 1 and len(env.event_id) == 36
            seqs[env.producer].append(env.sequence)
            msg = payload_class(events_pb2, env.payload_type).FromString(env.payload)
            if env.type == "invoice.recorded":
                assert type(msg).__name__ == "InvoiceRecorded"
                recorded[msg.invoice_id] = msg
            elif env.type == "invoice.aged":
                assert type(msg).__name__ == "InvoiceAged"
                aged[msg.invoice_id] = msg
    finally:
        sub.close()
        ctx.term()

    assert sorted(recorded) == sorted(EXPECTED), (sorted(recorded), fleet.logs())
    for invoice_id, (minor, currency, due_on) in EXPECTED.items():
        m = recorded[invoice_id]
        assert (m.amount.minor, m.amount.currency, m.due_on) == (minor, currency, due_on)
        assert m.outstanding.minor == minor
    assert sorted(aged) == sorted(EXPECTED)
    assert all(m.as_of == "2026-03-20" and m.dpd > 0 for m in aged.values())
    assert len(seqs) >= 2, dict(seqs)
    for producer, s in seqs.items():
        assert s == list(range(s[0], s[0] + len(s))), "%s: sequence jumps: %s" % (producer, s)

    fleet.stop_all()
