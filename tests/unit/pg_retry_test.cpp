// The PostgreSQL store's retry rules (pure functions; no server needed).
#include <gtest/gtest.h>

#include "store/postgres/retry.h"
#include "store/postgres/sql.h"

using namespace appointd::store::postgres;

namespace {
PgError err(const char* sqlstate, const char* constraint = "", bool lost = false) {
  return PgError("x", sqlstate, constraint, lost);
}
}  // namespace

TEST(PgRetry, RetriesTransientConflictsOnly) {
  EXPECT_TRUE(retryable(err("40001")));  // serialization failure
  EXPECT_TRUE(retryable(err("40P01")));  // deadlock
  EXPECT_TRUE(retryable(err("55P03")));  // lock timeout
  EXPECT_TRUE(retryable(err("23P01")));  // exclusion: the retry reports the conflict
  EXPECT_TRUE(retryable(err("23505", sql::kIdempotencyConstraint)));
  EXPECT_FALSE(retryable(err("23505", "customers_live_phone")));
  EXPECT_FALSE(retryable(err("22P02")));  // bad input: a bug, not contention
  EXPECT_FALSE(retryable(err("42P01")));
}

TEST(PgRetry, LostConnectionIsRetriedItsCommitIsNot) {
  // A PgError never stands for a lost COMMIT: the driver reports that as CommitUncertain, whose
  // outcome the store looks up (test_outcome.py) instead of running the write twice.
  EXPECT_TRUE(retryable(err("", "", true)));
  EXPECT_EQ(retry_reason(err("", "", true)), "connection");
  EXPECT_EQ(retry_reason(err("40P01")), "40P01");
}

TEST(PgRetry, BackoffIsFullJitterUnderACappedExponential) {
  RetryPolicy p;
  p.base = std::chrono::microseconds(1000);
  p.cap = std::chrono::microseconds(50000);
  std::mt19937_64 rng(42);
  for (int attempt = 1; attempt <= 12; ++attempt) {
    const auto ceiling = std::min<long>(50000, 1000L << (attempt - 1));
    long lo = ceiling, hi = 0;
    for (int i = 0; i < 2000; ++i) {
      auto d = backoff(p, attempt, rng).count();
      ASSERT_GE(d, 0);
      ASSERT_LE(d, ceiling) << "attempt " << attempt;
      lo = std::min<long>(lo, d);
      hi = std::max<long>(hi, d);
    }
    // Full jitter spreads over the whole range, not around the ceiling.
    EXPECT_LT(lo, ceiling / 10) << "attempt " << attempt;
    EXPECT_GT(hi, ceiling * 9 / 10) << "attempt " << attempt;
  }
}
