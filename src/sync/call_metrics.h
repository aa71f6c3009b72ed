#pragma once
// Latency of the calls the sync makes to a calendar provider:
// appointd_sync_call_duration_seconds{endpoint, status_class}, a histogram. Both labels come
// from fixed sets, so the number of series is bounded.
#include <chrono>
#include <functional>
#include <string_view>

#include "obs/metrics.h"
#include "sync/http_client.h"

namespace appointd::sync {

// The provider calls, as the `endpoint` label.
enum class SyncEndpoint { kCreate, kCancel, kReschedule, kGet, kList };
const char* to_string(SyncEndpoint endpoint);  // "create", "cancel", ...

// The `status_class` label of one HTTP call: "2xx", "3xx", "4xx", "5xx" for an answer (other
// codes: "other"), "uncertain" when no complete answer came, "unreachable" when nothing was sent.
const char* status_class(HttpResultKind kind, int status);

// Called once per HTTP call (a list of several pages calls it once per page), on the calling
// thread; it must be thread-safe.
using CallObserver = std::function<void(SyncEndpoint endpoint, std::string_view status_class,
                                        std::chrono::duration<double> elapsed)>;

inline constexpr const char* kCallDurationMetric = "appointd_sync_call_duration_seconds";

// An observer that records into `registry`'s kCallDurationMetric histogram. The registry must
// outlive the observer.
CallObserver call_duration_observer(obs::Registry& registry);

// The histogram's bounds in seconds: 5 ms .. 30 s (calls time out after 15 s by default).
std::vector<double> call_duration_buckets();

}  // namespace appointd::sync
