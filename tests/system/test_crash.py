"""I5: every acknowledged booking survives SIGKILL of the server and a restart."""
import http.client
import os
import signal
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Client, Company, ServerTestCase, at, minutes  # noqa: E402

ROUNDS = 3
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
        for j in range(100_000):
            if stop.is_set():
                return
            try:
                r = self.co.book_reply([self.co.seg(staff, self.svc, at(6) + minutes(30 * j))],
                                       customer_id=self.cust["id"], api=api)
            except (OSError, http.client.HTTPException):  # refused/reset/cut: server gone
                return
            if r.status != 201:
                acked.append(("unexpected", r))
                return
            acked.append(("ok", r.body))

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
        bookings = [b for a in acked for _, b in a]
        self.assertGreaterEqual(len(bookings), MIN_ACKED,
                                f"round {n}: only {len(bookings)} bookings before the kill")

        self.server.start(self.server.port)
        for b in bookings:
            r = self.co.api.get(f"/v1/appointments/{b['id']}")
            self.assertStatus(r, 200, msg=f"round {n}: acknowledged booking {b['id']} lost")
            self.assertEqual(r.body["status"], "booked")
            self.assertEqual(r.body["version"], b["version"])
            self.assertSameSegments(r.body["segments"], b["segments"],
                                    f"round {n}: booking {b['id']} changed")
        for s, a in zip(staff, acked):
            listed = [x["id"] for x in self.co.all_appointments(staff_id=s["id"])]
            ids = [b["id"] for _, b in a]
            self.assertEqual(listed[:len(ids)], ids, f"round {n}: staff {s['id']} lists")
            self.assertLessEqual(len(listed) - len(ids), 1,
                                 "at most the one in-flight booking may exist unacknowledged")
        self.assertAuditClean()
        # The restarted server takes writes.
        self.co.book([self.co.seg(staff[0], self.svc, at(5))], customer_id=self.cust["id"])

    def test_acknowledged_bookings_survive_sigkill(self):
        for n in range(ROUNDS):
            with self.subTest(round=n):
                if not self.server.running:
                    self.server.start(self.server.port)
                self.crash_round(n)


if __name__ == "__main__":
    unittest.main()
