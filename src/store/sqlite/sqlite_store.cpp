#include "store/sqlite/sqlite_store.h"

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

#include "domain/time.h"
#include "obs/log.h"
#include "store/migrations.h"
#include "store/sqlite/db.h"
#include "store/sqlite/sql.h"
#include "store/sqlite/sqlite_tx.h"
#include "store/sqlite/writer_cache.h"

namespace appointd::store::sqlite {
namespace {

using SteadyClock = std::chrono::steady_clock;

void apply_migrations(Connection& c) {
  c.exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
      "name TEXT NOT NULL, applied_at INTEGER NOT NULL)");
  for (const Migration& m : sqlite_migrations()) {
    c.exec("BEGIN IMMEDIATE");
    try {
      bool applied;
      {
        auto s = c.prepare("SELECT 1 FROM schema_migrations WHERE version = ?1");
        s.bind(1, m.version);
        applied = s.step();
      }
      if (!applied) {
        c.exec(m.sql);
        // Migrations run with foreign keys off, so that a table can be rebuilt (SQLite's
        // procedure for schema changes ALTER TABLE cannot make); every key must hold after.
        auto fk = c.prepare("PRAGMA foreign_key_check");
        if (fk.step())
          throw StoreError("migration " + std::to_string(m.version) +
                           " broke a foreign key of table " + fk.text(0));
        auto s = c.prepare("INSERT INTO schema_migrations VALUES (?1, ?2, ?3)");
        s.bind(1, m.version).bind(2, m.name).bind(3, to_unix(SystemClock().now()));
        s.exec();
        obs::log_info("migration applied", "\"version\":" + std::to_string(m.version));
      }
      c.exec("COMMIT");
    } catch (...) {
      c.exec("ROLLBACK");
      throw;
    }
  }
}

class SqliteStore final : public Store {
 public:
  SqliteStore(const Options& opts, std::string path) : opts_(opts), path_(std::move(path)) {
    auto parent = std::filesystem::path(path_).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent);
    writer_ = std::make_unique<Connection>(path_, false);
    writer_->exec("PRAGMA journal_mode=WAL");
    writer_->exec(opts.durability_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
    writer_->exec("PRAGMA cache_size=-65536");
    writer_->exec("PRAGMA wal_autocheckpoint=4000");
    apply_migrations(*writer_);
    writer_->exec("PRAGMA foreign_keys=ON");
    for (int i = 0; i < std::max(1, opts.read_connections); ++i) {
      auto c = std::make_unique<Connection>(path_, true);
      c->exec("PRAGMA cache_size=-16384");
      readers_.push_back(std::move(c));
    }
    if (opts.metrics) {
      auto& m = *opts.metrics;
      depth_ = &m.gauge("appointd_write_queue_depth", "Writes waiting for the writer thread");
      wait_ = &m.histogram("appointd_write_queue_wait_seconds",
                           "Time a write waited in the queue before its batch began",
                           obs::latency_buckets());
      batch_ = &m.histogram("appointd_write_batch_size", "Writes per group commit",
                            {1, 2, 4, 8, 16, 32, 64, 128, 256, 512});
      commit_ =
          &m.histogram("appointd_write_commit_seconds",
                       "Duration of a batch from BEGIN to durable COMMIT", obs::latency_buckets());
      failures_ = &m.counter("appointd_write_failures_total",
                             "Writes that ended in an infrastructure error");
      index_rows_ = &m.gauge("appointd_block_index_rows",
                             "Blocks (segments, holds) in the writer's in-memory index");
      index_staff_ = &m.gauge("appointd_block_index_staff", "Staff members in the block index");
      index_loads_ = &m.gauge("appointd_block_index_loads",
                              "Staff members the block index has read from SQL since start");
    }
    const char* verify = std::getenv("APPOINTD_VERIFY_BLOCK_INDEX");
    verify_index_ = verify && std::string(verify) == "1";
    thread_ = std::thread([this] { writer_loop(); });
  }

  ~SqliteStore() override {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  std::string backend() const override { return "sqlite"; }
  bool ready() override { return true; }

  void write(WriteFn fn, DoneFn done) override {
    {
      std::lock_guard lock(mu_);
      if (stop_) throw StoreUnavailable("store is shutting down");
      queue_.push_back({std::move(fn), std::move(done), SteadyClock::now()});
      if (depth_) depth_->set(static_cast<std::int64_t>(queue_.size()));
    }
    cv_.notify_one();
  }

  void read(const ReadFn& fn) override {
    std::unique_ptr<Connection> c = acquire_reader();
    struct Return {
      SqliteStore* s;
      std::unique_ptr<Connection>& c;
      ~Return() { s->release_reader(std::move(c)); }
    } ret{this, c};
    // A deferred transaction gives multi-statement reads one consistent snapshot.
    c->exec("BEGIN");
    try {
      SqliteTx tx(*c);
      fn(tx);
      c->exec("COMMIT");
    } catch (...) {
      try {
        c->exec("ROLLBACK");
      } catch (...) {
      }
      throw;
    }
  }

  std::vector<Check> audit() override {
    std::vector<Check> out;
    read([&](ReadTx&) {});  // ensure the readers work
    auto c = acquire_reader();
    auto count = [&](const char* q, bool with_now) {
      auto s = c->prepare(q);
      if (with_now) s.bind(1, to_unix(SystemClock().now()));
      s.step();
      return static_cast<long>(s.i64(0));
    };
    try {
      c->exec("BEGIN");
      out.push_back({"I1 no overlapping active segments or holds per staff member",
                     count(sql::kAuditOverlaps, true), ""});
      out.push_back(
          {"I2 one live customer per (company, phone)", count(sql::kAuditCustomers, false), ""});
      out.push_back({"I3 one appointment per (provider, external id)",
                     count(sql::kAuditExternal, false), ""});
      out.push_back({"I4 one outcome per (company, idempotency key)",
                     count(sql::kAuditIdempotency, false), ""});
      out.push_back({"I7 appointments reference only their company's branch, staff and services",
                     count(sql::kAuditReferences, false), ""});
      {
        auto s = c->prepare(sql::kIntegrityCheck);
        long bad = 0;
        std::string detail;
        while (s.step()) {
          std::string line = s.text(0);
          if (line != "ok") {
            ++bad;
            if (detail.size() < 500) detail += line + "; ";
          }
        }
        out.push_back({"sqlite integrity_check", bad, detail});
      }
      c->exec("COMMIT");
    } catch (...) {
      release_reader(std::move(c));
      throw;
    }
    release_reader(std::move(c));
    return out;
  }

 private:
  struct Job {
    WriteFn fn;
    DoneFn done;
    SteadyClock::time_point enqueued;
  };

  std::unique_ptr<Connection> acquire_reader() {
    std::unique_lock lock(readers_mu_);
    readers_cv_.wait(lock, [&] { return !readers_.empty(); });
    auto c = std::move(readers_.back());
    readers_.pop_back();
    return c;
  }
  void release_reader(std::unique_ptr<Connection> c) {
    if (!c) return;
    {
      std::lock_guard lock(readers_mu_);
      readers_.push_back(std::move(c));
    }
    readers_cv_.notify_one();
  }

  void writer_loop() {
    std::vector<Job> batch;
    std::vector<std::exception_ptr> errors;
    for (;;) {
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
        if (queue_.empty() && stop_) return;
        size_t n = std::min(queue_.size(), static_cast<size_t>(std::max(1, opts_.max_batch)));
        for (size_t i = 0; i < n; ++i) {
          batch.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
        if (depth_) depth_->set(static_cast<std::int64_t>(queue_.size()));
      }
      run_batch(batch, errors);
      for (size_t i = 0; i < batch.size(); ++i) {
        try {
          batch[i].done(errors[i]);
        } catch (...) {
          obs::log_error("write completion threw");
        }
      }
      batch.clear();
    }
  }

  void run_batch(std::vector<Job>& batch, std::vector<std::exception_ptr>& errors) {
    const auto began = SteadyClock::now();
    errors.assign(batch.size(), nullptr);
    if (wait_)
      for (auto& j : batch)
        wait_->observe(std::chrono::duration<double>(began - j.enqueued).count());
    if (batch_) batch_->observe(static_cast<double>(batch.size()));
    try {
      writer_->exec("BEGIN IMMEDIATE");
      // Another process committed since our last batch: the block index may be stale.
      if (auto v = data_version(); v != data_version_) {
        cache_.clear();
        data_version_ = v;
      }
      cache_.begin();
      for (size_t i = 0; i < batch.size(); ++i) {
        SqliteTx tx(*writer_, &cache_, verify_index_);
        tx.savepoint();
        try {
          batch[i].fn(tx);
          tx.release_savepoint();
        } catch (...) {
          errors[i] = std::current_exception();
          tx.rollback_all();  // if this throws, the whole batch fails below
          if (failures_) failures_->inc();
        }
      }
      writer_->exec("COMMIT");
      cache_.committed();
    } catch (...) {
      // The batch could not commit: nothing of it is durable, every write learns so.
      cache_.aborted();
      auto e = std::current_exception();
      try {
        writer_->exec("ROLLBACK");
      } catch (...) {
      }
      for (auto& err : errors) err = e;
      if (failures_) failures_->inc(batch.size());
      obs::log_error("write batch failed");
    }
    if (commit_)
      commit_->observe(std::chrono::duration<double>(SteadyClock::now() - began).count());
    if (index_rows_) {
      index_rows_->set(static_cast<std::int64_t>(cache_.blocks.rows()));
      index_staff_->set(static_cast<std::int64_t>(cache_.blocks.staff()));
      index_loads_->set(cache_.blocks.loads());
    }
  }

  std::int64_t data_version() {
    auto s = writer_->prepare("PRAGMA data_version");
    s.step();
    return s.i64(0);
  }

  Options opts_;
  std::string path_;
  std::unique_ptr<Connection> writer_;
  WriterCache cache_;  // the writer thread's only
  bool verify_index_ = false;
  std::int64_t data_version_ = -1;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  bool stop_ = false;
  std::thread thread_;

  std::mutex readers_mu_;
  std::condition_variable readers_cv_;
  std::vector<std::unique_ptr<Connection>> readers_;

  obs::Gauge* depth_ = nullptr;
  obs::Histogram* wait_ = nullptr;
  obs::Histogram* batch_ = nullptr;
  obs::Histogram* commit_ = nullptr;
  obs::Counter* failures_ = nullptr;
  obs::Gauge* index_rows_ = nullptr;
  obs::Gauge* index_staff_ = nullptr;
  obs::Gauge* index_loads_ = nullptr;
};

}  // namespace

std::unique_ptr<Store> open_sqlite_store(const Options& opts, const std::string& path) {
  return std::make_unique<SqliteStore>(opts, path);
}

}  // namespace appointd::store::sqlite
