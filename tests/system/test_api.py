"""The docs/api.md contract, walked through end to end against the real binary."""
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Client, Company, ServerTestCase, at, iso, minutes, overlaps,  # noqa: E402
                     parse_instant, phone, phone_formats, seg_interval, test_backend)


class ApiTest(ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.co = Company(cls.server, cls.platform_key, name="Praxis Dr. Weber")
        cls.branch = cls.co.branch(name="Mitte", timezone="Europe/Berlin", phone="+49 30 1234567")
        cls.cut = cls.co.service(duration=30)                 # no buffers
        cls.cut_buffered = cls.co.service(duration=30, after=10)
        cls.cut_before = cls.co.service(duration=30, before=15)

    def new_staff(self, *services):
        return self.co.staff(self.branch, list(services) or [self.cut])

    # -- companies and keys ----------------------------------------------------------------
    def test_create_company_needs_platform_key(self):
        body = {"name": "Salon Kamm", "timezone": "Europe/Berlin", "country": "DE"}
        r = self.platform.post("/v1/companies", body)
        self.assertStatus(r, 201)
        c = r.body
        self.assertIsInstance(c["id"], int)
        self.assertGreater(c["id"], 0)
        self.assertEqual((c["name"], c["timezone"], c["country"]),
                         ("Salon Kamm", "Europe/Berlin", "DE"))
        self.assertIsInstance(c["api_key"], str)
        self.assertTrue(c["api_key"])
        self.assertIn("created_at", c)
        # The new key works and sees its own company.
        me = Client(self.server, c["api_key"]).get("/v1/company")
        self.assertStatus(me, 200)
        self.assertEqual(me.body["id"], c["id"])
        self.assertNotIn("api_key", me.body, "api_key must be shown only once")

        self.assertProblem(self.co.api.post("/v1/companies", body), 403, "forbidden")
        self.assertProblem(self.anon.post("/v1/companies", body), 401, "unauthorized")
        self.assertProblem(self.platform.post("/v1/companies", body, key="ak_not_a_real_key"),
                           401, "unauthorized")
        self.assertProblem(self.anon.get("/v1/branches"), 401, "unauthorized")

    def test_platform_key_created_while_serving(self):
        key = self.server.create_platform_key()  # a second process writing the live WAL db
        self.assertNotEqual(key, self.platform_key)
        r = Client(self.server, key).post(
            "/v1/companies", {"name": "Late key", "timezone": "Europe/Vienna", "country": "AT"})
        self.assertStatus(r, 201)

    # -- branches, services, staff ---------------------------------------------------------
    def test_branches(self):
        b = self.co.branch(name="Kreuzberg")
        self.assertEqual(b["name"], "Kreuzberg")
        self.assertEqual(b["timezone"], "Europe/Berlin", "timezone defaults to the company's")
        self.assertIn("created_at", b)
        got = self.co.api.get(f"/v1/branches/{b['id']}")
        self.assertStatus(got, 200)
        self.assertEqual(got.body["id"], b["id"])
        self.assertEqual(got.body["name"], "Kreuzberg")
        ids = [x["id"] for x in self.co.items("/v1/branches")]
        self.assertIn(b["id"], ids)
        self.assertIn(self.branch["id"], ids)

    def test_services(self):
        s = self.co.service(duration=45, before=5, after=15, name="Colour")
        self.assertEqual((s["name"], s["duration_minutes"], s["buffer_before_minutes"],
                          s["buffer_after_minutes"]), ("Colour", 45, 5, 15))
        got = self.co.api.get(f"/v1/services/{s['id']}")
        self.assertStatus(got, 200)
        self.assertEqual(got.body["duration_minutes"], 45)
        self.assertIn(s["id"], [x["id"] for x in self.co.items("/v1/services")])

    def test_staff(self):
        st = self.co.staff(self.branch, [self.cut, self.cut_buffered], name="Anna",
                           email="anna@example.com")
        self.assertEqual(st["name"], "Anna")
        self.assertEqual(st["branch_id"], self.branch["id"])
        self.assertEqual(sorted(st["service_ids"]), sorted([self.cut["id"],
                                                            self.cut_buffered["id"]]))
        self.assertIs(st["active"], True)
        got = self.co.api.get(f"/v1/staff/{st['id']}")
        self.assertStatus(got, 200)
        self.assertEqual(sorted(got.body["service_ids"]), sorted(st["service_ids"]))
        self.assertIn(st["id"], [x["id"] for x in self.co.items("/v1/staff")])

    # -- customers -------------------------------------------------------------------------
    def test_customer_upsert_normalises_phone(self):
        e164, (intl, national, zeros) = phone_formats("1234567")
        first = self.co.api.put("/v1/customers", {"phone": intl, "name": "Max",
                                                  "email": "max@example.com"})
        self.assertStatus(first, 201)
        self.assertEqual(first.body["phone"], e164)
        self.assertEqual(first.body["name"], "Max")
        for spelling in (national, zeros, intl):
            again = self.co.api.put("/v1/customers", {"phone": spelling, "name": "Max"})
            self.assertStatus(again, 200, msg=spelling)
            self.assertEqual(again.body["id"], first.body["id"], spelling)
            self.assertEqual(again.body["phone"], e164, spelling)
        for spelling in (national, intl, e164):
            found = self.co.api.get("/v1/customers", query={"phone": spelling})
            self.assertStatus(found, 200, msg=spelling)
            self.assertEqual(found.body["id"], first.body["id"])
        by_id = self.co.api.get(f"/v1/customers/{first.body['id']}")
        self.assertStatus(by_id, 200)
        self.assertEqual(by_id.body["phone"], e164)
        self.assertProblem(self.co.api.get("/v1/customers", query={"phone": phone(777)}),
                           404, "not_found")

    def test_booking_fills_in_a_returning_customers_empty_name_and_email(self):
        # The upsert of a booking: a returning customer keeps the name and email they have, and
        # gets the ones they lack (on PostgreSQL also when the probe found the customer).
        anna = self.new_staff()
        e164 = phone(4242)

        def book(hour, **customer):
            r = self.co.book_reply([{"staff_id": anna["id"], "service_id": self.cut["id"],
                                     "start": f"2030-01-08T{hour:02d}:00:00Z"}],
                                   customer={"phone": e164, **customer})
            self.assertStatus(r, 201)
            got = self.co.api.get(f"/v1/customers/{r.body['customer_id']}")
            self.assertStatus(got, 200)
            return got.body

        first = book(8)
        self.assertEqual((first["name"], first["email"]), ("", ""))
        filled = book(9, name="Ada", email="ada@example.com")
        self.assertEqual(filled["id"], first["id"])
        self.assertEqual((filled["name"], filled["email"]), ("Ada", "ada@example.com"))
        kept = book(10, name="Bob", email="bob@example.com")
        self.assertEqual(kept["id"], first["id"])
        self.assertEqual((kept["name"], kept["email"]), ("Ada", "ada@example.com"))

    # -- appointments ----------------------------------------------------------------------
    def test_create_get_and_list(self):
        anna, ben = self.new_staff(), self.new_staff()
        # Offset input, UTC output.
        r = self.co.book_reply([{"staff_id": anna["id"], "service_id": self.cut["id"],
                                 "start": "2030-01-07T10:00:00+01:00"}],
                               customer={"phone": "+49 30 1234999", "name": "Eva"},
                               notes="first visit")
        self.assertStatus(r, 201)
        a = r.body
        self.assertEqual(a["status"], "booked")
        self.assertEqual(a["version"], 1)
        self.assertEqual(a["branch_id"], self.branch["id"])
        self.assertEqual(a["notes"], "first visit")
        self.assertEqual(len(a["segments"]), 1)
        seg = a["segments"][0]
        self.assertEqual((seg["staff_id"], seg["service_id"]), (anna["id"], self.cut["id"]))
        self.assertEqual(seg["start"], "2030-01-07T09:00:00Z")
        self.assertEqual(seg["end"], "2030-01-07T09:30:00Z")
        cust = self.co.api.get("/v1/customers", query={"phone": "+49301234999"})
        self.assertStatus(cust, 200)
        self.assertEqual(a["customer_id"], cust.body["id"])

        got = self.co.appointment(a["id"])
        self.assertEqual(got["id"], a["id"])
        self.assertEqual(got["version"], 1)
        self.assertSameSegments(got["segments"], a["segments"])

        b = self.co.book([self.co.seg(ben, self.cut, at(11))], customer_id=a["customer_id"])
        ids = lambda items: [x["id"] for x in items]  # noqa: E731
        self.assertEqual(ids(self.co.appointments(staff_id=anna["id"])), [a["id"]])
        self.assertEqual(ids(self.co.appointments(staff_id=ben["id"])), [b["id"]])
        both = ids(self.co.appointments(**{"from": iso(at(9)), "to": iso(at(12))}))
        self.assertIn(a["id"], both)
        self.assertIn(b["id"], both)
        self.assertLess(both.index(a["id"]), both.index(b["id"]), "oldest first")
        # Half-open: a window ending at 09:00 or starting at 09:30 misses [09:00, 09:30).
        self.assertEqual(ids(self.co.appointments(staff_id=anna["id"], **{
            "from": iso(at(8)), "to": iso(at(9))})), [])
        self.assertEqual(ids(self.co.appointments(staff_id=anna["id"], **{
            "from": iso(at(9, 30)), "to": iso(at(10))})), [])
        self.assertEqual(ids(self.co.appointments(staff_id=anna["id"], **{
            "from": iso(at(9, 29)), "to": iso(at(10))})), [a["id"]])
        self.assertEqual(ids(self.co.appointments(staff_id=anna["id"], status="cancelled")), [])
        self.assertEqual(ids(self.co.appointments(staff_id=anna["id"], status="booked")),
                         [a["id"]])
        self.assertEqual(len(self.co.appointments(limit=1)), 1)

    def test_cancel_frees_the_slot(self):
        st = self.new_staff()
        a = self.co.book([self.co.seg(st, self.cut, at(9))])
        r = self.co.api.post(f"/v1/appointments/{a['id']}/cancel",
                             {"expected_version": 1, "reason": "ill"})
        self.assertStatus(r, 200)
        self.assertEqual(r.body["status"], "cancelled")
        self.assertEqual(r.body["version"], 2)
        self.assertEqual(self.co.appointment(a["id"])["status"], "cancelled")
        again = self.co.book_reply([self.co.seg(st, self.cut, at(9))])
        self.assertStatus(again, 201, msg="a cancelled appointment's time is free again")
        twice = self.co.api.post(f"/v1/appointments/{a['id']}/cancel", {})
        self.assertProblem(twice, 409, "conflict")
        self.assertEqual(self.co.appointment(a["id"])["version"], 2)
        cancelled = [x["id"] for x in self.co.appointments(staff_id=st["id"], status="cancelled")]
        self.assertEqual(cancelled, [a["id"]])

    def test_reschedule_by_start(self):
        st = self.new_staff()
        a = self.co.book([self.co.seg(st, self.cut, at(10))])
        # Onto a time overlapping its own old time: allowed.
        r = self.co.api.post(f"/v1/appointments/{a['id']}/reschedule",
                             {"expected_version": 1, "start": iso(at(10, 15))})
        self.assertStatus(r, 200)
        self.assertEqual(r.body["version"], 2)
        self.assertEqual(r.body["status"], "booked")
        self.assertEqual(len(r.body["segments"]), 1)
        self.assertEqual(r.body["segments"][0]["start"], iso(at(10, 15)))
        self.assertEqual(r.body["segments"][0]["end"], iso(at(10, 45)))
        # The freed part of the old time is bookable again (10:00 would overlap 10:15).
        self.assertStatus(self.co.book_reply([self.co.seg(st, self.cut, at(9, 45))]), 201)

        other = self.co.book([self.co.seg(st, self.cut, at(12))])
        clash = self.co.api.post(f"/v1/appointments/{a['id']}/reschedule",
                                 {"expected_version": 2, "start": iso(at(12, 10))})
        body = self.assertProblem(clash, 409, "slot_unavailable")
        self.assertTrue(body.get("conflicts"), f"409 lists its conflicts: {clash}")
        # The old times stay booked.
        after = self.co.appointment(a["id"])
        self.assertEqual(after["version"], 2)
        self.assertEqual(after["segments"][0]["start"], iso(at(10, 15)))
        self.assertProblem(self.co.book_reply([self.co.seg(st, self.cut, at(10, 15))]),
                           409, "slot_unavailable")
        self.assertEqual(self.co.appointment(other["id"])["version"], 1)

    def test_reschedule_with_segments(self):
        st, st2 = self.new_staff(), self.new_staff()
        a = self.co.book([self.co.seg(st, self.cut, at(14))])
        r = self.co.api.post(f"/v1/appointments/{a['id']}/reschedule",
                             {"expected_version": 1,
                              "segments": [self.co.seg(st2, self.cut, at(15))]})
        self.assertStatus(r, 200)
        self.assertEqual(r.body["version"], 2)
        self.assertEqual([(s["staff_id"], s["start"]) for s in r.body["segments"]],
                         [(st2["id"], iso(at(15)))])
        # The old staff member is free at 14:00 again, the new one is taken at 15:00.
        self.assertStatus(self.co.book_reply([self.co.seg(st, self.cut, at(14))]), 201)
        self.assertProblem(self.co.book_reply([self.co.seg(st2, self.cut, at(15))]),
                           409, "slot_unavailable")

    def test_expected_version_mismatch(self):
        st = self.new_staff()
        a = self.co.book([self.co.seg(st, self.cut, at(16))])
        for action, body in (("cancel", {"expected_version": 7}),
                             ("reschedule", {"expected_version": 2, "start": iso(at(17))})):
            r = self.co.api.post(f"/v1/appointments/{a['id']}/{action}", body)
            p = self.assertProblem(r, 412, "version_mismatch", msg=action)
            self.assertEqual(p.get("current_version"), 1, f"{action}: {r}")
        got = self.co.appointment(a["id"])
        self.assertEqual((got["status"], got["version"]), ("booked", 1))
        self.assertEqual(got["segments"][0]["start"], iso(at(16)))

    def test_events_history(self):
        st = self.new_staff()
        a = self.co.book([self.co.seg(st, self.cut, at(8))])
        self.assertStatus(self.co.api.post(f"/v1/appointments/{a['id']}/reschedule",
                                           {"expected_version": 1, "start": iso(at(8, 30))}), 200)
        self.assertStatus(self.co.api.post(f"/v1/appointments/{a['id']}/cancel",
                                           {"expected_version": 2}), 200)
        r = self.co.api.get(f"/v1/appointments/{a['id']}/events")
        self.assertStatus(r, 200)
        items = r.body["items"]
        self.assertEqual([e["kind"] for e in items], ["appointment.booked",
                                                      "appointment.rescheduled",
                                                      "appointment.cancelled"])
        ids = [e["id"] for e in items]
        self.assertEqual(ids, sorted(set(ids)))
        for e in items:
            self.assertIn("payload", e)
            self.assertIn("created_at", e)

    def test_buffer_after(self):
        st = self.new_staff(self.cut, self.cut_buffered)
        first = self.co.book([self.co.seg(st, self.cut_buffered, at(12))])
        self.assertEqual(first["segments"][0]["end"], iso(at(12, 30)))
        at_end = self.co.book_reply([self.co.seg(st, self.cut, at(12, 30))])
        p = self.assertProblem(at_end, 409, "slot_unavailable")
        self.assertTrue(p.get("conflicts"), str(at_end))
        c = p["conflicts"][0]
        self.assertEqual(c.get("segment_index"), 0, str(at_end))
        self.assertEqual(c.get("staff_id"), st["id"], str(at_end))
        alternatives = p.get("alternatives")
        self.assertIsInstance(alternatives, list, str(at_end))
        self.assertTrue(1 <= len(alternatives) <= 5, str(at_end))
        for alt in alternatives:
            self.assertEqual(alt["service_id"], self.cut["id"], str(alt))
            self.assertEqual(parse_instant(alt["end"]) - parse_instant(alt["start"]), minutes(30))
            if alt["staff_id"] == st["id"]:
                self.assertFalse(overlaps(seg_interval(alt), (at(12), at(12, 40))),
                                 f"alternative {alt} collides with the booking that blocks")
        self.assertStatus(self.co.book_reply([self.co.seg(st, self.cut, at(12, 39))]), 409)
        self.assertStatus(self.co.book_reply([self.co.seg(st, self.cut, at(12, 40))]), 201)

    def test_alternatives_are_bookable(self):
        st = self.new_staff()
        self.co.book([self.co.seg(st, self.cut, at(7))])
        r = self.co.book_reply([self.co.seg(st, self.cut, at(7, 10))])
        p = self.assertProblem(r, 409, "slot_unavailable")
        self.assertTrue(p.get("alternatives"), str(r))
        alt = p["alternatives"][0]  # possibly another staff member performing the service
        again = self.co.book_reply([{"staff_id": alt["staff_id"],
                                     "service_id": alt["service_id"], "start": alt["start"]}])
        self.assertStatus(again, 201, msg=f"alternative {alt} was offered as free")
        self.assertEqual(again.body["segments"][0]["end"], alt["end"])

    def test_buffer_before(self):
        st = self.new_staff(self.cut, self.cut_before)
        self.co.book([self.co.seg(st, self.cut_before, at(14))])  # blocks [13:45, 14:30)
        self.assertProblem(self.co.book_reply([self.co.seg(st, self.cut, at(13, 20))]),
                           409, "slot_unavailable")
        self.assertStatus(self.co.book_reply([self.co.seg(st, self.cut, at(13, 15))]), 201)

    def test_explicit_end(self):
        st = self.new_staff()
        a = self.co.book([self.co.seg(st, self.cut, at(18), at(19, 30))])
        self.assertEqual(a["segments"][0]["end"], iso(at(19, 30)))
        self.assertStatus(self.co.book_reply([self.co.seg(st, self.cut, at(19))]), 409)

    def test_composite_all_or_nothing(self):
        anna, ben = self.new_staff(), self.new_staff()
        ok = self.co.book([self.co.seg(anna, self.cut, at(9)), self.co.seg(ben, self.cut,
                                                                            at(9, 30))])
        self.assertEqual([(s["staff_id"], s["start"]) for s in ok["segments"]],
                         [(anna["id"], iso(at(9))), (ben["id"], iso(at(9, 30)))])
        self.assertEqual(len({s["id"] for s in ok["segments"]}), 2)

        blocker = self.co.book([self.co.seg(ben, self.cut, at(11, 30))])
        before = self.co.appointments()
        r = self.co.book_reply([self.co.seg(anna, self.cut, at(11)),
                                self.co.seg(ben, self.cut, at(11, 30))])
        p = self.assertProblem(r, 409, "slot_unavailable")
        self.assertEqual([(c.get("segment_index"), c.get("staff_id")) for c in p["conflicts"]],
                         [(1, ben["id"])], str(r))
        self.assertEqual(self.co.appointments(), before, "a failed composite wrote nothing")
        # The first segment's time was not booked.
        self.assertStatus(self.co.book_reply([self.co.seg(anna, self.cut, at(11))]), 201)
        self.assertEqual(self.co.appointment(blocker["id"])["status"], "booked")

    def test_staff_must_perform_the_service(self):
        st = self.new_staff(self.cut)
        before = self.co.appointments()
        r = self.co.book_reply([self.co.seg(st, self.cut_buffered, at(20))])
        self.assertProblem(r, 422)
        self.assertEqual(self.co.appointments(), before)

    # -- service endpoints -----------------------------------------------------------------
    def test_health_ready_metrics(self):
        h = self.anon.get("/healthz")
        self.assertStatus(h, 200)
        self.assertEqual(h.body["status"], "ok")
        rd = self.anon.get("/readyz")
        self.assertStatus(rd, 200)
        self.assertEqual(rd.body["status"], "ready")
        m = self.anon.get("/metrics")
        self.assertStatus(m, 200)
        self.assertTrue(m.content_type.startswith("text/plain"), m.content_type)
        text = m.body if isinstance(m.body, str) else m.raw.decode()
        self.assertIn("appointd_http_requests_total", text)
        self.assertRegex(text, re.compile(r'^[a-zA-Z_:][\w:]*_bucket\{[^}]*le="[^"]+"\} \d',
                                          re.M))

    def test_conflicts_are_answered_from_the_writers_index(self):
        if test_backend() != "sqlite":
            self.skipTest("the block index is the SQLite writer's")

        def gauge(name):
            text = self.anon.get("/metrics").raw.decode()
            m = re.search(rf"^{name} (\d+)$", text, re.M)
            self.assertIsNotNone(m, f"{name} is exported")
            return int(m.group(1))

        def loads():
            return gauge("appointd_block_index_loads")

        st = self.new_staff()
        self.co.book([self.co.seg(st, self.cut, at(9, day=30))])
        before = loads()
        for _ in range(40):
            r = self.co.book_reply([self.co.seg(st, self.cut, at(9, day=30))])
            self.assertProblem(r, 409, "slot_unavailable")
            self.assertEqual(len(r.body["alternatives"]), 5)
        # Forty conflicts, each probing the staff member, other staff and a day either way:
        # served from memory, not read again per request.
        self.assertLessEqual(loads() - before, 5)
        self.assertGreaterEqual(gauge("appointd_block_index_rows"), 1)

    def test_request_id_is_echoed(self):
        r = self.anon.get("/healthz", headers={"X-Request-Id": "systest-42"})
        self.assertEqual(r.headers.get("x-request-id"), "systest-42")
        r = self.co.api.get("/v1/branches")
        self.assertTrue(r.headers.get("x-request-id"), "every reply carries X-Request-Id")


if __name__ == "__main__":
    unittest.main()
