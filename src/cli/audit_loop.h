#pragma once
// The invariant audit (Store::audit: I1-I4, I7 and the store's own integrity), run in the
// background of `serve` every interval and exported as metrics, so that an alert fires when an
// invariant is found broken (deploy/prometheus/alerts.yml, AppointdAuditViolations):
//   appointd_audit_violations                    violations the last audit found (all checks)
//   appointd_audit_check_violations{check="I1"}  the same per check (fixed set of labels)
//   appointd_audit_last_run_timestamp_seconds    when the last audit finished (0: none yet)
//   appointd_audit_duration_milliseconds         how long it took
//   appointd_audit_failures_total                audits that could not run (store unreachable)
// A violation is also logged at `error`, once per audit that finds one.
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "obs/metrics.h"
#include "store/store.h"

namespace appointd::cli {

class AuditLoop {
 public:
  // Starts the thread; the first audit runs after `first_delay`, then every `interval`.
  AuditLoop(store::Store& store, obs::Registry& metrics, std::chrono::seconds interval,
            std::chrono::seconds first_delay);
  // Stops and joins (an audit in progress finishes first).
  ~AuditLoop();
  AuditLoop(const AuditLoop&) = delete;
  AuditLoop& operator=(const AuditLoop&) = delete;

  // Runs one audit now, on the calling thread, and exports it. False when it could not run.
  bool run_once();

 private:
  void loop(std::chrono::seconds first_delay);

  store::Store& store_;
  obs::Registry& metrics_;
  const std::chrono::seconds interval_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace appointd::cli
