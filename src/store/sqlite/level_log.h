#pragma once
// The transaction structure of the writer (the batch, then nested savepoints) as the writer's
// caches (block_index.h, catalog_cache.h) mirror it. A cache derives from LevelLog<Key, Self>,
// notes each write with note(key), and provides
//   void clear();                                     // forget everything
//   void undo(const std::unordered_set<Key>& wrote);  // forget what an undone level wrote
// A write is noted in the innermost level; releasing a level hands its notes to the enclosing
// one; rolling a level back undoes its notes; a failed batch clears. Writer thread only.
#include <unordered_set>
#include <utility>
#include <vector>

namespace appointd::store::sqlite {

template <class Key, class Self>
class LevelLog {
 public:
  void begin() { levels_.assign(1, {}); }  // the batch's level
  void committed() { levels_.clear(); }
  void aborted() {
    // A failed batch is rare and may have left the connection in any state: start over.
    self().clear();
    levels_.clear();
  }
  void savepoint() { levels_.emplace_back(); }
  void release() {
    if (levels_.size() < 2) return;
    auto top = std::move(levels_.back());
    levels_.pop_back();
    levels_.back().merge(top);
  }
  void rollback() {
    if (levels_.empty()) return;
    auto top = std::move(levels_.back());
    levels_.pop_back();
    self().undo(top);
  }

 protected:
  void note(const Key& k) {
    if (!levels_.empty()) levels_.back().insert(k);
  }

 private:
  Self& self() { return static_cast<Self&>(*this); }
  std::vector<std::unordered_set<Key>> levels_;
};

}  // namespace appointd::store::sqlite
