"""Scheduling (issue 3): working hours, time off, settings, availability, composite
availability, alternatives and holds, over HTTP against the real binary.

Scheduled staff are bound by the booking horizon (default 90 days), so these tests use a Monday
one to two weeks from the real today, in a company whose zone is UTC (so local = UTC), unless a
test is about zones."""
import datetime as dt
import os
import sys
import time
import unittest
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (UTC, Client, Company, ServerTestCase, expect, iso, minutes,  # noqa: E402
                     phone, run_concurrently)

CLIENTS = 64
TIMEOUT = 30.0

_today = dt.datetime.now(UTC).date()
# A Monday 7..13 days ahead: inside the default horizon, far from "now".
MONDAY = dt.datetime.combine(_today + dt.timedelta(days=(7 - _today.weekday()) % 7 + 7),
                             dt.time(), tzinfo=UTC)


def mon(hour: int, minute: int = 0, day: int = 0) -> dt.datetime:
    return MONDAY + dt.timedelta(days=day, hours=hour, minutes=minute)


def hhmm(ts: list[str]) -> list[str]:
    return [t[11:16] for t in ts]


class SchedulingTest(ServerTestCase):
    threads = 4

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.co = Company(cls.server, cls.platform_key, timezone="Etc/UTC")
        cls.br = cls.co.branch()
        cls.svc = cls.co.service(duration=30)
        cls.buffered = cls.co.service(duration=30, after=10)
        cls.cust = cls.co.customer(phone(7000))

    def tearDown(self):
        self.assertAuditClean()

    # helpers
    def staff(self, hours: dict | None = None, services=None) -> dict:
        st = self.co.staff(self.br, services or [self.svc, self.buffered])
        if hours is not None:
            r = self.co.api.put(f"/v1/staff/{st['id']}/working-hours", hours)
            self.assertStatus(r, 200)
        return st

    def book(self, st, start, svc=None, **extra):
        return self.co.book_reply([self.co.seg(st, svc or self.svc, start)],
                                  customer_id=self.cust["id"], **extra)

    def slots(self, st, svc, frm, to) -> list[str]:
        r = self.co.api.get("/v1/availability", query={
            "service_id": svc["id"], "staff_id": st["id"], "from": iso(frm), "to": iso(to)})
        self.assertStatus(r, 200)
        self.assertEqual(len(r.body["staff"]), 1)
        return [s["start"] for s in r.body["staff"][0]["slots"]]

    # --- rules -------------------------------------------------------------------------------
    def test_working_hours_put_get_and_validation(self):
        st = self.staff()
        path = f"/v1/staff/{st['id']}/working-hours"
        empty = self.co.api.get(path)
        self.assertStatus(empty, 200)
        self.assertEqual(empty.body["mon"], [])
        body = {"mon": [["13:00", "17:00"], ["09:00", "12:00"]], "sat": [["10:00", "24:00"]]}
        r = self.co.api.put(path, body)
        self.assertStatus(r, 200)
        want = {"mon": [["09:00", "12:00"], ["13:00", "17:00"]], "tue": [], "wed": [],
                "thu": [], "fri": [], "sat": [["10:00", "24:00"]], "sun": []}
        self.assertEqual(r.body, want)
        self.assertEqual(self.co.api.get(path).body, want)
        for bad in ({"mon": [["09:00", "12:00"], ["11:00", "13:00"]]},  # overlap
                    {"mon": [["12:00", "09:00"]]}, {"mon": [["09:00", "25:00"]]},
                    {"monday": [["09:00", "12:00"]]}, {"mon": [["9:00", "12:00"]]},
                    {"mon": "09:00-12:00"}, {"mon": [["09:00"]]}):
            with self.subTest(bad=bad):
                self.assertProblem(self.co.api.put(path, bad), 422, "validation_failed")
        self.assertEqual(self.co.api.get(path).body, want, "a refused PUT changed nothing")
        # Replace all: a new PUT drops the old days.
        r = self.co.api.put(path, {"tue": [["08:00", "09:00"]]})
        self.assertEqual(r.body["mon"], [])
        self.assertEqual(r.body["tue"], [["08:00", "09:00"]])
        self.assertProblem(self.co.api.put("/v1/staff/999999/working-hours", body), 404,
                           "not_found")
        self.assertProblem(self.co.api.get("/v1/staff/999999/working-hours"), 404, "not_found")

    def test_time_off_crud(self):
        st = self.staff()
        path = f"/v1/staff/{st['id']}/time-off"
        r = self.co.api.post(path, {"starts_at": iso(mon(12)), "ends_at": iso(mon(14)),
                                    "reason": "dentist"})
        self.assertStatus(r, 201)
        t = r.body
        self.assertEqual((t["staff_id"], t["starts_at"], t["ends_at"], t["reason"]),
                         (st["id"], iso(mon(12)), iso(mon(14)), "dentist"))
        self.assertEqual([x["id"] for x in self.co.items(path)], [t["id"]])
        self.assertProblem(self.co.api.post(path, {"starts_at": iso(mon(14)),
                                                   "ends_at": iso(mon(12))}),
                           422, "validation_failed")
        self.assertProblem(self.co.api.post(path, {"starts_at": iso(mon(14))}), 422,
                           "validation_failed")
        self.assertStatus(self.co.api.delete(f"{path}/{t['id']}"), 204)
        self.assertEqual(self.co.items(path), [])
        self.assertProblem(self.co.api.delete(f"{path}/{t['id']}"), 404, "not_found")

    def test_company_settings(self):
        r = self.platform.post("/v1/companies", {
            "name": "Settings Co", "timezone": "Etc/UTC", "country": "DE",
            "slot_step_minutes": 30, "min_notice_minutes": 60, "horizon_days": 14})
        self.assertStatus(r, 201)
        self.assertEqual((r.body["slot_step_minutes"], r.body["min_notice_minutes"],
                          r.body["horizon_days"]), (30, 60, 14))
        api = Client(self.server, r.body["api_key"])
        p = api.request("PATCH", "/v1/company", {"min_notice_minutes": 0})
        self.assertStatus(p, 200)
        self.assertEqual((p.body["slot_step_minutes"], p.body["min_notice_minutes"],
                          p.body["horizon_days"]), (30, 0, 14))
        self.assertEqual(api.get("/v1/company").body["min_notice_minutes"], 0)
        for bad in ({"slot_step_minutes": 0}, {"horizon_days": 0}, {"min_notice_minutes": -1},
                    {"name": "x"}, {"horizon_days": "7"}):
            with self.subTest(bad=bad):
                self.assertProblem(api.request("PATCH", "/v1/company", bad), 422,
                                   "validation_failed")
        self.assertProblem(self.platform.post("/v1/companies", {
            "name": "Bad", "timezone": "Etc/UTC", "country": "DE", "slot_step_minutes": 1}),
            422, "validation_failed")
        # Defaults.
        self.assertEqual((self.co.info["slot_step_minutes"], self.co.info["min_notice_minutes"],
                          self.co.info["horizon_days"]), (15, 0, 90))

    def test_refusal_codes(self):
        st = self.staff({"mon": [["09:00", "12:00"]]})
        r = self.co.api.post(f"/v1/staff/{st['id']}/time-off",
                             {"starts_at": iso(mon(10)), "ends_at": iso(mon(11))})
        self.assertStatus(r, 201)
        self.assertProblem(self.book(st, mon(8)), 422, "outside_working_hours")
        self.assertProblem(self.book(st, mon(11, 45)), 422, "outside_working_hours")
        self.assertProblem(self.book(st, mon(13)), 422, "outside_working_hours")
        body = self.assertProblem(self.book(st, mon(10, 15)), 422, "staff_time_off")
        self.assertEqual(body["segment_index"], 0)
        self.assertProblem(self.book(st, mon(9, day=7 * 14)), 422, "beyond_horizon")
        now = dt.datetime.now(UTC)
        self.assertProblem(self.book(st, now - dt.timedelta(days=7)), 422, "too_soon")
        # Notice: a company with 3 days' notice and a staff member working every day.
        r = self.platform.post("/v1/companies", {"name": "Notice Co", "timezone": "Etc/UTC",
                                                 "country": "DE", "min_notice_minutes": 4320})
        other = Client(self.server, r.body["api_key"])
        br = expect(other.post("/v1/branches", {"name": "B"}), 201)
        sv = expect(other.post("/v1/services", {"name": "S", "duration_minutes": 30}), 201)
        s2 = expect(other.post("/v1/staff", {"name": "N", "branch_id": br["id"],
                                             "service_ids": [sv["id"]]}), 201)
        every = {d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat",
                                                  "sun")}
        self.assertStatus(other.put(f"/v1/staff/{s2['id']}/working-hours", every), 200)
        tomorrow = (now + dt.timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
        seg = {"staff_id": s2["id"], "service_id": sv["id"], "start": iso(tomorrow)}
        self.assertProblem(other.post("/v1/appointments", {
            "customer": {"phone": phone(7001)}, "segments": [seg]}), 422, "too_soon")
        seg["start"] = iso(tomorrow + dt.timedelta(days=3))
        self.assertStatus(other.post("/v1/appointments", {
            "customer": {"phone": phone(7001)}, "segments": [seg]}), 201)
        # Inside the hours and outside the time off: booked.
        self.assertStatus(self.book(st, mon(9)), 201)
        self.assertStatus(self.book(st, mon(11)), 201)

    def test_unscheduled_staff_stay_bookable_at_any_time(self):
        st = self.staff()
        self.assertStatus(self.book(st, mon(3, day=7 * 52)), 201)  # a year ahead, 03:00
        self.assertStatus(self.book(st, mon(23, 45)), 201)
        # ... and are never listed as available.
        r = self.co.api.get("/v1/availability", query={
            "service_id": self.svc["id"], "staff_id": st["id"], "from": iso(mon(0)),
            "to": iso(mon(0, day=1))})
        self.assertStatus(r, 200)
        self.assertEqual(r.body["staff"][0]["slots"], [])
        self.assertFalse(r.body["staff"][0]["scheduled"])

    # --- availability ------------------------------------------------------------------------
    def test_availability(self):
        st = self.staff({"mon": [["09:00", "11:00"], ["13:00", "14:00"]]})
        self.assertStatus(self.book(st, mon(9, 30), self.buffered), 201)  # blocks 09:30-10:10
        got = self.slots(st, self.svc, mon(0), mon(0, day=1))
        self.assertEqual(hhmm(got), ["09:00", "10:15", "10:30", "13:00", "13:15", "13:30"])
        self.assertEqual(got[0], iso(mon(9)))
        # A live hold and time off are busy too.
        h = self.co.api.post("/v1/holds", {"staff_id": st["id"], "service_id": self.svc["id"],
                                           "start": iso(mon(13))})
        self.assertStatus(h, 201)
        self.co.api.post(f"/v1/staff/{st['id']}/time-off",
                         {"starts_at": iso(mon(10, 30)), "ends_at": iso(mon(11))})
        self.assertEqual(hhmm(self.slots(st, self.svc, mon(0), mon(0, day=1))),
                         ["09:00", "13:30"])
        # All staff of the service (staff_id omitted), each with its own list.
        r = self.co.api.get("/v1/availability", query={
            "service_id": self.svc["id"], "from": iso(mon(0)), "to": iso(mon(0, day=1))})
        self.assertStatus(r, 200)
        ids = [s["staff_id"] for s in r.body["staff"]]
        self.assertIn(st["id"], ids)
        self.assertEqual(ids, sorted(ids))
        # Refusals.
        q = {"service_id": self.svc["id"], "from": iso(mon(0)), "to": iso(mon(0, day=32))}
        self.assertProblem(self.co.api.get("/v1/availability", query=q), 422,
                           "validation_failed")
        q["to"] = iso(mon(0, day=-1))
        self.assertProblem(self.co.api.get("/v1/availability", query=q), 422,
                           "validation_failed")
        self.assertProblem(self.co.api.get("/v1/availability", query={
            "from": iso(mon(0)), "to": iso(mon(1))}), 422, "validation_failed")
        self.assertProblem(self.co.api.get("/v1/availability", query={
            "service_id": 999999, "from": iso(mon(0)), "to": iso(mon(1))}), 404, "not_found")
        other_svc = self.co.service(duration=15)
        self.assertProblem(self.co.api.get("/v1/availability", query={
            "service_id": other_svc["id"], "staff_id": st["id"], "from": iso(mon(0)),
            "to": iso(mon(1))}), 422, "validation_failed")

    def test_availability_shows_branch_local_time(self):
        br = self.co.branch(timezone="Asia/Kolkata")
        st = self.co.staff(br, [self.svc])
        self.assertStatus(self.co.api.put(f"/v1/staff/{st['id']}/working-hours",
                                          {"mon": [["09:00", "10:00"]]}), 200)
        r = self.co.api.get("/v1/availability", query={
            "service_id": self.svc["id"], "staff_id": st["id"], "from": iso(mon(0)),
            "to": iso(mon(0, day=1))})
        self.assertStatus(r, 200)
        s = r.body["staff"][0]
        self.assertEqual(s["timezone"], "Asia/Kolkata")
        self.assertEqual([(x["start"][11:16], x["local_start"][11:]) for x in s["slots"]],
                         [("03:30", "09:00:00+05:30"), ("03:45", "09:15:00+05:30"),
                          ("04:00", "09:30:00+05:30")])

    def test_composite_availability(self):
        a = self.staff({"mon": [["09:00", "12:00"]]}, [self.svc])
        b = self.staff({"mon": [["10:00", "12:00"]]}, [self.buffered])
        self.assertStatus(self.book(b, mon(10, 30), self.buffered), 201)  # b busy 10:30-11:10
        r = self.co.api.post("/v1/availability/composite", {
            "from": iso(mon(0)), "to": iso(mon(0, day=1)), "limit": 3,
            "services": [{"service_id": self.svc["id"], "staff_id": a["id"]},
                         {"service_id": self.buffered["id"], "staff_id": b["id"]}]})
        self.assertStatus(r, 200)
        seqs = r.body["sequences"]
        self.assertEqual([(hhmm([s["segments"][0]["start"]])[0],
                           hhmm([s["segments"][1]["start"]])[0]) for s in seqs],
                         [("10:45", "11:15"), ("11:00", "11:30")])  # b free from 11:10
        # Each sequence can be booked as a composite.
        first = seqs[0]["segments"]
        self.assertStatus(self.co.book_reply(
            [self.co.seg(a, self.svc, first[0]["start"]),
             self.co.seg(b, self.buffered, first[1]["start"])],
            customer_id=self.cust["id"]), 201)
        self.assertProblem(self.co.api.post("/v1/availability/composite", {
            "from": iso(mon(0)), "to": iso(mon(1)), "services": []}), 422, "validation_failed")
        self.assertProblem(self.co.api.post("/v1/availability/composite", {
            "from": iso(mon(0)), "to": iso(mon(1)), "services": [{"service_id": 999999}]}),
            404, "not_found")

    # --- alternatives ------------------------------------------------------------------------
    def test_alternatives_respect_working_hours(self):
        st = self.staff({"mon": [["09:00", "10:30"]]})
        self.assertStatus(self.book(st, mon(9), self.buffered), 201)  # 09:00-09:40 blocked
        r = self.book(st, mon(9))
        body = self.assertProblem(r, 409, "slot_unavailable")
        mine = [a for a in body["alternatives"] if a["staff_id"] == st["id"]]
        self.assertEqual(hhmm([a["start"] for a in mine]), ["09:45", "10:00"])
        for a in body["alternatives"]:
            self.assertEqual(set(a), {"staff_id", "service_id", "start", "end", "segments"})

    def test_race_for_the_alternatives_of_one_conflict(self):
        st = self.staff({"mon": [["09:00", "17:00"]]})
        for h in (9, 10, 11):
            self.assertStatus(self.book(st, mon(h)), 201)
        body = self.assertProblem(self.book(st, mon(10)), 409, "slot_unavailable")
        alts = body["alternatives"]
        self.assertEqual(len(alts), 5)
        replies = run_concurrently(CLIENTS, lambda i: self.co.book_reply(
            [self.co.seg({"id": alts[i % 5]["staff_id"]}, self.svc, alts[i % 5]["start"])],
            customer_id=self.cust["id"]), timeout=TIMEOUT, warm=self.co.api)
        self.assertEqual([r for r in replies if r.status not in (201, 409)], [])
        wins = Counter(i % 5 for i, r in enumerate(replies) if r.status == 201)
        self.assertTrue(all(n <= 1 for n in wins.values()), wins)
        self.assertGreaterEqual(len(wins), 1)
        # Every alternative that nobody won overlaps one that was won.
        for i, a in enumerate(alts):
            if wins[i] == 0:
                self.assertProblem(self.book({"id": a["staff_id"]}, a["start"]), 409,
                                   "slot_unavailable")

    # --- holds -------------------------------------------------------------------------------
    def test_holds(self):
        st = self.staff({"mon": [["09:00", "17:00"]]})
        r = self.co.api.post("/v1/holds", {"staff_id": st["id"], "service_id": self.svc["id"],
                                           "start": iso(mon(14)), "owner": "call-1"})
        self.assertStatus(r, 201)
        h = r.body
        self.assertEqual((h["staff_id"], h["service_id"], h["start"], h["end"], h["owner"]),
                         (st["id"], self.svc["id"], iso(mon(14)), iso(mon(14, 30)), "call-1"))
        left = (dt.datetime.fromisoformat(h["expires_at"].replace("Z", "+00:00"))
                - dt.datetime.now(UTC)).total_seconds()
        self.assertTrue(100 <= left <= 121, left)
        self.assertStatus(self.co.api.get(f"/v1/holds/{h['id']}"), 200)
        body = self.assertProblem(self.book(st, mon(14, 15)), 409, "slot_unavailable")
        self.assertEqual(body["conflicts"][0]["kind"], "hold")
        self.assertProblem(self.book(st, mon(14, 30), hold_id=h["id"]), 422, "hold_mismatch")
        self.assertProblem(self.book(st, mon(14), hold_id=999999), 404, "not_found")
        booked = self.book(st, mon(14), hold_id=h["id"])
        self.assertStatus(booked, 201)
        self.assertProblem(self.co.api.get(f"/v1/holds/{h['id']}"), 404, "not_found")
        # Release.
        r2 = expect(self.co.api.post("/v1/holds", {"staff_id": st["id"], "service_id":
                                                   self.svc["id"], "start": iso(mon(15))}), 201)
        self.assertStatus(self.co.api.delete(f"/v1/holds/{r2['id']}"), 204)
        self.assertProblem(self.co.api.delete(f"/v1/holds/{r2['id']}"), 404, "not_found")
        self.assertStatus(self.book(st, mon(15)), 201)
        # Refusals: ttl, rules, conflicts.
        for bad, code in (({"ttl_seconds": 901}, "validation_failed"),
                          ({"ttl_seconds": 0}, "validation_failed"),
                          ({"start": iso(mon(18))}, "outside_working_hours"),
                          ({"start": iso(mon(15))}, "slot_unavailable")):
            body = {"staff_id": st["id"], "service_id": self.svc["id"], "start": iso(mon(16)),
                    **bad}
            with self.subTest(bad=bad):
                self.assertProblem(self.co.api.post("/v1/holds", body),
                                   409 if code == "slot_unavailable" else 422, code)
        # Another company cannot see or use it.
        other = Company(self.server, self.platform_key)
        h3 = expect(self.co.api.post("/v1/holds", {"staff_id": st["id"], "service_id":
                                                   self.svc["id"], "start": iso(mon(16))}), 201)
        self.assertProblem(other.api.get(f"/v1/holds/{h3['id']}"), 404, "not_found")
        self.assertProblem(other.api.delete(f"/v1/holds/{h3['id']}"), 404, "not_found")

    def test_hold_expires_without_a_sweeper(self):
        st = self.staff({"mon": [["09:00", "17:00"]]})
        # 3 s: the booking right after must land before the hold expires even on a slow
        # (sanitizer) build on a busy machine; 1 s was seen to be too short there.
        h = expect(self.co.api.post("/v1/holds", {"staff_id": st["id"], "service_id":
                                                  self.svc["id"], "start": iso(mon(12)),
                                                  "ttl_seconds": 3}), 201)
        self.assertProblem(self.book(st, mon(12)), 409, "slot_unavailable")
        expires = dt.datetime.fromisoformat(h["expires_at"].replace("Z", "+00:00")).timestamp()
        time.sleep(max(0.0, expires - time.time()) + 1.1)
        self.assertProblem(self.book(st, mon(12), hold_id=h["id"]), 409, "hold_expired")
        self.assertStatus(self.book(st, mon(12)), 201)

    def test_only_the_holder_books_a_held_slot(self):
        st = self.staff({"mon": [["09:00", "17:00"]]})
        h = expect(self.co.api.post("/v1/holds", {"staff_id": st["id"], "service_id":
                                                  self.svc["id"], "start": iso(mon(10))}), 201)
        holder = CLIENTS // 2
        replies = run_concurrently(CLIENTS, lambda i: self.book(
            st, mon(10), **({"hold_id": h["id"]} if i == holder else {})),
            timeout=TIMEOUT, warm=self.co.api)
        statuses = Counter(r.status for r in replies)
        self.assertEqual(statuses, Counter({201: 1, 409: CLIENTS - 1}), statuses)
        self.assertEqual(replies[holder].status, 201, str(replies[holder]))
        # A hold that expires mid-storm: before expiry nobody, after it exactly one wins.
        h2 = expect(self.co.api.post("/v1/holds", {"staff_id": st["id"], "service_id":
                                                   self.svc["id"], "start": iso(mon(11)),
                                                   "ttl_seconds": 3}), 201)
        expires = dt.datetime.fromisoformat(h2["expires_at"].replace("Z", "+00:00")).timestamp()
        early = run_concurrently(CLIENTS, lambda i: self.book(st, mon(11)), timeout=TIMEOUT,
                                 warm=self.co.api)
        early_wins = [r for r in early if r.status == 201]
        if time.time() < expires - 0.2:
            # The whole storm ran while the hold was live: nobody may have won.
            self.assertEqual(early_wins, [])
        else:
            # A slow (sanitized, loaded) run outlived the hold: at most one late winner.
            self.assertLessEqual(len(early_wins), 1)
        time.sleep(max(0.0, expires - time.time()) + 1.1)
        if early_wins:
            return  # the slot is taken; the after-expiry storm has nothing left to prove
        late = run_concurrently(CLIENTS, lambda i: self.book(st, mon(11)), timeout=TIMEOUT,
                                warm=self.co.api)
        self.assertEqual(Counter(r.status for r in late), Counter({201: 1, 409: CLIENTS - 1}))
        # The winner's write deleted the expired hold (housekeeping): gone, or still expired.
        r = self.book(st, mon(11), hold_id=h2["id"])
        self.assertIn((r.status, r.body.get("code")), [(404, "not_found"), (409, "hold_expired")])

    def test_held_alternatives_race_direct_bookings_of_other_staff(self):
        # The alternatives of a conflict name *other* staff at the requested time; holding them
        # must lock those staff too, or a concurrent direct booking of the same person and time
        # could commit beside the hold (segments and holds are different tables). I1 across
        # both is checked by the audit in tearDown.
        for hour in (10, 12, 14, 16):  # several rounds, each on staff of its own: the window is narrow
            br = self.co.branch()
            taken, *others = [self.co.staff(br, [self.svc]) for _ in range(3)]
            self.assertStatus(self.book(taken, mon(hour)), 201)

            def client(i, hour=hour):
                if i % 2 == 0:
                    return self.book(taken, mon(hour), hold_alternatives=True,
                                     hold_ttl_seconds=600)
                return self.book(others[(i // 2) % 2], mon(hour))

            replies = run_concurrently(CLIENTS, client, timeout=TIMEOUT, warm=self.co.api)
            self.assertLessEqual({r.status for r in replies}, {201, 409},
                                 Counter(r.status for r in replies))
            self.assertAuditClean()

    def test_hold_alternatives(self):
        st = self.staff({"mon": [["09:00", "17:00"]]})
        self.assertStatus(self.book(st, mon(10)), 201)
        r = self.book(st, mon(10), hold_alternatives=True, hold_ttl_seconds=300,
                      hold_owner="caller-7")
        body = self.assertProblem(r, 409, "slot_unavailable")
        alts = body["alternatives"]
        self.assertEqual(len(alts), 5)
        for a in alts:
            self.assertIn("hold_id", a)
            self.assertIn("expires_at", a)
            hold = expect(self.co.api.get(f"/v1/holds/{a['hold_id']}"), 200)
            self.assertEqual((hold["start"], hold["owner"]), (a["start"], "caller-7"))
        # Held for the caller: nobody else can take one; the caller can, with its hold id.
        a = alts[0]
        self.assertProblem(self.book({"id": a["staff_id"]}, a["start"]), 409, "slot_unavailable")
        self.assertStatus(self.book({"id": a["staff_id"]}, a["start"], hold_id=a["hold_id"]),
                          201)
        for a in alts[1:]:
            self.assertStatus(self.co.api.delete(f"/v1/holds/{a['hold_id']}"), 204)


if __name__ == "__main__":
    unittest.main()
