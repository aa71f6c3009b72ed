#pragma once
// The data operations the use cases need, as a backend-neutral interface. Every method is
// scoped by company id where the data belongs to a company (I7): a row of another company is
// "not found". Methods throw StoreError on infrastructure failure; they never return errors for
// domain outcomes (those are decided by the use cases).
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "domain/intake.h"
#include "domain/model.h"
#include "domain/sync.h"

namespace appointd::store {

struct AppointmentFilter {
  std::optional<Id> staff_id;
  std::optional<Interval> window;  // segments overlapping [from, until)
  std::optional<AppointmentStatus> status;
  int limit = 100;
};

struct StoredResponse {
  std::string fingerprint;
  int status = 0;
  std::string body;
};

struct CustomerUpsert {
  Customer customer;
  bool created = false;
};

// What the slot computation needs of one staff member (ReadTx::staff_schedules).
struct StaffSchedule {
  Id staff_id = 0;
  Id branch_id = 0;
  bool active = true;
  std::string timezone;             // IANA zone of the staff member's branch
  std::vector<WorkingHours> hours;  // every row, ordered by weekday, start_minute
  std::vector<TimeOff> time_off;    // the entries overlapping the window, ordered by start
  bool operator==(const StaffSchedule&) const = default;
};

// Read operations; usable on a read-only connection and inside a write transaction.
class ReadTx {
 public:
  virtual ~ReadTx() = default;

  virtual std::optional<Company> company(Id company_id) = 0;
  virtual std::optional<Branch> branch(Id company_id, Id id) = 0;
  virtual std::vector<Branch> branches(Id company_id) = 0;
  virtual std::optional<Service> service(Id company_id, Id id) = 0;
  virtual std::vector<Service> services(Id company_id) = 0;
  virtual std::optional<Staff> staff(Id company_id, Id id) = 0;
  virtual std::vector<Staff> staff_list(Id company_id) = 0;
  // Ids of the active staff of a branch who perform a service, ascending.
  // At most `limit` of them.
  virtual std::vector<Id> staff_for_service(Id company_id, Id branch_id, Id service_id,
                                            int limit) = 0;
  virtual std::optional<Customer> customer(Id company_id, Id id) = 0;
  virtual std::optional<Customer> customer_by_phone(Id company_id, const std::string& e164) = 0;
  // The appointment with its segments (active or not, ordered by start).
  virtual std::optional<Appointment> appointment(Id company_id, Id id) = 0;
  virtual std::vector<Appointment> appointments(Id company_id, const AppointmentFilter& f) = 0;
  // The appointment's history, oldest first; at most the 1000 oldest entries.
  virtual std::vector<Event> events(Id company_id, Id appointment_id) = 0;
  virtual std::optional<ApiKey> api_key_by_hash(const std::string& sha256_hex) = 0;
  // Active segments and live holds (expires_at > now) of the staff member whose blocked
  // interval overlaps `blocked`, except the segments of appointment `exclude` (0: none).
  virtual std::vector<Block> blocks(Id staff_id, Interval blocked, Id exclude, Instant now) = 0;
  virtual std::optional<StoredResponse> idempotency(Id company_id, const std::string& key) = 0;

  // --- scheduling (issue 3) ---
  // Ids of the active staff of the company (any branch) who perform a service, ascending.
  virtual std::vector<Id> staff_performing(Id company_id, Id service_id) = 0;
  // The weekly working hours of a staff member of the company, ordered by weekday and start;
  // empty for an unknown staff member, another company's, or one without hours.
  virtual std::vector<WorkingHours> working_hours(Id company_id, Id staff_id) = 0;
  // The time off of a staff member of the company ending after `after`, ordered by start,
  // at most `limit` entries.
  virtual std::vector<TimeOff> time_off(Id company_id, Id staff_id, Instant after, int limit) = 0;
  // Branch zone, working hours and the time off overlapping `window` of each of the listed
  // staff members of the company, ordered by staff id; ids of other companies and unknown ids
  // are left out. SQLite: three point queries per staff member; PostgreSQL: three in all.
  virtual std::vector<StaffSchedule> staff_schedules(Id company_id, std::span<const Id> staff_ids,
                                                     Interval window) = 0;
  // blocks() for several staff members at once: active segments and live holds
  // whose blocked interval overlaps `window`, in no particular order. The ids
  // must be of one company (callers pass ids they got from staff_schedules or staff()).
  virtual std::vector<Block> blocks_of(std::span<const Id> staff_ids, Interval window, Id exclude,
                                       Instant now) = 0;
  // A hold of the company, live or expired.
  virtual std::optional<Hold> hold(Id company_id, Id id) = 0;

  // Advice, free to ignore (SQLite does): blocks() or blocks_of() of these staff members,
  // with this `exclude` and `now`, over intervals inside `window`, follow. A store that pays per
  // round trip may read them all at once, at the next of them.
  virtual void expect_blocks(std::span<const Id> staff_ids, Interval window, Id exclude,
                             Instant now) {
    (void)staff_ids, (void)window, (void)exclude, (void)now;
  }

  // --- calendar sync (issue 13) ---
  virtual std::optional<Integration> integration(Id company_id, const std::string& provider) = 0;
  // Every company's integration with the provider, by company id.
  virtual std::vector<Integration> integrations(const std::string& provider) = 0;
  // The company's event type mappings: of one staff member, or of all (nullopt), ordered by
  // staff and service.
  virtual std::vector<EventTypeMapping> event_types(Id company_id, std::optional<Id> staff_id) = 0;
  // What is known of the appointment's external bookings, live or not, in insertion order.
  virtual std::vector<ExternalBooking> external_bookings(Id appointment_id) = 0;
  virtual std::optional<ExternalBooking> external_booking(const std::string& provider,
                                                          const std::string& uid) = 0;
  // A job of the company (joined through its appointment).
  virtual std::optional<SyncJob> sync_job(Id company_id, Id id) = 0;
  // Jobs of the company matching the filter, newest (highest id) first.
  virtual std::vector<SyncJob> sync_jobs(Id company_id, const SyncJobFilter& f) = 0;
  virtual SyncStats sync_stats(Instant now) = 0;

  // --- phone intake (issue 14) ---
  // The branches (of any company) whose phone is this E.164 number, at most `limit`, by id.
  virtual std::vector<Branch> branches_by_phone(const std::string& e164, int limit) = 0;
  // The company a phone agent (Retell agent id) belongs to.
  virtual std::optional<Id> agent_company(const std::string& agent_id) = 0;
  // The company's agent ids, ascending.
  virtual std::vector<std::string> agents(Id company_id) = 0;
  // The latest reply (highest seq) of (call, function, arguments).
  virtual std::optional<IntakeReply> intake_reply(Id company_id, const std::string& call_id,
                                                  const std::string& function,
                                                  const std::string& args_fingerprint) = 0;
  virtual std::optional<Call> call(Id company_id, const std::string& call_id) = 0;
  // Ids of the appointments a call made (appointments.call_id) or changed (its replies),
  // ascending.
  virtual std::vector<Id> call_appointments(Id company_id, const std::string& call_id) = 0;
  // The booked appointments of a customer whose first segment starts after `after`, soonest
  // first, at most `limit`.
  virtual std::vector<Appointment> upcoming_appointments(Id company_id, Id customer_id,
                                                         Instant after, int limit) = 0;
  // The live holds (expires_at > now) of the company with this owner, by id.
  virtual std::vector<Hold> holds_of_owner(Id company_id, const std::string& owner,
                                           Instant now) = 0;
};

// Read and write operations inside one write transaction.
class WriteTx : public ReadTx {
 public:
  // Locks the staff rows for the rest of the transaction, in the order given, which must be
  // ascending (a global lock order). A no-op where writes are serialised (SQLite).
  virtual void lock_staff(std::span<const Id> ascending_ids) = 0;

  // Advice about what the write will do next, free to ignore (SQLite does: it pays nothing per
  // statement). A store that pays per round trip may send the work early, with a round trip it
  // makes anyway, and hand the results to the calls when they come.
  //
  // A booking inside a savepoint level, before its overlap checks: once they find the time free
  // it will upsert `customer` (when given) and insert one appointment with `segments` segments.
  // Work sent early goes into that level: when the calls do not come (a conflict), the level is
  // rolled back, and what was sent is undone with it.
  struct BookingAhead {
    std::optional<Customer> customer;
    int segments = 0;
    // The hold the booking converts (0: none). Without one, every block the checks return is a
    // conflict.
    Id hold_id = 0;
  };
  virtual void expect_booking(const BookingAhead&) {}

  // A nested unit that can be undone on its own (SAVEPOINT / ROLLBACK TO / RELEASE).
  virtual void savepoint() = 0;
  virtual void rollback_savepoint() = 0;  // undoes since savepoint() and releases it
  virtual void release_savepoint() = 0;

  virtual Id insert_company(const Company& c) = 0;
  virtual Id insert_branch(const Branch& b) = 0;
  virtual Id insert_service(const Service& s) = 0;
  virtual Id insert_staff(const Staff& s) = 0;  // with s.service_ids
  // Inserts the customer, or returns the live one with the same (company, phone). Name and
  // email of an existing customer are filled in only where they were empty.
  virtual CustomerUpsert upsert_customer(const Customer& c) = 0;
  virtual Id insert_appointment(const Appointment& a) = 0;  // without segments
  // Inserted active or not as s.active says (an inactive one blocks nothing).
  virtual Id insert_segment(Id company_id, const Segment& s) = 0;
  // Cancel: the segments stay (as the times the appointment had) but stop blocking.
  virtual void deactivate_segments(Id appointment_id) = 0;
  // Reschedule: the old segments go (the history event keeps them); new ones are inserted.
  virtual void delete_segments(Id appointment_id) = 0;
  // status, needs_attention, version, notes, updated_at
  virtual void update_appointment(const Appointment& a) = 0;
  virtual void append_event(const Event& e) = 0;
  // Outbox row for the calendar sync (DESIGN.md "Sync to the calendar").
  virtual void enqueue_sync(Id appointment_id, const std::string& action, std::int64_t version,
                            Instant now) = 0;
  virtual void store_idempotency(Id company_id, const std::string& key, const StoredResponse& r,
                                 Instant now) = 0;
  virtual Id insert_api_key(const ApiKey& k, const std::string& sha256_hex, Instant now) = 0;

  // --- scheduling (issue 3) ---
  // Sets the company's scheduling settings (already validated).
  virtual void update_company_settings(Id company_id, const SchedulingSettings& s) = 0;
  // Replaces all working hours of a staff member (already validated, of the caller's company).
  virtual void replace_working_hours(Id staff_id, const std::vector<WorkingHours>& hours) = 0;
  virtual Id insert_time_off(const TimeOff& t) = 0;  // t.staff_id of the caller's company
  // Deletes time off `id` of the staff member of the company; false when there is none.
  virtual bool delete_time_off(Id company_id, Id staff_id, Id id) = 0;
  virtual Id insert_hold(const Hold& h) = 0;
  // Deletes hold `id` of the company (live or expired); false when there is none.
  virtual bool delete_hold(Id company_id, Id id) = 0;
  // Deletes the expired holds (expires_at <= now) of a staff member: housekeeping only, since
  // every reader already ignores them. Returns how many went.
  virtual int delete_expired_holds(Id staff_id, Instant now) = 0;

  // --- calendar sync (issue 13) ---
  // Inserts or replaces the company's integration with i.provider.
  virtual void put_integration(const Integration& i) = 0;
  // False when there was none.
  virtual bool delete_integration(Id company_id, const std::string& provider) = 0;
  // Replaces every mapping of the staff member (of the caller's company).
  virtual void replace_event_types(Id company_id, Id staff_id,
                                   const std::vector<EventTypeMapping>& mappings) = 0;
  // Up to `limit` appointments with a due job (pending with next_attempt_at <= now, or running
  // with lease_until <= now), the longest due first. PostgreSQL locks their rows for the rest of
  // the transaction, skipping rows another transaction holds (FOR UPDATE SKIP LOCKED), so two
  // workers never claim for one appointment at once; SQLite serialises writes anyway.
  virtual std::vector<Id> claim_due_appointments(Instant now, int limit) = 0;
  // The pending and running jobs of these appointments, ordered by appointment, then version,
  // then id.
  virtual std::vector<SyncJob> open_sync_jobs(std::span<const Id> appointment_ids) = 0;
  // Locks the appointment's row for the rest of the transaction (a no-op on SQLite). The use
  // cases change an appointment's version under the same lock.
  virtual void lock_appointment(Id appointment_id) = 0;
  // Overwrites what a worker changes of job j.id: state, attempts, next_attempt_at, created_at,
  // lease_owner, lease_until, last_error, uncertain, lookup_from, lookup_until.
  virtual void save_sync_job(const SyncJob& j) = 0;
  // Records what is known of an external booking, by (provider, uid): inserts it, or updates
  // ordinal, event type and start; `live` only ever goes from true to false.
  virtual void record_external_booking(const ExternalBooking& b) = 0;
  // Stores a webhook delivery unless one with the same digest of the same company is stored
  // already (nullopt: a duplicate).
  virtual std::optional<Id> insert_webhook(Id company_id, const std::string& provider,
                                           const std::string& digest, const std::string& body,
                                           Instant now) = 0;
  // Deliveries not yet processed, oldest first.
  virtual std::vector<WebhookDelivery> pending_webhooks(int limit) = 0;
  // Marks a delivery processed with an outcome (e.g. "cancelled", "echo", "imported").
  virtual void finish_webhook(Id id, const std::string& outcome, Instant now) = 0;

  // --- phone intake (issue 14) ---
  // Makes these the company's agent ids (the caller has checked no other company has them).
  virtual void replace_agents(Id company_id, const std::vector<std::string>& agent_ids) = 0;
  // Stores a reply. A concurrent duplicate (same company, call, function, fingerprint, seq)
  // that committed first makes the write fail and run again (PostgreSQL), which then replays it.
  virtual void insert_intake_reply(const IntakeReply& r) = 0;
  // Inserts `skeleton` unless the call exists, then locks the call's row for the rest of the
  // transaction (a no-op on SQLite), so that one call's function calls and events are applied
  // one after the other. Returns the call as stored.
  virtual Call lock_call(const Call& skeleton) = 0;
  // Overwrites every field of the call but its ids and created_at.
  virtual void update_call(const Call& c) = 0;
};

}  // namespace appointd::store
