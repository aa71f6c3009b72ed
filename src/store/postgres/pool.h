#pragma once
// A bounded pool of PostgreSQL connections shared by reads and writes. Connections are opened
// lazily (up to `size`) and re-opened after the server comes back; a broken connection is
// dropped when it is returned. acquire() waits at most `wait` for a free connection, then throws
// StoreUnavailable (a 503 upstream), as it does when the server cannot be reached.
// Thread-safe.
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "obs/metrics.h"
#include "store/postgres/pg.h"

namespace appointd::store::postgres {

struct PoolMetrics {
  obs::Gauge* in_use = nullptr;
  obs::Gauge* size = nullptr;  // connections open
  obs::Histogram* wait = nullptr;
};

class Pool {
 public:
  // setup: statements run on every new connection (SET lock_timeout ...).
  Pool(std::string url, std::vector<std::string> setup, int size, std::chrono::milliseconds wait,
       PoolMetrics metrics);
  ~Pool();

  // A connection borrowed from the pool; returned on destruction (dropped if broken).
  class Lease {
   public:
    Lease(Pool* p, std::unique_ptr<Connection> c) : pool_(p), c_(std::move(c)) {}
    Lease(Lease&& o) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (pool_ && c_) pool_->release(std::move(c_));
    }
    Connection& operator*() { return *c_; }
    Connection* operator->() { return c_.get(); }

   private:
    Pool* pool_;
    std::unique_ptr<Connection> c_;
  };

  Lease acquire();
  // A connection without waiting for one to be given back: an idle one, or a new one while the
  // pool is below its size (that connect does block); nullopt when every one is lent out (also
  // when another thread took the last one first).
  // Throws StoreUnavailable when the server cannot be reached.
  std::optional<Lease> try_acquire();
  // Closes the idle connections (after one was found broken: the server probably restarted,
  // and the others would fail on first use too).
  void drop_idle();
  // A connection outside the pool's accounting (migrations, audit, readiness probe).
  std::unique_ptr<Connection> connect_direct() const;
  const std::string& url() const { return url_; }

 private:
  void release(std::unique_ptr<Connection> c);
  // A connection once one is idle or may be opened, waiting until `deadline` (nullopt after);
  // `began` is when the caller started waiting (for the wait histogram).
  std::optional<Lease> acquire_until(std::chrono::steady_clock::time_point began,
                                     std::chrono::steady_clock::time_point deadline);
  void observe_locked(std::chrono::steady_clock::time_point began);  // holds mu_

  const std::string url_;
  const std::vector<std::string> setup_;
  const int size_;
  const std::chrono::milliseconds wait_;
  PoolMetrics m_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Connection>> idle_;
  int open_ = 0;  // idle + leased + being opened
  int leased_ = 0;
};

}  // namespace appointd::store::postgres
