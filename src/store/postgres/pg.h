#pragma once
// A small RAII wrapper over libpq: a Connection owns a PGconn* and prepares named statements
// on first use; a Result owns a PGresult*. Parameters and results travel as text; instants are
// passed as Unix seconds (the SQL converts with to_timestamp) and read back the same way.
// A Connection is used by one thread at a time. Errors throw PgError (a StoreError) carrying
// the SQLSTATE, so the store can decide what to retry.
#include <libpq-fe.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "store/store.h"

namespace appointd::store::postgres {

// A statement with a stable name (the key of the server-side prepared statement). Every SQL
// text of the backend is one of these constants in sql.h; input is always a parameter.
struct Statement {
  const char* name;
  const char* sql;
};

// A failed statement or connection. sqlstate() is empty when the server sent none (e.g. the
// connection broke); connection_lost() is true when the connection is unusable afterwards.
class PgError : public StoreError {
 public:
  PgError(const std::string& what, std::string sqlstate, std::string constraint,
          bool connection_lost)
      : StoreError(what),
        sqlstate_(std::move(sqlstate)),
        constraint_(std::move(constraint)),
        connection_lost_(connection_lost) {}
  const std::string& sqlstate() const { return sqlstate_; }
  const std::string& constraint() const { return constraint_; }
  bool connection_lost() const { return connection_lost_; }

 private:
  std::string sqlstate_;
  std::string constraint_;
  bool connection_lost_;
};

// Text parameters of one statement, in order ($1, $2, ...).
class Params {
 public:
  Params& add(std::int64_t v) { return push(std::to_string(v)); }
  Params& add(int v) { return add(static_cast<std::int64_t>(v)); }
  Params& add(bool v) { return push(v ? "t" : "f"); }
  Params& add(std::string_view v) { return push(std::string(v)); }
  Params& add(const std::string& v) { return push(v); }
  Params& add(const char* v) { return push(v); }
  Params& add_null();
  // An empty string as NULL (optional text columns).
  Params& add_text_or_null(std::string_view v) { return v.empty() ? add_null() : add(v); }
  // A bigint[] literal such as {1,2,3}.
  Params& add_ids(const std::vector<std::int64_t>& ids);

  int size() const { return static_cast<int>(values_.size()); }
  // Pointers valid while this object lives and is not changed.
  std::vector<const char*> pointers() const;

 private:
  Params& push(std::string v);
  std::vector<std::string> values_;
  std::vector<bool> null_;
};

class Result {
 public:
  explicit Result(PGresult* r) : r_(r) {}
  Result(Result&& o) noexcept : r_(o.r_) { o.r_ = nullptr; }
  Result& operator=(Result&&) = delete;
  Result(const Result&) = delete;
  ~Result() { PQclear(r_); }

  int rows() const { return PQntuples(r_); }
  bool is_null(int row, int col) const { return PQgetisnull(r_, row, col) != 0; }
  std::string text(int row, int col) const {
    return {PQgetvalue(r_, row, col), static_cast<size_t>(PQgetlength(r_, row, col))};
  }
  std::int64_t i64(int row, int col) const;  // 0 for NULL
  bool boolean(int row, int col) const { return PQgetvalue(r_, row, col)[0] == 't'; }
  // Rows changed by an INSERT/UPDATE/DELETE.
  long affected() const;

 private:
  PGresult* r_;
};

class Connection {
 public:
  // Connects (blocking) with libpq's conninfo or URL. Throws PgError(connection_lost) when the
  // server cannot be reached. `setup` statements run once after connecting (SET ...).
  Connection(const std::string& url, const std::vector<std::string>& setup);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs a named statement (prepared on this connection at first use) and returns its rows.
  Result run(const Statement& s, const Params& p = {});
  // Runs SQL text without parameters (transaction control, SET, migrations: several statements
  // allowed). Never call it with text built from input.
  void exec(const char* sql);
  // False once the connection is broken; a broken connection goes back to no pool.
  bool ok() const { return PQstatus(c_) == CONNECTION_OK && !lost_; }
  // True when a transaction is open (or failed) on this connection.
  bool in_transaction() const;

 private:
  [[noreturn]] void fail(PGresult* r, const char* what);
  PGconn* c_ = nullptr;
  bool lost_ = false;
  std::unordered_set<std::string> prepared_;  // names of statements prepared on this session
};

}  // namespace appointd::store::postgres
