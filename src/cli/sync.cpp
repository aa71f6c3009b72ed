// `appointd worker` (the calendar sync alone, beside `serve --sync-workers 0` instances on
// PostgreSQL) and `appointd sync reconcile --company ID`.
#include <signal.h>

#include <iostream>

#include "cli/commands.h"
#include "cli/sync_flags.h"
#include "obs/log.h"

namespace appointd::cli {

void add_worker(CLI::App& app) {
  struct Flags {
    DbFlags db;
    SyncFlags sync;
  };
  auto f = std::make_shared<Flags>();
  auto* cmd = app.add_subcommand(
      "worker", "Run the calendar sync (outbox worker, webhook inbox, reconciliation) alone");
  add_db_flags(*cmd, f->db);
  add_sync_flags(*cmd, f->sync, true);
  cmd->callback([f] {
    if (f->db.db.rfind("postgres", 0) != 0)
      throw std::runtime_error(
          "appointd worker needs PostgreSQL; on SQLite `serve` runs the "
          "sync worker itself (--sync-workers)");
    // SIGINT/SIGTERM are waited for, not handled asynchronously.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    obs::Registry metrics;
    store::Options opts = store_options(f->db);
    opts.metrics = &metrics;
    auto store = store::open_store(opts);
    SystemClock clock;
    auto options = sync_options(f->sync);
    if (options.workers == 0) options.workers = 1;
    sync::Engine engine(*store, clock, metrics, load_secrets(f->sync, f->db.db, *store), options);
    engine.start();
    obs::log_info("sync worker started", "\"workers\":" + std::to_string(options.workers));
    int sig = 0;
    sigwait(&set, &sig);
    obs::log_info("sync worker stopping", "\"signal\":" + std::to_string(sig));
    engine.stop();
  });
}

void add_sync(CLI::App& app) {
  struct Flags {
    DbFlags db;
    SyncFlags sync;
    long long company = 0;
  };
  auto f = std::make_shared<Flags>();
  auto* sync_cmd = app.add_subcommand("sync", "Calendar sync");
  sync_cmd->require_subcommand(1);
  auto* rec = sync_cmd->add_subcommand(
      "reconcile", "List the company's Cal.com bookings now, repair drift, and print what it did");
  add_db_flags(*rec, f->db);
  add_sync_flags(*rec, f->sync, false);
  rec->add_option("--company", f->company, "company id")->required();
  rec->callback([f] {
    obs::Registry metrics;
    store::Options opts = store_options(f->db);
    auto store = store::open_store(opts);
    SystemClock clock;
    auto options = sync_options(f->sync);
    options.workers = 0;
    sync::Engine engine(*store, clock, metrics, load_secrets(f->sync, f->db.db, *store), options);
    auto report = engine.reconcile(f->company);
    std::cout << report.to_text() << std::flush;
    if (!report.ok) throw CLI::RuntimeError(1);
  });
}

}  // namespace appointd::cli
