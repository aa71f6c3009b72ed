#include "store/postgres/pool.h"

namespace appointd::store::postgres {

Pool::Pool(std::string url, std::vector<std::string> setup, int size,
           std::chrono::milliseconds wait, PoolMetrics metrics)
    : url_(std::move(url)),
      setup_(std::move(setup)),
      size_(std::max(1, size)),
      wait_(wait),
      m_(metrics) {}

Pool::~Pool() = default;

std::unique_ptr<Connection> Pool::connect_direct() const {
  return std::make_unique<Connection>(url_, setup_);
}

void Pool::observe_locked(std::chrono::steady_clock::time_point began) {
  if (m_.wait)
    m_.wait->observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count());
  if (m_.in_use) m_.in_use->set(leased_);
  if (m_.size) m_.size->set(open_);
}

Pool::Lease Pool::acquire() {
  const auto began = std::chrono::steady_clock::now();
  if (auto l = acquire_until(began, began + wait_)) return std::move(*l);
  {
    std::lock_guard lock(mu_);
    observe_locked(began);
  }
  throw StoreUnavailable("postgresql: no free connection within " + std::to_string(wait_.count()) +
                         " ms (pool of " + std::to_string(size_) + ")");
}

std::optional<Pool::Lease> Pool::try_acquire() {
  const auto now = std::chrono::steady_clock::now();
  return acquire_until(now, now);
}

std::optional<Pool::Lease> Pool::acquire_until(std::chrono::steady_clock::time_point began,
                                               std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mu_);
  if (!cv_.wait_until(lock, deadline, [&] { return !idle_.empty() || open_ < size_; }))
    return std::nullopt;
  if (!idle_.empty()) {
    auto c = std::move(idle_.back());
    idle_.pop_back();
    ++leased_;
    observe_locked(began);
    return Lease(this, std::move(c));
  }
  // Open a new connection outside the lock (it takes a round trip or a connect timeout).
  ++open_;
  ++leased_;
  lock.unlock();
  try {
    auto c = connect_direct();
    lock.lock();
    observe_locked(began);
    return Lease(this, std::move(c));
  } catch (const std::exception& e) {
    lock.lock();
    --open_;
    --leased_;
    observe_locked(began);
    lock.unlock();
    cv_.notify_one();
    throw StoreUnavailable(e.what());
  }
}

void Pool::drop_idle() {
  std::vector<std::unique_ptr<Connection>> gone;
  {
    std::lock_guard lock(mu_);
    gone.swap(idle_);
    open_ -= static_cast<int>(gone.size());
    if (m_.size) m_.size->set(open_);
  }
  cv_.notify_all();
}

void Pool::release(std::unique_ptr<Connection> c) {
  {
    std::lock_guard lock(mu_);
    --leased_;
    // A connection that broke, or was left inside a transaction by an error path, is dropped.
    if (c->ok() && !c->in_transaction())
      idle_.push_back(std::move(c));
    else
      --open_;
    if (m_.in_use) m_.in_use->set(leased_);
    if (m_.size) m_.size->set(open_);
  }
  cv_.notify_one();
}

}  // namespace appointd::store::postgres
