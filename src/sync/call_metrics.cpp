#include "sync/call_metrics.h"

#include <string>

namespace appointd::sync {

const char* to_string(SyncEndpoint endpoint) {
  switch (endpoint) {
    case SyncEndpoint::kCreate:
      return "create";
    case SyncEndpoint::kCancel:
      return "cancel";
    case SyncEndpoint::kReschedule:
      return "reschedule";
    case SyncEndpoint::kGet:
      return "get";
    case SyncEndpoint::kList:
      return "list";
  }
  return "unknown";
}

const char* status_class(HttpResultKind kind, int status) {
  switch (kind) {
    case HttpResultKind::kConnectFailed:
      return "unreachable";
    case HttpResultKind::kUncertain:
      return "uncertain";
    case HttpResultKind::kOk:
      break;
  }
  if (status >= 200 && status < 300) return "2xx";
  if (status >= 300 && status < 400) return "3xx";
  if (status >= 400 && status < 500) return "4xx";
  if (status >= 500 && status < 600) return "5xx";
  return "other";
}

std::vector<double> call_duration_buckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30};
}

CallObserver call_duration_observer(obs::Registry& registry) {
  return [&registry, bounds = call_duration_buckets()](SyncEndpoint endpoint, std::string_view cls,
                                                       std::chrono::duration<double> elapsed) {
    // The registry looks the series up under its mutex: cheap beside a network call.
    registry
        .histogram(kCallDurationMetric, "duration of calls to the calendar provider", bounds,
                   {{"endpoint", to_string(endpoint)}, {"status_class", std::string(cls)}})
        .observe(elapsed.count());
  };
}

}  // namespace appointd::sync
