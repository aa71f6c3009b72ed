"""Black-box system-test harness for appointd.

Drives the real binary over HTTP on 127.0.0.1. Python 3.11 standard library only.

Pieces:
  * stores      -- `fresh_store(workdir)`: a context manager yielding a fresh database URL
                   (sqlite file per test class by default; APPOINTD_TEST_DB=postgresql://...
                   creates and drops a database per test class with `psql`).
  * Server      -- one `appointd serve` subprocess on a free port: start, wait for /healthz,
                   kill(sig), stop, restart on the same database, CLI helpers (keys, audit).
  * Client      -- thread-safe HTTP client: one keep-alive http.client connection per thread
                   per server, reconnecting when a reused connection turns out to be dead.
  * Company     -- fixtures: company (platform key), branch, service, staff, customer, booking.
  * ServerTestCase -- unittest base class: its own server and database per test class in a temp
                   dir, cleaned up even when setUpClass fails; problem+json assertions.
  * helpers     -- instants, phone formats, interval overlap, concurrency runner, raw sockets.

Environment:
  APPOINTD_BIN       path of the binary (default ../../build/appointd relative to this dir)
  APPOINTD_TEST_DB   "sqlite" (default), "postgresql" (the server of APPOINTD_PG_URL; the test is
                     skipped without one) or a postgresql:// URL of a server we may CREATE DATABASE on
  APPOINTD_PG_URL    a PostgreSQL server for the "postgresql" variants (./test.sh starts one)
  APPOINTD_TEST_KEEP set to 1 to keep the temp dirs (server logs, databases) for inspection
"""
from __future__ import annotations

import atexit
import concurrent.futures
import contextlib
import ctypes
import datetime as dt
import http.client
import itertools
import json
import os
import re
import select
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.parse
from typing import Any, Callable, Iterator, NamedTuple

HOST = "127.0.0.1"
TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
STARTUP_TIMEOUT = 10.0
CLI_TIMEOUT = 60.0


def appointd_bin() -> str:
    return os.path.abspath(
        os.environ.get("APPOINTD_BIN") or os.path.join(TESTS_DIR, "..", "..", "build", "appointd"))


def require_binary() -> str:
    path = appointd_bin()
    if not os.access(path, os.X_OK):
        raise unittest.SkipTest(f"appointd binary not found at {path} (set APPOINTD_BIN)")
    return path


def keep_tmp() -> bool:
    return os.environ.get("APPOINTD_TEST_KEEP", "") not in ("", "0")


# --------------------------------------------------------------------------------------------
# Stores: a function that yields a fresh database URL per test class.
# --------------------------------------------------------------------------------------------

_db_counter = itertools.count(1)


@contextlib.contextmanager
def sqlite_store(workdir: str) -> Iterator[str]:
    """A fresh SQLite file in workdir (removed with the workdir)."""
    yield "sqlite:" + os.path.join(workdir, f"appointd-{next(_db_counter)}.db")


@contextlib.contextmanager
def postgres_store(base_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database on the server of base_url, dropped afterwards (needs psql)."""
    psql = shutil.which("psql")
    if not psql:
        raise unittest.SkipTest("APPOINTD_TEST_DB is PostgreSQL but psql is not installed")
    name = f"appointd_test_{os.getpid()}_{next(_db_counter)}_{int(time.time())}"
    parts = urllib.parse.urlsplit(base_url)
    # urlunsplit would drop the "//" of a URL without host part (postgresql:///db?host=/dir).
    db_url = f"{parts.scheme}://{parts.netloc}/{name}" + (f"?{parts.query}" if parts.query else "")

    def admin(sql: str) -> None:
        subprocess.run([psql, base_url, "-v", "ON_ERROR_STOP=1", "-qc", sql],
                       check=True, capture_output=True, timeout=CLI_TIMEOUT)

    # name is generated here (digits and underscores), never input, so quoting is safe.
    admin(f'CREATE DATABASE "{name}"')
    try:
        yield db_url
    finally:
        with contextlib.suppress(Exception):
            admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


PG_SKIP_REASON = "no APPOINTD_PG_URL: PostgreSQL variant skipped (./test.sh provides one)"


def test_backend() -> str:
    """"sqlite" or "postgresql": the store the tests of this process run against."""
    kind = os.environ.get("APPOINTD_TEST_DB", "sqlite")
    return "sqlite" if kind == "sqlite" else "postgresql"


def postgres_base_url() -> str:
    """The PostgreSQL server to create test databases on: APPOINTD_TEST_DB when it is a URL,
    else APPOINTD_PG_URL (set by ./test.sh); skips the test when there is none."""
    kind = os.environ.get("APPOINTD_TEST_DB", "")
    if kind.startswith(("postgresql://", "postgres://")):
        return kind
    url = os.environ.get("APPOINTD_PG_URL", "")
    if not url:
        raise unittest.SkipTest(PG_SKIP_REASON)
    return url


def fresh_store(workdir: str) -> contextlib.AbstractContextManager[str]:
    """Chooses the store from APPOINTD_TEST_DB: "sqlite" (default); "postgresql" (a fresh
    database on the server of APPOINTD_PG_URL, skipped without one); or a postgresql:// URL.
    The context yields a fresh db URL."""
    kind = os.environ.get("APPOINTD_TEST_DB", "sqlite")
    if kind == "sqlite":
        return sqlite_store(workdir)
    if kind == "postgresql" or kind.startswith(("postgresql://", "postgres://")):
        return postgres_store(postgres_base_url())
    raise ValueError(f"unsupported APPOINTD_TEST_DB={kind!r}")


def sqlite_path(db_url: str) -> str | None:
    """The file of a sqlite: URL, or None for other stores."""
    return db_url[len("sqlite:"):] if db_url.startswith("sqlite:") else None


def sqlite_table_counts(db_url: str) -> dict[str, int] | None:
    """Row count of every table (read-only), or None when the store is not SQLite.

    Used as a cheap "nothing was written" check next to the API-level snapshots."""
    path = sqlite_path(db_url)
    if path is None or not os.path.exists(path):
        return None
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        tables = [r[0] for r in con.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")]
        return {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}
    finally:
        con.close()


# --------------------------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------------------------

_live_processes: set[subprocess.Popen] = set()
_live_lock = threading.Lock()


def _kill_leftovers() -> None:
    with _live_lock:
        procs = list(_live_processes)
    for p in procs:
        if p.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                p.kill()
            with contextlib.suppress(Exception):
                p.wait(5)


atexit.register(_kill_leftovers)

try:
    _libc = ctypes.CDLL(None, use_errno=True)
except OSError:  # pragma: no cover - non-glibc platform
    _libc = None


def _die_with_parent() -> None:
    # PR_SET_PDEATHSIG: the server gets SIGKILL if the test process dies (even by SIGKILL),
    # so no orphan keeps a port or a database busy. Linux only; best effort elsewhere.
    if _libc is not None:
        _libc.prctl(1, signal.SIGKILL, 0, 0, 0)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class CliResult(NamedTuple):
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run_cli(*args: str, timeout: float = CLI_TIMEOUT) -> CliResult:
    """Runs `appointd ARGS...` to completion and returns its exit code and output."""
    p = subprocess.run([require_binary(), *args], capture_output=True, text=True,
                       timeout=timeout, stdin=subprocess.DEVNULL)
    return CliResult(p.returncode, p.stdout, p.stderr)


class Server:
    """One `appointd serve` process on 127.0.0.1 over one database URL."""

    def __init__(self, db_url: str, workdir: str, *, threads: int = 4, durability: str = "full",
                 extra_args: tuple[str, ...] = ()):
        self.db_url = db_url
        self.workdir = workdir
        self.threads = threads
        self.durability = durability
        self.extra_args = tuple(extra_args)
        self.port: int | None = None
        self.proc: subprocess.Popen | None = None
        self.log_path = os.path.join(workdir, "server.log")
        # Bumped on every (re)start so that threads drop connections to an old process.
        self.generation = 0
        self.tls = threading.local()  # per-thread keep-alive connections (see Client)

    # -- CLI ------------------------------------------------------------------------------
    def cli(self, *args: str, timeout: float = CLI_TIMEOUT) -> CliResult:
        return run_cli(*args, "--db", self.db_url, timeout=timeout)

    def migrate(self) -> None:
        r = self.cli("migrate")
        if r.returncode != 0:
            raise RuntimeError(f"appointd migrate failed ({r.returncode}):\n{r.output}")

    def create_platform_key(self) -> str:
        r = self.cli("keys", "create", "--platform")
        key = r.stdout.strip()
        if r.returncode != 0 or not key or len(key.split()) != 1:
            raise RuntimeError(f"keys create --platform failed ({r.returncode}): {r.output!r}")
        return key

    def audit(self) -> CliResult:
        return self.cli("audit")

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, port: int | None = None) -> None:
        """Starts serve and waits until GET /healthz is 200. Without a port a free one is
        picked (retried, since another process may grab it between probe and bind); with a
        port (restart) that port is tried first, then a free one."""
        assert not self.running, "server already running"
        attempts = [port] if port else []
        attempts += [None, None, None]
        last_error: Exception | None = None
        for p in attempts:
            try:
                self._spawn(p or free_port())
                self.wait_ready()
                return
            except RuntimeError as e:  # exited early (e.g. port taken) or never became healthy
                last_error = e
                self._reap()
        raise RuntimeError(f"appointd serve did not start: {last_error}")

    def _spawn(self, port: int) -> None:
        self.port = port
        self.generation += 1
        cmd = [require_binary(), "serve", "--db", self.db_url, "--listen", f"{HOST}:{port}",
               "--threads", str(self.threads), "--durability", self.durability, *self.extra_args]
        with open(self.log_path, "ab") as log:
            log.write(f"\n=== {time.strftime('%H:%M:%S')} {' '.join(cmd)}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        with _live_lock:
            _live_processes.add(self.proc)

    def wait_ready(self, timeout: float = STARTUP_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                code = None if self.proc is None else self.proc.returncode
                raise RuntimeError(f"serve exited with {code}; log:\n{self.log_tail()}")
            try:
                conn = http.client.HTTPConnection(HOST, self.port, timeout=1)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    conn.close()
                    return
                conn.close()
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"/healthz not 200 within {timeout}s; log:\n{self.log_tail()}")

    def kill(self, sig: int = signal.SIGKILL, timeout: float = 10) -> int:
        """Sends sig to the server and waits for it to exit; returns the exit status."""
        assert self.proc is not None
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait(timeout)
        self._reap()
        return code

    def stop(self) -> None:
        """Graceful stop (SIGTERM), SIGKILL after 10 s. Safe to call when not running."""
        conn = getattr(self.tls, "conn", None)
        if conn is not None:  # the calling thread's keep-alive connection
            conn.close()
            self.tls.conn = None
        if self.proc is not None:
            self.kill(signal.SIGTERM)

    def restart(self) -> None:
        """Stops the server if it runs and starts it again on the same database (and port)."""
        if self.running:
            self.stop()
        self.start(self.port)

    def _reap(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(10)
            with _live_lock:
                _live_processes.discard(self.proc)

    def log_tail(self, n: int = 40) -> str:
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode(errors="replace").splitlines()
            return "\n".join(lines[-n:])
        except OSError:
            return "(no log)"


# --------------------------------------------------------------------------------------------
# HTTP client
# --------------------------------------------------------------------------------------------

class Reply(NamedTuple):
    status: int
    headers: dict[str, str]  # lower-cased names
    body: Any                # parsed JSON when the reply is JSON, else text
    raw: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    def __str__(self) -> str:  # for assertion messages
        text = self.raw.decode(errors="replace")
        return f"HTTP {self.status} {self.content_type} {text[:600]}"


def _decode(status: int, headers: dict[str, str], raw: bytes) -> Reply:
    body: Any = raw.decode("utf-8", errors="replace")
    if "json" in headers.get("content-type", "") and raw:
        try:
            body = json.loads(raw)
        except ValueError:
            pass
    return Reply(status, headers, body, raw)


_NO_BODY = object()
# Errors meaning "the server closed this keep-alive connection before answering".
_STALE_CONNECTION = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
                     ConnectionAbortedError)


class Client:
    """Thread-safe HTTP client for one server and one API key.

    Each thread uses its own keep-alive connection (stored on the Server, so all Clients of
    one thread share it). A request that fails on a *reused* connection with a reset or an
    empty reply is retried once on a fresh one (the server may have closed an idle or
    poisoned connection); any other failure, and any failure on a fresh connection, raises.
    """

    def __init__(self, server: Server, key: str | None = None, timeout: float = 30):
        self.server = server
        self.key = key
        self.timeout = timeout

    def with_key(self, key: str | None) -> "Client":
        return Client(self.server, key, self.timeout)

    # connection management
    def _conn(self) -> tuple[http.client.HTTPConnection, bool]:
        tls = self.server.tls
        conn = getattr(tls, "conn", None)
        if conn is not None and getattr(tls, "gen", None) == self.server.generation \
                and getattr(tls, "timeout", None) == self.timeout:
            return conn, True
        self.drop()
        conn = http.client.HTTPConnection(HOST, self.server.port, timeout=self.timeout)
        tls.conn, tls.gen, tls.timeout = conn, self.server.generation, self.timeout
        return conn, False

    def drop(self) -> None:
        conn = getattr(self.server.tls, "conn", None)
        if conn is not None:
            conn.close()
        self.server.tls.conn = None

    def warm(self) -> None:
        """Opens this thread's connection now (so a later request starts without a connect)."""
        conn, _ = self._conn()
        if conn.sock is None:
            conn.connect()

    def request(self, method: str, path: str, body: Any = _NO_BODY, *,
                headers: dict[str, str] | None = None, key: Any = _NO_BODY,
                query: dict[str, Any] | None = None) -> Reply:
        """body: a JSON value (encoded), or str/bytes (sent as is). key overrides the
        client's key for this request (None: no Authorization header)."""
        if query:
            path += "?" + urllib.parse.urlencode(
                {k: v for k, v in query.items() if v is not None}, quote_via=urllib.parse.quote)
        hdrs = {"Accept": "application/json"}
        k = self.key if key is _NO_BODY else key
        if k:
            hdrs["Authorization"] = f"Bearer {k}"
        data: bytes | None = None
        if body is not _NO_BODY:
            if isinstance(body, bytes):
                data = body
            elif isinstance(body, str):
                data = body.encode()
            else:
                data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        if headers:
            hdrs.update(headers)
        if data is None and method in ("POST", "PUT", "PATCH"):
            data = b""
        for attempt in (0, 1):
            conn, reused = self._conn()
            try:
                conn.request(method, path, body=data, headers=hdrs)
                resp = conn.getresponse()
                raw = resp.read()
            except _STALE_CONNECTION:
                self.drop()
                if reused and attempt == 0:
                    continue
                raise
            except BaseException:
                self.drop()
                raise
            rheaders = {k.lower(): v for k, v in resp.getheaders()}
            if resp.will_close:
                self.drop()
            return _decode(resp.status, rheaders, raw)
        raise AssertionError("unreachable")

    def get(self, path: str, **kw) -> Reply:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any = _NO_BODY, **kw) -> Reply:
        return self.request("POST", path, {} if body is _NO_BODY else body, **kw)

    def put(self, path: str, body: Any = _NO_BODY, **kw) -> Reply:
        return self.request("PUT", path, {} if body is _NO_BODY else body, **kw)

    def delete(self, path: str, **kw) -> Reply:
        return self.request("DELETE", path, **kw)


class RawReply(NamedTuple):
    status: int | None  # None: the server sent nothing parseable before closing
    headers: dict[str, str]
    body: Any
    raw: bytes

    def __str__(self) -> str:
        return f"RAW {self.status} {self.raw[:600]!r}"

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


def raw_exchange(port: int, chunks: list[bytes], *, pause_after: dict[int, float] | None = None,
                 read_timeout: float = 10.0) -> RawReply:
    """Sends chunks over a fresh socket (sleeping pause_after[i] seconds after chunk i), then
    reads one HTTP response. Sending stops as soon as the server has answered or closed (it
    may answer early, e.g. 413 on the Content-Length alone); send errors are tolerated and
    whatever arrived is parsed."""
    pause_after = pause_after or {}
    s = socket.create_connection((HOST, port), timeout=read_timeout)
    buf = b""
    try:
        try:
            for i, chunk in enumerate(chunks):
                if i and select.select([s], [], [], 0)[0]:
                    break  # the server already replied (or closed): stop sending
                s.sendall(chunk)
                if i in pause_after:
                    time.sleep(pause_after[i])
        except OSError:
            pass
        deadline = time.monotonic() + read_timeout
        while time.monotonic() < deadline:
            try:
                part = s.recv(65536)
            except OSError:  # timeout or reset
                break
            if not part:
                break
            buf += part
            if _response_complete(buf):
                break
    finally:
        s.close()
    return _parse_raw(buf)


def split(data: bytes, size: int = 8192) -> list[bytes]:
    return [data[i:i + size] for i in range(0, len(data), size)]


def _response_complete(buf: bytes) -> bool:
    head, sep, body = buf.partition(b"\r\n\r\n")
    if not sep:
        return False
    m = re.search(rb"(?im)^content-length:\s*(\d+)\s*$", head)
    return m is not None and len(body) >= int(m.group(1))


def _parse_raw(buf: bytes) -> RawReply:
    head, sep, body = buf.partition(b"\r\n\r\n")
    m = re.match(rb"HTTP/1\.[01] (\d{3})", head)
    if not sep or not m:
        return RawReply(None, {}, None, buf)
    headers: dict[str, str] = {}
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.decode(errors="replace").partition(":")
        headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        body = body[:int(headers["content-length"])]
    r = _decode(int(m.group(1)), headers, body)
    return RawReply(r.status, r.headers, r.body, buf)


# --------------------------------------------------------------------------------------------
# Time, phones, intervals
# --------------------------------------------------------------------------------------------

UTC = dt.timezone.utc
# A Monday well in the future, so no "in the past" rule can interfere.
BASE_DAY = dt.datetime(2030, 1, 7, tzinfo=UTC)
# Lists over this window see every appointment the tests make.
WIDE_FROM = "2029-01-01T00:00:00Z"
WIDE_TO = "2033-01-01T00:00:00Z"


def at(hour: int, minute: int = 0, day: int = 0) -> dt.datetime:
    """An instant `day` days after BASE_DAY at hour:minute UTC (hour may exceed 23)."""
    return BASE_DAY + dt.timedelta(days=day, hours=hour, minutes=minute)


def iso(t: dt.datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_instant(s: str) -> dt.datetime:
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00"))


def minutes(n: float) -> dt.timedelta:
    return dt.timedelta(minutes=n)


def phone_formats(subscriber: str) -> tuple[str, tuple[str, str, str]]:
    """E.164 form and three spellings of one Berlin number, e.g. subscriber "1234567":
    ("+49301234567", ("+49 30 1234567", "030 1234567", "0049301234567"))."""
    return f"+4930{subscriber}", (f"+49 30 {subscriber}", f"030 {subscriber}",
                                  f"004930{subscriber}")


def phone(i: int) -> str:
    """A distinct valid German number per i (0 <= i < 800000), in E.164."""
    return f"+4930{1200000 + i}"


def overlaps(a: tuple[dt.datetime, dt.datetime], b: tuple[dt.datetime, dt.datetime]) -> bool:
    """Half-open interval overlap."""
    return a[0] < b[1] and b[0] < a[1]


def seg_interval(seg: dict) -> tuple[dt.datetime, dt.datetime]:
    return parse_instant(seg["start"]), parse_instant(seg["end"])


def blocked(seg: dict, service: dict) -> tuple[dt.datetime, dt.datetime]:
    """The blocked interval [start - buffer_before, end + buffer_after) of a reply segment."""
    s, e = seg_interval(seg)
    return (s - minutes(service.get("buffer_before_minutes", 0)),
            e + minutes(service.get("buffer_after_minutes", 0)))


def find_overlaps(intervals: list[tuple[Any, tuple[dt.datetime, dt.datetime]]]) -> list:
    """Pairs (tag_a, tag_b) whose intervals overlap."""
    bad = []
    for (ta, a), (tb, b) in itertools.combinations(intervals, 2):
        if overlaps(a, b):
            bad.append((ta, tb))
    return bad


# --------------------------------------------------------------------------------------------
# Concurrency
# --------------------------------------------------------------------------------------------

def run_concurrently(n: int, fn: Callable[[int], Any], *, timeout: float = 30.0,
                     warm: Client | None = None) -> list[Any]:
    """Runs fn(0..n-1) on n threads released together by a barrier; returns the results in
    order. warm: open each thread's connection before the barrier. Raises AssertionError if
    not everything finished within timeout (a hang or deadlock); re-raises a worker's error."""
    barrier = threading.Barrier(n)

    def worker(i: int) -> Any:
        try:
            if warm is not None:
                warm.warm()
            barrier.wait(timeout)
            return fn(i)
        finally:
            if warm is not None:
                warm.drop()  # this thread ends: close its connection

    ex = concurrent.futures.ThreadPoolExecutor(max_workers=n, thread_name_prefix="sys")
    futures = [ex.submit(worker, i) for i in range(n)]
    done, not_done = concurrent.futures.wait(futures, timeout=timeout)
    ex.shutdown(wait=not not_done, cancel_futures=True)
    if not_done:
        raise AssertionError(f"{len(not_done)} of {n} concurrent requests did not finish "
                             f"within {timeout}s (hang or deadlock)")
    return [f.result() for f in futures]


# --------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------

def expect(reply: Reply, *statuses: int) -> Any:
    """The body of reply, asserting its status (setup helpers: fail with the reply text)."""
    if reply.status not in statuses:
        raise AssertionError(f"expected HTTP {'/'.join(map(str, statuses))}, got {reply}")
    return reply.body


_names = itertools.count(1)


class Company:
    """A company created through the API, with a client holding its key and small helpers
    that create resources and assert the expected status."""

    def __init__(self, server: Server, platform_key: str, *, name: str | None = None,
                 timezone: str = "Europe/Berlin", country: str = "DE"):
        platform = Client(server, platform_key)
        body = expect(platform.post("/v1/companies", {
            "name": name or f"Company {next(_names)}", "timezone": timezone, "country": country}),
            201)
        self.info = body
        self.id: int = body["id"]
        self.key: str = body["api_key"]
        self.api = Client(server, self.key)

    def branch(self, **kw) -> dict:
        body = {"name": f"Branch {next(_names)}", **kw}
        return expect(self.api.post("/v1/branches", body), 201)

    def service(self, duration: int = 30, before: int = 0, after: int = 0, **kw) -> dict:
        body = {"name": f"Service {next(_names)}", "duration_minutes": duration,
                "buffer_before_minutes": before, "buffer_after_minutes": after, **kw}
        return expect(self.api.post("/v1/services", body), 201)

    def staff(self, branch: dict, services: list[dict], **kw) -> dict:
        n = next(_names)
        body = {"name": f"Staff {n}", "email": f"staff{n}@example.com", "branch_id": branch["id"],
                "service_ids": [s["id"] for s in services], **kw}
        return expect(self.api.post("/v1/staff", body), 201)

    def customer(self, phone_number: str, name: str = "Max") -> dict:
        return expect(self.api.put("/v1/customers", {"phone": phone_number, "name": name}),
                      200, 201)

    @staticmethod
    def seg(staff: dict, service: dict, start: dt.datetime | str,
            end: dt.datetime | str | None = None) -> dict:
        s = {"staff_id": staff["id"], "service_id": service["id"],
             "start": start if isinstance(start, str) else iso(start)}
        if end is not None:
            s["end"] = end if isinstance(end, str) else iso(end)
        return s

    def book_reply(self, segments: list[dict], *, customer_id: int | None = None,
                   customer: dict | None = None, headers: dict | None = None,
                   api: Client | None = None, **extra) -> Reply:
        body: dict[str, Any] = {"segments": segments, **extra}
        if customer_id is not None:
            body["customer_id"] = customer_id
        else:
            body["customer"] = customer or {"phone": phone(400000 + next(_names)), "name": "Max"}
        return (api or self.api).post("/v1/appointments", body, headers=headers)

    def book(self, segments: list[dict], **kw) -> dict:
        return expect(self.book_reply(segments, **kw), 201)

    def appointment(self, appt_id: int) -> dict:
        return expect(self.api.get(f"/v1/appointments/{appt_id}"), 200)

    def appointments(self, **query) -> list[dict]:
        q = {"from": WIDE_FROM, "to": WIDE_TO, "limit": 500, **query}
        return expect(self.api.get("/v1/appointments", query=q), 200)["items"]

    def all_appointments(self, **query) -> list[dict]:
        """Like appointments(), but pages past the 500-item limit by moving `from` to the
        start of the last item seen (items overlapping it are deduplicated by id)."""
        out: dict[int, dict] = {}
        cur = query.pop("from", WIDE_FROM)
        while True:
            page = self.appointments(**{"from": cur, **query})
            fresh = [a for a in page if a["id"] not in out]
            out.update((a["id"], a) for a in fresh)
            if len(page) < 500:
                return list(out.values())
            if not fresh:
                raise AssertionError(f"cannot page past {cur}: 500 items start there")
            cur = min(s["start"] for s in page[-1]["segments"])

    def items(self, path: str) -> list[dict]:
        return expect(self.api.get(path), 200)["items"]


# --------------------------------------------------------------------------------------------
# unittest base class
# --------------------------------------------------------------------------------------------

class ServerTestCase(unittest.TestCase):
    """Each subclass gets its own temp dir, database and server (started in setUpClass,
    stopped and removed by class cleanups even if setUpClass fails half way).

    Class attributes to override: threads, durability, server_args.
    Available in tests: cls.server, cls.platform_key, cls.platform (Client), cls.anon (Client).
    """
    threads = 4
    durability = "full"
    server_args: tuple[str, ...] = ()

    server: Server
    platform_key: str
    platform: Client
    anon: Client

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        require_binary()
        cls.workdir = tempfile.mkdtemp(prefix=f"appointd-{cls.__name__}-")
        cls.addClassCleanup(cls._remove_workdir)
        store = fresh_store(cls.workdir)
        cls.db_url = store.__enter__()
        cls.addClassCleanup(store.__exit__, None, None, None)
        cls.server = Server(cls.db_url, cls.workdir, threads=cls.threads,
                            durability=cls.durability, extra_args=cls.server_args)
        cls.addClassCleanup(cls.server.stop)
        cls.server.migrate()
        cls.platform_key = cls.server.create_platform_key()  # before serve: works on WAL
        cls.server.start()
        cls.platform = Client(cls.server, cls.platform_key)
        cls.anon = Client(cls.server, None)

    @classmethod
    def _remove_workdir(cls) -> None:
        if keep_tmp():
            print(f"\n[kept {cls.workdir}]")
        else:
            shutil.rmtree(cls.workdir, ignore_errors=True)

    # -- assertions -----------------------------------------------------------------------
    def assertStatus(self, reply: Reply | RawReply, *statuses: int, msg: str = "") -> None:
        if reply.status not in statuses:
            self.fail(f"{msg + ': ' if msg else ''}expected HTTP "
                      f"{'/'.join(map(str, statuses))}, got {reply}"
                      f"\n--- server log tail ---\n{self.server.log_tail(15)}")

    def assertProblem(self, reply: Reply | RawReply, status: int, code: str | None = None,
                      msg: str = "") -> dict:
        """An RFC 9457 problem: right status, Content-Type application/problem+json, and
        status/title/detail/code members (status equal to the HTTP status)."""
        self.assertStatus(reply, status, msg=msg)
        ctx = f"{msg + ': ' if msg else ''}{reply}"
        self.assertTrue(reply.content_type.startswith("application/problem+json"),
                        f"Content-Type is not application/problem+json: {ctx}")
        body = reply.body
        self.assertIsInstance(body, dict, f"problem body is not a JSON object: {ctx}")
        for member in ("status", "title", "detail", "code"):
            self.assertIn(member, body, f"problem lacks {member!r}: {ctx}")
        self.assertEqual(body["status"], status, f"problem status member: {ctx}")
        self.assertIsInstance(body["title"], str, ctx)
        self.assertIsInstance(body["detail"], str, ctx)
        if code is not None:
            self.assertEqual(body["code"], code, f"problem code: {ctx}")
        return body

    def assertHealthy(self) -> None:
        r = self.anon.get("/healthz")
        self.assertStatus(r, 200, msg="server no longer healthy")

    def snapshot(self) -> Any:
        """What a rejected request must leave unchanged (assertRejected); suites that use
        assertRejected define it."""
        raise NotImplementedError

    def assertRejected(self, send: Callable[[], Reply], status: int, code: str | None = None, *,
                       phones: tuple = (), fields: tuple = (), msg: str = "") -> dict:
        """send() makes one bad request: it gets the problem (status, code), writes nothing
        (self.snapshot() equal, `phones` still unknown customers of self.co), a
        validation_failed lists its errors (naming each of `fields`), and the server stays
        healthy."""
        before = self.snapshot()
        reply = send()
        body = self.assertProblem(reply, status, code, msg=msg)
        self.assertHealthy()
        self.assertEqual(self.snapshot(), before, f"{msg}: a {status} changed something")
        for p in phones:
            self.assertProblem(self.co.api.get("/v1/customers", query={"phone": p}), 404,
                               "not_found", msg=f"{msg}: customer {p} was created")
        if body.get("code") == "validation_failed":
            errors = body.get("errors")
            self.assertIsInstance(errors, list, f"{msg}: validation_failed carries errors: {reply}")
            self.assertTrue(errors, f"{msg}: validation_failed carries errors: {reply}")
            for e in errors:
                self.assertIn("field", e, str(reply))
                self.assertIn("message", e, str(reply))
            named = {e.get("field") for e in errors}
            for f in fields:
                self.assertIn(f, named, f"{msg}: errors do not name {f!r}: {reply}")
        return body

    def assertAuditClean(self) -> None:
        r = self.server.audit()
        self.assertEqual(r.returncode, 0, f"appointd audit found a violation:\n{r.output}")

    def assertSameSegments(self, got: list[dict], want: list[dict], msg: str = "") -> None:
        def norm(segs):
            return [(s.get("id"), s["staff_id"], s["service_id"],
                     parse_instant(s["start"]), parse_instant(s["end"])) for s in segs]
        self.assertEqual(norm(got), norm(want), msg)
