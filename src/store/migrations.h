#pragma once
#include <string>
#include <vector>

namespace appointd::store {

struct Migration {
  int version;
  const char* name;
  const char* sql;
};

// Embedded at build time from migrations/sqlite/*.sql, ordered by version.
const std::vector<Migration>& sqlite_migrations();
// Embedded at build time from migrations/postgres/*.sql, ordered by version.
const std::vector<Migration>& postgres_migrations();

}  // namespace appointd::store
