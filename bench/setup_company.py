#!/usr/bin/env python3
"""Creates a benchmark company over HTTP: one branch, one 30-minute service, N staff.

Usage: setup_company.py BASE_URL PLATFORM_KEY N_STAFF  -> prints "KEY SERVICE_ID STAFF_IDS(csv)"
"""
import json
import sys
import urllib.request


def call(base, key, method, path, body):
    req = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode(),
                                 headers={"Authorization": "Bearer " + key,
                                          "Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read())


def main():
    base, platform, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    co = call(base, platform, "POST", "/v1/companies",
              {"name": "Bench", "timezone": "Europe/Berlin", "country": "DE"})
    key = co["api_key"]
    br = call(base, key, "POST", "/v1/branches", {"name": "Main"})
    svc = call(base, key, "POST", "/v1/services",
               {"name": "Cut", "duration_minutes": 30, "buffer_after_minutes": 0})
    staff = [call(base, key, "POST", "/v1/staff",
                  {"name": f"S{i}", "branch_id": br["id"], "service_ids": [svc["id"]]})["id"]
             for i in range(n)]
    print(key, svc["id"], ",".join(map(str, staff)))


if __name__ == "__main__":
    main()
