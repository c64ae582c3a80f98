"""Fixtures for the integration tests (tests/harness/fleet.py does the work)."""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "harness"))
import fleet as fleet_mod  # noqa: E402


@pytest.fixture
def fleet_factory(tmp_path):
    """Makes Fleets (each with its own database, Redis and run dir); closes them at the end,
    which asserts that every daemon still running exits 0 on SIGTERM."""
    made = []

    def make(name="fleet", **kw):
        f = fleet_mod.Fleet(tmp_path / name, **kw)
        made.append(f)
        return f

    yield make
    errors = []
    for f in made:
        try:
            f.close()
        except AssertionError as e:
            errors.append(str(e))
    if errors:
        pytest.fail("unclean shutdown:\n" + "\n\n".join(errors), pytrace=False)


@pytest.fixture
def fleet(fleet_factory):
    """One Fleet: tenant zone Asia/Shanghai, system clock until the test sets it."""
    return fleet_factory()


@pytest.fixture(scope="session")
def proto(tmp_path_factory):
    """Python modules generated from proto/*.proto at test time: (envelope_pb2, events_pb2)."""
    return fleet_mod.generate_python_proto(tmp_path_factory.mktemp("proto_py"))
