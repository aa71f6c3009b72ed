#pragma once
// Retry delays of the sync worker: exponential backoff with full jitter (a uniformly random
// delay in [0, min(cap, base * 2^(attempt - 1))]), and a per-company circuit breaker.
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <random>

#include "domain/time.h"

namespace appointd::sync {

struct BackoffPolicy {
  std::chrono::seconds base{1};
  std::chrono::seconds cap{60};
};

// The delay before attempt `attempts + 1`, after `attempts` (>= 1) failed ones; `rng` supplies
// the jitter. Never more than the cap, never less than `at_least` (a Retry-After).
std::chrono::seconds backoff_delay(const BackoffPolicy& p, int attempts, std::mt19937_64& rng,
                                   std::chrono::seconds at_least = std::chrono::seconds(0));

// Closed: calls go through. After `threshold` failures in a row it opens: no calls for
// `open_for`. Then half-open: one call probes; its success closes the breaker, its failure
// opens it again. Thread-safe.
class Breaker {
 public:
  enum State { kClosed = 0, kOpen = 1, kHalfOpen = 2 };
  Breaker(int threshold, std::chrono::seconds open_for)
      : threshold_(threshold), open_for_(open_for) {}

  // Whether a call may be made now. In half-open, true for one caller until it reports.
  bool allow(Instant now);
  void success();
  // The caller allow() let through made no call after all: the probe is free again.
  void abandon();
  void failure(Instant now);
  State state(Instant now) const;
  // When an open breaker lets a probe through.
  Instant reopens_at() const;

 private:
  mutable std::mutex mu_;
  const int threshold_;
  const std::chrono::seconds open_for_;
  int failures_ = 0;
  bool open_ = false;
  bool probing_ = false;
  Instant open_until_{};
};

}  // namespace appointd::sync
