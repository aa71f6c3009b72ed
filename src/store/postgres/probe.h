#pragma once
// Whether a booking on PostgreSQL first reads its time without the staff lock (PgTx): a
// conflict found so is answered at once, from a read-only transaction that never takes the lock
// nor sends the customer upsert; a free time then costs one more round trip (the check under the
// lock, which decides). Which is cheaper depends on how often bookings conflict, so the policy
// keeps a moving average of recent outcomes and probes while conflicts are common. Both ways
// give the same answers. Thread-safe.
#include <atomic>

namespace appointd::store::postgres {

// A moving average of yes/no outcomes, about the last 32 weighing most; concurrent updates may
// lose one (it is an average, not a count). Thread-safe.
class MovingRate {
 public:
  static constexpr int kOne = 1 << 16;  // the rate when every outcome was yes
  int value() const { return rate_.load(std::memory_order_relaxed); }
  void record(bool yes) {
    const int r = value();
    rate_.store(r + ((yes ? kOne : 0) - r) / kWindow, std::memory_order_relaxed);
  }

 private:
  static constexpr int kWindow = 32;
  std::atomic<int> rate_{0};
};

class ProbePolicy {
 public:
  enum class Mode { kNever, kAlways, kAuto };
  explicit ProbePolicy(Mode mode = Mode::kAuto) : mode_(mode) {}

  bool probe_first() const {
    if (mode_ != Mode::kAuto) return mode_ == Mode::kAlways;
    return rate_.value() > kThreshold;
  }
  // The outcome of a booking's first overlap check.
  void record(bool conflict) { rate_.record(conflict); }

 private:
  // Break-even: a probed conflict saves ~6 statements and the lock, a probed free time costs
  // one round trip and a statement (~3 statements' worth).
  static constexpr int kThreshold = MovingRate::kOne * 35 / 100;
  Mode mode_;
  MovingRate rate_;
};

// Whether a conflict's alternatives read a day around the request at once, or the hours around
// it first and the rest of the day only when those do not yield enough (PgTx reads just the
// rest then, in a round trip of its own). The second reads far fewer rows while calendars have
// room, the first saves a round trip when they are full. The policy keeps a moving average of
// how often recent conflicts needed the rest of the day and reads it at once while most did.
// Thread-safe.
class ReachPolicy {
 public:
  bool wide_first() const { return rate_.value() > MovingRate::kOne / 2; }
  // Whether a conflict's alternatives needed the rest of the day.
  void record(bool needed_rest) { rate_.record(needed_rest); }

 private:
  MovingRate rate_;
};

}  // namespace appointd::store::postgres
