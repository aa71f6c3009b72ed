-- Calendar sync (issue 13): integrations, event type mappings, the external bookings appointd
-- holds, a durable webhook inbox, and what the outbox worker needs on sync_jobs.
--
-- appointments.status gains 'conflict' (a calendar booking that collides with one of ours,
-- kept for a person to resolve) and a needs_attention flag. SQLite cannot change a CHECK, so
-- the table is rebuilt with its ids (SQLite's documented procedure: migrations run with
-- foreign keys off and are checked with foreign_key_check before they commit).

CREATE TABLE appointments_new (
  id INTEGER PRIMARY KEY,
  company_id INTEGER NOT NULL REFERENCES companies(id),
  branch_id INTEGER NOT NULL REFERENCES branches(id),
  customer_id INTEGER NOT NULL REFERENCES customers(id),
  status TEXT NOT NULL CHECK (status IN ('booked', 'cancelled', 'conflict')),
  version INTEGER NOT NULL DEFAULT 1,
  source TEXT NOT NULL DEFAULT 'api',
  notes TEXT NOT NULL DEFAULT '',
  call_id TEXT,
  external_provider TEXT,
  external_id TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  needs_attention INTEGER NOT NULL DEFAULT 0
);
INSERT INTO appointments_new (id, company_id, branch_id, customer_id, status, version, source,
                              notes, call_id, external_provider, external_id, created_at,
                              updated_at)
  SELECT id, company_id, branch_id, customer_id, status, version, source, notes, call_id,
         external_provider, external_id, created_at, updated_at FROM appointments;
DROP TABLE appointments;
ALTER TABLE appointments_new RENAME TO appointments;
CREATE INDEX appointments_company ON appointments(company_id, id);
CREATE UNIQUE INDEX appointments_external ON appointments(external_provider, external_id)
  WHERE external_id IS NOT NULL;

ALTER TABLE sync_jobs ADD COLUMN created_at INTEGER;
UPDATE sync_jobs SET created_at = next_attempt_at;
ALTER TABLE sync_jobs ADD COLUMN uncertain INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sync_jobs ADD COLUMN lookup_from INTEGER;
ALTER TABLE sync_jobs ADD COLUMN lookup_until INTEGER;
CREATE INDEX sync_jobs_appointment ON sync_jobs(appointment_id, version);
-- GET /v1/sync/jobs?state=: the newest jobs of a state first.
CREATE INDEX sync_jobs_state_id ON sync_jobs(state, id);

CREATE TABLE integrations (
  company_id INTEGER NOT NULL REFERENCES companies(id),
  provider TEXT NOT NULL,
  secrets TEXT NOT NULL,
  key_fingerprint TEXT NOT NULL,
  settings TEXT NOT NULL DEFAULT '{}',
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (company_id, provider)
) WITHOUT ROWID;

CREATE TABLE staff_event_types (
  company_id INTEGER NOT NULL,
  staff_id INTEGER NOT NULL REFERENCES staff(id),
  service_id INTEGER NOT NULL REFERENCES services(id),
  event_type_id INTEGER NOT NULL,
  PRIMARY KEY (staff_id, service_id)
) WITHOUT ROWID;
CREATE INDEX staff_event_types_company ON staff_event_types(company_id, event_type_id);

CREATE TABLE external_bookings (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  appointment_id INTEGER NOT NULL REFERENCES appointments(id),
  ordinal INTEGER NOT NULL,
  provider TEXT NOT NULL,
  external_uid TEXT NOT NULL,
  event_type_id INTEGER NOT NULL,
  starts_at INTEGER NOT NULL,
  live INTEGER NOT NULL,
  UNIQUE (provider, external_uid)
);
CREATE INDEX external_bookings_appointment ON external_bookings(appointment_id);

CREATE TABLE webhook_deliveries (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  company_id INTEGER NOT NULL REFERENCES companies(id),
  provider TEXT NOT NULL,
  digest TEXT NOT NULL,
  body TEXT NOT NULL,
  received_at INTEGER NOT NULL,
  processed_at INTEGER,
  outcome TEXT,
  UNIQUE (company_id, provider, digest)
);
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries(id) WHERE processed_at IS NULL;
