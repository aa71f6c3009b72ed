#include "cli/sync_flags.h"

#include "domain/sync.h"
#include "obs/log.h"

namespace appointd::cli {

void add_sync_flags(CLI::App& cmd, SyncFlags& f, bool with_workers) {
  cmd.add_option("--calcom-url", f.calcom_url, "origin of Cal.com's API (tests: a local fake)")
      ->envname("APPOINTD_CALCOM_URL")
      ->capture_default_str();
  cmd.add_option("--secrets-key-file", f.secrets_key_file,
                 "32-byte key (64 hex digits) that seals provider secrets; SQLite default: "
                 "<db file>.secrets.key, created on first start")
      ->envname("APPOINTD_SECRETS_KEY_FILE");
  cmd.add_option("--calcom-ca-file", f.ca_file, "PEM CA bundle for Cal.com (default: system's)")
      ->envname("APPOINTD_CALCOM_CA_FILE");
  if (with_workers) {
    cmd.add_option("--sync-workers", f.workers, "calendar sync workers in this process (0: none)")
        ->envname("APPOINTD_SYNC_WORKERS")
        ->check(CLI::Range(0, 64))
        ->capture_default_str();
    cmd.add_option("--sync-concurrency", f.concurrency, "Cal.com calls in flight per worker")
        ->envname("APPOINTD_SYNC_CONCURRENCY")
        ->check(CLI::Range(1, 256))
        ->capture_default_str();
  }
  cmd.add_option("--sync-lease-seconds", f.lease_seconds, "a claimed job's lease")
      ->envname("APPOINTD_SYNC_LEASE_SECONDS")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  cmd.add_option("--sync-backoff-cap-seconds", f.backoff_cap_seconds, "longest retry delay")
      ->envname("APPOINTD_SYNC_BACKOFF_CAP_SECONDS")
      ->check(CLI::Range(1, 86400))
      ->capture_default_str();
  cmd.add_option("--sync-max-age-hours", f.max_age_hours, "a job failing this long is failed")
      ->envname("APPOINTD_SYNC_MAX_AGE_HOURS")
      ->check(CLI::Range(1, 24 * 365))
      ->capture_default_str();
  cmd.add_option("--calcom-timeout-ms", f.calcom_timeout_ms, "one Cal.com call at most")
      ->envname("APPOINTD_CALCOM_TIMEOUT_MS")
      ->check(CLI::Range(100, 600000))
      ->capture_default_str();
  cmd.add_option("--calcom-reconcile-minutes", f.reconcile_minutes,
                 "reconcile with Cal.com this often (0: only `appointd sync reconcile`)")
      ->envname("APPOINTD_CALCOM_RECONCILE_MINUTES")
      ->check(CLI::Range(0, 24 * 60))
      ->capture_default_str();
  cmd.add_option("--sync-breaker-seconds", f.breaker_seconds,
                 "how long calls to a failing Cal.com pause before a probe")
      ->envname("APPOINTD_SYNC_BREAKER_SECONDS")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
}

sync::SyncOptions sync_options(const SyncFlags& f) {
  sync::SyncOptions o;
  o.calcom_url = f.calcom_url;
  o.ca_file = f.ca_file;
  o.workers = f.workers;
  o.concurrency = f.concurrency;
  o.lease = std::chrono::seconds(f.lease_seconds);
  o.backoff_cap = std::chrono::seconds(f.backoff_cap_seconds);
  o.max_age = std::chrono::hours(f.max_age_hours);
  o.call_timeout = std::chrono::milliseconds(f.calcom_timeout_ms);
  o.reconcile_every = std::chrono::minutes(f.reconcile_minutes);
  o.breaker_open = std::chrono::seconds(f.breaker_seconds);
  return o;
}

std::shared_ptr<const sync::SecretBox> load_secrets(const SyncFlags& f, const std::string& db_url,
                                                    store::Store& store) {
  std::string path = f.secrets_key_file;
  std::shared_ptr<const sync::SecretBox> box;
  if (!path.empty()) {
    box = std::make_shared<sync::SecretBox>(sync::SecretBox::load(path));
  } else if (store.backend() == "sqlite" && db_url.rfind("sqlite:", 0) == 0) {
    path = db_url.substr(7) + ".secrets.key";
    bool created = false;
    box = std::make_shared<sync::SecretBox>(sync::SecretBox::load_or_create(path, &created));
    if (created)
      obs::log_info("created the secrets key file; back it up with the database",
                    "\"path\":\"" + obs::json_escape(path) + "\"");
  } else {
    obs::log_warn(
        "no --secrets-key-file: provider secrets cannot be stored or read (PostgreSQL needs the "
        "same key file on every instance)",
        "");
    return nullptr;
  }
  std::vector<Integration> all;
  store.read([&](store::ReadTx& tx) { all = tx.integrations(kProviderCalcom); });
  const std::string mine = box->fingerprint();
  for (const auto& i : all)
    if (i.key_fingerprint != mine)
      throw std::runtime_error("the secrets key file " + path +
                               " is not the key the stored provider secrets were sealed with "
                               "(company " +
                               std::to_string(i.company_id) +
                               "); start with the key file they were stored under");
  return box;
}

}  // namespace appointd::cli
