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

struct Request {
  std::string method;  // upper case: GET, POST, PUT, DELETE, ...
  std::string target;  // as received: path and query
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  std::string request_id;  // X-Request-Id if the client sent a sane one, else generated
  std::string remote;      // peer address, for logs

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

}  // namespace appointd::http
