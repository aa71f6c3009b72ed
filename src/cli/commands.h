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
};
// Adds --db and --durability (with APPOINTD_DB / APPOINTD_DURABILITY).
void add_db_flags(CLI::App& cmd, DbFlags& f);
store::Options store_options(const DbFlags& f);

void add_serve(CLI::App& app);
void add_migrate(CLI::App& app);
void add_demo(CLI::App& app);
void add_keys(CLI::App& app);
void add_audit(CLI::App& app);

}  // namespace appointd::cli
