#include "store/sqlite/db.h"

#include "store/store.h"

namespace appointd::store::sqlite {
namespace {

[[noreturn]] void fail(sqlite3* db, const char* what) {
  throw StoreError(std::string("sqlite: ") + what + ": " + (db ? sqlite3_errmsg(db) : "?"));
}

}  // namespace

Stmt& Stmt::bind(int i, std::int64_t v) {
  if (sqlite3_bind_int64(s_, i, v) != SQLITE_OK) fail(sqlite3_db_handle(s_), "bind");
  return *this;
}

Stmt& Stmt::bind(int i, std::string_view v) {
  if (sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT) != SQLITE_OK)
    fail(sqlite3_db_handle(s_), "bind");
  return *this;
}

Stmt& Stmt::bind_null(int i) {
  if (sqlite3_bind_null(s_, i) != SQLITE_OK) fail(sqlite3_db_handle(s_), "bind");
  return *this;
}

bool Stmt::step() {
  int rc = sqlite3_step(s_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  fail(sqlite3_db_handle(s_), sqlite3_sql(s_));
}

void Stmt::exec() {
  while (step()) {
  }
}

std::string Stmt::text(int col) const {
  const unsigned char* p = sqlite3_column_text(s_, col);
  if (!p) return {};
  return std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(s_, col));
}

namespace {
// SQLite's memory statistics take a global mutex on every allocation, which every connection
// of every thread shares (a tenth of a busy read path's time, measured with perf); appointd
// never reads them. Must precede SQLite's initialisation, so before the first open.
void configure_once() {
  static const bool done = [] {
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    return true;
  }();
  (void)done;
}
}  // namespace

Connection::Connection(const std::string& path, bool read_only) {
  configure_once();
  int flags = read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  flags |= SQLITE_OPEN_NOMUTEX;  // one thread at a time, by contract
  if (sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw StoreError("sqlite: cannot open " + path + ": " + msg);
  }
  sqlite3_busy_timeout(db_, 5000);
  sqlite3_extended_result_codes(db_, 1);
}

Connection::~Connection() {
  for (auto& [_, s] : cache_) sqlite3_finalize(s);
  sqlite3_close(db_);
}

Stmt Connection::prepare(const char* sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) return Stmt(it->second);
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK)
    fail(db_, sql);
  cache_.emplace(sql, s);
  return Stmt(s);
}

void Connection::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "?";
    sqlite3_free(err);
    throw StoreError(std::string("sqlite: ") + msg);
  }
}

}  // namespace appointd::store::sqlite
