#pragma once
// Every SQL statement of the SQLite backend, named. Input is always bound, never concatenated.
// The Connection caches prepared statements by the address of these constants.

namespace appointd::store::sqlite::sql {

inline constexpr const char* kCompany =
    "SELECT id, name, timezone, country, created_at, slot_step_minutes, min_notice_minutes, "
    "horizon_days FROM companies WHERE id = ?1";
inline constexpr const char* kInsertCompany =
    "INSERT INTO companies(name, timezone, country, created_at, slot_step_minutes, "
    "min_notice_minutes, horizon_days) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
inline constexpr const char* kUpdateCompanySettings =
    "UPDATE companies SET slot_step_minutes = ?2, min_notice_minutes = ?3, horizon_days = ?4 "
    "WHERE id = ?1";

inline constexpr const char* kBranch =
    "SELECT id, company_id, name, timezone, phone, created_at FROM branches "
    "WHERE company_id = ?1 AND id = ?2";
inline constexpr const char* kBranches =
    "SELECT id, company_id, name, timezone, phone, created_at FROM branches "
    "WHERE company_id = ?1 ORDER BY id";
inline constexpr const char* kInsertBranch =
    "INSERT INTO branches(company_id, name, timezone, phone, created_at) VALUES (?1,?2,?3,?4,?5)";

inline constexpr const char* kService =
    "SELECT id, company_id, name, duration_minutes, buffer_before_minutes, buffer_after_minutes, "
    "created_at FROM services WHERE company_id = ?1 AND id = ?2";
inline constexpr const char* kServices =
    "SELECT id, company_id, name, duration_minutes, buffer_before_minutes, buffer_after_minutes, "
    "created_at FROM services WHERE company_id = ?1 ORDER BY id";
inline constexpr const char* kInsertService =
    "INSERT INTO services(company_id, name, duration_minutes, buffer_before_minutes, "
    "buffer_after_minutes, created_at) VALUES (?1,?2,?3,?4,?5,?6)";

inline constexpr const char* kStaff =
    "SELECT id, company_id, branch_id, name, email, active, created_at FROM staff "
    "WHERE company_id = ?1 AND id = ?2";
inline constexpr const char* kStaffList =
    "SELECT id, company_id, branch_id, name, email, active, created_at FROM staff "
    "WHERE company_id = ?1 ORDER BY id";
inline constexpr const char* kCompanyStaffServices =
    "SELECT ss.staff_id, ss.service_id FROM staff_services ss JOIN staff s ON s.id = ss.staff_id "
    "WHERE s.company_id = ?1 ORDER BY ss.staff_id, ss.service_id";
inline constexpr const char* kStaffServices =
    "SELECT service_id FROM staff_services WHERE staff_id = ?1 ORDER BY service_id";
inline constexpr const char* kStaffForService =
    "SELECT s.id FROM staff s JOIN staff_services ss ON ss.staff_id = s.id "
    "WHERE s.company_id = ?1 AND s.branch_id = ?2 AND ss.service_id = ?3 AND s.active = 1 "
    "ORDER BY s.id LIMIT ?4";
inline constexpr const char* kInsertStaff =
    "INSERT INTO staff(company_id, branch_id, name, email, active, created_at, "
    "max_blocked_seconds) VALUES (?1,?2,?3,?4,?5,?6,0)";
// Keeps staff.max_blocked_seconds (?2 = blocked length just written) an upper bound.
inline constexpr const char* kRaiseMaxBlocked =
    "UPDATE staff SET max_blocked_seconds = ?2 WHERE id = ?1 AND max_blocked_seconds < ?2";
inline constexpr const char* kInsertStaffService =
    "INSERT OR IGNORE INTO staff_services(staff_id, service_id) VALUES (?1, ?2)";

inline constexpr const char* kCustomer =
    "SELECT id, company_id, phone, name, email, source, created_at FROM customers "
    "WHERE company_id = ?1 AND id = ?2 AND deleted_at IS NULL";
inline constexpr const char* kCustomerByPhone =
    "SELECT id, company_id, phone, name, email, source, created_at FROM customers "
    "WHERE company_id = ?1 AND phone = ?2 AND deleted_at IS NULL";
// Atomic insert-if-absent against the partial unique index (I2): a row comes back only when it
// was inserted. An existing customer gets empty name/email filled in by kFillCustomer.
inline constexpr const char* kInsertCustomer =
    "INSERT INTO customers(company_id, phone, name, email, source, created_at) "
    "VALUES (?1,?2,?3,?4,?5,?6) "
    "ON CONFLICT(company_id, phone) WHERE deleted_at IS NULL DO NOTHING RETURNING id";
inline constexpr const char* kFillCustomer =
    "UPDATE customers SET name = CASE WHEN name = '' THEN ?3 ELSE name END, "
    "email = CASE WHEN email = '' THEN ?4 ELSE email END "
    "WHERE company_id = ?1 AND id = ?2 AND (name = '' OR email = '') AND (?3 != '' OR ?4 != '')";

inline constexpr const char* kAppointment =
    "SELECT id, company_id, branch_id, customer_id, status, version, source, notes, "
    "COALESCE(call_id,''), COALESCE(external_provider,''), COALESCE(external_id,''), "
    "created_at, updated_at, needs_attention FROM appointments WHERE company_id = ?1 AND id = ?2";
inline constexpr const char* kSegmentsOf =
    "SELECT id, appointment_id, staff_id, service_id, starts_at, ends_at, blocked_from, "
    "blocked_until, active FROM segments WHERE appointment_id = ?1 ORDER BY starts_at, id";
// Appointments of a company with a segment matching the filter (NULL parameters match all).
// The active-segment window uses the bounded scan of segments_staff_active when staff is given.
inline constexpr const char* kAppointmentIds =
    "SELECT DISTINCT a.id FROM appointments a JOIN segments s ON s.appointment_id = a.id "
    "WHERE a.company_id = ?1 "
    "AND (?2 IS NULL OR s.staff_id = ?2) "
    "AND (?3 IS NULL OR (s.starts_at < ?4 AND s.ends_at > ?3)) "
    "AND (?5 IS NULL OR a.status = ?5) "
    "AND (a.status <> 'booked' OR s.active = 1) "
    "ORDER BY a.id LIMIT ?6";
inline constexpr const char* kInsertAppointment =
    "INSERT INTO appointments(company_id, branch_id, customer_id, status, version, source, notes, "
    "call_id, external_provider, external_id, created_at, updated_at) "
    "VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12)";
inline constexpr const char* kUpdateAppointment =
    "UPDATE appointments SET status = ?3, version = ?4, notes = ?5, updated_at = ?6, "
    "needs_attention = ?7 WHERE company_id = ?1 AND id = ?2";
inline constexpr const char* kInsertSegment =
    "INSERT INTO segments(appointment_id, company_id, staff_id, service_id, starts_at, ends_at, "
    "blocked_from, blocked_until, active) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)";
inline constexpr const char* kDeleteSegments = "DELETE FROM segments WHERE appointment_id = ?1";
inline constexpr const char* kDeactivateSegments =
    "UPDATE segments SET active = 0 WHERE appointment_id = ?1 AND active = 1";

// I1 check: active segments (kind 0) and live holds (kind 1) of a staff member overlapping
// [?2, ?3), except appointment ?4's segments; ?6 is now. The covering-index range scans start
// at ?2 minus the longest blocked interval of that staff member (capped by the global max ?5),
// so a check reads only the bookings that can reach into the interval.
inline constexpr const char* kBlocks =
    "SELECT 0, id, appointment_id, blocked_from, blocked_until FROM segments "
    "WHERE staff_id = ?1 AND active = 1 AND blocked_from < ?3 AND blocked_from > ?2 - MIN(?5, "
    "(SELECT max_blocked_seconds FROM staff WHERE id = ?1)) "
    "AND blocked_until > ?2 AND appointment_id != ?4 "
    "UNION ALL "
    "SELECT 1, id, 0, blocked_from, blocked_until FROM holds "
    "WHERE staff_id = ?1 AND blocked_from < ?3 AND blocked_from > ?2 - MIN(?5, (SELECT "
    "max_blocked_seconds FROM staff WHERE id = ?1)) "
    "AND blocked_until > ?2 AND expires_at > ?6";

// The writer's block index (block_index.h): every active segment and hold, expired or not, of
// a staff member whose blocked interval ends after ?2 (the same bounded scan as kBlocks).
inline constexpr const char* kBlocksAfter =
    "SELECT 0, id, appointment_id, blocked_from, blocked_until, 0 FROM segments "
    "WHERE staff_id = ?1 AND active = 1 AND blocked_from > ?2 - MIN(?3, "
    "(SELECT max_blocked_seconds FROM staff WHERE id = ?1)) AND blocked_until > ?2 "
    "UNION ALL "
    "SELECT 1, id, 0, blocked_from, blocked_until, expires_at FROM holds "
    "WHERE staff_id = ?1 AND blocked_from > ?2 - MIN(?3, (SELECT max_blocked_seconds FROM "
    "staff WHERE id = ?1)) AND blocked_until > ?2";
inline constexpr const char* kStaffOfAppointment =
    "SELECT DISTINCT staff_id FROM segments WHERE appointment_id = ?1";
inline constexpr const char* kStaffOfHold =
    "SELECT staff_id FROM holds WHERE company_id = ?1 AND id = ?2";

// --- scheduling ---
inline constexpr const char* kStaffPerforming =
    "SELECT s.id FROM staff s JOIN staff_services ss ON ss.staff_id = s.id "
    "WHERE s.company_id = ?1 AND ss.service_id = ?2 AND s.active = 1 ORDER BY s.id";
inline constexpr const char* kWorkingHours =
    "SELECT w.weekday, w.start_minute, w.end_minute FROM working_hours w "
    "JOIN staff s ON s.id = w.staff_id WHERE s.company_id = ?1 AND w.staff_id = ?2 "
    "ORDER BY w.weekday, w.start_minute";
inline constexpr const char* kDeleteWorkingHours = "DELETE FROM working_hours WHERE staff_id = ?1";
inline constexpr const char* kInsertWorkingHours =
    "INSERT INTO working_hours(staff_id, weekday, start_minute, end_minute) VALUES (?1,?2,?3,?4)";
inline constexpr const char* kTimeOff =
    "SELECT t.id, t.staff_id, t.starts_at, t.ends_at, t.reason FROM time_off t "
    "JOIN staff s ON s.id = t.staff_id WHERE s.company_id = ?1 AND t.staff_id = ?2 "
    "AND t.ends_at > ?3 ORDER BY t.starts_at, t.id LIMIT ?4";
inline constexpr const char* kInsertTimeOff =
    "INSERT INTO time_off(staff_id, starts_at, ends_at, reason) VALUES (?1,?2,?3,?4)";
inline constexpr const char* kDeleteTimeOff =
    "DELETE FROM time_off WHERE id = ?3 AND staff_id = ?2 "
    "AND staff_id IN (SELECT id FROM staff WHERE company_id = ?1)";
// Per staff member: SQLite runs in-process, so a few indexed point queries per id are cheaper
// than one query over an id list (json_each builds an ephemeral table on every call).
inline constexpr const char* kScheduleStaff =
    "SELECT s.id, s.branch_id, s.active, b.timezone FROM staff s "
    "JOIN branches b ON b.id = s.branch_id WHERE s.company_id = ?1 AND s.id = ?2";
inline constexpr const char* kScheduleHours =
    "SELECT staff_id, weekday, start_minute, end_minute FROM working_hours "
    "WHERE staff_id = ?1 ORDER BY weekday, start_minute";
// The same for several staff members at once (the read path's staff_schedules): the ids as a
// JSON array of integers, ?1 of the hours and time off, ?2 of the staff.
inline constexpr const char* kSchedulesStaff =
    "SELECT s.id, s.branch_id, s.active, b.timezone FROM staff s "
    "JOIN branches b ON b.id = s.branch_id WHERE s.company_id = ?1 "
    "AND s.id IN (SELECT value FROM json_each(?2)) ORDER BY s.id";
inline constexpr const char* kSchedulesHours =
    "SELECT staff_id, weekday, start_minute, end_minute FROM working_hours "
    "WHERE staff_id IN (SELECT value FROM json_each(?1)) ORDER BY staff_id, weekday, start_minute";
inline constexpr const char* kSchedulesTimeOff =
    "SELECT id, staff_id, starts_at, ends_at, reason FROM time_off "
    "WHERE staff_id IN (SELECT value FROM json_each(?1)) AND ends_at > ?2 AND starts_at < ?3 "
    "ORDER BY staff_id, starts_at";
inline constexpr const char* kScheduleTimeOff =
    "SELECT id, staff_id, starts_at, ends_at, reason FROM time_off "
    "WHERE staff_id = ?1 AND ends_at > ?2 AND starts_at < ?3 ORDER BY starts_at";
inline constexpr const char* kHold =
    "SELECT id, company_id, staff_id, service_id, starts_at, ends_at, blocked_from, "
    "blocked_until, expires_at, owner FROM holds WHERE company_id = ?1 AND id = ?2";
inline constexpr const char* kInsertHold =
    "INSERT INTO holds(company_id, staff_id, service_id, starts_at, ends_at, blocked_from, "
    "blocked_until, expires_at, owner) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)";
inline constexpr const char* kDeleteHold = "DELETE FROM holds WHERE company_id = ?1 AND id = ?2";
inline constexpr const char* kDeleteExpiredHolds =
    "DELETE FROM holds WHERE staff_id = ?1 AND expires_at <= ?2";

inline constexpr const char* kInsertEvent =
    "INSERT INTO events(company_id, appointment_id, kind, payload, created_at) "
    "VALUES (?1,?2,?3,?4,?5)";
inline constexpr const char* kEvents =
    "SELECT id, company_id, COALESCE(appointment_id, 0), kind, payload, created_at FROM events "
    "WHERE company_id = ?1 AND appointment_id = ?2 ORDER BY id LIMIT 1000";

inline constexpr const char* kInsertSyncJob =
    "INSERT INTO sync_jobs(appointment_id, action, version, state, next_attempt_at, created_at) "
    "VALUES (?1, ?2, ?3, 'pending', ?4, ?4)";

inline constexpr const char* kIdempotency =
    "SELECT fingerprint, status, body FROM idempotency_keys WHERE company_id = ?1 AND key = ?2";
inline constexpr const char* kInsertIdempotency =
    "INSERT INTO idempotency_keys(company_id, key, fingerprint, state, status, body, created_at) "
    "VALUES (?1, ?2, ?3, 'done', ?4, ?5, ?6)";

inline constexpr const char* kApiKeyByHash =
    "SELECT id, COALESCE(company_id, 0), name, role FROM api_keys "
    "WHERE sha256 = ?1 AND revoked_at IS NULL";
inline constexpr const char* kInsertApiKey =
    "INSERT INTO api_keys(company_id, name, sha256, role, created_at) VALUES (?1,?2,?3,?4,?5)";

// --- audit ---
// I1: for each staff member, blocks (active segments and unexpired holds) ordered by start; a
// block that starts before the furthest end of the blocks before it overlaps one of them.
inline constexpr const char* kAuditOverlaps =
    "WITH b AS ("
    "  SELECT staff_id, blocked_from, blocked_until FROM segments WHERE active = 1"
    "  UNION ALL"
    "  SELECT staff_id, blocked_from, blocked_until FROM holds WHERE expires_at > ?1),"
    " o AS (SELECT blocked_from, MAX(blocked_until) OVER (PARTITION BY staff_id"
    "   ORDER BY blocked_from, blocked_until ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)"
    "   AS prev_until FROM b)"
    " SELECT COUNT(*) FROM o WHERE prev_until > blocked_from";
// I7 in the data: every appointment's branch, and every segment's company, staff and service,
// are of the appointment's company (no foreign keys guard them: migration 005 on PostgreSQL).
inline constexpr const char* kAuditReferences =
    "SELECT (SELECT count(*) FROM appointments a WHERE NOT EXISTS (SELECT 1 FROM branches b "
    "WHERE b.id = a.branch_id AND b.company_id = a.company_id)) + (SELECT count(*) FROM segments g "
    "JOIN appointments a ON a.id = g.appointment_id WHERE g.company_id <> a.company_id "
    "OR NOT EXISTS (SELECT 1 FROM staff s WHERE s.id = g.staff_id AND s.company_id = a.company_id) "
    "OR NOT EXISTS (SELECT 1 FROM services v WHERE v.id = g.service_id "
    "AND v.company_id = a.company_id))";
inline constexpr const char* kAuditCustomers =
    "SELECT COUNT(*) FROM (SELECT 1 FROM customers WHERE deleted_at IS NULL "
    "GROUP BY company_id, phone HAVING COUNT(*) > 1)";
inline constexpr const char* kAuditExternal =
    "SELECT COUNT(*) FROM (SELECT 1 FROM appointments WHERE external_id IS NOT NULL "
    "GROUP BY external_provider, external_id HAVING COUNT(*) > 1)";
inline constexpr const char* kAuditIdempotency =
    "SELECT COUNT(*) FROM (SELECT 1 FROM idempotency_keys GROUP BY company_id, key "
    "HAVING COUNT(*) > 1)";
inline constexpr const char* kIntegrityCheck = "PRAGMA integrity_check";

}  // namespace appointd::store::sqlite::sql
