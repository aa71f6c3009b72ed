#pragma once
// The SQLite writer's in-memory copy of what blocks each staff member's time: active segments
// and holds (expired ones included, since readers filter by `now`), from a lower bound `lo`
// onwards. It answers WriteTx::blocks() without SQL, which is most of the writer's work on a
// busy calendar: every conflict probes the requested time, other staff and the nearby days.
//
// Exact, not a cache that may be stale: the writer thread is the only writer of the database,
// every write of a segment or hold goes through SqliteTx, which reports it here, and the
// transaction structure is mirrored so that undone writes are forgotten:
//  - a loaded staff member reflects the database as this connection sees it at load time, plus
//    every block added since (added()); a removal forgets the staff member (forget()), who is
//    then loaded again on next use;
//  - each open level (batch, savepoint) records the staff members written in it; rolling a
//    level back forgets them (their copy may hold undone writes), releasing merges them into the
//    enclosing level, a failed batch forgets everything it wrote;
//  - a commit by another connection (another process) is seen through PRAGMA data_version at
//    the start of each batch, and clears everything.
// Not thread-safe: the writer thread only.
#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "domain/model.h"
#include "store/sqlite/level_log.h"

namespace appointd::store::sqlite {

class BlockIndex : public LevelLog<Id, BlockIndex> {
 public:
  // One blocking row. Segments never expire (Instant::max()).
  struct Entry {
    Block::Kind kind = Block::kSegment;
    Id id = 0;
    Id appointment_id = 0;
    Interval blocked;
    Instant expires_at = Instant::max();
  };

  // The blocks of one staff member whose blocked interval ends after `lo`, ordered by start.
  class Staff {
   public:
    // Appends to `out` the rows overlapping `blocked` that block at `now` (holds expiring
    // after now), except the segments of appointment `exclude`. `blocked.from` must be >= lo().
    void query(Id staff_id, Interval blocked, Id exclude, Instant now,
               std::vector<Block>& out) const;
    Instant lo() const { return lo_; }
    size_t size() const { return rows_.size(); }

   private:
    friend class BlockIndex;
    void insert(const Entry& e);
    Instant lo_;
    Seconds longest_{0};
    std::vector<Entry> rows_;  // by blocked.from
  };

  // At most `max_rows` rows in all; loading beyond that starts over from empty.
  explicit BlockIndex(size_t max_rows = 2'000'000) : max_rows_(max_rows) {}

  // The staff member's rows when loaded and covering `from` (from >= lo), else null.
  const Staff* find(Id staff_id, Instant from) const;
  // Installs the rows read from the database: every block of the staff member ending after lo.
  const Staff& load(Id staff_id, Instant lo, std::vector<Entry> rows);
  // A block was inserted for the staff member.
  void added(Id staff_id, const Entry& e);
  // A block of the staff member was removed or changed: forget the copy.
  void forget(Id staff_id);
  void clear();

  // Transaction structure: LevelLog (level_log.h). An undone level's staff are forgotten.
  void undo(const std::unordered_set<Id>& wrote);

  size_t rows() const { return rows_; }
  size_t staff() const { return staff_.size(); }
  std::int64_t loads() const { return loads_; }  // staff members read from SQL so far

 private:
  void drop(Id staff_id);

  size_t max_rows_;
  size_t rows_ = 0;
  std::int64_t loads_ = 0;
  std::unordered_map<Id, Staff> staff_;
};

}  // namespace appointd::store::sqlite
