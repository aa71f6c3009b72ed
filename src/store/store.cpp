#include "store/store.h"

#include <future>
#include <string_view>

#include "store/postgres/pg_store.h"
#include "store/sqlite/sqlite_store.h"

namespace appointd::store {

void Store::write_sync(const WriteFn& fn) {
  std::promise<void> p;
  auto f = p.get_future();
  write(fn, [&p](std::exception_ptr e) {
    if (e)
      p.set_exception(e);
    else
      p.set_value();
  });
  f.get();
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
