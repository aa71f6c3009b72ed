#pragma once
// HTTP request and response as plain values, so the router, handlers and their tests do not
// depend on Beast. The server (server.cpp) converts to and from Beast messages.
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace appointd::http {

// Which door a request came through. kOps: the separate operations listener (--metrics-listen),
// which serves only /healthz, /readyz and /metrics. kOverCap: a connection beyond a connection
// cap, admitted for one request so that health checks and scrapes still get through while
// everything else is answered 503 too_many_connections.
enum class Channel { kApi, kOps, kOverCap };

struct Request {
  std::string method;  // upper case: GET, POST, PUT, DELETE, ...
  std::string target;  // as received: path and query
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  std::string request_id;  // X-Request-Id if the client sent a sane one, else generated
  std::string remote;      // peer address, for logs
  Channel channel = Channel::kApi;

  // First header with that lower-case name.
  std::optional<std::string_view> header(std::string_view lower_name) const {
    for (const auto& [k, v] : headers)
      if (k == lower_name) return std::string_view(v);
    return std::nullopt;
  }
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
  std::string body;
  std::string code;  // the problem's stable code for errors (for metrics); not sent
  // When set, what an Idempotency-Key replay of this answer returns, instead of `body`: for
  // answers that show a secret once (a new company's API key), which must not be stored.
  std::optional<std::string> replay_body;
  // When set, fills `body` (and may change content_type) later, on the connection's io
  // thread, just before sending: heavy encoding stays off the thread that decided the answer
  // (the store's single writer). `status` and `code` are final before it runs.
  std::function<void(Response&)> render;
  // Runs render (if any) now; afterwards body is complete.
  void finish() {
    if (render) {
      auto r = std::move(render);
      render = nullptr;
      r(*this);
    }
  }
};

// Completes a request. Must be called exactly once, from any thread.
using Reply = std::function<void(Response)>;

// The application behind the server: takes ownership of the request, answers through reply.
// Must be thread-safe (called from every io thread at once) and must not block for long.
using Handler = std::function<void(Request&&, Reply)>;

// Decides on a request head (no body yet) whose client waits for `100 Continue`: a Response to
// send instead (e.g. 401, 404), after which the connection closes unread, or nullopt to let the
// body come. Same threading rules as Handler.
using Admit = std::function<std::optional<Response>(const Request& head)>;

}  // namespace appointd::http
