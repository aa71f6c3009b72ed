#pragma once
// Runs one claimed sync job against Cal.com: no transaction is open and no lock is held while
// it calls. It reads nothing from the store; the caller hands it what it needs (JobContext) and
// records the returned outcome with finish_job().
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "domain/model.h"
#include "domain/sync.h"
#include "sync/integration.h"
#include "sync/jobs.h"
#include "sync/providers/calcom/calcom_client.h"

namespace appointd::sync {

// What a job needs to know, read just before it runs.
struct JobContext {
  bool connected = false;  // the company has a Cal.com integration whose secrets open
  CalcomSettings settings;
  Appointment appointment;
  std::optional<Customer> customer;
  std::string timezone;                    // IANA zone of the appointment's branch
  std::vector<EventTypeMapping> mappings;  // of the company
  std::vector<ExternalBooking> known;      // the appointment's external bookings
  // No call starts after this (the lease's end minus one call's timeout): a run never outlives
  // its lease, so no other worker can run the job while it does.
  std::chrono::system_clock::time_point deadline = std::chrono::system_clock::time_point::max();
};

// What happened, beyond the job's own outcome.
struct JobRun {
  JobOutcome outcome;
  // kRetry: wait at least this long (a Retry-After); zero: the backoff decides.
  std::chrono::seconds retry_after{0};
  // kRetry: the reason makes an immediate retry right (e.g. duplicates found, to cancel).
  bool retry_now = false;
  // Cal.com failed in a way that says it is unwell (5xx, timeout, unreachable, 429): counts
  // towards the circuit breaker. A successful call resets it (provider_ok).
  bool provider_failure = false;
  bool provider_ok = false;
  int calls = 0;  // provider calls made
};

JobRun run_calcom_job(const SyncJob& job, const JobContext& ctx,
                      const calcom::CalcomClient& client);

// The Cal.com booking as a fact about appointment `appointment_id`. The segment number comes
// from the booking's metadata (our tag) or, without one, `ordinal`.
ExternalBooking fact_of(const calcom::CalcomBooking& b, Id appointment_id, int ordinal);

// The bookings of `list` tagged with the appointment (any segment, any version).
std::vector<calcom::CalcomBooking> tagged(const std::vector<calcom::CalcomBooking>& list,
                                          Id appointment_id);

}  // namespace appointd::sync
