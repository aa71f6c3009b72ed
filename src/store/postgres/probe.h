#pragma once
// Whether a booking on PostgreSQL first reads its time without the staff lock (PgTx): a
// conflict found so is answered at once, from a read-only transaction that never takes the lock
// nor sends the customer upsert; a free time then costs one more round trip (the check under the
// lock, which decides). Which is cheaper depends on how often bookings conflict, so the policy
// keeps a moving average of recent outcomes and probes while conflicts are common. Both ways
// give the same answers. Thread-safe.
#include <atomic>

namespace appointd::store::postgres {

class ProbePolicy {
 public:
  enum class Mode { kNever, kAlways, kAuto };
  explicit ProbePolicy(Mode mode = Mode::kAuto) : mode_(mode) {}

  bool probe_first() const {
    if (mode_ != Mode::kAuto) return mode_ == Mode::kAlways;
    return rate_.load(std::memory_order_relaxed) > kThreshold;
  }
  // The outcome of a booking's first overlap check. Concurrent updates may lose one: it is an
  // average, not a count.
  void record(bool conflict) {
    const int r = rate_.load(std::memory_order_relaxed);
    rate_.store(r + ((conflict ? kOne : 0) - r) / kWindow, std::memory_order_relaxed);
  }

 private:
  static constexpr int kOne = 1 << 16;
  static constexpr int kWindow = 32;  // about the last 32 bookings weigh most
  // Break-even: a probed conflict saves ~6 statements and the lock, a probed free time costs
  // one round trip and a statement (~3 statements' worth).
  static constexpr int kThreshold = kOne * 35 / 100;
  Mode mode_;
  std::atomic<int> rate_{0};
};

}  // namespace appointd::store::postgres
