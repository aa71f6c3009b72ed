-- appointd schema, SQLite. Instants are INTEGER seconds since the Unix epoch (UTC).
CREATE TABLE companies (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  timezone TEXT NOT NULL,
  country TEXT NOT NULL,
  created_at INTEGER NOT NULL
);

CREATE TABLE branches (
  id INTEGER PRIMARY KEY,
  company_id INTEGER NOT NULL REFERENCES companies(id),
  name TEXT NOT NULL,
  timezone TEXT NOT NULL,
  phone TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL
);
CREATE INDEX branches_company ON branches(company_id);

CREATE TABLE services (
  id INTEGER PRIMARY KEY,
  company_id INTEGER NOT NULL REFERENCES companies(id),
  name TEXT NOT NULL,
  duration_minutes INTEGER NOT NULL CHECK (duration_minutes > 0),
  buffer_before_minutes INTEGER NOT NULL DEFAULT 0 CHECK (buffer_before_minutes >= 0),
  buffer_after_minutes INTEGER NOT NULL DEFAULT 0 CHECK (buffer_after_minutes >= 0),
  created_at INTEGER NOT NULL
);
CREATE INDEX services_company ON services(company_id);

CREATE TABLE staff (
  id INTEGER PRIMARY KEY,
  company_id INTEGER NOT NULL REFERENCES companies(id),
  branch_id INTEGER NOT NULL REFERENCES branches(id),
  name TEXT NOT NULL,
  email TEXT NOT NULL DEFAULT '',
  active INTEGER NOT NULL DEFAULT 1,
  created_at INTEGER NOT NULL
);
CREATE INDEX staff_company ON staff(company_id);

CREATE TABLE staff_services (
  staff_id INTEGER NOT NULL REFERENCES staff(id),
  service_id INTEGER NOT NULL REFERENCES services(id),
  PRIMARY KEY (staff_id, service_id)
) WITHOUT ROWID;

-- Weekly working hours in the branch's local time; several rows a day make breaks.
CREATE TABLE working_hours (
  staff_id INTEGER NOT NULL REFERENCES staff(id),
  weekday INTEGER NOT NULL CHECK (weekday BETWEEN 0 AND 6),
  start_minute INTEGER NOT NULL,
  end_minute INTEGER NOT NULL,
  CHECK (0 <= start_minute AND start_minute < end_minute AND end_minute <= 1440)
);
CREATE INDEX working_hours_staff ON working_hours(staff_id, weekday);

CREATE TABLE time_off (
  id INTEGER PRIMARY KEY,
  staff_id INTEGER NOT NULL REFERENCES staff(id),
  starts_at INTEGER NOT NULL,
  ends_at INTEGER NOT NULL,
  reason TEXT NOT NULL DEFAULT '',
  CHECK (starts_at < ends_at)
);
CREATE INDEX time_off_staff ON time_off(staff_id, starts_at);

CREATE TABLE customers (
  id INTEGER PRIMARY KEY,
  company_id INTEGER NOT NULL REFERENCES companies(id),
  phone TEXT NOT NULL,
  name TEXT NOT NULL DEFAULT '',
  email TEXT NOT NULL DEFAULT '',
  source TEXT NOT NULL DEFAULT 'api',
  created_at INTEGER NOT NULL,
  deleted_at INTEGER
);
-- I2: at most one live customer per (company, E.164 phone).
CREATE UNIQUE INDEX customers_live_phone ON customers(company_id, phone) WHERE deleted_at IS NULL;

CREATE TABLE appointments (
  id INTEGER PRIMARY KEY,
  company_id INTEGER NOT NULL REFERENCES companies(id),
  branch_id INTEGER NOT NULL REFERENCES branches(id),
  customer_id INTEGER NOT NULL REFERENCES customers(id),
  status TEXT NOT NULL CHECK (status IN ('booked', 'cancelled')),
  version INTEGER NOT NULL DEFAULT 1,
  source TEXT NOT NULL DEFAULT 'api',
  notes TEXT NOT NULL DEFAULT '',
  call_id TEXT,
  external_provider TEXT,
  external_id TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX appointments_company ON appointments(company_id, id);
-- I3: at most one appointment per (provider, external booking id).
CREATE UNIQUE INDEX appointments_external ON appointments(external_provider, external_id)
  WHERE external_id IS NOT NULL;

CREATE TABLE segments (
  id INTEGER PRIMARY KEY,
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
-- I1 overlap check: a bounded range scan per staff member (blocked intervals have a max length),
-- covering, so the scan never touches the table.
CREATE INDEX segments_staff_active
  ON segments(staff_id, blocked_from, blocked_until, appointment_id) WHERE active = 1;
CREATE INDEX segments_appointment ON segments(appointment_id);

CREATE TABLE holds (
  id INTEGER PRIMARY KEY,
  company_id INTEGER NOT NULL REFERENCES companies(id),
  staff_id INTEGER NOT NULL REFERENCES staff(id),
  service_id INTEGER NOT NULL REFERENCES services(id),
  starts_at INTEGER NOT NULL,
  blocked_from INTEGER NOT NULL,
  blocked_until INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  owner TEXT NOT NULL DEFAULT ''
);
CREATE INDEX holds_staff ON holds(staff_id, blocked_from, blocked_until, expires_at);

-- I4: one outcome per (company, key).
CREATE TABLE idempotency_keys (
  company_id INTEGER NOT NULL,
  key TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'done',
  status INTEGER NOT NULL,
  body TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (company_id, key)
) WITHOUT ROWID;

-- Transactional outbox for the calendar sync.
CREATE TABLE sync_jobs (
  id INTEGER PRIMARY KEY,
  appointment_id INTEGER NOT NULL REFERENCES appointments(id),
  action TEXT NOT NULL,
  version INTEGER NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending',
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  lease_owner TEXT,
  lease_until INTEGER,
  last_error TEXT
);
CREATE INDEX sync_jobs_due ON sync_jobs(state, next_attempt_at);

CREATE TABLE calls (
  call_id TEXT PRIMARY KEY,
  company_id INTEGER NOT NULL REFERENCES companies(id),
  agent_id TEXT,
  from_number TEXT,
  to_number TEXT,
  started_at INTEGER,
  ended_at INTEGER
);

CREATE TABLE api_keys (
  id INTEGER PRIMARY KEY,
  company_id INTEGER,
  name TEXT NOT NULL DEFAULT '',
  sha256 TEXT NOT NULL UNIQUE,
  role TEXT NOT NULL CHECK (role IN ('platform', 'company')),
  created_at INTEGER NOT NULL,
  revoked_at INTEGER
);

-- Append-only history.
CREATE TABLE events (
  id INTEGER PRIMARY KEY,
  company_id INTEGER NOT NULL,
  appointment_id INTEGER,
  kind TEXT NOT NULL,
  payload TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX events_appointment ON events(appointment_id, id);
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
  BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
  BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
