#include "store/postgres/read_merge.h"

#include <algorithm>
#include <map>
#include <string>

#include "store/postgres/sql.h"

namespace appointd::store::postgres {
namespace {

std::vector<const Params*> params_of(const std::vector<const Item*>& items) {
  std::vector<const Params*> ps;
  for (const Item* it : items) ps.push_back(&it->params);
  return ps;
}

// Merges many statements whose $1 is a staff array and whose next `cols` parameters are
// scalars (kBlocksOfIfBusy: wf, wu, ex, mx, now, bs, bf, bu; kBlocksOf: from, until, ex, mx,
// now) into `many`: $1 the fibers' indexes, then each scalar as an array, then the staff arrays.
Item staff_first_many(const std::vector<const Item*>& items, int cols_n, const Statement* many) {
  const auto ps = params_of(items);
  Params p;
  p.add_indexes(items.size());
  for (int c = 1; c <= cols_n; ++c) p.add_numbers_of(ps, c);
  p.add_texts_of(ps, 0);
  return {many, nullptr, std::move(p), true, false};
}
Item blocks_of_if_busy_many(const std::vector<const Item*>& items) {
  return staff_first_many(items, 8, &sql::kBlocksOfIfBusyMany);
}
Item blocks_of_many(const std::vector<const Item*>& items) {
  return staff_first_many(items, 5, &sql::kBlocksOfMany);
}

// Merges many kReserveIdsAndCustomerIfFree (params: company, phone, staff, f, u, ex, mx, now).
Item reserve_many(const std::vector<const Item*>& items) {
  const auto ps = params_of(items);
  Params p;
  p.add_indexes(items.size()).add_numbers_of(ps, 0).add_texts_of(ps, 1);
  for (int c = 2; c < 8; ++c) p.add_numbers_of(ps, c);
  return {&sql::kReserveIdsAndCustomerIfFreeMany, nullptr, std::move(p), true, false};
}

}  // namespace

ReadMerge::ReadMerge(const std::vector<const std::vector<Item>*>& queues) {
  const size_t n = queues.size();
  wanted_.resize(n);
  positions_.resize(n);
  // Which statements several fibers send: those go first, one position each.
  struct Group {
    const Statement* st;
    Item (*merge)(const std::vector<const Item*>&);
    std::vector<const Item*> members;
    size_t pos = 0;
    size_t next = 0;  // members placed so far (both passes walk the queues in one order)
  };
  Group groups[] = {{&sql::kBlocksOfIfBusy, &blocks_of_if_busy_many, {}},
                    {&sql::kBlocksOf, &blocks_of_many, {}},
                    {&sql::kReserveIdsAndCustomerIfFree, &reserve_many, {}}};
  for (const auto* q : queues)
    for (const auto& it : *q)
      for (auto& g : groups)
        if (it.st == g.st && it.want) g.members.push_back(&it);
  for (auto& g : groups) {
    if (g.members.size() < 2) continue;
    g.pos = scope_.size();
    owned_.push_back(g.merge(g.members));
    scope_.push_back(&owned_.back());
  }
  std::map<std::string, size_t> versions;  // company id -> position of its catalog check
  for (size_t f = 0; f < n; ++f) {
    for (const auto& it : *queues[f]) {
      size_t pos = scope_.size();
      int instance = -1;
      bool placed = false;
      for (auto& g : groups)
        if (it.st == g.st && it.want && g.members.size() >= 2) {
          pos = g.pos;
          instance = static_cast<int>(g.next++);
          placed = true;
          break;
        }
      if (!placed && it.st == &sql::kCatalogVersion && it.want) {
        auto [v, fresh] = versions.emplace(it.params.value(0), scope_.size());
        pos = v->second;
        placed = !fresh;
      }
      if (!placed) {
        pos = scope_.size();
        scope_.push_back(&it);
      }
      if (std::find(positions_[f].begin(), positions_[f].end(), pos) == positions_[f].end())
        positions_[f].push_back(pos);
      if (it.want) wanted_[f].push_back({pos, instance});
    }
  }
}

ReadMerge::Fate ReadMerge::fate(size_t fiber, const ScopeResult& out) const {
  if (!out.error) return Fate::kAnswered;
  const auto& ps = positions_[fiber];
  if (std::find(ps.begin(), ps.end(), out.failed) != ps.end()) return Fate::kFailed;
  return std::all_of(ps.begin(), ps.end(), [&](size_t p) { return p < out.failed; })
             ? Fate::kAnswered
             : Fate::kAgain;
}

void ReadMerge::index(const ScopeResult& out) {
  if (indexed_) return;
  indexed_ = true;
  row_of_.assign(scope_.size(), -1);
  instance_rows_.resize(scope_.size());
  int row = 0;
  for (size_t p = 0; p < scope_.size() && static_cast<size_t>(row) < out.rows.size(); ++p)
    if (scope_[p]->want) row_of_[p] = row++;
  for (size_t p = 0; p < scope_.size(); ++p) {
    if (p >= owned_.size() || row_of_[p] < 0) continue;  // not a *Many statement
    const Result& r = out.rows[static_cast<size_t>(row_of_[p])];
    auto& by = instance_rows_[p];
    for (int i = 0; i < r.rows(); ++i) {
      const auto k = static_cast<size_t>(r.i64(i, 0));
      if (by.size() <= k) by.resize(k + 1);
      by[k].push_back(i);
    }
  }
}

std::vector<Result> ReadMerge::results(size_t fiber, const ScopeResult& out) {
  index(out);
  std::vector<Result> mine;
  mine.reserve(wanted_[fiber].size());
  for (const Slot& s : wanted_[fiber]) {
    const Result& r = out.rows[static_cast<size_t>(row_of_[s.pos])];
    if (s.instance < 0) {
      mine.push_back(r);
      continue;
    }
    const auto& by = instance_rows_[s.pos];
    const auto k = static_cast<size_t>(s.instance);
    mine.push_back(r.view(k < by.size() ? by[k] : std::vector<int>{}, 1));
  }
  return mine;
}

}  // namespace appointd::store::postgres
