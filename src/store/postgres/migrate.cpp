#include "store/postgres/migrate.h"

#include "obs/log.h"
#include "store/migrations.h"
#include "store/postgres/sql.h"

namespace appointd::store::postgres {

void apply_migrations(Connection& c) {
  c.run(sql::kMigrationLock);
  try {
    c.exec(sql::kCreateMigrations);
    for (const Migration& m : postgres_migrations()) {
      c.exec("BEGIN");
      try {
        if (!c.run(sql::kMigrationApplied, Params().add(m.version)).rows()) {
          c.exec(m.sql);
          c.run(sql::kRecordMigration, Params().add(m.version).add(m.name));
          obs::log_info("migration applied",
                        "\"version\":" + std::to_string(m.version) + ",\"store\":\"postgresql\"");
        }
        c.exec("COMMIT");
      } catch (...) {
        if (c.ok()) c.exec("ROLLBACK");
        throw;
      }
    }
  } catch (...) {
    if (c.ok()) {
      try {
        c.run(sql::kMigrationUnlock);
      } catch (...) {
      }
    }
    throw;
  }
  c.run(sql::kMigrationUnlock);
}

}  // namespace appointd::store::postgres
