#pragma once
// SQL of the calendar sync (issue 13) for PostgreSQL (migration 007), named like sql.h's
// statements (names start with "sync_"). Instants go in as Unix seconds (to_timestamp) and come
// out as timestamptz in binary (Result::i64 gives Unix seconds; NULL reads as 0).
#include "store/postgres/pg.h"

namespace appointd::store::postgres::sql {

#define APPOINTD_INTEGRATION_COLS \
  "SELECT company_id, provider, secrets, key_fingerprint, settings, updated_at FROM integrations "
inline constexpr Statement kIntegration{
    "sync_integration", APPOINTD_INTEGRATION_COLS "WHERE company_id = $1 AND provider = $2"};
inline constexpr Statement kIntegrations{
    "sync_integrations", APPOINTD_INTEGRATION_COLS "WHERE provider = $1 ORDER BY company_id"};
#undef APPOINTD_INTEGRATION_COLS
inline constexpr Statement kPutIntegration{
    "sync_put_integration",
    "INSERT INTO integrations(company_id, provider, secrets, key_fingerprint, settings, "
    "updated_at) VALUES ($1, $2, $3, $4, $5, to_timestamp($6::bigint)) "
    "ON CONFLICT (company_id, provider) DO UPDATE SET secrets = excluded.secrets, "
    "key_fingerprint = excluded.key_fingerprint, settings = excluded.settings, "
    "updated_at = excluded.updated_at"};
inline constexpr Statement kDeleteIntegration{
    "sync_delete_integration", "DELETE FROM integrations WHERE company_id = $1 AND provider = $2"};

// Two statements rather than one with an optional staff filter (generic plans, sql.h): one
// staff member's mappings (the primary key), and the whole company's.
inline constexpr Statement kEventTypesOfStaff{
    "sync_event_types_of_staff",
    "SELECT staff_id, service_id, event_type_id FROM staff_event_types "
    "WHERE company_id = $1 AND staff_id = $2 ORDER BY service_id"};
inline constexpr Statement kEventTypesOfCompany{
    "sync_event_types_of_company",
    "SELECT staff_id, service_id, event_type_id FROM staff_event_types "
    "WHERE company_id = $1 ORDER BY staff_id, service_id"};
inline constexpr Statement kDeleteEventTypes{
    "sync_delete_event_types",
    "DELETE FROM staff_event_types WHERE company_id = $1 AND staff_id = $2"};
// Every mapping of the staff member in one statement: $3 the service ids, $4 the event type
// ids, aligned.
inline constexpr Statement kInsertEventTypes{
    "sync_insert_event_types",
    "INSERT INTO staff_event_types(company_id, staff_id, service_id, event_type_id) "
    "SELECT $1, $2, sv, et FROM unnest($3::bigint[], $4::bigint[]) AS t(sv, et)"};

#define APPOINTD_EXTERNAL_COLS                                                                   \
  "SELECT appointment_id, ordinal, provider, external_uid, event_type_id, starts_at, live FROM " \
  "external_bookings "
inline constexpr Statement kExternalBookings{
    "sync_external_bookings", APPOINTD_EXTERNAL_COLS "WHERE appointment_id = $1 ORDER BY id"};
inline constexpr Statement kExternalBooking{
    "sync_external_booking", APPOINTD_EXTERNAL_COLS "WHERE provider = $1 AND external_uid = $2"};
#undef APPOINTD_EXTERNAL_COLS
// `live` only ever goes from true to false.
inline constexpr Statement kRecordExternalBooking{
    "sync_record_external_booking",
    "INSERT INTO external_bookings(appointment_id, ordinal, provider, external_uid, "
    "event_type_id, starts_at, live) VALUES ($1, $2, $3, $4, $5, to_timestamp($6::bigint), $7) "
    "ON CONFLICT (provider, external_uid) DO UPDATE SET ordinal = excluded.ordinal, "
    "event_type_id = excluded.event_type_id, starts_at = excluded.starts_at, "
    "live = external_bookings.live AND excluded.live"};

// A job's columns (pg_sync.cpp's read_job), of sync_jobs j joined with its appointment a.
#define APPOINTD_SYNC_JOB_COLS                                                                  \
  "SELECT j.id, j.appointment_id, a.company_id, j.action, j.version, j.state, j.attempts, "     \
  "j.next_attempt_at, COALESCE(j.created_at, j.next_attempt_at), COALESCE(j.lease_owner, ''), " \
  "j.lease_until, COALESCE(j.last_error, ''), j.uncertain, j.lookup_from, j.lookup_until "      \
  "FROM sync_jobs j JOIN appointments a ON a.id = j.appointment_id "
inline constexpr Statement kSyncJob{"sync_job",
                                    APPOINTD_SYNC_JOB_COLS "WHERE a.company_id = $1 AND j.id = $2"};
// Jobs of the company, newest first: of one appointment (sync_jobs_appointment), or of any
// ($2 NULL: every state).
inline constexpr Statement kSyncJobsOfAppointment{
    "sync_jobs_of_appointment", APPOINTD_SYNC_JOB_COLS
    "WHERE j.appointment_id = $3 AND a.company_id = $1 "
    "AND ($2::text IS NULL OR j.state = $2) ORDER BY j.id DESC LIMIT $4"};
inline constexpr Statement kSyncJobsOfCompany{
    "sync_jobs_of_company", APPOINTD_SYNC_JOB_COLS
    "WHERE a.company_id = $1 AND ($2::text IS NULL OR j.state = $2) "
    "ORDER BY j.id DESC LIMIT $3"};
// The open jobs of the appointments $1, in the order of the array, then by version and id.
inline constexpr Statement kOpenSyncJobs{
    "sync_open_jobs", APPOINTD_SYNC_JOB_COLS
    "JOIN unnest($1::bigint[]) WITH ORDINALITY AS q(id, n) ON q.id = j.appointment_id "
    "WHERE j.state IN ('pending', 'running') ORDER BY q.n, j.version, j.id"};
#undef APPOINTD_SYNC_JOB_COLS

// Due jobs as of $1: pending and due, or running with an expired lease; per appointment the
// longest due. Only the 4 * $2 + 32 longest due of each kind are looked at (two bounded range
// scans of sync_jobs_due), so a claim costs the same whatever the backlog.
#define APPOINTD_DUE_BY_APPOINTMENT                                          \
  "SELECT appointment_id, min(due) AS due FROM ("                            \
  "(SELECT appointment_id, next_attempt_at AS due FROM sync_jobs "           \
  "WHERE state = 'pending' AND next_attempt_at <= to_timestamp($1::bigint) " \
  "ORDER BY next_attempt_at LIMIT 4 * $2 + 32) "                             \
  "UNION ALL (SELECT appointment_id, lease_until FROM sync_jobs "            \
  "WHERE state = 'running' AND lease_until <= to_timestamp($1::bigint) "     \
  "ORDER BY lease_until LIMIT 4 * $2 + 32)) u GROUP BY appointment_id"
// Up to $2 appointments with a due job, the longest due first, their rows locked; a row another
// transaction holds is passed over (the limit applies after the lock, so it takes the next).
inline constexpr Statement kClaimDueAppointments{
    "sync_claim_due_appointments",
    "SELECT a.id FROM appointments a JOIN (" APPOINTD_DUE_BY_APPOINTMENT
    ") d ON d.appointment_id = a.id ORDER BY d.due, a.id LIMIT $2 FOR UPDATE OF a SKIP LOCKED"};
#undef APPOINTD_DUE_BY_APPOINTMENT
// Which of the appointments $2 still have a due job as of $1, read after their rows were locked
// (a statement of its own: a fresh snapshot at READ COMMITTED). A worker that held one of them
// may have leased its jobs and committed after the claim's snapshot was taken.
inline constexpr Statement kStillDue{
    "sync_still_due",
    "SELECT DISTINCT appointment_id FROM sync_jobs WHERE appointment_id = ANY($2::bigint[]) "
    "AND ((state = 'pending' AND next_attempt_at <= to_timestamp($1::bigint)) "
    "OR (state = 'running' AND lease_until <= to_timestamp($1::bigint)))"};
inline constexpr Statement kLockAppointment{"sync_lock_appointment",
                                            "SELECT 1 FROM appointments WHERE id = $1 FOR UPDATE"};
inline constexpr Statement kSaveSyncJob{
    "sync_save_job",
    "UPDATE sync_jobs SET state = $2, attempts = $3, next_attempt_at = to_timestamp($4::bigint), "
    "created_at = to_timestamp($5::bigint), lease_owner = $6, "
    "lease_until = to_timestamp($7::bigint), last_error = $8, uncertain = $9, "
    "lookup_from = to_timestamp($10::bigint), lookup_until = to_timestamp($11::bigint) "
    "WHERE id = $1"};
inline constexpr Statement kSyncCounts{
    "sync_counts",
    "SELECT state, action, count(*) FROM sync_jobs GROUP BY state, action ORDER BY 1, 2"};
inline constexpr Statement kSyncDue{
    "sync_due",
    "SELECT count(*), min(due) FROM (SELECT next_attempt_at AS due FROM sync_jobs "
    "WHERE state = 'pending' AND next_attempt_at <= to_timestamp($1::bigint) "
    "UNION ALL SELECT lease_until FROM sync_jobs "
    "WHERE state = 'running' AND lease_until <= to_timestamp($1::bigint)) u"};

// A duplicate (same company, provider and digest) inserts nothing and returns no row.
inline constexpr Statement kInsertWebhook{
    "sync_insert_webhook",
    "INSERT INTO webhook_deliveries(company_id, provider, digest, body, received_at) "
    "VALUES ($1, $2, $3, $4, to_timestamp($5::bigint)) "
    "ON CONFLICT (company_id, provider, digest) DO NOTHING RETURNING id"};
inline constexpr Statement kPendingWebhooks{
    "sync_pending_webhooks",
    "SELECT id, company_id, provider, body, received_at FROM webhook_deliveries "
    "WHERE processed_at IS NULL ORDER BY id LIMIT $1"};
inline constexpr Statement kFinishWebhook{
    "sync_finish_webhook",
    "UPDATE webhook_deliveries SET processed_at = to_timestamp($2::bigint), outcome = $3 "
    "WHERE id = $1"};

}  // namespace appointd::store::postgres::sql
