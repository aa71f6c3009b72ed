#pragma once
// The PostgreSQL server of the unit tests: APPOINTD_PG_URL (set by scripts/pg_tmp.sh, as
// ./test.sh does); tests skip themselves when it is unset.
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "store/postgres/migrate.h"
#include "store/postgres/pg.h"

namespace appointd::pgtest {

inline std::string pg_base_url() {
  const char* u = std::getenv("APPOINTD_PG_URL");
  return u ? u : "";
}

// A fresh database named `prefix` + the process id, with appointd's schema; its URL.
inline std::string pg_schema_url(const std::string& prefix) {
  using store::postgres::Connection;
  const std::string base = pg_base_url();
  const std::string name = prefix + std::to_string(::getpid());
  Connection admin(base, {});
  admin.exec(("DROP DATABASE IF EXISTS " + name).c_str());
  admin.exec(("CREATE DATABASE " + name).c_str());
  // The URL names the database as its path: postgresql://user@/DB?host=...
  std::string u = base;
  auto q = u.find('?');
  auto slash = u.rfind('/', q);
  u = u.substr(0, slash + 1) + name + (q == std::string::npos ? "" : u.substr(q));
  Connection c(u, {"SET TIME ZONE 'UTC'"});
  store::postgres::apply_migrations(c);
  return u;
}

}  // namespace appointd::pgtest
