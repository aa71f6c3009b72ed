"""No false failure (issue 15): a write whose COMMIT loses its connection is never reported as
"nothing changed". appointd reads the transaction's id before COMMIT is sent and, once the
database answers again, asks it what became of that transaction (pg_xact_status): committed is
201, aborted runs the write again, and when the database cannot be asked in time the answer is
503 outcome_unknown with Retry-After, after which a retry with the same Idempotency-Key returns
the real outcome.

COMMIT is held at its moment with synchronous_standby_names naming a standby that never comes:
the backend has written its commit record and waits (wait event SyncRep) before answering. The
test then terminates that backend (the commit stands: PostgreSQL says "already committed
locally"), or freezes the server (SIGSTOP) so that nothing can be asked. PostgreSQL only: it needs
a server of its own, since the setting is server-wide."""
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest

from harness import Client, Company, Server, at, keep_tmp, phone, postgres_store
from test_multi_instance import PrivatePostgres, require_postgres

ROUND_TRIP_TIMEOUT_MS = 1500
OUTCOME_WAIT_MS = 1500


class CommitOutcome(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        require_postgres()
        cls.psql = shutil.which("psql")
        if not cls.psql or not shutil.which("pgrep"):
            raise unittest.SkipTest("psql or pgrep is not installed")
        cls.pg = PrivatePostgres()
        cls.addClassCleanup(cls.pg.destroy)
        cls.workdir = tempfile.mkdtemp(prefix="appointd-CommitOutcome-")
        if not keep_tmp():
            cls.addClassCleanup(shutil.rmtree, cls.workdir, True)
        store = postgres_store(cls.pg.url)
        cls.db_url = store.__enter__()
        cls.addClassCleanup(store.__exit__, None, None, None)
        cls.server = Server(cls.db_url, cls.workdir, threads=2, extra_args=(
            "--pg-round-trip-timeout-ms", str(ROUND_TRIP_TIMEOUT_MS),
            "--pg-outcome-wait-ms", str(OUTCOME_WAIT_MS),
            "--pool-wait-ms", "1000", "--lock-timeout-ms", "20000"))
        cls.addClassCleanup(cls.server.stop)
        cls.server.migrate()
        cls.platform_key = cls.server.create_platform_key()
        cls.server.start()
        cls.co = Company(cls.server, cls.platform_key)
        cls.br = cls.co.branch()
        cls.svc = cls.co.service(duration=30)

    def setUp(self):
        self.staff = self.co.staff(self.br, [self.svc])
        # A returning customer, named by phone as callers are: the booking's probe reads it, and
        # its lock, checks, inserts and COMMIT then travel in one round trip (a merged commit).
        self.customer = self.co.customer(phone(900000 + self.staff["id"]))
        self.addCleanup(self.release_commits)

    # -- the database, as its operator ------------------------------------------------------
    def sql(self, query: str) -> list[str]:
        r = subprocess.run([self.psql, self.db_url, "-v", "ON_ERROR_STOP=1", "-Atqc", query],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        return [line for line in r.stdout.splitlines() if line]

    def hold_commits(self) -> None:
        self.sql("ALTER SYSTEM SET synchronous_standby_names = 'appointd_test_nobody'")
        self.sql("SELECT pg_reload_conf()")
        time.sleep(0.3)  # every backend has read the setting

    def release_commits(self) -> None:
        self.pg.signal_all(signal.SIGCONT)
        self.sql("ALTER SYSTEM RESET synchronous_standby_names")
        self.sql("SELECT pg_reload_conf()")

    def backends_at_commit(self, timeout: float = 15) -> list[str]:
        """The backends held in COMMIT by the missing standby. A probe's read may be held too
        (a sequence's nextval takes a transaction id when it logs, and its implicit transaction
        then waits at its end): that read changes nothing of ours, so it is let go by
        terminating its backend (the read is retried), until the booking's COMMIT is held."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rows = [r.split("|", 1) for r in self.sql(
                "SELECT pid, query FROM pg_stat_activity WHERE wait_event = 'SyncRep'")]
            commits = [pid for pid, query in rows if query.strip().upper() == "COMMIT"]
            if commits:
                return commits
            for pid, _ in rows:
                self.sql(f"SELECT pg_terminate_backend({pid})")
            time.sleep(0.05)
        self.fail(f"no COMMIT was held within {timeout} s")

    def backends_waiting(self, event: str, timeout: float = 15) -> list[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pids = self.sql(f"SELECT pid FROM pg_stat_activity WHERE wait_event = '{event}'")
            if pids:
                return pids
            time.sleep(0.05)
        self.fail(f"no backend waited on {event} within {timeout} s")

    def metrics_about(self, *words: str) -> str:
        text = Client(self.server, None).get("/metrics").raw.decode()
        return "\n".join(line for line in text.splitlines()
                         if not line.startswith("#") and any(w in line for w in words))

    def metric(self, name: str) -> float:
        text = Client(self.server, None).get("/metrics").raw.decode()
        for line in text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return 0.0

    # -- a booking sent in the background ----------------------------------------------------
    def book_in_background(self, start, key: str) -> dict:
        out: dict = {}
        body = {"segments": [self.co.seg(self.staff, self.svc, start)],
                "customer": {"phone": self.customer["phone"], "name": self.customer["name"]}}

        def send():
            t0 = time.monotonic()
            try:
                out["reply"] = Client(self.server, self.co.key, timeout=60).post(
                    "/v1/appointments", body, headers={"Idempotency-Key": key})
            except Exception as e:  # reported by the test's assertions
                out["error"] = e
            out["seconds"] = time.monotonic() - t0

        out["thread"] = threading.Thread(target=send, daemon=True)
        out["thread"].start()
        out["body"] = body
        return out

    def finished(self, pending: dict, timeout: float = 30):
        pending["thread"].join(timeout)
        self.assertFalse(pending["thread"].is_alive(), "the booking never answered")
        self.assertNotIn("error", pending, pending.get("error"))
        return pending["reply"]

    def staff_appointments(self) -> list[dict]:
        return [a for a in self.co.appointments()
                if any(s["staff_id"] == self.staff["id"] for s in a["segments"])]

    # -- the cases ------------------------------------------------------------------------
    def test_backend_terminated_after_its_commit_record_is_a_201(self):
        learned = self.metric("appointd_pg_commit_outcomes_learned_total")
        self.hold_commits()
        pending = self.book_in_background(at(9, day=200), "outcome-terminated")
        pids = self.backends_at_commit()
        for pid in pids:
            self.sql(f"SELECT pg_terminate_backend({pid})")
        self.release_commits()
        reply = self.finished(pending)
        self.assertEqual(reply.status, 201, reply.body)
        booked = self.staff_appointments()
        self.assertEqual([a["id"] for a in booked], [reply.body["id"]])
        self.assertEqual(self.co.appointment(reply.body["id"])["status"], "booked")
        self.assertGreaterEqual(self.metric("appointd_pg_commit_outcomes_learned_total"),
                                learned + 1, f"terminated {pids}\n" + self.metrics_about(
                                    "outcome", "retries", "failures"))
        self.assertEqual(self.server.audit().returncode, 0)

    def test_backend_terminated_before_commit_runs_the_write_again(self):
        # The staff member's lock is held elsewhere: the booking's transaction waits for it,
        # with COMMIT already sent in the same round trip. Terminated there, it never
        # committed (pg_xact_status: aborted), so it runs again, and books once the lock goes.
        learned = self.metric("appointd_pg_commit_outcomes_learned_total")
        holder = subprocess.Popen([self.psql, self.db_url, "-Atq"], stdin=subprocess.PIPE,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
        self.addCleanup(holder.kill)
        holder.stdin.write(f"SELECT pg_advisory_lock({self.staff['id']});\n")
        holder.stdin.flush()
        deadline = time.monotonic() + 15
        while self.sql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = "
                       f"{self.staff['id']} AND granted") != ["1"]:
            self.assertLess(time.monotonic(), deadline, "the holder never took the lock")
            time.sleep(0.05)
        pending = self.book_in_background(at(10, day=201), "outcome-aborted")
        self.backends_waiting("advisory")
        self.sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE wait_event = "
                 "'advisory'")
        self.backends_waiting("advisory")  # it runs again, and waits again
        holder.stdin.write("SELECT pg_advisory_unlock_all();\n\\q\n")
        holder.stdin.flush()
        reply = self.finished(pending)
        self.assertEqual(reply.status, 201, reply.body)
        self.assertEqual([a["id"] for a in self.staff_appointments()], [reply.body["id"]])
        self.assertGreaterEqual(self.metric("appointd_pg_commit_outcomes_learned_total"),
                                learned + 1, self.metrics_about("outcome", "retries"))
        self.assertEqual(self.server.audit().returncode, 0)

    def test_write_left_out_of_a_lost_merged_commit_is_never_told_it_committed(self):
        # Two bookings of overlapping times for one staff member, sent together, are merged
        # into one transaction with the second left out (deferred: a merged check cannot see the
        # first's row). When that transaction's COMMIT loses its connection and is found
        # committed, only the first committed: the second runs again and meets the first.
        for round_ in range(3):
            with self.subTest(round=round_):
                self.hold_commits()
                start = at(13, day=210 + round_)
                first = self.book_in_background(start, f"left-out-a-{round_}")
                second = self.book_in_background(start + (at(0, 15) - at(0)),
                                                 f"left-out-b-{round_}")
                for pid in self.backends_at_commit():
                    self.sql(f"SELECT pg_terminate_backend({pid})")
                self.release_commits()
                replies = [self.finished(first), self.finished(second)]
                statuses = sorted(r.status for r in replies)
                self.assertEqual(statuses, [201, 409], [str(r) for r in replies])
                booked = [a for a in self.staff_appointments()
                          if a["segments"][0]["start"].startswith(start.date().isoformat())]
                created = [r.body["id"] for r in replies if r.status == 201]
                self.assertEqual([a["id"] for a in booked], created)
        self.assertEqual(self.server.audit().returncode, 0)

    def test_server_frozen_at_commit_is_outcome_unknown_until_the_key_is_retried(self):
        unknown = self.metric("appointd_pg_commit_outcomes_unknown_total")
        self.hold_commits()
        pending = self.book_in_background(at(11, day=202), "outcome-frozen")
        self.backends_at_commit()
        self.pg.signal_all(signal.SIGSTOP)
        try:
            pending["thread"].join(30)
            self.assertFalse(pending["thread"].is_alive(), "no answer while the server is frozen")
            reply = self.finished(pending)
        finally:
            self.pg.signal_all(signal.SIGCONT)
        self.assertEqual(reply.status, 503, reply.body)
        self.assertEqual(reply.body["code"], "outcome_unknown")
        self.assertIn("Idempotency-Key", reply.body["detail"])
        self.assertTrue(reply.headers.get("retry-after"))
        # Within the round-trip timeout (1.5 s), the outcome wait (1.5 s, which also bounds
        # the lookup's own round trip) and one blocking connection attempt (connect_timeout 3 s).
        self.assertLess(pending["seconds"], 10)
        self.release_commits()
        self.assertGreaterEqual(self.metric("appointd_pg_commit_outcomes_unknown_total"),
                                unknown + 1)
        # The retry tells the truth: the first attempt had committed (its record was written),
        # so the key replays it; nothing is booked twice.
        deadline = time.monotonic() + 20
        while True:
            again = Client(self.server, self.co.key).post(
                "/v1/appointments", pending["body"], headers={"Idempotency-Key": "outcome-frozen"})
            if again.status != 503 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        self.assertEqual(again.status, 201, again.body)
        self.assertEqual(again.headers.get("idempotent-replayed"), "true")
        self.assertEqual([a["id"] for a in self.staff_appointments()], [again.body["id"]])
        self.assertEqual(self.server.audit().returncode, 0)


if __name__ == "__main__":
    unittest.main()
