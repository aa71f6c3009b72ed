#pragma once
// The reads of several fibers as one sync scope (batch.h), with fewer statements: statements of
// the kinds below that several fibers send become one statement for all of them, and each
// fiber gets back exactly the rows its own statement would have returned (a Result view).
//   - kBlocksOfIfBusy, kBlocksOf and kReserveIdsAndCustomerIfFree: one *Many statement each
//   (sql.h),
//     whose rows lead with the index of the statement they answer;
//   - kCatalogVersion with the same company: sent once, its result shared.
// A statement costs the server its planning-cache lookup, locks, executor start and protocol
// messages, whatever it reads; merged, a probe of a conflict costs little more than its rows.
// Other statements go as they are, after the merged ones. Order does not matter within a read
// scope: each statement is a read with its own snapshot.
#include <deque>
#include <vector>

#include "store/postgres/pg.h"

namespace appointd::store::postgres {

class ReadMerge {
 public:
  // The fibers' queues, in order; they must outlive this object and stay unchanged.
  explicit ReadMerge(const std::vector<const std::vector<Item>*>& queues);
  ReadMerge(const ReadMerge&) = delete;
  ReadMerge& operator=(const ReadMerge&) = delete;

  const Scope& scope() const { return scope_; }

  // After the exchange answered the scope with `out`. A fiber is answered when all its
  // statements ran before the failed one (or none failed); it failed when the failed statement
  // is (or merges) one of its own; otherwise its statements did not run, and it goes again.
  enum class Fate { kAnswered, kFailed, kAgain };
  Fate fate(size_t fiber, const ScopeResult& out) const;
  // The rows of fiber `fiber`'s wanted statements, in its order (fate kAnswered only).
  std::vector<Result> results(size_t fiber, const ScopeResult& out);

 private:
  struct Slot {
    size_t pos;    // scope position answering it
    int instance;  // its index in a merged statement, -1: the position's whole result
  };
  void index(const ScopeResult& out);
  Scope scope_;
  std::deque<Item> owned_;  // the merged statements (stable addresses), positions 0..size-1
  std::vector<std::vector<Slot>> wanted_;       // per fiber: its wanted statements' answers
  std::vector<std::vector<size_t>> positions_;  // per fiber: the positions it has a part in
  // After the exchange: per position, its index in out.rows (-1: not wanted); per merged
  // position, the rows of each instance.
  bool indexed_ = false;
  std::vector<int> row_of_;
  std::vector<std::vector<std::vector<int>>> instance_rows_;
};

}  // namespace appointd::store::postgres
