#pragma once
// A small blocking HTTP/1.1 client for one origin (`http://host:port` or `https://host[:port]`),
// used by the calendar providers. Plain C++ here; Beast, Asio and OpenSSL stay in the .cpp.
//
//  - Every call is bounded: a connect timeout (resolve + TCP connect + TLS handshake) and a total
//    timeout for the whole call, after which the call returns and its connection is discarded.
//  - Kept-alive connections are pooled per client and reused. A pooled connection the server has
//    closed meanwhile is noticed before anything is sent, and a fresh one is opened instead.
//  - The result says what the caller may conclude about the request's effect (HttpResultKind):
//    a complete answer, certainly no effect, or uncertain. A request is sent again on its own
//    only when that cannot duplicate an effect (see HttpRequest::idempotent).
//  - TLS: certificates are verified against the system store (or a CA file), with SNI and
//    host-name verification; TLS 1.2 at least.
//
// Thread-safety: an HttpClient may be used from any number of threads at once; each call uses a
// connection of its own. The client must outlive its calls.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace appointd::sync {

// Header fields in order. Names of a response's fields are lower-case.
using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

// The origin a client talks to.
struct BaseUrl {
  bool tls = false;
  std::string host;  // lower-case name, IPv4 literal, or IPv6 literal without brackets
  std::uint16_t port = 0;

  // "https://host" / "http://host:port" (the port only when it is not the scheme's default).
  std::string to_string() const;
};

// Parses `http://host[:port]` or `https://host[:port]`, with an optional trailing "/". Refuses
// (with a reason in `error`) other schemes, user info, paths, queries, fragments, empty hosts
// and ports outside 1..65535.
struct BaseUrlParse {
  std::optional<BaseUrl> url;
  std::string error;
};
BaseUrlParse parse_base_url(std::string_view url);

struct HttpClientOptions {
  // Resolve, TCP connect and TLS handshake of a new connection, each call at most once.
  std::chrono::milliseconds connect_timeout{5000};
  // The whole call: waiting for a connection, sending, a resend if any, and reading the answer.
  std::chrono::milliseconds total_timeout{15000};
  std::size_t max_body_bytes = 4 * 1024 * 1024;  // a larger answer is an error (kUncertain)
  std::size_t max_header_bytes = 64 * 1024;
  std::size_t max_idle_connections = 8;  // kept per client; more are closed
  // A pooled connection unused for longer is closed rather than reused: servers close idle
  // connections after a while, and reusing one at that moment is the race resends exist for.
  std::chrono::milliseconds max_idle_time{30000};
  // PEM file of trusted CA certificates; empty: the system's default store.
  std::string ca_file;
  std::string user_agent = "appointd";
};

struct HttpRequest {
  std::string method;   // "GET", "POST", ...
  std::string target;   // origin-form: "/v2/bookings?take=100", already percent-encoded
  HttpHeaders headers;  // Host, Content-Length and User-Agent are set by the client
  std::string body;
  // Whether sending this request twice has the effect of sending it once (RFC 9110 §9.2.2).
  // Unset: true for GET, HEAD, OPTIONS, TRACE, PUT and DELETE. Only such a request is sent
  // again after a reused connection broke with no byte of the answer back; any other request
  // is then reported kUncertain, since the server may have acted on it before the connection
  // broke.
  std::optional<bool> idempotent;
};

enum class HttpResultKind {
  kOk,             // a complete answer arrived (any status); see status, headers, body
  kConnectFailed,  // nothing was sent: the request certainly had no effect
  kUncertain,      // sent, but no complete answer (timeout, reset, closed, too large): the
                   // request may or may not have had its effect
};

const char* to_string(HttpResultKind kind);

struct HttpResult {
  HttpResultKind kind = HttpResultKind::kConnectFailed;
  int status = 0;       // kOk only
  HttpHeaders headers;  // kOk only; names lower-case
  std::string body;     // kOk only
  std::string error;    // kConnectFailed / kUncertain: what went wrong, for logs and last_error
  std::chrono::milliseconds elapsed{0};
  bool reused_connection = false;  // the answer came on a pooled connection
  bool resent = false;             // the request was sent a second time (idempotent only)

  bool ok() const { return kind == HttpResultKind::kOk; }
  // The first value of a response header (name in lower case), or nullptr.
  const std::string* header(std::string_view lower_name) const;
};

struct HttpClientStats {
  std::uint64_t requests = 0;            // calls of request()/send()
  std::uint64_t connections_opened = 0;  // successful connects (TCP, and TLS if https)
  std::uint64_t connections_reused = 0;  // calls that sent on a pooled connection
  std::uint64_t resends = 0;             // idempotent requests sent a second time
  std::uint64_t stale_discarded = 0;     // pooled connections found closed or too old
};

class HttpClient {
 public:
  // A client for `base_url`, or a reason it cannot be made: a bad URL, an unreadable CA file.
  struct Created {
    std::unique_ptr<HttpClient> client;
    std::string error;
  };
  static Created create(std::string_view base_url, HttpClientOptions options = {});

  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends one request and waits for its answer, at most options.total_timeout. Never throws
  // for network failures (they are results); may throw std::bad_alloc.
  HttpResult send(const HttpRequest& request);
  HttpResult request(std::string method, std::string target, HttpHeaders headers = {},
                     std::string body = {});

  const BaseUrl& base_url() const;
  const HttpClientOptions& options() const;
  HttpClientStats stats() const;

 private:
  class Impl;
  explicit HttpClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace appointd::sync
