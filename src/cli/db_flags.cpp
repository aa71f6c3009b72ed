#include "cli/commands.h"

namespace appointd::cli {

void add_db_flags(CLI::App& cmd, DbFlags& f) {
  cmd.add_option("--db", f.db, "sqlite:PATH or postgresql://...")
      ->envname("APPOINTD_DB")
      ->capture_default_str();
  cmd.add_option("--durability", f.durability,
                 "full: fsync every commit (survives power loss); normal: survives kill -9")
      ->envname("APPOINTD_DURABILITY")
      ->check(CLI::IsMember({"full", "normal"}))
      ->capture_default_str();
  cmd.add_option("--pool-size", f.pool_size,
                 "PostgreSQL: connections of this instance (reads and writes share them)")
      ->envname("APPOINTD_POOL_SIZE")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  cmd.add_option("--pool-wait-ms", f.pool_wait_ms,
                 "PostgreSQL: longest wait for a free connection before answering 503")
      ->envname("APPOINTD_POOL_WAIT_MS")
      ->check(CLI::Range(1, 600000))
      ->capture_default_str();
  cmd.add_option("--lock-timeout-ms", f.lock_timeout_ms,
                 "PostgreSQL: lock_timeout of every connection (a timed-out write is retried)")
      ->envname("APPOINTD_LOCK_TIMEOUT_MS")
      ->check(CLI::Range(1, 600000))
      ->capture_default_str();
  cmd.add_option("--statement-timeout-ms", f.statement_timeout_ms,
                 "PostgreSQL: statement_timeout of every connection")
      ->envname("APPOINTD_STATEMENT_TIMEOUT_MS")
      ->check(CLI::Range(1, 3600000))
      ->capture_default_str();
  cmd.add_option("--pg-probe", f.pg_probe,
                 "PostgreSQL: bookings read their time without the lock first (auto: while "
                 "conflicts are common)")
      ->envname("APPOINTD_PG_PROBE")
      ->check(CLI::IsMember({"auto", "always", "never"}))
      ->capture_default_str();
  cmd.add_option("--pg-writers", f.pg_writers,
                 "PostgreSQL: threads that each run many writes at once over a few connections, "
                 "sharing round trips and commits")
      ->envname("APPOINTD_PG_WRITERS")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  cmd.add_option("--pg-round-trip-timeout-ms", f.round_trip_timeout_ms,
                 "PostgreSQL: a write's round trip unanswered this long gives its connection up "
                 "(a frozen server or a lost network)")
      ->envname("APPOINTD_PG_ROUND_TRIP_TIMEOUT_MS")
      ->check(CLI::Range(100, 3600000))
      ->capture_default_str();
  cmd.add_option("--pg-outcome-wait-ms", f.outcome_wait_ms,
                 "PostgreSQL: how long a write whose COMMIT lost its connection asks whether it "
                 "committed before answering 503 outcome_unknown")
      ->envname("APPOINTD_PG_OUTCOME_WAIT_MS")
      ->check(CLI::Range(0, 600000))
      ->capture_default_str();
}

store::Options store_options(const DbFlags& f) {
  store::Options o;
  o.url = f.db;
  o.durability_full = f.durability == "full";
  o.pool_size = f.pool_size;
  o.pool_wait_ms = f.pool_wait_ms;
  o.lock_timeout_ms = f.lock_timeout_ms;
  o.statement_timeout_ms = f.statement_timeout_ms;
  o.probe = f.pg_probe;
  o.pg_writers = f.pg_writers;
  o.round_trip_timeout_ms = f.round_trip_timeout_ms;
  o.outcome_wait_ms = f.outcome_wait_ms;
  return o;
}

}  // namespace appointd::cli
