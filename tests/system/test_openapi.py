"""The OpenAPI document served at /v1/openapi.json (docs/openapi.yaml, embedded at build time)
describes what the server really answers: it is the document in the repository, and real
replies of a walk through the API (successes, refusals, conflicts, replays, problems from the
HTTP layer) fit the schemas of their route and status, with no field the document does not
name. That the document lists exactly the router's routes is tests/unit/openapi_test.cpp."""
import json
import unittest

import openapi_doc
from harness import Client, Company, ServerTestCase, at, phone


class OpenApiDocument(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        reply = Client(cls.server, None).get("/v1/openapi.json")
        assert reply.status == 200, reply
        cls.served = reply
        cls.doc = openapi_doc.load(data=reply.raw)

    def check(self, method: str, path: str, reply) -> None:
        problems = openapi_doc.validate_response(
            self.doc, method, path.split("?")[0], reply.status, reply.raw,
            reply.headers.get("content-type"), strict=True)
        self.assertEqual(problems, [], f"{method} {path}: {reply}")

    def test_served_document_is_the_repository_one(self):
        self.assertTrue(self.served.headers["content-type"].startswith("application/json"))
        self.assertEqual(self.doc, openapi_doc.load())
        self.assertEqual(self.doc["openapi"], "3.1.0")
        self.assertIn(("GET", "/v1/openapi.json"), openapi_doc.operations(self.doc))

    def test_replies_of_a_walk_through_the_api_fit_their_schemas(self):
        co = Company(self.server, self.platform_key)
        api, anon = co.api, Client(self.server, None)
        calls = []

        def call(method: str, path: str, body=None, *, client=None, headers=None, query=None):
            c = client or api
            kw = {"headers": headers} if headers else {}
            if query:
                kw["query"] = query
            if method in ("GET", "DELETE"):
                reply = (c.get if method == "GET" else c.delete)(path, **kw)
            else:
                reply = (c.post if method == "POST" else c.put)(path, body, **kw)
            calls.append((method, path, reply))
            return reply

        call("GET", "/healthz", client=anon)
        call("GET", "/readyz", client=anon)
        call("GET", "/v1/company")
        br = call("POST", "/v1/branches", {"name": "Mitte"}).body
        svc = call("POST", "/v1/services", {"name": "Cut", "duration_minutes": 30}).body
        st = call("POST", "/v1/staff", {"name": "Ana", "email": "ana@example.com",
                                        "branch_id": br["id"], "service_ids": [svc["id"]]}).body
        call("GET", f"/v1/staff/{st['id']}")
        call("PUT", f"/v1/staff/{st['id']}/working-hours", {"hours": [
            {"weekday": d, "start": "08:00", "end": "18:00"} for d in range(1, 6)]})
        call("GET", f"/v1/staff/{st['id']}/working-hours")
        cust = call("PUT", "/v1/customers", {"phone": phone(4242), "name": "Max"}).body
        call("GET", f"/v1/customers/{cust['id']}")
        start = at(9, day=30)
        while start.weekday() >= 5:
            start = start.replace(day=start.day) + (at(0, day=1) - at(0))
        seg = co.seg(st, svc, start)
        booked = call("POST", "/v1/appointments", {"segments": [seg], "customer_id": cust["id"]},
                      headers={"Idempotency-Key": "openapi-walk"})
        self.assertEqual(booked.status, 201, booked)
        call("POST", "/v1/appointments", {"segments": [seg], "customer_id": cust["id"]},
             headers={"Idempotency-Key": "openapi-walk"})  # replayed
        call("POST", "/v1/appointments", {"segments": [seg], "customer_id": cust["id"]})  # 409
        appt = booked.body
        call("GET", f"/v1/appointments/{appt['id']}")
        call("GET", f"/v1/appointments/{appt['id']}/events")
        call("GET", "/v1/appointments", query={"from": "2026-01-01T00:00:00Z",
                                               "to": "2030-01-01T00:00:00Z"})
        call("GET", "/v1/availability", query={
            "service_id": svc["id"], "from": seg["start"],
            "to": (start + (at(0, day=1) - at(0))).isoformat().replace("+00:00", "Z")})
        hold = call("POST", "/v1/holds", {"staff_id": st["id"], "service_id": svc["id"],
                                          "start": (start.replace(hour=11)).isoformat()
                                          .replace("+00:00", "Z")})
        if hold.status == 201:
            call("GET", f"/v1/holds/{hold.body['id']}")
            call("DELETE", f"/v1/holds/{hold.body['id']}")
        call("POST", f"/v1/appointments/{appt['id']}/cancel", {})
        # Refusals and problems of the HTTP layer.
        call("GET", "/v1/appointments/999999999")                  # 404
        call("POST", "/v1/appointments", {"segments": "nope"})     # 422
        call("GET", "/v1/company", client=anon)                    # 401
        not_allowed = anon.get("/v1/companies")                     # 405, from the HTTP layer
        self.assertEqual(not_allowed.status, 405)
        self.assertEqual(openapi_doc.validate(not_allowed.body, {
            "$ref": "#/components/schemas/Problem"}, self.doc, strict=True), [])
        for method, path, reply in calls:
            with self.subTest(f"{method} {path} {reply.status}"):
                self.check(method, path, reply)
        statuses = {r.status for _, _, r in calls}
        self.assertTrue({200, 201, 401, 404, 409, 422} <= statuses, statuses)


if __name__ == "__main__":
    unittest.main()
