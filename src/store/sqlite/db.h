#pragma once
// A small RAII wrapper over the SQLite C API: a Connection owns a sqlite3* and a cache of
// prepared statements keyed by SQL text; a Stmt is a borrowed, reset-on-scope-exit handle.
// A Connection is used by one thread at a time. Errors throw store::StoreError.
#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace appointd::store::sqlite {

class Stmt {
 public:
  explicit Stmt(sqlite3_stmt* s) : s_(s) {}
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }

  // Binds by 1-based index. Strings are copied (SQLITE_TRANSIENT).
  Stmt& bind(int i, std::int64_t v);
  Stmt& bind(int i, int v) { return bind(i, static_cast<std::int64_t>(v)); }
  Stmt& bind(int i, std::string_view v);
  Stmt& bind(int i, const std::string& v) { return bind(i, std::string_view(v)); }
  Stmt& bind(int i, const char* v) { return bind(i, std::string_view(v)); }
  Stmt& bind_null(int i);
  // Binds an empty string as NULL (for optional text columns).
  Stmt& bind_text_or_null(int i, std::string_view v) {
    return v.empty() ? bind_null(i) : bind(i, v);
  }

  // Steps once: true when a row is available, false when done. Throws on error (including
  // constraint violations, which the callers prevent by construction).
  bool step();
  // Runs to completion, ignoring rows.
  void exec();

  std::int64_t i64(int col) const { return sqlite3_column_int64(s_, col); }
  bool is_null(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }
  std::string text(int col) const;

 private:
  sqlite3_stmt* s_;
};

class Connection {
 public:
  // Opens `path` (read-write and create, or read-only). busy_timeout is set so CLI commands
  // can share the file with a running server.
  Connection(const std::string& path, bool read_only);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // A cached prepared statement for this SQL text (prepared on first use).
  Stmt prepare(const char* sql);
  // Runs one or more statements without results.
  void exec(const char* sql);
  std::int64_t last_insert_id() const { return sqlite3_last_insert_rowid(db_); }
  int changes() const { return sqlite3_changes(db_); }
  sqlite3* raw() { return db_; }

 private:
  sqlite3* db_ = nullptr;
  std::unordered_map<const char*, sqlite3_stmt*> cache_;  // key: SQL text pointer (named consts)
};

}  // namespace appointd::store::sqlite
