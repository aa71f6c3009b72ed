"""Several appointd instances on one PostgreSQL database (PostgreSQL only).

Two instances serve the same database; clients are spread over both. Races for one slot,
composite bookings whose segments cross in opposite staff order, customer upserts and one
Idempotency-Key sent to both: exactly one winner, no 500, audit clean. kill -9 of one instance
mid-stream: nothing it acknowledged is lost. A write that bypasses the staff lock is caught by
the EXCLUDE constraint and still answered as a slot conflict. Restarting PostgreSQL under load
(a private server, so the other suites running in parallel are not disturbed): /readyz is 503
while the database is gone, requests get 503 (never 500), the instances recover by themselves
and nothing acknowledged is lost. Catalog changes (working hours, time off, company settings,
new staff, services and branches) made through one instance are obeyed by the very next booking
through the other, which has just read the old catalog: no stale per-instance cache."""
import datetime as dt
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (PG_SKIP_REASON, UTC, Client, Company, Server,  # noqa: E402
                     ServerTestCase, at, expect, iso, keep_tmp, phone, postgres_store, run_cli,
                     run_concurrently, test_backend)

CLIENTS = 32
TIMEOUT = 60.0
SCRIPTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts")


def require_postgres() -> str:
    url = os.environ.get("APPOINTD_PG_URL", "")
    if test_backend() != "postgresql" or not url:
        raise unittest.SkipTest(PG_SKIP_REASON)
    return url


class Load:
    """Background clients booking distinct slots (never conflicting) on the given servers,
    recording every acknowledged (201) appointment and every status seen."""

    def __init__(self, co: Company, servers: list[Server], staff: list[dict], svc: dict,
                 threads: int = 4, day: int = 200):
        self.co, self.servers, self.staff, self.svc = co, servers, staff, svc
        self.threads, self.day = threads, day
        self.acked: list[dict] = []
        self.statuses: Counter = Counter()
        self.errors: Counter = Counter()
        self.stop_flag = threading.Event()
        self.lock = threading.Lock()
        self._workers: list[threading.Thread] = []

    def _run(self, t: int) -> None:
        n = 0
        while not self.stop_flag.is_set():
            server = self.servers[(t + n) % len(self.servers)]
            slot = n * self.threads + t  # unique per (thread, n): never a conflict
            staff = self.staff[slot % len(self.staff)]
            start = at(0, 30 * (slot // len(self.staff)), day=self.day)
            n += 1
            api = Client(server, self.co.key, timeout=15)
            try:
                r = self.co.book_reply([self.co.seg(staff, self.svc, start)],
                                       customer={"phone": phone(5000 + slot % 50),
                                                 "name": "Load"}, api=api)
            except Exception as e:  # connection refused/reset: the instance is down
                with self.lock:
                    self.errors[type(e).__name__] += 1
                time.sleep(0.02)
                continue
            with self.lock:
                self.statuses[r.status] += 1
                if r.status == 201:
                    self.acked.append(r.body)
            if r.status != 201:
                time.sleep(0.02)

    def start(self) -> "Load":
        for t in range(self.threads):
            w = threading.Thread(target=self._run, args=(t,), daemon=True)
            w.start()
            self._workers.append(w)
        return self

    def stop(self) -> None:
        self.stop_flag.set()
        for w in self._workers:
            w.join(30)

    def acked_count(self) -> int:
        with self.lock:
            return len(self.acked)


class TwoInstances(ServerTestCase):
    """Instance A is the base class's server; B serves the same database."""

    @classmethod
    def setUpClass(cls):
        require_postgres()
        super().setUpClass()
        cls.workdir_b = os.path.join(cls.workdir, "b")
        os.makedirs(cls.workdir_b)
        cls.b = Server(cls.db_url, cls.workdir_b, threads=cls.threads)
        cls.addClassCleanup(cls.b.stop)
        cls.b.start()
        cls.co = Company(cls.server, cls.platform_key)
        cls.api_b = Client(cls.b, cls.co.key)
        cls.br = cls.co.branch()
        cls.svc = cls.co.service(duration=30, after=10)

    def tearDown(self):
        self.assertAuditClean()

    def api(self, i: int) -> Client:
        """Client i's instance: even on A, odd on B."""
        return self.co.api if i % 2 == 0 else self.api_b

    def assertOnlyWinnersAndConflicts(self, replies):
        odd = [r for r in replies if r.status not in (201, 409)]
        self.assertEqual(odd, [], f"statuses {Counter(r.status for r in replies)}: "
                         f"{odd[0] if odd else ''}\nA:\n{self.server.log_tail(10)}\n"
                         f"B:\n{self.b.log_tail(10)}")
        for r in replies:
            if r.status == 409:
                self.assertProblem(r, 409, "slot_unavailable")

    def test_same_slot_across_instances(self):
        st = self.co.staff(self.br, [self.svc])
        cust = self.co.customer(phone(1))
        replies = run_concurrently(CLIENTS, lambda i: self.co.book_reply(
            [self.co.seg(st, self.svc, at(10))], customer_id=cust["id"], api=self.api(i)),
            timeout=TIMEOUT)
        self.assertOnlyWinnersAndConflicts(replies)
        self.assertEqual(Counter(r.status for r in replies), {201: 1, 409: CLIENTS - 1})
        self.assertEqual(len(self.co.appointments(staff_id=st["id"], status="booked")), 1)

    def test_composite_bookings_in_opposite_staff_order(self):
        # Even clients list (x, y), odd clients (y, x), over the same two times, so every pair
        # of transactions wants both staff rows: without the ascending lock order they would
        # deadlock; with it, one wins and the others see the conflict.
        x, y = self.co.staff(self.br, [self.svc]), self.co.staff(self.br, [self.svc])
        cust = self.co.customer(phone(2))

        def segs(i):
            a, b = self.co.seg(x, self.svc, at(9)), self.co.seg(y, self.svc, at(9, 40))
            c, d = self.co.seg(y, self.svc, at(9, 10)), self.co.seg(x, self.svc, at(9, 50))
            return [a, b] if i % 2 == 0 else [c, d]

        replies = run_concurrently(CLIENTS, lambda i: self.co.book_reply(
            segs(i), customer_id=cust["id"], api=self.api(i)), timeout=TIMEOUT)
        self.assertOnlyWinnersAndConflicts(replies)
        self.assertEqual(Counter(r.status for r in replies)[201], 1,
                         Counter(r.status for r in replies))

    def test_customer_upsert_across_instances(self):
        replies = run_concurrently(CLIENTS, lambda i: self.api(i).put(
            "/v1/customers", {"phone": phone(3), "name": f"C{i}"}), timeout=TIMEOUT)
        statuses = Counter(r.status for r in replies)
        self.assertEqual(statuses, {201: 1, 200: CLIENTS - 1}, replies[0])
        self.assertEqual(len({r.body["id"] for r in replies}), 1)

    def test_one_idempotency_key_on_both_instances(self):
        st = self.co.staff(self.br, [self.svc])
        body = {"customer": {"phone": phone(4), "name": "Idem"},
                "segments": [self.co.seg(st, self.svc, at(11))]}
        replies = run_concurrently(CLIENTS, lambda i: self.api(i).post(
            "/v1/appointments", body, headers={"Idempotency-Key": "multi-1"}), timeout=TIMEOUT)
        odd = [r for r in replies if r.status != 201 and not
               (r.status == 409 and isinstance(r.body, dict)
                and r.body.get("code") == "idempotency_in_flight")]
        self.assertEqual(odd, [], Counter(r.status for r in replies))
        ids = {r.body["id"] for r in replies if r.status == 201}
        self.assertEqual(len(ids), 1, "one key, one outcome (I4)")
        self.assertEqual(len(self.co.appointments(staff_id=st["id"], status="booked")), 1)

    def test_concurrent_changes_of_one_appointment(self):
        # Reschedules and cancels of one appointment on both instances at once. With
        # expected_version exactly one change wins and the rest get 412; without it every
        # change applies in turn, so the version counts them all (no lost update), and a
        # cancelled appointment never comes back to life with active segments.
        st = self.co.staff(self.br, [self.svc])
        cust = self.co.customer(phone(6))
        n = 16

        def change(appt_id, i, expected):
            body = {} if expected is None else {"expected_version": expected}
            path = f"/v1/appointments/{appt_id}"
            if i % 4 == 3:
                return self.api(i).post(path + "/cancel", body)
            body["start"] = iso(at(12 + i, day=3))
            return self.api(i).post(path + "/reschedule", body)

        appt = self.co.book([self.co.seg(st, self.svc, at(10, day=3))], customer_id=cust["id"])
        replies = run_concurrently(n, lambda i: change(appt["id"], i, 1), timeout=TIMEOUT)
        statuses = Counter(r.status for r in replies)
        self.assertEqual(statuses, {200: 1, 412: n - 1}, [r.body for r in replies][:3])
        final = self.co.appointment(appt["id"])
        self.assertEqual(final["version"], 2)

        appt = self.co.book([self.co.seg(st, self.svc, at(10, day=4))], customer_id=cust["id"])
        replies = run_concurrently(n, lambda i: change(appt["id"], i, None), timeout=TIMEOUT)
        ok = sum(1 for r in replies if r.status == 200)
        odd = [r for r in replies if r.status not in (200, 409)]
        self.assertEqual(odd, [], Counter(r.status for r in replies))
        final = self.co.appointment(appt["id"])
        self.assertEqual(final["version"], 1 + ok, "every applied change counted once")
        if final["status"] == "cancelled":
            self.assertTrue(all(not s.get("active", False) for s in final.get("segments", [])
                                if "active" in s), final)
            booked = self.co.appointments(staff_id=st["id"], status="booked")
            self.assertNotIn(appt["id"], [a["id"] for a in booked])

    def test_write_bypassing_the_lock_is_a_conflict_not_a_500(self):
        # A transaction that inserts a segment without taking the staff lock (as a buggy or
        # foreign writer would) and commits while our booking of the same time is inserting:
        # the EXCLUDE constraint stops ours with 23P01, and the store turns it into a retry
        # whose overlap check answers 409 slot_unavailable.
        psql = shutil.which("psql")
        if not psql:
            self.skipTest("psql is not installed")
        st = self.co.staff(self.br, [self.svc])
        cust = self.co.customer(phone(6))
        first = self.co.book([self.co.seg(st, self.svc, at(8))], customer_id=cust["id"])
        start, end = at(14), at(14, 30)
        # session_replication_role = replica skips the foreign-key triggers, whose FOR KEY
        # SHARE on the staff row would otherwise make our FOR UPDATE wait (the lock alone
        # would then settle it and the constraint would never be reached).
        sql = ("SET session_replication_role = replica; BEGIN; INSERT INTO segments (appointment_id, company_id, staff_id, service_id, "
               "starts_at, ends_at, blocked_from, blocked_until) VALUES "
               f"({int(first['id'])}, {int(self.co.id)}, {int(st['id'])}, {int(self.svc['id'])}, "
               f"'{iso(start)}', '{iso(end)}', '{iso(start)}', '{iso(end)}'); "
               "SELECT pg_sleep(1.5); COMMIT;")
        bypass = subprocess.Popen([psql, self.db_url, "-v", "ON_ERROR_STOP=1", "-qc", sql],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            time.sleep(0.5)  # the bypassing insert is done, not yet committed
            r = self.co.book_reply([self.co.seg(st, self.svc, at(14, 15))],
                                   customer_id=cust["id"], api=self.api_b)
        finally:
            out, _ = bypass.communicate(timeout=30)
        self.assertEqual(bypass.returncode, 0, out)
        self.assertProblem(r, 409, "slot_unavailable")
        metrics = expect(self.api_b.get("/metrics"), 200)
        m = re.search(r'appointd_pg_retries_total\{sqlstate="23P01"\} (\d+)', metrics)
        self.assertTrue(m and int(m.group(1)) >= 1, "the conflict came through a 23P01 retry")

    def test_kill_one_instance_mid_stream(self):
        staff = [self.co.staff(self.br, [self.svc]) for _ in range(4)]
        load = Load(self.co, [self.server, self.b], staff, self.svc, threads=6, day=100).start()
        try:
            deadline = time.monotonic() + 20
            while load.acked_count() < 40 and time.monotonic() < deadline:
                time.sleep(0.05)
            self.b.kill(signal.SIGKILL)
            time.sleep(1.0)  # A keeps serving while B is dead
            self.b.start()
            time.sleep(0.5)
        finally:
            load.stop()
        self.assertGreater(len(load.acked), 40, load.statuses)
        self.assertNotIn(500, load.statuses, load.statuses)
        for a in load.acked:  # every acknowledged booking is there, as acknowledged
            got = self.co.appointment(a["id"])
            self.assertEqual(got["status"], "booked")
            self.assertSameSegments(got["segments"], a["segments"])


def _run_as_owner(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", PrivatePostgres.user(), "--", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, **kw)


class PrivatePostgres:
    """A PostgreSQL server of our own (scripts/pg_tmp.sh's recipe), which this test may stop
    and start without disturbing other suites."""

    @staticmethod
    def user() -> str:
        if os.geteuid() != 0:
            return ""
        return os.environ.get("APPOINTD_PG_USER") or "postgres"

    def __init__(self):
        bindir = os.environ.get("APPOINTD_PG_BINDIR", "/usr/lib/postgresql/15/bin")
        if not os.access(os.path.join(bindir, "initdb"), os.X_OK):
            raise unittest.SkipTest(f"no initdb in {bindir}")
        self.bindir = bindir
        self.dir = tempfile.mkdtemp(prefix="appointd-pg-restart-")
        os.chmod(self.dir, 0o755)
        if os.geteuid() == 0:
            shutil.chown(self.dir, self.user())
        self.data = os.path.join(self.dir, "data")
        r = _run_as_owner([os.path.join(bindir, "initdb"), "-D", self.data, "-U", "postgres",
                           "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8"])
        if r.returncode != 0:
            raise RuntimeError(f"initdb failed: {r.stdout}{r.stderr}")
        import socket
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write(f"listen_addresses = ''\nunix_socket_directories = '{self.dir}'\n"
                    f"port = {self.port}\nfsync = on\nmax_connections = 100\n")
        self.url = f"postgresql://postgres@/postgres?host={self.dir}&port={self.port}"
        self.start()

    def ctl(self, *args: str) -> None:
        r = _run_as_owner([os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-w", "-t", "60",
                           "-l", os.path.join(self.dir, "server.log"), *args])
        if r.returncode != 0:
            raise RuntimeError(f"pg_ctl {args} failed: {r.stdout}{r.stderr}")

    def start(self) -> None:
        self.ctl("start")

    def stop(self) -> None:
        self.ctl("-m", "fast", "stop")

    def pids(self) -> list[int]:
        """The postmaster and its children (backends and background processes)."""
        with open(os.path.join(self.data, "postmaster.pid")) as f:
            main = int(f.readline())
        r = subprocess.run(["pgrep", "-P", str(main)], capture_output=True, text=True)
        return [main] + [int(p) for p in r.stdout.split()]

    def signal_all(self, sig: int) -> None:
        for pid in self.pids():
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def destroy(self) -> None:
        try:
            self.signal_all(signal.SIGCONT)
        except Exception:
            pass
        try:
            self.stop()
        except Exception:
            pass
        if not keep_tmp():
            shutil.rmtree(self.dir, ignore_errors=True)


class PostgresRestart(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        require_postgres()
        cls.pg = PrivatePostgres()
        cls.addClassCleanup(cls.pg.destroy)
        cls.workdir = tempfile.mkdtemp(prefix="appointd-PostgresRestart-")
        if not keep_tmp():
            cls.addClassCleanup(shutil.rmtree, cls.workdir, True)
        store = postgres_store(cls.pg.url)
        cls.db_url = store.__enter__()
        cls.addClassCleanup(store.__exit__, None, None, None)
        cls.servers = []
        for name in ("a", "b"):
            d = os.path.join(cls.workdir, name)
            os.makedirs(d)
            s = Server(cls.db_url, d, threads=4, extra_args=("--pool-wait-ms", "500"))
            cls.addClassCleanup(s.stop)
            cls.servers.append(s)
        cls.servers[0].migrate()
        cls.platform_key = cls.servers[0].create_platform_key()
        for s in cls.servers:
            s.start()

    def ready(self, s: Server) -> int:
        t0 = time.monotonic()
        try:
            return Client(s, None, timeout=5).get("/readyz").status
        except Exception as e:  # kept for the failure message: what, and after how long
            self.probe_errors.append(f"{type(e).__name__}: {e} after {time.monotonic() - t0:.1f}s")
            return -1

    def test_restart_under_load(self):
        self.probe_errors: list[str] = []
        co = Company(self.servers[0], self.platform_key)
        br = co.branch()
        svc = co.service(duration=30)
        staff = [co.staff(br, [svc]) for _ in range(4)]
        for s in self.servers:
            self.assertEqual(self.ready(s), 200)
        load = Load(co, self.servers, staff, svc, threads=6, day=300).start()
        try:
            deadline = time.monotonic() + 20
            while load.acked_count() < 30 and time.monotonic() < deadline:
                time.sleep(0.05)
            self.pg.stop()
            time.sleep(1.0)
            # Each instance is asked three times while the database is gone: a probe can meet a
            # transient socket error (-1; seen once in many runs) without that being an answer.
            probes = [[self.ready(s) for s in self.servers] for _ in range(3)]
            down = [503 if 503 in [p[i] for p in probes] and 200 not in [p[i] for p in probes]
                    else probes[0][i] for i in range(len(self.servers))]
            acked_while_down = load.acked_count()
            time.sleep(0.5)
            self.pg.start()
            # The instances recover by themselves: ready, and booking again.
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if all(self.ready(s) == 200 for s in self.servers) and \
                        load.acked_count() > acked_while_down + 20:
                    break
                time.sleep(0.1)
            up = [self.ready(s) for s in self.servers]
            recovered = load.acked_count() - acked_while_down
        finally:
            load.stop()
        self.assertEqual(down, [503, 503],
                         f"readiness is false while the database is gone: probes {probes}, "
                         f"errors {self.probe_errors}, load errors {load.errors}, "
                         f"server logs: {[s.log_tail(15) for s in self.servers]}")
        self.assertEqual(up, [200, 200], "readiness comes back with the database")
        self.assertGreater(recovered, 20, f"bookings resumed: {load.statuses}")
        self.assertIn(503, load.statuses, f"requests during the outage: {load.statuses}")
        self.assertNotIn(500, load.statuses, f"never a 500: {load.statuses}")
        self.assertEqual(set(load.statuses) - {201, 503}, set(), load.statuses)
        for a in load.acked:
            got = expect(co.api.get(f"/v1/appointments/{a['id']}"), 200)
            self.assertEqual(got["status"], "booked")
        r = run_cli("audit", "--db", self.db_url)
        self.assertEqual(r.returncode, 0, r.output)


class PostgresFrozen(unittest.TestCase):
    """A frozen database (SIGSTOP on every PostgreSQL process: it accepts nothing and answers
    nothing) stalls only the requests that need it: /healthz and /metrics answer at once,
    /readyz turns 503 within its interval (its state is refreshed in the background), and after
    SIGCONT the instance recovers by itself. Before the handlers ran on their own threads, reads
    and key lookups held the I/O threads, and health checks queued behind them."""

    @classmethod
    def setUpClass(cls):
        require_postgres()
        if not shutil.which("pgrep"):
            raise unittest.SkipTest("no pgrep")
        cls.pg = PrivatePostgres()
        cls.addClassCleanup(cls.pg.destroy)
        cls.workdir = tempfile.mkdtemp(prefix="appointd-PostgresFrozen-")
        if not keep_tmp():
            cls.addClassCleanup(shutil.rmtree, cls.workdir, True)
        store = postgres_store(cls.pg.url)
        cls.db_url = store.__enter__()
        cls.addClassCleanup(store.__exit__, None, None, None)
        cls.server = Server(cls.db_url, cls.workdir, threads=2,
                            extra_args=("--pool-wait-ms", "2000"))
        cls.addClassCleanup(cls.server.stop)
        cls.server.migrate()
        cls.platform_key = cls.server.create_platform_key()
        cls.server.start()

    def timed(self, path: str) -> tuple[int, float]:
        t0 = time.monotonic()
        try:
            status = Client(self.server, None, timeout=5).get(path).status
        except Exception:
            status = -1
        return status, time.monotonic() - t0

    def test_health_and_metrics_answer_while_the_database_is_frozen(self):
        co = Company(self.server, self.platform_key)
        br = co.branch()
        svc = co.service(duration=30)
        staff = co.staff(br, [svc])
        self.assertEqual(self.timed("/readyz")[0], 200)
        stop = threading.Event()
        stuck: Counter = Counter()

        def reader(i: int) -> None:  # reads, bookings and new keys' lookups, all needing the db
            n = 0
            while not stop.is_set():
                n += 1
                try:
                    api = Client(self.server, co.key, timeout=30)
                    if n % 2:
                        api.get("/v1/appointments?limit=5")
                    else:
                        co.book_reply([co.seg(staff, svc, at(0, 30 * (n + 40 * i), day=300))],
                                      customer={"phone": phone(7000 + n), "name": "F"}, api=api)
                except Exception as e:
                    stuck[type(e).__name__] += 1

        workers = [threading.Thread(target=reader, args=(i,), daemon=True) for i in range(12)]
        for w in workers:
            w.start()
        time.sleep(0.5)
        self.pg.signal_all(signal.SIGSTOP)
        try:
            time.sleep(1.5)  # every handler thread is now waiting on the database
            health = [self.timed("/healthz") for _ in range(20)]
            metrics = [self.timed("/metrics") for _ in range(5)]
            deadline = time.monotonic() + 3
            ready = self.timed("/readyz")
            while ready[0] != 503 and time.monotonic() < deadline:
                time.sleep(0.1)
                ready = self.timed("/readyz")
        finally:
            self.pg.signal_all(signal.SIGCONT)
        stop.set()
        for status, _ in health + metrics:
            self.assertEqual(status, 200, f"healthz {health} metrics {metrics}")
        median = sorted(t for _, t in health)[len(health) // 2]
        self.assertLess(median, 0.05, f"/healthz while the database is frozen: {health}")
        self.assertLess(max(t for _, t in health + metrics), 1.0, f"{health} {metrics}")
        self.assertEqual(ready[0], 503, "/readyz turns 503 while the database is frozen")
        self.assertLess(ready[1], 0.05, "/readyz answers from its state, at once")
        # Recovers by itself.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self.timed("/readyz")[0] != 200:
            time.sleep(0.2)
        self.assertEqual(self.timed("/readyz")[0], 200)
        for w in workers:
            w.join(timeout=40)
        r = co.book_reply([co.seg(staff, svc, at(9, 0, day=301))],
                          customer={"phone": phone(7999), "name": "After"})
        self.assertEqual(r.status, 201, r)


# --------------------------------------------------------------------------------------------
# Catalog changes seen across instances
# --------------------------------------------------------------------------------------------

_today = dt.datetime.now(UTC).date()
# A Monday 7..13 days ahead (inside the default 90-day horizon, far from "now"): the rules
# (working hours, notice, horizon) bind scheduled staff only, so these tests use real dates.
MONDAY = dt.datetime.combine(_today + dt.timedelta(days=(7 - _today.weekday()) % 7 + 7),
                             dt.time(), tzinfo=UTC)
NINE_TO_FIVE = {"mon": [["09:00", "17:00"]]}


def mon(hour: int, minute: int = 0, week: int = 0) -> dt.datetime:
    return MONDAY + dt.timedelta(weeks=week, hours=hour, minutes=minute)


def within(hours: dict, start: dt.datetime, length: dt.timedelta) -> bool:
    """Whether [start, start + length) lies inside one interval of weekly hours (UTC zone)."""
    day = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[start.weekday()]
    midnight = start.replace(hour=0, minute=0, second=0, microsecond=0)
    for frm, to in hours.get(day, []):
        lo = midnight + dt.timedelta(hours=int(frm[:2]), minutes=int(frm[3:]))
        hi = midnight + dt.timedelta(hours=int(to[:2]), minutes=int(to[3:]))
        if lo <= start and start + length <= hi:
            return True
    return False


class CatalogChangesAcrossInstances(ServerTestCase):
    """The catalog a booking is checked against is the one committed, whichever instance
    committed it. Each case first has the booking instance read the catalog (a booking of the
    very slot, cancelled again, and its availability), changes the catalog through the other
    instance, and at once books through the first: the answer must reflect the change. Every
    case runs both ways (change on A, book on B; change on B, book on A), each way in a
    company of its own."""

    @classmethod
    def setUpClass(cls):
        require_postgres()
        super().setUpClass()
        cls.workdir_b = os.path.join(cls.workdir, "b")
        os.makedirs(cls.workdir_b)
        cls.b = Server(cls.db_url, cls.workdir_b, threads=cls.threads)
        cls.addClassCleanup(cls.b.stop)
        cls.b.start()

    def tearDown(self):
        self.assertAuditClean()

    WAYS = (("A", "B"), ("B", "A"))  # (instance that changes, instance that books)

    def company(self, changer: str, booker: str):
        """A fresh company (zone UTC) with a branch and a 30-minute service; `change` and `book`
        are its clients on the two instances."""
        co = Company(self.server, self.platform_key, timezone="Etc/UTC")
        apis = {"A": co.api, "B": Client(self.b, co.key)}
        br = co.branch()
        svc = co.service(duration=30)
        cust = co.customer(phone(9000))
        return co, apis[changer], apis[booker], br, svc, cust

    def hours(self, api: Client, st: dict, hours: dict) -> None:
        self.assertStatus(api.put(f"/v1/staff/{st['id']}/working-hours", hours), 200)

    def book(self, co, api, st, svc, start, cust) -> object:
        return co.book_reply([co.seg(st, svc, start)], customer_id=cust["id"], api=api)

    def warm(self, co, api, st, svc, start, cust) -> None:
        """The booking instance reads everything the booking of `start` needs: it books that
        slot (201) and cancels it again, and lists the staff member's availability, which
        offers the slot."""
        appt = expect(self.book(co, api, st, svc, start, cust), 201)
        expect(api.post(f"/v1/appointments/{appt['id']}/cancel", {}), 200)
        r = api.get("/v1/availability", query={
            "service_id": svc["id"], "staff_id": st["id"],
            "from": iso(start - dt.timedelta(hours=2)), "to": iso(start + dt.timedelta(hours=2))})
        self.assertStatus(r, 200)
        self.assertIn(iso(start), [s["start"] for s in r.body["staff"][0]["slots"]])

    def test_working_hours_replaced_on_one_instance_bind_the_other(self):
        for changer, booker in self.WAYS:
            with self.subTest(change_on=changer, book_on=booker):
                co, change, book, br, svc, cust = self.company(changer, booker)
                st = co.staff(br, [svc])
                self.hours(change, st, NINE_TO_FIVE)
                self.warm(co, book, st, svc, mon(10), cust)
                self.hours(change, st, {"mon": [["13:00", "17:00"]]})
                self.assertProblem(self.book(co, book, st, svc, mon(10), cust), 422,
                                   "outside_working_hours", "narrowed hours")
                self.hours(change, st, {"tue": [["09:00", "17:00"]]})  # another day only
                self.assertProblem(self.book(co, book, st, svc, mon(14), cust), 422,
                                   "outside_working_hours", "hours moved to Tuesday")
                self.hours(change, st, NINE_TO_FIVE)
                self.assertStatus(self.book(co, book, st, svc, mon(10), cust), 201,
                                  msg="widened hours")

    def test_time_off_added_and_deleted_on_one_instance_binds_the_other(self):
        for changer, booker in self.WAYS:
            with self.subTest(change_on=changer, book_on=booker):
                co, change, book, br, svc, cust = self.company(changer, booker)
                st = co.staff(br, [svc])
                self.hours(change, st, NINE_TO_FIVE)
                self.warm(co, book, st, svc, mon(11), cust)
                off = expect(change.post(f"/v1/staff/{st['id']}/time-off", {
                    "starts_at": iso(mon(11)), "ends_at": iso(mon(12))}), 201)
                self.assertProblem(self.book(co, book, st, svc, mon(11), cust), 422,
                                   "staff_time_off", "time off added")
                self.assertStatus(change.delete(f"/v1/staff/{st['id']}/time-off/{off['id']}"),
                                  204)
                self.assertStatus(self.book(co, book, st, svc, mon(11), cust), 201,
                                  msg="time off deleted")

    def test_company_settings_changed_on_one_instance_bind_the_other(self):
        for changer, booker in self.WAYS:
            with self.subTest(change_on=changer, book_on=booker):
                co, change, book, br, svc, cust = self.company(changer, booker)
                st = co.staff(br, [svc])
                self.hours(change, st, NINE_TO_FIVE)
                self.warm(co, book, st, svc, mon(14), cust)

                def patch(**settings):
                    self.assertStatus(change.request("PATCH", "/v1/company", settings), 200)

                patch(min_notice_minutes=43200)  # 30 days' notice: the slot is too soon
                self.assertProblem(self.book(co, book, st, svc, mon(14), cust), 422,
                                   "too_soon", "min notice raised")
                patch(min_notice_minutes=0, horizon_days=3)  # the slot is 7+ days ahead
                self.assertProblem(self.book(co, book, st, svc, mon(14), cust), 422,
                                   "beyond_horizon", "horizon shortened")
                patch(horizon_days=90)
                self.assertStatus(self.book(co, book, st, svc, mon(14), cust), 201,
                                  msg="settings restored")

    def test_new_staff_on_one_instance_is_offered_and_bookable_on_the_other(self):
        for changer, booker in self.WAYS:
            with self.subTest(change_on=changer, book_on=booker):
                co, change, book, br, svc, cust = self.company(changer, booker)
                x, y = co.staff(br, [svc]), co.staff(br, [svc])
                for st in (x, y):
                    self.hours(change, st, NINE_TO_FIVE)
                    self.assertStatus(self.book(co, book, st, svc, mon(10), cust), 201)

                def others_at_ten() -> list[int]:
                    """The staff offered instead of x at 10:00, by the booking instance."""
                    body = self.assertProblem(self.book(co, book, x, svc, mon(10), cust), 409,
                                              "slot_unavailable")
                    return [a["staff_id"] for a in body["alternatives"]
                            if a["start"] == iso(mon(10))]

                self.assertEqual(others_at_ten(), [], "x and y are both busy at 10:00")
                z = expect(change.post("/v1/staff", {
                    "name": "New", "branch_id": br["id"], "service_ids": [svc["id"]]}), 201)
                self.assertEqual(others_at_ten(), [z["id"]], "the new staff member is offered")
                self.hours(change, z, {"mon": [["13:00", "17:00"]]})
                self.assertEqual(others_at_ten(), [], "z no longer works at 10:00")
                self.assertProblem(self.book(co, book, z, svc, mon(10), cust), 422,
                                   "outside_working_hours")
                self.hours(change, z, NINE_TO_FIVE)
                self.assertEqual(others_at_ten(), [z["id"]], "z works at 10:00 again")
                self.assertStatus(self.book(co, book, z, svc, mon(10), cust), 201)

    def test_new_service_branch_and_staff_on_one_instance_are_bookable_on_the_other(self):
        for changer, booker in self.WAYS:
            with self.subTest(change_on=changer, book_on=booker):
                co, change, book, br, svc, cust = self.company(changer, booker)
                st = co.staff(br, [svc])
                self.hours(change, st, NINE_TO_FIVE)
                self.warm(co, book, st, svc, mon(10), cust)
                new_svc = expect(change.post("/v1/services", {
                    "name": "New service", "duration_minutes": 45,
                    "buffer_before_minutes": 5, "buffer_after_minutes": 10}), 201)
                new_br = expect(change.post("/v1/branches", {"name": "New branch"}), 201)
                for branch in (br, new_br):
                    w = expect(change.post("/v1/staff", {
                        "name": "W", "branch_id": branch["id"], "service_ids": [new_svc["id"]]}),
                        201)
                    self.hours(change, w, NINE_TO_FIVE)
                    r = self.book(co, book, w, new_svc, mon(10), cust)
                    self.assertStatus(r, 201, msg=f"new staff in branch {branch['name']}")
                    seg = r.body["segments"][0]
                    self.assertEqual((seg["start"], seg["end"]),
                                     (iso(mon(10)), iso(mon(10, 45))), "the new duration")
                    # The new buffers: 10:50 is within 10:45 + 10 minutes after.
                    self.assertProblem(self.book(co, book, w, new_svc, mon(10, 50), cust), 409,
                                       "slot_unavailable")
                    self.assertStatus(self.book(co, book, w, new_svc, mon(11), cust), 201)

    def test_hours_replaced_while_the_other_instance_books(self):
        # One thread books through B as fast as it can; the main thread replaces the staff
        # member's hours through A, alternating two disjoint sets. Every booking that began
        # after change k had returned and ended before change k+1 was sent ran against the
        # hours of change k: a 201 must lie inside them, an outside_working_hours outside.
        co, change, book, br, svc, cust = self.company("A", "B")
        st = co.staff(br, [svc])
        morning, afternoon = {"mon": [["08:00", "12:00"]]}, {"mon": [["13:00", "17:00"]]}
        changes: list[tuple[float, float, dict]] = []  # (sent, returned, hours)

        def replace(hours: dict) -> None:
            t0 = time.monotonic()
            self.hours(change, st, hours)
            changes.append((t0, time.monotonic(), hours))

        replace(morning)
        stop = threading.Event()
        tries: list[tuple[float, float, dt.datetime, object]] = []
        errors: list[BaseException] = []
        rng = random.Random(7)

        def booker():
            try:
                while not stop.is_set():
                    start = mon(8, 15 * rng.randrange(34), week=rng.randrange(6))  # 08:00-16:15
                    t0 = time.monotonic()
                    r = self.book(co, book, st, svc, start, cust)
                    tries.append((t0, time.monotonic(), start, r))
            except BaseException as e:  # reported by the main thread
                errors.append(e)

        worker = threading.Thread(target=booker, daemon=True)
        worker.start()
        try:
            for i in range(7):
                time.sleep(0.25)
                replace(afternoon if i % 2 == 0 else morning)  # the last one: afternoon
        finally:
            stop.set()
            worker.join(30)
        self.assertEqual(errors, [])
        self.assertFalse(worker.is_alive())
        self.assertIs(changes[-1][2], afternoon)
        statuses = Counter((r.status, r.body.get("code") if isinstance(r.body, dict) else None)
                           for _, _, _, r in tries)
        self.assertLessEqual(set(statuses), {(201, None), (409, "slot_unavailable"),
                                             (422, "outside_working_hours")}, statuses)
        self.assertGreater(statuses[(201, None)], 0, statuses)
        checked = 0
        for t0, t1, start, r in tries:
            k = max((i for i, c in enumerate(changes) if c[1] <= t0), default=None)
            if k is None or (k + 1 < len(changes) and t1 > changes[k + 1][0]):
                continue  # overlapped a change: either hours may apply
            inside = within(changes[k][2], start, dt.timedelta(minutes=30))
            if r.status == 201:
                self.assertTrue(inside, f"{iso(start)} booked outside {changes[k][2]}")
                checked += 1
            elif r.status == 422:
                self.assertFalse(inside, f"{iso(start)} refused inside {changes[k][2]}")
                checked += 1
        self.assertGreater(checked, 0, statuses)
        # After the last change returned: the morning is closed on B, every time.
        for i in range(10):
            start = mon(8, 30 * (i % 5), week=6 + i // 5)  # weeks the loop never used
            self.assertProblem(self.book(co, book, st, svc, start, cust), 422,
                               "outside_working_hours", f"after the last change: {iso(start)}")
        self.assertStatus(self.book(co, book, st, svc, mon(13, week=6), cust), 201)


if __name__ == "__main__":
    unittest.main()
