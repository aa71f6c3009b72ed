"""I1 and I2 under contention: many clients, each on its own connection, at the same moment."""
import os
import random
import sys
import unittest
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Company, ServerTestCase, at, blocked, find_overlaps, minutes,  # noqa: E402
                     overlaps, phone, phone_formats, run_concurrently)

CLIENTS = 64
TIMEOUT = 30.0


class RaceTest(ServerTestCase):
    threads = 4

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.co = Company(cls.server, cls.platform_key)
        cls.br = cls.co.branch()
        cls.svc = cls.co.service(duration=30)
        cls.buffered = cls.co.service(duration=30, before=5, after=10)
        cls.long = cls.co.service(duration=45)
        cls.cust = cls.co.customer(phone(0))

    def tearDown(self):
        # Whatever happened in the test, the store must still satisfy I1-I4.
        self.assertAuditClean()

    def book_all(self, segments_of):
        """CLIENTS concurrent bookings; segments_of(i) gives client i's segments.
        Returns the replies; asserts each is 201 or 409 slot_unavailable."""
        replies = run_concurrently(CLIENTS, lambda i: self.co.book_reply(
            segments_of(i), customer_id=self.cust["id"]), timeout=TIMEOUT, warm=self.co.api)
        odd = [r for r in replies if r.status not in (201, 409)]
        self.assertEqual(odd, [], f"unexpected statuses {Counter(r.status for r in replies)}: "
                         f"{odd[0] if odd else ''}")
        for r in replies:
            if r.status == 409:
                self.assertProblem(r, 409, "slot_unavailable")
        return replies

    def assertStaffNonOverlapping(self, staff_ids, services):
        """Pairwise non-overlap of the blocked intervals of every booked segment per staff,
        as the server lists them."""
        for sid in staff_ids:
            items = self.co.appointments(staff_id=sid, status="booked")
            intervals = [((a["id"], s["id"]), blocked(s, services[s["service_id"]]))
                         for a in items for s in a["segments"] if s["staff_id"] == sid]
            self.assertEqual(find_overlaps(intervals), [], f"staff {sid}: I1 broken")

    def test_same_slot(self):
        st = self.co.staff(self.br, [self.svc])
        replies = self.book_all(lambda i: [self.co.seg(st, self.svc, at(10))])
        winners = [r for r in replies if r.status == 201]
        self.assertEqual(len(winners), 1, Counter(r.status for r in replies))
        self.assertEqual(len(replies) - len(winners), CLIENTS - 1)
        booked = self.co.appointments(staff_id=st["id"])
        self.assertEqual([a["id"] for a in booked], [winners[0].body["id"]])

    def test_overlapping_slots(self):
        seed = random.randrange(1 << 30)
        rnd = random.Random(seed)
        svc = self.buffered
        st = self.co.staff(self.br, [svc])
        starts = [at(10) + minutes(5 * rnd.randrange(24)) for _ in range(CLIENTS)]  # 10:00-11:55
        replies = self.book_all(lambda i: [self.co.seg(st, svc, starts[i])])
        msg = f"seed {seed}"

        winners = [r.body for r in replies if r.status == 201]
        self.assertGreaterEqual(len(winners), 1, msg)
        won = [(w["id"], blocked(w["segments"][0], svc)) for w in winners]
        for w, i in zip(winners, [i for i, r in enumerate(replies) if r.status == 201]):
            self.assertEqual(w["segments"][0]["start"][:16], starts[i].strftime("%Y-%m-%dT%H:%M"))
        self.assertEqual(find_overlaps(won), [], f"{msg}: winners overlap")
        for i, r in enumerate(replies):
            if r.status == 409:
                wanted = (starts[i] - minutes(5), starts[i] + minutes(40))
                self.assertTrue(any(overlaps(wanted, b) for _, b in won),
                                f"{msg}: client {i} at {starts[i]} got 409 but overlaps no winner")
        listed = {a["id"] for a in self.co.appointments(staff_id=st["id"])}
        self.assertEqual(listed, {w["id"] for w in winners}, msg)
        self.assertStaffNonOverlapping([st["id"]], {svc["id"]: svc})

    def test_crossing_composites(self):
        # Client i books, in group g = i % 8 (groups 2 h apart), either
        #   even: [A 45 min at T, B 45 min at T+30]   or   odd: [B at T, A at T+30].
        # Any two clients of one group collide on A or B, so exactly one per group can win,
        # and opposite staff orders must not deadlock.
        svc = self.long
        a = self.co.staff(self.br, [svc])
        b = self.co.staff(self.br, [svc])
        groups = 8

        def segments_of(i):
            t = at(8) + minutes(120 * (i % groups))
            first, second = (a, b) if (i // groups) % 2 == 0 else (b, a)
            return [self.co.seg(first, svc, t), self.co.seg(second, svc, t + minutes(30))]

        replies = self.book_all(segments_of)
        per_group = Counter(i % groups for i, r in enumerate(replies) if r.status == 201)
        self.assertEqual(per_group, Counter(range(groups)), "exactly one winner per group")
        for i, r in enumerate(replies):
            if r.status == 201:
                self.assertEqual(len(r.body["segments"]), 2)
        self.assertStaffNonOverlapping([a["id"], b["id"]], {svc["id"]: svc})
        # Losers left nothing behind: each staff member has exactly the winners' segments.
        for s in (a, b):
            self.assertEqual(len(self.co.appointments(staff_id=s["id"])), groups)

    def test_customer_storm(self):
        e164, spellings = phone_formats("7654321")
        replies = run_concurrently(CLIENTS, lambda i: self.co.api.put(
            "/v1/customers", {"phone": spellings[i % 3], "name": f"Caller {i}"}),
            timeout=TIMEOUT, warm=self.co.api)
        statuses = Counter(r.status for r in replies)
        self.assertEqual(statuses, Counter({201: 1, 200: CLIENTS - 1}),
                         str(next((r for r in replies if r.status not in (200, 201)), "")))
        ids = {r.body["id"] for r in replies}
        self.assertEqual(len(ids), 1, f"I2 broken: {len(ids)} customers for one number")
        self.assertEqual({r.body["phone"] for r in replies}, {e164})
        found = self.co.api.get("/v1/customers", query={"phone": e164})
        self.assertStatus(found, 200)
        self.assertEqual(found.body["id"], ids.pop())


if __name__ == "__main__":
    unittest.main()
