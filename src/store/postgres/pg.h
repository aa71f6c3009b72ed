#pragma once
// A small RAII wrapper over libpq: a Connection owns a PGconn* and prepares named statements
// on first use; a Result owns a PGresult*. Parameters travel as text, results in binary;
// instants are passed as Unix seconds (the SQL converts with to_timestamp) and read back as
// Unix seconds (Result::i64 of a timestamptz column).
// A Connection is used by one thread at a time. Errors throw PgError (a StoreError) carrying
// the SQLSTATE, so the store can decide what to retry.
#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <optional>
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
          bool connection_lost, std::string detail = "")
      : StoreError(what),
        sqlstate_(std::move(sqlstate)),
        constraint_(std::move(constraint)),
        detail_(std::move(detail)),
        connection_lost_(connection_lost) {}
  const std::string& sqlstate() const { return sqlstate_; }
  const std::string& constraint() const { return constraint_; }
  // The server's DETAIL field (empty when none).
  const std::string& detail() const { return detail_; }
  bool connection_lost() const { return connection_lost_; }

 private:
  std::string sqlstate_;
  std::string constraint_;
  std::string detail_;
  bool connection_lost_;
};

// The connection broke after a COMMIT was sent, before its answer came: the transaction may have
// committed or not. `xid`: its transaction id, when it was learned before COMMIT was sent
// (pg_xact_status then tells the outcome); 0 when not.
class CommitUncertain : public StoreError {
 public:
  CommitUncertain(const std::string& what, std::int64_t xid) : StoreError(what), xid_(xid) {}
  std::int64_t xid() const { return xid_; }

 private:
  std::int64_t xid_;
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
  // {0,1,...,n-1}: the positions of the statements a merged one stands for.
  Params& add_indexes(size_t n);
  // A text[] literal of parameters: value(i) of each ps[k], quoted (backslashes and double
  // quotes escaped), NULL where that one is NULL.
  Params& add_texts_of(const std::vector<const Params*>& ps, int i);
  // A numeric array literal of parameters (integers): value(i) of each ps[k], NULL as NULL.
  Params& add_numbers_of(const std::vector<const Params*>& ps, int i);
  // Appends the parameters of `o` (they become $n+1, $n+2, ...).
  Params& append(const Params& o);

  int size() const { return static_cast<int>(values_.size()); }
  // The text of parameter i (empty for NULL).
  const std::string& value(int i) const { return values_[static_cast<size_t>(i)]; }
  bool is_null(int i) const { return null_[static_cast<size_t>(i)]; }
  // Pointers valid while this object lives and is not changed.
  std::vector<const char*> pointers() const;

 private:
  Params& push(std::string v);
  std::vector<std::string> values_;
  std::vector<bool> null_;
};

// The rows of one statement, in binary format: no value is formatted as text by the server or
// parsed back here. i64() reads any integer, boolean or timestamp column (a timestamp as Unix
// seconds); text() a text column. Several Results may share one server result: a view shows
// some of its rows (in the given order) from some column on, so that a statement merged from
// several (batch.h) answers each of them as if it had run alone. Cheap to move; copies share.
class Result {
 public:
  explicit Result(PGresult* r) : r_(r, &PQclear) {}

  int rows() const { return mapped_ ? static_cast<int>(rows_.size()) : PQntuples(r_.get()); }
  bool is_null(int row, int col) const { return PQgetisnull(r_.get(), at(row), col + col_) != 0; }
  std::string text(int row, int col) const {
    return {PQgetvalue(r_.get(), at(row), col + col_),
            static_cast<size_t>(PQgetlength(r_.get(), at(row), col + col_))};
  }
  std::int64_t i64(int row, int col) const;  // 0 for NULL
  bool boolean(int row, int col) const { return i64(row, col) != 0; }
  // Rows changed by an INSERT/UPDATE/DELETE.
  long affected() const;
  // The rows `rows` of this result (indices into it), from column `col` on.
  Result view(std::vector<int> rows, int col) const;

 private:
  Result() = default;
  int at(int row) const { return mapped_ ? rows_[static_cast<size_t>(row)] : row; }
  std::shared_ptr<PGresult> r_;
  std::vector<int> rows_;
  bool mapped_ = false;
  int col_ = 0;
};

// One statement of a pipeline: a named statement (prepared on the connection at first use) or
// constant utility text (BEGIN, SAVEPOINT ...; no parameters).
struct Item {
  const Statement* st = nullptr;
  const char* text = nullptr;
  Params params;
  bool want = false;      // the caller needs its rows
  bool elidable = false;  // may be dropped when still queued at commit (RELEASE before COMMIT)
};

// The queueing half of a connection: statements whose result the caller does not need are
// queued (defer) and travel with the next statement that needs one (run), or with
// flush()/commit(). One round trip then carries the whole queue. A queued statement's error
// surfaces at that sync point as the same PgError (SQLSTATE, constraint) it would have raised
// on its own, named after the statement that failed; the statements after it in the queue did
// not run (the server skips them up to the sync, and an open transaction is aborted).
//
// How a round trip is made is the subclass's: a Connection sends it itself; a fiber's session
// (batch.h) hands it to the thread that shares one connection among many fibers.
class Session {
 public:
  virtual ~Session() = default;
  Session() = default;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

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
  virtual void rollback_quietly() = 0;
  // False once the connection is broken.
  virtual bool ok() const = 0;
  // True when a transaction is open (or failed) on this session, or statements are queued.
  virtual bool in_transaction() const = 0;
  // Statements queued and not yet sent.
  size_t queued() const { return queue_.size(); }
  // Round trips made so far (each send of the queue, each exec()): for tests and tuning.
  size_t round_trips() const { return round_trips_; }

 protected:
  // Sends `q` as one round trip with one sync; returns the rows of its wanted items, in order.
  // Throws the first error (PgError), or PgError(connection_lost) when the session broke.
  virtual std::vector<Result> send(std::vector<Item> q) = 0;
  std::vector<Item> queue_;
  size_t round_trips_ = 0;

 private:
  std::vector<Result> send_queue();
};

// One sync scope of a round trip (Connection::exchange): its items, sent in order, then a sync.
using Scope = std::vector<const Item*>;
// Its outcome: the rows of the wanted items that ran, in order, and the first error, at item
// `failed` (the items after it did not run; an explicit transaction open at the sync is then
// aborted and waits for a ROLLBACK).
struct ScopeResult {
  std::vector<Result> rows;
  std::optional<PgError> error;
  size_t failed = static_cast<size_t>(-1);
};

// A session of its own over one PGconn, in libpq's pipeline mode. Used by one thread at a time.
class Connection final : public Session {
 public:
  // Connects (blocking) with libpq's conninfo or URL. Throws PgError(connection_lost) when the
  // server cannot be reached. `setup` statements run once after connecting (SET ...).
  Connection(const std::string& url, const std::vector<std::string>& setup);
  ~Connection() override;

  // Several scopes in one round trip: each scope's items, each followed by its own sync, sent
  // together; the outcome of each scope. Statements not prepared on this connection yet are
  // prepared first, in a scope of their own. Throws PgError(connection_lost) when the connection
  // breaks or the pipeline's state is lost (then nothing can be said of any scope: a COMMIT in
  // it may or may not have run).
  std::vector<ScopeResult> exchange(std::span<const Scope> scopes);
  // The same without waiting: start() sends the scopes (the items must outlive the exchange);
  // advance() reads what has arrived, without blocking in nonblocking mode, and is true once
  // every scope is answered; finish() then returns the outcomes. One exchange at a time; an
  // exception from any of them ends it (and the connection is then broken).
  void start(std::span<const Scope> scopes);
  bool advance();
  std::vector<ScopeResult> finish();
  // After start()/advance() threw: the outcomes of the scopes fully answered before the
  // connection broke (the first n scopes), once; empty when none.
  std::vector<ScopeResult> salvage() { return std::exchange(salvaged_, {}); }
  // Whether output is still buffered (wait for the socket to be writable, then advance()).
  bool wants_write() const;
  int socket() const;
  // Nonblocking mode: sends and reads never wait (for a thread that serves many connections).
  void set_nonblocking(bool on);

  // Runs SQL text without parameters (transaction control, SET, migrations: several statements
  // allowed) after flushing what is queued. Never call it with text built from input.
  void exec(const char* sql);
  void rollback_quietly() override;
  bool ok() const override { return PQstatus(c_) == CONNECTION_OK && !lost_; }
  bool in_transaction() const override;

 protected:
  std::vector<Result> send(std::vector<Item> q) override;

 private:
  [[noreturn]] void fail(PGresult* r, const char* what);
  [[noreturn]] void broken(const char* what);
  // Marks the session lost and ends the exchange, keeping the scopes answered so far.
  void broken_keeping_answers();
  struct Exchange;
  PGconn* c_ = nullptr;
  bool lost_ = false;
  std::unordered_set<std::string> prepared_;  // names of statements prepared on this session
  std::unique_ptr<Exchange> x_;               // the exchange in flight
  std::vector<ScopeResult> salvaged_;         // answered scopes of an exchange that broke
  bool flush_pending_ = false;
};

}  // namespace appointd::store::postgres
