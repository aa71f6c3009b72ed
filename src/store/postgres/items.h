#pragma once
// What a queued statement (Item) is, for the code that merges the round trips of several
// fibers (batch.h): transaction control, staff locks, savepoint steps.
#include <string_view>

#include "store/postgres/pg.h"
#include "store/postgres/sql.h"

namespace appointd::store::postgres::items {

inline bool is_text(const Item& it, std::string_view t) {
  return it.text && std::string_view(it.text) == t;
}
inline bool has_prefix(const Item& it, std::string_view p) {
  return it.text && std::string_view(it.text).substr(0, p.size()) == p;
}
inline bool is_begin(const Item& it) {
  return is_text(it, "BEGIN");
}
inline bool ends_tx(const Item& it) {
  return is_text(it, "COMMIT") || is_text(it, "ROLLBACK");
}
inline bool is_lock(const Item& it) {
  return it.st == &sql::kLockOneStaff || it.st == &sql::kLockStaff;
}
// SAVEPOINT and RELEASE: no-ops in a merged transaction whose writes are undone all together.
inline bool is_savepoint_step(const Item& it) {
  return has_prefix(it, "SAVEPOINT ") || has_prefix(it, "RELEASE ");
}
// What a merged transaction leaves out of each fiber's statements.
inline bool is_control(const Item& it) {
  return is_begin(it) || ends_tx(it) || is_lock(it) || is_savepoint_step(it);
}

}  // namespace appointd::store::postgres::items
