"""I7: a key of company A can neither read nor change anything of company B (404, never 403)."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Company, ServerTestCase, at, iso, phone  # noqa: E402


class IsolationTest(ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.a = Company(cls.server, cls.platform_key, name="A")
        cls.b = Company(cls.server, cls.platform_key, name="B")
        for co in (cls.a, cls.b):
            co.br = co.branch()
            co.svc = co.service(duration=30)
            co.st = co.staff(co.br, [co.svc])
            co.cust = co.customer(phone(1), "Same number in both companies")
        cls.b_appt = cls.b.book([cls.b.seg(cls.b.st, cls.b.svc, at(9))],
                                customer_id=cls.b.cust["id"])
        cls.a_appt = cls.a.book([cls.a.seg(cls.a.st, cls.a.svc, at(9))],
                                customer_id=cls.a.cust["id"])

    def assertNotFound(self, reply, msg=""):
        self.assertProblem(reply, 404, "not_found", msg=msg)

    def assertBUnchanged(self):
        got = self.b.appointment(self.b_appt["id"])
        self.assertEqual((got["status"], got["version"]), ("booked", 1))
        self.assertSameSegments(got["segments"], self.b_appt["segments"])

    def test_same_phone_is_a_different_customer_per_company(self):
        self.assertNotEqual(self.a.cust["id"], self.b.cust["id"])
        found = self.a.api.get("/v1/customers", query={"phone": phone(1)})
        self.assertStatus(found, 200)
        self.assertEqual(found.body["id"], self.a.cust["id"])

    def test_ids_of_b_in_paths_are_not_found(self):
        b = self.b
        for path in (f"/v1/branches/{b.br['id']}", f"/v1/services/{b.svc['id']}",
                     f"/v1/staff/{b.st['id']}", f"/v1/customers/{b.cust['id']}",
                     f"/v1/appointments/{self.b_appt['id']}",
                     f"/v1/appointments/{self.b_appt['id']}/events"):
            with self.subTest(path=path):
                self.assertNotFound(self.a.api.get(path), path)
                # and B itself does see it (the id is real)
                self.assertStatus(b.api.get(path), 200)

    def test_ids_of_b_in_bodies_are_not_found(self):
        a, b = self.a, self.b
        before = a.appointments()
        cases = {
            "b staff": a.book_reply([a.seg(b.st, a.svc, at(11))], customer_id=a.cust["id"]),
            "b service": a.book_reply([a.seg(a.st, b.svc, at(11))], customer_id=a.cust["id"]),
            "b customer": a.book_reply([a.seg(a.st, a.svc, at(11))], customer_id=b.cust["id"]),
            "b staff, 2nd segment": a.book_reply([a.seg(a.st, a.svc, at(11)),
                                                  a.seg(b.st, b.svc, at(12))],
                                                 customer_id=a.cust["id"]),
            "staff in b branch": a.api.post("/v1/staff", {"name": "X", "branch_id": b.br["id"],
                                                          "service_ids": [a.svc["id"]]}),
            "staff with b service": a.api.post("/v1/staff", {
                "name": "X", "branch_id": a.br["id"], "service_ids": [b.svc["id"]]}),
            "reschedule onto b staff": a.api.post(
                f"/v1/appointments/{self.a_appt['id']}/reschedule",
                {"segments": [a.seg(b.st, a.svc, at(13))]}),
        }
        for name, r in cases.items():
            with self.subTest(case=name):
                self.assertNotFound(r, name)
        self.assertEqual(a.appointments(), before)
        self.assertEqual(len(b.items("/v1/staff")), 1, "nothing created in B either")
        self.assertEqual([x["id"] for x in a.items("/v1/staff")], [a.st["id"]])
        # The single view also carries the sync state (docs/sync.md); the list does not.
        one = {k: v for k, v in b.appointment(self.b_appt["id"]).items() if k != "sync"}
        self.assertEqual(b.appointments(), [one])

    def test_changes_to_b_appointment_are_not_found(self):
        appt = self.b_appt["id"]
        self.assertNotFound(self.a.api.post(f"/v1/appointments/{appt}/cancel",
                                            {"expected_version": 1}))
        self.assertNotFound(self.a.api.post(f"/v1/appointments/{appt}/cancel", {}))
        self.assertNotFound(self.a.api.post(f"/v1/appointments/{appt}/reschedule",
                                            {"expected_version": 1, "start": iso(at(15))}))
        self.assertBUnchanged()
        # B's staff is still busy at B's time: A's attempts freed nothing.
        self.assertProblem(self.b.book_reply([self.b.seg(self.b.st, self.b.svc, at(9))],
                                             customer_id=self.b.cust["id"]),
                           409, "slot_unavailable")
        self.assertBUnchanged()

    def test_lists_never_show_b_rows(self):
        a, b = self.a, self.b
        for path, b_id in (("/v1/branches", b.br["id"]), ("/v1/services", b.svc["id"]),
                           ("/v1/staff", b.st["id"])):
            with self.subTest(path=path):
                a_ids = {x["id"] for x in a.items(path)}
                b_ids = {x["id"] for x in b.items(path)}
                self.assertNotIn(b_id, a_ids)
                self.assertFalse(a_ids & b_ids, f"{path}: shared ids {a_ids & b_ids}")
        a_appts = {x["id"] for x in a.appointments()}
        self.assertIn(self.a_appt["id"], a_appts)
        self.assertNotIn(self.b_appt["id"], a_appts)
        # Filtering A's list by B's staff shows nothing of B (404 or an empty list).
        r = a.api.get("/v1/appointments", query={"staff_id": b.st["id"], "from": iso(at(0)),
                                                 "to": iso(at(24))})
        self.assertStatus(r, 200, 404)
        if r.status == 200:
            self.assertEqual(r.body["items"], [])

    def test_company_endpoint_is_own_company(self):
        for co in (self.a, self.b):
            r = co.api.get("/v1/company")
            self.assertStatus(r, 200)
            self.assertEqual(r.body["id"], co.id)


if __name__ == "__main__":
    unittest.main()
