// `appointd serve`: the HTTP API over the chosen store.
#include <iostream>
#include <thread>

#include "cli/commands.h"
#include "http/app.h"
#include "http/server.h"
#include "obs/log.h"

namespace appointd::cli {

void add_serve(CLI::App& app) {
  struct Flags {
    DbFlags db;
    std::string listen = "127.0.0.1:8080";
    int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    int read_timeout = 10, idle_timeout = 60, max_connections = 4096;
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
  cmd->callback([f] {
    auto colon = f->listen.rfind(':');
    if (colon == std::string::npos) throw CLI::ValidationError("--listen", "want HOST:PORT");
    http::ServerOptions so;
    so.host = f->listen.substr(0, colon);
    so.port = static_cast<std::uint16_t>(std::stoi(f->listen.substr(colon + 1)));
    so.threads = f->threads;
    so.read_timeout = std::chrono::seconds(f->read_timeout);
    so.idle_timeout = std::chrono::seconds(f->idle_timeout);
    so.max_connections = f->max_connections;

    obs::Registry metrics;
    store::Options opts = store_options(f->db);
    opts.metrics = &metrics;
    opts.read_connections = std::max(2, f->threads + 1);
    auto store = store::open_store(opts);
    SystemClock clock;
    PhoneNormalizer phones;
    http::App app({*store, clock, metrics, phones});
    http::run_server(
        so,
        [&app](http::Request&& r, http::Reply reply) {
          app.handle(std::move(r), std::move(reply));
        },
        metrics,
        [&](std::uint16_t port) {
          obs::log_info("listening", "\"host\":\"" + obs::json_escape(so.host) +
                                         "\",\"port\":" + std::to_string(port) + ",\"store\":\"" +
                                         store->backend() + "\"");
        });
  });
}

}  // namespace appointd::cli
