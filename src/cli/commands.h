#pragma once
// Subcommands of the appointd binary. Each registers itself on the CLI11 app; flags fall back
// to APPOINTD_* environment variables; flags win.
#include <CLI/CLI.hpp>

#include <string>

#include "store/store.h"

namespace appointd::cli {

struct DbFlags {
  std::string db = "sqlite:data/appointd.db";
  std::string durability = "full";
  // PostgreSQL only (docs/deployment.md).
  int pool_size = 8;
  int pool_wait_ms = 2000;
  int lock_timeout_ms = 2000;
  int statement_timeout_ms = 10000;
  std::string pg_probe = "auto";
  int pg_writers = 1;
  int round_trip_timeout_ms = 12000;
  int outcome_wait_ms = 3000;
};
// Adds --db and --durability (with APPOINTD_DB / APPOINTD_DURABILITY), and the PostgreSQL
// settings --pool-size, --pool-wait-ms, --lock-timeout-ms, --statement-timeout-ms.
void add_db_flags(CLI::App& cmd, DbFlags& f);
store::Options store_options(const DbFlags& f);

void add_serve(CLI::App& app);
void add_migrate(CLI::App& app);
void add_demo(CLI::App& app);
void add_keys(CLI::App& app);
void add_audit(CLI::App& app);
void add_backup(CLI::App& app);  // SQLite only
void add_restore(CLI::App& app);
void add_worker(CLI::App& app);
void add_sync(CLI::App& app);

}  // namespace appointd::cli
