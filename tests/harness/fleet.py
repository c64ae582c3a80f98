"""fleet: run huikuan daemons against real PostgreSQL, Redis and ZeroMQ in integration tests.

    fleet = Fleet(tmp_dir, time_zone="Asia/Shanghai", clock="2026-03-01T00:00:00+08:00")
    fleet.start_all()                         # or fleet.start("aging", "aging-2")
    fleet.drop("invoices.csv", text)          # atomically into run/inbox
    fleet.wait_events("invoice.recorded", 2)
    fleet.close()                             # SIGTERM every daemon, assert exit code 0

Each Fleet has its own database (t_<random>) on the shared PostgreSQL of the ctest run
($HK_TESTENV, written by servers.py; when absent, one is started for this process), its own
redis-server, and its own run dir. Binaries come from $HK_BUILD_DIR (default ./build).
Exit code 0 after SIGTERM is the clean-shutdown check; under ASan a leak makes it non-zero.
Standard library plus Debian's python3-psycopg2.
"""

import atexit
import email
import email.policy
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

import psycopg2

HARNESS_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HARNESS_DIR)
import servers  # noqa: E402  (tests/harness/servers.py)

SOURCE_DIR = os.environ.get("HK_SOURCE_DIR") or os.path.dirname(os.path.dirname(HARNESS_DIR))
BUILD_DIR = os.path.abspath(os.environ.get("HK_BUILD_DIR") or os.path.join(SOURCE_DIR, "build"))
KINDS = ("ingestion", "aging", "scheduling", "notification", "legal")
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 20.0

_servers_env = None


def servers_env():
    """ADMIN_URL etc. of the shared servers: $HK_TESTENV's file, else servers started here
    (and stopped when this process exits)."""
    global _servers_env
    if _servers_env is None:
        path = os.environ.get("HK_TESTENV")
        if path and os.path.isfile(path):
            _servers_env = servers.read_env(os.path.dirname(path))
        else:
            d = tempfile.mkdtemp(prefix="hk-servers-")
            _servers_env = servers.start(d)
            atexit.register(servers.stop, d)
    return _servers_env


def binary(name):
    path = os.path.join(BUILD_DIR, "services", name)
    if not os.access(path, os.X_OK):
        raise RuntimeError("%s not built (HK_BUILD_DIR=%s)" % (path, BUILD_DIR))
    return path


def wait_until(predicate, timeout=20.0, interval=0.1, what="condition"):
    """Calls predicate until it returns something truthy; returns that. Raises
    AssertionError naming what after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(interval)


def tail_file(path, lines=60):
    """The last lines of a file (all of it when lines is None)."""
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:] if lines else f.readlines())
    except OSError:
        return "(no log at %s)" % path


def message_text(path):
    """A sent message's text: the raw file plus every decoded text part when it is MIME."""
    with open(path, "rb") as f:
        raw = f.read()
    parts = [raw.decode("utf-8", "replace")]
    try:
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        for part in msg.walk():
            if part.get_content_maintype() == "text":
                parts.append(part.get_content())
    except Exception:  # noqa: BLE001 - not MIME: the raw text is all there is
        pass
    return "\n".join(parts)


class Daemon:
    """One daemon process: kind ("aging") and instance name ("aging-1")."""

    def __init__(self, fleet, kind, instance, extra_env, args=()):
        self.fleet = fleet
        self.args = list(args)
        self.kind = kind
        self.instance = instance
        self.extra_env = dict(extra_env)
        self.log_path = os.path.join(fleet.run_dir, "log", instance + ".log")
        self.proc = None
        self.http_port = None

    def env(self):
        up = self.kind.upper()
        env = self.fleet.env()
        env["HUIKUAN_%s_INSTANCE" % up] = self.instance
        env["HUIKUAN_%s_HTTP_LISTEN" % up] = "127.0.0.1:%d" % self.http_port
        env.update(self.extra_env)
        return env

    def start(self, wait=True):
        assert not self.running(), "%s already running" % self.instance
        self.http_port = servers.free_port()
        log = open(self.log_path, "ab")
        log.write(b"---- harness: start %s\n" % self.instance.encode())
        log.flush()
        self.proc = subprocess.Popen([binary("huikuan-" + self.kind)] + self.args, env=self.env(),
                                     cwd=self.fleet.run_dir, stdin=subprocess.DEVNULL,
                                     stdout=log, stderr=subprocess.STDOUT)
        log.close()
        if wait:
            self.wait_ready()
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def readyz(self):
        """HTTP status of GET /readyz, or None when nothing answers."""
        url = "http://127.0.0.1:%d/readyz" % self.http_port
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code
        except OSError:
            return None

    def metric(self, name):
        """The value of a metric on /metrics, summed over its label sets; 0 when absent."""
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.http_port,
                                    timeout=5) as r:
            text = r.read().decode()
        total = 0
        for line in text.splitlines():
            m = re.match(r"^%s(\{[^}]*\})? (\S+)$" % re.escape(name), line)
            if m:
                total += float(m.group(2))
        return total

    def wait_ready(self, timeout=READY_TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("%s exited with %d before it was ready:\n%s"
                                     % (self.instance, self.proc.returncode, self.log()))
            if self.readyz() == 200:
                return
            time.sleep(0.1)
        raise AssertionError("%s not ready after %.0f s (GET /readyz on port %d):\n%s"
                             % (self.instance, timeout, self.http_port, self.log()))

    def stop(self, check=True, timeout=STOP_TIMEOUT):
        """SIGTERM and wait. With check, asserts exit code 0 (clean shutdown, no leaks)."""
        if self.proc is None or self.proc.poll() is not None:
            rc = None if self.proc is None else self.proc.returncode
        else:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("%s ignored SIGTERM for %.0f s:\n%s"
                                     % (self.instance, timeout, self.log()))
        if check and rc != 0:
            raise AssertionError("%s exit code %s after SIGTERM (want 0):\n%s"
                                 % (self.instance, rc, self.log()))
        return rc

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def restart(self, wait=True):
        if self.running():
            self.stop()
        return self.start(wait)

    def log(self, lines=60):
        return tail_file(self.log_path, lines)


class Fleet:
    """A private database, Redis and run dir, and the daemons started on them."""

    def __init__(self, tmp_dir, time_zone="Asia/Shanghai", clock=None, extra_env=None,
                 admin_url=None):
        self.tmp_dir = os.path.abspath(str(tmp_dir))
        self.time_zone = time_zone
        self.extra_env = dict(extra_env or {})
        self.daemons = {}
        self.run_dir = os.path.join(self.tmp_dir, "run")
        self.scratch = os.path.join(self.tmp_dir, "scratch")
        for d in ("inbox", "log"):
            os.makedirs(os.path.join(self.run_dir, d), exist_ok=True)
        os.makedirs(self.scratch, exist_ok=True)
        self._conn = None

        admin = admin_url or servers_env()["ADMIN_URL"]
        self.dbname = "t_" + secrets.token_hex(6)
        self._admin(admin, "CREATE DATABASE %s" % self.dbname)
        u = urllib.parse.urlsplit(admin)
        self.database_url = urllib.parse.urlunsplit(u._replace(path="/" + self.dbname))
        self._admin_url = admin

        self.redis_dir = os.path.join(self.tmp_dir, "redis-server")
        self.redis_url = servers.start_redis(self.redis_dir)["REDIS_URL"]

        self.hkctl("migrate")
        if clock:
            self.clock_set(clock)

    @staticmethod
    def _admin(url, sql):
        conn = psycopg2.connect(url)
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(sql)
        finally:
            conn.close()

    # ---- environment and processes

    def env(self):
        """The environment every daemon and hkctl gets (no HUIKUAN_* leaks in from outside)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("HUIKUAN_")}
        env.update({
            "HUIKUAN_DATABASE_URL": self.database_url,
            "HUIKUAN_REDIS_URL": self.redis_url,
            "HUIKUAN_RUN_DIR": self.run_dir,
            "HUIKUAN_TENANT_TIME_ZONE": self.time_zone,
        })
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        env.update(self.extra_env)
        return env

    def start(self, kind, instance=None, wait=True, args=(), **extra_env):
        """Starts a daemon of kind (instance name defaults to "<kind>-1"), waits for
        /readyz == 200. args: command-line arguments; extra_env: more environment variables."""
        assert kind in KINDS, kind
        instance = instance or kind + "-1"
        d = self.daemons.get(instance)
        if d is None:
            d = self.daemons[instance] = Daemon(self, kind, instance, extra_env, args)
        d.start(wait)
        return d

    def start_all(self):
        for kind in KINDS:
            self.start(kind, wait=False)
        for d in self.daemons.values():
            d.wait_ready()

    def stop_all(self):
        """Stops every running daemon; asserts each exited 0 (all are stopped first)."""
        failures = []
        for d in reversed(list(self.daemons.values())):
            try:
                d.stop()
            except AssertionError as e:
                failures.append(str(e))
        if failures:
            raise AssertionError("\n\n".join(failures))

    def close(self):
        """stop_all, then drop the Redis and the database. Raises what stop_all raised."""
        try:
            self.stop_all()
        finally:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            servers.stop_redis(self.redis_dir)
            try:
                self._admin(self._admin_url, "DROP DATABASE IF EXISTS %s WITH (FORCE)"
                            % self.dbname)
            except psycopg2.Error:
                pass

    def hkctl(self, *args, check=True, timeout=60):
        """Runs hkctl with the fleet's environment; returns the CompletedProcess (text)."""
        r = subprocess.run([binary("hkctl")] + [str(a) for a in args], env=self.env(),
                           capture_output=True, text=True, timeout=timeout,
                           stdin=subprocess.DEVNULL)
        if check and r.returncode != 0:
            raise AssertionError("hkctl %s exited %d:\n%s%s"
                                 % (" ".join(map(str, args)), r.returncode, r.stdout, r.stderr))
        return r

    def clock_set(self, when):
        """when: RFC 3339 with offset, e.g. "2026-03-12T08:00:00+08:00"."""
        self.hkctl("clock", "set", when)

    def logs(self, lines=60):
        """Every daemon's log (its last lines; all of it when lines is None)."""
        return "\n".join("== %s ==\n%s" % (n, d.log(lines)) for n, d in self.daemons.items())

    # ---- files

    def drop(self, name, content):
        """Puts a feed into run/inbox atomically (written aside, then renamed in). content:
        str or bytes. Returns the inbox path."""
        tmp = os.path.join(self.scratch, name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(content.encode() if isinstance(content, str) else content)
            f.flush()
            os.fsync(f.fileno())
        path = os.path.join(self.run_dir, "inbox", name)
        os.rename(tmp, path)
        return path

    def files(self, sub):
        """Regular files under run/<sub> (recursively), sorted."""
        root = os.path.join(self.run_dir, sub)
        out = []
        for d, _, names in os.walk(root):
            out += [os.path.join(d, n) for n in names]
        return sorted(out)

    # ---- PostgreSQL

    def db(self):
        if self._conn is None or self._conn.closed:
            self._conn = psycopg2.connect(self.database_url)
            self._conn.autocommit = True
        return self._conn

    def close_db(self):
        """Closes the harness's own connection (before the server goes away)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def query(self, sql, params=None):
        with self.db().cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()

    def scalar(self, sql, params=None):
        rows = self.query(sql, params)
        return rows[0][0] if rows else None

    def redis(self, *args):
        """Runs one redis-cli command against the fleet's Redis; its output (text)."""
        r = subprocess.run(["redis-cli", "-u", self.redis_url] + [str(a) for a in args],
                           capture_output=True, text=True, timeout=10)
        assert r.returncode == 0, "redis-cli %s: %s" % (args[:1], r.stderr)
        return r.stdout

    def outbox_count(self, type_prefix=""):
        return self.scalar("SELECT count(*) FROM event_outbox WHERE type LIKE %s",
                           (type_prefix + "%",))

    # ---- events

    def events(self, type_prefix="", count=None, timeout=15):
        """Events as dicts from `hkctl events tail --from-start --json`. count defaults to the
        number of matching rows in the outbox now."""
        if count is None:
            count = self.outbox_count(type_prefix)
        if count == 0:
            return []
        args = ["events", "tail", "--from-start", "--json", "--count", count,
                "--timeout", timeout]
        if type_prefix:
            args += ["--type", type_prefix]
        r = self.hkctl(*args, check=False, timeout=timeout + 30)
        return [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]

    def wait_events(self, type_prefix, n, match=None, timeout=30):
        """Waits until at least n events of the type prefix satisfy match(payload, event);
        returns those events."""
        def found():
            evs = [e for e in self.events(type_prefix)
                   if match is None or match(e.get("payload", {}), e)]
            return evs if len(evs) >= n else None
        try:
            return wait_until(found, timeout, 0.3, "%d %s event(s)" % (n, type_prefix))
        except AssertionError as e:
            raise AssertionError("%s\n%s" % (e, self.logs())) from None


def check_sequences(events):
    """Asserts each producer's sequence numbers are exactly 1..n and event ids are unique."""
    by_producer = {}
    for e in events:
        by_producer.setdefault(e["producer"], []).append(int(e["sequence"]))
    for producer, seqs in by_producer.items():
        assert sorted(seqs) == list(range(1, len(seqs) + 1)), \
            "%s: sequences not 1..%d without gaps: %s" % (producer, len(seqs), sorted(seqs)[:50])
    ids = [e["event_id"] for e in events]
    assert len(ids) == len(set(ids)), "duplicate event ids"
    return by_producer


def generate_python_proto(out_dir):
    """Runs protoc --python_out on proto/huikuan/v1/*.proto; returns (envelope_pb2,
    events_pb2)."""
    import glob
    import importlib
    proto_dir = os.path.join(SOURCE_DIR, "proto")
    protos = sorted(glob.glob(os.path.join(proto_dir, "huikuan", "v1", "*.proto")))
    protoc = shutil.which("protoc") or "/usr/bin/protoc"
    subprocess.run([protoc, "--python_out=" + str(out_dir), "-I", proto_dir] + protos,
                   check=True, timeout=60)
    if str(out_dir) not in sys.path:
        sys.path.insert(0, str(out_dir))
    return (importlib.import_module("huikuan.v1.envelope_pb2"),
            importlib.import_module("huikuan.v1.events_pb2"))
