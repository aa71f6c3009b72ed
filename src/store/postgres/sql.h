#pragma once
// Every SQL statement of the PostgreSQL backend, named (the name is the server-side prepared
// statement). Input is always a parameter, never concatenated. Instants go in as Unix seconds
// (to_timestamp) and come out as timestamptz in binary (Result::i64 gives Unix seconds).
#include "store/postgres/pg.h"

namespace appointd::store::postgres::sql {

// An instant as read back: the timestamptz itself, sent in binary (8 bytes) and turned into
// Unix seconds by Result::i64; neither side formats or parses a date, and the server does not
// convert it (date_part and ::bigint were a tenth of a probe's cost, measured).
#define APPOINTD_EPOCH(col) col
// The same as a bigint, where a column must be one (beside integers in a UNION).
#define APPOINTD_EPOCH_BIGINT(col) "date_part('epoch', " col ")::bigint"

// A write transaction's id, read in a round trip of its own before its COMMIT is sent (assigned
// here if the transaction has none yet), so that a COMMIT whose answer is lost can be looked up.
inline constexpr Statement kCurrentXid{"current_xid", "SELECT pg_current_xact_id()::text::bigint"};
// What became of that transaction: 'committed', 'aborted', 'in progress', or NULL when it is too
// old to say (never for a transaction of the last minutes).
inline constexpr Statement kXactStatus{"xact_status",
                                       "SELECT pg_xact_status($1::bigint::text::xid8)"};

inline constexpr Statement kCompany{
    "company", "SELECT id, name, timezone, country, " APPOINTD_EPOCH(
                   "created_at") ", slot_step_minutes, min_notice_minutes, horizon_days "
                                 "FROM companies WHERE id = $1"};
inline constexpr Statement kInsertCompany{
    "insert_company",
    "INSERT INTO companies(name, timezone, country, created_at, slot_step_minutes, "
    "min_notice_minutes, horizon_days) VALUES ($1, $2, $3, to_timestamp($4::bigint), $5, $6, $7) "
    "RETURNING id"};
inline constexpr Statement kUpdateCompanySettings{
    "update_company_settings",
    "UPDATE companies SET slot_step_minutes = $2, min_notice_minutes = $3, horizon_days = $4 "
    "WHERE id = $1"};

inline constexpr Statement kBranch{
    "branch", "SELECT id, company_id, name, timezone, phone, " APPOINTD_EPOCH(
                  "created_at") " FROM branches WHERE company_id = $1 AND id = $2"};
inline constexpr Statement kBranches{
    "branches", "SELECT id, company_id, name, timezone, phone, " APPOINTD_EPOCH(
                    "created_at") " FROM branches WHERE company_id = $1 ORDER BY id"};
inline constexpr Statement kInsertBranch{
    "insert_branch",
    "INSERT INTO branches(company_id, name, timezone, phone, created_at) "
    "VALUES ($1, $2, $3, $4, to_timestamp($5::bigint)) RETURNING id"};

#define APPOINTD_SERVICE_COLS                                              \
  "SELECT id, company_id, name, duration_minutes, buffer_before_minutes, " \
  "buffer_after_minutes, " APPOINTD_EPOCH("created_at") " FROM services "
inline constexpr Statement kService{"service",
                                    APPOINTD_SERVICE_COLS "WHERE company_id = $1 AND id = $2"};
inline constexpr Statement kServices{"services",
                                     APPOINTD_SERVICE_COLS "WHERE company_id = $1 ORDER BY id"};
#undef APPOINTD_SERVICE_COLS
inline constexpr Statement kInsertService{
    "insert_service",
    "INSERT INTO services(company_id, name, duration_minutes, buffer_before_minutes, "
    "buffer_after_minutes, created_at) VALUES ($1, $2, $3, $4, $5, to_timestamp($6::bigint)) "
    "RETURNING id"};

// Staff with their service ids (sorted) in one round trip.
#define APPOINTD_STAFF_COLS \
  "SELECT s.id, s.company_id, s.branch_id, s.name, s.email, s.active, " APPOINTD_EPOCH(    \
      "s.created_at") ", COALESCE((SELECT array_to_string(array_agg(ss.service_id ORDER BY " \
                      "ss.service_id), ',') FROM staff_services ss WHERE ss.staff_id = s.id), " \
                      "'') FROM staff s "
inline constexpr Statement kStaff{"staff",
                                  APPOINTD_STAFF_COLS "WHERE s.company_id = $1 AND s.id = $2"};
inline constexpr Statement kStaffList{"staff_list",
                                      APPOINTD_STAFF_COLS "WHERE s.company_id = $1 ORDER BY s.id"};
#undef APPOINTD_STAFF_COLS
inline constexpr Statement kStaffForService{
    "staff_for_service",
    "SELECT s.id FROM staff s JOIN staff_services ss ON ss.staff_id = s.id "
    "WHERE s.company_id = $1 AND s.branch_id = $2 AND ss.service_id = $3 AND s.active "
    "ORDER BY s.id LIMIT $4"};
inline constexpr Statement kInsertStaff{
    "insert_staff",
    "INSERT INTO staff(company_id, branch_id, name, email, active, created_at) "
    "VALUES ($1, $2, $3, $4, $5, to_timestamp($6::bigint)) RETURNING id"};
inline constexpr Statement kInsertStaffServices{
    "insert_staff_services",
    "INSERT INTO staff_services(staff_id, service_id) SELECT $1, unnest($2::bigint[]) "
    "ON CONFLICT DO NOTHING"};
// The global lock order: ascending staff id. Every writer of a staff member's time (segments,
// holds) takes this lock first, which serialises them per staff member (I1 across tables).
// A transaction-scoped advisory lock keyed by the staff id, not a row lock: the same queue and
// deadlock detection, but nothing written (a row lock writes the row's xmax, a WAL record, and
// gives the transaction an id whose end must be logged), so a booking that ends in a conflict
// stays read-only. appointd's other advisory key (kMigrationLock) lies far above any staff id.
inline constexpr Statement kLockStaff{
    "lock_staff",
    "SELECT pg_advisory_xact_lock(id) FROM "
    "(SELECT DISTINCT unnest($1::bigint[]) AS id ORDER BY 1 OFFSET 0) ascending"};
// The same for one staff member (most commands): no sort to set up.
inline constexpr Statement kLockOneStaff{"lock_one_staff",
                                         "SELECT pg_advisory_xact_lock($1::bigint)"};

#define APPOINTD_CUSTOMER_COLS                                          \
  "SELECT id, company_id, phone, name, email, source, " APPOINTD_EPOCH( \
      "created_at") " FROM customers "
inline constexpr Statement kCustomer{
    "customer", APPOINTD_CUSTOMER_COLS "WHERE company_id = $1 AND id = $2 AND deleted_at IS NULL"};
inline constexpr Statement kCustomerByPhone{
    "customer_by_phone",
    APPOINTD_CUSTOMER_COLS "WHERE company_id = $1 AND phone = $2 AND deleted_at IS NULL"};
#undef APPOINTD_CUSTOMER_COLS
// Atomic insert-if-absent against the partial unique index (I2), and the live row, in one
// statement: column 7 says whether it was inserted. A concurrent insert of the same phone makes
// the INSERT wait for that transaction and then do nothing. The second SELECT reads the
// statement's snapshot: a concurrent insert that committed after it
// (the INSERT waited for it, then did nothing) yields no row, and the caller reads again.
inline constexpr Statement kUpsertCustomer{
    "upsert_customer",
    "WITH ins AS (INSERT INTO customers(company_id, phone, name, email, source, created_at) "
    "VALUES ($1, $2, $3, $4, $5, to_timestamp($6::bigint)) "
    "ON CONFLICT (company_id, phone) WHERE deleted_at IS NULL DO NOTHING "
    "RETURNING id, company_id, phone, name, email, source, created_at) "
    "SELECT id, company_id, phone, name, email, source, " APPOINTD_EPOCH(
        "created_at") ", true FROM ins "
                      "UNION ALL "
                      "SELECT id, company_id, phone, name, email, source, " APPOINTD_EPOCH(
                          "created_at") ", false FROM customers "
                                        "WHERE company_id = $1 AND phone = $2 AND deleted_at IS "
                                        "NULL AND NOT EXISTS (SELECT 1 FROM ins)"};
inline constexpr Statement kFillCustomer{
    "fill_customer",
    "UPDATE customers SET name = CASE WHEN name = '' THEN $3 ELSE name END, "
    "email = CASE WHEN email = '' THEN $4 ELSE email END "
    "WHERE company_id = $1 AND id = $2 AND (name = '' OR email = '') AND ($3 <> '' OR $4 <> '')"};

inline constexpr Statement kAppointment{
    "appointment",
    "SELECT id, company_id, branch_id, customer_id, status, version, source, notes, "
    "COALESCE(call_id, ''), COALESCE(external_provider, ''), COALESCE(external_id, ''), " APPOINTD_EPOCH(
        "created_at") ", " APPOINTD_EPOCH("updated_at") ", needs_attention FROM appointments "
                                                        "WHERE company_id = $1 AND id = $2"};
// In a write: the row locked, so concurrent changes of one appointment (on any instance) take
// turns and each reads the version and segments the previous one committed.
inline constexpr Statement kAppointmentForUpdate{
    "appointment_for_update",
    "SELECT id, company_id, branch_id, customer_id, status, version, source, notes, "
    "COALESCE(call_id, ''), COALESCE(external_provider, ''), COALESCE(external_id, ''), " APPOINTD_EPOCH(
        "created_at") ", " APPOINTD_EPOCH("updated_at") ", needs_attention FROM appointments "
                                                        "WHERE company_id = $1 AND id = $2 FOR UPDATE"};
inline constexpr Statement kSegmentsOf{
    "segments_of",
    "SELECT id, appointment_id, staff_id, service_id, " APPOINTD_EPOCH(
        "starts_at") ", " APPOINTD_EPOCH("ends_at") ", " APPOINTD_EPOCH("blocked_from") ", " APPOINTD_EPOCH("blocked_until") ", "
                                                                                                                           "active FROM segments WHERE appointment_id = $1 ORDER BY starts_at, id"};
// Appointments of a company with a segment matching the filter (NULL parameters match all).
// Two statements rather than one with an optional staff filter: sessions force generic plans
// (pg_store.cpp), and a generic plan of `$2 IS NULL OR s.staff_id = $2` cannot use the staff
// index. One staff member's (the segments' staff index), and the whole company's. A booked
// appointment matches by its active segments; a cancelled or conflict one, whose segments block
// nothing (inactive), by the segments it has.
inline constexpr Statement kAppointmentIdsOfStaff{
    "appointment_ids_of_staff",
    "SELECT DISTINCT a.id FROM appointments a JOIN segments s ON s.appointment_id = a.id "
    "WHERE a.company_id = $1 AND s.staff_id = $2 "
    "AND ($3::bigint IS NULL OR (s.starts_at < to_timestamp($4::bigint) "
    "AND s.ends_at > to_timestamp($3::bigint))) "
    "AND ($5::text IS NULL OR a.status = $5) "
    "AND (a.status <> 'booked' OR s.active) "
    "ORDER BY a.id LIMIT $6"};
inline constexpr Statement kAppointmentIdsOfCompany{
    "appointment_ids_of_company",
    "SELECT DISTINCT a.id FROM appointments a JOIN segments s ON s.appointment_id = a.id "
    "WHERE a.company_id = $1 AND $2::bigint IS NULL "
    "AND ($3::bigint IS NULL OR (s.starts_at < to_timestamp($4::bigint) "
    "AND s.ends_at > to_timestamp($3::bigint))) "
    "AND ($5::text IS NULL OR a.status = $5) "
    "AND (a.status <> 'booked' OR s.active) "
    "ORDER BY a.id LIMIT $6"};
inline constexpr Statement kInsertAppointment{
    "insert_appointment",
    "INSERT INTO appointments(company_id, branch_id, customer_id, status, version, source, notes, "
    "call_id, external_provider, external_id, created_at, updated_at) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, to_timestamp($11::bigint), "
    "to_timestamp($12::bigint)) "
    "RETURNING id"};
// The same with an id reserved by kReserveIds ($13).
inline constexpr Statement kInsertAppointmentWithId{
    "insert_appointment_id",
    "INSERT INTO appointments(company_id, branch_id, customer_id, status, version, source, notes, "
    "call_id, external_provider, external_id, created_at, updated_at, id) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, to_timestamp($11::bigint), "
    "to_timestamp($12::bigint), $13)"};
// kInsertAppointmentWithId ($1-$13) and its first kInsertSegmentWithId ($14-$22) as one
// statement (PgTx fuses them when queued one after the other): one executor start less.
inline constexpr Statement kInsertAppointmentAndSegment{
    "insert_appointment_segment",
    "WITH a AS (INSERT INTO appointments(company_id, branch_id, customer_id, status, version, "
    "source, notes, call_id, external_provider, external_id, created_at, updated_at, id) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, to_timestamp($11::bigint), "
    "to_timestamp($12::bigint), $13)) "
    "INSERT INTO segments(appointment_id, company_id, staff_id, service_id, starts_at, ends_at, "
    "blocked_from, blocked_until, active, id) VALUES ($14, $15, $16, $17, "
    "to_timestamp($18::bigint), to_timestamp($19::bigint), to_timestamp($20::bigint), "
    "to_timestamp($21::bigint), true, $22)"};
inline constexpr Statement kUpdateAppointment{
    "update_appointment",
    "UPDATE appointments SET status = $3, version = $4, notes = $5, "
    "updated_at = to_timestamp($6::bigint), needs_attention = $7 "
    "WHERE company_id = $1 AND id = $2"};
inline constexpr Statement kInsertSegment{
    "insert_segment",
    "INSERT INTO segments(appointment_id, company_id, staff_id, service_id, starts_at, ends_at, "
    "blocked_from, blocked_until, active) VALUES ($1, $2, $3, $4, to_timestamp($5::bigint), "
    "to_timestamp($6::bigint), to_timestamp($7::bigint), to_timestamp($8::bigint), true) RETURNING "
    "id"};
// A segment that blocks nothing from the start (PgTx::insert_segment): of an appointment that is
// not booked, such as an imported conflict. Inserted active, it would trip segments_no_overlap
// (checked at once, not deferred) before the caller could deactivate it.
inline constexpr Statement kInsertInactiveSegment{
    "insert_segment_inactive",
    "INSERT INTO segments(appointment_id, company_id, staff_id, service_id, starts_at, ends_at, "
    "blocked_from, blocked_until, active) VALUES ($1, $2, $3, $4, to_timestamp($5::bigint), "
    "to_timestamp($6::bigint), to_timestamp($7::bigint), to_timestamp($8::bigint), false) "
    "RETURNING id"};
inline constexpr Statement kInsertSegmentWithId{
    "insert_segment_id",
    "INSERT INTO segments(appointment_id, company_id, staff_id, service_id, starts_at, ends_at, "
    "blocked_from, blocked_until, active, id) VALUES ($1, $2, $3, $4, to_timestamp($5::bigint), "
    "to_timestamp($6::bigint), to_timestamp($7::bigint), to_timestamp($8::bigint), true, $9)"};
// Ids for INSERTs to come, so that they need no RETURNING (and no round trip): $2 rows of
// (appointment id when $1 else NULL, segment id), ascending. The caller takes the appointment
// id of the first row only; unused ids are gaps, as after a rollback.
inline constexpr Statement kReserveIds{
    "reserve_ids",
    "SELECT CASE WHEN $1::boolean THEN nextval('appointments_id_seq') END, "
    "nextval('segments_id_seq') FROM generate_series(1, $2::int)"};
// Whether staff `st` has a block overlapping [`f`, `u`) (Unix seconds) that counts: an active
// segment not of appointment `ex`, or a hold live at `now`; `mx` bounds the blocked intervals
// (kBlocks' check as one boolean). The arguments are parameter names such as "$3".
#define APPOINTD_BUSY(st, f, u, ex, mx, now)                                           \
  "(EXISTS (SELECT 1 FROM segments WHERE staff_id = " st                               \
  " AND active "                                                                       \
  "AND blocked_from < to_timestamp(" u                                                 \
  "::bigint) "                                                                         \
  "AND blocked_from > to_timestamp(" f "::bigint - " mx                                \
  "::bigint) "                                                                         \
  "AND blocked_until > to_timestamp(" f "::bigint) AND appointment_id <> " ex          \
  ") "                                                                                 \
  "OR EXISTS (SELECT 1 FROM holds WHERE staff_id = " st                                \
  " "                                                                                  \
  "AND blocked_from < to_timestamp(" u                                                 \
  "::bigint) "                                                                         \
  "AND blocked_from > to_timestamp(" f "::bigint - " mx                                \
  "::bigint) "                                                                         \
  "AND blocked_until > to_timestamp(" f "::bigint) AND expires_at > to_timestamp(" now \
  "::bigint)))"
// The fast path's part of a probe (pg_tx.cpp): when staff $3 has no block overlapping
// [$4, $5) (kBlocks' check, with $6 to $8 as its $4 to $6), one row: ids reserved for an
// appointment and its segment, then the live customer of company $1 with phone $2 (NULLs when
// there is none); no row, and no id spent, when the time is taken.
inline constexpr Statement kReserveIdsAndCustomerIfFree{
    "reserve_ids_customer_if_free",
    "SELECT i.a, i.s, c.id, c.company_id, c.phone, c.name, c.email, c.source, " APPOINTD_EPOCH(
        "c.created_at") " FROM (SELECT nextval('appointments_id_seq') AS a, "
                        "nextval('segments_id_seq') AS s "
                        "WHERE NOT " APPOINTD_BUSY("$3", "$4", "$5", "$6", "$7", "$8") ") i "
                        "LEFT JOIN customers c ON c.company_id = $1 AND c.phone = $2 "
                        "AND c.deleted_at IS NULL"};
inline constexpr Statement kDeleteSegments{"delete_segments",
                                           "DELETE FROM segments WHERE appointment_id = $1"};
inline constexpr Statement kDeactivateSegments{
    "deactivate_segments",
    "UPDATE segments SET active = false WHERE appointment_id = $1 AND active"};

// I1 check: active segments (kind 0) and live holds (kind 1) of a staff member overlapping
// [$2, $3), except appointment $4's segments; $6 is now. blocked_from > $2 - $5 (the longest
// blocked interval) bounds both index range scans.
#define APPOINTD_BLOCKS_SELECT \
  "SELECT 0, id, appointment_id, " APPOINTD_EPOCH("blocked_from") ", " APPOINTD_EPOCH(          \
      "blocked_until") " FROM segments WHERE staff_id = $1 AND active "                         \
                       "AND blocked_from < to_timestamp($3::bigint) "                                   \
                       "AND blocked_from > to_timestamp($2::bigint - $5::bigint) "                              \
                       "AND blocked_until > to_timestamp($2::bigint) AND appointment_id <> $4 "         \
                       "UNION ALL "                                                             \
                       "SELECT 1, id, 0, " APPOINTD_EPOCH("blocked_from") ", " APPOINTD_EPOCH( \
                           "blocked_until") " FROM holds WHERE staff_id = $1 "                  \
                                            "AND blocked_from < to_timestamp($3::bigint) "              \
                                            "AND blocked_from > to_timestamp($2::bigint - $5::bigint) "         \
                                            "AND blocked_until > to_timestamp($2::bigint) "             \
                                            "AND expires_at > to_timestamp($6::bigint)"
inline constexpr Statement kBlocks{"blocks", APPOINTD_BLOCKS_SELECT};
// The same, for a staff member locked by this transaction: first deletes the staff member's
// expired holds (so they cannot trip the holds exclusion constraint later), in the same round
// trip. The SELECT reads the snapshot before the delete, which it filters out anyway.
inline constexpr Statement kBlocksLocked{
    "blocks_locked",
    "WITH expired AS (DELETE FROM holds WHERE staff_id = $1 AND expires_at <= "
    "to_timestamp($6::bigint)) " APPOINTD_BLOCKS_SELECT};
#undef APPOINTD_BLOCKS_SELECT
// The locked check of a booking the probe found free, raising kTakenSince instead of returning
// rows (migration 004); same parameters as kBlocksLocked.
inline constexpr Statement kExpectFree{
    "expect_free",
    "SELECT appointd_expect_free($1::bigint, $2::bigint, $3::bigint, $4::bigint, $5::bigint, "
    "$6::bigint)"};
inline constexpr const char* kTakenSince = "AP409";

// --- scheduling ---
// Lists of ids are one bigint[] parameter: one prepared statement for any number of staff.
inline constexpr Statement kStaffPerforming{
    "staff_performing",
    "SELECT s.id FROM staff s JOIN staff_services ss ON ss.staff_id = s.id "
    "WHERE s.company_id = $1 AND ss.service_id = $2 AND s.active ORDER BY s.id"};
inline constexpr Statement kWorkingHours{
    "working_hours",
    "SELECT w.weekday, w.start_minute, w.end_minute FROM working_hours w "
    "JOIN staff s ON s.id = w.staff_id WHERE s.company_id = $1 AND w.staff_id = $2 "
    "ORDER BY w.weekday, w.start_minute"};
inline constexpr Statement kDeleteWorkingHours{"delete_working_hours",
                                               "DELETE FROM working_hours WHERE staff_id = $1"};
inline constexpr Statement kInsertWorkingHours{
    "insert_working_hours",
    "INSERT INTO working_hours(staff_id, weekday, start_minute, end_minute) "
    "SELECT $1, unnest($2::int[]), unnest($3::int[]), unnest($4::int[])"};
#define APPOINTD_TIME_OFF_COLS \
  "t.id, t.staff_id, " APPOINTD_EPOCH("t.starts_at") ", " APPOINTD_EPOCH("t.ends_at") ", t.reason"
inline constexpr Statement kTimeOff{
    "time_off",
    "SELECT " APPOINTD_TIME_OFF_COLS
    " FROM time_off t JOIN staff s ON s.id = t.staff_id "
    "WHERE s.company_id = $1 AND t.staff_id = $2 AND t.ends_at > to_timestamp($3::bigint) "
    "ORDER BY t.starts_at, t.id LIMIT $4"};
inline constexpr Statement kInsertTimeOff{
    "insert_time_off",
    "INSERT INTO time_off(staff_id, starts_at, ends_at, reason) "
    "VALUES ($1, to_timestamp($2::bigint), to_timestamp($3::bigint), $4) RETURNING id"};
inline constexpr Statement kDeleteTimeOff{
    "delete_time_off",
    "DELETE FROM time_off WHERE id = $3 AND staff_id = $2 "
    "AND staff_id IN (SELECT id FROM staff WHERE company_id = $1)"};
// What the slot computation needs of the staff members $2 in one statement (one round trip,
// one executor start), each part kept to the company's staff ($1) by itself (I7). Rows (kind,
// staff_id, n1, n2, n3, text), unordered:
//   0: staff     branch_id, active (0/1), 0, branch timezone
//   1: hours     weekday, start_minute, end_minute, NULL
//   2: time off  id, starts_at, ends_at (Unix seconds), reason; overlapping [$3, $4)
inline constexpr Statement kSchedules{
    "schedules",
    "SELECT 0, s.id, s.branch_id, s.active::int, 0, b.timezone FROM staff s "
    "JOIN branches b ON b.id = s.branch_id "
    "WHERE s.company_id = $1 AND s.id = ANY($2::bigint[]) "
    "UNION ALL "
    "SELECT 1, w.staff_id, w.weekday, w.start_minute, w.end_minute, NULL FROM working_hours w "
    "JOIN staff s ON s.id = w.staff_id WHERE s.company_id = $1 AND w.staff_id = ANY($2::bigint[]) "
    "UNION ALL "
    "SELECT 2, t.staff_id, t.id, " APPOINTD_EPOCH_BIGINT("t.starts_at") ", " APPOINTD_EPOCH_BIGINT(
        "t.ends_at") ", t.reason FROM time_off t JOIN staff s ON s.id = t.staff_id "
                     "WHERE s.company_id = $1 AND t.staff_id = ANY($2::bigint[]) "
                     "AND t.ends_at > to_timestamp($3::bigint) "
                     "AND t.starts_at < to_timestamp($4::bigint)"};
// The catalog copy of a company (catalog.h), loaded in one round trip: the version first (the
// copy's tag), then the rows; hours and time off of all the company's staff.
inline constexpr Statement kCatalogCompany{
    "catalog_company",
    "SELECT catalog_version, id, name, timezone, country, " APPOINTD_EPOCH(
        "created_at") ", slot_step_minutes, min_notice_minutes, horizon_days "
                      "FROM companies WHERE id = $1"};
inline constexpr Statement kCatalogHours{
    "catalog_hours",
    "SELECT w.staff_id, w.weekday, w.start_minute, w.end_minute FROM working_hours w "
    "JOIN staff s ON s.id = w.staff_id WHERE s.company_id = $1 "
    "ORDER BY w.staff_id, w.weekday, w.start_minute"};
inline constexpr Statement kCatalogTimeOff{
    "catalog_time_off",
    "SELECT " APPOINTD_TIME_OFF_COLS
    " FROM time_off t JOIN staff s ON s.id = t.staff_id WHERE s.company_id = $1 "
    "ORDER BY t.staff_id, t.starts_at, t.id"};
// The check of a copy inside a write transaction (catalog.h).
inline constexpr Statement kCatalogVersion{"catalog_version",
                                           "SELECT catalog_version FROM companies WHERE id = $1"};
#undef APPOINTD_TIME_OFF_COLS
// kBlocks for several staff members ($1), ordered by staff, then start.
inline constexpr Statement kBlocksOf{
    "blocks_of",
    "SELECT staff_id, 0, id, appointment_id, " APPOINTD_EPOCH(
        "blocked_from") " AS f, " APPOINTD_EPOCH("blocked_until") " FROM segments "
                                                                  "WHERE staff_id = ANY($1::bigint[]) AND active "
                                                                  "AND blocked_from < to_timestamp($3::bigint) AND blocked_from > to_timestamp($2::bigint - $5::bigint) "
                                                                  "AND blocked_until > to_timestamp($2::bigint) AND appointment_id <> $4 "
                                                                  "UNION ALL "
                                                                  "SELECT staff_id, 1, id, 0, " APPOINTD_EPOCH(
                                                                      "blocked_from") ", " APPOINTD_EPOCH("blocked_until") " FROM holds "
                                                                                                                           "WHERE staff_id = ANY($1::bigint[]) "
                                                                                                                           "AND blocked_from < to_timestamp($3::bigint) AND blocked_from > to_timestamp($2::bigint - $5::bigint) "
                                                                                                                           "AND blocked_until > to_timestamp($2::bigint) AND expires_at > to_timestamp($6::bigint) "
                                                                                                                           "ORDER BY 1, 5"};
// kBlocksOf, read only when staff $7 has a block overlapping [$8, $9) (kBlocks with the same
// $4 to $6): the reads a conflict's alternatives need, sent with the probe of the time
// (pg_tx.cpp), that cost one cheap existence check when the time is free.
#define APPOINTD_BLOCKS_OF_IF(busy) \
  "SELECT staff_id, 0, id, appointment_id, " APPOINTD_EPOCH("blocked_from") ", " \
  APPOINTD_EPOCH("blocked_until") " FROM segments WHERE " busy " AND staff_id = ANY($1::bigint[]) " \
  "AND active AND blocked_from < to_timestamp($3::bigint) " \
  "AND blocked_from > to_timestamp($2::bigint - $5::bigint) " \
  "AND blocked_until > to_timestamp($2::bigint) AND appointment_id <> $4 " \
  "UNION ALL SELECT staff_id, 1, id, 0, " APPOINTD_EPOCH("blocked_from") ", " \
  APPOINTD_EPOCH("blocked_until") " FROM holds WHERE " busy " AND staff_id = ANY($1::bigint[]) " \
  "AND blocked_from < to_timestamp($3::bigint) " \
  "AND blocked_from > to_timestamp($2::bigint - $5::bigint) " \
  "AND blocked_until > to_timestamp($2::bigint) AND expires_at > to_timestamp($6::bigint)"
inline constexpr Statement kBlocksOfIfBusy{
    "blocks_of_if_busy", "WITH busy AS (SELECT " APPOINTD_BUSY(
                             "$7", "$8", "$9", "$4", "$5",
                             "$6") " AS b) " APPOINTD_BLOCKS_OF_IF("(SELECT b FROM busy)")};
#undef APPOINTD_BLOCKS_OF_IF
// --- Statements merged from several (batch.h): each of their rows leads with the index of the
// statement it answers, and the rest of the row is that statement's. ---
// The blocks of each row of q (k, wf, wu, ex, mx, nw, staff): the statement index k, then the
// columns of kBlocksOf. Each staff member's reads are index scans of their own (OFFSET 0 keeps
// them from being planned as joins over whole tables).
#define APPOINTD_BLOCKS_OF_Q                                                                    \
  "SELECT q.k, g.staff_id, 0, g.id, g.appointment_id, g.blocked_from, g.blocked_until "         \
  "FROM q JOIN LATERAL (SELECT * FROM segments g WHERE g.staff_id = q.staff AND g.active "      \
  "AND g.blocked_from < to_timestamp(q.wu) AND g.blocked_from > to_timestamp(q.wf - q.mx) "     \
  "AND g.blocked_until > to_timestamp(q.wf) AND g.appointment_id <> q.ex OFFSET 0) g ON true "  \
  "UNION ALL "                                                                                  \
  "SELECT q.k, h.staff_id, 1, h.id, 0, h.blocked_from, h.blocked_until "                        \
  "FROM q JOIN LATERAL (SELECT * FROM holds h WHERE h.staff_id = q.staff "                      \
  "AND h.blocked_from < to_timestamp(q.wu) AND h.blocked_from > to_timestamp(q.wf - q.mx) "     \
  "AND h.blocked_until > to_timestamp(q.wf) AND h.expires_at > to_timestamp(q.nw) OFFSET 0) h " \
  "ON true"
// Many kBlocksOfIfBusy at once: per statement k (the arrays $1-$10, aligned): its window,
// exclude, longest blocked interval, now and busy check (kBlocksOfIfBusy's $2-$9), and its staff
// as a bigint[] literal ($10, kBlocksOfIfBusy's $1). The busy check runs once per statement,
// before its staff are unnested; nothing joins by hash (each hash table costs more to set up than
// these few rows).
inline constexpr Statement kBlocksOfIfBusyMany{
    "blocks_of_if_busy_many",
    "WITH q AS MATERIALIZED (SELECT t.k, t.wf, t.wu, t.ex, t.mx, t.nw, s.staff FROM (SELECT * "
    "FROM unnest($1::int[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], "
    "$6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[], $10::text[]) "
    "AS t(k, wf, wu, ex, mx, nw, bs, bf, bu, st) WHERE " APPOINTD_BUSY(
        "t.bs", "t.bf", "t.bu", "t.ex", "t.mx",
        "t.nw") " OFFSET 0) t CROSS JOIN LATERAL unnest(t.st::bigint[]) AS s(staff)) " APPOINTD_BLOCKS_OF_Q};
// Many kBlocksOf at once: per statement k (the arrays $1-$7, aligned) its window, exclude,
// longest blocked interval and now (kBlocksOf's $2-$6) and its staff as a bigint[] literal ($7,
// kBlocksOf's $1).
inline constexpr Statement kBlocksOfMany{
    "blocks_of_many",
    "WITH q AS MATERIALIZED (SELECT t.k, t.wf, t.wu, t.ex, t.mx, t.nw, s.staff "
    "FROM unnest($1::int[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], "
    "$6::bigint[], $7::text[]) AS t(k, wf, wu, ex, mx, nw, st) "
    "CROSS JOIN LATERAL unnest(t.st::bigint[]) AS s(staff)) " APPOINTD_BLOCKS_OF_Q};
#undef APPOINTD_BLOCKS_OF_Q
// Many kReserveIdsAndCustomerIfFree at once: per statement k (the arrays, aligned) its $1-$8.
inline constexpr Statement kReserveIdsAndCustomerIfFreeMany{
    "reserve_ids_customer_if_free_many",
    "SELECT t.k, i.a, i.s, c.id, c.company_id, c.phone, c.name, c.email, c.source, " APPOINTD_EPOCH(
        "c.created_at") " FROM unnest($1::int[], $2::bigint[], $3::text[], $4::bigint[], "
                        "$5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[]) "
                        "AS t(k, co, ph, st, f, u, ex, mx, nw) "
                        "CROSS JOIN LATERAL (SELECT nextval('appointments_id_seq') AS a, "
                        "nextval('segments_id_seq') AS s "
                        "WHERE NOT " APPOINTD_BUSY("t.st", "t.f", "t.u", "t.ex", "t.mx",
                                                   "t.nw") ") i "
                                                           "LEFT JOIN LATERAL (SELECT * FROM customers c WHERE c.company_id = t.co "
                                                           "AND c.phone = t.ph AND c.deleted_at IS NULL OFFSET 0) c ON true"};
// --- Statements merged from several in one merged commit (commit_merge.h). ---
// Many kExpectFree at once, per booking k (the arrays $1-$7, aligned: kExpectFree's $1-$6): the
// expired holds of their staff go ($8: every staff id, $9: the earliest now, so nothing live to
// any of them is deleted), then AP409 for the first whose time is taken (DETAIL: its k).
inline constexpr Statement kExpectFreeMany{
    "expect_free_many",
    "WITH d AS (DELETE FROM holds WHERE staff_id = ANY($8::bigint[]) "
    "AND expires_at <= to_timestamp($9::bigint)) "
    "SELECT appointd_raise_taken(t.k) FROM unnest($1::int[], $2::bigint[], $3::bigint[], "
    "$4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[]) AS t(k, st, f, u, ex, mx, nw) "
    "WHERE " APPOINTD_BUSY("t.st", "t.f", "t.u", "t.ex", "t.mx", "t.nw")};
// Many kInsertAppointmentAndSegment at once: each of its 22 parameters as an array, aligned.
inline constexpr Statement kInsertAppointmentAndSegmentMany{
    "insert_appointment_segment_many",
    "WITH a AS (INSERT INTO appointments(company_id, branch_id, customer_id, status, version, "
    "source, notes, call_id, external_provider, external_id, created_at, updated_at, id) "
    "SELECT co, br, cu, st, ve, so, nt, ca, ep, ei, to_timestamp(cr), to_timestamp(up), id "
    "FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::bigint[], $6::text[], "
    "$7::text[], $8::text[], $9::text[], $10::text[], $11::bigint[], $12::bigint[], $13::bigint[]) "
    "AS t(co, br, cu, st, ve, so, nt, ca, ep, ei, cr, up, id)) "
    "INSERT INTO segments(appointment_id, company_id, staff_id, service_id, starts_at, ends_at, "
    "blocked_from, blocked_until, active, id) "
    "SELECT ap, co, sf, sv, to_timestamp(sa), to_timestamp(ea), to_timestamp(bf), "
    "to_timestamp(bu), true, id FROM unnest($14::bigint[], $15::bigint[], $16::bigint[], "
    "$17::bigint[], $18::bigint[], $19::bigint[], $20::bigint[], $21::bigint[], $22::bigint[]) "
    "AS s(ap, co, sf, sv, sa, ea, bf, bu, id)"};
// Many kInsertEventAndSyncJob at once: each of its 9 parameters as an array, aligned.
inline constexpr Statement kInsertEventAndSyncJobMany{
    "insert_event_sync_job_many",
    "WITH e AS (INSERT INTO events(company_id, appointment_id, kind, payload, created_at) "
    "SELECT co, ap, ki, pa, to_timestamp(cr) FROM unnest($1::bigint[], $2::bigint[], $3::text[], "
    "$4::text[], $5::bigint[]) AS t(co, ap, ki, pa, cr)) "
    "INSERT INTO sync_jobs(appointment_id, action, version, state, next_attempt_at, created_at) "
    "SELECT ap, ac, ve, 'pending', to_timestamp(na), to_timestamp(na) "
    "FROM unnest($6::bigint[], $7::text[], "
    "$8::bigint[], $9::bigint[]) AS s(ap, ac, ve, na)"};
#undef APPOINTD_BUSY
inline constexpr Statement kHold{
    "hold", "SELECT id, company_id, staff_id, service_id, " APPOINTD_EPOCH(
                "starts_at") ", " APPOINTD_EPOCH("ends_at") ", " APPOINTD_EPOCH("blocked_from") ", " APPOINTD_EPOCH("blocked_until") ", " APPOINTD_EPOCH("expires_at") ", owner FROM holds WHERE company_id = $1 AND id = $2"};
inline constexpr Statement kInsertHold{
    "insert_hold",
    "INSERT INTO holds(company_id, staff_id, service_id, starts_at, ends_at, blocked_from, "
    "blocked_until, expires_at, owner) VALUES ($1, $2, $3, to_timestamp($4::bigint), "
    "to_timestamp($5::bigint), "
    "to_timestamp($6::bigint), to_timestamp($7::bigint), to_timestamp($8::bigint), $9) RETURNING "
    "id"};
inline constexpr Statement kDeleteHold{"delete_hold",
                                       "DELETE FROM holds WHERE company_id = $1 AND id = $2"};
inline constexpr Statement kDeleteExpiredHolds{
    "delete_expired_holds",
    "DELETE FROM holds WHERE staff_id = $1 AND expires_at <= to_timestamp($2::bigint)"};

inline constexpr Statement kInsertEvent{
    "insert_event",
    "INSERT INTO events(company_id, appointment_id, kind, payload, created_at) "
    "VALUES ($1, $2, $3, $4, to_timestamp($5::bigint))"};
// kInsertEvent ($1-$5) and kInsertSyncJob ($6-$9) as one statement (fused like the above).
inline constexpr Statement kInsertEventAndSyncJob{
    "insert_event_sync_job",
    "WITH e AS (INSERT INTO events(company_id, appointment_id, kind, payload, created_at) "
    "VALUES ($1, $2, $3, $4, to_timestamp($5::bigint))) "
    "INSERT INTO sync_jobs(appointment_id, action, version, state, next_attempt_at, created_at) "
    "VALUES ($6, $7, $8, 'pending', to_timestamp($9::bigint), to_timestamp($9::bigint))"};
inline constexpr Statement kEvents{
    "events", "SELECT id, company_id, COALESCE(appointment_id, 0), kind, payload, " APPOINTD_EPOCH(
                  "created_at") " FROM events WHERE company_id = $1 AND appointment_id = $2 "
                                "ORDER BY id LIMIT 1000"};

inline constexpr Statement kInsertSyncJob{
    "insert_sync_job",
    "INSERT INTO sync_jobs(appointment_id, action, version, state, next_attempt_at, created_at) "
    "VALUES ($1, $2, $3, 'pending', to_timestamp($4::bigint), to_timestamp($4::bigint))"};

inline constexpr Statement kIdempotency{
    "idempotency",
    "SELECT fingerprint, status, body FROM idempotency_keys WHERE company_id = $1 AND key = $2"};
// A concurrent request with the same key that commits first makes this fail with 23505 on
// idempotency_keys_pkey; the store retries the whole write, which then finds the stored outcome.
inline constexpr Statement kInsertIdempotency{
    "insert_idempotency",
    "INSERT INTO idempotency_keys(company_id, key, fingerprint, state, status, body, created_at) "
    "VALUES ($1, $2, $3, 'done', $4, $5, to_timestamp($6::bigint))"};
inline constexpr const char* kIdempotencyConstraint = "idempotency_keys_pkey";

inline constexpr Statement kApiKeyByHash{
    "api_key_by_hash",
    "SELECT id, COALESCE(company_id, 0), name, role FROM api_keys "
    "WHERE sha256 = $1 AND revoked_at IS NULL"};
inline constexpr Statement kInsertApiKey{
    "insert_api_key",
    "INSERT INTO api_keys(company_id, name, sha256, role, created_at) "
    "VALUES ($1, $2, $3, $4, to_timestamp($5::bigint)) RETURNING id"};

inline constexpr Statement kPing{"ping", "SELECT 1"};

// --- migrations ---
// One advisory lock key for "migrating appointd's schema": instances starting together queue
// on it, and the first applies what is pending.
inline constexpr Statement kMigrationLock{"migration_lock",
                                          "SELECT pg_advisory_lock(7100311462203371601)"};
inline constexpr Statement kMigrationUnlock{"migration_unlock",
                                            "SELECT pg_advisory_unlock(7100311462203371601)"};
inline constexpr const char* kCreateMigrations =
    "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, "
    "name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())";
inline constexpr Statement kMigrationApplied{"migration_applied",
                                             "SELECT 1 FROM schema_migrations WHERE version = $1"};
inline constexpr Statement kRecordMigration{
    "record_migration", "INSERT INTO schema_migrations(version, name) VALUES ($1, $2)"};

// --- audit ---
// I1: per staff member, blocks (active segments and unexpired holds) ordered by start; a block
// that starts before the furthest end of the blocks before it overlaps one of them.
inline constexpr Statement kAuditOverlaps{
    "audit_overlaps",
    "WITH b AS ("
    "  SELECT staff_id, blocked_from, blocked_until FROM segments WHERE active"
    "  UNION ALL"
    "  SELECT staff_id, blocked_from, blocked_until FROM holds WHERE expires_at > now()),"
    " o AS (SELECT blocked_from, max(blocked_until) OVER (PARTITION BY staff_id"
    "   ORDER BY blocked_from, blocked_until ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)"
    "   AS prev_until FROM b)"
    " SELECT count(*) FROM o WHERE prev_until > blocked_from"};
// I7 in the data: every appointment's branch, and every segment's company, staff and service,
// are of the appointment's company (no foreign keys guard them: migration 005 on PostgreSQL).
inline constexpr Statement kAuditReferences{
    "audit_references",
    "SELECT (SELECT count(*) FROM appointments a WHERE NOT EXISTS (SELECT 1 FROM branches b "
    "WHERE b.id = a.branch_id AND b.company_id = a.company_id)) + (SELECT count(*) FROM segments g "
    "JOIN appointments a ON a.id = g.appointment_id WHERE g.company_id <> a.company_id "
    "OR NOT EXISTS (SELECT 1 FROM staff s WHERE s.id = g.staff_id AND s.company_id = a.company_id) "
    "OR NOT EXISTS (SELECT 1 FROM services v WHERE v.id = g.service_id "
    "AND v.company_id = a.company_id))"};
inline constexpr Statement kAuditCustomers{
    "audit_customers",
    "SELECT count(*) FROM (SELECT 1 FROM customers WHERE deleted_at IS NULL "
    "GROUP BY company_id, phone HAVING count(*) > 1) d"};
inline constexpr Statement kAuditExternal{
    "audit_external",
    "SELECT count(*) FROM (SELECT 1 FROM appointments WHERE external_id IS NOT NULL "
    "GROUP BY external_provider, external_id HAVING count(*) > 1) d"};
inline constexpr Statement kAuditIdempotency{
    "audit_idempotency",
    "SELECT count(*) FROM (SELECT 1 FROM idempotency_keys GROUP BY company_id, key "
    "HAVING count(*) > 1) d"};
// Structure: the guards of I1-I4 exist and are valid. Returns the names that are missing or
// not valid (exclusion constraints validated; unique indexes valid and ready).
inline constexpr Statement kAuditStructure{
    "audit_structure",
    "SELECT w.name FROM (VALUES ('segments_no_overlap', 'x'), ('holds_no_overlap', 'x'), "
    "('customers_live_phone', 'i'), ('appointments_external', 'i'), "
    "('idempotency_keys_pkey', 'i')) AS w(name, kind) "
    "WHERE NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE w.kind = 'x' AND c.conname = w.name "
    "  AND c.contype = 'x' AND c.convalidated) "
    "AND NOT EXISTS (SELECT 1 FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid "
    "  WHERE w.kind = 'i' AND ic.relname = w.name AND i.indisunique AND i.indisvalid "
    "  AND i.indisready) "
    "ORDER BY w.name"};

#undef APPOINTD_EPOCH
#undef APPOINTD_EPOCH_BIGINT

}  // namespace appointd::store::postgres::sql
