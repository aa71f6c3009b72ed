// migrate, keys create, audit: one-shot commands on the store.
#include <iostream>

#include "booking/catalog.h"
#include "cli/commands.h"
#include "domain/time.h"
#include "store/sqlite/backup.h"

namespace appointd::cli {

void add_migrate(CLI::App& app) {
  auto flags = std::make_shared<DbFlags>();
  auto* cmd = app.add_subcommand("migrate", "Apply pending schema migrations (idempotent)");
  add_db_flags(*cmd, *flags);
  cmd->callback([flags] {
    auto store = store::open_store(store_options(*flags));  // opening migrates
    std::cout << "migrations applied (" << store->backend() << ")\n";
  });
}

void add_keys(CLI::App& app) {
  auto flags = std::make_shared<DbFlags>();
  auto platform = std::make_shared<bool>(false);
  auto company = std::make_shared<long long>(0);
  auto name = std::make_shared<std::string>("cli");
  auto* keys = app.add_subcommand("keys", "API keys");
  keys->require_subcommand(1);
  auto* create = keys->add_subcommand("create", "Create an API key and print it alone on stdout");
  add_db_flags(*create, *flags);
  auto* p = create->add_flag("--platform", *platform, "a platform key (creates companies)");
  auto* c = create->add_option("--company", *company, "a key of this company id");
  p->excludes(c);
  create->add_option("--name", *name, "a label for the key");
  create->callback([=] {
    if (!*platform && *company <= 0)
      throw CLI::ValidationError("keys create", "give --platform or --company ID");
    auto store = store::open_store(store_options(*flags));
    std::string key;
    bool missing = false;
    store->write_sync([&](store::WriteTx& tx) {
      if (!*platform && !tx.company(*company)) {
        missing = true;
        return;
      }
      key = booking::create_api_key(tx, *platform ? 0 : *company, *name, SystemClock().now());
    });
    if (missing) {
      std::cerr << "no company with id " << *company << "\n";
      throw CLI::RuntimeError(1);
    }
    std::cout << key << std::endl;
  });
}

void add_audit(CLI::App& app) {
  auto flags = std::make_shared<DbFlags>();
  auto* cmd = app.add_subcommand(
      "audit", "Check invariants I1-I4 and the store's integrity; exit 1 on any violation");
  add_db_flags(*cmd, *flags);
  cmd->callback([flags] {
    auto store = store::open_store(store_options(*flags));
    long total = 0;
    for (const auto& c : store->audit()) {
      std::cout << (c.violations ? "FAIL " : "ok   ") << c.name << ": " << c.violations
                << " violation(s)" << (c.detail.empty() ? "" : " - " + c.detail) << "\n";
      total += c.violations;
    }
    std::cout << (total ? "audit: FAILED" : "audit: clean") << std::endl;
    if (total) throw CLI::RuntimeError(1);
  });
}

namespace {

// The SQLite file of a --db URL; the PostgreSQL store has its own tools (docs/operations.md).
std::string sqlite_file(const std::string& url, const char* what) {
  if (url.rfind("sqlite:", 0) == 0) return url.substr(7);
  throw CLI::ValidationError(what,
                             "only for the SQLite store; for PostgreSQL use pg_dump / "
                             "pg_restore or point-in-time recovery (docs/operations.md)");
}

}  // namespace

void add_backup(CLI::App& app) {
  auto db = std::make_shared<std::string>("sqlite:data/appointd.db");
  auto to = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand(
      "backup", "Copy a live SQLite store to a new file, consistently, while servers keep serving");
  cmd->add_option("--db", *db, "the store to copy")->envname("APPOINTD_DB")->capture_default_str();
  cmd->add_option("--to", *to, "the new file (must not exist)")->required();
  cmd->callback([db, to] {
    const auto r = store::sqlite::backup_database(sqlite_file(*db, "--db"), *to);
    std::cout << "backup: " << *to << ": " << r.appointments << " appointments, " << r.pages
              << " pages, schema version " << r.schema_version << std::endl;
  });
}

void add_restore(CLI::App& app) {
  auto db = std::make_shared<std::string>("sqlite:data/appointd.db");
  auto from = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand(
      "restore", "Check a backup and install it as the SQLite store (stop the servers first)");
  cmd->add_option("--from", *from, "the backup file")->required();
  cmd->add_option("--db", *db, "the store to replace")
      ->envname("APPOINTD_DB")
      ->capture_default_str();
  cmd->callback([db, from] {
    const auto r = store::sqlite::restore_database(*from, sqlite_file(*db, "--db"));
    std::cout << "restore: " << *db << ": " << r.appointments << " appointments, schema version "
              << r.schema_version << "; migrations run at the next start" << std::endl;
  });
}

}  // namespace appointd::cli
