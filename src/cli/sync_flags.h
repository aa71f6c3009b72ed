#pragma once
// Flags of the calendar sync, shared by `serve`, `worker` and `sync reconcile`.
#include <CLI/CLI.hpp>

#include <memory>
#include <string>

#include "store/store.h"
#include "sync/engine.h"
#include "sync/secret_box.h"

namespace appointd::cli {

struct SyncFlags {
  std::string calcom_url = "https://api.cal.com";
  std::string secrets_key_file;
  std::string ca_file;
  int workers = 1;
  int concurrency = 8;
  int lease_seconds = 60;
  int backoff_cap_seconds = 60;
  int max_age_hours = 24;
  int calcom_timeout_ms = 15000;
  int reconcile_minutes = 15;
  int breaker_seconds = 30;
};

// `with_workers`: also --sync-workers and --sync-concurrency.
void add_sync_flags(CLI::App& cmd, SyncFlags& f, bool with_workers);
sync::SyncOptions sync_options(const SyncFlags& f);

// The secrets key: --secrets-key-file; without it, on SQLite, <db file>.secrets.key (created,
// mode 0600, and logged); on PostgreSQL none (null: provider secrets cannot be stored). Throws
// when the file is unusable or is not the key the stored secrets were sealed with.
std::shared_ptr<const sync::SecretBox> load_secrets(const SyncFlags& f, const std::string& db_url,
                                                    store::Store& store);

}  // namespace appointd::cli
