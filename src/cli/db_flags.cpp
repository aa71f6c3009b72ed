#include "cli/commands.h"

namespace appointd::cli {

void add_db_flags(CLI::App& cmd, DbFlags& f) {
  cmd.add_option("--db", f.db, "sqlite:PATH or postgresql://...")
      ->envname("APPOINTD_DB")
      ->capture_default_str();
  cmd.add_option("--durability", f.durability,
                 "full: fsync every commit (survives power loss); normal: survives kill -9")
      ->envname("APPOINTD_DURABILITY")
      ->check(CLI::IsMember({"full", "normal"}))
      ->capture_default_str();
}

store::Options store_options(const DbFlags& f) {
  store::Options o;
  o.url = f.db;
  o.durability_full = f.durability == "full";
  return o;
}

}  // namespace appointd::cli
