#!/usr/bin/python3
"""servers: private PostgreSQL and Redis servers on loopback for tests (STYLE 4).

    servers.py start DIR   initialise and start both servers under DIR, write DIR/env
    servers.py stop DIR    stop both servers and remove DIR

DIR/env holds KEY=VALUE lines (ADMIN_URL, PG_PORT, PG_BIN, PG_DIR, REDIS_URL, REDIS_PORT,
REDIS_DIR) read by the C self-tests (hk_testenv) and by the Python integration harness.

The functions are meant to be imported by other harness code:

    from servers import start_postgres, start_redis, stop_postgres, stop_redis, free_port

Standard library only. PostgreSQL refuses to run as root: when running as root, initdb and
pg_ctl run as the 'postgres' system user through runuser, and DIR/pg is owned by it.
"""

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time

PG_SYSTEM_USER = "postgres"
START_TIMEOUT = 60.0


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pg_bindir():
    """Directory holding initdb/pg_ctl/postgres: pg_config --bindir, else the newest
    /usr/lib/postgresql/*/bin."""
    candidates = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True,
                                 check=True, timeout=10).stdout.strip()
            candidates.append(out)
        except (subprocess.SubprocessError, OSError):
            pass

    def version_key(path):
        try:
            return int(path.split("/")[-2])
        except ValueError:
            return 0

    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version_key, reverse=True)
    for c in candidates:
        if os.path.isfile(os.path.join(c, "initdb")) and os.path.isfile(os.path.join(c, "pg_ctl")):
            return c
    raise RuntimeError("PostgreSQL server binaries (initdb, pg_ctl) not found")


def _as_root():
    return os.geteuid() == 0


def _pg_cmd(argv):
    """argv run as the PostgreSQL system user when we are root."""
    if _as_root():
        return ["runuser", "-u", PG_SYSTEM_USER, "--"] + argv
    return argv


def _make_traversable(path):
    """When root, make sure the postgres user can reach path (o+x on each parent)."""
    if not _as_root():
        return
    path = os.path.abspath(path)
    parts = []
    while True:
        parts.append(path)
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    for p in parts:
        try:
            st = os.stat(p)
            if not st.st_mode & 0o001:
                os.chmod(p, st.st_mode | 0o001)
        except OSError:
            pass


def _run(argv, timeout=120, **kw):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)
    if r.returncode != 0:
        raise RuntimeError("%s failed (%d): %s%s" % (" ".join(argv), r.returncode,
                                                     r.stdout, r.stderr))
    return r


def _tcp_answers(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return True
    except OSError:
        return False


def _pg_ready(bindir, port):
    exe = os.path.join(bindir, "pg_isready")
    if os.path.isfile(exe):
        r = subprocess.run([exe, "-q", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres",
                            "-d", "postgres"], capture_output=True, timeout=10)
        return r.returncode == 0
    return _tcp_answers(port)


def shared_buffers_mb():
    """The private server's shared_buffers, as deploy/huikuan sets it: a quarter of the
    machine's memory, at least 128 MB (PostgreSQL's default) and at most 1 GB. The default
    alone holds a tenth of a million invoices with their indexes: aging's daily run then
    reads and writes back every page it touches through the kernel (shared_buffers only
    takes memory as pages are used)."""
    try:
        with open("/proc/meminfo") as f:
            kib = next(int(line.split()[1]) for line in f if line.startswith("MemTotal:"))
    except (OSError, StopIteration, ValueError):
        return 128
    return max(128, min(1024, kib // 4 // 1024))


def start_postgres(dir, port=None):
    """Initialises a cluster under DIR/pg and starts it on 127.0.0.1. Returns a dict with
    ADMIN_URL, PG_PORT, PG_BIN, PG_DIR."""
    bindir = pg_bindir()
    os.makedirs(dir, exist_ok=True)
    _make_traversable(dir)
    data = os.path.join(os.path.abspath(dir), "pg")
    os.makedirs(data, exist_ok=True)
    os.chmod(data, 0o700)
    if _as_root():
        pw = pwd.getpwnam(PG_SYSTEM_USER)
        os.chown(data, pw.pw_uid, pw.pw_gid)
    if not os.path.isfile(os.path.join(data, "PG_VERSION")):
        _run(_pg_cmd([os.path.join(bindir, "initdb"), "-D", data, "-U", "postgres",
                      "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"]))
    last_error = None
    for _ in range(5):
        p = port or free_port()
        # HK_PG_EXTRA: more server options, for profiling a bench or a test (e.g.
        # " -c shared_preload_libraries=pg_stat_statements"; tests/bench/README.md)
        opts = ("-c listen_addresses=127.0.0.1 -c port=%d -c unix_socket_directories=%s "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                "-c max_connections=200 -c shared_buffers=%dMB"
                % (p, data, shared_buffers_mb())) + os.environ.get("HK_PG_EXTRA", "")
        try:
            _run(_pg_cmd([os.path.join(bindir, "pg_ctl"), "-D", data, "-l",
                          os.path.join(data, "server.log"), "-o", opts, "-w", "-t",
                          str(int(START_TIMEOUT)), "start"]), timeout=START_TIMEOUT + 10)
        except RuntimeError as e:
            last_error = e          # most likely the port was taken meanwhile: try another
            if port:
                break
            continue
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if _pg_ready(bindir, p):
                return {
                    "ADMIN_URL": "postgresql://postgres@127.0.0.1:%d/postgres" % p,
                    "PG_PORT": str(p),
                    "PG_BIN": bindir,
                    "PG_DIR": data,
                }
            time.sleep(0.1)
        last_error = RuntimeError("postgresql did not answer on port %d" % p)
        stop_postgres(dir)
        if port:
            break
    raise RuntimeError("cannot start postgresql: %s" % last_error)


def stop_postgres(dir, mode="fast"):
    """Stops the cluster under DIR/pg if it runs. Returns True when it was stopped or absent."""
    data = os.path.join(os.path.abspath(dir), "pg")
    if not os.path.isfile(os.path.join(data, "postmaster.pid")):
        return True
    bindir = pg_bindir()
    r = subprocess.run(_pg_cmd([os.path.join(bindir, "pg_ctl"), "-D", data, "-m", mode, "-w",
                                "-t", "30", "stop"]), capture_output=True, text=True,
                       timeout=60)
    if r.returncode == 0:
        return True
    # Last resort: the postmaster pid from its pid file.
    try:
        with open(os.path.join(data, "postmaster.pid")) as f:
            pid = int(f.readline().strip())
        os.kill(pid, signal.SIGQUIT)
        return True
    except (OSError, ValueError):
        return False


def start_redis(dir, port=None):
    """Starts redis-server daemonised on 127.0.0.1 with its files under DIR/redis. Returns a
    dict with REDIS_URL, REDIS_PORT, REDIS_DIR."""
    exe = shutil.which("redis-server") or "/usr/bin/redis-server"
    rdir = os.path.join(os.path.abspath(dir), "redis")
    os.makedirs(rdir, exist_ok=True)
    last_error = None
    for _ in range(5):
        p = port or free_port()
        pidfile = os.path.join(rdir, "redis.pid")
        try:
            _run([exe, "--port", str(p), "--bind", "127.0.0.1", "--dir", rdir,
                  "--appendonly", "yes", "--save", "", "--daemonize", "yes",
                  "--pidfile", pidfile, "--logfile", os.path.join(rdir, "redis.log")])
        except RuntimeError as e:
            last_error = e
            if port:
                break
            continue
        started = time.monotonic()
        while time.monotonic() < started + START_TIMEOUT:
            if _redis_ping(p):
                with open(os.path.join(rdir, "port"), "w") as f:
                    f.write("%d\n" % p)
                return {
                    "REDIS_URL": "redis://127.0.0.1:%d" % p,
                    "REDIS_PORT": str(p),
                    "REDIS_DIR": rdir,
                }
            if time.monotonic() > started + 2 and not _pid_alive(_read_pid(pidfile)):
                break           # it exited (port taken?): try another port
            time.sleep(0.1)
        last_error = RuntimeError("redis did not answer on port %d" % p)
        stop_redis(dir)
        if port:
            break
    raise RuntimeError("cannot start redis: %s" % last_error)


def _redis_ping(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _read_pid(path):
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def _pid_alive(pid):
    if not pid:
        return False
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def stop_redis(dir, timeout=30.0):
    """Stops the redis-server of DIR/redis (SIGTERM, then SIGKILL) if it runs."""
    pidfile = os.path.join(os.path.abspath(dir), "redis", "redis.pid")
    pid = _read_pid(pidfile)
    if not _pid_alive(pid):
        return True
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _pid_alive(pid):
            return True
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return True


def read_env(dir):
    """The KEY=VALUE pairs of DIR/env as a dict."""
    env = {}
    with open(os.path.join(dir, "env")) as f:
        for line in f:
            line = line.rstrip("\n")
            if "=" in line:
                k, v = line.split("=", 1)
                env[k] = v
    return env


def start(dir):
    """Starts both servers under DIR (stopping leftovers of a previous run first) and writes
    DIR/env. Returns the env dict."""
    dir = os.path.abspath(dir)
    if os.path.exists(dir):
        stop(dir)
    os.makedirs(dir)
    env = {}
    try:
        env.update(start_postgres(dir))
        env.update(start_redis(dir))
    except Exception:
        stop(dir)
        raise
    tmp = os.path.join(dir, "env.tmp")
    with open(tmp, "w") as f:
        for k in ("ADMIN_URL", "PG_PORT", "PG_BIN", "PG_DIR", "REDIS_URL", "REDIS_PORT",
                  "REDIS_DIR"):
            f.write("%s=%s\n" % (k, env[k]))
    os.chmod(tmp, 0o644)
    os.rename(tmp, os.path.join(dir, "env"))
    return env


def stop(dir):
    """Stops both servers of DIR and removes DIR."""
    dir = os.path.abspath(dir)
    if not os.path.exists(dir):
        return
    stop_redis(dir)
    stop_postgres(dir)
    shutil.rmtree(dir, ignore_errors=True)


def main(argv):
    if len(argv) != 3 or argv[1] not in ("start", "stop"):
        sys.stderr.write("usage: servers.py start|stop DIR\n")
        return 2
    try:
        if argv[1] == "start":
            env = start(argv[2])
            print("postgresql %s, redis %s" % (env["ADMIN_URL"], env["REDIS_URL"]))
        else:
            stop(argv[2])
    except Exception as e:  # noqa: BLE001 - report any failure as one line
        sys.stderr.write("servers.py %s: %s\n" % (argv[1], e))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
