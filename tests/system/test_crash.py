"""I5: every acknowledged write survives SIGKILL of the server and a restart, round after round.

Each round streams writes from several clients (bookings of new callers, cancels and reschedules
of their own earlier bookings), kills the server with SIGKILL mid-stream, restarts it, and checks
that every acknowledged write is there as acknowledged (at most each stream's one in-flight
write may have landed unacknowledged), that the audit is clean, and that the server takes writes.
APPOINTD_CRASH_ROUNDS sets the rounds (5 in ./test.sh; tests/crash_loop.sh runs many, on both
stores)."""
import http.client
import os
import signal
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Client, Company, ServerTestCase, at, iso, minutes, phone  # noqa: E402

ROUNDS = int(os.environ.get("APPOINTD_CRASH_ROUNDS", "5"))
STREAMS = 4            # client threads, each booking consecutive slots of its own staff member
STREAM_FOR = 1.0       # seconds of streaming before the kill
MIN_ACKED = 5          # a round that acknowledged fewer bookings proves nothing


class CrashTest(ServerTestCase):
    durability = "full"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.co = Company(cls.server, cls.platform_key)
        cls.br = cls.co.branch()
        cls.svc = cls.co.service(duration=30)
        cls.cust = cls.co.customer("+49 30 1234567")

    def stream(self, staff, acked, stop):
        """Books slot after slot until the server goes away; records every 201 body."""
        api = Client(self.server, self.co.key, timeout=5)
        try:
            self._stream(api, staff, acked, stop)
        finally:
            api.drop()

    def _stream(self, api, staff, acked, stop):
        # Slot j of the stream's own staff member: bookings never collide, and a reschedule
        # moves a booking to a slot of its own far later in the same calendar.
        mine = []
        for j in range(100_000):
            if stop.is_set():
                return
            try:
                if j % 5 == 4 and mine:  # cancel the previous booking
                    prev = mine.pop()
                    r = api.post(f"/v1/appointments/{prev['id']}/cancel",
                                 {"expected_version": prev["version"]})
                    want = 200
                elif j % 7 == 6 and mine:  # move the previous booking
                    prev = mine[-1]
                    r = api.post(f"/v1/appointments/{prev['id']}/reschedule",
                                 {"start": iso(at(6, day=200) + minutes(30 * j)),
                                  "expected_version": prev["version"]})
                    want = 200
                else:  # a new caller's booking
                    r = self.co.book_reply(
                        [self.co.seg(staff, self.svc, at(6) + minutes(30 * j))],
                        customer={"phone": phone(700000 + 1000 * staff["id"] + j),
                                  "name": "Caller"}, api=api)
                    want = 201
            except (OSError, http.client.HTTPException):  # refused/reset/cut: server gone
                return
            if r.status != want:
                acked.append(("unexpected", r))
                return
            acked.append(("ok", r.body))
            if want == 201:
                mine.append(r.body)
            elif r.body["status"] == "booked":
                mine[-1] = r.body

    def crash_round(self, n):
        staff = [self.co.staff(self.br, [self.svc]) for _ in range(STREAMS)]
        acked = [[] for _ in staff]
        stop = threading.Event()
        threads = [threading.Thread(target=self.stream, args=(s, a, stop), daemon=True)
                   for s, a in zip(staff, acked)]
        for t in threads:
            t.start()
        time.sleep(STREAM_FOR)
        try:
            self.server.kill(signal.SIGKILL)
        finally:
            stop.set()
            for t in threads:
                t.join(15)
        self.assertFalse(any(t.is_alive() for t in threads), "a client thread hung")
        unexpected = [r for a in acked for kind, r in a if kind == "unexpected"]
        self.assertEqual(unexpected, [], f"round {n}: non-201 reply while streaming")
        writes = [b for a in acked for _, b in a]
        self.kinds["cancel"] += sum(b["status"] == "cancelled" for b in writes)
        self.kinds["reschedule"] += sum(b["status"] == "booked" and b["version"] > 1
                                        for b in writes)
        self.kinds["book"] += sum(b["version"] == 1 for b in writes)
        self.assertGreaterEqual(len(writes), MIN_ACKED,
                                f"round {n}: only {len(writes)} writes before the kill")

        self.server.start(self.server.port)
        for s, a in zip(staff, acked):
            latest: dict[int, dict] = {}  # appointment id -> its last acknowledged state
            for _, b in a:
                latest[b["id"]] = b
            ahead = 0  # the stream's one in-flight write may have landed after its last ack
            for appt_id, b in latest.items():
                r = self.co.api.get(f"/v1/appointments/{appt_id}")
                self.assertStatus(r, 200, msg=f"round {n}: acknowledged {appt_id} lost")
                if r.body["version"] == b["version"]:
                    self.assertEqual(r.body["status"], b["status"], f"round {n}: {appt_id}")
                    self.assertSameSegments(r.body["segments"], b["segments"],
                                            f"round {n}: appointment {appt_id} changed")
                else:
                    self.assertEqual(r.body["version"], b["version"] + 1,
                                     f"round {n}: {appt_id} lost an acknowledged change")
                    ahead += 1
            listed = {x["id"] for x in self.co.all_appointments(staff_id=s["id"])}
            unacked = listed - set(latest)
            self.assertLessEqual(ahead + len(unacked), 1,
                                 f"round {n}: at most the one in-flight write may have landed "
                                 f"unacknowledged (ahead {ahead}, unknown {sorted(unacked)})")
        self.assertAuditClean()
        # The restarted server takes writes.
        self.co.book([self.co.seg(staff[0], self.svc, at(5))], customer_id=self.cust["id"])

    def test_acknowledged_bookings_survive_sigkill(self):
        self.kinds = {"book": 0, "cancel": 0, "reschedule": 0}
        for n in range(ROUNDS):
            with self.subTest(round=n):
                if not self.server.running:
                    self.server.start(self.server.port)
                self.crash_round(n)
        # The streams wrote every kind of change (else the rounds proved less than they say).
        self.assertTrue(all(self.kinds.values()), self.kinds)
        print(f"\ncrash rounds: {ROUNDS}, acknowledged writes: {self.kinds}", file=sys.stderr)


if __name__ == "__main__":
    unittest.main()
