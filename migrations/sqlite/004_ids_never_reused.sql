-- Ids are never handed out twice (issue 12). Without AUTOINCREMENT SQLite gives a new row
-- max(id) + 1, so deleting the newest hold, time-off entry or segment (a reschedule replaces
-- its segments) gave its id to the next one, and a caller holding the stale id could convert
-- or delete someone else's newer row. AUTOINCREMENT keeps the highest id ever used in
-- sqlite_sequence. The tables whose rows are never deleted (companies, customers,
-- appointments, events, ...) cannot reuse an id and keep the cheaper plain rowid.
--
-- SQLite cannot add AUTOINCREMENT to a table, so these three are rebuilt. Copying the rows with
-- their ids seeds sqlite_sequence with the highest id that still exists (ids of rows deleted
-- before this migration above that are unknowable).

CREATE TABLE segments_new (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  appointment_id INTEGER NOT NULL REFERENCES appointments(id),
  company_id INTEGER NOT NULL REFERENCES companies(id),
  staff_id INTEGER NOT NULL REFERENCES staff(id),
  service_id INTEGER NOT NULL REFERENCES services(id),
  starts_at INTEGER NOT NULL,
  ends_at INTEGER NOT NULL,
  blocked_from INTEGER NOT NULL,
  blocked_until INTEGER NOT NULL,
  active INTEGER NOT NULL DEFAULT 1,
  CHECK (starts_at < ends_at AND blocked_from <= starts_at AND ends_at <= blocked_until)
);
INSERT INTO segments_new (id, appointment_id, company_id, staff_id, service_id, starts_at,
                          ends_at, blocked_from, blocked_until, active)
  SELECT id, appointment_id, company_id, staff_id, service_id, starts_at, ends_at, blocked_from,
         blocked_until, active FROM segments;
DROP TABLE segments;
ALTER TABLE segments_new RENAME TO segments;
CREATE INDEX segments_staff_active
  ON segments(staff_id, blocked_from, blocked_until, appointment_id, active) WHERE active = 1;
CREATE INDEX segments_appointment ON segments(appointment_id);

CREATE TABLE holds_new (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  company_id INTEGER NOT NULL REFERENCES companies(id),
  staff_id INTEGER NOT NULL REFERENCES staff(id),
  service_id INTEGER NOT NULL REFERENCES services(id),
  starts_at INTEGER NOT NULL,
  blocked_from INTEGER NOT NULL,
  blocked_until INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  owner TEXT NOT NULL DEFAULT '',
  ends_at INTEGER NOT NULL DEFAULT 0
);
INSERT INTO holds_new (id, company_id, staff_id, service_id, starts_at, blocked_from,
                       blocked_until, expires_at, owner, ends_at)
  SELECT id, company_id, staff_id, service_id, starts_at, blocked_from, blocked_until,
         expires_at, owner, ends_at FROM holds;
DROP TABLE holds;
ALTER TABLE holds_new RENAME TO holds;
CREATE INDEX holds_staff ON holds(staff_id, blocked_from, blocked_until, expires_at);

CREATE TABLE time_off_new (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  staff_id INTEGER NOT NULL REFERENCES staff(id),
  starts_at INTEGER NOT NULL,
  ends_at INTEGER NOT NULL,
  reason TEXT NOT NULL DEFAULT '',
  CHECK (starts_at < ends_at)
);
INSERT INTO time_off_new (id, staff_id, starts_at, ends_at, reason)
  SELECT id, staff_id, starts_at, ends_at, reason FROM time_off;
DROP TABLE time_off;
ALTER TABLE time_off_new RENAME TO time_off;
CREATE INDEX time_off_staff ON time_off(staff_id, starts_at);
CREATE INDEX time_off_staff_end ON time_off(staff_id, ends_at);
