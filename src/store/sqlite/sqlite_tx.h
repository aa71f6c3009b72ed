#pragma once
// ReadTx/WriteTx over one SQLite connection. The caller owns the transaction boundaries
// (the writer thread's BEGIN IMMEDIATE/COMMIT, or a read snapshot); this class only runs the
// named statements of sql.h. Not thread-safe: one connection, one thread.
#include "store/sqlite/db.h"
#include "store/sqlite/writer_cache.h"
#include "store/tx.h"

namespace appointd::store::sqlite {

class SqliteTx final : public WriteTx {
 public:
  explicit SqliteTx(Connection& c) : c_(c) {}
  // The writer's transaction: blocks() answered from the cache's block index (block_index.h)
  // and the catalog reads from its catalog (catalog_cache.h), both kept in step with every
  // write and savepoint. With `verify`, each answer from them is compared with the SQL one and
  // a difference aborts the process (tests run this way). Every write method of a table the
  // catalog caches calls catalog_changed().
  SqliteTx(Connection& c, WriterCache* cache, bool verify)
      : c_(c), cache_(cache), verify_(verify) {}

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

  void lock_staff(std::span<const Id>) override {}  // writes are serialised: nothing to lock
  void savepoint() override;
  void rollback_savepoint() override;
  void release_savepoint() override;
  // Undoes everything since the outermost savepoint of this object, whatever nesting a failed
  // write left open, and releases it.
  void rollback_all();

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
  Id insert_hold(const Hold& h) override;
  bool delete_hold(Id company_id, Id id) override;
  int delete_expired_holds(Id staff_id, Instant now) override;

  // Calendar sync (sqlite_sync.cpp).
  std::optional<Integration> integration(Id company_id, const std::string& provider) override;
  std::vector<Integration> integrations(const std::string& provider) override;
  std::vector<EventTypeMapping> event_types(Id company_id, std::optional<Id> staff_id) override;
  std::vector<ExternalBooking> external_bookings(Id appointment_id) override;
  std::optional<ExternalBooking> external_booking(const std::string& provider,
                                                  const std::string& uid) override;
  std::optional<SyncJob> sync_job(Id company_id, Id id) override;
  std::vector<SyncJob> sync_jobs(Id company_id, const SyncJobFilter& f) override;
  SyncStats sync_stats(Instant now) override;
  void put_integration(const Integration& i) override;
  bool delete_integration(Id company_id, const std::string& provider) override;
  void replace_event_types(Id company_id, Id staff_id,
                           const std::vector<EventTypeMapping>& mappings) override;
  std::vector<Id> claim_due_appointments(Instant now, int limit) override;
  std::vector<SyncJob> open_sync_jobs(std::span<const Id> appointment_ids) override;
  void lock_appointment(Id) override {}  // writes are serialised: nothing to lock
  void save_sync_job(const SyncJob& j) override;
  void record_external_booking(const ExternalBooking& b) override;
  std::optional<Id> insert_webhook(Id company_id, const std::string& provider,
                                   const std::string& digest, const std::string& body,
                                   Instant now) override;
  std::vector<WebhookDelivery> pending_webhooks(int limit) override;
  void finish_webhook(Id id, const std::string& outcome, Instant now) override;

  // Phone intake (sqlite_intake.cpp).
  std::vector<Branch> branches_by_phone(const std::string& e164, int limit) override;
  std::optional<Id> agent_company(const std::string& agent_id) override;
  std::vector<std::string> agents(Id company_id) override;
  std::optional<IntakeReply> intake_reply(Id company_id, const std::string& call_id,
                                          const std::string& function,
                                          const std::string& args_fingerprint) override;
  std::optional<Call> call(Id company_id, const std::string& call_id) override;
  std::vector<Id> call_appointments(Id company_id, const std::string& call_id) override;
  std::vector<Appointment> upcoming_appointments(Id company_id, Id customer_id, Instant after,
                                                 int limit) override;
  std::vector<Hold> holds_of_owner(Id company_id, const std::string& owner, Instant now) override;
  void replace_agents(Id company_id, const std::vector<std::string>& agent_ids) override;
  void insert_intake_reply(const IntakeReply& r) override;
  // Writes are serialised: the call's function calls and events already are.
  Call lock_call(const Call& skeleton) override;
  void update_call(const Call& c) override;

 private:
  // Keeps staff.max_blocked_seconds >= the length of every block written for that staff
  // member: the bound of the overlap scan in kBlocks.
  void raise_max_blocked(Id staff_id, Interval blocked);
  std::vector<Block> blocks_sql(Id staff_id, Interval blocked, Id exclude, Instant now);
  const BlockIndex::Staff& load_blocks(Id staff_id, Instant lo);
  // Tells the index that the blocks of an appointment's staff are about to change.
  void forget_staff_of(Id appointment_id);
  BlockIndex* index() const { return cache_ ? &cache_->blocks : nullptr; }
  CatalogCache* catalog() const { return cache_ ? &cache_->catalog : nullptr; }
  void catalog_changed() {
    if (cache_) cache_->catalog.changed();
  }
  // staff_schedules() of the read path: three statements for all of `ids` (ascending, distinct).
  std::vector<StaffSchedule> schedules_sql(Id company_id, const std::vector<Id>& ids,
                                           Interval window);
  std::optional<StaffSchedule> schedule_sql(Id company_id, Id staff_id, Interval window);

  Connection& c_;
  WriterCache* cache_ = nullptr;  // the writer's; null on read connections
  bool verify_ = false;
  int depth_ = 0;  // nesting of savepoints; names are "sp<depth>"
};

}  // namespace appointd::store::sqlite
