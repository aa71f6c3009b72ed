-- Scheduling (issue 3): company settings for the slot grid, notice and horizon, and the end of
-- a held service (so a hold can be shown and matched without its service).
ALTER TABLE companies ADD COLUMN slot_step_minutes integer NOT NULL DEFAULT 15
  CHECK (slot_step_minutes BETWEEN 5 AND 240);
ALTER TABLE companies ADD COLUMN min_notice_minutes integer NOT NULL DEFAULT 0
  CHECK (min_notice_minutes BETWEEN 0 AND 43200);
ALTER TABLE companies ADD COLUMN horizon_days integer NOT NULL DEFAULT 90
  CHECK (horizon_days BETWEEN 1 AND 730);

ALTER TABLE holds ADD COLUMN ends_at timestamptz NOT NULL DEFAULT 'epoch';

-- Time off of several staff members over a window (availability): by staff, then end.
CREATE INDEX time_off_staff_end ON time_off(staff_id, ends_at);
