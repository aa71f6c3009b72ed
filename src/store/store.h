#pragma once
// The Store: where use cases run. Writes are functions over a WriteTx; the store decides how
// they are serialised (SQLite: one writer thread, group commit) or isolated (PostgreSQL).
#include <exception>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "obs/metrics.h"
#include "store/tx.h"

namespace appointd::store {

// Broken infrastructure (I/O error, corrupt file, lost connection). Becomes a 500/503.
class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The store cannot serve right now but may soon: database unreachable, connection pool
// exhausted, or a write that kept losing lock races until its retries ran out. Nothing of the
// failed operation was committed. The HTTP layer answers 503 `unavailable` with Retry-After.
class StoreUnavailable : public StoreError {
 public:
  using StoreError::StoreError;
};

// A write whose COMMIT was sent but whose outcome could not be learned in time (the database
// stopped answering): it may have committed or not. Not "nothing changed": the client retries
// with the same Idempotency-Key, which then replays the real outcome or runs the write once.
class OutcomeUnknown : public StoreUnavailable {
 public:
  using StoreUnavailable::StoreUnavailable;
};

// A write: runs inside its own savepoint of a write transaction. It may be run again when the
// backend retries a transaction (PostgreSQL), so it must derive all state from the tx and its
// captures and overwrite (not append to) any result it reports. It returns normally for every
// domain outcome; an exception rolls its savepoint back and is handed to `done`.
using WriteFn = std::function<void(WriteTx&)>;
// Called once, after the transaction holding the write is durable (nullptr) or has failed.
// Called on a store thread: it must be quick and must not call back into the store
// synchronously.
using DoneFn = std::function<void(std::exception_ptr)>;
using ReadFn = std::function<void(ReadTx&)>;

class Store {
 public:
  virtual ~Store() = default;
  // Queues a write. Thread-safe.
  virtual void write(WriteFn fn, DoneFn done) = 0;
  // Runs fn on a read-only snapshot, synchronously on the calling thread. Thread-safe.
  virtual void read(const ReadFn& fn) = 0;
  // Runs fn synchronously in a write transaction of its own and commits (for CLI commands).
  void write_sync(const WriteFn& fn);
  // True when the store can serve (database reachable).
  virtual bool ready() = 0;
  // "sqlite" or "postgresql".
  virtual std::string backend() const = 0;
  // The checks of `appointd audit`: I1-I4 and the store's own integrity check, each with its
  // number of violations (0 = holds).
  struct Check {
    std::string name;
    long violations = 0;
    std::string detail;
  };
  virtual std::vector<Check> audit() = 0;
};

struct Options {
  std::string url;              // sqlite:PATH | postgresql://...
  bool durability_full = true;  // synchronous=FULL (fsync per batch)
  int read_connections = 4;
  int max_batch = 256;               // most commands in one group commit
  obs::Registry* metrics = nullptr;  // where the store reports; may be null
  // PostgreSQL only (docs/deployment.md explains each).
  int pool_size = 8;                 // connections per instance (reads and writes)
  int pool_wait_ms = 2000;           // longest wait for a free connection, then unavailable
  int lock_timeout_ms = 2000;        // SET lock_timeout on every connection
  int statement_timeout_ms = 10000;  // SET statement_timeout on every connection
  // Whether bookings probe their time without the lock first: "auto" (while conflicts are
  // common), "always" or "never" (src/store/postgres/probe.h).
  std::string probe = "auto";
  // Threads that each run many writes at once over one connection, sharing its round trips
  // and commits (src/store/postgres/batch.h); at least 1.
  int pg_writers = 1;
  // The longest a round trip may go unanswered before its connection is given up (the server
  // may be frozen or the network gone); a COMMIT in it then has an outcome to find out.
  int round_trip_timeout_ms = 12000;
  // How long a write whose COMMIT lost its connection keeps asking the database whether it
  // committed (pg_xact_status) before it answers OutcomeUnknown.
  int outcome_wait_ms = 3000;
};

// Opens (creating and migrating as needed) the store named by `opts.url`.
std::unique_ptr<Store> open_store(const Options& opts);

}  // namespace appointd::store
