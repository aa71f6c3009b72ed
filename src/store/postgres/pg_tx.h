#pragma once
// ReadTx/WriteTx over one PostgreSQL connection. The caller (PgStore) owns the transaction
// boundaries (BEGIN, retries) and ends a write with commit(); this class runs the named
// statements of sql.h. Not thread-safe: one connection, one thread.
//
// Round trips are the cost (DESIGN.md "The write path"), so statements travel in pipelines
// (Connection::defer): a statement whose result the caller does not need (lock_staff, events,
// outbox rows, updates, savepoint control, ...) is queued and sent with the next statement
// that needs a result, or with COMMIT. Its error then surfaces there, as the same PgError.
// Ids the caller needs back from an INSERT of an appointment or segment come from a small
// reservation of sequence values, fetched in the round trip of an earlier statement once an
// overlap check under the staff lock found the time free; such INSERTs are queued too.
//
// Savepoints are lazy: savepoint() only records a level, and the SAVEPOINT is queued right
// before the first statement that changes data inside it. A level that wrote nothing is
// released or rolled back without a statement (its reads need no undo). A RELEASE still queued
// at COMMIT is dropped (COMMIT ends the savepoints with the transaction).
//
// With a CatalogCache (catalog.h), a write answers company(), staff(), service(),
// staff_for_service() and staff_schedules() from the company's copy, and checks the copy's
// version in the next round trip it makes (at the latest, one before COMMIT); a changed version
// throws CatalogStale before anything commits. A write of a catalog table first checks the
// copies used so far, then stops using copies for the rest of the transaction (its own
// uncommitted rows are not in them) and drops this instance's copies.
#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "obs/metrics.h"
#include "store/postgres/catalog.h"
#include "store/postgres/pg.h"
#include "store/postgres/probe.h"
#include "store/tx.h"

namespace appointd::store::postgres {

// A booking answered from its unlocked probe went on to write after all (the blocks it found
// were not conflicts to it): the store runs it again without probing.
class ProbeMissed : public StoreError {
 public:
  ProbeMissed() : StoreError("postgresql: a probed booking wrote; running it again") {}
};

class PgTx final : public WriteTx {
 public:
  // lock_wait: where lock_staff reports how long it waited (may be null). catalog: the copies
  // of company catalogs a write may use (null: none; read transactions use none).
  // probe: decides whether a booking reads its time without the lock first (null: never).
  // reach: how much of a conflict's alternatives to read with the probe (null: the widest
  // window announced, at once).
  PgTx(Session& c, bool writable, obs::Histogram* lock_wait = nullptr,
       CatalogCache* catalog = nullptr, ProbePolicy* probe = nullptr, ReachPolicy* reach = nullptr)
      : c_(c),
        writable_(writable),
        lock_wait_(lock_wait),
        catalog_(writable ? catalog : nullptr),
        probe_(writable ? probe : nullptr),
        reach_(reach) {}

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
  // Remembered; the next blocks()/blocks_of() that falls inside an announced read (unlocked
  // staff, or blocks_of) fetches all announced reads in one round trip (kBlocksOf each).
  void expect_blocks(std::span<const Id> staff_ids, Interval window, Id exclude,
                     Instant now) override;

  // The staff members' advisory locks, ascending (sql::kLockStaff); withheld for the probe.
  void lock_staff(std::span<const Id> ascending_ids) override;
  // Remembered; the first overlap check under a staff lock then also carries, inside the open
  // savepoint level, the customer upsert and the reservation of the ids (one round trip).
  void expect_booking(const BookingAhead& ahead) override;
  void savepoint() override;
  void rollback_savepoint() override;
  void release_savepoint() override;

  Id insert_company(const Company& c) override;
  Id insert_branch(const Branch& b) override;
  Id insert_service(const Service& s) override;
  Id insert_staff(const Staff& s) override;
  CustomerUpsert upsert_customer(const Customer& c) override;
  Id insert_appointment(const Appointment& a) override;
  // Inserted inactive when s.active is false, or when its appointment was inserted by this
  // transaction with a status other than booked (an imported conflict): such a segment blocks
  // nothing, and inserted active it would fail segments_no_overlap before it is deactivated.
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
  // Deletes the expired holds of the staff member, unless this transaction already did so,
  // under the staff lock, as of `now` or later (blocks() does it in its overlap check): then
  // there are none, and it returns 0 without a statement.
  int delete_expired_holds(Id staff_id, Instant now) override;

  // Calendar sync (pg_sync.cpp).
  std::optional<Integration> integration(Id company_id, const std::string& provider) override;
  std::vector<Integration> integrations(const std::string& provider) override;
  std::vector<EventTypeMapping> event_types(Id company_id, std::optional<Id> staff_id) override;
  std::vector<ExternalBooking> external_bookings(Id appointment_id) override;
  std::optional<ExternalBooking> external_booking(const std::string& provider,
                                                  const std::string& uid) override;
  std::optional<SyncJob> sync_job(Id company_id, Id id) override;
  std::vector<SyncJob> sync_jobs(Id company_id, const SyncJobFilter& f) override;
  // Both counts in one round trip.
  SyncStats sync_stats(Instant now) override;
  void put_integration(const Integration& i) override;
  bool delete_integration(Id company_id, const std::string& provider) override;
  void replace_event_types(Id company_id, Id staff_id,
                           const std::vector<EventTypeMapping>& mappings) override;
  // Begins the transaction and locks the rows (sync_sql.h, FOR UPDATE SKIP LOCKED); then, when
  // it locked any, reads which of them are still due in a statement of its own (a fresh
  // snapshot): a worker that held one may have leased its jobs and committed meanwhile. The
  // rows of those no longer due stay locked until the transaction ends.
  std::vector<Id> claim_due_appointments(Instant now, int limit) override;
  // One statement for all of them.
  std::vector<SyncJob> open_sync_jobs(std::span<const Id> appointment_ids) override;
  // Queued (with BEGIN), like lock_staff: taken before the next statement runs.
  void lock_appointment(Id appointment_id) override;
  void save_sync_job(const SyncJob& j) override;
  void record_external_booking(const ExternalBooking& b) override;
  std::optional<Id> insert_webhook(Id company_id, const std::string& provider,
                                   const std::string& digest, const std::string& body,
                                   Instant now) override;
  std::vector<WebhookDelivery> pending_webhooks(int limit) override;
  void finish_webhook(Id id, const std::string& outcome, Instant now) override;

  // Phone intake (pg_intake.cpp).
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
  // Inserts the call unless it exists and reads it FOR UPDATE, in one round trip.
  Call lock_call(const Call& skeleton) override;
  void update_call(const Call& c) override;

  // Ends the transaction: what is queued with COMMIT, in one round trip, or with ROLLBACK when
  // nothing it wrote is kept (every write was in a savepoint level rolled back): no WAL flush
  // to wait for. Throws PgError like any statement, or CatalogStale.
  void commit();

 private:
  // Runs a statement (with what is queued before it) and returns its rows.
  Result read(const Statement& s, const Params& p);
  // Sends what is queued and the batch in one round trip, with the version checks of the
  // catalog copies used since the last one; returns the batch's rows. Throws CatalogStale.
  std::vector<Result> round_trip(std::span<const std::pair<const Statement*, Params>> batch);
  // The catalog copy of the company for this transaction (loaded on a miss), or null when
  // copies are not used.
  const CompanyCatalog* copy(Id company_id);
  // Before a write of a catalog table: checks the copies used so far (a round trip when one
  // is unchecked), then stops using copies.
  void catalog_write();
  // Queues a statement that changes data and whose rows are not needed, after the pending
  // SAVEPOINTs. With a fusion: when the last queued statement is f.last, turns it into f.fused
  // (both in one statement; s's parameters follow) instead.
  struct Fusion {
    const Statement* last;
    const Statement* fused;
  };
  void write(const Statement& s, Params p, Fusion f = {});
  // What every write does first: the withheld lock, BEGIN, the pending SAVEPOINTs; marks the
  // level as written and drops what was read ahead.
  void prepare_write();
  // Runs a statement that changes data and returns its rows: sends what is queued, the pending
  // SAVEPOINTs, the statement, and a reservation of ids when one is wanted.
  Result write_returning(const Statement& s, const Params& p);
  // Queues the SAVEPOINTs of the levels that have none yet.
  void open_savepoints();
  // Queues BEGIN unless the transaction has begun. A write transaction begins at its first
  // lock, write or savepoint: the reads before it run in their own implicit transactions, which
  // at READ COMMITTED (a snapshot per statement) is the same, and a write that only reads (a
  // conflict answered by the probe, a refusal) needs no BEGIN nor ROLLBACK at all.
  void begin();
  // Times the round trip that carries a queued lock_staff (the lock wait histogram).
  template <class F>
  auto timed(F&& f) -> decltype(f());
  // Takes the lowest reserved id of `ids`, or 0 when none is left.
  Id take_reserved(std::vector<Id>& ids);
  // Keeps the ids of a kReserveIds result asked for `segments` segments.
  void keep_reserved(const Result& ids, int segments);
  // The answer of a kUpsertCustomer result for `c`.
  CustomerUpsert upserted(const Customer& c, const Result& r);
  // blocks_of() from the announced reads: fetches them when one covers the request, then
  // answers when every staff member is covered. nullopt: read it from the database.
  std::optional<std::vector<Block>> known_blocks(std::span<const Id> staff_ids, Interval window,
                                                 Id exclude, Instant now);
  struct Announced;
  // Queues the announced reads (wanted; kBlocksOf each, or kBlocksOfIfBusy with `if_busy`'s
  // three parameters) and hands them over; keep_announced() then files their rows, those of
  // rs[first], rs[first + 1], ..., as known_.
  std::vector<Announced> queue_announced(const Params* if_busy);
  void keep_announced(const std::vector<Announced>& todo, const std::vector<Result>& rs,
                      size_t first);

  struct Marks {  // lengths of the logs when a SAVEPOINT was queued
    size_t locks;
    size_t purges;
  };
  struct Purge {  // expired holds of staff_id deleted as of `at`, under its lock
    Id staff_id;
    Instant at;
  };

  Session& c_;
  bool writable_;
  bool begun_ = !writable_;  // a read transaction is begun by the store
  obs::Histogram* lock_wait_;
  CatalogCache* catalog_;  // null once this transaction wrote a catalog table
  // The probe (probe.h): armed by expect_booking when the policy says so; lock_staff then
  // withholds the lock statement, and the first locked check reads without it. A conflict
  // found so is the answer (the lock is never sent unless something is written after, which
  // throws ProbeMissed); a free time sends the lock and the usual locked check.
  ProbePolicy* probe_;
  // Of the announced reads nested in one another (the alternatives' near and wide windows of
  // one staff member) the probe sends one, as the policy says; a later read beyond the window
  // sent reads the rest (known_blocks). near_ is the narrowest window announced for the
  // requested staff; beyond_ whether a read went beyond it (recorded with a probed conflict).
  ReachPolicy* reach_;
  std::optional<Interval> near_;
  bool beyond_ = false;
  bool probe_armed_ = false;
  bool probe_hit_ = false;    // a locked check was answered by the probe
  std::vector<Id> withheld_;  // staff locked for the use case, whose lock is not queued yet
  // A time the probe found free, checked under the lock by kExpectFree when the withheld lock
  // is queued (with the writes), and the live customer the probe looked up for the booking.
  struct ExpectFree {
    Id staff_id;
    Interval blocked;
    Id exclude;
    Instant now;
  };
  std::optional<ExpectFree> expect_free_;
  std::optional<Customer> probed_customer_;
  // Queues the withheld lock (before anything that needs it). Throws ProbeMissed after a hit.
  void release_withheld();
  // Queues BEGIN when needed, then the lock statement of these staff members (ascending).
  void queue_lock(const std::vector<Id>& ascending);
  std::map<Id, std::shared_ptr<const CompanyCatalog>> copies_;  // used by this transaction
  std::map<Id, std::int64_t> unchecked_;  // company -> version of a copy used, not checked yet
  std::vector<bool> levels_;              // per open savepoint level: was SAVEPOINT sent?
  // Per level, the transaction's first: did it write (a write of a level rolled back is gone)?
  // Row locks, expired-hold housekeeping and id reservations do not count.
  std::vector<bool> wrote_ = {false};
  std::set<Id> locked_;  // staff members locked by this transaction
  // locked_ in the order taken, the expired-hold deletions done, and per sent SAVEPOINT the
  // length of those logs when it was sent: ROLLBACK TO releases the row locks taken after it
  // and restores the holds deleted after it, so locked_ and purge_log_ must forget them.
  std::vector<Id> lock_log_;
  std::vector<Purge> purge_log_;
  std::vector<Marks> marks_;
  bool lock_unsent_ = false;  // a lock_staff is queued
  // Ids reserved for INSERTs of this transaction, and how many an overlap check asked for.
  std::vector<Id> appointment_ids_, segment_ids_;
  // Appointments this transaction inserted with a status other than booked (insert_segment).
  std::set<Id> not_booked_;
  bool want_appointment_id_ = false;
  int want_segment_ids_ = 0;
  // Announced reads (expect_blocks), and those fetched: per staff member, the blocks over a
  // window. Dropped by any write or lock. An unlocked staff member's blocks are advisory (they
  // can change right after the read), so blocks read a moment earlier in the same transaction
  // are as good; a locked one's nobody else changes.
  struct Announced {
    std::vector<Id> staff;
    Interval window;
    Id exclude = 0;
    Instant now;
    // Whether this read answers blocks of `staff_id` over `w` with this exclude and now.
    bool covers(Id staff_id, Interval w, Id ex, Instant at) const {
      return ex == exclude && at == now && window.contains(w) &&
             std::find(staff.begin(), staff.end(), staff_id) != staff.end();
    }
  };
  std::vector<Announced> announced_;
  struct Known {
    Interval window;
    Id exclude = 0;
    Instant now;
    std::vector<Block> blocks;
  };
  std::map<Id, Known> known_;
  // expect_booking(), until the first locked overlap check sends it; then the customer whose
  // upsert went with it and its rows (dropped when a savepoint level is rolled back).
  std::optional<BookingAhead> booking_ahead_;
  std::optional<Customer> upsert_sent_;
  std::optional<Result> upsert_rows_;
  void forget_read_ahead() {
    announced_.clear();
    known_.clear();
  }
};

}  // namespace appointd::store::postgres
