#pragma once
// The SQLite writer's copy of the rows every booking reads and almost nothing writes: companies
// (settings), staff with their services, services, staff by service, and staff schedules (zone,
// working hours, all time off). Exact for the reason BlockIndex is (block_index.h): the writer
// thread is the only writer; each SqliteTx write of these tables calls changed(), which empties
// the copy, and rolling back or failing a level that wrote any of them empties it again (rows
// read back in the meantime may show the undone write). Another process's commit clears it
// (PRAGMA data_version, checked per batch). Not thread-safe: the writer thread only.
#include <cstddef>
#include <map>
#include <optional>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "domain/model.h"
#include "store/sqlite/level_log.h"
#include "store/tx.h"

namespace appointd::store::sqlite {

class CatalogCache : public LevelLog<bool, CatalogCache> {
 public:
  using Pair = std::pair<Id, Id>;  // (company, id)

  std::unordered_map<Id, std::optional<Company>> companies;
  std::map<Pair, std::optional<Staff>> staff;
  std::map<Pair, std::optional<Service>> services;
  std::map<std::tuple<Id, Id, Id, int>, std::vector<Id>> staff_for_service;
  std::map<Pair, std::optional<StaffSchedule>> schedules;  // every time off of the staff member

  // The cached value of `key` in `map`, loading (and keeping) it on a miss.
  template <class Map, class Key, class Load>
  typename Map::mapped_type memo(Map& map, const Key& key, Load&& load) {
    if (auto it = map.find(key); it != map.end()) return it->second;
    auto value = load();
    if (++entries_ > kMaxEntries) clear();
    map.emplace(key, value);
    return value;
  }

  // A write of a cached table: forget everything, and remember the write in the open level.
  void changed();
  void clear();

  // Transaction structure: LevelLog (level_log.h). An undone level that wrote a cached table
  // empties the cache.
  void undo(const std::unordered_set<bool>& wrote) {
    if (!wrote.empty()) clear();
  }

 private:
  static constexpr size_t kMaxEntries = 200'000;
  size_t entries_ = 0;
};

}  // namespace appointd::store::sqlite
