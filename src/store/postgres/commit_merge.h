#pragma once
// The writes of several fibers as one transaction (batch.h's merged commit), with fewer
// statements. Each fiber's round trip is a whole transaction ([BEGIN ... COMMIT]); the merged
// one is:
//   BEGIN; the staff locks of all, ascending, in one statement;
//   the locked checks (kExpectFree) of all, as one kExpectFreeMany;
//   the appointment and first segment (kInsertAppointmentAndSegment) of all, as one statement;
//   the event and outbox row (kInsertEventAndSyncJob) of all, as one statement;
//   every other statement of each fiber, in the fiber's order;
//   COMMIT.
// Their own BEGIN, COMMIT, locks and savepoints are left out (a failure undoes the whole
// transaction, and then the others are sent again). Only a fiber whose statements are all of
// the kinds above, plus the customer fill-in and the idempotency record, has them merged
// (what it writes does not depend on their order); any other fiber's statements go as they are,
// in its order, after the merged ones. A statement kind that only one fiber sends stays as it
// is, in the same place.
//
// Two fibers whose checks are for overlapping times of one staff member would both pass a merged
// check that runs before both inserts: the second is left out (deferred), for a later
// transaction, where its check sees the first's booking.
#include <deque>
#include <vector>

#include "store/postgres/pg.h"

namespace appointd::store::postgres {

class CommitMerge {
 public:
  // The fibers' transactions, in order; they must outlive this object and stay unchanged.
  explicit CommitMerge(const std::vector<const std::vector<Item>*>& queues);
  CommitMerge(const CommitMerge&) = delete;
  CommitMerge& operator=(const CommitMerge&) = delete;

  const Scope& scope() const { return scope_; }
  // Whether fiber f's statements are in the scope (false: deferred to a later transaction).
  bool included(size_t f) const { return included_[f]; }

  // After the exchange answered the scope with `out`: committed when nothing failed; failed
  // when the failed statement is its own (or the merged check names it, or it is a merged
  // statement it has a part in, or it is BEGIN, the locks or COMMIT); else it goes again.
  enum class Fate { kCommitted, kFailed, kAgain };
  Fate fate(size_t f, const ScopeResult& out) const;
  // The rows of fiber f's wanted statements, in its order (fate kCommitted only).
  std::vector<Result> results(size_t f, const ScopeResult& out) const;

 private:
  Scope scope_;
  std::deque<Item> owned_;                      // BEGIN, the lock, the merged statements, COMMIT
  std::vector<bool> included_;                  // per fiber
  std::vector<std::vector<size_t>> at_;         // per fiber: positions of its statements
  std::vector<std::vector<size_t>> wanted_;     // per fiber: the rows of its wanted statements
  size_t check_pos_ = static_cast<size_t>(-1);  // of kExpectFreeMany
  std::vector<size_t> check_fiber_;             // per instance k of it: the fiber
};

}  // namespace appointd::store::postgres
