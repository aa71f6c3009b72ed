#!/usr/bin/env python3
"""Sets up a phone-intake benchmark and writes Retell requests, signed, for wrk (bench/retell.lua).

Usage: retell_setup.py BASE_URL PLATFORM_KEY N_STAFF N_REQUESTS OUT_DIR [N_PACED]

Creates a company (Europe/Berlin, DE) with one branch answering +49301234567, one 30-minute
service, N_STAFF staff working 08:00-18:00 Monday to Saturday, and a Retell integration. Writes
OUT_DIR/check.txt and OUT_DIR/book.txt (and N_PACED more of each in paced_check.txt and
paced_book.txt, for the paced runs): one request per line, "signature<TAB>body", each a
distinct call (so none is a retry that would replay a stored reply):
  check: check_availability of a random day in the next 60 days;
  book:  book_appointment at a random 30-minute start within working hours of the next 60 days,
         from a new caller each time (phone callers are mostly new customers): the first
         bookings of a start succeed, later ones find it taken and get alternatives held.
Signatures are HMAC-SHA256(key, body + timestamp) as Retell signs (the scheme retell-sdk's sign()
implements; tests/unit/retell_signature_test.cpp checks appointd against the SDK itself), made
now: valid for 5 minutes, longer than a benchmark run.
"""
import datetime as dt
import hashlib
import hmac
import json
import os
import random
import sys
import time
import urllib.request

API_KEY = "key_bench_retell"
TO = "+49301234567"


def call(base, key, method, path, body):
    req = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode(),
                                 headers={"Authorization": "Bearer " + key,
                                          "Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read() or b"null")


def sign(body: str, ms: int) -> str:
    d = hmac.new(API_KEY.encode(), (body + str(ms)).encode(), hashlib.sha256).hexdigest()
    return f"v={ms},d={d}"


def main():
    base, platform, n_staff, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    out = sys.argv[5]
    n_paced = int(sys.argv[6]) if len(sys.argv) > 6 else 0
    co = call(base, platform, "POST", "/v1/companies",
              {"name": "Bench", "timezone": "Europe/Berlin", "country": "DE"})
    key = co["api_key"]
    br = call(base, key, "POST", "/v1/branches", {"name": "Main", "phone": TO})
    svc = call(base, key, "POST", "/v1/services", {"name": "Haircut", "duration_minutes": 30})
    day = [["08:00", "18:00"]]
    hours = {d: day for d in ("mon", "tue", "wed", "thu", "fri", "sat")}
    for i in range(n_staff):
        st = call(base, key, "POST", "/v1/staff",
                  {"name": f"Staff {i}", "branch_id": br["id"], "service_ids": [svc["id"]]})
        call(base, key, "PUT", f"/v1/staff/{st['id']}/working-hours", hours)
    call(base, key, "PUT", "/v1/integrations/retell",
         {"api_key": API_KEY, "agent_ids": ["agent_bench"], "language": "de"})

    rng = random.Random(7)
    today = dt.date.today()
    days = [today + dt.timedelta(days=d) for d in range(2, 62)
            if (today + dt.timedelta(days=d)).weekday() < 6]
    ms = int(time.time() * 1000)

    def request(i, name, args):
        body = json.dumps({"name": name, "args": args,
                           "call": {"call_id": f"call_{name}_{i}", "agent_id": "agent_bench",
                                    "from_number": f"+49151{10000000 + i}", "to_number": TO,
                                    "direction": "inbound"}}, separators=(",", ":"))
        return sign(body, ms) + "\t" + body + "\n"

    def write(name, first, count):
        with open(os.path.join(out, name + "check.txt"), "w") as f:
            for i in range(first, first + count):
                f.write(request(i, "check_availability",
                                {"service": "Haircut", "date": rng.choice(days).isoformat()}))
        with open(os.path.join(out, name + "book.txt"), "w") as f:
            for i in range(first, first + count):
                d = rng.choice(days)
                minute = 8 * 60 + 30 * rng.randrange(20)
                start = f"{d.isoformat()}T{minute // 60:02d}:{minute % 60:02d}"
                f.write(request(i, "book_appointment", {"service": "Haircut", "start": start,
                                                        "name": f"Caller {i}"}))

    write("", 0, n)
    write("paced_", n, n_paced)


if __name__ == "__main__":
    main()
