-- The I1 overlap scan, made proportional to the interval asked about.
--
-- 1. It reads staff_id, blocked_from, blocked_until, appointment_id and active: with `active`
--    in the index too, SQLite answers from the index alone (covering), with no table lookups.
DROP INDEX segments_staff_active;
CREATE INDEX segments_staff_active
  ON segments(staff_id, blocked_from, blocked_until, appointment_id, active) WHERE active = 1;

-- 2. The scan starts at `from - longest blocked interval`. A global bound (20 h) made every
--    check read 20 h of a busy calendar; each staff member now carries the longest blocked
--    interval ever written for them (segments and holds; it only grows). Rows that exist
--    before this migration keep the global bound, which is always safe.
ALTER TABLE staff ADD COLUMN max_blocked_seconds INTEGER NOT NULL DEFAULT 72000;
