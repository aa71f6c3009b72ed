#include "store/sqlite/block_index.h"

#include <algorithm>

namespace appointd::store::sqlite {

void BlockIndex::Staff::query(Id staff_id, Interval blocked, Id exclude, Instant now,
                              std::vector<Block>& out) const {
  const size_t begin = out.size();
  // Rows start before blocked.until; one that overlaps starts after from - longest.
  auto first = std::lower_bound(rows_.begin(), rows_.end(), blocked.from - longest_,
                                [](const Entry& e, Instant t) { return e.blocked.from <= t; });
  for (auto it = first; it != rows_.end() && it->blocked.from < blocked.until; ++it) {
    const Entry& e = *it;
    if (e.blocked.until <= blocked.from) continue;
    if (e.kind == Block::kSegment ? e.appointment_id == exclude && exclude != 0
                                  : e.expires_at <= now)
      continue;
    out.push_back({e.kind, e.id, e.appointment_id, staff_id, e.blocked});
  }
  // Segments before holds, as the SQL answers (UNION ALL of the two tables).
  std::stable_partition(out.begin() + static_cast<std::ptrdiff_t>(begin), out.end(),
                        [](const Block& b) { return b.kind == Block::kSegment; });
}

void BlockIndex::Staff::insert(const Entry& e) {
  if (e.blocked.until <= lo_) return;  // outside what this copy covers
  auto at = std::upper_bound(rows_.begin(), rows_.end(), e.blocked.from,
                             [](Instant t, const Entry& x) { return t < x.blocked.from; });
  rows_.insert(at, e);
  longest_ = std::max(longest_, e.blocked.length());
}

const BlockIndex::Staff* BlockIndex::find(Id staff_id, Instant from) const {
  auto it = staff_.find(staff_id);
  if (it == staff_.end() || from < it->second.lo_) return nullptr;
  return &it->second;
}

const BlockIndex::Staff& BlockIndex::load(Id staff_id, Instant lo, std::vector<Entry> rows) {
  drop(staff_id);
  ++loads_;
  if (rows_ + rows.size() > max_rows_) clear();
  Staff s;
  s.lo_ = lo;
  std::sort(rows.begin(), rows.end(),
            [](const Entry& a, const Entry& b) { return a.blocked.from < b.blocked.from; });
  for (const auto& e : rows) s.longest_ = std::max(s.longest_, e.blocked.length());
  s.rows_ = std::move(rows);
  rows_ += s.rows_.size();
  return staff_.insert_or_assign(staff_id, std::move(s)).first->second;
}

void BlockIndex::added(Id staff_id, const Entry& e) {
  note(staff_id);
  auto it = staff_.find(staff_id);
  if (it == staff_.end()) return;
  size_t before = it->second.rows_.size();
  it->second.insert(e);
  rows_ += it->second.rows_.size() - before;
}

void BlockIndex::forget(Id staff_id) {
  note(staff_id);
  drop(staff_id);
}

void BlockIndex::drop(Id staff_id) {
  auto it = staff_.find(staff_id);
  if (it == staff_.end()) return;
  rows_ -= it->second.rows_.size();
  staff_.erase(it);
}

void BlockIndex::clear() {
  staff_.clear();
  rows_ = 0;
}

void BlockIndex::undo(const std::unordered_set<Id>& wrote) {
  for (Id id : wrote) drop(id);
}

}  // namespace appointd::store::sqlite
