#pragma once
// A small RAII wrapper over libpq: a Connection owns a PGconn* and prepares named statements
// on first use; a Result owns a PGresult*. Parameters and results travel as text; instants are
// passed as Unix seconds (the SQL converts with to_timestamp) and read back the same way.
// A Connection is used by one thread at a time. Errors throw PgError (a StoreError) carrying
// the SQLSTATE, so the store can decide what to retry.
#include <libpq-fe.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "store/store.h"

namespace appointd::store::postgres {

// A statement with a stable name (the key of the server-side prepared statement). Every SQL
// text of the backend is one of these constants in sql.h; input is always a parameter.
// Sessions force generic plans (pg_store.cpp): a statement's plan must not depend on which
// optional parameters are NULL for an index to be used (split such statements instead).
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
  // Appends the parameters of `o` (they become $n+1, $n+2, ...).
  Params& append(const Params& o);

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

// A Connection runs statements in libpq's pipeline mode: statements whose result the caller
// does not need are queued (defer) and travel with the next statement that needs one (run), or
// with flush()/commit(). One round trip then carries the whole queue. A queued statement's
// error surfaces at that sync point as the same PgError (SQLSTATE, constraint) it would have
// raised on its own, named after the statement that failed; the statements after it in the
// queue did not run (the server skips them up to the sync, and an open transaction is aborted).
class Connection {
 public:
  // Connects (blocking) with libpq's conninfo or URL. Throws PgError(connection_lost) when the
  // server cannot be reached. `setup` statements run once after connecting (SET ...).
  Connection(const std::string& url, const std::vector<std::string>& setup);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Sends what is queued and then the named statement (prepared on this connection at first
  // use, in the same round trip) and returns its rows.
  Result run(const Statement& s, const Params& p = {});
  // Sends what is queued and then every statement of `batch`, in one round trip; returns the
  // rows of every wanted statement sent (those queued by want() first), in order.
  std::vector<Result> run_all(std::span<const std::pair<const Statement*, Params>> batch);
  // Queues a named statement whose rows are wanted: the next run_all() returns them.
  void want(const Statement& s, Params p);
  // Queues a named statement whose rows are not needed; its errors surface at the next sync.
  void defer(const Statement& s, Params p);
  // Queues constant utility text (BEGIN, SAVEPOINT, ...: one statement, no parameters).
  // `elidable`: may be dropped when still queued at commit() (RELEASE before COMMIT).
  void defer(const char* sql, bool elidable = false);
  // When the last queued statement is `last`, makes it `fused` (one statement doing both, whose
  // parameters are those of `last` followed by `more`) and returns true; else queues nothing.
  bool fuse(const Statement& last, const Statement& fused, const Params& more);
  // Sends what is queued and waits for it; throws the first error.
  void flush();
  // Queues COMMIT after what is queued and sends it all in one round trip. Queued elidable
  // statements are dropped first.
  void commit();
  // Forgets what is queued, and rolls back an open transaction; swallows errors (a broken
  // connection is left broken, and the pool drops it).
  void rollback_quietly();
  // Runs SQL text without parameters (transaction control, SET, migrations: several statements
  // allowed) after flushing what is queued. Never call it with text built from input.
  void exec(const char* sql);
  // False once the connection is broken; a broken connection goes back to no pool.
  bool ok() const { return PQstatus(c_) == CONNECTION_OK && !lost_; }
  // True when a transaction is open (or failed) on this connection, or statements are queued.
  bool in_transaction() const;
  // Statements queued and not yet sent.
  size_t queued() const { return queue_.size(); }
  // Round trips made so far (each send of the queue, each exec()): for tests and tuning.
  size_t round_trips() const { return round_trips_; }

 private:
  struct Item {
    const Statement* st = nullptr;  // a named statement, or
    const char* text = nullptr;     // constant utility text
    Params params;
    bool want = false;  // the caller needs its rows
    bool elidable = false;
  };
  // Sends the queue as one pipeline with one sync; returns the rows of the wanted items.
  std::vector<Result> send_queue();
  [[noreturn]] void fail(PGresult* r, const char* what);
  PGconn* c_ = nullptr;
  bool lost_ = false;
  size_t round_trips_ = 0;
  std::vector<Item> queue_;
  std::unordered_set<std::string> prepared_;  // names of statements prepared on this session
};

}  // namespace appointd::store::postgres
