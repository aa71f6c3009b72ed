// `appointd serve`: the HTTP API over the chosen store.
#include <iostream>
#include <memory>
#include <thread>

#include "cli/audit_loop.h"
#include "cli/commands.h"
#include "cli/sync_flags.h"
#include "http/app.h"
#include "http/server.h"
#include "obs/log.h"

namespace appointd::cli {
namespace {

// "HOST:PORT" (the last colon splits, so "[::1]:80" keeps its brackets' content) or a
// ValidationError naming the flag.
std::pair<std::string, std::uint16_t> split_host_port(const char* flag, const std::string& v) {
  const auto colon = v.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == v.size())
    throw CLI::ValidationError(flag, "want HOST:PORT");
  const std::string port = v.substr(colon + 1);
  if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(port) > 65535)
    throw CLI::ValidationError(flag, "the port must be 0..65535");
  std::string host = v.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  return {host, static_cast<std::uint16_t>(std::stoi(port))};
}

}  // namespace

void add_serve(CLI::App& app) {
  struct Flags {
    DbFlags db;
    std::string listen = "127.0.0.1:8080";
    int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    int read_timeout = 10, idle_timeout = 60, max_connections = 4096;
    int max_connections_per_ip = 256;
    int audit_interval = 900;
    std::string metrics_listen;
    SyncFlags sync;
  };
  auto f = std::make_shared<Flags>();
  auto* cmd = app.add_subcommand("serve", "Serve the HTTP API");
  add_db_flags(*cmd, f->db);
  cmd->add_option("--listen", f->listen, "HOST:PORT (port 0: any free port, printed on start)")
      ->envname("APPOINTD_LISTEN")
      ->capture_default_str();
  cmd->add_option("--threads", f->threads, "io threads (default: one per core)")
      ->envname("APPOINTD_THREADS")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  cmd->add_option("--read-timeout", f->read_timeout, "seconds a started request may take to arrive")
      ->envname("APPOINTD_READ_TIMEOUT")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  cmd->add_option("--idle-timeout", f->idle_timeout, "seconds an idle keep-alive connection stays")
      ->envname("APPOINTD_IDLE_TIMEOUT")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  cmd->add_option("--max-connections", f->max_connections, "open connections at most")
      ->envname("APPOINTD_MAX_CONNECTIONS")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  cmd->add_option("--max-connections-per-ip", f->max_connections_per_ip,
                  "open connections from one client address at most")
      ->envname("APPOINTD_MAX_CONNECTIONS_PER_IP")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  cmd->add_option("--metrics-listen", f->metrics_listen,
                  "HOST:PORT of a separate listener for /metrics, /healthz and /readyz; "
                  "/metrics then leaves the API address (default: served on --listen)")
      ->envname("APPOINTD_METRICS_LISTEN");
  cmd->add_option("--audit-interval-s", f->audit_interval,
                  "seconds between background audits of the invariants, exported as "
                  "appointd_audit_violations (0: none)")
      ->envname("APPOINTD_AUDIT_INTERVAL_S")
      ->check(CLI::Range(0, 86400 * 7))
      ->capture_default_str();
  add_sync_flags(*cmd, f->sync, true);
  cmd->callback([f] {
    http::ServerOptions so;
    std::tie(so.host, so.port) = split_host_port("--listen", f->listen);
    if (!f->metrics_listen.empty())
      std::tie(so.ops_host, so.ops_port) = split_host_port("--metrics-listen", f->metrics_listen);
    so.max_connections_per_ip = f->max_connections_per_ip;
    so.threads = f->threads;
    so.read_timeout = std::chrono::seconds(f->read_timeout);
    so.idle_timeout = std::chrono::seconds(f->idle_timeout);
    so.max_connections = f->max_connections;

    obs::Registry metrics;
    store::Options opts = store_options(f->db);
    opts.metrics = &metrics;
    // Handlers run on their own threads (http/work_pool.h), each with a read connection.
    const int workers = std::max(4, 2 * f->threads);
    opts.read_connections = workers + 1;
    auto store = store::open_store(opts);
    SystemClock clock;
    PhoneNormalizer phones;
    sync::Engine engine(*store, clock, metrics, load_secrets(f->sync, f->db.db, *store),
                        sync_options(f->sync));
    engine.start();
    std::unique_ptr<AuditLoop> audits;
    if (f->audit_interval > 0) {
      const auto every = std::chrono::seconds(f->audit_interval);
      audits = std::make_unique<AuditLoop>(*store, metrics, every,
                                           std::min(every, std::chrono::seconds(30)));
    }
    http::App app({*store, clock, metrics, phones, &engine}, !so.ops_host.empty(), workers);
    http::run_server(
        so,
        [&app](http::Request&& r, http::Reply reply) {
          app.handle(std::move(r), std::move(reply));
        },
        [&app](const http::Request& head) { return app.admit(head); }, metrics,
        [&](std::uint16_t port, std::uint16_t ops_port) {
          obs::log_info("listening", "\"host\":\"" + obs::json_escape(so.host) +
                                         "\",\"port\":" + std::to_string(port) +
                                         ",\"metrics_port\":" + std::to_string(ops_port) +
                                         ",\"store\":\"" + store->backend() + "\"");
        });
  });
}

}  // namespace appointd::cli
