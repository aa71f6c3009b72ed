// PgTx: the calendar sync's rows (issue 13, migration 007). Unlike SQLite, workers on several
// instances claim at once: a claim locks the appointments' rows (FOR UPDATE SKIP LOCKED), and
// the use cases change an appointment under the same row lock (lock_appointment, or the locked
// read of appointment()).
#include <set>

#include "store/postgres/pg_tx.h"
#include "store/postgres/sync_sql.h"

namespace appointd::store::postgres {
namespace {

Integration read_integration(const Result& r, int i) {
  return {r.i64(i, 0),  r.text(i, 1), r.text(i, 2),
          r.text(i, 3), r.text(i, 4), from_unix(r.i64(i, 5))};
}

ExternalBooking read_external(const Result& r, int i) {
  ExternalBooking b;
  b.appointment_id = r.i64(i, 0);
  b.ordinal = static_cast<int>(r.i64(i, 1));
  b.provider = r.text(i, 2);
  b.uid = r.text(i, 3);
  b.event_type_id = r.i64(i, 4);
  b.start = from_unix(r.i64(i, 5));
  b.live = r.boolean(i, 6);
  return b;
}

// APPOINTD_SYNC_JOB_COLS (sync_sql.h). A NULL instant reads as 0, as SQLite's COALESCE gives.
SyncJob read_job(const Result& r, int i) {
  SyncJob j;
  j.id = r.i64(i, 0);
  j.appointment_id = r.i64(i, 1);
  j.company_id = r.i64(i, 2);
  j.action = r.text(i, 3);
  j.version = r.i64(i, 4);
  j.state = parse_job_state(r.text(i, 5)).value_or(JobState::kPending);
  j.attempts = static_cast<int>(r.i64(i, 6));
  j.next_attempt_at = from_unix(r.i64(i, 7));
  j.created_at = from_unix(r.i64(i, 8));
  j.lease_owner = r.text(i, 9);
  j.lease_until = from_unix(r.i64(i, 10));
  j.last_error = r.text(i, 11);
  j.uncertain = r.boolean(i, 12);
  j.lookup_from = from_unix(r.i64(i, 13));
  j.lookup_until = from_unix(r.i64(i, 14));
  return j;
}

std::vector<SyncJob> jobs_of(const Result& r) {
  std::vector<SyncJob> out;
  out.reserve(static_cast<size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) out.push_back(read_job(r, i));
  return out;
}

}  // namespace

std::optional<Integration> PgTx::integration(Id company_id, const std::string& provider) {
  auto r = read(sql::kIntegration, Params().add(company_id).add(provider));
  if (!r.rows()) return std::nullopt;
  return read_integration(r, 0);
}

std::vector<Integration> PgTx::integrations(const std::string& provider) {
  auto r = read(sql::kIntegrations, Params().add(provider));
  std::vector<Integration> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(read_integration(r, i));
  return out;
}

std::vector<EventTypeMapping> PgTx::event_types(Id company_id, std::optional<Id> staff_id) {
  auto r = staff_id ? read(sql::kEventTypesOfStaff, Params().add(company_id).add(*staff_id))
                    : read(sql::kEventTypesOfCompany, Params().add(company_id));
  std::vector<EventTypeMapping> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back({r.i64(i, 0), r.i64(i, 1), r.i64(i, 2)});
  return out;
}

std::vector<ExternalBooking> PgTx::external_bookings(Id appointment_id) {
  auto r = read(sql::kExternalBookings, Params().add(appointment_id));
  std::vector<ExternalBooking> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(read_external(r, i));
  return out;
}

std::optional<ExternalBooking> PgTx::external_booking(const std::string& provider,
                                                      const std::string& uid) {
  auto r = read(sql::kExternalBooking, Params().add(provider).add(uid));
  if (!r.rows()) return std::nullopt;
  return read_external(r, 0);
}

std::optional<SyncJob> PgTx::sync_job(Id company_id, Id id) {
  auto r = read(sql::kSyncJob, Params().add(company_id).add(id));
  if (!r.rows()) return std::nullopt;
  return read_job(r, 0);
}

std::vector<SyncJob> PgTx::sync_jobs(Id company_id, const SyncJobFilter& f) {
  Params p;
  p.add(company_id);
  if (f.state)
    p.add(to_string(*f.state));
  else
    p.add_null();
  if (f.appointment_id) {
    p.add(*f.appointment_id).add(f.limit);
    return jobs_of(read(sql::kSyncJobsOfAppointment, p));
  }
  p.add(f.limit);
  return jobs_of(read(sql::kSyncJobsOfCompany, p));
}

SyncStats PgTx::sync_stats(Instant now) {
  const std::pair<const Statement*, Params> batch[] = {
      {&sql::kSyncCounts, Params()}, {&sql::kSyncDue, Params().add(to_unix(now))}};
  auto rs = round_trip(batch);
  SyncStats st;
  const Result& counts = rs[0];
  for (int i = 0; i < counts.rows(); ++i)
    st.jobs.push_back({counts.text(i, 0), counts.text(i, 1), static_cast<long>(counts.i64(i, 2))});
  const Result& due = rs[1];
  if (due.rows()) {
    st.due = static_cast<long>(due.i64(0, 0));
    if (!due.is_null(0, 1)) st.oldest_due = from_unix(due.i64(0, 1));
  }
  return st;
}

void PgTx::put_integration(const Integration& i) {
  write(sql::kPutIntegration, Params()
                                  .add(i.company_id)
                                  .add(i.provider)
                                  .add(i.secrets)
                                  .add(i.key_fingerprint)
                                  .add(i.settings)
                                  .add(to_unix(i.updated_at)));
}

bool PgTx::delete_integration(Id company_id, const std::string& provider) {
  return write_returning(sql::kDeleteIntegration, Params().add(company_id).add(provider))
             .affected() > 0;
}

void PgTx::replace_event_types(Id company_id, Id staff_id,
                               const std::vector<EventTypeMapping>& mappings) {
  write(sql::kDeleteEventTypes, Params().add(company_id).add(staff_id));
  if (mappings.empty()) return;
  std::vector<Id> services, event_types;
  for (const auto& m : mappings) {
    services.push_back(m.service_id);
    event_types.push_back(m.event_type_id);
  }
  write(sql::kInsertEventTypes,
        Params().add(company_id).add(staff_id).add_ids(services).add_ids(event_types));
}

std::vector<Id> PgTx::claim_due_appointments(Instant now, int limit) {
  if (!writable_) throw StoreError("postgresql: claim_due_appointments in a read transaction");
  begin();  // the row locks last until the transaction ends
  std::vector<Id> ids;
  {
    auto r = read(sql::kClaimDueAppointments, Params().add(to_unix(now)).add(limit));
    for (int i = 0; i < r.rows(); ++i) ids.push_back(r.i64(i, 0));
  }
  if (ids.empty()) return ids;
  // The claim's snapshot was taken before it locked: a worker that held one of the rows may
  // have leased its jobs and committed since. Under the locks, a new statement sees that.
  std::set<Id> due;
  {
    auto r = read(sql::kStillDue, Params().add(to_unix(now)).add_ids(ids));
    for (int i = 0; i < r.rows(); ++i) due.insert(r.i64(i, 0));
  }
  std::erase_if(ids, [&](Id id) { return !due.count(id); });
  return ids;
}

std::vector<SyncJob> PgTx::open_sync_jobs(std::span<const Id> appointment_ids) {
  if (appointment_ids.empty()) return {};
  const std::vector<Id> ids(appointment_ids.begin(), appointment_ids.end());
  return jobs_of(read(sql::kOpenSyncJobs, Params().add_ids(ids)));
}

void PgTx::lock_appointment(Id appointment_id) {
  if (!writable_) throw StoreError("postgresql: lock_appointment in a read transaction");
  begin();
  c_.defer(sql::kLockAppointment, Params().add(appointment_id));
}

void PgTx::save_sync_job(const SyncJob& j) {
  Params p;
  p.add(j.id).add(to_string(j.state)).add(j.attempts);
  p.add(to_unix(j.next_attempt_at)).add(to_unix(j.created_at));
  p.add_text_or_null(j.lease_owner);
  if (j.lease_owner.empty())
    p.add_null();
  else
    p.add(to_unix(j.lease_until));
  p.add_text_or_null(j.last_error).add(j.uncertain);
  if (j.lookup_until > j.lookup_from)  // the window the job works on (or may have worked on)
    p.add(to_unix(j.lookup_from)).add(to_unix(j.lookup_until));
  else
    p.add_null().add_null();
  write(sql::kSaveSyncJob, std::move(p));
}

void PgTx::record_external_booking(const ExternalBooking& b) {
  write(sql::kRecordExternalBooking, Params()
                                         .add(b.appointment_id)
                                         .add(b.ordinal)
                                         .add(b.provider)
                                         .add(b.uid)
                                         .add(b.event_type_id)
                                         .add(to_unix(b.start))
                                         .add(b.live));
}

std::optional<Id> PgTx::insert_webhook(Id company_id, const std::string& provider,
                                       const std::string& digest, const std::string& body,
                                       Instant now) {
  auto r = write_returning(
      sql::kInsertWebhook,
      Params().add(company_id).add(provider).add(digest).add(body).add(to_unix(now)));
  if (!r.rows()) return std::nullopt;
  return r.i64(0, 0);
}

std::vector<WebhookDelivery> PgTx::pending_webhooks(int limit) {
  auto r = read(sql::kPendingWebhooks, Params().add(limit));
  std::vector<WebhookDelivery> out;
  for (int i = 0; i < r.rows(); ++i)
    out.push_back({r.i64(i, 0), r.i64(i, 1), r.text(i, 2), r.text(i, 3), from_unix(r.i64(i, 4))});
  return out;
}

void PgTx::finish_webhook(Id id, const std::string& outcome, Instant now) {
  write(sql::kFinishWebhook, Params().add(id).add(to_unix(now)).add(outcome));
}

}  // namespace appointd::store::postgres
