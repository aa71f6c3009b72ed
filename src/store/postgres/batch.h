#pragma once
// Many writes at once over one PostgreSQL connection (the PostgreSQL store's write path).
//
// A Driver is a thread that runs each write it takes from the store's queue in a fiber of its
// own (fiber.h), over a FiberSession: the use case and PgTx are the same synchronous code as
// anywhere, but a round trip suspends the fiber instead of blocking the thread. The driver sends
// what the suspended fibers asked for over a few pooled connections (lanes), several round
// trips in flight at once, hands each fiber its rows or its error, and resumes it. Per request
// this saves the thread hand-offs and most of the round trips, and writes that commit together
// share one transaction and one WAL flush.
//
// What may share a round trip. A connection carries one transaction at a time, so:
//   - reads outside any transaction (a probe, a catalog load, an idempotency lookup) go
//     together in one implicit transaction (one sync scope): each statement takes its own
//     snapshot, as it would alone;
//   - writes that are whole in their last round trip ([BEGIN ... COMMIT], as a probed booking's)
//     are merged into ONE transaction: BEGIN; every staff lock they take, in ascending order, as
//     one statement; each write's statements in turn, their own BEGIN, COMMIT, locks and
//     savepoints left out; COMMIT. Each write's checks see the writes merged before it, as in
//     SQLite's group commit. One merged transaction is in flight at a time, so they never wait
//     for each other's locks. When a statement of one write fails, the transaction is rolled
//     back, that write gets its error (and runs again or fails, as it would alone), and the
//     others are sent again;
//   - a write that needs a round trip inside its own open transaction (a reschedule, a cancel,
//     a booking converting a hold, a new customer's booking) gets a lane to itself until that
//     transaction ends.
// Either way a write sees what it would see alone, and commits or fails as it would alone.
//
// A COMMIT's outcome is never guessed. A round trip that begins a transaction ends a sync scope
// right after BEGIN with the transaction's id (sql::kCurrentXid), so the id is answered before
// COMMIT runs. When the connection breaks, or no answer comes within the round-trip timeout, the
// fibers whose COMMIT travelled in that round trip get CommitUncertain with the id, and the store
// asks the database what became of it (pg_store.cpp); the others get the lost connection, which
// is retried (nothing of theirs can have committed).
//
// Thread-safe where stated; a Driver's fibers, sessions and connection belong to its thread.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "obs/metrics.h"
#include "store/postgres/fiber.h"
#include "store/postgres/pg.h"
#include "store/postgres/pool.h"
#include "store/store.h"

namespace appointd::store::postgres {

using SteadyClock = std::chrono::steady_clock;

struct WriteJob {
  WriteFn fn;
  DoneFn done;
};

// The writes waiting for a store thread. Thread-safe.
class WriteQueue {
 public:
  // max: beyond it push() refuses (StoreUnavailable) instead of queueing without bound while
  // the database is slow or gone. depth: where the length is reported (may be null).
  WriteQueue(size_t max, obs::Gauge* depth);
  // Throws StoreUnavailable when stopped or full.
  void push(WriteJob j);
  // Up to `max` jobs. With `wait`, waits until there is one or the queue stops. Empty when
  // there is none.
  std::vector<WriteJob> take(size_t max, bool wait);
  // Refuses new jobs; take() returns what is left, then nothing without waiting.
  void stop();
  bool stopped() const;
  // For threads that wait in poll(2) rather than in take(). subscribe() gives a thread a wake
  // fd of its own (readable once a job or stop() arrived after its arm()); arm() before the
  // wait (false: there is work already, do not wait), disarm() after it.
  int subscribe();
  bool arm(int fd);
  void disarm(int fd);
  ~WriteQueue();

 private:
  void wake(bool all);
  const size_t max_;
  obs::Gauge* depth_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<WriteJob> q_;
  bool stop_ = false;
  struct Waiter {
    int fd;
    bool armed;
  };
  std::vector<Waiter> waiters_;  // under mu_
  std::atomic<int> armed_{0};    // how many are armed: a push with none armed costs no syscall
};

class Driver;

// A fiber's share of its driver's connection. Only the fiber uses it (on the driver's thread).
class FiberSession final : public Session {
 public:
  void rollback_quietly() override;
  bool ok() const override { return true; }
  bool in_transaction() const override { return !queue_.empty() || open_; }
  // Suspends the fiber for `d` (a retry's backoff); the driver runs the others meanwhile.
  void sleep(std::chrono::microseconds d);
  // Its round trips are given up (lost connection) at `t` if unanswered by then, sooner than
  // the driver's round-trip timeout; nullopt: that timeout only.
  void set_deadline(std::optional<SteadyClock::time_point> t) { deadline_ = t; }

 protected:
  std::vector<Result> send(std::vector<Item> q) override;

 private:
  friend class Driver;
  enum class State { kRunnable, kWaiting, kInFlight, kSleeping };
  State state_ = State::kRunnable;
  SteadyClock::time_point wake_{};
  bool open_ = false;          // an explicit transaction of this fiber is open on the connection
  std::vector<Item> pending_;  // the round trip asked for (kWaiting)
  // The answer, set by the driver before it resumes the fiber: a scope's outcome, or an
  // exception for the whole round trip (connection lost, no connection).
  std::optional<ScopeResult> answer_;
  std::exception_ptr failure_;
  int passed_over_ = 0;  // round trips made while its transaction waited for the connection
  // The id of its open (or last) transaction, read in a scope of its own right after BEGIN;
  // 0 until known. A COMMIT whose answer is lost is looked up by it (CommitUncertain).
  std::int64_t xid_ = 0;
  std::optional<SteadyClock::time_point> deadline_;
};

struct DriverMetrics {
  obs::Histogram* fibers = nullptr;  // fibers served per round trip
  obs::Histogram* merged = nullptr;  // writes per merged commit
  obs::Counter* resent = nullptr;    // writes sent again after a neighbour failed
};

class Driver {
 public:
  // Runs one write to its end (attempts, retries) over a session; returns what `done` gets.
  using RunFn = std::function<std::exception_ptr(const WriteFn&, FiberSession&)>;
  // Starts the thread. max_fibers: writes in progress at once; max_lanes: connections it uses
  // at most (taken from the pool while it has work, given back when idle); round_trip_timeout:
  // how long a round trip may go unanswered before its connection is given up (each of its
  // fibers then fails as on a lost connection: CommitUncertain when it carried their COMMIT).
  Driver(Pool& pool, WriteQueue& queue, RunFn run, DriverMetrics metrics, size_t max_fibers,
         size_t max_lanes, std::chrono::milliseconds round_trip_timeout);
  // Joins the thread: it returns once the queue is stopped and every write it took is done.
  ~Driver();

 private:
  struct Task;
  struct Lane;
  void loop();
  // Resumes every runnable fiber; completes those that ended.
  void run_fibers();
  // Starts round trips on idle lanes for the fibers that wait for one.
  void dispatch();
  void send(Lane& lane, std::vector<Task*> reads, std::vector<Task*> merge, Task* solo);
  // Waits (at most until `deadline`; none: no wait) for lanes to answer, and completes them.
  void wait(std::optional<SteadyClock::time_point> deadline, bool block);
  void complete(Lane& lane);
  // The lane's connection broke (or gave no answer in time): every fiber of its round trip
  // fails with `e`, or with CommitUncertain when the round trip carried its COMMIT.
  void fail(Lane& lane, std::exception_ptr e);
  // Gives up the connections whose round trip is overdue.
  void expire(SteadyClock::time_point now);
  // An idle lane without an open transaction; opens one while below the limit. Null: none.
  // own: for one fiber's transaction (not limited by the round trips of shared traffic).
  Lane* idle_lane(bool own);
  // A merged transaction is open on some lane (up to its COMMIT or ROLLBACK): the next waits.
  bool merged_in_flight() const;
  std::optional<SteadyClock::time_point> next_wake() const;

  Pool& pool_;
  WriteQueue& queue_;
  RunFn run_;
  DriverMetrics m_;
  const size_t max_fibers_;
  const size_t max_lanes_;
  const std::chrono::milliseconds round_trip_timeout_;
  std::vector<std::unique_ptr<Task>> tasks_;
  std::vector<std::unique_ptr<Lane>> lanes_;
  const int wake_fd_;
  std::thread thread_;
};

}  // namespace appointd::store::postgres
