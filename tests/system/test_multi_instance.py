"""Several appointd instances on one PostgreSQL database (PostgreSQL only).

Two instances serve the same database; clients are spread over both. Races for one slot,
composite bookings whose segments cross in opposite staff order, customer upserts and one
Idempotency-Key sent to both: exactly one winner, no 500, audit clean. kill -9 of one instance
mid-stream: nothing it acknowledged is lost. A write that bypasses the staff lock is caught by
the EXCLUDE constraint and still answered as a slot conflict. Restarting PostgreSQL under load
(a private server, so the other suites running in parallel are not disturbed): /readyz is 503
while the database is gone, requests get 503 (never 500), the instances recover by themselves
and nothing acknowledged is lost."""
import os
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
from harness import (PG_SKIP_REASON, Client, Company, Server, ServerTestCase,  # noqa: E402
                     at, expect, iso, keep_tmp, phone, postgres_store, run_cli,
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

    def destroy(self) -> None:
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
        try:
            return Client(s, None, timeout=5).get("/readyz").status
        except Exception:
            return -1

    def test_restart_under_load(self):
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
            down = [self.ready(s) for s in self.servers]
            acked_while_down = load.acked_count()
            time.sleep(1.0)
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
        self.assertEqual(down, [503, 503], "readiness is false while the database is gone")
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


if __name__ == "__main__":
    unittest.main()
