#pragma once
// The calendar sync's data (DESIGN.md "Sync to the calendar", docs/sync.md): a company's provider
// integration, which Cal.com event type a staff member's service is booked as, the outbox jobs,
// what appointd knows of the bookings it holds in Cal.com, and the inbox of webhook deliveries.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "domain/time.h"

namespace appointd {

using Id = std::int64_t;

inline constexpr const char* kProviderCalcom = "calcom";

// A company's connection to a provider. `secrets` is sealed (sync/secret_box.h): the plaintext is
// a JSON object {"api_key", "webhook_secret"}. `key_fingerprint` names the key that sealed it.
struct Integration {
  Id company_id = 0;
  std::string provider;
  std::string secrets;
  std::string key_fingerprint;
  std::string settings;  // JSON object: {"placeholder_email_domain": "..."}
  Instant updated_at{};
};

// Bookings of `service_id` with `staff_id` are mirrored as bookings of this Cal.com event type.
struct EventTypeMapping {
  Id staff_id = 0;
  Id service_id = 0;
  std::int64_t event_type_id = 0;
  bool operator==(const EventTypeMapping&) const = default;
};

// A booking appointd knows to exist in the provider for an appointment's segment number
// `ordinal` (0-based, in start order). Once not live it never becomes live again.
struct ExternalBooking {
  Id appointment_id = 0;
  int ordinal = 0;
  std::string provider;
  std::string uid;
  std::int64_t event_type_id = 0;
  Instant start{};
  bool live = true;
};

enum class JobState { kPending, kRunning, kDone, kSuperseded, kSkipped, kFailed };
const char* to_string(JobState s);
std::optional<JobState> parse_job_state(std::string_view s);

// One outbox row: appointment `appointment_id` changed to `version` by `action`.
struct SyncJob {
  Id id = 0;
  Id appointment_id = 0;
  Id company_id = 0;
  std::string action;  // book | cancel | reschedule | import | retry | reconcile
  std::int64_t version = 0;
  JobState state = JobState::kPending;
  int attempts = 0;
  Instant next_attempt_at{};
  Instant created_at{};
  std::string lease_owner;  // empty: none
  Instant lease_until{};
  std::string last_error;
  // An earlier attempt for this appointment may have had an effect nobody saw (timeout, 5xx,
  // a worker killed mid-call): look up bookings tagged with the appointment over
  // [lookup_from, lookup_until) before creating any.
  bool uncertain = false;
  Instant lookup_from{};
  Instant lookup_until{};
};

struct SyncJobFilter {
  std::optional<JobState> state;
  std::optional<Id> appointment_id;
  int limit = 100;
};

// What /metrics shows of the outbox.
struct SyncStats {
  struct Count {
    std::string state;
    std::string action;
    long count = 0;
  };
  std::vector<Count> jobs;            // open and finished jobs by state and action
  long due = 0;                       // pending jobs due now, and expired leases
  std::optional<Instant> oldest_due;  // next_attempt_at of the oldest of them
};

// A received webhook, stored before it is answered and processed after.
struct WebhookDelivery {
  Id id = 0;
  Id company_id = 0;
  std::string provider;
  std::string body;
  Instant received_at{};
  int attempts = 0;
};

}  // namespace appointd
