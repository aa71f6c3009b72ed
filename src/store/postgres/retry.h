#pragma once
// When the PostgreSQL store runs a write again, and how long it waits first. Pure functions.
#include <chrono>
#include <random>
#include <string>

#include "store/postgres/pg.h"

namespace appointd::store::postgres {

struct RetryPolicy {
  int max_attempts = 8;  // first try included
  std::chrono::microseconds base{2000};
  std::chrono::microseconds cap{200000};
};

// Whether a write that failed with `e` may run again from scratch (its transaction rolled
// back): serialization failure 40001, deadlock 40P01, lock timeout 55P03; a unique violation
// of the idempotency key or of a stored intake reply (a concurrent request with the same key,
// or a retried phone function call, committed first: the retry replays its outcome); an exclusion
// violation 23P01 (a concurrent writer of the same time got there first: the retry's overlap check
// reports the conflict as a domain outcome); and a connection lost in a round trip without the
// COMMIT (nothing was committed; a loss with it is a CommitUncertain, whose outcome is looked up).
bool retryable(const PgError& e);

// Full jitter: uniform in [0, min(cap, base * 2^(attempt-1))], attempt >= 1.
std::chrono::microseconds backoff(const RetryPolicy& p, int attempt, std::mt19937_64& rng);

// A stable label for metrics: the SQLSTATE, or "connection" when the connection was lost.
std::string retry_reason(const PgError& e);

}  // namespace appointd::store::postgres
