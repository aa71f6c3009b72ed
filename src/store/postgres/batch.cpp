#include "store/postgres/batch.h"

#include <algorithm>

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "obs/log.h"
#include "store/postgres/commit_merge.h"
#include "store/postgres/items.h"
#include "store/postgres/read_merge.h"
#include "store/postgres/sql.h"

namespace appointd::store::postgres {
namespace {

// Round trips of shared traffic in flight at once per driver: two keep the server's cores busy
// (one carries the merged transaction, the other the reads that arrived meanwhile); more only
// split the batches (measured: 3 was slower).
constexpr size_t kSharedInFlight = 2;

using items::ends_tx;
using items::has_prefix;
using items::is_begin;
using items::is_text;

// What a fiber's round trip does to transactions (batch.h).
enum class Kind {
  kRead,       // no transaction: goes with the other reads
  kMergeable,  // BEGIN ... COMMIT, no ROLLBACK TO: merged with the others like it
  kWhole,      // a whole transaction that is not merged (ends in ROLLBACK, or rolls back a level)
  kOpens,      // opens a transaction it does not end: the fiber then owns the connection
};

Kind kind_of(const std::vector<Item>& q) {
  if (std::none_of(q.begin(), q.end(), is_begin)) return Kind::kRead;
  if (!ends_tx(q.back())) return Kind::kOpens;
  const bool rolls_back_a_level = std::any_of(
      q.begin(), q.end(), [](const Item& it) { return has_prefix(it, "ROLLBACK TO "); });
  return is_text(q.back(), "COMMIT") && !rolls_back_a_level ? Kind::kMergeable : Kind::kWhole;
}

// A failure of its own for each write that shares it: every write's completion may carry its
// exception to another thread, and one object shared by several would be read on one thread
// while destroyed on another.
std::exception_ptr own_copy(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const PgError& p) {
    return std::make_exception_ptr(p);
  } catch (const StoreUnavailable& u) {
    return std::make_exception_ptr(StoreUnavailable(u.what()));
  } catch (const StoreError& x) {
    return std::make_exception_ptr(StoreError(x.what()));
  } catch (...) {
    return std::current_exception();
  }
}

// Whether a transaction of the fiber is open after its round trip `q` had outcome `r`.
bool open_after(bool open_before, const std::vector<Item>& q, const ScopeResult& r) {
  const size_t ran = r.error ? r.failed : q.size();  // items before it ran; it failed
  const auto b = static_cast<size_t>(std::find_if(q.begin(), q.end(), is_begin) - q.begin());
  bool open = open_before || b < ran;
  // COMMIT or ROLLBACK ran, or failed: the transaction ends either way.
  if (ends_tx(q.back()) && (!r.error || r.failed == q.size() - 1)) open = false;
  return open;
}

}  // namespace

// --- WriteQueue ---

WriteQueue::WriteQueue(size_t max, obs::Gauge* depth) : max_(max), depth_(depth) {}

WriteQueue::~WriteQueue() {
  for (const auto& w : waiters_) ::close(w.fd);
}

int WriteQueue::subscribe() {
  const int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) throw StoreError("eventfd failed");
  std::lock_guard lock(mu_);
  waiters_.push_back({fd, false});
  return fd;
}

bool WriteQueue::arm(int fd) {
  std::lock_guard lock(mu_);
  if (!q_.empty() || stop_) return false;
  for (auto& w : waiters_)
    if (w.fd == fd && !w.armed) {
      w.armed = true;
      armed_.fetch_add(1);
    }
  return true;
}

void WriteQueue::disarm(int fd) {
  {
    std::lock_guard lock(mu_);
    for (auto& w : waiters_)
      if (w.fd == fd && w.armed) {
        w.armed = false;
        armed_.fetch_sub(1);
      }
  }
  std::uint64_t n;
  [[maybe_unused]] auto r = ::read(fd, &n, sizeof n);  // nonblocking: clears a wake, if any
}

void WriteQueue::wake(bool all) {
  // Only threads waiting in poll: most pushes find the drivers busy and cost no syscall.
  if (!all && armed_.load() == 0) return;
  std::lock_guard lock(mu_);
  const std::uint64_t one = 1;
  for (const auto& w : waiters_)
    if (all || w.armed) [[maybe_unused]]
      auto n = ::write(w.fd, &one, sizeof one);
}

void WriteQueue::push(WriteJob j) {
  {
    std::lock_guard lock(mu_);
    if (stop_) throw StoreUnavailable("store is shutting down");
    if (q_.size() >= max_)
      throw StoreUnavailable("postgresql: too many writes waiting for the database");
    q_.push_back(std::move(j));
    if (depth_) depth_->set(static_cast<std::int64_t>(q_.size()));
  }
  cv_.notify_one();
  wake(false);
}

std::vector<WriteJob> WriteQueue::take(size_t max, bool wait) {
  std::vector<WriteJob> out;
  std::unique_lock lock(mu_);
  if (wait) cv_.wait(lock, [&] { return stop_ || !q_.empty(); });
  while (!q_.empty() && out.size() < max) {
    out.push_back(std::move(q_.front()));
    q_.pop_front();
  }
  if (depth_ && !out.empty()) depth_->set(static_cast<std::int64_t>(q_.size()));
  // Another store thread may take what is left.
  if (!q_.empty()) cv_.notify_one();
  return out;
}

void WriteQueue::stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  wake(true);
}

bool WriteQueue::stopped() const {
  std::lock_guard lock(mu_);
  return stop_ && q_.empty();
}

// --- FiberSession ---

std::vector<Result> FiberSession::send(std::vector<Item> q) {
  pending_ = std::move(q);
  state_ = State::kWaiting;
  Fiber::yield();  // the driver answers, then resumes
  if (failure_) std::rethrow_exception(std::exchange(failure_, nullptr));
  ScopeResult a = std::move(*answer_);
  answer_.reset();
  if (a.error) throw std::move(*a.error);
  return std::move(a.rows);
}

void FiberSession::rollback_quietly() {
  queue_.clear();
  if (!open_) return;
  try {
    defer("ROLLBACK");
    flush();
  } catch (const std::exception&) {
    // Broken: the driver drops the connection, and the server rolls back with the session.
  }
  open_ = false;
}

void FiberSession::sleep(std::chrono::microseconds d) {
  wake_ = SteadyClock::now() + d;
  state_ = State::kSleeping;
  Fiber::yield();
}

// --- Driver ---

struct Driver::Task {
  WriteJob job;
  FiberSession session;
  std::exception_ptr result;
  std::unique_ptr<Fiber> fiber;
};

// One connection of the driver and the round trip in flight on it.
struct Driver::Lane {
  std::optional<Pool::Lease> lease;  // none once its connection broke
  Task* owner = nullptr;             // the fiber whose transaction is open on it
  bool busy = false;
  bool rolling_back = false;  // the exchange in flight ends a failed merged transaction
  // The round trip in flight: the reads, and the transaction (merged, or one fiber's).
  std::vector<Task*> reads, merge;
  std::unique_ptr<ReadMerge> read_merge;      // the reads' scope
  std::unique_ptr<CommitMerge> commit_merge;  // the merged transaction's scope
  Task* solo = nullptr;
  std::vector<Scope> scopes;
  // What ends a failed merged transaction (it lives while the exchange does).
  Item rollback{nullptr, "ROLLBACK", {}, false, false};
  // A transaction that begins in this round trip reads its id in a scope of its own, ended
  // right after BEGIN, so that the id is answered before its COMMIT runs: [BEGIN, xid], then
  // the rest. xid_scope: that scope (-1: none).
  Item xid{&sql::kCurrentXid, nullptr, {}, true, false};
  int xid_scope = -1;
  // When the round trip in flight is given up unanswered: the round-trip timeout after it was
  // sent, or sooner when a fiber of it has a deadline of its own (an outcome lookup).
  SteadyClock::time_point give_up{};
  Connection& c() { return **lease; }
  // The round trip's fibers and scopes are done with (its connection stays as it is).
  void end_round_trip() {
    xid_scope = -1;
    reads.clear();
    read_merge.reset();
    merge.clear();
    commit_merge.reset();
    solo = nullptr;
  }
  size_t member_count() const { return reads.size() + merge.size() + (solo ? 1 : 0); }
  std::vector<Task*> members() const {
    std::vector<Task*> m = reads;
    m.insert(m.end(), merge.begin(), merge.end());
    if (solo) m.push_back(solo);
    return m;
  }
  // The fibers whose transaction the round trip carries: the merged writes the merged
  // transaction includes (one left out for a later transaction sent nothing), or the solo one.
  std::vector<Task*> in_tx() const {
    if (!merge.empty()) {
      std::vector<Task*> out;
      for (size_t i = 0; i < merge.size(); ++i)
        if (commit_merge && commit_merge->included(i)) out.push_back(merge[i]);
      return out;
    }
    return solo ? std::vector<Task*>{solo} : std::vector<Task*>{};
  }
  // Whether the round trip carries fiber t's COMMIT.
  bool commits(const Task* t) const {
    if (!merge.empty()) {
      const auto tx = in_tx();
      return std::find(tx.begin(), tx.end(), t) != tx.end();
    }
    return t == solo && !t->session.pending_.empty() &&
           is_text(t->session.pending_.back(), "COMMIT");
  }
  // Queues `s` as the round trip's next scope(s): split right after its BEGIN when BEGIN comes
  // first (see xid). A scope with statements before its BEGIN is sent whole, without the id: a
  // failure before BEGIN must skip the transaction, as one sync scope does (never expected; its
  // lost COMMIT would then be an unknown outcome, not a guess).
  void push_scope(Scope s) {
    if (s.empty() || !is_begin(*s.front())) return scopes.push_back(std::move(s));
    Scope head{s.front(), &xid};
    xid_scope = static_cast<int>(scopes.size());
    scopes.push_back(std::move(head));
    scopes.emplace_back(s.begin() + 1, s.end());
  }
};

Driver::Driver(Pool& pool, WriteQueue& queue, RunFn run, DriverMetrics metrics, size_t max_fibers,
               size_t max_lanes, std::chrono::milliseconds round_trip_timeout)
    : pool_(pool),
      queue_(queue),
      run_(std::move(run)),
      m_(metrics),
      max_fibers_(std::max<size_t>(1, max_fibers)),
      max_lanes_(std::max<size_t>(1, max_lanes)),
      round_trip_timeout_(std::max(std::chrono::milliseconds(1), round_trip_timeout)),
      wake_fd_(queue.subscribe()),
      thread_([this] { loop(); }) {}

Driver::~Driver() {
  thread_.join();
}

std::optional<SteadyClock::time_point> Driver::next_wake() const {
  std::optional<SteadyClock::time_point> t;
  for (const auto& task : tasks_)
    if (task->session.state_ == FiberSession::State::kSleeping && (!t || task->session.wake_ < *t))
      t = task->session.wake_;
  return t;
}

void Driver::loop() {
  for (;;) {
    if (tasks_.empty()) {
      // Idle: the connections serve reads meanwhile (a rollback in flight ends first).
      std::erase_if(lanes_, [](const auto& l) { return !l->busy; });
      if (lanes_.empty() && queue_.stopped()) return;
    }
    if (tasks_.size() < max_fibers_)
      for (auto& j : queue_.take(max_fibers_ - tasks_.size(), false)) {
        auto t = std::make_unique<Task>();
        t->job = std::move(j);
        Task* raw = t.get();
        t->fiber = std::make_unique<Fiber>([this, raw] {
          try {
            raw->result = run_(raw->job.fn, raw->session);
          } catch (...) {
            raw->result = std::current_exception();
          }
        });
        tasks_.push_back(std::move(t));
      }
    const auto now = SteadyClock::now();
    for (auto& t : tasks_)
      if (t->session.state_ == FiberSession::State::kSleeping && t->session.wake_ <= now)
        t->session.state_ = FiberSession::State::kRunnable;
    run_fibers();
    dispatch();
    // Wait for answers, new writes or the next sleeper, unless a fiber can run now.
    const bool runnable = std::any_of(tasks_.begin(), tasks_.end(), [](const auto& t) {
      return t->session.state_ == FiberSession::State::kRunnable;
    });
    wait(next_wake(), !runnable);
  }
}

void Driver::run_fibers() {
  for (auto& t : tasks_)
    if (t->session.state_ == FiberSession::State::kRunnable) t->fiber->resume();
  auto ended = std::stable_partition(tasks_.begin(), tasks_.end(),
                                     [](const auto& t) { return !t->fiber->done(); });
  for (auto it = ended; it != tasks_.end(); ++it) {
    Task& t = **it;
    for (auto& lane : lanes_)
      if (lane->owner == &t) {
        // A write that ended inside its own transaction (it always ends it; defensive): the
        // connection goes, and the server rolls the transaction back with it.
        lane->owner = nullptr;
        lane->lease.reset();
      }
    try {
      // Moved, not copied: the exception then ends on the thread that handles it (the
      // completion may hand it to another thread; a release here afterwards would destroy it
      // there, unseen by ThreadSanitizer through libstdc++'s uninstrumented reference count).
      t.job.done(std::move(t.result));
    } catch (...) {
      obs::log_error("write completion threw");
    }
  }
  tasks_.erase(ended, tasks_.end());
  std::erase_if(lanes_, [](const auto& l) { return !l->busy && !l->lease; });
}

Driver::Lane* Driver::idle_lane(bool own) {
  // Round trips of shared traffic in flight at once: two keep the server's cores busy; more
  // would only split the batches. A transaction of its own may take a further lane.
  size_t shared_busy = 0;
  for (auto& l : lanes_) shared_busy += l->busy && !l->owner && !l->solo;
  if (!own && shared_busy >= kSharedInFlight) return nullptr;
  // Not one whose connection broke earlier in this pass (its send failed): it has none, and
  // goes at the next run_fibers().
  for (auto& l : lanes_)
    if (!l->busy && !l->owner && l->lease) return l.get();
  if (lanes_.size() >= max_lanes_) return nullptr;
  // The first lane may wait for the pool; more lanes only when one is free right away.
  auto lane = std::make_unique<Lane>();
  if (lanes_.empty()) {
    lane->lease.emplace(pool_.acquire());
  } else {
    auto l = pool_.try_acquire();
    if (!l) return nullptr;
    lane->lease.emplace(std::move(*l));
  }
  lane->c().set_nonblocking(true);
  lanes_.push_back(std::move(lane));
  return lanes_.back().get();
}

bool Driver::merged_in_flight() const {
  return std::any_of(lanes_.begin(), lanes_.end(),
                     [](const auto& l) { return !l->merge.empty() || l->rolling_back; });
}

void Driver::dispatch() {
  // Fibers whose transaction is open on a lane: that lane, as soon as it is free.
  for (auto& l : lanes_)
    if (l->owner && !l->busy && l->owner->session.state_ == FiberSession::State::kWaiting)
      send(*l, {}, {}, l->owner);
  std::vector<Task*> reads, merge, whole;
  for (auto& t : tasks_) {
    if (t->session.state_ != FiberSession::State::kWaiting) continue;
    bool owner = false;
    for (auto& l : lanes_) owner |= l->owner == t.get();
    if (owner) continue;
    switch (kind_of(t->session.pending_)) {
      case Kind::kRead:
        reads.push_back(t.get());
        break;
      case Kind::kMergeable:
        merge.push_back(t.get());
        break;
      case Kind::kWhole:
      case Kind::kOpens:
        whole.push_back(t.get());
        break;
    }
  }
  if (merged_in_flight()) merge.clear();  // they join the next one
  // Every write waiting for a connection fails when none can be had (the server is gone), and
  // runs again or answers 503, as it would alone.
  auto no_connection = [&](const std::vector<Task*>& tasks) {
    for (Task* t : tasks) {
      t->session.failure_ = own_copy(std::current_exception());
      t->session.pending_.clear();
      t->session.state_ = FiberSession::State::kRunnable;
    }
  };
  // The reads and the merged transaction share a round trip (the transaction after the reads:
  // a transaction that fails stays open and aborted up to its ROLLBACK, and nothing may follow
  // it on the connection).
  if (!reads.empty() || !merge.empty()) {
    try {
      if (Lane* lane = idle_lane(false)) send(*lane, std::move(reads), std::move(merge), nullptr);
    } catch (const std::exception&) {
      reads.insert(reads.end(), merge.begin(), merge.end());
      no_connection(reads);
    }
  }
  // Transactions of their own, each on a lane of its own, those passed over most first.
  std::stable_sort(whole.begin(), whole.end(), [](Task* a, Task* b) {
    return a->session.passed_over_ > b->session.passed_over_;
  });
  for (size_t i = 0; i < whole.size(); ++i) {
    Lane* lane = nullptr;
    try {
      lane = idle_lane(true);
    } catch (const std::exception&) {
      no_connection({whole.begin() + static_cast<std::ptrdiff_t>(i), whole.end()});
      return;
    }
    if (!lane) {
      for (; i < whole.size(); ++i) ++whole[i]->session.passed_over_;
      return;
    }
    send(*lane, {}, {}, whole[i]);
  }
}

void Driver::send(Lane& lane, std::vector<Task*> reads, std::vector<Task*> merge, Task* solo) {
  lane.reads = std::move(reads);
  lane.merge = std::move(merge);
  lane.solo = solo;
  lane.scopes.clear();
  if (!lane.reads.empty()) {
    std::vector<const std::vector<Item>*> queues;
    for (Task* t : lane.reads) queues.push_back(&t->session.pending_);
    lane.read_merge = std::make_unique<ReadMerge>(queues);
    lane.scopes.push_back(lane.read_merge->scope());
  }
  if (!lane.merge.empty()) {
    std::vector<const std::vector<Item>*> queues;
    for (Task* t : lane.merge) queues.push_back(&t->session.pending_);
    lane.commit_merge = std::make_unique<CommitMerge>(queues);
    lane.push_scope(lane.commit_merge->scope());
  } else if (solo) {
    Scope s;
    for (const auto& it : solo->session.pending_) s.push_back(&it);
    lane.push_scope(std::move(s));
    solo->session.passed_over_ = 0;
  }
  for (Task* t : lane.members()) t->session.state_ = FiberSession::State::kInFlight;
  if (lane.xid_scope >= 0)
    for (Task* t : lane.in_tx()) t->session.xid_ = 0;  // a new transaction begins
  lane.busy = true;
  try {
    lane.give_up = SteadyClock::now() + round_trip_timeout_;
    for (Task* t : lane.members())
      if (t->session.deadline_ && *t->session.deadline_ < lane.give_up)
        lane.give_up = *t->session.deadline_;
    lane.c().start(lane.scopes);
  } catch (const std::exception&) {
    fail(lane, std::current_exception());
  }
}

void Driver::wait(std::optional<SteadyClock::time_point> deadline, bool block) {
  std::vector<pollfd> fds;
  std::vector<Lane*> polled;
  for (auto& l : lanes_)
    if (l->busy) {
      fds.push_back(
          {l->c().socket(), static_cast<short>(POLLIN | (l->c().wants_write() ? POLLOUT : 0)), 0});
      polled.push_back(l.get());
    }
  // A round trip overdue is given up at its deadline, even while nothing else happens.
  for (const auto& l : lanes_)
    if (l->busy && (!deadline || l->give_up < *deadline)) deadline = l->give_up;
  int timeout = 0;
  bool armed = false;
  if (block) {
    // Queued writes are a reason to wake only while there is room for them: with every fiber
    // slot taken, a full queue would otherwise make each wait return at once (a busy loop that
    // took the database's CPU, measured at 64 connections). Then only the lanes, the sleepers
    // and a short safety tick wake the driver.
    const bool room = tasks_.size() < max_fibers_;
    armed = room && queue_.arm(wake_fd_);
    // Not armed with room: writes wait to be taken (no wait), unless the queue stopped (then
    // only the lanes of the writes draining, as with no room).
    if (armed || !room || queue_.stopped()) {
      if (armed) fds.push_back({wake_fd_, POLLIN, 0});
      timeout = armed ? -1 : 50;
      if (deadline) {
        const auto ms =
            std::chrono::ceil<std::chrono::milliseconds>(*deadline - SteadyClock::now());
        const int until = static_cast<int>(std::max<std::int64_t>(0, ms.count()));
        timeout = timeout < 0 ? until : std::min(timeout, until);
      }
    }
  }
  if (!fds.empty() || timeout != 0) {
    const int n = ::poll(fds.data(), fds.size(), timeout);
    if (n < 0 && errno != EINTR) obs::log_error("driver poll failed");
  }
  if (armed) queue_.disarm(wake_fd_);
  for (size_t i = 0; i < polled.size(); ++i) {
    if (!fds[i].revents) continue;
    Lane& lane = *polled[i];
    try {
      if (lane.c().advance()) complete(lane);
    } catch (const std::exception&) {
      fail(lane, std::current_exception());
    }
  }
  expire(SteadyClock::now());
}

void Driver::expire(SteadyClock::time_point now) {
  for (auto& l : lanes_)
    if (l->busy && now >= l->give_up)
      fail(*l, std::make_exception_ptr(
                   PgError("postgresql: no answer in time; connection given up", "", "", true)));
}

void Driver::fail(Lane& lane, std::exception_ptr e) {
  // The transaction's id, if its scope was answered before the connection broke.
  std::int64_t xid = 0;
  if (lane.lease && lane.xid_scope >= 0) {
    const auto answered = lane.c().salvage();
    const auto h = static_cast<size_t>(lane.xid_scope);
    if (h < answered.size() && !answered[h].error && !answered[h].rows.empty())
      xid = answered[h].rows.back().i64(0, 0);
  }
  std::string what = "postgresql: the connection was lost";
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    what = ex.what();
  } catch (...) {
  }
  if (xid)
    for (Task* t : lane.in_tx()) t->session.xid_ = xid;
  for (Task* t : lane.members()) {
    // Its COMMIT may have run (even when start() failed part-way: what was flushed may have
    // reached the server): only the database can tell, by the transaction's id.
    t->session.failure_ =
        lane.commits(t)
            ? std::make_exception_ptr(CommitUncertain(
                  what + " (after COMMIT was sent: its outcome is unknown)", t->session.xid_))
            : own_copy(e);
    t->session.pending_.clear();
    t->session.open_ = false;
    t->session.state_ = FiberSession::State::kRunnable;
  }
  lane.end_round_trip();
  lane.owner = nullptr;
  lane.busy = false;
  lane.rolling_back = false;
  // The connection is broken (or in an unknown state): it goes back to no pool.
  lane.lease.reset();
}

void Driver::complete(Lane& lane) {
  std::vector<ScopeResult> rs = lane.c().finish();
  if (lane.xid_scope >= 0) {
    // Back to one outcome for the caller's scope: the id's row out, the two parts joined.
    const auto h = static_cast<size_t>(lane.xid_scope);
    ScopeResult& head = rs[h];
    if (head.error || head.rows.empty()) {
      // BEGIN failed (never expected): what ran after its sync is not the transaction the
      // fibers asked for. The connection is given up and their outcome looked into.
      return fail(lane, std::make_exception_ptr(PgError(
                            head.error ? head.error->what() : "postgresql: no transaction id", "",
                            "", true)));
    }
    const std::int64_t xid = head.rows.back().i64(0, 0);
    head.rows.pop_back();
    for (Task* t : lane.in_tx()) t->session.xid_ = xid;
    ScopeResult& tail = rs[h + 1];
    for (auto& r : tail.rows) head.rows.push_back(std::move(r));
    head.error = std::move(tail.error);
    if (head.error) head.failed = tail.failed + 1;  // after the caller's BEGIN
    rs.erase(rs.begin() + static_cast<std::ptrdiff_t>(h) + 1);
  }
  lane.busy = false;
  if (lane.rolling_back) {
    lane.rolling_back = false;
    return;
  }
  if (m_.fibers) m_.fibers->observe(static_cast<double>(lane.member_count()));
  auto answer = [](Task* t, ScopeResult r) {
    t->session.answer_ = std::move(r);
    t->session.pending_.clear();
    t->session.state_ = FiberSession::State::kRunnable;
  };
  auto again = [&](Task* t) {
    // pending_ is kept: it goes in a later round trip.
    t->session.state_ = FiberSession::State::kWaiting;
    if (m_.resent) m_.resent->inc();
  };
  auto error_for = [](const PgError& e) {
    ScopeResult r;
    r.error = e;
    r.failed = 0;
    return r;
  };
  size_t k = 0;
  if (!lane.reads.empty()) {
    ScopeResult& r = rs[k++];
    ReadMerge& rm = *lane.read_merge;
    for (size_t i = 0; i < lane.reads.size(); ++i) {
      Task* t = lane.reads[i];
      switch (rm.fate(i, r)) {
        case ReadMerge::Fate::kAnswered: {
          ScopeResult mine;
          mine.rows = rm.results(i, r);
          answer(t, std::move(mine));
          break;
        }
        case ReadMerge::Fate::kFailed:
          answer(t, error_for(*r.error));
          break;
        case ReadMerge::Fate::kAgain:
          again(t);
          break;
      }
    }
  }
  if (!lane.merge.empty()) {
    if (m_.merged) m_.merged->observe(static_cast<double>(lane.merge.size()));
    ScopeResult& r = rs[k];
    CommitMerge& cm = *lane.commit_merge;
    for (size_t i = 0; i < lane.merge.size(); ++i) {
      Task* t = lane.merge[i];
      switch (cm.fate(i, r)) {
        case CommitMerge::Fate::kCommitted: {
          ScopeResult mine;
          mine.rows = cm.results(i, r);
          answer(t, std::move(mine));
          break;
        }
        case CommitMerge::Fate::kFailed:
          answer(t, error_for(*r.error));
          break;
        case CommitMerge::Fate::kAgain:
          again(t);
          break;
      }
    }
    if (r.error) {
      // The merged transaction is aborted (or ended by its failed COMMIT): end it before the
      // lane carries anything else; the next merged transaction waits for that.
      lane.end_round_trip();
      lane.scopes.assign(1, Scope{&lane.rollback});
      lane.rolling_back = true;
      lane.busy = true;
      lane.give_up = SteadyClock::now() + round_trip_timeout_;
      try {
        lane.c().start(lane.scopes);
      } catch (const std::exception&) {
        fail(lane, std::current_exception());
      }
      return;
    }
  } else if (lane.solo) {
    Task* t = lane.solo;
    FiberSession& fs = t->session;
    fs.open_ = open_after(fs.open_, fs.pending_, rs[k]);
    lane.owner = fs.open_ ? t : nullptr;
    answer(t, std::move(rs[k]));
  }
  lane.end_round_trip();
}

}  // namespace appointd::store::postgres
