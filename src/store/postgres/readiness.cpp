#include "store/postgres/readiness.h"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "store/postgres/pg.h"
#include "store/postgres/sql.h"

namespace appointd::store::postgres {

using SteadyClock = std::chrono::steady_clock;

namespace {
// The URL with a connect timeout, so a ping to an unreachable server gives up (a frozen one may
// still hold it: readiness goes stale meanwhile).
std::string with_connect_timeout(std::string url) {
  if (url.find("connect_timeout") != std::string::npos) return url;
  if (url.rfind("postgres", 0) != 0) return url + " connect_timeout=2";  // key=value form
  return url + (url.find('?') == std::string::npos ? "?" : "&") + "connect_timeout=2";
}
}  // namespace

struct Readiness::State {
  State(std::string u, std::chrono::milliseconds i)
      : url(with_connect_timeout(std::move(u))), interval(i) {}
  const std::string url;
  const std::chrono::milliseconds interval;
  std::atomic<bool> ok{false};
  std::atomic<SteadyClock::rep> last_ok{0};  // SteadyClock ticks of the last good ping
  std::mutex mu;
  std::condition_variable cv;
  bool stop = false;
  std::unique_ptr<Connection> conn;  // the pinging thread's only

  void ping() {
    try {
      if (!conn || !conn->ok())
        conn = std::make_unique<Connection>(
            url, std::vector<std::string>{"SET statement_timeout = 1000"});
      conn->run(sql::kPing);
      last_ok = SteadyClock::now().time_since_epoch().count();
      ok = true;
    } catch (const std::exception&) {
      conn.reset();
      ok = false;
    }
  }
};

Readiness::Readiness(std::string url, std::chrono::milliseconds interval)
    : state_(std::make_shared<State>(std::move(url), interval)) {
  state_->ping();
  // The thread shares the state, so a ping that outlives this object touches nothing freed.
  std::thread([s = state_] {
    std::unique_lock lock(s->mu);
    while (!s->cv.wait_for(lock, s->interval, [&] { return s->stop; })) {
      lock.unlock();
      s->ping();
      lock.lock();
    }
  }).detach();
}

Readiness::~Readiness() {
  {
    std::lock_guard lock(state_->mu);
    state_->stop = true;
  }
  state_->cv.notify_all();
}

bool Readiness::ready() const {
  const auto age =
      SteadyClock::now() - SteadyClock::time_point(SteadyClock::duration(state_->last_ok));
  return state_->ok && age < 2 * state_->interval;
}

}  // namespace appointd::store::postgres
