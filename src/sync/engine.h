#pragma once
// The calendar sync of one process: outbox workers, the webhook inbox processor and the
// periodic reconciliation, over a Store. Provider calls run on worker threads of their own,
// never inside a transaction and never on the HTTP server's threads.
//
// Thread-safety: every public method may be called from any thread.
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "domain/time.h"
#include "obs/metrics.h"
#include "store/store.h"
#include "sync/secret_box.h"

namespace appointd::sync {

struct SyncOptions {
  std::string calcom_url = "https://api.cal.com";
  std::string ca_file;                      // empty: the system's trust store
  int workers = 1;                          // claim loops; 0: no outbox worker in this process
  int concurrency = 8;                      // provider calls in flight per worker
  std::chrono::seconds lease{60};           // a claimed job is another worker's after this
  std::chrono::seconds backoff_base{1};     // first retry delay ceiling
  std::chrono::seconds backoff_cap{60};     // largest retry delay ceiling
  std::chrono::seconds max_age{24 * 3600};  // a job failing this long becomes failed
  std::chrono::milliseconds call_timeout{15000};
  std::chrono::minutes reconcile_every{15};  // 0: only on demand
  std::chrono::seconds breaker_open{30};
  int breaker_failures = 5;             // failed calls in a row that open a company's breaker
  std::chrono::milliseconds poll{200};  // idle claim interval
  bool inbox = true;                    // process webhook deliveries in this process
  int horizon_days = 90;                // reconciliation looks this far ahead
};

struct ReconcileReport {
  bool ok = false;
  std::string error;
  long listed = 0;      // Cal.com bookings seen
  long imported = 0;    // bookings made in Cal.com, imported
  long conflicts = 0;   // of which collided
  long reenqueued = 0;  // appointments whose external booking was missing or stale
  long matched = 0;     // bookings that matched
  std::string to_text() const;
};

class Engine {
 public:
  // `box` may be null (no key: secrets cannot be read, every job ends skipped).
  Engine(store::Store& store, const Clock& clock, obs::Registry& metrics,
         std::shared_ptr<const SecretBox> box, SyncOptions options);
  ~Engine();  // stops
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  void start();
  void stop();
  // A webhook delivery was stored: process it soon.
  void wake_inbox();
  // Drains the inbox once, synchronously (for tests and the CLI).
  void drain_inbox();
  // Reconciles one company now (blocking; provider calls).
  ReconcileReport reconcile(Id company_id);
  const SecretBox* secrets() const { return box_.get(); }
  const SyncOptions& options() const { return options_; }

  class Impl;

 private:
  std::shared_ptr<const SecretBox> box_;
  SyncOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace appointd::sync
