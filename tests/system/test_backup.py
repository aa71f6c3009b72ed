"""`appointd backup` copies a live SQLite store while it serves, and `appointd restore` checks a
backup and installs it (issue 16): a backup taken under write load holds every booking
acknowledged before it began, restores to a store whose audit is clean and that a server then
serves, and restore refuses a damaged backup or a store a server still has open. SQLite only:
PostgreSQL's backups are pg_dump and point-in-time recovery (docs/operations.md)."""
import os
import sqlite3
import threading
import time
import unittest

from harness import (Client, Company, Server, ServerTestCase, at, run_cli,
                     test_backend)


class BackupRestore(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        if test_backend() != "sqlite":
            raise unittest.SkipTest("backup and restore are the SQLite store's (PostgreSQL: "
                                    "pg_dump, docs/operations.md)")
        super().setUpClass()

    def test_backup_under_load_holds_every_acknowledged_booking_and_restores(self):
        co = Company(self.server, self.platform_key)
        br = co.branch()
        svc = co.service(duration=15)
        staff = [co.staff(br, [svc]) for _ in range(4)]
        acked: list[tuple[float, int]] = []  # (when the 201 arrived, appointment id)
        lock = threading.Lock()
        stop = threading.Event()

        def load(k: int) -> None:
            api = Client(self.server, co.key)
            n = 0
            while not stop.is_set():
                seg = co.seg(staff[k], svc, at(8, 15 * (n % 40), day=10 + n // 40))
                r = co.book_reply([seg], api=api)
                if r.status == 201:
                    with lock:
                        acked.append((time.monotonic(), r.body["id"]))
                n += 1

        threads = [threading.Thread(target=load, args=(k,), daemon=True) for k in range(4)]
        for t in threads:
            t.start()
        time.sleep(1.5)
        backup = os.path.join(self.workdir, "backup.db")
        began = time.monotonic()
        r = run_cli("backup", "--db", self.db_url, "--to", backup)
        time.sleep(0.5)  # writes go on after the backup, and are not in it
        stop.set()
        for t in threads:
            t.join(30)
        self.assertEqual(r.returncode, 0, r.output)
        self.assertIn("appointments", r.stdout)
        before = {i for t, i in acked if t < began}
        after = {i for t, i in acked if t >= began}
        self.assertGreater(len(before), 20, "the load ran before the backup")
        db = sqlite3.connect(backup)
        try:
            in_backup = {row[0] for row in db.execute("SELECT id FROM appointments")}
        finally:
            db.close()
        self.assertEqual(before - in_backup, set(), "acknowledged before the backup began")
        self.assertLessEqual(len(in_backup), len(before) + len(after))
        self.assertFalse(os.path.exists(backup + "-wal"), "the backup is one self-contained file")
        self.assertEqual(run_cli("backup", "--db", self.db_url, "--to", backup).returncode != 0,
                         True, "an existing file is never overwritten")

        # Restore into a new store: checked, installed, audit clean, served.
        target = "sqlite:" + os.path.join(self.workdir, "restored", "appointd.db")
        r = run_cli("restore", "--from", backup, "--db", target)
        self.assertEqual(r.returncode, 0, r.output)
        audit = run_cli("audit", "--db", target)
        self.assertEqual(audit.returncode, 0, audit.output)
        self.assertIn("audit: clean", audit.stdout)
        server = Server(target, os.path.join(self.workdir), threads=2)
        server.log_path = os.path.join(self.workdir, "restored.log")
        server.start()
        try:
            api = Client(server, co.key)
            some = sorted(before)[:: max(1, len(before) // 10)]
            for appt_id in some:
                got = api.get(f"/v1/appointments/{appt_id}")
                self.assertEqual(got.status, 200, got)
            # The restored store takes new writes.
            self.assertEqual(co.book_reply([co.seg(staff[0], svc, at(9, day=300))],
                                           api=api).status, 201)
        finally:
            server.stop()

    def test_restore_refuses_a_damaged_backup_and_a_store_in_use(self):
        backup = os.path.join(self.workdir, "refuse.db")
        self.assertEqual(run_cli("backup", "--db", self.db_url, "--to", backup).returncode, 0)
        # A store a server has open: refused, the store untouched.
        r = run_cli("restore", "--from", backup, "--db", self.db_url)
        self.assertNotEqual(r.returncode, 0, r.output)
        self.assertIn("in use", r.output)
        self.assertEqual(Client(self.server, None).get("/readyz").status, 200)
        # A damaged file: refused before the target is touched.
        damaged = os.path.join(self.workdir, "damaged.db")
        with open(backup, "rb") as f:
            data = bytearray(f.read())
        for i in range(4096, min(len(data), 4096 * 6)):
            data[i] ^= 0x5A
        with open(damaged, "wb") as f:
            f.write(data)
        target = os.path.join(self.workdir, "untouched.db")
        r = run_cli("restore", "--from", damaged, "--db", "sqlite:" + target)
        self.assertNotEqual(r.returncode, 0, r.output)
        self.assertFalse(os.path.exists(target) and os.path.getsize(target) > 0,
                         "nothing installed from a damaged backup")
        # Not a backup of this store at all.
        r = run_cli("restore", "--from", os.path.join(self.workdir, "server.log"),
                    "--db", "sqlite:" + target)
        self.assertNotEqual(r.returncode, 0, r.output)
        # PostgreSQL has its own tools.
        r = run_cli("backup", "--db", "postgresql://nobody@127.0.0.1:1/x", "--to", backup + "2")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("pg_dump", r.output)


if __name__ == "__main__":
    unittest.main()
