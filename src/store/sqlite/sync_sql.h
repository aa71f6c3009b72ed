#pragma once
// SQL of the calendar sync (issue 13) for SQLite; instants are unix seconds.
namespace appointd::store::sqlite::sql {

inline constexpr const char* kIntegration =
    "SELECT company_id, provider, secrets, key_fingerprint, settings, updated_at "
    "FROM integrations WHERE company_id = ?1 AND provider = ?2";
inline constexpr const char* kIntegrations =
    "SELECT company_id, provider, secrets, key_fingerprint, settings, updated_at "
    "FROM integrations WHERE provider = ?1 ORDER BY company_id";
inline constexpr const char* kPutIntegration =
    "INSERT INTO integrations(company_id, provider, secrets, key_fingerprint, settings, "
    "updated_at) VALUES (?1,?2,?3,?4,?5,?6) ON CONFLICT (company_id, provider) DO UPDATE SET "
    "secrets = excluded.secrets, key_fingerprint = excluded.key_fingerprint, "
    "settings = excluded.settings, updated_at = excluded.updated_at";
inline constexpr const char* kDeleteIntegration =
    "DELETE FROM integrations WHERE company_id = ?1 AND provider = ?2";

inline constexpr const char* kEventTypes =
    "SELECT staff_id, service_id, event_type_id FROM staff_event_types "
    "WHERE company_id = ?1 AND (?2 IS NULL OR staff_id = ?2) ORDER BY staff_id, service_id";
inline constexpr const char* kDeleteEventTypes =
    "DELETE FROM staff_event_types WHERE company_id = ?1 AND staff_id = ?2";
inline constexpr const char* kInsertEventType =
    "INSERT INTO staff_event_types(company_id, staff_id, service_id, event_type_id) "
    "VALUES (?1,?2,?3,?4)";

inline constexpr const char* kExternalBookings =
    "SELECT appointment_id, ordinal, provider, external_uid, event_type_id, starts_at, live "
    "FROM external_bookings WHERE appointment_id = ?1 ORDER BY id";
inline constexpr const char* kExternalBooking =
    "SELECT appointment_id, ordinal, provider, external_uid, event_type_id, starts_at, live "
    "FROM external_bookings WHERE provider = ?1 AND external_uid = ?2";
inline constexpr const char* kRecordExternalBooking =
    "INSERT INTO external_bookings(appointment_id, ordinal, provider, external_uid, "
    "event_type_id, starts_at, live) VALUES (?1,?2,?3,?4,?5,?6,?7) "
    "ON CONFLICT (provider, external_uid) DO UPDATE SET ordinal = excluded.ordinal, "
    "event_type_id = excluded.event_type_id, starts_at = excluded.starts_at, "
    "live = min(live, excluded.live)";

#define APPOINTD_SYNC_JOB_COLUMNS                                                          \
  "j.id, j.appointment_id, a.company_id, j.action, j.version, j.state, j.attempts, "       \
  "j.next_attempt_at, COALESCE(j.created_at, j.next_attempt_at), COALESCE(j.lease_owner, " \
  "''), COALESCE(j.lease_until, 0), COALESCE(j.last_error, ''), j.uncertain, "             \
  "COALESCE(j.lookup_from, 0), COALESCE(j.lookup_until, 0) "

inline constexpr const char* kSyncJob =
    "SELECT " APPOINTD_SYNC_JOB_COLUMNS
    "FROM sync_jobs j JOIN appointments a ON a.id = j.appointment_id "
    "WHERE a.company_id = ?1 AND j.id = ?2";
inline constexpr const char* kSyncJobs =
    "SELECT " APPOINTD_SYNC_JOB_COLUMNS
    "FROM sync_jobs j JOIN appointments a ON a.id = j.appointment_id "
    "WHERE a.company_id = ?1 AND (?2 IS NULL OR j.state = ?2) "
    "AND (?3 IS NULL OR j.appointment_id = ?3) ORDER BY j.id DESC LIMIT ?4";
inline constexpr const char* kOpenSyncJobs =
    "SELECT " APPOINTD_SYNC_JOB_COLUMNS
    "FROM sync_jobs j JOIN appointments a ON a.id = j.appointment_id "
    "WHERE j.appointment_id = ?1 AND j.state IN ('pending', 'running') ORDER BY j.version, j.id";
// Due: pending and due, or running with an expired lease. Only the 4 * ?2 + 32 longest due of
// each kind are looked at (bounded range scans of sync_jobs_due), so a claim costs the same
// whatever the backlog (it used to group every due job: 6 ms a claim at 20,000).
inline constexpr const char* kDueAppointments =
    "SELECT appointment_id, min(due) FROM ("
    "SELECT * FROM (SELECT appointment_id, next_attempt_at AS due FROM sync_jobs "
    "WHERE state = 'pending' AND next_attempt_at <= ?1 ORDER BY next_attempt_at "
    "LIMIT 4 * ?2 + 32) "
    "UNION ALL SELECT * FROM (SELECT appointment_id, lease_until AS due FROM sync_jobs "
    "WHERE state = 'running' AND lease_until <= ?1 ORDER BY lease_until LIMIT 4 * ?2 + 32)) "
    "GROUP BY appointment_id ORDER BY 2, 1 LIMIT ?2";
inline constexpr const char* kSaveSyncJob =
    "UPDATE sync_jobs SET state = ?2, attempts = ?3, next_attempt_at = ?4, created_at = ?5, "
    "lease_owner = ?6, lease_until = ?7, last_error = ?8, uncertain = ?9, lookup_from = ?10, "
    "lookup_until = ?11 WHERE id = ?1";
inline constexpr const char* kSyncCounts =
    "SELECT state, action, count(*) FROM sync_jobs GROUP BY state, action ORDER BY 1, 2";
inline constexpr const char* kSyncDue =
    "SELECT count(*), min(due) FROM ("
    "SELECT next_attempt_at AS due FROM sync_jobs WHERE state = 'pending' "
    "AND next_attempt_at <= ?1 UNION ALL SELECT lease_until FROM sync_jobs "
    "WHERE state = 'running' AND lease_until <= ?1)";

inline constexpr const char* kInsertWebhook =
    "INSERT INTO webhook_deliveries(company_id, provider, digest, body, received_at) "
    "VALUES (?1,?2,?3,?4,?5) ON CONFLICT (company_id, provider, digest) DO NOTHING";
inline constexpr const char* kPendingWebhooks =
    "SELECT id, company_id, provider, body, received_at FROM webhook_deliveries "
    "WHERE processed_at IS NULL ORDER BY id LIMIT ?1";
inline constexpr const char* kFinishWebhook =
    "UPDATE webhook_deliveries SET processed_at = ?2, outcome = ?3 WHERE id = ?1";

}  // namespace appointd::store::sqlite::sql
