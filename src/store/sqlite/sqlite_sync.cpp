// SqliteTx: the calendar sync's rows (issue 13). Writes run on the writer thread, so a claim
// needs no lock: SQLite serialises it with every booking.
#include "store/sqlite/db.h"
#include "store/sqlite/sqlite_tx.h"
#include "store/sqlite/sync_sql.h"

namespace appointd::store::sqlite {
namespace {

Integration read_integration(Stmt& s) {
  return {s.i64(0), s.text(1), s.text(2), s.text(3), s.text(4), from_unix(s.i64(5))};
}

ExternalBooking read_external(Stmt& s) {
  ExternalBooking b;
  b.appointment_id = s.i64(0);
  b.ordinal = static_cast<int>(s.i64(1));
  b.provider = s.text(2);
  b.uid = s.text(3);
  b.event_type_id = s.i64(4);
  b.start = from_unix(s.i64(5));
  b.live = s.i64(6) != 0;
  return b;
}

SyncJob read_job(Stmt& s) {
  SyncJob j;
  j.id = s.i64(0);
  j.appointment_id = s.i64(1);
  j.company_id = s.i64(2);
  j.action = s.text(3);
  j.version = s.i64(4);
  j.state = parse_job_state(s.text(5)).value_or(JobState::kPending);
  j.attempts = static_cast<int>(s.i64(6));
  j.next_attempt_at = from_unix(s.i64(7));
  j.created_at = from_unix(s.i64(8));
  j.lease_owner = s.text(9);
  j.lease_until = from_unix(s.i64(10));
  j.last_error = s.text(11);
  j.uncertain = s.i64(12) != 0;
  j.lookup_from = from_unix(s.i64(13));
  j.lookup_until = from_unix(s.i64(14));
  return j;
}

}  // namespace

std::optional<Integration> SqliteTx::integration(Id company_id, const std::string& provider) {
  auto s = c_.prepare(sql::kIntegration);
  s.bind(1, company_id).bind(2, provider);
  if (!s.step()) return std::nullopt;
  return read_integration(s);
}

std::vector<Integration> SqliteTx::integrations(const std::string& provider) {
  auto s = c_.prepare(sql::kIntegrations);
  s.bind(1, provider);
  std::vector<Integration> out;
  while (s.step()) out.push_back(read_integration(s));
  return out;
}

std::vector<EventTypeMapping> SqliteTx::event_types(Id company_id, std::optional<Id> staff_id) {
  auto s = c_.prepare(sql::kEventTypes);
  s.bind(1, company_id);
  if (staff_id)
    s.bind(2, *staff_id);
  else
    s.bind_null(2);
  std::vector<EventTypeMapping> out;
  while (s.step()) out.push_back({s.i64(0), s.i64(1), s.i64(2)});
  return out;
}

std::vector<ExternalBooking> SqliteTx::external_bookings(Id appointment_id) {
  auto s = c_.prepare(sql::kExternalBookings);
  s.bind(1, appointment_id);
  std::vector<ExternalBooking> out;
  while (s.step()) out.push_back(read_external(s));
  return out;
}

std::optional<ExternalBooking> SqliteTx::external_booking(const std::string& provider,
                                                          const std::string& uid) {
  auto s = c_.prepare(sql::kExternalBooking);
  s.bind(1, provider).bind(2, uid);
  if (!s.step()) return std::nullopt;
  return read_external(s);
}

std::optional<SyncJob> SqliteTx::sync_job(Id company_id, Id id) {
  auto s = c_.prepare(sql::kSyncJob);
  s.bind(1, company_id).bind(2, id);
  if (!s.step()) return std::nullopt;
  return read_job(s);
}

std::vector<SyncJob> SqliteTx::sync_jobs(Id company_id, const SyncJobFilter& f) {
  auto s = c_.prepare(sql::kSyncJobs);
  s.bind(1, company_id);
  if (f.state)
    s.bind(2, to_string(*f.state));
  else
    s.bind_null(2);
  if (f.appointment_id)
    s.bind(3, *f.appointment_id);
  else
    s.bind_null(3);
  s.bind(4, f.limit);
  std::vector<SyncJob> out;
  while (s.step()) out.push_back(read_job(s));
  return out;
}

SyncStats SqliteTx::sync_stats(Instant now) {
  SyncStats st;
  {
    auto s = c_.prepare(sql::kSyncCounts);
    while (s.step()) st.jobs.push_back({s.text(0), s.text(1), static_cast<long>(s.i64(2))});
  }
  auto s = c_.prepare(sql::kSyncDue);
  s.bind(1, to_unix(now));
  if (s.step()) {
    st.due = static_cast<long>(s.i64(0));
    if (!s.is_null(1)) st.oldest_due = from_unix(s.i64(1));
  }
  return st;
}

void SqliteTx::put_integration(const Integration& i) {
  auto s = c_.prepare(sql::kPutIntegration);
  s.bind(1, i.company_id).bind(2, i.provider).bind(3, i.secrets).bind(4, i.key_fingerprint);
  s.bind(5, i.settings).bind(6, to_unix(i.updated_at));
  s.exec();
}

bool SqliteTx::delete_integration(Id company_id, const std::string& provider) {
  auto s = c_.prepare(sql::kDeleteIntegration);
  s.bind(1, company_id).bind(2, provider);
  s.exec();
  return c_.changes() > 0;
}

void SqliteTx::replace_event_types(Id company_id, Id staff_id,
                                   const std::vector<EventTypeMapping>& mappings) {
  {
    auto s = c_.prepare(sql::kDeleteEventTypes);
    s.bind(1, company_id).bind(2, staff_id);
    s.exec();
  }
  for (const auto& m : mappings) {
    auto s = c_.prepare(sql::kInsertEventType);
    s.bind(1, company_id).bind(2, staff_id).bind(3, m.service_id).bind(4, m.event_type_id);
    s.exec();
  }
}

std::vector<Id> SqliteTx::claim_due_appointments(Instant now, int limit) {
  auto s = c_.prepare(sql::kDueAppointments);
  s.bind(1, to_unix(now)).bind(2, limit);
  std::vector<Id> out;
  while (s.step()) out.push_back(s.i64(0));
  return out;
}

std::vector<SyncJob> SqliteTx::open_sync_jobs(std::span<const Id> appointment_ids) {
  std::vector<SyncJob> out;
  for (Id id : appointment_ids) {
    auto s = c_.prepare(sql::kOpenSyncJobs);
    s.bind(1, id);
    while (s.step()) out.push_back(read_job(s));
  }
  return out;
}

void SqliteTx::save_sync_job(const SyncJob& j) {
  auto s = c_.prepare(sql::kSaveSyncJob);
  s.bind(1, j.id).bind(2, to_string(j.state)).bind(3, j.attempts);
  s.bind(4, to_unix(j.next_attempt_at)).bind(5, to_unix(j.created_at));
  s.bind_text_or_null(6, j.lease_owner);
  if (j.lease_owner.empty())
    s.bind_null(7);
  else
    s.bind(7, to_unix(j.lease_until));
  s.bind_text_or_null(8, j.last_error).bind(9, j.uncertain ? 1 : 0);
  if (j.lookup_until > j.lookup_from)  // the window the job works on (or may have worked on)
    s.bind(10, to_unix(j.lookup_from)).bind(11, to_unix(j.lookup_until));
  else
    s.bind_null(10).bind_null(11);
  s.exec();
}

void SqliteTx::record_external_booking(const ExternalBooking& b) {
  auto s = c_.prepare(sql::kRecordExternalBooking);
  s.bind(1, b.appointment_id).bind(2, b.ordinal).bind(3, b.provider).bind(4, b.uid);
  s.bind(5, b.event_type_id).bind(6, to_unix(b.start)).bind(7, b.live ? 1 : 0);
  s.exec();
}

std::optional<Id> SqliteTx::insert_webhook(Id company_id, const std::string& provider,
                                           const std::string& digest, const std::string& body,
                                           Instant now) {
  auto s = c_.prepare(sql::kInsertWebhook);
  s.bind(1, company_id).bind(2, provider).bind(3, digest).bind(4, body).bind(5, to_unix(now));
  s.exec();
  if (c_.changes() == 0) return std::nullopt;
  return c_.last_insert_id();
}

std::vector<WebhookDelivery> SqliteTx::pending_webhooks(int limit) {
  auto s = c_.prepare(sql::kPendingWebhooks);
  s.bind(1, limit);
  std::vector<WebhookDelivery> out;
  while (s.step()) out.push_back({s.i64(0), s.i64(1), s.text(2), s.text(3), from_unix(s.i64(4))});
  return out;
}

void SqliteTx::finish_webhook(Id id, const std::string& outcome, Instant now) {
  auto s = c_.prepare(sql::kFinishWebhook);
  s.bind(1, id).bind(2, to_unix(now)).bind(3, outcome);
  s.exec();
}

}  // namespace appointd::store::sqlite
