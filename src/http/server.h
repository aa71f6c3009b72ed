#pragma once
// The HTTP/1.1 server: Boost.Beast over Asio with C++20 coroutines, one io_context run by
// `threads` threads, one strand per connection, keep-alive, at most one write in flight per
// connection, and every limit explicit. Only server.cpp includes Beast.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "http/message.h"
#include "obs/metrics.h"

namespace appointd::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;  // 0: pick a free port (see on_listening)
  int threads = 1;
  std::size_t body_limit = 64 * 1024;  // larger body: 413 payload_too_large
  // Targets starting with this prefix take bodies up to large_body_limit: Retell's call events
  // carry the whole transcript with per-word timings (hundreds of KiB for a long call).
  std::string large_body_prefix = "/v1/retell/";
  std::size_t large_body_limit = 4 * 1024 * 1024;
  std::size_t header_limit = 8 * 1024;    // larger header block: 431 headers_too_large
  std::chrono::seconds read_timeout{10};  // a started request must arrive within: else 408
  std::chrono::seconds idle_timeout{60};  // keep-alive connection with no request: closed
  std::chrono::seconds write_timeout{10};
  // Connections at once, in all and from one client address. A connection beyond either cap is
  // admitted for one request on Channel::kOverCap (the application answers health checks and
  // scrapes and 503 too_many_connections to everything else), at most `over_cap_sessions` of
  // those at once; beyond that a connection is closed unanswered.
  int max_connections = 4096;
  int max_connections_per_ip = 256;
  int over_cap_sessions = 64;
  // A connection's first request must start within read_timeout (a connection that never
  // speaks costs at most that); between keep-alive requests the wait is idle_timeout.
  // A second listener for operations (Channel::kOps); empty ops_host: none.
  std::string ops_host;
  std::uint16_t ops_port = 0;
};

// Runs the server until SIGINT or SIGTERM (handled inside: they stop the
// server gracefully). Calls on_listening(port, ops_port) once the sockets listen (ops_port 0
// without an ops listener). `admit` (may be empty) vets heads that expect 100 Continue.
// Throws on bind failure.
void run_server(const ServerOptions& opts, Handler handler, Admit admit, obs::Registry& metrics,
                std::function<void(std::uint16_t, std::uint16_t)> on_listening);

}  // namespace appointd::http
