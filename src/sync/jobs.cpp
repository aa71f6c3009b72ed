#include "sync/jobs.h"

#include <algorithm>
#include <map>

namespace appointd::sync {
namespace {

// The span of the appointment's segments, active or not (a cancelled one keeps its times).
std::optional<Interval> span_of(store::WriteTx& tx, Id company_id, Id appointment_id) {
  auto a = tx.appointment(company_id, appointment_id);
  if (!a || a->segments.empty()) return std::nullopt;
  Interval s{a->segments.front().time.from, a->segments.front().time.until};
  for (const auto& g : a->segments) {
    s.from = std::min(s.from, g.time.from);
    s.until = std::max(s.until, g.time.until);
  }
  return s;
}

void widen(SyncJob& j, Instant from, Instant until) {
  if (j.lookup_until <= j.lookup_from) {
    j.lookup_from = from;
    j.lookup_until = until;
    return;
  }
  j.lookup_from = std::min(j.lookup_from, from);
  j.lookup_until = std::max(j.lookup_until, until);
}

bool leased(const SyncJob& j, Instant now) {
  return j.state == JobState::kRunning && j.lease_until > now;
}

}  // namespace

std::vector<SyncJob> claim_jobs(store::WriteTx& tx, const std::string& owner, Instant now,
                                std::chrono::seconds lease, int limit) {
  std::vector<SyncJob> out;
  // More candidates than the limit: an appointment whose job another worker still runs is
  // passed over, and must not cost a claim its place.
  const auto ids = tx.claim_due_appointments(now, 2 * limit + 8);
  if (ids.empty()) return out;
  std::map<Id, std::vector<SyncJob>> by_appointment;
  for (auto& j : tx.open_sync_jobs(ids)) by_appointment[j.appointment_id].push_back(j);
  for (Id appointment_id : ids) {
    if (static_cast<int>(out.size()) >= limit) break;
    auto found = by_appointment.find(appointment_id);
    if (found == by_appointment.end()) continue;
    auto& jobs = found->second;
    SyncJob newest = jobs.back();  // ordered by version, then id
    bool busy = false, changed = false;
    for (std::size_t i = 0; i + 1 < jobs.size(); ++i) {
      SyncJob& old = jobs[i];
      if (leased(old, now)) {  // its worker still runs it: the newest waits
        busy = true;
        continue;
      }
      // A running job whose lease expired was cut off mid-call: its effect is unknown.
      if (old.uncertain || old.state == JobState::kRunning) {
        newest.uncertain = true;
        if (old.lookup_until > old.lookup_from) widen(newest, old.lookup_from, old.lookup_until);
        changed = true;
      }
      old.state = JobState::kSuperseded;
      old.lease_owner.clear();
      old.last_error = "superseded by version " + std::to_string(newest.version);
      tx.save_sync_job(old);
    }
    const bool due = (newest.state == JobState::kPending && newest.next_attempt_at <= now) ||
                     (newest.state == JobState::kRunning && newest.lease_until <= now);
    if (busy || !due) {
      if (changed) tx.save_sync_job(newest);
      continue;
    }
    if (newest.state == JobState::kRunning) newest.uncertain = true;  // its own lost attempt
    if (auto span = span_of(tx, newest.company_id, appointment_id))
      widen(newest, span->from, span->until);
    newest.state = JobState::kRunning;
    newest.attempts += 1;
    newest.lease_owner = owner;
    // Instants are whole seconds and `now` was cut down to one: add one, so that the lease
    // lasts at least `lease`.
    newest.lease_until = now + lease + std::chrono::seconds(1);
    tx.save_sync_job(newest);
    out.push_back(newest);
  }
  return out;
}

std::optional<JobState> finish_job(store::WriteTx& tx, const SyncJob& job, const std::string& owner,
                                   const JobOutcome& outcome, Instant now,
                                   std::chrono::seconds max_age) {
  tx.lock_appointment(job.appointment_id);
  for (const auto& f : outcome.facts) tx.record_external_booking(f);
  auto cur = tx.sync_job(job.company_id, job.id);
  // The lease is this claim's: same owner and same attempt (a worker may reclaim its own job
  // after the lease ran out; the older run must not decide then).
  if (!cur || cur->state != JobState::kRunning || cur->lease_owner != owner ||
      cur->attempts != job.attempts)
    return std::nullopt;
  SyncJob j = *cur;
  j.lease_owner.clear();
  j.last_error = outcome.error;
  j.uncertain = outcome.kind == JobOutcome::kRetry && outcome.uncertain;
  auto a = tx.appointment(job.company_id, job.appointment_id);
  const std::int64_t synced = outcome.synced_version ? outcome.synced_version : j.version;
  if (!a || a->version != synced) {
    // A newer change exists: its job takes over at the next claim, with this one's window.
    j.state = JobState::kPending;
    j.next_attempt_at = now;
  } else {
    switch (outcome.kind) {
      case JobOutcome::kDone:
        j.state = JobState::kDone;
        break;
      case JobOutcome::kSkipped:
        j.state = JobState::kSkipped;
        break;
      case JobOutcome::kFailed:
        j.state = JobState::kFailed;
        break;
      case JobOutcome::kRetry:
        if (now - j.created_at >= max_age) {
          j.state = JobState::kFailed;
          j.last_error =
              "gave up after " + std::to_string(j.attempts) + " attempts: " + j.last_error;
        } else {
          j.state = JobState::kPending;
          j.next_attempt_at = outcome.retry_at;
        }
        break;
    }
  }
  tx.save_sync_job(j);
  return j.state;
}

Result<SyncJob> retry_job(store::WriteTx& tx, Id company_id, Id job_id, Instant now) {
  auto j = tx.sync_job(company_id, job_id);
  if (!j) return Error::not_found("sync job");
  if (j->state != JobState::kFailed && j->state != JobState::kSkipped)
    return Error::conflict(
        std::string("only a failed or skipped job can be retried; this one is ") +
        to_string(j->state));
  tx.lock_appointment(j->appointment_id);
  j->state = JobState::kPending;
  j->next_attempt_at = now;
  j->created_at = now;
  j->attempts = 0;
  tx.save_sync_job(*j);
  return std::move(*j);
}

}  // namespace appointd::sync
