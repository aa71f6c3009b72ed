#include "store/postgres/retry.h"

#include <algorithm>

#include "store/postgres/intake_sql.h"
#include "store/postgres/sql.h"

namespace appointd::store::postgres {

bool retryable(const PgError& e) {
  const std::string& s = e.sqlstate();
  // Never one whose round trip carried COMMIT: that is a CommitUncertain (batch.h).
  if (e.connection_lost()) return true;
  if (s == "40001" || s == "40P01" || s == "55P03" || s == "23P01") return true;
  return s == "23505" && (e.constraint() == sql::kIdempotencyConstraint ||
                          e.constraint() == sql::kIntakeReplyConstraint ||
                          e.constraint() == sql::kIntakeAgentConstraint);
}

std::chrono::microseconds backoff(const RetryPolicy& p, int attempt, std::mt19937_64& rng) {
  const int shift = std::clamp(attempt - 1, 0, 30);
  const auto ceiling = std::min<std::int64_t>(p.cap.count(), p.base.count() << shift);
  std::uniform_int_distribution<std::int64_t> d(0, std::max<std::int64_t>(0, ceiling));
  return std::chrono::microseconds(d(rng));
}

std::string retry_reason(const PgError& e) {
  if (e.connection_lost()) return "connection";
  return e.sqlstate().empty() ? "unknown" : e.sqlstate();
}

}  // namespace appointd::store::postgres
