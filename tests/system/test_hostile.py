"""Hostile input: the findings of the hostile-input review, each pinned by a test.

Findings (the number is the "contract" item a test docstring cites):
  1 ids are never reused (holds, time off, segments replaced by a reschedule)
  2 company keys are never stored in plain text (idempotent replay of POST /v1/companies
    omits api_key; idempotency keys of platform callers are scoped to the platform key)
  3 HTTP framing per RFC 9112 (Transfer-Encoding, method case, Host, request target,
    percent-decoding after the path split, Expect: 100-continue after authentication)
  4 no unbounded replies (availability window and slot budget, list limit)
  5 silent connections (read timeout covers a connection that never sends; per-IP and global
    connection caps still answer the health endpoints)
  6 instants are sane (year range, offsets, no past start even for unscheduled staff, every
    instant in a reply is YYYY-MM-DDTHH:MM:SSZ)
  7 strict inputs (customer and customer_id, duplicate JSON keys, canonical IANA zones only,
    no phone extensions, lengths in characters)
  8 /metrics stays small, leaks no path or tenant, and can move to its own listener
  9 after every rejection the server is healthy and nothing changed; audit clean per class

Every class ends with test_zz_audit_clean (unittest runs tests in name order), and every reply
the company client receives is checked for instants in the strict UTC form (finding 6).
"""
from __future__ import annotations

import concurrent.futures
import datetime as dt
import json
import os
import re
import secrets
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import unittest
from typing import Any, NamedTuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (HOST, UTC, Client, Company, RawReply, ServerTestCase, at,  # noqa: E402
                     expect, free_port, iso, phone, raw_exchange, sqlite_path,
                     sqlite_table_counts)

# --------------------------------------------------------------------------------------------
# Helpers local to this suite
# --------------------------------------------------------------------------------------------

STRICT_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
# A string that is meant to be a date-time (also a broken one: 5-digit or signed years).
LOOKS_LIKE_INSTANT = re.compile(r"^[+-]?\d{4,}-\d{2}-\d{2}[Tt ]")
INSTANT_KEYS = {"start", "end", "created_at", "updated_at", "expires_at", "starts_at", "ends_at",
                "from", "to", "blocked_from", "blocked_until"}


def bad_instants(value: Any, where: str = "$") -> list[tuple[str, str]]:
    """(json path, value) of every instant in a reply body that is not YYYY-MM-DDTHH:MM:SSZ.
    An instant is a string under a known instant key or a string that looks like a date-time;
    local_* members (wall-clock time with an offset, by design) are exempt."""
    out: list[tuple[str, str]] = []
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(k, str) and k.startswith("local_"):
                continue
            if isinstance(v, str):
                if (k in INSTANT_KEYS or LOOKS_LIKE_INSTANT.match(v)) \
                        and not STRICT_INSTANT.match(v):
                    out.append((f"{where}.{k}", v))
            else:
                out += bad_instants(v, f"{where}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            if isinstance(v, str):
                if LOOKS_LIKE_INSTANT.match(v) and not STRICT_INSTANT.match(v):
                    out.append((f"{where}[{i}]", v))
            else:
                out += bad_instants(v, f"{where}[{i}]")
    return out


class CheckedClient(Client):
    """A Client that records every non-strict instant of every reply it receives (finding 6)."""

    def __init__(self, server, key, sink: list[str]):
        super().__init__(server, key)
        self.sink = sink

    def request(self, method, path, *args, **kw):
        r = super().request(method, path, *args, **kw)
        for where, v in bad_instants(r.body):
            self.sink.append(f"{method} {path} -> HTTP {r.status}: {where} = {v!r}")
        return r


def table_counts(db_url: str) -> dict[str, int] | None:
    """Row count of every table: SQLite through the harness, PostgreSQL through psql."""
    if sqlite_path(db_url) is not None:
        return sqlite_table_counts(db_url)
    psql = shutil.which("psql")
    if not psql:
        return None
    tables = subprocess.run(
        [psql, db_url, "-Atc", "select table_name from information_schema.tables "
                               "where table_schema = 'public' and table_type = 'BASE TABLE' "
                               "order by 1"],
        check=True, capture_output=True, text=True, timeout=30).stdout.split()
    if not tables:
        return {}
    # Table names come from the catalog (identifiers), quoted.
    sql = " union all ".join(f"select '{t}', count(*) from \"{t}\"" for t in tables)
    rows = subprocess.run([psql, db_url, "-AtF", "\t", "-c", sql], check=True,
                          capture_output=True, text=True, timeout=30).stdout.splitlines()
    return {name: int(n) for name, n in (r.split("\t") for r in rows)}


class Conversation(NamedTuple):
    replies: list[RawReply]  # every complete response, interim (1xx) ones included, in order
    closed: bool             # the server closed (EOF or reset) before our wait ran out
    raw: bytes               # everything received

    def __str__(self) -> str:
        return (f"{len(self.replies)} response(s) {[r.status for r in self.replies]}, "
                f"{'closed' if self.closed else 'left open'}: {self.raw[:800]!r}")


def _decode_body(headers: dict[str, str], body: bytes) -> Any:
    text: Any = body.decode("utf-8", errors="replace")
    if "json" in headers.get("content-type", "") and body:
        try:
            return json.loads(body)
        except ValueError:
            pass
    return text


def parse_replies(buf: bytes, closed: bool) -> list[RawReply]:
    """Splits a byte stream received from the server into its complete HTTP responses."""
    out: list[RawReply] = []
    while buf:
        head, sep, rest = buf.partition(b"\r\n\r\n")
        m = re.match(rb"HTTP/1\.[01] (\d{3})", head)
        if not sep or not m:
            break
        status = int(m.group(1))
        headers: dict[str, str] = {}
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.decode(errors="replace").partition(":")
            headers[name.strip().lower()] = value.strip()
        if 100 <= status < 200 or status in (204, 304):
            body, buf = b"", rest
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            body, pos = b"", 0
            while True:
                eol = rest.find(b"\r\n", pos)
                if eol < 0:
                    return out
                size = int(rest[pos:eol].split(b";")[0] or b"0", 16)
                if size == 0:
                    end = rest.find(b"\r\n\r\n", eol)
                    if end < 0:
                        return out
                    buf = rest[end + 4:]
                    break
                if len(rest) < eol + 2 + size + 2:
                    return out
                body += rest[eol + 2:eol + 2 + size]
                pos = eol + 2 + size + 2
        elif "content-length" in headers:
            n = int(headers["content-length"])
            if len(rest) < n:
                break
            body, buf = rest[:n], rest[n:]
        else:  # delimited by the close
            if not closed:
                break
            body, buf = rest, b""
        out.append(RawReply(status, headers, _decode_body(headers, body), head + sep + body))
    return out


def converse(port: int, data: bytes, *, wait: float = 3.0,
             stop_after: int | None = None) -> Conversation:
    """Sends data in one go over a fresh socket (never half-closing it), then reads everything
    the server sends until it closes the connection, `wait` seconds pass, or stop_after
    responses have arrived. Counting the responses shows whether a second, smuggled request
    was answered; `closed` shows whether the server ended the connection."""
    s = socket.create_connection((HOST, port), timeout=wait)
    buf, closed = b"", False
    try:
        try:
            s.sendall(data)
        except OSError:
            pass
        deadline = time.monotonic() + wait
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            s.settimeout(left)
            try:
                part = s.recv(65536)
            except socket.timeout:
                break
            except OSError:  # reset: the server is gone from this connection
                closed = True
                break
            if not part:
                closed = True
                break
            buf += part
            if stop_after is not None and len(parse_replies(buf, False)) >= stop_after:
                break
    finally:
        s.close()
    return Conversation(parse_replies(buf, closed), closed, buf)


def recv_until(s: socket.socket, done, timeout: float) -> tuple[bytes, bool]:
    """Reads from s until done(buf) holds, the peer closes, or timeout; returns (buf, closed)."""
    buf, deadline = b"", time.monotonic() + timeout
    while not done(buf):
        left = deadline - time.monotonic()
        if left <= 0:
            return buf, False
        s.settimeout(left)
        try:
            part = s.recv(65536)
        except socket.timeout:
            return buf, False
        except OSError:
            return buf, True
        if not part:
            return buf, True
        buf += part
    return buf, False


def chunked(body: bytes, size: int = 7) -> bytes:
    """body in the chunked transfer coding, in chunks of `size` bytes."""
    out = b""
    for i in range(0, len(body), size):
        part = body[i:i + size]
        out += f"{len(part):x}\r\n".encode() + part + b"\r\n"
    return out + b"0\r\n\r\n"


def today_utc() -> dt.datetime:
    now = dt.datetime.now(UTC)
    return dt.datetime(now.year, now.month, now.day, tzinfo=UTC)


HEALTHZ = f"GET /healthz HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode()
SMUGGLED = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
ALL_DAY = {d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


# --------------------------------------------------------------------------------------------
# Shared fixture: one company with an unscheduled staff member, snapshots, audit last
# --------------------------------------------------------------------------------------------

class HostileMixin:
    """Mixed into each ServerTestCase below (a mixin, so it is no test class of its own)."""

    branch_timezone = "Europe/Berlin"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.instant_violations: list[str] = []
        cls.co = Company(cls.server, cls.platform_key)
        cls.co.api = CheckedClient(cls.server, cls.co.key, cls.instant_violations)
        cls.br = cls.co.branch(timezone=cls.branch_timezone)
        cls.svc = cls.co.service(duration=30)
        cls.st = cls.co.staff(cls.br, [cls.svc])  # no working hours: unscheduled

    def tearDown(self):
        super().tearDown()
        bad = list(self.instant_violations)
        self.instant_violations.clear()
        self.assertEqual(bad, [], "finding 6: replies carried instants not in the form "
                                  "YYYY-MM-DDTHH:MM:SSZ")

    def test_zz_audit_clean(self):
        """Finding 9: whatever the tests of this class did, `appointd audit` is clean."""
        self.assertHealthy()
        self.assertAuditClean()

    # -- "nothing changed" -------------------------------------------------------------------
    def snapshot(self) -> dict:
        co = self.co
        return {
            "appointments": co.appointments(),
            "branches": co.items("/v1/branches"),
            "services": co.items("/v1/services"),
            "staff": co.items("/v1/staff"),
            "time_off": co.items(f"/v1/staff/{self.st['id']}/time-off"),
            "tables": table_counts(self.db_url),
        }


# --------------------------------------------------------------------------------------------
# 1. Ids are never reused
# --------------------------------------------------------------------------------------------

class IdsNeverReusedTest(HostileMixin, ServerTestCase):
    ROUNDS = 4

    def test_hold_ids(self):
        """Finding 1: deleting the newest hold and creating another never hands out its id
        again, and a deleted hold id stays 404 (SQLite used to reuse the max rowid)."""
        seen, deleted = [], []
        for i in range(self.ROUNDS):
            h = expect(self.co.api.post("/v1/holds", {
                "staff_id": self.st["id"], "service_id": self.svc["id"],
                "start": iso(at(9, day=i)), "ttl_seconds": 900}), 201)
            if seen:
                self.assertGreater(h["id"], max(seen), f"round {i}: hold id reused or smaller")
            seen.append(h["id"])
            self.assertStatus(self.co.api.delete(f"/v1/holds/{h['id']}"), 204)
            deleted.append(h["id"])
        for hid in deleted:
            self.assertProblem(self.co.api.delete(f"/v1/holds/{hid}"), 404, "not_found",
                               msg=f"deleted hold {hid}")
            self.assertProblem(self.co.api.get(f"/v1/holds/{hid}"), 404, "not_found",
                               msg=f"deleted hold {hid}")

    def test_time_off_ids(self):
        """Finding 1: the same for time off (POST then DELETE /v1/staff/{id}/time-off/{tid})."""
        base = f"/v1/staff/{self.st['id']}/time-off"
        seen, deleted = [], []
        for i in range(self.ROUNDS):
            t = expect(self.co.api.post(base, {"starts_at": iso(at(20, day=40 + i)),
                                               "ends_at": iso(at(22, day=40 + i)),
                                               "reason": f"round {i}"}), 201)
            if seen:
                self.assertGreater(t["id"], max(seen), f"round {i}: time-off id reused")
            seen.append(t["id"])
            self.assertStatus(self.co.api.delete(f"{base}/{t['id']}"), 204)
            deleted.append(t["id"])
        for tid in deleted:
            self.assertProblem(self.co.api.delete(f"{base}/{tid}"), 404, "not_found",
                               msg=f"deleted time off {tid}")
        self.assertEqual([t["id"] for t in self.co.items(base) if t["id"] in deleted], [])

    def test_reschedule_segment_ids(self):
        """Finding 1: a reschedule replaces the segments; the new segment ids are all greater
        than every earlier one, round after round, for a single and for a composite."""
        st2 = self.co.staff(self.br, [self.svc])
        single = self.co.book([self.co.seg(self.st, self.svc, at(9, day=60))])
        composite = self.co.book([self.co.seg(self.st, self.svc, at(9, day=70)),
                                  self.co.seg(st2, self.svc, at(10, day=70))])
        for appt, day0 in ((single, 60), (composite, 70)):
            seen = [s["id"] for s in appt["segments"]]
            version = appt["version"]
            for i in range(1, self.ROUNDS + 1):
                r = expect(self.co.api.post(f"/v1/appointments/{appt['id']}/reschedule", {
                    "expected_version": version, "start": iso(at(9 + i, day=day0))}), 200)
                new = [s["id"] for s in r["segments"]]
                self.assertEqual(len(new), len(appt["segments"]))
                self.assertGreater(min(new), max(seen),
                                   f"appointment {appt['id']} round {i}: new segment ids {new} "
                                   f"not above earlier ones {seen}")
                seen += new
                version = r["version"]
            self.assertEqual([s["id"] for s in self.co.appointment(appt["id"])["segments"]],
                             seen[-len(appt["segments"]):])


class IdsMigrationTest(HostileMixin, ServerTestCase):
    """Finding 1 on an existing SQLite database: migration 004 rebuilds holds, time off and
    segments with AUTOINCREMENT, keeping every row and its id."""

    def test_existing_database_is_migrated(self):
        path = sqlite_path(self.db_url)
        if path is None:
            self.skipTest("SQLite only: PostgreSQL identities never reused an id")
        holds = [expect(self.co.api.post("/v1/holds", {
            "staff_id": self.st["id"], "service_id": self.svc["id"],
            "start": iso(at(9 + i, day=5)), "ttl_seconds": 900}), 201) for i in range(3)]
        appt = self.co.book([self.co.seg(self.st, self.svc, at(9, day=6))])
        self.server.stop()
        # Turn the file back into a database from before migration 004: plain rowid tables.
        con = sqlite3.connect(path)
        try:
            with con:
                for table in ("holds", "time_off", "segments"):
                    sql = con.execute("SELECT sql FROM sqlite_master WHERE name = ?",
                                      (table,)).fetchone()[0]
                    self.assertIn("AUTOINCREMENT", sql)
                    con.execute(f"ALTER TABLE {table} RENAME TO {table}_old")
                    con.execute(sql.replace("AUTOINCREMENT", "", 1))
                    con.execute(f"INSERT INTO {table} SELECT * FROM {table}_old")
                    con.execute(f"DROP TABLE {table}_old")
                con.execute("DELETE FROM sqlite_sequence")
                con.execute("DELETE FROM schema_migrations WHERE version = 4")
        finally:
            con.close()
        self.server.start()
        for h in holds:  # every row is there with its id
            self.assertEqual(expect(self.co.api.get(f"/v1/holds/{h['id']}"), 200)["id"], h["id"])
        self.assertEqual(self.co.appointment(appt["id"])["segments"], appt["segments"])
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            for table in ("holds", "time_off", "segments"):
                sql = con.execute("SELECT sql FROM sqlite_master WHERE name = ?",
                                  (table,)).fetchone()[0]
                self.assertIn("AUTOINCREMENT", sql, f"{table} was not rebuilt")
        finally:
            con.close()
        # From here on a deleted newest id stays dead.
        last = max(h["id"] for h in holds)
        for i in range(3):
            h = expect(self.co.api.post("/v1/holds", {
                "staff_id": self.st["id"], "service_id": self.svc["id"],
                "start": iso(at(15, day=7 + i)), "ttl_seconds": 900}), 201)
            self.assertGreater(h["id"], last)
            last = h["id"]
            self.assertStatus(self.co.api.delete(f"/v1/holds/{h['id']}"), 204)


# --------------------------------------------------------------------------------------------
# 2. Company keys never stored in plain text
# --------------------------------------------------------------------------------------------

class CompanyKeyAtRestTest(HostileMixin, ServerTestCase):

    def stored_bytes(self) -> bytes:
        """What the store holds where a replayed body would live: the SQLite file and its WAL,
        or on PostgreSQL every stored idempotent reply body."""
        path = sqlite_path(self.db_url)
        if path is not None:
            data = b""
            for p in (path, path + "-wal"):
                if os.path.exists(p):
                    with open(p, "rb") as f:
                        data += f.read()
            self.assertTrue(data, "no SQLite file to inspect")
            return data
        psql = shutil.which("psql")
        if not psql:
            self.skipTest("psql not installed")
        return subprocess.run([psql, self.db_url, "-Atc", "select body from idempotency_keys"],
                              check=True, capture_output=True, timeout=30).stdout

    def test_replay_omits_key_and_store_holds_no_plain_key(self):
        """Finding 2: a replayed POST /v1/companies answers 201 with the same id, no api_key
        and an api_key_note; the key itself is nowhere in the store (file + WAL / PG bodies)."""
        body = {"name": "Replay Key GmbH", "timezone": "Europe/Berlin", "country": "DE"}
        hdr = {"Idempotency-Key": "hostile-company-1"}
        first = self.platform.post("/v1/companies", body, headers=hdr)
        self.assertStatus(first, 201)
        key = first.body.get("api_key")
        self.assertIsInstance(key, str, f"first reply carries api_key: {first}")
        self.assertNotIn("idempotent-replayed", first.headers)
        self.assertStatus(Client(self.server, key).get("/v1/company"), 200,
                          msg="the first key works")

        replay = self.platform.post("/v1/companies", body, headers=hdr)
        self.assertStatus(replay, 201, msg="replay")
        self.assertEqual(replay.headers.get("idempotent-replayed"), "true", str(replay))
        self.assertEqual(replay.body.get("id"), first.body["id"], str(replay))
        self.assertNotIn("api_key", replay.body, f"a replay must not carry the key: {replay}")
        self.assertNotIn(key, replay.raw.decode(errors="replace"), "key bytes in the replay")
        note = replay.body.get("api_key_note")
        self.assertIsInstance(note, str, f"replay explains where the key went: {replay}")
        self.assertTrue(note.strip(), str(replay))

        stored = self.stored_bytes()
        self.assertNotIn(key.encode(), stored, "the company key is stored in plain text")

    def test_platform_idempotency_is_scoped_per_platform_key(self):
        """Finding 2: another platform key sending the same Idempotency-Key and body gets its
        own new company (no replay of the first key's company and key)."""
        body = {"name": "Scoped Key AG", "timezone": "Europe/Berlin", "country": "DE"}
        hdr = {"Idempotency-Key": "hostile-company-scope"}
        first = self.platform.post("/v1/companies", body, headers=hdr)
        self.assertStatus(first, 201)
        other = Client(self.server, self.server.create_platform_key())
        second = other.post("/v1/companies", body, headers=hdr)
        self.assertStatus(second, 201, msg="second platform key")
        self.assertNotIn("idempotent-replayed", second.headers, str(second))
        self.assertNotEqual(second.body.get("id"), first.body["id"], str(second))
        self.assertIsInstance(second.body.get("api_key"), str, str(second))
        self.assertNotEqual(second.body["api_key"], first.body["api_key"])
        self.assertEqual(expect(Client(self.server, second.body["api_key"]).get("/v1/company"),
                                200)["id"], second.body["id"])


# --------------------------------------------------------------------------------------------
# 3. HTTP framing
# --------------------------------------------------------------------------------------------

class FramingTest(HostileMixin, ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.appt = cls.co.book([cls.co.seg(cls.st, cls.svc, at(9))])

    def head(self, method="POST", target="/v1/branches", version="HTTP/1.1", extra="",
             key: str | None = "company") -> bytes:
        auth = "" if key is None else \
            f"Authorization: Bearer {self.co.key if key == 'company' else key}\r\n"
        return (f"{method} {target} {version}\r\nHost: {HOST}\r\n{auth}"
                f"Content-Type: application/json\r\n{extra}\r\n").encode()

    def assertOneBadRequestThenClosed(self, conv: Conversation, msg: str):
        self.assertEqual(len(conv.replies), 1, f"{msg}: exactly one response expected, got {conv}")
        self.assertProblem(conv.replies[0], 400, "bad_request", msg=msg)
        self.assertTrue(conv.closed, f"{msg}: the connection must be closed after the 400: {conv}")

    def test_transfer_encoding_not_ending_in_chunked(self):
        """Finding 3: Transfer-Encoding whose last coding is not exactly `chunked` (or empty)
        with a smuggled GET behind it: one 400 bad_request, then close; nothing created."""
        branch = chunked(b'{"name": "smuggled branch"}')
        values = ["xchunked", "gzip", "chunked, identity", "chunked,chunked", "chunked, chunked",
                  ""]
        before = self.snapshot()
        # Each case may wait for a close that a lenient server never sends: run them at once.
        with concurrent.futures.ThreadPoolExecutor(len(values)) as ex:
            convs = dict(zip(values, ex.map(lambda v: converse(
                self.server.port,
                self.head(extra=f"Transfer-Encoding: {v}\r\n") + branch + SMUGGLED), values)))
        for v, conv in convs.items():
            with self.subTest(te=v):
                self.assertOneBadRequestThenClosed(conv, f"Transfer-Encoding: {v!r}")
        self.assertHealthy()
        self.assertEqual(self.snapshot(), before, "a framing error created something")

    def test_request_line_and_host(self):
        """Finding 3: lowercase method, HTTP/1.1 without Host, and targets not starting with
        `/` (relative, absolute-form, asterisk) are 400 bad_request."""
        cases = {
            "lowercase method": b"get /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
            "no Host": b"GET /healthz HTTP/1.1\r\n\r\n",
            "relative target": b"GET healthz HTTP/1.1\r\nHost: x\r\n\r\n",
            "absolute-form target":
                f"GET http://{HOST}/healthz HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
            "asterisk target": b"GET * HTTP/1.1\r\nHost: x\r\n\r\n",
            "lowercase method with key": self.head("get", "/v1/company"),
        }
        for name, req in cases.items():
            with self.subTest(name):
                self.assertRejected(lambda: raw_exchange(self.server.port, [req], read_timeout=5),
                                    400, "bad_request", msg=name)

    def test_chunked_on_http10(self):
        """Finding 3: Transfer-Encoding: chunked on an HTTP/1.0 request is 400, not a branch."""
        req = self.head(version="HTTP/1.0", extra="Transfer-Encoding: chunked\r\n") + \
            chunked(b'{"name": "http10 branch"}')
        self.assertRejected(lambda: raw_exchange(self.server.port, [req], read_timeout=5), 400,
                            "bad_request")

    def test_valid_chunked_post_still_works(self):
        """Finding 3 (control): a well-formed chunked HTTP/1.1 POST /v1/branches is served."""
        req = self.head(extra="Transfer-Encoding: chunked\r\n") + \
            chunked(b'{"name": "chunked branch"}')
        r = raw_exchange(self.server.port, [req], read_timeout=5)
        self.assertStatus(r, 201)
        self.assertEqual(r.body.get("name"), "chunked branch", str(r))

    def test_percent_decoding_after_split(self):
        """Finding 3: %2F is data inside one segment, never a separator: the encoded paths
        match no route (404) and an encoded /cancel cancels nothing."""
        sid, aid = self.st["id"], self.appt["id"]
        for path in (f"/v1/staff/{sid}%2F", "/v1/staff/1%2F", "/v1%2Fstaff",
                     f"/v1/staff/{sid}%2Fworking-hours", f"/v1/staff/{sid}%2ftime-off"):
            with self.subTest(path):
                self.assertRejected(lambda: self.co.api.get(path), 404, "not_found", msg=path)
        self.assertRejected(lambda: self.co.api.post(f"/v1/appointments/{aid}%2Fcancel", {}),
                            404, "not_found", msg="encoded cancel")
        self.assertEqual(self.co.appointment(aid)["status"], "booked")

    def expect_continue(self, key: str | None) -> tuple[bytes, socket.socket]:
        body = b'{"name": "expect branch"}'
        s = socket.create_connection((HOST, self.server.port), timeout=5)
        s.sendall(self.head(key=key, extra=f"Content-Length: {len(body)}\r\n"
                                           "Expect: 100-continue\r\n"))
        first, _ = recv_until(s, lambda b: b"\r\n\r\n" in b and
                              bool(parse_replies(b, False)), 3.0)
        return first, s

    def test_expect_continue_authenticates_first(self):
        """Finding 3: with Expect: 100-continue and no or a wrong key, the server answers 401
        on the headers alone, never `100 Continue` first (no body is invited)."""
        for name, key in (("no key", None), ("wrong key", "ak_wrong_" + secrets.token_hex(8))):
            with self.subTest(name):
                before = self.snapshot()
                first, s = self.expect_continue(key)
                s.close()
                self.assertFalse(first.startswith(b"HTTP/1.1 100"),
                                 f"{name}: 100 Continue sent before authentication: {first!r}")
                replies = parse_replies(first, False)
                self.assertTrue(replies, f"{name}: no answer to the headers: {first!r}")
                self.assertProblem(replies[0], 401, "unauthorized", msg=name)
                self.assertHealthy()
                self.assertEqual(self.snapshot(), before)

    def test_expect_continue_with_valid_key(self):
        """Finding 3 (control): with a valid key the server sends 100 Continue, then 201."""
        first, s = self.expect_continue("company")
        try:
            self.assertTrue(first.startswith(b"HTTP/1.1 100 Continue"),
                            f"first bytes are not 100 Continue: {first!r}")
            s.sendall(b'{"name": "expect branch"}')
            rest, closed = recv_until(s, lambda b: len(parse_replies(b, False)) >= 1, 5.0)
        finally:
            s.close()
        replies = [r for r in parse_replies(first + rest, closed) if r.status >= 200]
        self.assertTrue(replies, f"no final response: {first + rest!r}")
        self.assertStatus(replies[0], 201)
        self.assertEqual(replies[0].body.get("name"), "expect branch")


# --------------------------------------------------------------------------------------------
# 4. No unbounded replies
# --------------------------------------------------------------------------------------------

class BoundedRepliesTest(HostileMixin, ServerTestCase):
    branch_timezone = "UTC"
    STAFF = 20

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        expect(cls.co.api.request("PATCH", "/v1/company", {"slot_step_minutes": 5}), 200)
        cls.svc5 = cls.co.service(duration=5)
        cls.busy = []
        for _ in range(cls.STAFF):
            st = cls.co.staff(cls.br, [cls.svc5])
            expect(cls.co.api.put(f"/v1/staff/{st['id']}/working-hours", ALL_DAY), 200)
            cls.busy.append(st)
        cls.day = today_utc() + dt.timedelta(days=2)

    def availability(self, frm: dt.datetime, to: dt.datetime, client: Client | None = None,
                     **q) -> Any:
        return (client or self.co.api).get("/v1/availability", query={
            "service_id": self.svc5["id"], "from": iso(frm), "to": iso(to), **q})

    def test_window_over_31_days(self):
        """Finding 4: an availability window over 31 days is 422 validation_failed on "to"."""
        self.assertRejected(lambda: self.availability(
            self.day, self.day + dt.timedelta(days=31, hours=1)), 422, "validation_failed",
            fields=("to",))

    def test_too_many_slots(self):
        """Finding 4: a query that would list more than 5000 starts in total (20 staff x 24 h x
        31 days on a 5-minute grid) is refused fast with 422 too_many_slots while /healthz
        stays fast; a narrow query still answers 200."""
        slow_client = Client(self.server, self.co.key, timeout=20)
        result: dict[str, Any] = {}

        def query():
            t0 = time.monotonic()
            try:
                result["reply"] = self.availability(self.day, self.day + dt.timedelta(days=31),
                                                    client=slow_client)
            except OSError as e:
                result["error"] = e
            finally:
                slow_client.drop()  # this thread's keep-alive connection
            result["seconds"] = time.monotonic() - t0

        worker = threading.Thread(target=query, daemon=True)
        worker.start()
        health_latency = []
        while True:  # bounded by the client's timeout above
            t0 = time.monotonic()
            r = raw_exchange(self.server.port, [HEALTHZ], read_timeout=5)
            health_latency.append(time.monotonic() - t0)
            self.assertStatus(r, 200, msg="/healthz during the big query")
            if not worker.is_alive():
                break
            time.sleep(0.05)
        worker.join(25)
        self.assertNotIn("error", result, f"the big availability query failed: {result}")
        self.assertProblem(result["reply"], 422, "too_many_slots")
        self.assertLess(result["seconds"], 2.0, "the refusal must be quick")
        self.assertLess(max(health_latency), 1.0, f"/healthz slowed down: {health_latency}")

        narrow = self.availability(self.day, self.day + dt.timedelta(days=1),
                                   staff_id=self.busy[0]["id"])
        self.assertStatus(narrow, 200)
        slots = narrow.body["staff"][0]["slots"]
        self.assertTrue(0 < len(slots) <= 5000, f"{len(slots)} slots")

    def test_composite_window_over_31_days(self):
        """Finding 4: POST /v1/availability/composite with a window over 31 days is 422."""
        self.assertRejected(lambda: self.co.api.post("/v1/availability/composite", {
            "from": iso(self.day), "to": iso(self.day + dt.timedelta(days=32)),
            "services": [{"service_id": self.svc5["id"]}]}), 422, "validation_failed")

    def test_list_limit_over_500(self):
        """Finding 4: GET /v1/appointments?limit=501 is 422 validation_failed, not clamped."""
        self.assertRejected(lambda: self.co.api.get("/v1/appointments", query={
            "from": "2029-01-01T00:00:00Z", "to": "2033-01-01T00:00:00Z", "limit": 501}),
            422, "validation_failed")


# --------------------------------------------------------------------------------------------
# 5. Silent connections
# --------------------------------------------------------------------------------------------

class ReadTimeoutTest(HostileMixin, ServerTestCase):
    server_args = ("--read-timeout", "1")

    def test_silent_connection_is_closed(self):
        """Finding 5: a connection that never sends a byte is closed within ~3 s under
        --read-timeout 1 (not kept until the 60 s idle timeout)."""
        s = socket.create_connection((HOST, self.server.port), timeout=10)
        t0 = time.monotonic()
        try:
            got, closed = recv_until(s, lambda b: False, 6.0)
        finally:
            s.close()
        elapsed = time.monotonic() - t0
        self.assertTrue(closed, f"silent connection still open after {elapsed:.1f} s")
        self.assertEqual(got, b"", "the server should just close a silent connection")
        self.assertLess(elapsed, 3.5, f"closed only after {elapsed:.1f} s")
        self.assertHealthy()


class CapMixin(HostileMixin):
    """Fills the cap with 8 silent connections, then only the service endpoints are served."""
    CAP = 8

    def open_silent(self, n: int) -> list[socket.socket]:
        socks = []
        for _ in range(n):
            socks.append(socket.create_connection((HOST, self.server.port), timeout=5))
        return socks

    def company_request(self) -> bytes:
        return (f"GET /v1/company HTTP/1.1\r\nHost: {HOST}\r\n"
                f"Authorization: Bearer {self.co.key}\r\n\r\n").encode()

    def test_cap_still_serves_health_endpoints(self):
        """Finding 5: with the cap held by 8 silent connections, an API request gets 503
        too_many_connections but /healthz, /readyz and /metrics answer 200; after the 8 close,
        API requests work again."""
        self.co.api.drop()  # this thread's keep-alive connection would take a place of its own
        silent = self.open_silent(self.CAP)
        try:
            deadline = time.monotonic() + 5
            while True:  # the server accepts the 8 asynchronously: wait until it is full
                r = raw_exchange(self.server.port, [self.company_request()], read_timeout=5)
                if r.status == 503 or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            self.assertProblem(r, 503, "too_many_connections", msg="API request over the cap")
            for path in ("/healthz", "/readyz", "/metrics"):
                with self.subTest(path):
                    r = raw_exchange(self.server.port,
                                     [f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode()],
                                     read_timeout=5)
                    self.assertStatus(r, 200, msg=f"{path} over the cap")
        finally:
            for s in silent:
                s.close()
        deadline = time.monotonic() + 10
        while True:
            r = raw_exchange(self.server.port, [self.company_request()], read_timeout=5)
            if r.status == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.assertStatus(r, 200, msg="API request after the silent connections closed")
        self.assertHealthy()


class PerIpConnectionCapTest(CapMixin, ServerTestCase):
    # --read-timeout 30: the silent connections must outlive the test.
    server_args = ("--max-connections-per-ip", "8", "--read-timeout", "30")


class GlobalConnectionCapTest(CapMixin, ServerTestCase):
    server_args = ("--max-connections", "8", "--read-timeout", "30")


# --------------------------------------------------------------------------------------------
# 6. Instants are sane
# --------------------------------------------------------------------------------------------

INSANE = ("0000-01-01T00:00:00+23:59", "9999-12-31T23:59:59-23:59", "1969-12-31T23:59:59Z",
          "9000-01-01T00:00:00Z")


def plus_one_day(s: str) -> str:
    """The same spelling one day later (dates here never cross a month end but 12-31)."""
    date, rest = s.split("T")
    y, m, d = (int(x) for x in date.split("-"))
    if (m, d) == (12, 31):
        y, m, d = y + 1, 1, 1
    else:
        d += 1
    return f"{y:04d}-{m:02d}-{d:02d}T{rest}"


class InstantsTest(HostileMixin, ServerTestCase):

    def book(self, start: str, **kw):
        return lambda: self.co.api.post("/v1/appointments", {
            "customer": {"phone": kw.get("phone", phone(900)), "name": "Ins"},
            "segments": [{"staff_id": self.st["id"], "service_id": self.svc["id"],
                          "start": start}]})

    def test_insane_segment_starts(self):
        """Finding 6: instants before 1970, far-future years (9000, 9999) and extreme offsets
        that push a date out of range are 422 validation_failed on segments[0].start;
        nothing is booked."""
        for s in INSANE:
            with self.subTest(s):
                self.assertRejected(self.book(s), 422, "validation_failed",
                                    fields=("segments[0].start",), phones=(phone(900),), msg=s)

    def test_insane_availability_windows(self):
        """Finding 6: the same instants as availability from/to are 422."""
        for s in INSANE:
            with self.subTest(s):
                self.assertRejected(lambda: self.co.api.get("/v1/availability", query={
                    "service_id": self.svc["id"], "from": s, "to": plus_one_day(s)}), 422,
                    msg=s)

    def test_past_start_for_unscheduled_staff(self):
        """Finding 6: even staff without working hours cannot be booked in the past:
        422 too_soon."""
        yesterday = iso(today_utc() - dt.timedelta(days=1) + dt.timedelta(hours=10))
        self.assertRejected(self.book(yesterday, phone=phone(901)), 422, "too_soon",
                            phones=(phone(901),))

    def test_replies_use_strict_utc(self):
        """Finding 6: inputs with offsets and odd spellings come back as YYYY-MM-DDTHH:MM:SSZ
        (every reply of the company client is checked in tearDown); an extreme time off,
        hold or reschedule is either refused with a 4xx or also answered in that form."""
        appt = self.co.book([self.co.seg(self.st, self.svc, "2030-03-04T10:00:00+05:30")])
        self.assertEqual(appt["segments"][0]["start"], "2030-03-04T04:30:00Z")
        for start in ("2030-03-05T10:00:00.000+01:00", "2030-03-05t12:00:00z"):
            r = self.co.api.post(f"/v1/appointments/{appt['id']}/reschedule", {"start": start})
            self.assertIn(r.status, (200, 422), str(r))
        t = self.co.api.post(f"/v1/staff/{self.st['id']}/time-off", {
            "starts_at": "9999-12-30T23:59:59-23:59", "ends_at": "9999-12-31T23:59:59-23:59"})
        self.assertLess(t.status, 500, str(t))
        h = self.co.api.post("/v1/holds", {"staff_id": self.st["id"],
                                           "service_id": self.svc["id"],
                                           "start": "9999-12-31T23:00:00-23:59"})
        self.assertLess(h.status, 500, str(h))
        if t.status == 201:  # leave no extreme row behind for the audit
            self.co.api.delete(f"/v1/staff/{self.st['id']}/time-off/{t.body['id']}")
        if h.status == 201:
            self.co.api.delete(f"/v1/holds/{h.body['id']}")
        self.co.items(f"/v1/staff/{self.st['id']}/time-off")
        self.co.appointments()


# --------------------------------------------------------------------------------------------
# 7. Strict inputs
# --------------------------------------------------------------------------------------------

class StrictInputTest(HostileMixin, ServerTestCase):

    def seg(self, hour: int) -> dict:
        return {"staff_id": self.st["id"], "service_id": self.svc["id"], "start": iso(at(hour))}

    def test_customer_and_customer_id(self):
        """Finding 7: customer_id and customer together are ambiguous: 422, nothing booked."""
        cust = self.co.customer(phone(700))
        self.assertRejected(lambda: self.co.api.post("/v1/appointments", {
            "customer_id": cust["id"], "customer": {"phone": phone(701), "name": "Two"},
            "segments": [self.seg(9)]}), 422, "validation_failed", phones=(phone(701),))

    def test_duplicate_json_keys(self):
        """Finding 7: a JSON object with a duplicate key (top level or nested) is 400
        malformed_json, never "last one wins"."""
        # Each case books its own hour, so a lenient server's booking cannot make the next
        # case fail for another reason (409).
        cases = {
            "branch name": ("/v1/branches", '{"name": "a", "name": "b"}'),
            "customer phone": ("/v1/appointments",
                               '{"customer": {"phone": "%s", "name": "x", "phone": "%s"}, '
                               '"segments": [%s]}'
                               % (phone(710), phone(711), json.dumps(self.seg(10)))),
            "customer name": ("/v1/appointments",
                              '{"customer": {"phone": "%s", "name": "x", "name": "y"}, '
                              '"segments": [%s]}' % (phone(712), json.dumps(self.seg(14)))),
            "segment start": ("/v1/appointments",
                              '{"customer": {"phone": "%s", "name": "x"}, "segments": [{'
                              '"staff_id": %d, "service_id": %d, "start": "%s", "start": "%s"}]}'
                              % (phone(713), self.st["id"], self.svc["id"], iso(at(11)),
                                 iso(at(12)))),
            "segment staff": ("/v1/appointments",
                              '{"customer": {"phone": "%s", "name": "x"}, "segments": [{'
                              '"staff_id": %d, "service_id": %d, "start": "%s", "staff_id": %d}]}'
                              % (phone(714), self.st["id"], self.svc["id"], iso(at(13)),
                                 self.st["id"])),
        }
        for name, (path, raw) in cases.items():
            with self.subTest(name):
                self.assertRejected(lambda: self.co.api.post(path, raw), 400, "malformed_json",
                                    phones=tuple(phone(i) for i in range(710, 715)), msg=name)

    def test_time_zones(self):
        """Finding 7: only canonical IANA zone names: no `localtime`, links, padding, wrong case,
        paths or posixrules (422 invalid_time_zone); canonical names are 201."""
        for tz in ("localtime", "US/Eastern", "Europe/Berlin ", "europe/berlin", "../etc/passwd",
                   "posixrules"):
            with self.subTest(tz):
                self.assertRejected(lambda: self.co.api.post("/v1/branches", {
                    "name": f"tz {tz}", "timezone": tz}), 422, "invalid_time_zone", msg=repr(tz))
        for tz in ("Europe/Berlin", "America/New_York", "UTC"):
            with self.subTest(tz):
                b = expect(self.co.api.post("/v1/branches", {"name": f"tz {tz}",
                                                             "timezone": tz}), 201)
                self.assertEqual(b["timezone"], tz)

    def test_phone_extensions(self):
        """Finding 7: a phone with an extension is 422 invalid_phone; no customer created."""
        for i, spelling in enumerate(("+49 30 7654321 ext. 12", "+49 30 7654322;ext=12",
                                      "+49 30 7654323 x12")):
            e164 = f"+4930765432{i + 1}"
            with self.subTest(spelling):
                self.assertRejected(lambda: self.co.api.put("/v1/customers", {
                    "phone": spelling, "name": "Ext"}), 422, "invalid_phone", phones=(e164,),
                    msg=spelling)

    def test_lengths_in_characters(self):
        """Finding 7: a name limit of 200 counts characters, not bytes."""
        b = expect(self.co.api.post("/v1/branches", {"name": "ä" * 200}), 201)
        self.assertEqual(b["name"], "ä" * 200)
        self.assertRejected(lambda: self.co.api.post("/v1/branches", {"name": "ä" * 201}), 422,
                            "validation_failed", fields=("name",))

    def test_repeated_query_parameter(self):
        """Sibling of the duplicate JSON names: a query parameter given twice is ambiguous
        (which one counts?), so it is refused, not silently resolved."""
        self.assertRejected(lambda: self.co.api.get(
            "/v1/appointments?staff_id=1&staff_id=2"), 400, "bad_request")
        self.assertRejected(lambda: self.co.api.get(
            "/v1/availability?service_id=1&service_id=1&from=2030-01-07T00:00:00Z"
            "&to=2030-01-08T00:00:00Z"), 400, "bad_request")


# --------------------------------------------------------------------------------------------
# 8. /metrics
# --------------------------------------------------------------------------------------------

LABEL_VALUE = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')
METRICS_LIMIT = 256 * 1024


class MetricsTest(HostileMixin, ServerTestCase):

    def test_metrics_bounded_and_leak_free(self):
        """Finding 8: /metrics needs no key and stays under 256 KiB after 300 unknown paths
        and 300 odd methods/paths; no label carries a path, company id, name or key."""
        tokens = []
        other = Client(self.server, None)
        for i in range(300):
            tok = "p" + secrets.token_hex(6)
            tokens.append(tok)
            api = self.co.api if i % 2 else other
            api.get(f"/{tok}/x")
        for i in range(300):
            tok = secrets.token_hex(6)
            tokens.append(tok)
            method = "M" + tok.upper()
            path = f"/v1/{tok}q" if i % 3 else "/v1/appointments"
            self.co.api.request(method, path)
        self.assertHealthy()
        r = self.anon.get("/metrics")
        self.assertStatus(r, 200, msg="/metrics without a key")
        text = r.raw.decode(errors="replace")
        self.assertLess(len(r.raw), METRICS_LIMIT, f"/metrics is {len(r.raw)} bytes")
        company_id = str(self.co.id)
        for line in text.splitlines():
            if not line or line.startswith("#"):
                continue
            for name, value in LABEL_VALUE.findall(line):
                leaked = [t for t in tokens if t in value.lower()]
                self.assertEqual(leaked, [], f"path text in a label: {line[:200]}")
                self.assertNotIn(self.co.info["name"], value, line[:200])
                self.assertNotIn(self.co.key, value, line[:200])
                if name not in ("le", "quantile"):
                    self.assertNotEqual(value, company_id, f"company id as label: {line[:200]}")
        leaked = [t for t in tokens if t in text.lower()]
        self.assertEqual(leaked, [], "random request paths appear in /metrics")


class MetricsListenTest(HostileMixin, ServerTestCase):

    @classmethod
    def setUpClass(cls):
        # The port must be known before the server starts (server_args is read then).
        cls.metrics_port = free_port()
        cls.server_args = ("--metrics-listen", f"{HOST}:{cls.metrics_port}")
        super().setUpClass()

    def test_metrics_on_their_own_listener(self):
        """Finding 8: with --metrics-listen, /metrics is 404 on the API port and 200
        Prometheus text on the metrics port."""
        self.assertStatus(self.anon.get("/metrics"), 404, msg="/metrics on the API port")
        r = raw_exchange(self.metrics_port,
                         [f"GET /metrics HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode()],
                         read_timeout=5)
        self.assertStatus(r, 200, msg="/metrics on the metrics port")
        self.assertTrue(r.content_type.startswith("text/plain"), str(r))
        self.assertIn("# TYPE ", r.body if isinstance(r.body, str) else "", str(r))
        self.assertHealthy()


if __name__ == "__main__":
    unittest.main()
