#include "sync/backoff.h"

#include <algorithm>

namespace appointd::sync {

std::chrono::seconds backoff_delay(const BackoffPolicy& p, int attempts, std::mt19937_64& rng,
                                   std::chrono::seconds at_least) {
  const int shift = std::clamp(attempts - 1, 0, 30);
  const std::int64_t ceiling =
      std::min<std::int64_t>(p.cap.count(), p.base.count() * (std::int64_t{1} << shift));
  std::uniform_int_distribution<std::int64_t> pick(0, std::max<std::int64_t>(ceiling, 0));
  return std::max(std::chrono::seconds(pick(rng)), at_least);
}

bool Breaker::allow(Instant now) {
  std::lock_guard lock(mu_);
  if (!open_) return true;
  if (now < open_until_ || probing_) return false;
  probing_ = true;  // half-open: this caller probes
  return true;
}

void Breaker::success() {
  std::lock_guard lock(mu_);
  failures_ = 0;
  open_ = false;
  probing_ = false;
}

void Breaker::abandon() {
  std::lock_guard lock(mu_);
  probing_ = false;
}

void Breaker::failure(Instant now) {
  std::lock_guard lock(mu_);
  ++failures_;
  if (probing_ || failures_ >= threshold_) {
    open_ = true;
    probing_ = false;
    open_until_ = now + open_for_;
  }
}

Breaker::State Breaker::state(Instant now) const {
  std::lock_guard lock(mu_);
  if (!open_) return kClosed;
  return now < open_until_ ? kOpen : kHalfOpen;
}

Instant Breaker::reopens_at() const {
  std::lock_guard lock(mu_);
  return open_until_;
}

}  // namespace appointd::sync
