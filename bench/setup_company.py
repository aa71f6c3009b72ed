#!/usr/bin/env python3
"""Creates a benchmark company over HTTP: one branch, one 30-minute service, N staff.

Usage: setup_company.py BASE_URL PLATFORM_KEY N_STAFF [--scheduled]
  -> prints "KEY SERVICE_ID STAFF_IDS(csv)"

The company's zone is Europe/Berlin (the branch has no zone of its own: the company's). By
default the staff have no working hours (unscheduled: bookable at any time, no horizon) and the
company keeps the default horizon of 90 days. With --scheduled, the target set-up of issue 15:
the company's horizon is 730 days (the maximum) and every staff member works Monday to Friday
08:00-18:00 (PUT /v1/staff/{id}/working-hours), so working hours and horizon are checked on
every booking.
"""
import json
import sys
import urllib.request

HOURS = {d: [["08:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}


def call(base, key, method, path, body):
    req = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode(),
                                 headers={"Authorization": "Bearer " + key,
                                          "Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read())


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    scheduled = "--scheduled" in sys.argv[1:]
    base, platform, n = args[0], args[1], int(args[2])
    company = {"name": "Bench", "timezone": "Europe/Berlin", "country": "DE"}
    if scheduled:
        company["horizon_days"] = 730
    co = call(base, platform, "POST", "/v1/companies", company)
    key = co["api_key"]
    if scheduled and co.get("horizon_days") != 730:
        sys.exit(f"setup_company.py: horizon not set: {co}")
    br = call(base, key, "POST", "/v1/branches", {"name": "Main"})
    svc = call(base, key, "POST", "/v1/services",
               {"name": "Cut", "duration_minutes": 30, "buffer_after_minutes": 0})
    staff = [call(base, key, "POST", "/v1/staff",
                  {"name": f"S{i}", "branch_id": br["id"], "service_ids": [svc["id"]]})["id"]
             for i in range(n)]
    if scheduled:
        for s in staff:
            call(base, key, "PUT", f"/v1/staff/{s}/working-hours", HOURS)
    print(key, svc["id"], ",".join(map(str, staff)))


if __name__ == "__main__":
    main()
