#include "cli/audit_loop.h"

#include <string>

#include "obs/log.h"

namespace appointd::cli {
namespace {

// The label of a check: its invariant's name ("I1" ... "I7"), or "integrity" for the store's own.
std::string check_label(const std::string& name) {
  if (name.size() >= 2 && name[0] == 'I' && name[1] >= '0' && name[1] <= '9')
    return name.substr(0, name.find(' '));
  return "integrity";
}

}  // namespace

AuditLoop::AuditLoop(store::Store& store, obs::Registry& metrics, std::chrono::seconds interval,
                     std::chrono::seconds first_delay)
    : store_(store), metrics_(metrics), interval_(interval) {
  // Registered at start, so that dashboards see the families before the first audit.
  metrics_.gauge("appointd_audit_violations", "Invariant violations found by the last audit");
  metrics_.gauge("appointd_audit_last_run_timestamp_seconds",
                 "Unix time the last audit finished (0: none yet)");
  metrics_.counter("appointd_audit_failures_total", "Audits that could not run");
  thread_ = std::thread([this, first_delay] { loop(first_delay); });
}

AuditLoop::~AuditLoop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void AuditLoop::loop(std::chrono::seconds first_delay) {
  auto wait = first_delay;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      if (cv_.wait_for(lock, wait, [&] { return stop_; })) return;
    }
    run_once();
    wait = interval_;
  }
}

bool AuditLoop::run_once() {
  const auto began = std::chrono::steady_clock::now();
  std::vector<store::Store::Check> checks;
  try {
    checks = store_.audit();
  } catch (const std::exception& e) {
    metrics_.counter("appointd_audit_failures_total", "Audits that could not run").inc();
    obs::log_warn("audit could not run", "\"error\":\"" + obs::json_escape(e.what()) + "\"");
    return false;
  }
  long total = 0;
  std::string broken;
  for (const auto& c : checks) {
    total += c.violations;
    metrics_
        .gauge("appointd_audit_check_violations", "Violations the last audit found, by check",
               {{"check", check_label(c.name)}})
        .set(c.violations);
    if (c.violations)
      broken += (broken.empty() ? "" : ", ") + c.name + ": " + std::to_string(c.violations) +
                (c.detail.empty() ? "" : " (" + c.detail + ")");
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  metrics_.gauge("appointd_audit_violations", "Invariant violations found by the last audit")
      .set(total);
  metrics_.gauge("appointd_audit_duration_milliseconds", "How long the last audit took")
      .set(static_cast<std::int64_t>(seconds * 1000));
  metrics_
      .gauge("appointd_audit_last_run_timestamp_seconds",
             "Unix time the last audit finished (0: none yet)")
      .set(std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
               .count());
  if (total)
    obs::log_error("audit found invariant violations",
                   "\"checks\":\"" + obs::json_escape(broken) + "\"");
  return true;
}

}  // namespace appointd::cli
