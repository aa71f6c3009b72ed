"""I4: an Idempotency-Key (company, key) has exactly one outcome; a replay returns it unchanged."""
import json
import os
import sys
import unittest
import uuid
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Company, ServerTestCase, at, phone, run_concurrently  # noqa: E402

CLIENTS = 32


def new_key() -> str:
    return f"systest-{uuid.uuid4()}"


def replayed(reply) -> bool:
    return reply.headers.get("idempotent-replayed", "").lower() == "true"


class IdempotencyTest(ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.a = Company(cls.server, cls.platform_key, name="A")
        cls.b = Company(cls.server, cls.platform_key, name="B")
        for co in (cls.a, cls.b):
            co.br = co.branch()
            co.svc = co.service(duration=30)
            co.cust = co.customer(phone(1))

    def tearDown(self):
        self.assertAuditClean()

    def body(self, co, staff, start):
        return {"customer_id": co.cust["id"], "segments": [co.seg(staff, co.svc, start)]}

    def post(self, co, body, key, raw=None):
        return co.api.post("/v1/appointments", raw if raw is not None else body,
                           headers={"Idempotency-Key": key})

    def test_concurrent_identical_requests_book_once(self):
        st = self.a.staff(self.a.br, [self.a.svc])
        key, body = new_key(), self.body(self.a, st, at(10))
        replies = run_concurrently(CLIENTS, lambda i: self.post(self.a, body, key),
                                   timeout=30, warm=self.a.api)
        statuses = Counter(r.status for r in replies)
        self.assertEqual(statuses, Counter({201: CLIENTS}),
                         str(next((r for r in replies if r.status != 201), "")))
        self.assertEqual(len({json.dumps(r.body, sort_keys=True) for r in replies}), 1,
                         "replays differ from the original")
        self.assertGreaterEqual(sum(map(replayed, replies)), CLIENTS - 1)
        self.assertLessEqual(sum(map(replayed, replies)), CLIENTS - 1,
                             "the original reply is not a replay")
        self.assertEqual([a["id"] for a in self.a.appointments(staff_id=st["id"])],
                         [replies[0].body["id"]])

    def test_replay_after_completion_and_semantic_comparison(self):
        st = self.a.staff(self.a.br, [self.a.svc])
        key, body = new_key(), self.body(self.a, st, at(11))
        first = self.post(self.a, body, key)
        self.assertStatus(first, 201)
        self.assertFalse(replayed(first))
        # Same JSON, other member order and whitespace: the same request.
        reordered = json.dumps(dict(reversed(list(body.items()))), indent=2)
        again = self.post(self.a, None, key, raw=reordered)
        self.assertStatus(again, 201)
        self.assertTrue(replayed(again))
        self.assertEqual(again.body, first.body)
        self.assertEqual(len(self.a.appointments(staff_id=st["id"])), 1)

    def test_same_key_other_body_is_rejected(self):
        st = self.a.staff(self.a.br, [self.a.svc])
        key = new_key()
        first = self.post(self.a, self.body(self.a, st, at(12)), key)
        self.assertStatus(first, 201)
        other = self.post(self.a, self.body(self.a, st, at(13)), key)
        self.assertProblem(other, 422, "idempotency_key_reused")
        self.assertEqual([a["id"] for a in self.a.appointments(staff_id=st["id"])],
                         [first.body["id"]])
        # Same key on another path is another request too.
        cancel = self.a.api.post(f"/v1/appointments/{first.body['id']}/cancel", {},
                                 headers={"Idempotency-Key": key})
        self.assertProblem(cancel, 422, "idempotency_key_reused")
        self.assertEqual(self.a.appointment(first.body["id"])["status"], "booked")

    def test_keys_are_per_company(self):
        key = new_key()
        sa = self.a.staff(self.a.br, [self.a.svc])
        sb = self.b.staff(self.b.br, [self.b.svc])
        ra = self.post(self.a, self.body(self.a, sa, at(14)), key)
        rb = self.post(self.b, self.body(self.b, sb, at(15)), key)
        self.assertStatus(ra, 201)
        self.assertStatus(rb, 201)
        self.assertFalse(replayed(rb), "B's first use of the key is not a replay of A's")
        self.assertNotEqual(ra.body["id"], rb.body["id"])
        self.assertEqual([a["id"] for a in self.b.appointments()], [rb.body["id"]])
        # Each company replays its own outcome.
        ra2 = self.post(self.a, self.body(self.a, sa, at(14)), key)
        self.assertTrue(replayed(ra2))
        self.assertEqual(ra2.body, ra.body)
        rb2 = self.post(self.b, self.body(self.b, sb, at(15)), key)
        self.assertTrue(replayed(rb2))
        self.assertEqual(rb2.body, rb.body)

    def test_stored_conflict_replays_as_conflict(self):
        st = self.a.staff(self.a.br, [self.a.svc])
        blocker = self.a.book(self.body(self.a, st, at(16))["segments"],
                              customer_id=self.a.cust["id"])
        key, body = new_key(), self.body(self.a, st, at(16))
        first = self.post(self.a, body, key)
        self.assertProblem(first, 409, "slot_unavailable")
        # Free the slot: a fresh request would now succeed, the keyed one must not.
        self.assertStatus(self.a.api.post(f"/v1/appointments/{blocker['id']}/cancel", {}), 200)
        again = self.post(self.a, body, key)
        self.assertProblem(again, 409, "slot_unavailable")
        self.assertTrue(replayed(again))
        self.assertEqual(again.body, first.body)
        self.assertEqual(self.a.appointments(staff_id=st["id"], status="booked"), [])
        self.assertStatus(self.post(self.a, body, new_key()), 201)

    def test_rejected_request_is_not_stored(self):
        st = self.a.staff(self.a.br, [self.a.svc])
        key = new_key()
        bad = self.post(self.a, {"customer_id": self.a.cust["id"], "segments": "x"}, key)
        self.assertProblem(bad, 422, "validation_failed")
        self.assertFalse(replayed(bad))
        good = self.post(self.a, self.body(self.a, st, at(17)), key)
        self.assertStatus(good, 201)
        self.assertFalse(replayed(good))

    def test_customer_upsert_with_key(self):
        key = new_key()
        body = {"phone": phone(50), "name": "Keyed"}
        first = self.a.api.put("/v1/customers", body, headers={"Idempotency-Key": key})
        self.assertStatus(first, 201)
        again = self.a.api.put("/v1/customers", body, headers={"Idempotency-Key": key})
        self.assertStatus(again, 201, msg="a replay returns the stored status")
        self.assertTrue(replayed(again))
        self.assertEqual(again.body, first.body)


if __name__ == "__main__":
    unittest.main()
