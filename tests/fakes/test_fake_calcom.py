"""Self-tests of the Cal.com fake (tests/fakes/fake_calcom.py). Standard library only.

    python3 -m unittest tests/fakes/test_fake_calcom.py        (about 10 s)
"""
from __future__ import annotations

import hashlib
import hmac
import http.client
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fake_calcom as fc  # noqa: E402

KEY = "cal_live_0123456789abcdef"
HOUR = 3_600_000


def future(hours: float) -> str:
    """An instant `hours` from a whole hour two days ahead (always in the future)."""
    base = (fc._now_ms() // HOUR + 48) * HOUR
    return fc.iso_ms(int(base + hours * HOUR))


class Api:
    """A tiny Cal.com API v2 client: one keep-alive connection, the right headers by default."""

    def __init__(self, port: int, key: str | None = KEY, version: str | None = fc.API_VERSION):
        self.port, self.key, self.version = port, key, version
        self.conn: http.client.HTTPConnection | None = None

    def call(self, method: str, path: str, body: object = None, headers: dict | None = None,
             timeout: float = 5.0) -> tuple[int, dict, http.client.HTTPResponse]:
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        h = {"Content-Type": "application/json"}
        if self.key is not None:
            h["Authorization"] = f"Bearer {self.key}"
        if self.version is not None:
            h["cal-api-version"] = self.version
        h.update(headers or {})
        data = None if body is None else json.dumps(body).encode()
        try:
            self.conn.request(method, path, body=data, headers=h)
            resp = self.conn.getresponse()
            raw = resp.read()
        except Exception:
            self.close()
            raise
        return resp.status, (json.loads(raw) if raw else {}), resp

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def create(self, event_type: int, start: str, **extra: object) -> tuple[int, dict]:
        body = {"start": start, "eventTypeId": event_type,
                "attendee": {"name": "Ada Lovelace", "email": "ada@example.com",
                             "timeZone": "Europe/London", "phoneNumber": "+447700900123",
                             "language": "en"},
                "metadata": {"appointd_appointment": "42", "appointd_version": "1"}}
        body.update(extra)
        status, obj, _ = self.call("POST", "/v2/bookings", body)
        return status, obj


class Receiver:
    """A webhook receiver that records raw bodies and headers and answers `status`."""

    def __init__(self, status: int = 200):
        self.status = status
        self.got: list[tuple[dict, bytes]] = []
        self.cv = threading.Condition()
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a: object) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with outer.cv:
                    outer.got.append(({k.lower(): v for k, v in self.headers.items()}, raw))
                    outer.cv.notify_all()
                self.send_response(outer.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def wait(self, n: int, timeout: float = 5.0) -> list[tuple[dict, bytes]]:
        with self.cv:
            self.cv.wait_for(lambda: len(self.got) >= n, timeout)
            return list(self.got)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class FakeTestCase(unittest.TestCase):
    fake: fc.FakeCalcom

    @classmethod
    def setUpClass(cls) -> None:
        cls.fake = fc.FakeCalcom(port=0, api_key=KEY, seed=7).start()

    @classmethod
    def tearDownClass(cls) -> None:
        cls.fake.stop()

    def setUp(self) -> None:
        self.fake.reset()
        self.fake.configure(strict_auth=True, reject_past=True, key_owner=None, latency=0.0)
        self.fake.add_event_type(101, "alice", 30)
        self.fake.add_event_type(102, "alice", 60, title="Long cut")
        self.fake.add_event_type(201, "bob", 30, lengths=[30, 45])
        self.api = Api(self.fake.port)

    def tearDown(self) -> None:
        self.api.close()

    def assertError(self, status: int, obj: dict, code_status: int, message: str | None = None,
                    code: str | None = None) -> None:
        self.assertEqual(status, code_status, obj)
        self.assertEqual(obj["status"], "error")
        self.assertIn("timestamp", obj)
        self.assertIn("path", obj)
        if message is not None:
            self.assertIn(message, obj["error"]["message"])
        if code is not None:
            self.assertEqual(obj["error"]["code"], code)


class TestBookings(FakeTestCase):
    def test_create_answers_201_with_the_booking(self) -> None:
        status, obj = self.api.create(101, future(1))
        self.assertEqual(status, 201, obj)
        self.assertEqual(obj["status"], "success")
        b = obj["data"]
        self.assertEqual(b["status"], "accepted")
        self.assertEqual(b["start"], future(1))
        self.assertEqual(b["end"], future(1.5))           # the event type's 30 minutes
        self.assertEqual(b["duration"], 30)
        self.assertEqual(b["eventTypeId"], 101)
        self.assertEqual(b["eventType"]["id"], 101)
        self.assertEqual(b["metadata"], {"appointd_appointment": "42", "appointd_version": "1"})
        self.assertEqual(b["attendees"][0]["phoneNumber"], "+447700900123")
        self.assertEqual(b["hosts"][0]["username"], "alice")
        self.assertRegex(b["uid"], r"^[1-9A-HJ-NP-Za-km-z]{22}$")
        self.assertIsInstance(b["id"], int)
        # stored, with metadata, visible to the accessor and the GET
        self.assertEqual(self.fake.booking(b["uid"])["metadata"]["appointd_appointment"], "42")
        status, got, _ = self.api.call("GET", f"/v2/bookings/{b['uid']}")
        self.assertEqual((status, got["data"]["uid"]), (200, b["uid"]))

    def test_start_with_offset_is_converted_to_utc(self) -> None:
        start = future(3)
        local = start.replace("Z", "").replace(".000", "")  # naive = UTC
        status, obj = self.api.create(101, local)
        self.assertEqual((status, obj["data"]["start"]), (201, start))

    def test_length_in_minutes_only_for_multi_length_event_types(self) -> None:
        status, obj = self.api.create(101, future(1), lengthInMinutes=30)
        self.assertError(status, obj, 400, "does not have multiple possible lengths")
        status, obj = self.api.create(201, future(1), lengthInMinutes=60)
        self.assertError(status, obj, 400, "The possible lengths are: 30, 45")
        status, obj = self.api.create(201, future(1), lengthInMinutes=45)
        self.assertEqual((status, obj["data"]["duration"]), (201, 45))
        self.assertEqual(len(self.fake.bookings()), 1)

    def test_validation(self) -> None:
        bad_meta = [{f"k{i}": "v" for i in range(51)}, {"k" * 41: "v"}, {"k": "v" * 501},
                    {"k": {"nested": 1}}, ["not", "an", "object"]]
        for meta in bad_meta:
            status, obj = self.api.create(101, future(1), metadata=meta)
            self.assertError(status, obj, 400, "Metadata must have at most 50 keys")
        ok_meta = {f"k{i}": ("v" * 500 if i == 0 else i) for i in range(50)}
        ok_meta["flag"] = True
        del ok_meta["k49"]
        status, obj = self.api.create(101, future(1), metadata=ok_meta)
        self.assertEqual(status, 201, obj)
        for attendee, msg in [
            ({"name": "A", "timeZone": "UTC"}, "At least one contact method"),
            ({"name": "A", "email": "a@b.c", "timeZone": "Mars/Olympus"}, "timeZone"),
            ({"name": "A", "email": "nope", "timeZone": "UTC"}, "Invalid email format"),
            ({"name": "A", "phoneNumber": "0170 123", "timeZone": "UTC"}, "international format"),
            ({"name": "A", "email": "a@b.c", "timeZone": "UTC", "language": "xx"}, "language"),
            ({"email": "a@b.c", "timeZone": "UTC"}, "name"),
        ]:
            status, obj = self.api.create(101, future(2), attendee=attendee)
            self.assertError(status, obj, 400, msg)
        status, obj = self.api.create(101, future(2), attendee={"name": "P", "timeZone": "UTC",
                                                                "phoneNumber": "+4915112345678"})
        self.assertEqual(status, 201, obj)                 # a phone alone is enough
        status, obj = self.api.create(101, "yesterday-ish")
        self.assertError(status, obj, 400, "start must be a valid ISO 8601")
        status, obj, _ = self.api.call("POST", "/v2/bookings", {"start": future(5)})
        self.assertError(status, obj, 400, "Either eventTypeId")
        status, obj = self.api.create(999, future(5))
        self.assertError(status, obj, 404, "Event type with id 999 not found.", "NotFoundException")
        status, obj = self.api.create(101, fc.iso_ms(fc._now_ms() - HOUR))
        self.assertError(status, obj, 400, "Attempting to book a meeting in the past.")

    def test_overlap_of_one_host_is_refused_like_cal_com(self) -> None:
        status, first = self.api.create(101, future(1))
        self.assertEqual(status, 201)
        # same host through another event type, overlapping: the 400 "already has booking"
        status, obj = self.api.create(102, future(0.75))
        self.assertError(status, obj, 400, fc.MSG_BUSY, "BadRequestException")
        # an exact duplicate sent again gets the same 400 (issue calcom #13747)
        status, obj = self.api.create(101, future(1))
        self.assertError(status, obj, 400, fc.MSG_BUSY)
        # half-open: touching intervals are fine; another host at the same time is fine
        self.assertEqual(self.api.create(101, future(1.5))[0], 201)
        self.assertEqual(self.api.create(102, future(0))[0], 201)
        self.assertEqual(self.api.create(201, future(1))[0], 201)
        # once cancelled, the time is free again
        uid = first["data"]["uid"]
        self.assertEqual(self.api.call("POST", f"/v2/bookings/{uid}/cancel",
                                       {"cancellationReason": "x"})[0], 200)
        self.assertEqual(self.api.create(101, future(1))[0], 201)
        live = self.fake.bookings(status="accepted")
        self.assertEqual(len(live), 4)

    def test_forced_double_booking_still_blocks_later_overlaps(self) -> None:
        self.fake.create_direct(101, future(1))
        self.fake.create_direct(102, future(0.5), force=True)      # 0.5 .. 1.5, over the first
        status, obj = self.api.create(101, future(1.25))
        self.assertError(status, obj, 400, fc.MSG_BUSY)

    def test_cancel(self) -> None:
        uid = self.api.create(101, future(1))[1]["data"]["uid"]
        status, obj, _ = self.api.call("POST", f"/v2/bookings/{uid}/cancel",
                                       {"cancellationReason": "moved away"})
        self.assertEqual(status, 200, obj)
        self.assertEqual(obj["data"]["status"], "cancelled")
        self.assertEqual(obj["data"]["cancellationReason"], "moved away")
        self.assertEqual(obj["data"]["metadata"]["appointd_version"], "1")
        status, obj, _ = self.api.call("POST", f"/v2/bookings/{uid}/cancel", {})
        self.assertError(status, obj, 400, "has been cancelled already")
        status, obj, _ = self.api.call("POST", "/v2/bookings/nope/cancel", {})
        self.assertError(status, obj, 404, "Booking with uid=nope not found")

    def test_cancel_as_the_host_needs_a_reason(self) -> None:
        self.fake.configure(key_owner="alice")
        uid = self.api.create(101, future(1))[1]["data"]["uid"]
        status, obj, _ = self.api.call("POST", f"/v2/bookings/{uid}/cancel", {})
        self.assertError(status, obj, 400, fc.MSG_HOST_REASON)
        status, _, _ = self.api.call("POST", f"/v2/bookings/{uid}/cancel",
                                     {"cancellationReason": "ok"})
        self.assertEqual(status, 200)

    def test_reschedule_answers_a_new_booking(self) -> None:
        status, obj = self.api.create(201, future(1), lengthInMinutes=45)
        old = obj["data"]
        status, obj, _ = self.api.call("POST", f"/v2/bookings/{old['uid']}/reschedule",
                                       {"start": future(1.25), "reschedulingReason": "later"})
        self.assertEqual(status, 201, obj)          # overlapping its own old time is fine
        new = obj["data"]
        self.assertNotEqual(new["uid"], old["uid"])
        self.assertEqual(new["rescheduledFromUid"], old["uid"])
        self.assertEqual(new["status"], "accepted")
        self.assertEqual(new["metadata"], old["metadata"])      # metadata is carried over
        self.assertEqual(new["reschedulingReason"], "later")
        self.assertEqual(new["duration"], 30)                   # the event type's length
        self.assertEqual(new["attendees"][0]["email"], "ada@example.com")
        old_now = self.fake.booking(old["uid"])
        self.assertEqual(old_now["status"], "cancelled")
        self.assertEqual(old_now["rescheduledToUid"], new["uid"])
        # the old uid cannot be rescheduled or cancelled any more
        status, obj, _ = self.api.call("POST", f"/v2/bookings/{old['uid']}/reschedule",
                                       {"start": future(3)})
        self.assertError(status, obj, 400, f"rescheduled already to booking with uid={new['uid']}")
        status, obj, _ = self.api.call("POST", f"/v2/bookings/{old['uid']}/cancel", {})
        self.assertError(status, obj, 400, "cancelled already")
        # a busy target time is refused; unknown uid is 404
        self.api.create(201, future(5))
        status, obj, _ = self.api.call("POST", f"/v2/bookings/{new['uid']}/reschedule",
                                       {"start": future(5)})
        self.assertError(status, obj, 400, fc.MSG_BUSY)
        status, obj, _ = self.api.call("POST", "/v2/bookings/zzz/reschedule", {"start": future(5)})
        self.assertError(status, obj, 404)
        cancelled = self.api.create(201, future(8))[1]["data"]["uid"]
        self.fake.cancel_direct(cancelled, "gone")
        status, obj, _ = self.api.call("POST", f"/v2/bookings/{cancelled}/reschedule",
                                       {"start": future(9)})
        self.assertError(status, obj, 400, "because it has been cancelled. Please provide")

    def test_get_unknown_uid_is_404(self) -> None:
        status, obj, _ = self.api.call("GET", "/v2/bookings/missing")
        self.assertError(status, obj, 404, "Booking with uid=missing was not found in the database")


class TestList(FakeTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.uids = [self.api.create(101, future(h))[1]["data"]["uid"] for h in range(6)]
        self.other = self.api.create(201, future(2))[1]["data"]["uid"]
        self.api.call("POST", f"/v2/bookings/{self.uids[5]}/cancel", {"cancellationReason": "x"})

    def listing(self, query: str) -> tuple[list[str], dict]:
        status, obj, _ = self.api.call("GET", "/v2/bookings" + query)
        self.assertEqual(status, 200, obj)
        self.assertEqual(obj["status"], "success")
        return [b["uid"] for b in obj["data"]], obj["pagination"]

    def test_filters(self) -> None:
        uids, page = self.listing("")
        self.assertEqual(len(uids), 7)
        self.assertEqual(page["totalItems"], 7)
        self.assertEqual(self.listing("?eventTypeId=101")[0], self.uids)
        self.assertEqual(set(self.listing("?eventTypeIds=101,201")[0]), set(self.uids + [self.other]))
        self.assertEqual(self.listing("?eventTypeId=201")[0], [self.other])
        q = f"?eventTypeId=101&afterStart={future(1)}&beforeEnd={future(3.5)}"
        self.assertEqual(self.listing(q)[0], self.uids[1:4])
        self.assertEqual(self.listing("?eventTypeId=101&status=cancelled")[0], [self.uids[5]])
        self.assertEqual(self.listing("?eventTypeId=101&status=upcoming")[0], self.uids[:5])
        self.assertEqual(self.listing("?eventTypeId=101&status=upcoming,cancelled")[0], self.uids)
        self.assertEqual(self.listing("?status=past")[0], [])
        self.assertEqual(self.listing(f"?bookingUid={self.other}")[0], [self.other])
        self.assertEqual(len(self.listing("?attendeeEmail=ADA@example.com")[0]), 7)
        self.assertEqual(self.listing("?eventTypeId=101&sortStart=desc")[0], self.uids[::-1])
        self.assertEqual(self.listing("?eventTypeId=101&unknownParam=1")[0], self.uids)

    def test_pagination(self) -> None:
        uids, page = self.listing("?eventTypeId=101&take=4")
        self.assertEqual(uids, self.uids[:4])
        self.assertEqual(page, {"returnedItems": 4, "totalItems": 6, "itemsPerPage": 4,
                                "remainingItems": 2, "currentPage": 1, "totalPages": 2,
                                "hasNextPage": True, "hasPreviousPage": False})
        uids, page = self.listing("?eventTypeId=101&take=4&skip=4")
        self.assertEqual(uids, self.uids[4:])
        self.assertEqual((page["returnedItems"], page["currentPage"], page["hasNextPage"],
                          page["hasPreviousPage"], page["remainingItems"]), (2, 2, False, True, 0))

    def test_bad_queries(self) -> None:
        for q, msg in [("?status=open", "Invalid status"), ("?take=251", "250"),
                       ("?take=0", "less than 1"), ("?skip=-1", "skip"),
                       ("?afterStart=notadate", "afterStart"), ("?eventTypeId=x", "eventTypeId"),
                       ("?sortStart=up", "asc")]:
            status, obj, _ = self.api.call("GET", "/v2/bookings" + q)
            self.assertError(status, obj, 400, msg)


class TestAuthAndHeaders(FakeTestCase):
    def test_missing_key_is_401_in_strict_mode(self) -> None:
        api = Api(self.fake.port, key=None)
        status, obj = api.create(101, future(1))
        self.assertError(status, obj, 401, "No authentication method provided",
                         "UnauthorizedException")
        self.assertEqual(obj["error"]["details"]["statusCode"], 401)
        api.close()
        self.assertEqual(self.fake.bookings(), [])

    def test_lenient_auth_is_cal_coms_rule(self) -> None:
        self.fake.configure(strict_auth=False)
        api = Api(self.fake.port, key=None)
        status, obj = api.create(101, future(1))
        self.assertEqual(status, 201, obj)                   # OptionalApiAuthGuard
        status, obj, _ = api.call("GET", "/v2/bookings")
        self.assertError(status, obj, 401)                    # ApiAuthGuard
        api.close()

    def test_bad_key(self) -> None:
        for key, msg in [("cal_live_wrong", fc.MSG_BAD_KEY), ("not-a-cal-key", fc.MSG_BAD_TOKEN),
                         ("", fc.MSG_BAD_TOKEN)]:
            api = Api(self.fake.port, key=key)
            status, obj, _ = api.call("GET", "/v2/bookings")
            self.assertError(status, obj, 401, msg)
            api.close()
        # Cal.com strips "Bearer " with a replace, so the bare key is accepted too.
        status, obj, _ = self.api.call("GET", "/v2/bookings", headers={"Authorization": KEY})
        self.assertEqual(status, 200, obj)

    def test_api_version_header_is_required(self) -> None:
        for version in (None, "2024-04-15", "2024-09-04"):
            api = Api(self.fake.port, version=version)
            status, obj = api.create(101, future(1))
            self.assertError(status, obj, 400, "2024-08-13")
            api.close()
        self.assertEqual(self.fake.bookings(), [])

    def test_unknown_route_is_nest_404(self) -> None:
        status, obj, _ = self.api.call("DELETE", "/v2/bookings/abc")
        self.assertError(status, obj, 404, "Cannot DELETE /v2/bookings/abc", "NotFoundException")

    def test_keep_alive_and_chunked_bodies(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.fake.port, timeout=5)
        body = json.dumps({"start": future(1), "eventTypeId": 101,
                           "attendee": {"name": "C", "email": "c@d.ef", "timeZone": "UTC"}})

        def chunks():
            yield body[:10].encode()
            yield body[10:].encode()

        headers = {"Authorization": f"Bearer {KEY}", "cal-api-version": fc.API_VERSION,
                   "Content-Type": "application/json"}
        conn.request("POST", "/v2/bookings", body=chunks(), headers=headers,
                     encode_chunked=True)
        resp = conn.getresponse()
        self.assertEqual(resp.status, 201, resp.read())
        resp.read()
        for _ in range(3):                                     # same connection, reused
            conn.request("GET", "/v2/bookings", headers=headers)
            resp = conn.getresponse()
            self.assertEqual(len(json.loads(resp.read())["data"]), 1)
        conn.close()

    def test_errors_carry_the_request_url(self) -> None:
        status, obj, _ = self.api.call("GET", "/v2/bookings?status=nope")
        self.assertEqual(obj["path"], "/v2/bookings?status=nope")


class TestFaults(FakeTestCase):
    def fault(self, mode: str, **extra: object) -> None:
        rule = {"match": {"method": "POST", "path_prefix": "/v2/bookings"}, "mode": mode}
        rule.update(extra)
        self.fake.set_faults([rule])

    def raw_post(self, body: dict, timeout: float = 5.0) -> tuple[bytes, float]:
        """The raw bytes answered on a fresh socket (b"" when closed without answer)."""
        data = json.dumps(body).encode()
        req = (f"POST /v2/bookings HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n"
               f"cal-api-version: {fc.API_VERSION}\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(data)}\r\n\r\n").encode() + data
        t0 = time.monotonic()
        with socket.create_connection(("127.0.0.1", self.fake.port), timeout=timeout) as s:
            s.sendall(req)
            out = b""
            while True:
                try:
                    chunk = s.recv(65536)
                except ConnectionResetError:
                    break
                if not chunk:
                    break
                out += chunk
                if b"\r\n\r\n" in out:
                    head, _, rest = out.partition(b"\r\n\r\n")
                    length = [int(line.split(b":")[1]) for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length")]
                    if length and len(rest) >= length[0]:
                        break
        return out, time.monotonic() - t0

    def body(self, hours: float = 1) -> dict:
        return {"start": future(hours), "eventTypeId": 101,
                "attendee": {"name": "F", "email": "f@a.ult", "timeZone": "UTC"},
                "metadata": {"appointd_appointment": "9", "appointd_version": "3"}}

    def test_before_fails_without_effect(self) -> None:
        self.fault("before")
        status, obj = self.api.create(101, future(1))
        self.assertError(status, obj, 500)
        self.assertEqual(self.fake.bookings(), [])
        self.assertEqual(self.api.create(101, future(1))[0], 201)   # fires once by default

    def test_after_does_the_work_then_fails(self) -> None:
        self.fault("after")
        status, obj = self.api.create(101, future(1))
        self.assertError(status, obj, 500)
        [b] = self.fake.bookings()
        self.assertEqual(b["metadata"]["appointd_appointment"], "42")
        status, obj = self.api.create(101, future(1))           # the retry meets its own booking
        self.assertError(status, obj, 400, fc.MSG_BUSY)

    def test_drop_and_drop_after(self) -> None:
        self.fault("drop")
        out, _ = self.raw_post(self.body())
        self.assertEqual(out, b"")
        self.assertEqual(self.fake.bookings(), [])
        self.fault("drop_after")
        out, _ = self.raw_post(self.body())
        self.assertEqual(out, b"")
        self.assertEqual(len(self.fake.bookings()), 1)

    def test_hang_and_hang_after(self) -> None:
        self.fault("hang", delay=0.4)
        out, took = self.raw_post(self.body())
        self.assertEqual(out, b"")
        self.assertGreaterEqual(took, 0.35)
        self.assertEqual(self.fake.bookings(), [])
        self.fault("hang_after", delay=0.4)
        out, took = self.raw_post(self.body())
        self.assertEqual((out, len(self.fake.bookings())), (b"", 1))
        self.assertGreaterEqual(took, 0.35)

    def test_hang_past_a_client_timeout(self) -> None:
        self.fault("hang_after", delay=1.0)
        api = Api(self.fake.port)
        with self.assertRaises(socket.timeout):
            api.call("POST", "/v2/bookings", self.body(), timeout=0.3)
        api.close()
        self.assertEqual(len(self.fake.bookings()), 1)       # it happened anyway

    def test_slow_answers_late_but_right(self) -> None:
        self.fault("slow", delay=0.3)
        t0 = time.monotonic()
        status, _ = self.api.create(101, future(1))
        self.assertEqual(status, 201)
        self.assertGreaterEqual(time.monotonic() - t0, 0.25)

    def test_throttle_and_unavailable(self) -> None:
        self.fault("throttle", retry_after=7)
        status, obj, resp = self.api.call("POST", "/v2/bookings", self.body())
        self.assertError(status, obj, 429, fc.MSG_THROTTLED, "ThrottlerException")
        self.assertEqual(resp.getheader("Retry-After"), "7")
        self.assertEqual(resp.getheader("X-RateLimit-Remaining-Default"), "0")
        self.assertEqual(resp.getheader("X-RateLimit-Reset-Default"), "7")
        self.fault("unavailable", retry_after=3)
        status, obj, resp = self.api.call("POST", "/v2/bookings", self.body())
        self.assertError(status, obj, 503)
        self.assertEqual(resp.getheader("Retry-After"), "3")
        self.assertEqual(self.fake.bookings(), [])

    def test_conflict_is_the_prisma_409(self) -> None:
        self.fault("conflict")
        status, obj = self.api.create(101, future(1))
        self.assertEqual(status, 409)
        self.assertEqual(obj["error"], {"code": "CONFLICT", "message": fc.MSG_P2002})
        self.assertEqual(self.fake.bookings(), [])

    def test_count_probability_seed_and_matching(self) -> None:
        self.fake.set_faults([{"match": {"method": "GET"}, "mode": "before", "count": 2}])
        self.assertEqual(self.api.create(101, future(1))[0], 201)         # POST untouched
        codes = [self.api.call("GET", "/v2/bookings")[0] for _ in range(3)]
        self.assertEqual(codes, [500, 500, 200])

        def run(seed: int) -> list[int]:
            self.fake.set_faults([{"match": {"path_prefix": "/v2/bookings"}, "mode": "before",
                                   "probability": 0.5}], seed=seed)
            return [self.api.call("GET", "/v2/bookings")[0] for _ in range(40)]

        a, b = run(3), run(3)
        self.assertEqual(a, b)                                  # seeded: reproducible
        self.assertTrue(10 <= a.count(500) <= 30, a)
        self.assertNotEqual(run(4), a)
        # control calls are never faulted
        self.fake.set_faults([{"match": {"path_prefix": "/"}, "mode": "drop", "probability": 1}])
        self.assertEqual(fc._control_call(self.fake.url, "GET", "/_fake/stats", None)
                         ["faults"][0]["mode"], "drop")
        self.fake.clear_faults()
        self.assertEqual(self.api.call("GET", "/v2/bookings")[0], 200)

    def test_faults_over_http_and_stats(self) -> None:
        rules = fc._control_call(self.fake.url, "POST", "/_fake/faults", {"rules": [
            {"match": {"method": "POST", "path_prefix": "/v2/bookings"}, "mode": "drop_after",
             "count": 1},
            {"match": {"method": "POST", "path_prefix": "/v2/bookings"}, "mode": "after",
             "count": 1}], "seed": 1})["rules"]
        self.assertEqual([r["mode"] for r in rules], ["drop_after", "after"])
        self.raw_post(self.body(1))
        self.assertEqual(self.api.create(101, future(3))[0], 500)
        self.assertEqual(self.api.create(101, future(5))[0], 201)
        stats = fc._control_call(self.fake.url, "GET", "/_fake/stats", None)
        self.assertEqual(stats["calls"]["POST /v2/bookings"],
                         {"fault:drop_after": 1, "fault:after": 1, "201": 1})
        self.assertEqual(stats["bookings"]["accepted"], 3)
        self.assertEqual(stats["total_requests"], 3)
        self.assertEqual(fc._control_call(self.fake.url, "DELETE", "/_fake/faults", None),
                         {"rules": []})
        log = self.fake.requests()
        self.assertEqual(log[0]["body"]["metadata"]["appointd_version"], "3")
        self.assertEqual(log[0]["headers"]["cal-api-version"], fc.API_VERSION)
        with self.assertRaises(ValueError):
            self.fake.set_faults([{"mode": "explode"}])

    def test_max_concurrent(self) -> None:
        self.fake.configure(latency=0.3)
        apis = [Api(self.fake.port) for _ in range(6)]
        threads = [threading.Thread(target=a.call, args=("GET", "/v2/bookings")) for a in apis]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for a in apis:
            a.close()
        stats = self.fake.stats()
        self.assertEqual(stats["max_concurrent"], 6)
        self.assertEqual(stats["in_flight"], 0)


class TestWebhooks(FakeTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.rx = Receiver()
        self.secret = "whsec_test"

    def tearDown(self) -> None:
        self.rx.close()
        super().tearDown()

    def verify(self, headers: dict, raw: bytes) -> dict:
        expected = hmac.new(self.secret.encode(), raw, hashlib.sha256).hexdigest()
        self.assertEqual(headers["x-cal-signature-256"], expected)
        self.assertEqual(headers["content-type"], "application/json")
        return json.loads(raw)

    def test_created_webhook_by_uid_is_signed(self) -> None:
        b = self.api.create(101, future(1))[1]["data"]
        status, text = self.fake.send_webhook(self.rx.url, self.secret, "BOOKING_CREATED",
                                              uid=b["uid"])
        self.assertEqual((status, text), (200, "ok"))
        [(headers, raw)] = self.rx.wait(1)
        self.assertNotIn(b": ", raw)                            # JSON.stringify, compact
        body = self.verify(headers, raw)
        self.assertEqual(fc.sign(raw, self.secret), headers["x-cal-signature-256"])
        self.assertEqual(body["triggerEvent"], "BOOKING_CREATED")
        self.assertRegex(body["createdAt"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        p = body["payload"]
        self.assertEqual((p["uid"], p["bookingId"], p["eventTypeId"]), (b["uid"], b["id"], 101))
        self.assertEqual(p["startTime"], future(1).replace(".000Z", "Z"))
        self.assertEqual(p["metadata"], {"appointd_appointment": "42", "appointd_version": "1"})
        self.assertEqual(p["status"], "ACCEPTED")
        self.assertEqual(p["organizer"]["username"], "alice")
        self.assertEqual(p["attendees"][0]["email"], "ada@example.com")
        self.assertEqual(p["attendees"][0]["utcOffset"] in (0, 60), True)  # Europe/London
        self.assertEqual(p["length"], 30)
        self.assertNotIn("rescheduleUid", p)

    def test_rescheduled_and_cancelled_shapes(self) -> None:
        old = self.api.create(101, future(1))[1]["data"]
        new = self.api.call("POST", f"/v2/bookings/{old['uid']}/reschedule",
                            {"start": future(4)})[1]["data"]
        self.fake.send_webhook(self.rx.url, self.secret, "BOOKING_RESCHEDULED", uid=new["uid"])
        self.api.call("POST", f"/v2/bookings/{new['uid']}/cancel", {"cancellationReason": "no"})
        self.fake.send_webhook(self.rx.url, self.secret, "BOOKING_CANCELLED", uid=new["uid"])
        (h1, r1), (h2, r2) = self.rx.wait(2)
        p = self.verify(h1, r1)["payload"]
        self.assertEqual(p["uid"], new["uid"])                      # the NEW booking
        self.assertEqual(p["rescheduleUid"], old["uid"])            # the old one
        self.assertEqual(p["rescheduleId"], old["id"])
        self.assertEqual(p["rescheduleStartTime"], future(1).replace(".000Z", "Z"))
        self.assertEqual(p["metadata"]["appointd_appointment"], "42")
        c = self.verify(h2, r2)["payload"]
        self.assertEqual((c["status"], c["cancellationReason"]), ("CANCELLED", "no"))
        self.assertNotIn("metadata", c)                             # as handleCancelBooking
        self.assertEqual(c["startTime"], future(4).replace(".000Z", "+00:00"))

    def test_tampered_missing_and_synthetic(self) -> None:
        self.rx.status = 401
        status, _ = self.fake.send_webhook(self.rx.url, self.secret, "BOOKING_CREATED",
                                           booking={"uid": "ext-1", "eventTypeId": 101,
                                                    "start": future(2)}, signature="00" * 32)
        self.assertEqual(status, 401)                               # the receiver's answer
        self.fake.send_webhook(self.rx.url, self.secret, "BOOKING_CREATED",
                               booking={"uid": "ext-2", "eventTypeId": 101, "start": future(2)},
                               signature=None)
        (h1, r1), (h2, r2) = self.rx.wait(2)
        self.assertEqual(h1["x-cal-signature-256"], "00" * 32)
        self.assertNotIn("x-cal-signature-256", h2)
        p = json.loads(r2)["payload"]
        self.assertEqual((p["uid"], p["eventTypeId"], p["metadata"]), ("ext-2", 101, {}))
        self.assertEqual(p["endTime"], future(2.5).replace(".000Z", "Z"))
        # helpers: a replay is the same bytes; a tampered body no longer matches its signature
        b = self.api.create(101, future(6))[1]["data"]
        raw = fc.webhook_body("BOOKING_CREATED", b, created_at="2030-01-01T00:00:00.000Z")
        self.assertEqual(raw, fc.webhook_body("BOOKING_CREATED", b,
                                              created_at="2030-01-01T00:00:00.000Z"))
        sig = fc.sign(raw, self.secret)
        tampered = raw.replace(b'"appointd_version":"1"', b'"appointd_version":"2"')
        self.assertNotEqual(tampered, raw)
        self.assertNotEqual(fc.sign(tampered, self.secret), sig)
        self.assertEqual(fc.sign(raw, None), "no-secret-provided")
        self.assertEqual(fc.post_webhook(self.rx.url, tampered, sig)[0], 401)

    def test_control_api_webhook(self) -> None:
        b = self.api.create(101, future(1))[1]["data"]
        out = fc._control_call(self.fake.url, "POST", "/_fake/webhook", {
            "url": self.rx.url, "secret": self.secret, "triggerEvent": "BOOKING_CREATED",
            "uid": b["uid"]})
        self.assertEqual(out["status"], 200)
        out = fc._control_call(self.fake.url, "POST", "/_fake/webhook", {
            "url": self.rx.url, "secret": self.secret, "triggerEvent": "BOOKING_CANCELLED",
            "uid": "x1", "eventTypeId": 101, "start": future(3), "cancellationReason": "gone"})
        self.assertEqual(out["status"], 200)
        (h, raw), (h2, raw2) = self.rx.wait(2)
        self.verify(h, raw)
        p = self.verify(h2, raw2)["payload"]
        self.assertEqual((p["uid"], p["status"], p["cancellationReason"]),
                         ("x1", "CANCELLED", "gone"))
        out = fc._control_call(self.fake.url, "POST", "/_fake/webhook", {
            "url": "http://127.0.0.1:1/none", "secret": "s", "triggerEvent": "BOOKING_CREATED",
            "uid": b["uid"]})
        self.assertIsNone(out["status"])
        self.assertIn("error", out)

    def test_subscriptions_deliver_every_change(self) -> None:
        self.fake.subscribe(self.rx.url, self.secret)
        b = self.api.create(101, future(1))[1]["data"]              # our own: an echo
        direct = fc._control_call(self.fake.url, "POST", "/_fake/bookings", {
            "eventTypeId": 102, "start": future(3),
            "attendee": {"name": "Walk In", "email": "w@i.n", "timeZone": "UTC"}})
        self.assertEqual(direct["status"], "accepted")
        busy = fc._control_call(self.fake.url, "POST", "/_fake/bookings",
                                {"eventTypeId": 101, "start": future(1)})
        self.assertEqual(busy["error"]["message"], fc.MSG_BUSY)
        moved = fc._control_call(self.fake.url, "POST", f"/_fake/bookings/{direct['uid']}/reschedule",
                                 {"start": future(6)})
        fc._control_call(self.fake.url, "POST", f"/_fake/bookings/{moved['uid']}/cancel",
                         {"cancellationReason": "host ill"})
        self.assertTrue(self.fake.wait_deliveries(5))
        got = [self.verify(h, raw) for h, raw in self.rx.wait(4)]
        self.assertEqual([g["triggerEvent"] for g in got],
                         ["BOOKING_CREATED", "BOOKING_CREATED", "BOOKING_RESCHEDULED",
                          "BOOKING_CANCELLED"])
        self.assertEqual(got[0]["payload"]["metadata"]["appointd_appointment"], "42")
        self.assertEqual(got[1]["payload"]["metadata"], {})          # made in Cal.com
        self.assertEqual(got[2]["payload"]["rescheduleUid"], direct["uid"])
        self.assertEqual(got[3]["payload"]["uid"], moved["uid"])
        self.assertEqual([d["status"] for d in self.fake.deliveries()], [200] * 4)
        internal = {x["uid"]: x["_fake"]["source"] for x in self.fake.bookings()}
        self.assertEqual(internal[b["uid"]], "api")
        self.assertEqual(internal[direct["uid"]], "calcom")

    def test_only_chosen_triggers(self) -> None:
        self.fake.subscribe(self.rx.url, self.secret, triggers=["BOOKING_CANCELLED"])
        uid = self.api.create(101, future(1))[1]["data"]["uid"]
        self.api.call("POST", f"/v2/bookings/{uid}/cancel", {"cancellationReason": "x"})
        self.fake.wait_deliveries(5)
        got = self.rx.wait(1)
        self.assertEqual([json.loads(r)["triggerEvent"] for _, r in got], ["BOOKING_CANCELLED"])


class TestControlAndCli(unittest.TestCase):
    def test_control_api_reset_and_event_types(self) -> None:
        with fc.FakeCalcom(api_key=KEY) as fake:
            out = fc._control_call(fake.url, "POST", "/_fake/event-types",
                                   [{"id": 5, "host": 77, "length": 20},
                                    {"id": 6, "host": "carol", "length": 40, "lengths": [40, 80]}])
            self.assertEqual([e["id"] for e in out], [5, 6])
            bad = fc._control_call(fake.url, "POST", "/_fake/event-types", {"id": 0, "host": 1,
                                                                             "length": 5})
            self.assertIn("error", bad)
            api = Api(fake.port)
            b = api.create(5, future(1))[1]["data"]
            self.assertEqual(b["hosts"][0]["id"], 77)
            listed = fc._control_call(fake.url, "GET", "/_fake/bookings?eventTypeId=5", None)
            self.assertEqual(listed["bookings"][0]["_fake"]["host"], 77)
            fc._control_call(fake.url, "POST", "/_fake/reset", {"keep_event_types": True})
            self.assertEqual(fake.bookings(), [])
            self.assertEqual(len(fake.event_types()), 2)
            cfg = fc._control_call(fake.url, "POST", "/_fake/config", {"latency": 0.01})
            self.assertEqual(cfg["latency"], 0.01)
            fc._control_call(fake.url, "POST", "/_fake/reset", {})
            self.assertEqual(fake.event_types(), [])
            self.assertEqual(fc._control_call(fake.url, "GET", "/_fake/nothing", None),
                             {"error": "no control endpoint GET /_fake/nothing"})
            api.close()

    def test_cli_serves_until_killed(self) -> None:
        here = os.path.dirname(os.path.abspath(__file__))
        proc = subprocess.Popen([sys.executable, os.path.join(here, "fake_calcom.py"), "--port",
                                 "0", "--api-key", KEY, "--event-type", "9:dora:30"],
                                stdout=subprocess.PIPE, text=True)
        try:
            word, port = proc.stdout.readline().split()
            self.assertEqual(word, "listening")
            api = Api(int(port))
            self.assertEqual(api.create(9, future(1))[0], 201)
            api.close()
        finally:
            proc.terminate()
            self.assertEqual(proc.wait(timeout=5), 0)
            proc.stdout.close()

    def test_bench_reports_a_ceiling(self) -> None:
        with fc.FakeCalcom(api_key=KEY) as fake:
            out = fc.bench(threads=2, seconds=0.5, url=fake.url, api_key=KEY)
        self.assertEqual(out["errors"], 0)
        self.assertGreater(out["creates"], 10)
        self.assertGreater(out["creates_per_s"], 20)
        self.assertEqual(out["threads"], 2)


if __name__ == "__main__":
    unittest.main()
