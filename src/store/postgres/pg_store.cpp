#include "store/postgres/pg_store.h"

#include <chrono>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "obs/log.h"
#include "store/postgres/batch.h"
#include "store/postgres/migrate.h"
#include "store/postgres/pg_tx.h"
#include "store/postgres/pool.h"
#include "store/postgres/readiness.h"
#include "store/postgres/retry.h"
#include "store/postgres/sql.h"

namespace appointd::store::postgres {
namespace {

// Writes waiting for a store thread beyond this are refused (503) instead of queueing without
// bound while the database is slow or gone.
constexpr size_t kMaxQueued = 10000;

std::vector<std::string> session_setup(const Options& o) {
  // Constant text with integers from the validated options (never request input).
  return {"SET lock_timeout = " + std::to_string(std::max(1, o.lock_timeout_ms)),
          "SET statement_timeout = " + std::to_string(std::max(1, o.statement_timeout_ms)),
          "SET idle_in_transaction_session_timeout = " +
              std::to_string(std::max(1000, 2 * o.statement_timeout_ms)),
          "SET TIME ZONE 'UTC'",
          // Every statement is prepared once per connection; planning it again at each run
          // (what `auto` does for a statement whose generic plan looks costlier, e.g. with
          // arrays or time ranges) was a tenth of the server's CPU per booking. A statement
          // whose best plan depends on which optional filters are set is split instead (sql.h).
          "SET plan_cache_mode = force_generic_plan"};
}

PoolMetrics pool_metrics(obs::Registry* m, int size) {
  if (!m) return {};
  m->gauge("appointd_pg_pool_max", "Connections the pool may open").set(size);
  return {&m->gauge("appointd_pg_pool_in_use", "Pooled connections lent out"),
          &m->gauge("appointd_pg_pool_size", "Pooled connections open"),
          &m->histogram("appointd_pg_pool_wait_seconds", "Wait for a pooled connection",
                        obs::latency_buckets())};
}

class PgStore final : public Store {
 public:
  PgStore(const Options& opts, const std::string& url)
      : opts_(opts),
        pool_(url, session_setup(opts), opts.pool_size,
              std::chrono::milliseconds(std::max(1, opts.pool_wait_ms)),
              pool_metrics(opts.metrics, opts.pool_size)),
        catalog_(opts.metrics ? &opts.metrics->counter("appointd_pg_catalog_loads_total",
                                                       "Company catalogs read into this instance")
                              : nullptr) {
    {
      auto c = pool_.connect_direct();
      apply_migrations(*c);
    }
    if (opts.metrics) {
      auto& m = *opts.metrics;
      lock_wait_ =
          &m.histogram("appointd_pg_lock_wait_seconds",
                       "Time to take the staff row locks of a write", obs::latency_buckets());
      deadlocks_ = &m.counter("appointd_pg_deadlocks_total",
                              "Write transactions chosen as deadlock victims (40P01)");
      exhausted_ = &m.counter("appointd_pg_retries_exhausted_total",
                              "Writes that failed with 503 after their last retry");
      failures_ = &m.counter("appointd_write_failures_total",
                             "Writes that ended in an infrastructure error");
      commit_ =
          &m.histogram("appointd_write_commit_seconds",
                       "Duration of a write from BEGIN to durable COMMIT", obs::latency_buckets());
      probe_missed_ = &m.counter("appointd_pg_probe_missed_total",
                                 "Probed bookings run again under the lock: they wrote after all");
      stale_ = &m.counter("appointd_pg_catalog_stale_total",
                          "Writes run again because a company's catalog changed under them");
      outcomes_learned_ = &m.counter(
          "appointd_pg_commit_outcomes_learned_total",
          "Writes whose COMMIT lost its connection, and whose outcome was then read back");
      outcomes_unknown_ = &m.counter(
          "appointd_pg_commit_outcomes_unknown_total",
          "Writes whose COMMIT lost its connection and whose outcome could not be learned (503 "
          "outcome_unknown)");
    }
    // Writes as fibers on a few driver threads, sharing round trips and commits (batch.h).
    DriverMetrics dm;
    if (opts.metrics) {
      auto& m = *opts.metrics;
      dm.fibers =
          &m.histogram("appointd_pg_round_trip_writes",
                       "Writes served by one round trip of a driver", {1, 2, 4, 8, 16, 32, 64});
      dm.merged = &m.histogram("appointd_pg_merged_commit_writes",
                               "Writes committed together in one merged transaction",
                               {1, 2, 4, 8, 16, 32, 64});
      dm.resent = &m.counter("appointd_pg_writes_resent_total",
                             "Writes sent again because a write sharing their round trip failed");
    }
    for (int i = 0; i < std::max(1, opts.pg_writers); ++i) {
      auto rng = std::make_shared<std::mt19937_64>(std::random_device{}() ^
                                                   (static_cast<std::uint64_t>(i) << 32));
      drivers_.push_back(std::make_unique<Driver>(
          pool_, queue_,
          [this, rng](const WriteFn& fn, FiberSession& s) { return run_fiber(fn, s, *rng); }, dm,
          // Half the pool at most: reads (GET requests) keep the other half.
          kFibersPerDriver, static_cast<size_t>(std::max(2, opts.pool_size / 2)),
          std::chrono::milliseconds(opts.round_trip_timeout_ms)));
    }
  }

  ~PgStore() override {
    queue_.stop();
    drivers_.clear();  // each returns once every write it took is done
  }

  std::string backend() const override { return "postgresql"; }

  // A state refreshed in the background (readiness.h): never waits on the database.
  bool ready() override { return readiness_.ready(); }

  void write(WriteFn fn, DoneFn done) override { queue_.push({std::move(fn), std::move(done)}); }

  void read(const ReadFn& fn) override {
    try {
      auto lease = pool_.acquire();
      Connection& c = *lease;
      try {
        // Queued: it travels with the first statement.
        c.defer("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY");
        PgTx tx(c, false);
        fn(tx);
        c.commit();
      } catch (...) {
        c.rollback_quietly();
        throw;
      }
    } catch (const PgError& e) {
      if (e.connection_lost()) {
        pool_.drop_idle();
        throw StoreUnavailable(e.what());
      }
      throw;
    }
  }

  std::vector<Check> audit() override {
    std::vector<Check> out;
    auto c = pool_.connect_direct();
    c->exec("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY");
    auto count = [&](const Statement& s) { return static_cast<long>(c->run(s).i64(0, 0)); };
    out.push_back({"I1 no overlapping active segments or live holds per staff member",
                   count(sql::kAuditOverlaps), ""});
    out.push_back({"I2 one live customer per (company, phone)", count(sql::kAuditCustomers), ""});
    out.push_back(
        {"I3 one appointment per (provider, external id)", count(sql::kAuditExternal), ""});
    out.push_back(
        {"I4 one outcome per (company, idempotency key)", count(sql::kAuditIdempotency), ""});
    out.push_back({"I7 appointments reference only their company's branch, staff and services",
                   count(sql::kAuditReferences), ""});
    {
      auto r = c->run(sql::kAuditStructure);
      std::string missing;
      for (int i = 0; i < r.rows(); ++i)
        missing += (i ? ", " : "missing or invalid: ") + r.text(i, 0);
      out.push_back({"postgresql integrity: exclusion constraints and unique indexes valid",
                     r.rows(), missing});
    }
    c->exec("COMMIT");
    return out;
  }

 private:
  // A write in a driver's fiber: runs fn in a transaction over the fiber's session until it
  // commits, fails for good, or runs out of retries. A probed booking whose time was taken since
  // its probe probes once more (its write would otherwise need the connection to itself).
  std::exception_ptr run_fiber(const WriteFn& fn, FiberSession& c, std::mt19937_64& rng) {
    auto err = run(fn, c, rng);
    if (err && failures_) failures_->inc();
    return err;
  }

  // Never suspends the fiber inside a catch block: the C++ runtime keeps the exceptions being
  // handled per thread, not per fiber, so another fiber's throw and catch there would free the
  // one still in hand. A handler only notes what to do; the waiting happens after it.
  std::exception_ptr run(const WriteFn& fn, FiberSession& c, std::mt19937_64& rng) {
    bool probe = true;
    int misses = 0;
    for (int attempt = 1;; ++attempt) {
      // A probed booking that must run again with its check under the lock (it wrote after
      // the probe answered it, or its time was taken before the lock): nothing committed.
      auto without_probe = [&](bool taken) -> std::exception_ptr {
        if (probe_missed_) probe_missed_->inc();
        probe = taken && ++misses < 2;
        if (attempt < kMaxStaleAttempts) return nullptr;
        return std::make_exception_ptr(StoreUnavailable("postgresql: the write kept failing"));
      };
      std::optional<std::string> retry;       // its cause, to back off and run again
      std::string error;                      // what failed (for the log)
      std::optional<std::int64_t> uncertain;  // a lost COMMIT's transaction id (0: unknown)
      const auto began = SteadyClock::now();
      std::exception_ptr failed;
      try {
        // Queued: BEGIN travels with the first lock or write (PgTx::begin), and the statements
        // still queued when fn returns travel with COMMIT. An error of one of those surfaces
        // here, before COMMIT ran (the pipeline skips the rest): retryable as usual. A
        // connection lost in the round trip that carries COMMIT is CommitUncertain.
        PgTx tx(c, true, lock_wait_, &catalog_, probe ? &batch_probe_ : nullptr, &reach_policy_);
        fn(tx);
        tx.commit();
      } catch (...) {
        failed = std::current_exception();
      }
      if (!failed) {
        observe_commit(began);
        return nullptr;
      }
      c.rollback_quietly();  // a round trip when its transaction is open
      try {
        std::rethrow_exception(failed);
      } catch (const CommitUncertain& u) {
        pool_.drop_idle();  // its siblings most likely died with it
        uncertain = u.xid();
        error = u.what();
      } catch (const PgError& e) {
        if (e.sqlstate() == sql::kTakenSince && !e.connection_lost()) {
          // The pipeline skipped the rest of that round trip, COMMIT included.
          if (auto gave_up = without_probe(true)) return gave_up;
          continue;
        }
        if (e.connection_lost()) pool_.drop_idle();  // its siblings most likely died with it
        if (e.sqlstate() == "40P01" && deadlocks_) deadlocks_->inc();
        if (!retryable(e)) {
          if (e.connection_lost() || e.sqlstate() == "57014")
            return std::make_exception_ptr(StoreUnavailable(e.what()));
          return std::current_exception();
        }
        retry = retry_reason(e);
        error = e.what();
      } catch (const ProbeMissed&) {
        if (auto gave_up = without_probe(false)) return gave_up;
        continue;
      } catch (const CatalogStale&) {
        // The copy is dropped; the next attempt loads the company's catalog again. Catalog
        // changes are rare, so this gives up only when they keep coming.
        if (stale_) stale_->inc();
        if (attempt >= kMaxStaleAttempts)
          return std::make_exception_ptr(
              StoreUnavailable("postgresql: the company's catalog kept changing during the write"));
        continue;
      } catch (...) {
        return std::current_exception();
      }
      if (uncertain) {
        switch (outcome_of(*uncertain, c)) {
          case Outcome::kCommitted:
            if (outcomes_learned_) outcomes_learned_->inc();
            observe_commit(began);
            return nullptr;
          case Outcome::kAborted:
            // Nothing of it was kept: it runs again like any attempt that lost its connection.
            if (outcomes_learned_) outcomes_learned_->inc();
            retry = "connection";
            break;
          case Outcome::kUnknown:
            if (outcomes_unknown_) outcomes_unknown_->inc();
            obs::log_warn("write outcome unknown", "\"xid\":" + std::to_string(*uncertain) +
                                                       ",\"error\":\"" + obs::json_escape(error) +
                                                       "\"");
            return std::make_exception_ptr(OutcomeUnknown(error));
        }
      }
      if (!retry) continue;
      if (attempt >= policy_.max_attempts) {
        if (exhausted_) exhausted_->inc();
        obs::log_warn("write gave up after retries", "\"attempts\":" + std::to_string(attempt) +
                                                         ",\"error\":\"" + obs::json_escape(error) +
                                                         "\"");
        return std::make_exception_ptr(StoreUnavailable("postgresql: the write kept failing with " +
                                                        *retry + " after " +
                                                        std::to_string(attempt) + " attempts"));
      }
      if (opts_.metrics)
        opts_.metrics
            ->counter("appointd_pg_retries_total", "Write transactions run again, by cause",
                      {{"sqlstate", *retry}})
            .inc();
      c.sleep(backoff(policy_, attempt, rng));
    }
  }

  void observe_commit(SteadyClock::time_point began) {
    if (commit_)
      commit_->observe(std::chrono::duration<double>(SteadyClock::now() - began).count());
  }

  // What became of a transaction whose COMMIT lost its connection: asked of the database by its
  // id (pg_xact_status) until it says, or until --pg-outcome-wait-ms has passed.
  enum class Outcome { kCommitted, kAborted, kUnknown };
  Outcome outcome_of(std::int64_t xid, FiberSession& c) {
    if (xid == 0) return Outcome::kUnknown;  // its id never came back: nothing to ask about
    const auto deadline =
        SteadyClock::now() + std::chrono::milliseconds(std::max(0, opts_.outcome_wait_ms));
    c.set_deadline(deadline);  // a lookup never outlives the wait it is given
    struct Clear {
      FiberSession& c;
      ~Clear() { c.set_deadline(std::nullopt); }
    } clear{c};
    for (;;) {
      try {
        Result r = c.run(sql::kXactStatus, Params().add(xid));
        if (r.rows() == 1 && !r.is_null(0, 0)) {
          const std::string status = r.text(0, 0);
          if (status == "committed") return Outcome::kCommitted;
          if (status == "aborted") return Outcome::kAborted;
          // "in progress": its backend has not finished yet (it outlived our connection).
        } else {
          return Outcome::kUnknown;  // too old to say (never for one of the last minutes)
        }
      } catch (const StoreError&) {
        // No connection yet (the server restarts, or is frozen): ask again until the deadline.
        c.rollback_quietly();
      }
      if (SteadyClock::now() >= deadline) return Outcome::kUnknown;
      c.sleep(std::chrono::milliseconds(50));
    }
  }

  static constexpr int kMaxStaleAttempts = 8;
  static constexpr size_t kFibersPerDriver = 64;

  Options opts_;
  Pool pool_;
  CatalogCache catalog_;
  // Batched writes always probe (unless told never to): a probed booking commits in one round
  // trip that other writes share, an unprobed one needs the connection to itself.
  ProbePolicy batch_probe_{opts_.probe == "never" ? ProbePolicy::Mode::kNever
                                                  : ProbePolicy::Mode::kAlways};
  ReachPolicy reach_policy_;
  RetryPolicy policy_;
  obs::Gauge* depth_ = opts_.metrics ? &opts_.metrics->gauge("appointd_write_queue_depth",
                                                             "Writes waiting for a store thread")
                                     : nullptr;
  WriteQueue queue_{kMaxQueued, depth_};
  std::vector<std::unique_ptr<Driver>> drivers_;

  Readiness readiness_{pool_.url(), std::chrono::milliseconds(500)};

  obs::Histogram* lock_wait_ = nullptr;
  obs::Counter* deadlocks_ = nullptr;
  obs::Counter* exhausted_ = nullptr;
  obs::Counter* failures_ = nullptr;
  obs::Histogram* commit_ = nullptr;
  obs::Counter* stale_ = nullptr;
  obs::Counter* probe_missed_ = nullptr;
  obs::Counter* outcomes_learned_ = nullptr;
  obs::Counter* outcomes_unknown_ = nullptr;
};

}  // namespace

std::unique_ptr<Store> open_postgres_store(const Options& opts, const std::string& url) {
  try {
    return std::make_unique<PgStore>(opts, url);
  } catch (const PgError& e) {
    throw StoreError(e.what());
  }
}

}  // namespace appointd::store::postgres
