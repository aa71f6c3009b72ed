#pragma once
// ReadTx/WriteTx over one PostgreSQL connection. The caller (PgStore) owns the transaction
// boundaries (BEGIN/COMMIT, retries); this class runs the named statements of sql.h.
// Not thread-safe: one connection, one thread.
//
// Savepoints are lazy: savepoint() only records a level, and the SAVEPOINT is sent right
// before the first statement that changes data inside it. A level that wrote nothing is
// released or rolled back without a round trip (its reads need no undo).
#include <set>
#include <vector>

#include "obs/metrics.h"
#include "store/postgres/pg.h"
#include "store/tx.h"

namespace appointd::store::postgres {

class PgTx final : public WriteTx {
 public:
  // lock_wait: where lock_staff reports how long it waited (may be null).
  PgTx(Connection& c, bool writable, obs::Histogram* lock_wait = nullptr)
      : c_(c), writable_(writable), lock_wait_(lock_wait) {}

  std::optional<Company> company(Id company_id) override;
  std::optional<Branch> branch(Id company_id, Id id) override;
  std::vector<Branch> branches(Id company_id) override;
  std::optional<Service> service(Id company_id, Id id) override;
  std::vector<Service> services(Id company_id) override;
  std::optional<Staff> staff(Id company_id, Id id) override;
  std::vector<Staff> staff_list(Id company_id) override;
  std::vector<Id> staff_for_service(Id company_id, Id branch_id, Id service_id, int limit) override;
  std::optional<Customer> customer(Id company_id, Id id) override;
  std::optional<Customer> customer_by_phone(Id company_id, const std::string& e164) override;
  std::optional<Appointment> appointment(Id company_id, Id id) override;
  std::vector<Appointment> appointments(Id company_id, const AppointmentFilter& f) override;
  std::vector<Event> events(Id company_id, Id appointment_id) override;
  std::optional<ApiKey> api_key_by_hash(const std::string& sha256_hex) override;
  // In a write transaction, for a staff member this transaction has locked, also deletes the
  // staff member's holds that expired by `now` (DESIGN.md: under the staff lock).
  std::vector<Block> blocks(Id staff_id, Interval blocked, Id exclude, Instant now) override;
  std::optional<StoredResponse> idempotency(Id company_id, const std::string& key) override;
  std::vector<Id> staff_performing(Id company_id, Id service_id) override;
  std::vector<WorkingHours> working_hours(Id company_id, Id staff_id) override;
  std::vector<TimeOff> time_off(Id company_id, Id staff_id, Instant after, int limit) override;
  std::vector<StaffSchedule> staff_schedules(Id company_id, std::span<const Id> staff_ids,
                                             Interval window) override;
  std::vector<Block> blocks_of(std::span<const Id> staff_ids, Interval window, Id exclude,
                               Instant now) override;
  std::optional<Hold> hold(Id company_id, Id id) override;

  // SELECT ... FOR UPDATE of the staff rows, ascending (sql::kLockStaff).
  void lock_staff(std::span<const Id> ascending_ids) override;
  void savepoint() override;
  void rollback_savepoint() override;
  void release_savepoint() override;

  Id insert_company(const Company& c) override;
  Id insert_branch(const Branch& b) override;
  Id insert_service(const Service& s) override;
  Id insert_staff(const Staff& s) override;
  CustomerUpsert upsert_customer(const Customer& c) override;
  Id insert_appointment(const Appointment& a) override;
  Id insert_segment(Id company_id, const Segment& s) override;
  void deactivate_segments(Id appointment_id) override;
  void delete_segments(Id appointment_id) override;
  void update_appointment(const Appointment& a) override;
  void append_event(const Event& e) override;
  void enqueue_sync(Id appointment_id, const std::string& action, std::int64_t version,
                    Instant now) override;
  void store_idempotency(Id company_id, const std::string& key, const StoredResponse& r,
                         Instant now) override;
  Id insert_api_key(const ApiKey& k, const std::string& sha256_hex, Instant now) override;
  void update_company_settings(Id company_id, const SchedulingSettings& s) override;
  void replace_working_hours(Id staff_id, const std::vector<WorkingHours>& hours) override;
  Id insert_time_off(const TimeOff& t) override;
  bool delete_time_off(Id company_id, Id staff_id, Id id) override;
  // A hold overlapping another of the same staff member fails with 23P01 (holds_no_overlap):
  // the store retries the write, whose overlap check then reports the conflict.
  Id insert_hold(const Hold& h) override;
  bool delete_hold(Id company_id, Id id) override;
  int delete_expired_holds(Id staff_id, Instant now) override;

 private:
  // Runs a statement that reads only.
  Result read(const Statement& s, const Params& p) { return c_.run(s, p); }
  // Runs a statement that changes data: sends the pending SAVEPOINTs first.
  Result change(const Statement& s, const Params& p);

  Connection& c_;
  bool writable_;
  obs::Histogram* lock_wait_;
  std::vector<bool> levels_;  // per open savepoint level: was SAVEPOINT sent?
  std::set<Id> locked_;       // staff rows locked by this transaction
  // locked_ in the order taken, and per sent SAVEPOINT the length of that log when it was
  // sent: ROLLBACK TO releases the row locks taken after it, so locked_ must forget them.
  std::vector<Id> lock_log_;
  std::vector<size_t> lock_marks_;
};

}  // namespace appointd::store::postgres
