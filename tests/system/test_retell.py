"""Phone intake (issue 14, docs/retell.md): Retell's webhooks against the real `appointd serve`,
on both stores, every request signed by Retell's official SDK.

    ConfigTest        PUT/GET/DELETE /v1/integrations/retell: masking, sealing at rest,
                      validation, language defaults, agent_taken across companies; routing by
                      to_number (E.164, per branch), by agent_id, 404 when unroutable
    SignatureTest     SDK-signed requests accepted (also 4 minutes off); tampered body, wrong
                      key, stale (6 min ago), future (6 min ahead), missing and malformed
                      headers refused with 401 and nothing written, on all three webhooks
    RaceTest          16 callers racing for one time with one staff member: one booked, each
                      other offered held alternatives nobody else can take and it can book
    CallerTest        a number in three spellings is one customer (also three calls at once);
                      8 concurrent deliveries of one function call: one effect, identical
                      replies; an anonymous caller; another caller's appointment; call events
                      out of order
    ScriptedCallTest  a whole call in German and one in English: inbound -> call_started ->
                      check -> book -> inbound again -> reschedule -> list -> cancel ->
                      call_ended -> call_analyzed -> GET /v1/calls/{id}

Signing: `tests/fakes/retell_sign.mjs --sign-batch` runs under node for the whole module (one
process, one JSON line per request, so a request costs no node start-up); the SDK (npm
retell-sdk, tests/fakes/node_modules, installed by ./test.sh) computes every header. Without node
or the package the module is skipped with a message saying so.

Times are in the near future in the branch's zone (bookings 2 to 10 days ahead: inside the
default 90-day horizon, and never "the past"). Python 3.11 standard library only.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import zoneinfo
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from harness import (CLI_TIMEOUT, Client, Company, Reply, ServerTestCase,  # noqa: E402
                     expect, find_overlaps, iso, parse_instant, phone, run_concurrently,
                     sqlite_path, sqlite_table_counts, test_backend)

FAKES = os.path.normpath(os.path.join(HERE, "..", "fakes"))
SIGN_SCRIPT = os.path.join(FAKES, "retell_sign.mjs")
SDK_DIR = os.path.join(FAKES, "node_modules", "retell-sdk")

INBOUND = "/v1/retell/inbound"
FUNCTIONS = "/v1/retell/functions"
EVENTS = "/v1/retell/events"
SIG = "X-Retell-Signature"
MINUTE_MS = 60_000

# --------------------------------------------------------------------------------------------
# Signing with Retell's SDK
# --------------------------------------------------------------------------------------------


class Signer:
    """One `node retell_sign.mjs --sign-batch` process: writes {"body", "key", "ms"?} lines,
    reads one X-Retell-Signature value per line. Thread-safe (one exchange at a time)."""

    CHUNK = 64  # lines per write: the pipes never fill both ways at once

    def __init__(self, node: str):
        self._err = tempfile.TemporaryFile()
        self._proc = subprocess.Popen([node, SIGN_SCRIPT, "--sign-batch"], cwd=FAKES,
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=self._err, text=True, encoding="utf-8")
        self._lock = threading.Lock()

    def stderr(self) -> str:
        self._err.seek(0)
        return self._err.read().decode(errors="replace").strip()

    def sign_many(self, items: list[tuple[str, bytes, int | None]]) -> list[str]:
        """Headers for (key, body, unix_ms or None = now) items, in order: the SDK's
        `sign(body, key)`, or `symmetric.sign(body, key, ms)` with a timestamp."""
        out: list[str] = []
        with self._lock:
            for i in range(0, len(items), self.CHUNK):
                chunk = items[i:i + self.CHUNK]
                try:
                    for key, body, ms in chunk:
                        line: dict[str, Any] = {"body": body.decode("utf-8"), "key": key}
                        if ms is not None:
                            line["ms"] = ms
                        self._proc.stdin.write(json.dumps(line) + "\n")
                    self._proc.stdin.flush()
                except OSError as e:
                    raise RuntimeError(f"retell_sign.mjs --sign-batch died ({e}): "
                                       f"{self.stderr()}") from e
                for _ in chunk:
                    header = self._proc.stdout.readline()
                    if not header.endswith("\n"):
                        raise RuntimeError(f"retell_sign.mjs --sign-batch ended "
                                           f"({self._proc.poll()}): {self.stderr()}")
                    out.append(header.strip())
        return out

    def sign(self, key: str, body: bytes, ms: int | None = None) -> str:
        return self.sign_many([(key, body, ms)])[0]

    def close(self) -> None:
        try:
            self._proc.stdin.close()
            self._proc.wait(10)
        except (OSError, subprocess.TimeoutExpired):
            self._proc.kill()
            self._proc.wait(10)
        self._err.close()


_signer: Signer | None = None


def setUpModule() -> None:  # noqa: N802 - unittest's name
    global _signer
    node = shutil.which("node")
    if not node:
        raise unittest.SkipTest("node is not installed: the Retell tests sign their requests "
                                "with Retell's SDK under node (./test.sh installs nodejs)")
    if not os.path.isdir(SDK_DIR):
        raise unittest.SkipTest(f"npm retell-sdk is not installed in {SDK_DIR}: the Retell "
                                f"tests sign with it (./test.sh runs npm ci in tests/fakes)")
    signer = Signer(node)
    try:
        # docs/retell.md's worked example, through the SDK.
        got = signer.sign("key_test", b'{"a":1}', 1700000000000)
    except RuntimeError as e:
        signer.close()
        if "cannot load retell-sdk" in str(e):
            raise unittest.SkipTest(f"retell-sdk does not load under {node}: {e}") from e
        raise
    want = "v=1700000000000,d=d0c8330e80341a21f6315e3a64165c948ab9794b28cdaec1f6149fb005fea6b1"
    if got != want:
        signer.close()
        raise AssertionError(f"retell_sign.mjs --sign-batch: {got!r}, docs/retell.md: {want!r}")
    _signer = signer


def tearDownModule() -> None:  # noqa: N802
    if _signer is not None:
        _signer.close()


def signer() -> Signer:
    assert _signer is not None, "setUpModule did not run"
    return _signer


def now_ms() -> int:
    return int(time.time() * 1000)


def encode(obj: Any) -> bytes:
    """A request body as Retell sends it: compact JSON, UTF-8 (non-ASCII left as is, so the
    signature covers raw UTF-8 bytes)."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# --------------------------------------------------------------------------------------------
# Time and spoken forms (docs/retell.md: "Dienstag, 8. Dezember, 14:30", "Tuesday, December 8,
# 2:30 PM"; a full hour in English without minutes: "2 PM")
# --------------------------------------------------------------------------------------------

DAYS = {"de": ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"),
        "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")}
MONTHS = {"de": ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August",
                 "September", "Oktober", "November", "Dezember"),
          "en": ("January", "February", "March", "April", "May", "June", "July", "August",
                 "September", "October", "November", "December")}
RFC3339_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def spoken_date(lang: str, d: dt.date, year: bool = False) -> str:
    wd, month = DAYS[lang][d.weekday()], MONTHS[lang][d.month - 1]
    if lang == "de":
        return f"{wd}, {d.day}. {month}" + (f" {d.year}" if year else "")
    return f"{wd}, {month} {d.day}" + (f", {d.year}" if year else "")


def spoken_time(lang: str, t: dt.datetime) -> str:
    if lang == "de":
        return f"{t.hour}:{t.minute:02d}"
    h12 = t.hour % 12 or 12
    return f"{h12}{f':{t.minute:02d}' if t.minute else ''} {'AM' if t.hour < 12 else 'PM'}"


def spoken_at(lang: str, t: dt.datetime) -> str:
    """t: an aware datetime in the branch's zone."""
    return f"{spoken_date(lang, t.date())}, {spoken_time(lang, t)}"


def local_day(tz: zoneinfo.ZoneInfo, days: int) -> dt.date:
    return (dt.datetime.now(tz) + dt.timedelta(days=days)).date()


def at_local(tz: zoneinfo.ZoneInfo, day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz)


def local_arg(t: dt.datetime) -> str:
    """A start as the agent passes it: local date-time in the branch's zone, no offset."""
    return t.strftime("%Y-%m-%dT%H:%M")


def window(days_before: int = 1, days_after: int = 30) -> tuple[str, str]:
    now = dt.datetime.now(dt.timezone.utc)
    return iso(now - dt.timedelta(days=days_before)), iso(now + dt.timedelta(days=days_after))


# --------------------------------------------------------------------------------------------
# Stores: "nothing was written"
# --------------------------------------------------------------------------------------------

PG_COUNTS = ("SELECT table_name, (xpath('/row/c/text()', query_to_xml(format("
             "'SELECT count(*) AS c FROM %I.%I', table_schema, table_name), false, true, '')))"
             "[1]::text FROM information_schema.tables WHERE table_schema = 'public' "
             "AND table_type = 'BASE TABLE' ORDER BY 1")


def table_counts(db_url: str) -> dict[str, int] | None:
    """Row count of every table: SQLite read-only, PostgreSQL through psql (None without it)."""
    if sqlite_path(db_url) is not None:
        return sqlite_table_counts(db_url)
    psql = shutil.which("psql")
    if not psql:
        return None
    out = subprocess.run([psql, db_url, "-XAt", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c",
                          PG_COUNTS], capture_output=True, text=True, timeout=CLI_TIMEOUT,
                         check=True).stdout
    rows = (line.split("\t") for line in out.splitlines() if line.strip())
    return {name: int(n) for name, n in rows}


def write_key_file(path: str) -> str:
    """A secrets key file as `serve --secrets-key-file` reads it (64 hex digits, mode 0600)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(32) + "\n")
    return path


# --------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------

WEEK = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
FN_KEYS = {"result", "booked", "cancelled", "appointment_id", "start", "local_time",
           "alternatives", "appointments", "error"}
VARS = ("caller_name", "caller_known", "caller_number_hidden", "company_name", "branch_name",
        "branch_timezone", "today", "today_spoken", "now_local", "services", "next_appointment",
        "next_appointment_id", "language")

_agent_seq = iter(range(1, 10**6))


@dataclasses.dataclass
class Shop:
    """A company with one branch (its phone in E.164 in `phone`), services by name, staff,
    working hours every day, and a Retell integration (key, agents)."""
    co: Company
    branch: dict
    phone: str
    key: str
    agents: list[str]
    tz: zoneinfo.ZoneInfo
    lang: str
    services: dict[str, dict]
    staff: list[dict]
    config: dict

    @property
    def agent(self) -> str:
        return self.agents[0] if self.agents else ""

    def call(self, call_id: str, caller: str, **extra) -> dict:
        return {"call_id": call_id, "agent_id": self.agent, "from_number": caller,
                "to_number": self.phone, "direction": "inbound", **extra}

    def fn_body(self, name: str, args: dict, call_id: str, caller: str) -> bytes:
        return encode({"name": name, "call": self.call(call_id, caller), "args": args})

    def inbound_body(self, caller: str, *, to: str | None = None,
                     agent: str | None = None) -> bytes:
        return encode({"event": "call_inbound", "call_inbound": {
            "agent_id": self.agent if agent is None else agent, "from_number": caller,
            "to_number": self.phone if to is None else to}})

    def event_body(self, event: str, call_id: str, caller: str, **fields) -> bytes:
        return encode({"event": event, "call": self.call(call_id, caller, **fields)})


_SIGNED = object()


class RetellCase(ServerTestCase):
    """A ServerTestCase with a secrets key (PostgreSQL needs --secrets-key-file; SQLite makes
    one beside the database) and helpers that speak Retell's side."""

    @classmethod
    def setUpClass(cls) -> None:
        if test_backend() == "postgresql":
            keydir = tempfile.mkdtemp(prefix=f"appointd-{cls.__name__}-key-")
            cls.addClassCleanup(shutil.rmtree, keydir, True)
            key_file = write_key_file(os.path.join(keydir, "secrets.key"))
            cls.server_args = ("--secrets-key-file", key_file)
        super().setUpClass()
        cls.retell = Client(cls.server, None)

    # -- fixtures --------------------------------------------------------------------------
    @classmethod
    def open_shop(cls, branch_phone: str, e164: str, *, country: str = "DE",
                  timezone: str = "Europe/Berlin", language: str | None = None,
                  services: tuple = (("Herrenschnitt", 30),), staff: tuple = ("Anna",),
                  hours: tuple[str, str] = ("06:00", "22:00"), agents: list[str] | None = None,
                  name: str | None = None, branch_name: str | None = None) -> Shop:
        co = Company(cls.server, cls.platform_key, name=name, timezone=timezone, country=country)
        br = co.branch(phone=branch_phone, **({"name": branch_name} if branch_name else {}))
        svcs = {n: co.service(duration=d, name=n) for n, d in services}
        team = []
        for n in staff:
            st = co.staff(br, list(svcs.values()), name=n)
            expect(co.api.put(f"/v1/staff/{st['id']}/working-hours",
                              {d: [list(hours)] for d in WEEK}), 200)
            team.append(st)
        key = "key_" + secrets.token_hex(16)
        agents = agents if agents is not None else [f"agent_{next(_agent_seq)}_{co.id}"]
        body: dict[str, Any] = {"api_key": key, "agent_ids": agents}
        if language:
            body["language"] = language
        config = expect(co.api.put("/v1/integrations/retell", body), 200)
        return Shop(co, br, e164, key, list(agents), zoneinfo.ZoneInfo(timezone),
                    config["language"], svcs, team, config)

    # -- requests --------------------------------------------------------------------------
    def send(self, path: str, body: bytes, key: str | None, *, ms: int | None = None,
             header: Any = _SIGNED) -> Reply:
        """POSTs body to a Retell webhook, signed by the SDK with key (at ms, default now), or
        with the given header (None: no header)."""
        if header is _SIGNED:
            header = signer().sign(key, body, ms)
        return self.retell.post(path, body, headers={} if header is None else {SIG: header})

    def fn(self, shop: Shop, name: str, args: dict, call_id: str, caller: str) -> dict:
        """One function call, expected to be answered 200 with a reply of the contract."""
        r = self.send(FUNCTIONS, shop.fn_body(name, args, call_id, caller), shop.key)
        return self.fn_reply(r, f"{name} {args} ({call_id}, {caller})")

    def fn_reply(self, r: Reply, what: str = "") -> dict:
        self.assertStatus(r, 200, msg=what)
        self.assertIn("json", r.content_type, f"{what}: {r}")
        b = r.body
        self.assertIsInstance(b, dict, f"{what}: {r}")
        self.assertFalse(set(b) - FN_KEYS, f"{what}: unknown members in {r}")
        self.assertIsInstance(b.get("result"), str, f"{what}: {r}")
        self.assertTrue(b["result"].strip(), f"{what}: empty result sentence: {r}")
        self.assertLess(len(r.raw.decode("utf-8")), 15000, f"{what}: reply too long")
        for flag in ("booked", "cancelled"):
            if flag in b:
                self.assertIsInstance(b[flag], bool, f"{what}: {flag}: {r}")
        if "appointment_id" in b:
            self.assertIs(type(b["appointment_id"]), int, f"{what}: appointment_id: {r}")
        if "start" in b:
            self.assertRegex(b["start"], RFC3339_Z, f"{what}: start: {r}")
        if "local_time" in b:
            self.assertTrue(isinstance(b["local_time"], str) and b["local_time"], str(r))
        if "error" in b:
            self.assertTrue(isinstance(b["error"], str) and b["error"], str(r))
        for alt in b.get("alternatives", []):
            self.assertRegex(alt.get("start", ""), RFC3339_Z, f"{what}: alternative: {r}")
            self.assertTrue(isinstance(alt.get("local_time"), str) and alt["local_time"], str(r))
            self.assertIs(type(alt.get("staff_id")), int, f"{what}: alternative staff_id: {r}")
            self.assertIsInstance(alt.get("staff_name"), str, f"{what}: {r}")
            if "hold_id" in alt:
                self.assertIs(type(alt["hold_id"]), int, f"{what}: hold_id: {r}")
        for a in b.get("appointments", []):
            self.assertEqual(set(a), {"appointment_id", "start", "local_time", "service",
                                      "staff_name"}, f"{what}: {r}")
            self.assertIs(type(a["appointment_id"]), int, str(r))
            self.assertRegex(a["start"], RFC3339_Z, str(r))
        return b

    def inbound(self, shop: Shop, caller: str, *, to: str | None = None,
                agent: str | None = None, key: str | None = None) -> tuple[dict, dict]:
        """The inbound webhook, expected 200 with every dynamic variable a string; returns
        (dynamic_variables, metadata)."""
        r = self.send(INBOUND, shop.inbound_body(caller, to=to, agent=agent), key or shop.key)
        self.assertStatus(r, 200, msg=f"inbound from {caller!r}")
        self.assertIsInstance(r.body, dict, str(r))
        ci = r.body.get("call_inbound")
        self.assertIsInstance(ci, dict, str(r))
        dyn, meta = ci.get("dynamic_variables"), ci.get("metadata")
        self.assertIsInstance(dyn, dict, str(r))
        self.assertIsInstance(meta, dict, str(r))
        for v in VARS:
            self.assertIn(v, dyn, f"dynamic variable {v} missing: {r}")
        for k, v in list(dyn.items()) + list(meta.items()):
            self.assertIsInstance(v, str, f"{k} is not a string: {r}")
        for k in ("company_id", "branch_id", "customer_id"):
            self.assertIn(k, meta, str(r))
        return dyn, meta

    def event(self, shop: Shop, event: str, call_id: str, caller: str, **fields) -> None:
        r = self.send(EVENTS, shop.event_body(event, call_id, caller, **fields), shop.key)
        self.assertStatus(r, 204, msg=f"{event} of {call_id}")

    def get_call(self, co: Company, call_id: str) -> dict:
        return expect(co.api.get(f"/v1/calls/{call_id}"), 200)

    def assertNoCall(self, co: Company, call_id: str, msg: str = "") -> None:
        self.assertProblem(co.api.get(f"/v1/calls/{call_id}"), 404, "not_found",
                           msg=msg or f"call {call_id} exists")

    def assertNoCustomer(self, co: Company, number: str, msg: str = "") -> None:
        self.assertProblem(co.api.get("/v1/customers", query={"phone": number}), 404,
                           "not_found", msg=msg or f"customer {number} exists")

    def customer_id(self, co: Company, number: str) -> int:
        return expect(co.api.get("/v1/customers", query={"phone": number}), 200)["id"]

    def appointments(self, co: Company, **query) -> list[dict]:
        frm, to = window()
        q = {"from": frm, "to": to, "limit": 500, **query}
        return expect(co.api.get("/v1/appointments", query=q), 200)["items"]

    def assertBooked(self, b: dict, start: dt.datetime | str, what: str = "") -> int:
        """b booked at start (an aware datetime or RFC 3339): returns the appointment id."""
        self.assertIs(b.get("booked"), True, f"{what}: not booked: {b}")
        self.assertNotIn("error", b, f"{what}: {b}")
        self.assertIn("appointment_id", b, f"{what}: {b}")
        want = start if isinstance(start, dt.datetime) else parse_instant(start)
        self.assertEqual(parse_instant(b["start"]), want, f"{what}: start: {b}")
        return b["appointment_id"]


# --------------------------------------------------------------------------------------------
# Configuration and routing
# --------------------------------------------------------------------------------------------

class ConfigTest(RetellCase):

    def test_put_get_delete_masking_and_validation(self):
        shop = self.open_shop("+49 30 8800101", "+49308800101", agents=["agent_b", "agent_a"],
                              language="en")
        key = shop.key
        cfg = shop.config
        self.assertEqual(cfg["provider"], "retell")
        self.assertEqual(cfg["api_key"], "••••" + key[-4:])
        self.assertEqual(cfg["agent_ids"], ["agent_a", "agent_b"], "agent_ids sorted")
        self.assertEqual(cfg["language"], "en")
        self.assertEqual((cfg["inbound_url"], cfg["functions_url"], cfg["events_url"]),
                         (INBOUND, FUNCTIONS, EVENTS))
        self.assertRegex(cfg["updated_at"], RFC3339_Z)
        got = self.co_get(shop.co)
        self.assertEqual(got.body, cfg)
        self.assertNotIn(key.encode(), got.raw, "GET shows the key")
        self.assertNotIn(key[4:-4].encode(), got.raw, "GET shows part of the key")
        path = sqlite_path(self.db_url)
        if path:  # sealed at rest: the key is in no SQLite page (database and WAL)
            for p in (path, path + "-wal"):
                if os.path.exists(p):
                    with open(p, "rb") as f:
                        self.assertNotIn(key.encode(), f.read(), f"{p} holds the key in clear")

        bad = [({}, "api_key"), ({"api_key": ""}, "api_key"), ({"api_key": 5}, "api_key"),
               ({"api_key": "x" * 513}, "api_key"),
               ({"api_key": "k2", "language": "fr"}, "language"),
               ({"api_key": "k2", "agent_ids": "agent_x"}, "agent_ids"),
               ({"api_key": "k2", "agent_ids": ["bad id"]}, "agent_ids"),
               ({"api_key": "k2", "agent_ids": [""]}, "agent_ids"),
               ({"api_key": "k2", "agent_ids": [7]}, "agent_ids")]
        for body, field in bad:
            with self.subTest(body=body):
                r = shop.co.api.put("/v1/integrations/retell", body)
                p = self.assertProblem(r, 422, "validation_failed", msg=str(body))
                self.assertIn(field, {e.get("field") for e in p.get("errors", [])}, str(r))
                self.assertEqual(self.co_get(shop.co).body, cfg, f"{body} changed the config")

        # A PUT replaces: new key, agents, language; the old key no longer signs.
        key2 = "key_" + secrets.token_hex(16)
        cfg2 = expect(shop.co.api.put("/v1/integrations/retell", {
            "api_key": key2, "agent_ids": ["agent_a"], "language": "de"}), 200)
        self.assertEqual((cfg2["api_key"], cfg2["agent_ids"], cfg2["language"]),
                         ("••••" + key2[-4:], ["agent_a"], "de"))
        self.assertEqual(self.co_get(shop.co).body, cfg2)
        body = shop.inbound_body(phone(1))
        self.assertProblem(self.send(INBOUND, body, key), 401, "invalid_signature")
        self.assertStatus(self.send(INBOUND, body, key2), 200)

        r = shop.co.api.delete("/v1/integrations/retell")
        self.assertStatus(r, 204)
        self.assertProblem(self.co_get(shop.co), 404, "not_found")
        self.assertProblem(shop.co.api.delete("/v1/integrations/retell"), 404, "not_found")
        # Without an integration nothing routes to the company, by number or by agent.
        self.assertProblem(self.send(INBOUND, body, key2), 404, "not_found")
        self.assertProblem(self.send(INBOUND, shop.inbound_body(phone(1), to="+4940999999"),
                                     key2), 404, "not_found")
        # Another company's key cannot read or delete it.
        other = Company(self.server, self.platform_key)
        self.assertProblem(self.co_get(other), 404, "not_found")

    def co_get(self, co: Company) -> Reply:
        return co.api.get("/v1/integrations/retell")

    def test_language_defaults_to_the_companys_country(self):
        for n, (country, tz, want) in enumerate((("DE", "Europe/Berlin", "de"),
                                                 ("AT", "Europe/Vienna", "de"),
                                                 ("CH", "Europe/Zurich", "de"),
                                                 ("GB", "Europe/London", "en"),
                                                 ("US", "America/New_York", "en"))):
            with self.subTest(country=country):
                co = Company(self.server, self.platform_key, country=country, timezone=tz)
                cfg = expect(co.api.put("/v1/integrations/retell", {
                    "api_key": f"key_lang_{n}", "agent_ids": []}), 200)
                self.assertEqual(cfg["language"], want)
                self.assertEqual(cfg["agent_ids"], [])

    def test_agent_taken_across_companies(self):
        a = self.open_shop("+49 30 8800201", "+49308800201", agents=["agent_t1", "agent_t2"])
        b = self.open_shop("+49 30 8800202", "+49308800202", agents=["agent_u1"])
        before = self.co_get(b.co).body
        r = b.co.api.put("/v1/integrations/retell", {
            "api_key": "key_" + secrets.token_hex(8), "agent_ids": ["agent_u1", "agent_t2"]})
        self.assertProblem(r, 409, "agent_taken")
        self.assertEqual(self.co_get(b.co).body, before, "a refused PUT changed B's config")
        self.assertEqual(self.co_get(a.co).body["agent_ids"], ["agent_t1", "agent_t2"])
        # A company without an integration cannot take one either.
        c = Company(self.server, self.platform_key)
        r = c.api.put("/v1/integrations/retell", {"api_key": "key_c", "agent_ids": ["agent_t1"]})
        self.assertProblem(r, 409, "agent_taken")
        self.assertProblem(self.co_get(c), 404, "not_found")
        # Its own agents again: fine. Dropping one frees it for another company.
        expect(a.co.api.put("/v1/integrations/retell", {
            "api_key": a.key, "agent_ids": ["agent_t1", "agent_t2"]}), 200)
        expect(a.co.api.put("/v1/integrations/retell", {
            "api_key": a.key, "agent_ids": ["agent_t1"]}), 200)
        got = expect(b.co.api.put("/v1/integrations/retell", {
            "api_key": b.key, "agent_ids": ["agent_u1", "agent_t2"]}), 200)
        self.assertEqual(got["agent_ids"], ["agent_t2", "agent_u1"])
        # agent_t2 now routes to B: signed with B's key it is B's call, with A's key refused.
        body = a.inbound_body(phone(2), to="+4940999998", agent="agent_t2")
        r = self.send(INBOUND, body, b.key)
        self.assertStatus(r, 200)
        self.assertEqual(r.body["call_inbound"]["metadata"]["company_id"], str(b.co.id))
        self.assertProblem(self.send(INBOUND, body, a.key), 401, "invalid_signature")
        # Deleting A's integration frees agent_t1.
        self.assertStatus(a.co.api.delete("/v1/integrations/retell"), 204)
        expect(c.api.put("/v1/integrations/retell", {"api_key": "key_c",
                                                     "agent_ids": ["agent_t1"]}), 200)

    def test_routing_by_number_then_agent(self):
        a = self.open_shop("030 8800301", "+49308800301", agents=["agent_r1"],
                           branch_name="Mitte", name="Salon A")
        b = self.open_shop("+49 30 8800302", "+49308800302", agents=["agent_r2"], name="Salon B")
        a2 = a.co.branch(name="Kreuzberg", phone="+49 (30) 8800-303")
        caller = phone(3)

        def route(shop_key: str, to: str, agent: str) -> Reply:
            return self.send(INBOUND, a.inbound_body(caller, to=to, agent=agent), shop_key)

        def meta(r: Reply) -> dict:
            self.assertStatus(r, 200)
            return r.body["call_inbound"]["metadata"]

        # By the number dialled (E.164, in any spelling Retell might use), no agent needed.
        for to in ("+49308800301", "+49 30 8800301", "+49-30-880-0301"):
            with self.subTest(to=to):
                m = meta(route(a.key, to, ""))
                self.assertEqual((m["company_id"], m["branch_id"]),
                                 (str(a.co.id), str(a.branch["id"])))
        dyn, m = self.inbound(a, caller, to="+49308800303", agent="")
        self.assertEqual((m["company_id"], m["branch_id"]), (str(a.co.id), str(a2["id"])))
        self.assertEqual(dyn["branch_name"], "Kreuzberg")
        self.assertEqual(dyn["company_name"], "Salon A")
        # The number wins over the agent: B's number with A's agent is B's call.
        m = meta(route(b.key, "+49308800302", "agent_r1"))
        self.assertEqual(m["company_id"], str(b.co.id))
        self.assertProblem(route(a.key, "+49308800302", "agent_r1"), 401, "invalid_signature")
        # An unknown number: the agent decides.
        m = meta(route(a.key, "+4940123456", "agent_r1"))
        self.assertEqual(m["company_id"], str(a.co.id))
        self.assertProblem(route(b.key, "+4940123456", "agent_r1"), 401, "invalid_signature")
        # A function call and an event routed by their agent.
        by_agent = {"call_id": "call_route_1", "agent_id": "agent_r2", "from_number": caller,
                    "to_number": "+4940123456", "direction": "inbound"}
        body = encode({"name": "list_my_appointments", "args": {}, "call": by_agent})
        self.fn_reply(self.send(FUNCTIONS, body, b.key), "routed by agent")
        body = encode({"event": "call_started", "call": {**by_agent, "call_status": "ongoing"}})
        self.assertStatus(self.send(EVENTS, body, b.key), 204)
        self.assertProblem(self.send(EVENTS, body, a.key), 401, "invalid_signature")
        # Neither the number nor the agent known: 404, also for functions and events.
        for to, agent in (("+4940123456", "agent_nobody"), ("", ""), ("+4940123456", ""),
                          ("", "agent_nobody")):
            with self.subTest(to=to, agent=agent):
                self.assertProblem(route(a.key, to, agent), 404, "not_found")
        unrouted = {"call_id": "call_route_2", "agent_id": "agent_nobody",
                    "from_number": caller, "to_number": "+4940123456"}
        self.assertProblem(self.send(FUNCTIONS, encode({"name": "list_my_appointments",
                                                        "args": {}, "call": unrouted}), a.key),
                           404, "not_found")
        self.assertProblem(self.send(EVENTS, encode({"event": "call_started",
                                                     "call": unrouted}), a.key),
                           404, "not_found")
        self.assertNoCall(a.co, "call_route_2")
        # A call is its company's: the other company does not see it.
        k = self.get_call(b.co, "call_route_1")
        self.assertEqual((k["call_id"], k["status"], k["branch_id"], k["agent_id"]),
                         ("call_route_1", "ongoing", b.branch["id"], "agent_r2"))
        self.assertNoCall(a.co, "call_route_1")


# --------------------------------------------------------------------------------------------
# Signatures
# --------------------------------------------------------------------------------------------

class SignatureTest(RetellCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.shop = cls.open_shop("+49 30 8800401", "+49308800401")
        cls.other = cls.open_shop("+49 30 8800402", "+49308800402")
        cls.day = local_day(cls.shop.tz, 3)

    def snapshot(self) -> Any:
        appts = sorted((a["id"], a["status"], a["version"])
                       for a in self.appointments(self.shop.co))
        return table_counts(self.db_url), appts

    def book_body(self, n: int, hour: int) -> tuple[bytes, str, str]:
        call_id, caller = f"call_sig_{n}", phone(400 + n)
        start = local_arg(at_local(self.shop.tz, self.day, hour))
        body = self.shop.fn_body("book_appointment", {"service": "Herrenschnitt",
                                                      "start": start, "name": "Jürgen"},
                                 call_id, caller)
        return body, call_id, caller

    def refused(self, send, call_id: str, caller: str, what: str) -> None:
        before = self.snapshot()
        r = send()
        self.assertProblem(r, 401, "invalid_signature", msg=what)
        self.assertEqual(self.snapshot(), before, f"{what}: a 401 wrote something")
        self.assertNoCall(self.shop.co, call_id, f"{what}: the call was recorded")
        self.assertNoCustomer(self.shop.co, caller, f"{what}: the caller became a customer")

    def test_sdk_signed_requests_are_accepted(self):
        shop = self.shop
        body, call_id, caller = self.book_body(1, 9)
        b = self.fn_reply(self.send(FUNCTIONS, body, shop.key), "SDK-signed book")
        appt_id = self.assertBooked(b, at_local(shop.tz, self.day, 9))
        appt = shop.co.appointment(appt_id)
        self.assertEqual((appt["source"], appt["call_id"]), ("phone", call_id))
        self.assertEqual(appt["customer_id"], self.customer_id(shop.co, caller))
        self.assertEqual(self.get_call(shop.co, call_id)["appointments"][0]["id"], appt_id)
        # Signed 4 minutes ago or 4 minutes ahead (clock skew): inside the 5-minute window.
        for n, skew in ((2, -4), (3, 4)):
            body, call_id, _ = self.book_body(n, 9 + n)
            b = self.fn_reply(self.send(FUNCTIONS, body, shop.key,
                                        ms=now_ms() + skew * MINUTE_MS), f"skew {skew} min")
            self.assertBooked(b, at_local(shop.tz, self.day, 9 + n), f"skew {skew} min")
        dyn, _ = self.inbound(shop, caller)
        self.assertEqual(dyn["caller_known"], "true")
        self.event(shop, "call_ended", call_id, caller, call_status="ended")
        self.assertEqual(self.get_call(shop.co, call_id)["status"], "ended")

    def test_bad_signatures_are_refused_and_write_nothing(self):
        shop = self.shop
        body, call_id, caller = self.book_body(10, 15)
        good = signer().sign(shop.key, body)
        ms = now_ms()
        digest = good.split(",d=")[1]
        tampered = body.replace(caller.encode(), phone(499).encode())
        self.assertNotEqual(tampered, body)
        cases = {
            "tampered body": (tampered, good),
            "wrong key": (body, signer().sign("key_" + secrets.token_hex(16), body)),
            "another company's key": (body, signer().sign(self.other.key, body)),
            "stale (6 min ago)": (body, signer().sign(shop.key, body, ms - 6 * MINUTE_MS)),
            "future (6 min ahead)": (body, signer().sign(shop.key, body, ms + 6 * MINUTE_MS)),
            "another body's signature": (body, signer().sign(shop.key, body + b" ")),
            "missing": (body, None),
            "empty": (body, ""),
            "garbage": (body, "garbage"),
            "no digest": (body, f"v={ms}"),
            "short digest": (body, f"v={ms},d={digest[:63]}"),
            "long digest": (body, f"v={ms},d={digest}0"),
            "not hex": (body, f"v={ms},d={'g' * 64}"),
            "fields swapped": (body, f"d={digest},v={ms}"),
            "space": (body, f"v={ms}, d={digest}"),
            "extra field": (body, f"{good},x=1"),
            "stripe style": (body, f"t={ms},v1={digest}"),
            "timestamp not a number": (body, f"v=now,d={digest}"),
            "huge timestamp": (body, f"v={'9' * 30},d={digest}"),
        }
        for what, (sent, header) in cases.items():
            with self.subTest(what):
                self.refused(lambda: self.send(FUNCTIONS, sent, None, header=header),
                             call_id, caller, what)
        self.assertNoCustomer(shop.co, phone(499))
        # The same request with the right signature is booked: only the signature was wrong.
        b = self.fn_reply(self.send(FUNCTIONS, body, shop.key), "after the refusals")
        self.assertBooked(b, at_local(shop.tz, self.day, 15))

    def test_inbound_and_events_refuse_bad_signatures(self):
        shop = self.shop
        caller, call_id = phone(450), "call_sig_events"
        ms = now_ms()
        for path, body in ((INBOUND, shop.inbound_body(caller)),
                           (EVENTS, shop.event_body("call_started", call_id, caller,
                                                    call_status="ongoing",
                                                    start_timestamp=ms)),
                           (EVENTS, shop.event_body("call_ended", call_id, caller,
                                                    call_status="ended", start_timestamp=ms,
                                                    end_timestamp=ms + 1000))):
            for what, header in (
                    ("missing", None), ("malformed", "v=1,d=xyz"),
                    ("wrong key", signer().sign(self.other.key, body)),
                    ("stale", signer().sign(shop.key, body, ms - 6 * MINUTE_MS)),
                    ("future", signer().sign(shop.key, body, ms + 6 * MINUTE_MS)),
                    ("tampered", signer().sign(shop.key, body.replace(b"+49", b"+48")))):
                with self.subTest(path=path, what=what):
                    self.refused(lambda: self.send(path, body, None, header=header),
                                 call_id, caller, f"{path} {what}")
        self.assertStatus(self.send(EVENTS, shop.event_body("call_started", call_id, caller,
                                                            call_status="ongoing",
                                                            start_timestamp=ms), shop.key), 204)
        self.assertEqual(self.get_call(shop.co, call_id)["status"], "ongoing")

    def test_signature_is_checked_before_routing(self):
        # Missing, malformed or stale: 401 before the body is even routed.
        body = self.shop.inbound_body(phone(460), to="+4940999997", agent="agent_nobody")
        for what, header in (("missing", None), ("malformed", "v=x"),
                             ("stale", signer().sign(self.shop.key, body,
                                                     now_ms() - 6 * MINUTE_MS))):
            with self.subTest(what):
                self.assertProblem(self.send(INBOUND, body, None, header=header), 401,
                                   "invalid_signature")
        # Well-formed and fresh, but nobody to route to: 404.
        self.assertProblem(self.send(INBOUND, body, self.shop.key), 404, "not_found")


# --------------------------------------------------------------------------------------------
# 16 callers, one time
# --------------------------------------------------------------------------------------------

class RaceTest(RetellCase):
    CALLERS = 16
    threads = 4

    def tearDown(self):
        self.assertAuditClean()

    def test_16_callers_race_for_one_time(self):
        shop = self.open_shop("+49 30 8800501", "+49308800501", staff=("Anna",))
        anna, svc = shop.staff[0], shop.services["Herrenschnitt"]
        length = dt.timedelta(minutes=svc["duration_minutes"])
        day = local_day(shop.tz, 3)
        want = at_local(shop.tz, day, 14)
        n = self.CALLERS
        callers = [(f"call_race_{i}", phone(500 + i)) for i in range(n)]
        bodies = [shop.fn_body("book_appointment", {"service": "Herrenschnitt",
                                                    "start": local_arg(want),
                                                    "name": f"Caller {i}"}, cid, num)
                  for i, (cid, num) in enumerate(callers)]
        headers = signer().sign_many([(shop.key, b, None) for b in bodies])
        replies = run_concurrently(n, lambda i: self.retell.post(
            FUNCTIONS, bodies[i], headers={SIG: headers[i]}), warm=self.retell)
        outs = [self.fn_reply(r, f"caller {i}") for i, r in enumerate(replies)]

        winners = [i for i, b in enumerate(outs) if b.get("booked") is True]
        self.assertEqual(len(winners), 1, f"booked: {winners}; replies: {outs}")
        w = winners[0]
        first_id = self.assertBooked(outs[w], want, "winner")
        losers = [i for i in range(n) if i != w]
        held: list[tuple[Any, tuple[dt.datetime, dt.datetime]]] = [("booked", (want,
                                                                               want + length))]
        now = dt.datetime.now(dt.timezone.utc)
        for i in losers:
            b = outs[i]
            self.assertIs(b.get("booked"), False, f"caller {i}: {b}")
            self.assertEqual(b.get("error"), "slot_unavailable", f"caller {i}: {b}")
            self.assertNotIn("appointment_id", b, f"caller {i}: {b}")
            alts = b.get("alternatives", [])
            self.assertTrue(1 <= len(alts) <= 3, f"caller {i}: 1 to 3 alternatives: {b}")
            for alt in alts:
                self.assertIn("hold_id", alt, f"caller {i}: alternative not held: {b}")
                self.assertEqual(alt["staff_id"], anna["id"], str(b))
                self.assertEqual(alt["staff_name"], "Anna", str(b))
                t = parse_instant(alt["start"])
                self.assertEqual(alt["local_time"], spoken_at("de", t.astimezone(shop.tz)))
                held.append(((i, alt["hold_id"]), (t, t + length)))
                h = expect(shop.co.api.get(f"/v1/holds/{alt['hold_id']}"), 200)
                self.assertEqual((h["owner"], h["staff_id"], h["service_id"]),
                                 (callers[i][0], anna["id"], svc["id"]), str(h))
                self.assertEqual(parse_instant(h["start"]), t, str(h))
                ttl = (parse_instant(h["expires_at"]) - now).total_seconds()
                self.assertTrue(240 <= ttl <= 310, f"hold lives {ttl:.0f} s, not ~300: {h}")
        # No time is held (or booked) twice for Anna.
        self.assertEqual(find_overlaps(held), [], "a time is held twice for one staff member")
        self.assertEqual(len({hid for (_, hid), _ in held[1:]}), len(held) - 1)
        held_starts = {t for _, (t, _) in held}

        # Nobody else can take a held time: a new caller, another loser, the company's API.
        t0 = outs[losers[0]]["alternatives"][0]["start"]
        probe = self.fn(shop, "book_appointment", {"service": "Herrenschnitt", "start": t0},
                        "call_race_probe", phone(599))
        self.assertIs(probe.get("booked"), False, f"a held time was booked: {probe}")
        self.assertEqual(probe.get("error"), "slot_unavailable", str(probe))
        for alt in probe.get("alternatives", []):
            self.assertNotIn(parse_instant(alt["start"]), held_starts,
                             f"offered a held time: {probe}")
        t0b = outs[losers[0]]["alternatives"][-1]["start"]
        other = self.fn(shop, "book_appointment", {"service": "Herrenschnitt", "start": t0b},
                        callers[losers[1]][0], callers[losers[1]][1])
        self.assertIs(other.get("booked"), False, f"another caller's hold was taken: {other}")
        t2 = outs[losers[2]]["alternatives"][0]["start"]
        r = shop.co.book_reply([shop.co.seg(anna, svc, t2)])
        self.assertProblem(r, 409, "slot_unavailable", msg="POST /v1/appointments on a hold")
        avail = expect(shop.co.api.get("/v1/availability", query={
            "service_id": svc["id"], "staff_id": anna["id"],
            "from": iso(at_local(shop.tz, day - dt.timedelta(days=1), 0)),
            "to": iso(at_local(shop.tz, day + dt.timedelta(days=2), 0))}), 200)
        free = {parse_instant(s["start"]) for st in avail["staff"] for s in st["slots"]}
        self.assertTrue(free, "no free starts listed at all")
        self.assertFalse(held_starts & free, "availability lists held times")

        # Each loser books its first alternative, passing "start" as given: the hold converts.
        def book_first(k: int) -> dict:
            i = losers[k]
            alt = outs[i]["alternatives"][0]
            return self.fn(shop, "book_appointment", {"service": "Herrenschnitt",
                                                      "start": alt["start"]}, *callers[i])
        second = run_concurrently(len(losers), book_first, warm=self.retell)
        ids = {callers[w][0]: first_id}
        for k, b in enumerate(second):
            i = losers[k]
            ids[callers[i][0]] = self.assertBooked(b, outs[i]["alternatives"][0]["start"],
                                                   f"caller {i} books its held alternative")
        self.assertEqual(len(set(ids.values())), n)
        # Every hold of a caller who booked is gone: converted or released.
        for i in losers:
            for alt in outs[i]["alternatives"]:
                self.assertProblem(shop.co.api.get(f"/v1/holds/{alt['hold_id']}"), 404,
                                   "not_found", msg=f"caller {i}'s hold {alt} still there")

        appts = [a for a in self.appointments(shop.co) if a["status"] == "booked"]
        self.assertEqual(sorted(a["id"] for a in appts), sorted(ids.values()),
                         "exactly the 16 phone bookings")
        by_id = {a["id"]: a for a in appts}
        for cid, aid in ids.items():
            a = by_id[aid]
            self.assertEqual((a["source"], a["call_id"]), ("phone", cid), str(a))
            self.assertEqual(a["segments"][0]["staff_id"], anna["id"])
        self.assertEqual(len({a["customer_id"] for a in appts}), n, "one customer per caller")
        spans = [(a["id"], (parse_instant(a["segments"][0]["start"]),
                            parse_instant(a["segments"][0]["end"]))) for a in appts]
        self.assertEqual(find_overlaps(spans), [], "overlapping appointments")


# --------------------------------------------------------------------------------------------
# Callers: numbers, retries, hidden numbers, other callers' appointments, events
# --------------------------------------------------------------------------------------------

class CallerTest(RetellCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.shop = cls.open_shop("+49 30 8800601", "+49308800601", staff=("Anna", "Ben"))
        cls.tz = cls.shop.tz
        cls.today = local_day(cls.tz, 0)  # once: a run across midnight keeps its times

    def tearDown(self):
        self.assertAuditClean()

    def at(self, days: int, hour: int, minute: int = 0) -> dt.datetime:
        return at_local(self.tz, self.today + dt.timedelta(days=days), hour, minute)

    def book_args(self, t: dt.datetime, **extra) -> dict:
        return {"service": "Herrenschnitt", "start": local_arg(t), "staff": "Anna", **extra}

    def test_three_spellings_are_one_customer(self):
        shop = self.shop
        e164 = "+4915112345678"
        spellings = ("+49 151 12345678", "015112345678", "0049 151 12345678")
        ids = []
        for k, spelled in enumerate(spellings):
            t = self.at(2, 9 + k)
            b = self.fn(shop, "book_appointment", self.book_args(t, name="Max"),
                        f"call_spell_{k}", spelled)
            ids.append(self.assertBooked(b, t, spelled))
        cust = self.customer_id(shop.co, e164)
        for aid in ids:
            self.assertEqual(shop.co.appointment(aid)["customer_id"], cust)
        got = expect(shop.co.api.get(f"/v1/customers/{cust}"), 200)
        self.assertEqual(got["phone"], e164)
        dyn, meta = self.inbound(shop, "0151 1234 5678")
        self.assertEqual((dyn["caller_known"], dyn["caller_name"], meta["customer_id"]),
                         ("true", "Max", str(cust)))
        listed = self.fn(shop, "list_my_appointments", {}, "call_spell_3", spellings[1])
        self.assertEqual([a["appointment_id"] for a in listed["appointments"]], ids)

        # Three calls at once, one number in three spellings: still one customer.
        e164b = "+4915112345679"
        spelled_b = ("+49 151 12345679", "015112345679", "0049 151 12345679")
        bodies = [shop.fn_body("book_appointment", self.book_args(self.at(2, 13 + k)),
                               f"call_spell_b{k}", s) for k, s in enumerate(spelled_b)]
        headers = signer().sign_many([(shop.key, b, None) for b in bodies])
        replies = run_concurrently(3, lambda k: self.retell.post(
            FUNCTIONS, bodies[k], headers={SIG: headers[k]}), warm=self.retell)
        ids_b = [self.assertBooked(self.fn_reply(r), self.at(2, 13 + k))
                 for k, r in enumerate(replies)]
        cust_b = self.customer_id(shop.co, e164b)
        self.assertNotEqual(cust_b, cust)
        self.assertEqual({shop.co.appointment(a)["customer_id"] for a in ids_b}, {cust_b})

    def test_8_concurrent_deliveries_have_one_effect(self):
        shop = self.shop
        caller, call_id = phone(601), "call_dup_1"
        t = self.at(4, 10)
        args = self.book_args(t, name="Eva")
        body = shop.fn_body("book_appointment", args, call_id, caller)
        ms = now_ms()
        # Eight deliveries, each with its own signature (Retell signs every attempt).
        headers = signer().sign_many([(shop.key, body, ms - k) for k in range(8)])
        self.assertEqual(len(set(headers)), 8)
        replies = run_concurrently(8, lambda k: self.retell.post(
            FUNCTIONS, body, headers={SIG: headers[k]}), warm=self.retell)
        for r in replies:
            self.fn_reply(r)
        self.assertEqual({r.raw for r in replies}, {replies[0].raw},
                         "retries got different replies")
        first = replies[0].body
        aid = self.assertBooked(first, t)
        mine = [a for a in self.appointments(shop.co)
                if a["customer_id"] == self.customer_id(shop.co, caller)]
        self.assertEqual([a["id"] for a in mine], [aid], "one appointment for 8 deliveries")
        # A later retry, and one with the arguments in another order: the first reply again.
        again = self.send(FUNCTIONS, body, shop.key)
        self.assertEqual(again.raw, replies[0].raw)
        reordered = encode({"args": dict(reversed(list(args.items()))), "call":
                            shop.call(call_id, caller), "name": "book_appointment"})
        self.assertNotEqual(reordered, body)
        self.assertEqual(self.send(FUNCTIONS, reordered, shop.key).raw, replies[0].raw)
        # Other arguments in the same call: a new outcome (a second appointment).
        t2 = self.at(4, 11)
        b2 = self.fn(shop, "book_appointment", self.book_args(t2), call_id, caller)
        aid2 = self.assertBooked(b2, t2)
        self.assertNotEqual(aid2, aid)
        # The same arguments in another call: a new outcome (the time is taken now).
        b3 = self.fn(shop, "book_appointment", args, "call_dup_2", caller)
        self.assertIs(b3.get("booked"), False, str(b3))
        self.assertEqual(b3.get("error"), "slot_unavailable", str(b3))
        mine = [a for a in self.appointments(shop.co)
                if a["customer_id"] == self.customer_id(shop.co, caller)]
        self.assertEqual(sorted(a["id"] for a in mine), sorted([aid, aid2]))
        self.assertEqual(sorted(a["id"] for a in self.get_call(shop.co, call_id)["appointments"]),
                         sorted([aid, aid2]))
        for h in b3.get("alternatives", []):  # leave nothing held for the next tests
            shop.co.api.delete(f"/v1/holds/{h['hold_id']}")

        # A cancel delivered 4 times at once: one cancellation, identical replies.
        before = expect(shop.co.api.get(f"/v1/appointments/{aid2}/events"), 200)["items"]
        body = shop.fn_body("cancel_appointment", {"appointment_id": aid2}, call_id, caller)
        headers = signer().sign_many([(shop.key, body, None)] * 4)
        replies = run_concurrently(4, lambda k: self.retell.post(
            FUNCTIONS, body, headers={SIG: headers[k]}), warm=self.retell)
        self.assertEqual({r.raw for r in replies}, {replies[0].raw}, "cancel retries differ")
        c = self.fn_reply(replies[0])
        self.assertIs(c.get("cancelled"), True, str(c))
        self.assertEqual(c.get("appointment_id"), aid2)
        after = expect(shop.co.api.get(f"/v1/appointments/{aid2}/events"), 200)["items"]
        self.assertEqual(len(after), len(before) + 1, f"events after 4 cancels: {after}")
        appt = shop.co.appointment(aid2)
        self.assertEqual(appt["status"], "cancelled")
        self.assertEqual(shop.co.appointment(aid)["status"], "booked")

    def test_anonymous_caller(self):
        shop = self.shop
        dyn, meta = self.inbound(shop, "anonymous")
        self.assertEqual((dyn["caller_number_hidden"], dyn["caller_known"], dyn["caller_name"],
                          meta["customer_id"]), ("true", "false", "", ""))
        t = self.at(5, 9)
        before = sorted(a["id"] for a in self.appointments(shop.co))
        for k, hidden in enumerate(("anonymous", "")):
            with self.subTest(from_number=hidden):
                b = self.fn(shop, "book_appointment", self.book_args(t, name="Anna Nym"),
                            f"call_anon_{k}", hidden)
                self.assertIs(b.get("booked"), False, str(b))
                self.assertEqual(b.get("error"), "phone_required", str(b))
                self.assertNotIn("appointment_id", b)
                self.assertEqual(sorted(a["id"] for a in self.appointments(shop.co)), before)
        b = self.fn(shop, "book_appointment",
                    self.book_args(t, name="Anna Nym", phone="0151 98765432"),
                    "call_anon_2", "anonymous")
        aid = self.assertBooked(b, t, "with args.phone")
        appt = shop.co.appointment(aid)
        self.assertEqual((appt["source"], appt["call_id"]), ("phone", "call_anon_2"))
        cust = expect(shop.co.api.get(f"/v1/customers/{appt['customer_id']}"), 200)
        self.assertEqual((cust["phone"], cust["name"]), ("+4915198765432", "Anna Nym"))
        # A hidden number cannot see or change appointments (they are found by the number).
        listed = self.fn(shop, "list_my_appointments", {}, "call_anon_2", "anonymous")
        self.assertNotIn("appointments", listed, str(listed))
        self.assertIn("error", listed)
        c = self.fn(shop, "cancel_appointment", {"appointment_id": aid}, "call_anon_2",
                    "anonymous")
        self.assertNotIn("cancelled", c, str(c))
        self.assertEqual(shop.co.appointment(aid)["status"], "booked")

    def test_another_callers_appointment_is_not_theirs(self):
        shop = self.shop
        owner, stranger = phone(610), phone(611)
        t = self.at(6, 10)
        aid = self.assertBooked(self.fn(shop, "book_appointment", self.book_args(t),
                                        "call_own_1", owner), t)
        before = appt_view(shop.co.appointment(aid))
        # A caller who is not a customer at all.
        for name, args in (("cancel_appointment", {"appointment_id": aid}),
                           ("reschedule_appointment", {"appointment_id": aid,
                                                       "start": local_arg(self.at(6, 12))}),
                           ("cancel_appointment", {}),
                           ("reschedule_appointment", {"start": local_arg(self.at(6, 12))})):
            with self.subTest(name=name, args=args, stranger="unknown"):
                b = self.fn(shop, name, args, "call_own_2", stranger)
                self.assertEqual(b.get("error"), "no_appointment", str(b))
                self.assertNotIn("cancelled", b, str(b))
                self.assertIsNot(b.get("booked"), True, str(b))
                self.assertEqual(appt_view(shop.co.appointment(aid)), before,
                                 "another caller changed it")
        listed = self.fn(shop, "list_my_appointments", {}, "call_own_2", stranger)
        self.assertNotIn("appointments", listed)
        # A caller with an appointment of their own, naming the other one's id.
        t_own = self.at(6, 15)
        own = self.assertBooked(self.fn(shop, "book_appointment", self.book_args(t_own),
                                        "call_own_4", stranger), t_own)
        own_before = appt_view(shop.co.appointment(own))
        for name, args in (("cancel_appointment", {"appointment_id": aid}),
                           ("cancel_appointment", {"appointment_id": str(aid)}),
                           ("reschedule_appointment", {"appointment_id": aid,
                                                       "start": local_arg(self.at(6, 12))})):
            with self.subTest(name=name, args=args, stranger="customer"):
                b = self.fn(shop, name, args, "call_own_4", stranger)
                self.assertEqual(b.get("error"), "no_appointment", str(b))
                self.assertNotIn("cancelled", b, str(b))
                self.assertIsNot(b.get("booked"), True, str(b))
                self.assertEqual(appt_view(shop.co.appointment(aid)), before,
                                 "another caller changed it")
                self.assertEqual(appt_view(shop.co.appointment(own)), own_before,
                                 "their own changed")
        listed = self.fn(shop, "list_my_appointments", {}, "call_own_4", stranger)
        self.assertEqual([a["appointment_id"] for a in listed.get("appointments", [])], [own])
        # Its owner can.
        b = self.fn(shop, "reschedule_appointment", {"appointment_id": aid,
                                                     "start": local_arg(self.at(6, 12))},
                    "call_own_3", owner)
        self.assertEqual(self.assertBooked(b, self.at(6, 12)), aid)
        self.assertEqual(parse_instant(shop.co.appointment(aid)["segments"][0]["start"]),
                         self.at(6, 12))

    def test_booking_another_time_releases_the_calls_holds(self):
        # A caller offered held alternatives books a time overlapping one of them: the call's
        # holds go first, so its own hold does not stand in its way.
        shop = self.shop
        t = self.at(12, 10)
        self.assertBooked(self.fn(shop, "book_appointment", self.book_args(t), "call_rel_a",
                                  phone(621)), t)
        offered = self.fn(shop, "book_appointment", self.book_args(t), "call_rel_b", phone(622))
        self.assertEqual(offered.get("error"), "slot_unavailable", offered)
        held = [a for a in offered["alternatives"] if "hold_id" in a]
        self.assertTrue(held, offered)
        # Anna's held alternative after the booked time: 15 minutes later overlaps only it.
        later = [a for a in held if a["staff_name"] == "Anna" and parse_instant(a["start"]) > t]
        self.assertTrue(later, offered)
        first = parse_instant(later[0]["start"])
        other = (first + dt.timedelta(minutes=15)).astimezone(self.tz)
        b = self.fn(shop, "book_appointment", self.book_args(other), "call_rel_b", phone(622))
        self.assertBooked(b, other, "a time overlapping the call's own hold")
        for a in held:  # once the call has booked, none of its holds is left
            self.assertProblem(shop.co.api.get(f"/v1/holds/{a['hold_id']}"), 404, "not_found")

    def test_the_same_request_later_in_the_call_is_a_new_one_only_past_the_retry_window(self):
        # Within the retry window a repeat is a retry: the first reply, no second effect.
        shop = self.shop
        caller, call_id = phone(631), "call_repeat"
        t1, t2 = self.at(13, 9), self.at(13, 11)
        for t in (t1, t2):
            self.assertBooked(self.fn(shop, "book_appointment", self.book_args(t), call_id,
                                      caller), t)
        first = self.fn(shop, "cancel_appointment", {}, call_id, caller)
        self.assertIs(first.get("cancelled"), True, first)
        again = self.fn(shop, "cancel_appointment", {}, call_id, caller)
        self.assertEqual(again, first)
        left = [a for a in self.appointments(shop.co) if a.get("call_id") == call_id
                and a["status"] == "booked"]
        self.assertEqual(len(left), 1, "a retry within the window cancelled nothing more")
        call = self.get_call(shop.co, call_id)
        self.assertEqual(len(call["appointments"]), 2, call)

    def test_a_number_taken_by_another_company_follows_the_agent(self):
        # Another company gives its branch this shop's number (by mistake): calls to it still
        # reach the company whose agent answers them.
        mine = self.open_shop("+49 30 8800699", "+49308800699")
        other = Company(self.server, self.platform_key, country="DE")
        other.branch(phone="+49 30 8800699")
        dyn, meta = self.inbound(mine, phone(641))
        self.assertEqual(meta["company_id"], str(mine.co.id))
        self.assertEqual(meta["branch_id"], str(mine.branch["id"]))

    def test_a_long_calls_event_with_its_transcript_is_taken(self):
        # Retell's call_ended and call_analyzed carry the whole transcript with word timings:
        # far beyond the API's 64 KiB body limit for a long call.
        shop = self.shop
        call_id, caller = "call_long", phone(651)
        words = [{"word": "hallo", "start": i * 0.3, "end": i * 0.3 + 0.2} for i in range(12000)]
        transcript = [{"role": "user", "content": "hallo " * 40, "words": words}]
        body = shop.event_body("call_analyzed", call_id, caller, call_status="ended",
                               transcript_object=transcript,
                               call_analysis={"call_summary": "Long call."})
        self.assertGreater(len(body), 512 * 1024)
        r = self.send(EVENTS, body, shop.key)
        self.assertStatus(r, 204, msg="a long call's event")
        self.assertEqual(self.get_call(shop.co, call_id)["summary"], "Long call.")

    def test_unknown_function(self):
        b = self.fn(self.shop, "order_pizza", {"size": "xl"}, "call_unknown", phone(620))
        self.assertEqual(b.get("error"), "unknown_function", str(b))

    def test_events_out_of_order(self):
        shop = self.shop
        caller = phone(630)
        start, end = now_ms() - 120_000, now_ms() - 5_000
        # call_ended before call_started: the call stays ended.
        self.event(shop, "call_ended", "call_ooo_1", caller, call_status="ended",
                   start_timestamp=start, end_timestamp=end,
                   disconnection_reason="user_hangup")
        k = self.get_call(shop.co, "call_ooo_1")
        self.assertEqual(k["status"], "ended")
        self.event(shop, "call_started", "call_ooo_1", caller, call_status="ongoing",
                   start_timestamp=start)
        k2 = self.get_call(shop.co, "call_ooo_1")
        self.assertEqual(k2["status"], "ended", f"call_started after call_ended: {k2}")
        self.assertEqual(parse_instant(k2["started_at"]), ms_instant(start))
        self.assertEqual(parse_instant(k2["ended_at"]), ms_instant(end))
        self.assertEqual(k2["disconnection_reason"], "user_hangup")
        self.event(shop, "call_analyzed", "call_ooo_1", caller, call_status="ended",
                   call_analysis={"call_summary": "Kurzer Anruf."})
        k3 = self.get_call(shop.co, "call_ooo_1")
        self.assertEqual((k3["status"], k3["summary"]), ("ended", "Kurzer Anruf."))
        self.assertEqual(parse_instant(k3["ended_at"]), ms_instant(end))
        # call_analyzed first, then call_ended, then call_started (and a late "registered").
        self.event(shop, "call_analyzed", "call_ooo_2", caller, call_status="ended",
                   start_timestamp=start, end_timestamp=end,
                   call_analysis={"call_summary": "Termin gebucht."})
        self.event(shop, "call_ended", "call_ooo_2", caller, call_status="ended",
                   start_timestamp=start, end_timestamp=end)
        self.event(shop, "call_started", "call_ooo_2", caller, call_status="ongoing",
                   start_timestamp=start)
        self.event(shop, "call_started", "call_ooo_2", caller, call_status="registered")
        k = self.get_call(shop.co, "call_ooo_2")
        self.assertEqual((k["status"], k["summary"]), ("ended", "Termin gebucht."), str(k))
        self.assertEqual(parse_instant(k["ended_at"]), ms_instant(end))
        # A function call after the call ended (a booking: it records the call) does not
        # reopen it either.
        t = self.at(7, 9)
        b = self.fn(shop, "book_appointment", self.book_args(t), "call_ooo_2", caller)
        aid = self.assertBooked(b, t)
        k = self.get_call(shop.co, "call_ooo_2")
        self.assertEqual((k["status"], k["summary"]), ("ended", "Termin gebucht."), str(k))
        self.assertEqual([a["id"] for a in k["appointments"]], [aid])
        # An event Retell may add later is acknowledged and changes nothing.
        self.event(shop, "transcript_updated", "call_ooo_2", caller, call_status="ongoing")
        self.assertEqual(self.get_call(shop.co, "call_ooo_2")["status"], "ended")


def appt_view(a: dict) -> dict:
    """An appointment without its Cal.com sync state (a sync worker settles that on its own:
    "pending" becomes "skipped" for a company without Cal.com)."""
    return {k: v for k, v in a.items() if k != "sync"}


def ms_instant(ms: int) -> dt.datetime:
    """Unix ms as the calls table keeps it (whole seconds)."""
    return dt.datetime.fromtimestamp(ms // 1000, dt.timezone.utc)


# --------------------------------------------------------------------------------------------
# A whole call, in German and in English
# --------------------------------------------------------------------------------------------

# What each language's sentences must say, and words the other language's must not.
WORDS = {
    "de": {"check": "anbieten", "book": "eingetragen", "move": "verschoben",
           "list": "Termin", "cancel": "abgesagt", "with": "bei", "minutes": "Minuten",
           "not": ("booked", "moved", "cancelled", "appointment")},
    "en": {"check": "offer", "book": "booked", "move": "moved", "list": "appointment",
           "cancel": "cancelled", "with": "with", "minutes": "minutes",
           "not": ("eingetragen", "verschoben", "abgesagt", "Termin")},
}


class ScriptedCallTest(RetellCase):

    def test_german_call(self):
        shop = self.open_shop("+49 30 8800701", "+49308800701", name="Salon Schnitt",
                              branch_name="Berlin Mitte",
                              services=(("Herrenschnitt", 30), ("Färben", 90)),
                              staff=("Anna",))
        self.assertEqual(shop.lang, "de", "a DE company speaks German by default")
        self.script(shop, "+49 151 23456789", "+4915123456789", service="Färben",
                    query="faerben", near_miss=("Herenschnit", "Herrenschnitt"),
                    name="Jürgen Müller", summary="Termin gebucht, verschoben und abgesagt.")

    def test_english_call(self):
        shop = self.open_shop("+44 20 7946 0958", "+442079460958", country="GB",
                              timezone="Europe/London", name="Cut & Colour",
                              branch_name="Soho", services=(("Men's haircut", 30),
                                                            ("Colour", 90)),
                              staff=("Anna",))
        self.assertEqual(shop.lang, "en", "a GB company speaks English by default")
        self.script(shop, "+44 7911 123456", "+447911123456", service="Colour",
                    query="COLOUR", near_miss=("Mens hiarcut", "Men's haircut"),
                    name="Jane O'Neill", summary="Booked, moved and cancelled a colour.")

    def script(self, shop: Shop, caller: str, caller_e164: str, *, service: str, query: str,
               near_miss: tuple[str, str], name: str, summary: str) -> None:
        lang, tz, co = shop.lang, shop.tz, shop.co
        words = WORDS[lang]

        def says(b: dict, key: str) -> None:
            text = b["result"]
            self.assertIn(words[key].lower(), text.lower(), f"{lang} {key}: {text!r}")
            for w in words["not"]:
                self.assertNotIn(w.lower(), text.lower(), f"{lang} {key}: {text!r}")

        # 1. Inbound: an unknown caller; the branch, its date and time, the services.
        before = dt.datetime.now(tz)
        dyn, meta = self.inbound(shop, caller)
        after = dt.datetime.now(tz)
        self.assertEqual((dyn["caller_known"], dyn["caller_name"], dyn["caller_number_hidden"]),
                         ("false", "", "false"))
        self.assertEqual((dyn["next_appointment"], dyn["next_appointment_id"]), ("", ""))
        self.assertEqual((dyn["company_name"], dyn["branch_name"], dyn["branch_timezone"]),
                         (co.info["name"], shop.branch["name"], str(tz)))
        self.assertEqual(dyn["language"], lang)
        self.assertIn(dyn["today"], {before.date().isoformat(), after.date().isoformat()})
        self.assertIn(dyn["today_spoken"], {spoken_date(lang, before.date(), True),
                                            spoken_date(lang, after.date(), True)})
        self.assertRegex(dyn["now_local"], r"^\d{2}:\d{2}$")
        self.assertIn(dyn["now_local"], {before.strftime("%H:%M"), after.strftime("%H:%M")})
        for sv in shop.services.values():
            self.assertIn(f"{sv['name']} ({sv['duration_minutes']} {words['minutes']})",
                          dyn["services"])
        self.assertEqual(meta, {"company_id": str(co.id), "branch_id": str(shop.branch["id"]),
                                "customer_id": ""})

        # 2. The call starts.
        call1, call2 = f"call_{lang}_1", f"call_{lang}_2"
        t_start = now_ms()
        self.event(shop, "call_started", call1, caller, call_status="ongoing",
                   start_timestamp=t_start)
        self.assertEqual(self.get_call(co, call1)["status"], "ongoing")

        # 3. check_availability: a near miss is suggested; then well-spread afternoon times.
        day = local_day(tz, 4)
        miss = self.fn(shop, "check_availability", {"service": near_miss[0],
                                                    "date": day.isoformat()}, call1, caller)
        self.assertEqual(miss.get("error"), "service_not_found", str(miss))
        self.assertIn(near_miss[1], miss["result"], "the near miss is not suggested")
        self.assertNotIn("alternatives", miss)
        check = self.fn(shop, "check_availability", {"service": query, "date": day.isoformat(),
                                                     "part_of_day": "afternoon"}, call1, caller)
        self.assertNotIn("error", check, str(check))
        alts = check.get("alternatives", [])
        self.assertEqual(len(alts), 5, f"up to 5 starts of a free afternoon: {check}")
        starts = [parse_instant(a["start"]).astimezone(tz) for a in alts]
        self.assertEqual(starts, sorted(set(starts)), str(check))
        for a, t in zip(alts, starts):
            self.assertEqual(t.date(), day, str(a))
            self.assertTrue(12 <= t.hour < 17, f"not in the afternoon: {a}")
            self.assertNotIn("hold_id", a, "check_availability holds nothing")
            self.assertEqual(a["local_time"], spoken_at(lang, t))
            self.assertEqual((a["staff_id"], a["staff_name"]), (shop.staff[0]["id"], "Anna"))
        self.assertGreaterEqual(starts[-1] - starts[0], dt.timedelta(hours=3),
                                f"not spread over the afternoon: {[a['start'] for a in alts]}")
        says(check, "check")
        self.assertIn(DAYS[lang][day.weekday()], check["result"])

        # 4. book_appointment: the second offered time, as a local date-time.
        pick = starts[1]
        b = self.fn(shop, "book_appointment", {"service": service, "start": local_arg(pick),
                                               "name": name, "notes": "☕"}, call1, caller)
        aid = self.assertBooked(b, pick, "book")
        self.assertEqual(b["local_time"], spoken_at(lang, pick))
        self.assertIn(b["local_time"], b["result"])
        self.assertIn(service, b["result"])
        says(b, "book")
        appt = co.appointment(aid)
        self.assertEqual((appt["status"], appt["source"], appt["call_id"]),
                         ("booked", "phone", call1))
        self.assertEqual(appt["segments"][0]["service_id"], shop.services[service]["id"])
        cust = expect(co.api.get(f"/v1/customers/{appt['customer_id']}"), 200)
        self.assertEqual((cust["phone"], cust["name"]), (caller_e164, name))
        self.event(shop, "call_ended", call1, caller, call_status="ended",
                   start_timestamp=t_start, end_timestamp=now_ms())

        # 5. The caller calls again: known, by name, with the next appointment.
        dyn, meta = self.inbound(shop, caller)
        self.assertEqual((dyn["caller_known"], dyn["caller_name"]), ("true", name))
        self.assertEqual(dyn["next_appointment"],
                         f"{spoken_at(lang, pick)}, {service} {words['with']} Anna")
        self.assertEqual(dyn["next_appointment_id"], str(aid))
        self.assertEqual(meta["customer_id"], str(cust["id"]))
        t2_start = now_ms()
        self.event(shop, "call_started", call2, caller, call_status="ongoing",
                   start_timestamp=t2_start)

        # 6. reschedule_appointment (no id: the next one) to the next morning.
        moved_to = at_local(tz, day + dt.timedelta(days=1), 10, 30)
        m = self.fn(shop, "reschedule_appointment", {"start": local_arg(moved_to)}, call2,
                    caller)
        self.assertEqual(self.assertBooked(m, moved_to, "reschedule"), aid)
        self.assertEqual(m["local_time"], spoken_at(lang, moved_to))
        says(m, "move")
        self.assertEqual(parse_instant(co.appointment(aid)["segments"][0]["start"]), moved_to)

        # 7. list_my_appointments.
        listed = self.fn(shop, "list_my_appointments", {}, call2, caller)
        self.assertEqual(listed.get("appointments"), [{
            "appointment_id": aid, "start": iso(moved_to),
            "local_time": spoken_at(lang, moved_to), "service": service,
            "staff_name": "Anna"}])
        says(listed, "list")
        self.assertIn(spoken_at(lang, moved_to), listed["result"])

        # 8. cancel_appointment (no id: the next one).
        c = self.fn(shop, "cancel_appointment", {}, call2, caller)
        self.assertIs(c.get("cancelled"), True, str(c))
        self.assertEqual(c.get("appointment_id"), aid)
        says(c, "cancel")
        self.assertEqual(co.appointment(aid)["status"], "cancelled")
        none = self.fn(shop, "list_my_appointments", {}, call2, caller)
        self.assertEqual(none.get("error"), "no_appointment", str(none))
        self.assertNotIn("appointments", none)
        dyn, _ = self.inbound(shop, caller)
        self.assertEqual((dyn["caller_known"], dyn["next_appointment"]), ("true", ""))

        # 9. The call ends and is analysed.
        t2_end = now_ms()
        self.event(shop, "call_ended", call2, caller, call_status="ended",
                   start_timestamp=t2_start, end_timestamp=t2_end,
                   disconnection_reason="user_hangup")
        self.event(shop, "call_analyzed", call2, caller, call_status="ended",
                   start_timestamp=t2_start, end_timestamp=t2_end,
                   disconnection_reason="user_hangup", call_analysis={"call_summary": summary})

        # 10. The calls as the company sees them.
        k = self.get_call(co, call2)
        self.assertEqual((k["call_id"], k["status"], k["summary"], k["disconnection_reason"]),
                         (call2, "ended", summary, "user_hangup"))
        self.assertEqual((k["from_number"], k["to_number"], k["agent_id"], k["direction"]),
                         (caller, shop.phone, shop.agent, "inbound"))
        self.assertEqual(k["branch_id"], shop.branch["id"])
        self.assertEqual(parse_instant(k["started_at"]), ms_instant(t2_start))
        self.assertEqual(parse_instant(k["ended_at"]), ms_instant(t2_end))
        for f in ("created_at", "updated_at"):
            self.assertRegex(k[f], RFC3339_Z)
        self.assertEqual([(a["id"], a["status"]) for a in k["appointments"]],
                         [(aid, "cancelled")], "call 2 changed the appointment")
        self.assertEqual(k["appointments"][0]["call_id"], call1)
        k1 = self.get_call(co, call1)
        self.assertEqual(k1["status"], "ended")
        self.assertEqual([a["id"] for a in k1["appointments"]], [aid], "call 1 made it")
        self.assertNoCall(co, f"call_{lang}_nope")
        self.assertNoCall(Company(self.server, self.platform_key), call2,
                          "another company sees the call")


if __name__ == "__main__":
    unittest.main()
