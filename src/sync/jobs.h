#pragma once
// The outbox's state changes, as functions over one write transaction (run through
// Store::write: the writer thread on SQLite, a transaction holding the appointments' row locks
// on PostgreSQL). No provider call ever happens inside them.
//
// Per appointment only the newest open job runs; the older ones are superseded by it, since a
// job brings the calendar to the appointment's CURRENT state, whatever change made it. A job
// that may have had an effect nobody saw (a timeout, a 5xx, a worker killed mid-call) hands the
// time window it worked on to its successor, which looks up what exists there before creating.
#include <chrono>
#include <string>
#include <vector>

#include "domain/error.h"
#include "domain/sync.h"
#include "store/tx.h"

namespace appointd::sync {

// Claims up to `limit` due jobs for `owner` until now + lease: for every appointment with a due
// job, the older open jobs are superseded and the newest is leased, unless another worker's
// lease on one of them is still running. Returns the leased jobs (state running, attempts
// counted, lookup window set to the appointment's current span, widened by the windows of
// uncertain predecessors).
std::vector<SyncJob> claim_jobs(store::WriteTx& tx, const std::string& owner, Instant now,
                                std::chrono::seconds lease, int limit);

// What running a job found.
struct JobOutcome {
  enum Kind {
    kDone,     // the calendar matches the appointment's version
    kSkipped,  // nothing to do by configuration (not connected, nothing mapped)
    kRetry,    // try again at `retry_at`
    kFailed,   // a definite refusal that retrying cannot fix; retriable by API
  } kind = kDone;
  std::string error;  // last_error
  Instant retry_at{};
  bool uncertain = false;              // kRetry: an effect may have happened unseen
  std::vector<ExternalBooking> facts;  // what was learnt of the calendar, recorded in any case
  // The appointment version the run brought the calendar to (it reads the appointment when it
  // starts, so this may be newer than the job's own version). 0: unknown.
  std::int64_t synced_version = 0;
};

// Records the outcome of `job` as leased by `owner`: the facts always (they are true whoever
// holds the lease); the job's state only while the lease is still `owner`'s. When the
// appointment's version moved on after the run read it (outcome.synced_version), the job goes
// back to pending (uncertain if the outcome was): every change enqueues a job, so the next claim
// supersedes this one by the newer. A kRetry past
// `max_age` since the job was created becomes kFailed.
// Returns the state the job was left in (nullopt: the lease was lost).
std::optional<JobState> finish_job(store::WriteTx& tx, const SyncJob& job, const std::string& owner,
                                   const JobOutcome& outcome, Instant now,
                                   std::chrono::seconds max_age);

// Makes a failed or skipped job of the company pending and due now, with a fresh max-age
// window. Errors: not_found, conflict (another state).
Result<SyncJob> retry_job(store::WriteTx& tx, Id company_id, Id job_id, Instant now);

}  // namespace appointd::sync
