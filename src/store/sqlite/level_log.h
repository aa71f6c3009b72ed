#pragma once
// What each open level of the writer's transaction (the batch, then nested savepoints) wrote,
// as the writer's caches (block_index.h, catalog_cache.h) mirror it: a write is noted in the
// innermost level; releasing a level hands its notes to the enclosing one; rolling a level back
// returns its notes (what the cache must forget). Writer thread only.
#include <unordered_set>
#include <utility>
#include <vector>

namespace appointd::store::sqlite {

template <class Key>
class LevelLog {
 public:
  void begin() { levels_.assign(1, {}); }  // the batch's level
  void clear() { levels_.clear(); }        // the batch committed or failed
  void push() { levels_.emplace_back(); }  // a savepoint
  void note(const Key& k) {
    if (!levels_.empty()) levels_.back().insert(k);
  }
  void release() {
    if (levels_.size() < 2) return;
    auto top = std::move(levels_.back());
    levels_.pop_back();
    levels_.back().merge(top);
  }
  // Closes the innermost level, returning what it wrote.
  std::unordered_set<Key> pop() {
    if (levels_.empty()) return {};
    auto top = std::move(levels_.back());
    levels_.pop_back();
    return top;
  }

 private:
  std::vector<std::unordered_set<Key>> levels_;
};

}  // namespace appointd::store::sqlite
