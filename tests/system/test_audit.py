"""`appointd audit` reports every check with its count, exits 0 on a clean database and 1 once
the database is corrupted behind the server's back (I1 overlap, I2 duplicate phone, I3 duplicate
external id, I7 a segment of another company's staff)."""
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Company, ServerTestCase, at, expect, iso, phone, run_cli,  # noqa: E402
                     sqlite_path)

CHECKS = ("I1", "I2", "I3", "I4", "I7")


def check_counts(output: str) -> dict[str, int]:
    """Violation count per check, read from lines naming the check: the number before
    "violation(s)" if there is one, else the first number after the check name."""
    counts: dict[str, int] = {}
    for line in output.splitlines():
        m = re.search(r"\b(I[1-7])\b(.*)", line)
        if not m or m.group(1) in counts:
            continue
        rest = m.group(2)
        n = re.search(r"(\d+)\s+violations?", rest, re.I) or re.search(r"\b(\d+)\b", rest)
        if n:
            counts[m.group(1)] = int(n.group(1))
    return counts


class AuditTest(ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        co = cls.co = Company(cls.server, cls.platform_key)
        br = co.branch()
        svc = co.service(duration=30, after=10)
        anna, ben = co.staff(br, [svc]), co.staff(br, [svc])
        cls.cust = co.customer(phone(1))
        co.customer(phone(2))
        cls.appt = co.book([co.seg(anna, svc, at(9))], customer_id=cls.cust["id"])
        co.book([co.seg(anna, svc, at(10)), co.seg(ben, svc, at(10, 40))],
                customer_id=cls.cust["id"], headers={"Idempotency-Key": "audit-1"})
        gone = co.book([co.seg(ben, svc, at(9))], customer_id=cls.cust["id"])
        expect(co.api.post(f"/v1/appointments/{gone['id']}/cancel", {}), 200)
        moved = co.book([co.seg(ben, svc, at(12))], customer_id=cls.cust["id"])
        expect(co.api.post(f"/v1/appointments/{moved['id']}/reschedule",
                           {"start": iso(at(12, 20))}), 200)
        # Another company's staff member: a segment pointing at them breaks I7.
        other = Company(cls.server, cls.platform_key)
        cls.foreign_staff = other.staff(other.branch(), [other.service()])
        cls.live_audit = cls.server.audit()  # on the live database
        cls.server.stop()

    def audit(self, db_url=None):
        r = run_cli("audit", "--db", db_url or self.db_url)
        return r.returncode, r.output

    def assertClean(self, code, out):
        self.assertEqual(code, 0, out)
        counts = check_counts(out)
        self.assertEqual(sorted(counts), list(CHECKS), f"each check with its count:\n{out}")
        self.assertEqual(set(counts.values()), {0}, out)
        self.assertRegex(out, r"(?i)integrity", f"the store's own integrity check:\n{out}")

    def test_clean_live_database(self):
        self.assertClean(self.live_audit.returncode, self.live_audit.output)

    def test_clean_stopped_database(self):
        self.assertClean(*self.audit())

    # -- corruption, on copies of the stopped database -----------------------------------
    def corrupted_copy(self, name, *statements):
        path = sqlite_path(self.db_url)
        if path is None:
            self.skipTest("corrupting the store directly needs the SQLite backend")
        copy = os.path.join(self.workdir, f"{name}.db")
        src, dst = sqlite3.connect(path), sqlite3.connect(copy)
        try:
            src.backup(dst)
            with dst:
                for sql, args in statements:
                    dst.execute(sql, args)
        finally:
            src.close()
            dst.close()
        return "sqlite:" + copy

    def assertViolation(self, db_url, check):
        code, out = self.audit(db_url)
        self.assertEqual(code, 1, f"audit must fail on a broken {check}:\n{out}")
        self.assertIn(check, out)
        counts = check_counts(out)
        self.assertGreater(counts.get(check, 0), 0, f"{check} violation count:\n{out}")
        for other in CHECKS:
            if other != check:
                self.assertEqual(counts.get(other), 0, f"only {check} is broken:\n{out}")

    def test_overlapping_segment_fails_i1(self):
        a = self.appt["id"]
        url = self.corrupted_copy(
            "i1",
            ("INSERT INTO appointments (company_id, branch_id, customer_id, status, version, "
             "source, notes, created_at, updated_at) SELECT company_id, branch_id, customer_id, "
             "status, version, source, notes, created_at, updated_at FROM appointments "
             "WHERE id = ?", (a,)),
            ("INSERT INTO segments (appointment_id, company_id, staff_id, service_id, starts_at, "
             "ends_at, blocked_from, blocked_until, active) SELECT last_insert_rowid(), "
             "company_id, staff_id, service_id, starts_at + 600, ends_at + 600, "
             "blocked_from + 600, blocked_until + 600, 1 FROM segments "
             "WHERE appointment_id = ? AND active = 1", (a,)))
        self.assertViolation(url, "I1")

    def test_duplicate_live_customer_fails_i2(self):
        c = self.cust["id"]
        url = self.corrupted_copy(
            "i2",
            ("DROP INDEX customers_live_phone", ()),
            ("INSERT INTO customers (company_id, phone, name, email, source, created_at) "
             "SELECT company_id, phone, name || ' twin', email, source, created_at "
             "FROM customers WHERE id = ?", (c,)))
        self.assertViolation(url, "I2")

    def test_duplicate_external_booking_fails_i3(self):
        url = self.corrupted_copy(
            "i3",
            ("DROP INDEX appointments_external", ()),
            ("UPDATE appointments SET external_provider = 'calcom', external_id = 'dup-1' "
             "WHERE id IN (SELECT id FROM appointments ORDER BY id LIMIT 2)", ()))
        self.assertViolation(url, "I3")

    def test_segment_of_another_companys_staff_fails_i7(self):
        # No foreign key guards it on PostgreSQL (migration 005): the audit does, on both stores.
        a, st = self.appt["id"], self.foreign_staff["id"]
        corrupt = "UPDATE segments SET staff_id = {} WHERE appointment_id = {}"
        if sqlite_path(self.db_url) is not None:
            url = self.corrupted_copy("i7", (corrupt.format("?", "?"), (st, a)))
            self.assertViolation(url, "I7")
            return
        # PostgreSQL: in place on the stopped database, put back afterwards.
        psql = shutil.which("psql")
        if not psql:
            self.skipTest("psql is not installed")
        def run(sql):
            subprocess.run([psql, self.db_url, "-v", "ON_ERROR_STOP=1", "-qc", sql], check=True,
                           capture_output=True)
        staff = self.appt["segments"][0]["staff_id"]
        run(corrupt.format(st, a))
        try:
            self.assertViolation(self.db_url, "I7")
        finally:
            run(corrupt.format(staff, a))
        self.assertClean(*self.audit())

    def test_cancelled_overlap_is_not_a_violation(self):
        # An inactive (cancelled) segment overlapping an active one breaks nothing.
        a = self.appt["id"]
        url = self.corrupted_copy(
            "inactive",
            ("INSERT INTO segments (appointment_id, company_id, staff_id, service_id, starts_at, "
             "ends_at, blocked_from, blocked_until, active) SELECT appointment_id, company_id, "
             "staff_id, service_id, starts_at, ends_at, blocked_from, blocked_until, 0 "
             "FROM segments WHERE appointment_id = ?", (a,)))
        self.assertClean(*self.audit(url))


if __name__ == "__main__":
    unittest.main()


class PeriodicAuditTest(ServerTestCase):
    """`serve --audit-interval-s` runs the audit in the background and exports it as metrics
    (appointd_audit_violations, per check, and when it last ran), so an alert can fire on a
    violation nobody went looking for: a live database corrupted behind the server's back is
    reported within an interval, and reported clean again once repaired."""
    server_args = ("--audit-interval-s", "1")

    def metrics(self) -> dict[str, float]:
        out = {}
        for line in self.anon.get("/metrics").raw.decode().splitlines():
            if line.startswith("appointd_audit_"):
                name, value = line.rsplit(" ", 1)
                out[name] = float(value)
        return out

    def wait_for(self, pred, what: str, timeout: float = 30) -> dict[str, float]:
        deadline = time.monotonic() + timeout
        while True:
            m = self.metrics()
            if pred(m):
                return m
            self.assertLess(time.monotonic(), deadline, f"{what}: {m}")
            time.sleep(0.2)

    def sql(self, statement: str, *args) -> None:
        path = sqlite_path(self.db_url)
        if path is not None:
            db = sqlite3.connect(path, timeout=30)
            try:
                with db:
                    db.execute(statement.replace("%s", "?"), args)
            finally:
                db.close()
            return
        psql = shutil.which("psql")
        if not psql:
            self.skipTest("psql is not installed")
        text = statement.replace("%s", "{}").format(*args)
        subprocess.run([psql, self.db_url, "-v", "ON_ERROR_STOP=1", "-qc", text], check=True,
                       capture_output=True)

    def test_violation_in_a_live_database_is_exported_then_cleared(self):
        co = Company(self.server, self.platform_key)
        br = co.branch()
        svc = co.service(duration=30)
        anna = co.staff(br, [svc])
        appt = co.book([co.seg(anna, svc, at(9, day=40))])
        other = Company(self.server, self.platform_key)
        foreign = other.staff(other.branch(), [other.service()])
        started = time.time()
        clean = self.wait_for(
            lambda m: m.get("appointd_audit_last_run_timestamp_seconds", 0) >= started,
            "an audit ran")
        self.assertEqual(clean["appointd_audit_violations"], 0, clean)
        # I7 broken behind the server's back: a segment now names another company's staff.
        self.sql("UPDATE segments SET staff_id = %s WHERE appointment_id = %s",
                 foreign["id"], appt["id"])
        try:
            broken = self.wait_for(lambda m: m.get("appointd_audit_violations", 0) > 0,
                                   "the violation was exported")
            self.assertGreater(broken.get('appointd_audit_check_violations{check="I7"}', 0), 0,
                               broken)
            self.assertEqual(broken.get('appointd_audit_check_violations{check="I1"}'), 0, broken)
        finally:
            self.sql("UPDATE segments SET staff_id = %s WHERE appointment_id = %s",
                     anna["id"], appt["id"])
        self.wait_for(lambda m: m.get("appointd_audit_violations", 1) == 0, "cleared again")
        self.assertRegex(open(self.server.log_path).read(), "audit found invariant violations")
