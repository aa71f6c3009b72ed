#include "store/store.h"

#include <condition_variable>
#include <mutex>
#include <string_view>

#include "store/postgres/pg_store.h"
#include "store/sqlite/sqlite_store.h"

namespace appointd::store {

void Store::write_sync(const WriteFn& fn) {
  // The failure is moved, never copied, from the store's thread to this one, under a mutex: this
  // thread then holds its only reference and destroys it after reading it. (A copy released on
  // the store's thread afterwards, as std::promise::set_exception leaves one, would destroy the
  // exception there while this thread reads it, as far as ThreadSanitizer can tell: libstdc++'s
  // reference count is not instrumented.)
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  std::exception_ptr failure;
  write(fn, [&](std::exception_ptr e) {
    std::lock_guard lock(mu);
    failure = std::move(e);
    done = true;
    cv.notify_one();  // under the lock: this frame's mutex and condvar outlive the call
  });
  std::unique_lock lock(mu);
  cv.wait(lock, [&] { return done; });
  if (failure) std::rethrow_exception(std::move(failure));
}

std::unique_ptr<Store> open_store(const Options& opts) {
  std::string_view url = opts.url;
  if (url.rfind("sqlite:", 0) == 0)
    return sqlite::open_sqlite_store(opts, std::string(url.substr(7)));
  if (url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0)
    return postgres::open_postgres_store(opts, opts.url);
  throw StoreError("unknown database url (want sqlite:PATH or postgresql://...): " + opts.url);
}

}  // namespace appointd::store
