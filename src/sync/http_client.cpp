// The HTTP/1.1 client. Layout:
//  - Connection: one socket (plain or TLS) with an io_context of its own. A call drives its
//    connection's asynchronous operations with run_one_for() up to a deadline, so every step is
//    bounded without a second thread, and a connection is only ever used by one call at a time.
//  - Impl::send: takes a pooled connection (after checking that the server has not closed it)
//    or connects a new one, writes the request, reads the answer, and classifies the outcome.
//  - A connection whose call timed out or failed is discarded, never pooled: it may still have
//    an operation pending and its state on the wire is unknown.
// Boost 1.74's Asio coroutine headers use std::exchange without including <utility>; with
// g++ 12 that only compiles if <utility> comes first.
#include <utility>

#include "sync/http_client.h"

#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <mutex>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream_base.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

namespace appointd::sync {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
using TimePoint = SteadyClock::time_point;
using std::chrono::milliseconds;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

long long ms_between(TimePoint a, TimePoint b) {
  return std::chrono::duration_cast<milliseconds>(b - a).count();
}

bool is_token_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool valid_header(const std::string& name, const std::string& value) {
  if (name.empty() || !std::all_of(name.begin(), name.end(), is_token_char)) return false;
  return value.find_first_of(std::string_view("\r\n\0", 3)) == std::string::npos;
}

bool method_is_idempotent(std::string_view m) {
  return m == "GET" || m == "HEAD" || m == "OPTIONS" || m == "TRACE" || m == "PUT" || m == "DELETE";
}

bool is_ip_literal(const std::string& host) {
  beast::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

// Runs `ioc` until `done` is set by a completion handler or the deadline passes (false).
bool run_until(asio::io_context& ioc, const bool& done, TimePoint deadline) {
  ioc.restart();
  while (!done) {
    const auto now = SteadyClock::now();
    if (now >= deadline) return false;
    ioc.run_one_for(deadline - now);
  }
  return true;
}

// ---- connections -----------------------------------------------------------------------------

struct Connection {
  // Declared first so that it is destroyed last: the sockets below belong to it. Destroying it
  // destroys (never runs) the handlers still queued, which only refer to a finished call's
  // locals.
  asio::io_context ioc{1};
  std::optional<tcp::socket> plain;
  std::optional<beast::ssl_stream<tcp::socket>> tls;
  beast::flat_buffer buffer;
  TimePoint idle_since{};
  // A resolve timed out: destroying ioc joins Asio's resolver thread, which is still inside
  // getaddrinfo(), so this connection is destroyed on a thread of its own (see dispose()).
  bool resolver_stuck = false;

  // The TCP socket; only once connect() has created it.
  tcp::socket& socket() { return tls ? tls->next_layer() : *plain; }

  void close() {
    if (!tls && !plain) return;  // the resolve never finished
    beast::error_code ec;
    socket().shutdown(tcp::socket::shutdown_both, ec);
    socket().close(ec);
  }

  // True if the server has not closed the connection and sent nothing unasked: a pooled
  // connection must be silent. Peeks without blocking; the bytes stay in the socket.
  bool looks_alive() {
    if (buffer.size() != 0) return false;
    if (!socket().is_open()) return false;
    char byte;
    const auto n = ::recv(socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0) return false;  // orderly close (FIN)
    if (n > 0) return false;   // unexpected bytes: a 408, a TLS alert; unsafe to reuse
    return errno == EAGAIN || errno == EWOULDBLOCK;
  }
};

void dispose(std::unique_ptr<Connection> c) {
  if (!c) return;
  c->close();
  if (!c->resolver_stuck) return;  // destroyed here, promptly
  // Rare (a DNS server that does not answer): destroy it where the wait harms no caller.
  std::thread([c = std::move(c)]() mutable { c.reset(); }).detach();
}

std::string tls_error_text(SSL* ssl, const beast::error_code& ec, const std::string& host) {
  const long verify = SSL_get_verify_result(ssl);
  if (verify != X509_V_OK)
    return "TLS certificate verification failed for " + host + ": " +
           X509_verify_cert_error_string(verify);
  return "TLS handshake with " + host + " failed: " + ec.message();
}

// Outcome of writing one request and reading its answer on a connection.
struct Exchange {
  bool complete = false;    // the whole answer was read
  bool sent_any = false;    // some request bytes may have reached the server
  bool answer_any = false;  // some bytes of the answer arrived
  bool timed_out = false;
  bool keep_alive = false;  // the connection may carry another request
  std::string error;
  // Heap-allocated so that moving the Exchange never moves a parser an operation refers to.
  std::unique_ptr<bhttp::response_parser<bhttp::string_body>> parser;
};

}  // namespace

// ---- base URL --------------------------------------------------------------------------------

std::string BaseUrl::to_string() const {
  std::string out = tls ? "https://" : "http://";
  out += host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (port != (tls ? 443 : 80)) out += ":" + std::to_string(port);
  return out;
}

BaseUrlParse parse_base_url(std::string_view url) {
  auto fail = [&](std::string why) {
    return BaseUrlParse{std::nullopt, "invalid base URL \"" + std::string(url) + "\": " + why};
  };
  BaseUrl out;
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return fail("expected http://host or https://host");
  const std::string scheme = lower(url.substr(0, scheme_end));
  if (scheme == "https") {
    out.tls = true;
  } else if (scheme != "http") {
    return fail("scheme must be http or https");
  }
  std::string_view rest = url.substr(scheme_end + 3);
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find_first_of("/?#") != std::string_view::npos)
    return fail("no path, query or fragment allowed");
  if (rest.find('@') != std::string_view::npos) return fail("no user info allowed");
  std::string_view host = rest;
  std::string_view port;
  if (!rest.empty() && rest.front() == '[') {
    const auto close = rest.find(']');
    if (close == std::string_view::npos) return fail("unterminated IPv6 literal");
    host = rest.substr(1, close - 1);
    const auto after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return fail("unexpected text after the IPv6 literal");
      port = after.substr(1);
      if (port.empty()) return fail("empty port");
    }
    beast::error_code ec;
    asio::ip::make_address_v6(std::string(host), ec);
    if (ec) return fail("invalid IPv6 literal");
  } else {
    const auto colon = rest.find(':');
    if (colon != std::string_view::npos) {
      host = rest.substr(0, colon);
      port = rest.substr(colon + 1);
      if (port.empty()) return fail("empty port");
    }
    const bool ok = std::all_of(host.begin(), host.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '.';
    });
    if (!ok) return fail("invalid host name");
  }
  if (host.empty()) return fail("empty host");
  out.host = lower(host);
  out.port = out.tls ? 443 : 80;
  if (!port.empty()) {
    unsigned value = 0;
    const auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || p != port.data() + port.size() || value == 0 || value > 65535)
      return fail("port must be a number in 1..65535");
    out.port = static_cast<std::uint16_t>(value);
  }
  return BaseUrlParse{std::move(out), {}};
}

const char* to_string(HttpResultKind kind) {
  switch (kind) {
    case HttpResultKind::kOk:
      return "ok";
    case HttpResultKind::kConnectFailed:
      return "connect_failed";
    case HttpResultKind::kUncertain:
      return "uncertain";
  }
  return "unknown";
}

const std::string* HttpResult::header(std::string_view lower_name) const {
  for (const auto& [name, value] : headers)
    if (name == lower_name) return &value;
  return nullptr;
}

// ---- the client ------------------------------------------------------------------------------

class HttpClient::Impl {
 public:
  Impl(BaseUrl url, HttpClientOptions opts, std::optional<ssl::context> ctx)
      : url_(std::move(url)),
        opts_(std::move(opts)),
        ctx_(std::move(ctx)),
        host_header_(host_header(url_)),
        port_text_(std::to_string(url_.port)),
        host_is_ip_(is_ip_literal(url_.host)) {}

  ~Impl() {
    std::vector<std::unique_ptr<Connection>> idle;
    {
      std::lock_guard lock(mu_);
      idle.swap(idle_);
    }
    for (auto& c : idle) dispose(std::move(c));
  }

  HttpResult send(const HttpRequest& in);

  const BaseUrl& url() const { return url_; }
  const HttpClientOptions& opts() const { return opts_; }
  HttpClientStats stats() const {
    HttpClientStats s;
    s.requests = requests_.load();
    s.connections_opened = opened_.load();
    s.connections_reused = reused_.load();
    s.resends = resends_.load();
    s.stale_discarded = stale_.load();
    return s;
  }

 private:
  static std::string host_header(const BaseUrl& u) {
    std::string h = u.host.find(':') != std::string::npos ? "[" + u.host + "]" : u.host;
    if (u.port != (u.tls ? 443 : 80)) h += ":" + std::to_string(u.port);
    return h;
  }

  std::unique_ptr<Connection> take_idle();
  void give_back(std::unique_ptr<Connection> c);
  // Connects `c` before `deadline`; returns an error text, empty on success.
  std::string connect(Connection& c, TimePoint deadline);
  Exchange exchange(Connection& c, bhttp::request<bhttp::string_body>& req, bool head,
                    TimePoint deadline);

  const BaseUrl url_;
  const HttpClientOptions opts_;
  std::optional<ssl::context> ctx_;  // https only; SSL_CTX is safe to share once configured
  const std::string host_header_;
  const std::string port_text_;
  const bool host_is_ip_;

  std::mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_;  // most recently used last

  std::atomic<std::uint64_t> requests_{0}, opened_{0}, reused_{0}, resends_{0}, stale_{0};
};

std::unique_ptr<Connection> HttpClient::Impl::take_idle() {
  for (;;) {
    std::unique_ptr<Connection> c;
    {
      std::lock_guard lock(mu_);
      if (idle_.empty()) return nullptr;
      c = std::move(idle_.back());
      idle_.pop_back();
    }
    if (SteadyClock::now() - c->idle_since <= opts_.max_idle_time && c->looks_alive()) return c;
    stale_.fetch_add(1);
    dispose(std::move(c));
  }
}

void HttpClient::Impl::give_back(std::unique_ptr<Connection> c) {
  c->idle_since = SteadyClock::now();
  std::unique_ptr<Connection> evicted;
  {
    std::lock_guard lock(mu_);
    if (idle_.size() >= opts_.max_idle_connections && !idle_.empty()) {
      evicted = std::move(idle_.front());
      idle_.erase(idle_.begin());
    }
    if (opts_.max_idle_connections > 0) {
      idle_.push_back(std::move(c));
    } else {
      evicted = std::move(c);
    }
  }
  dispose(std::move(evicted));
}

std::string HttpClient::Impl::connect(Connection& c, TimePoint deadline) {
  const auto started = SteadyClock::now();
  auto elapsed_text = [&] { return std::to_string(ms_between(started, SteadyClock::now())); };

  // Resolve.
  tcp::resolver resolver(c.ioc);
  tcp::resolver::results_type endpoints;
  beast::error_code ec;
  bool done = false;
  resolver.async_resolve(url_.host, port_text_,
                         [&](const beast::error_code& e, tcp::resolver::results_type r) {
                           ec = e;
                           endpoints = std::move(r);
                           done = true;
                         });
  if (!run_until(c.ioc, done, deadline)) {
    resolver.cancel();
    c.resolver_stuck = true;
    return "resolving " + url_.host + " timed out after " + elapsed_text() + " ms";
  }
  if (ec) return "resolving " + url_.host + " failed: " + ec.message();

  // TCP connect to the first address that answers.
  if (url_.tls) {
    c.tls.emplace(tcp::socket(c.ioc), *ctx_);
  } else {
    c.plain.emplace(c.ioc);
  }
  done = false;
  asio::async_connect(c.socket(), endpoints, [&](const beast::error_code& e, const tcp::endpoint&) {
    ec = e;
    done = true;
  });
  if (!run_until(c.ioc, done, deadline)) {
    c.close();
    return "connecting to " + url_.to_string() + " timed out after " + elapsed_text() + " ms";
  }
  if (ec) return "connecting to " + url_.to_string() + " failed: " + ec.message();
  c.socket().set_option(tcp::no_delay(true), ec);

  if (!url_.tls) return {};

  // TLS: SNI, and the certificate must name the host (checked by OpenSSL during the handshake,
  // with verify_peer set on the context).
  SSL* ssl = c.tls->native_handle();
  if (host_is_ip_) {
    // No SNI for address literals (RFC 6066 §3); the certificate must list the address.
    if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), url_.host.c_str()) != 1)
      return "TLS set-up failed: cannot verify address " + url_.host;
  } else {
    if (SSL_set_tlsext_host_name(ssl, url_.host.c_str()) != 1 ||
        SSL_set1_host(ssl, url_.host.c_str()) != 1)
      return "TLS set-up failed for " + url_.host;
    SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  }
  done = false;
  c.tls->async_handshake(ssl::stream_base::client, [&](const beast::error_code& e) {
    ec = e;
    done = true;
  });
  if (!run_until(c.ioc, done, deadline)) {
    c.close();
    return "TLS handshake with " + url_.host + " timed out after " + elapsed_text() + " ms";
  }
  if (ec) return tls_error_text(ssl, ec, url_.host);
  return {};
}

Exchange HttpClient::Impl::exchange(Connection& c, bhttp::request<bhttp::string_body>& req,
                                    bool head, TimePoint deadline) {
  Exchange x;
  beast::error_code ec;
  std::size_t written = 0;
  bool done = false;
  auto on_write = [&](const beast::error_code& e, std::size_t n) {
    ec = e;
    written = n;
    done = true;
  };
  if (c.tls) {
    bhttp::async_write(*c.tls, req, on_write);
  } else {
    bhttp::async_write(*c.plain, req, on_write);
  }
  if (!run_until(c.ioc, done, deadline)) {
    // Some bytes may be on their way; assume the server saw them.
    x.sent_any = true;
    x.timed_out = true;
    x.error = "sending the request timed out";
    return x;
  }
  // A failed write that transferred nothing left no request bytes the server could act on
  // (with TLS, at most part of one record, which the server cannot decrypt).
  x.sent_any = written > 0 || !ec;
  if (ec) {
    x.error = "sending the request failed: " + ec.message();
    return x;
  }

  x.parser = std::make_unique<bhttp::response_parser<bhttp::string_body>>();
  auto& parser = *x.parser;
  parser.body_limit(opts_.max_body_bytes);
  parser.header_limit(static_cast<std::uint32_t>(opts_.max_header_bytes));
  if (head) parser.skip(true);
  done = false;
  auto on_read = [&](const beast::error_code& e, std::size_t) {
    ec = e;
    done = true;
  };
  if (c.tls) {
    bhttp::async_read(*c.tls, c.buffer, parser, on_read);
  } else {
    bhttp::async_read(*c.plain, c.buffer, parser, on_read);
  }
  const bool finished = run_until(c.ioc, done, deadline);
  x.answer_any = parser.got_some() || c.buffer.size() > 0;
  if (!finished) {
    x.timed_out = true;
    x.error =
        x.answer_any ? "timed out while reading the answer" : "timed out waiting for the answer";
    return x;
  }
  if (ec == bhttp::error::body_limit) {
    x.error = "the answer's body exceeds " + std::to_string(opts_.max_body_bytes) + " bytes";
    return x;
  }
  if (ec == bhttp::error::header_limit) {
    x.error = "the answer's header exceeds " + std::to_string(opts_.max_header_bytes) + " bytes";
    return x;
  }
  if (ec == bhttp::error::end_of_stream || ec == asio::error::eof) {
    x.error = x.answer_any ? "connection closed in the middle of the answer"
                           : "connection closed before any answer";
    return x;
  }
  if (ec) {
    x.error = std::string(x.answer_any ? "reading the answer failed: "
                                       : "connection failed before any answer: ") +
              ec.message();
    return x;
  }
  x.complete = true;
  // Bytes beyond the answer would belong to no request of ours: do not reuse.
  x.keep_alive = parser.keep_alive() && c.buffer.size() == 0;
  return x;
}

HttpResult HttpClient::Impl::send(const HttpRequest& in) {
  requests_.fetch_add(1);
  const auto started = SteadyClock::now();
  const auto deadline = started + opts_.total_timeout;
  HttpResult out;
  auto finish = [&](HttpResultKind kind, std::string error) {
    out.kind = kind;
    out.error = std::move(error);
    out.elapsed = std::chrono::duration_cast<milliseconds>(SteadyClock::now() - started);
    return std::move(out);
  };

  if (in.method.empty() || !std::all_of(in.method.begin(), in.method.end(), is_token_char))
    return finish(HttpResultKind::kConnectFailed, "invalid method \"" + in.method + "\"");
  if (in.target.empty() || in.target.front() != '/' ||
      in.target.find_first_of(std::string_view(" \r\n\t\0", 5)) != std::string::npos)
    return finish(HttpResultKind::kConnectFailed, "invalid target \"" + in.target + "\"");
  bhttp::request<bhttp::string_body> req;
  req.version(11);
  req.method_string(in.method);
  req.target(in.target);
  req.set(bhttp::field::host, host_header_);
  req.set(bhttp::field::user_agent, opts_.user_agent);
  for (const auto& [name, value] : in.headers) {
    if (!valid_header(name, value))
      return finish(HttpResultKind::kConnectFailed, "invalid request header \"" + name + "\"");
    if (beast::iequals(name, "host") || beast::iequals(name, "content-length") ||
        beast::iequals(name, "transfer-encoding"))
      continue;  // framing and routing are the client's
    req.insert(name, value);
  }
  req.body() = in.body;
  req.prepare_payload();
  const bool head = in.method == "HEAD";
  const bool idempotent = in.idempotent.value_or(method_is_idempotent(in.method));

  // Whether an earlier attempt of this call may have reached the server: then no later
  // failure can be reported as "certainly no effect".
  bool maybe_seen = false;
  bool fresh_only = false;
  for (int attempt = 0;; ++attempt) {
    std::unique_ptr<Connection> c = fresh_only ? nullptr : take_idle();
    const bool reused = c != nullptr;
    if (!c) {
      c = std::make_unique<Connection>();
      const auto connect_deadline = std::min(deadline, SteadyClock::now() + opts_.connect_timeout);
      std::string err = connect(*c, connect_deadline);
      if (!err.empty()) {
        dispose(std::move(c));
        if (maybe_seen)
          return finish(HttpResultKind::kUncertain, "sent once, then " + err + " on resending");
        return finish(HttpResultKind::kConnectFailed, std::move(err));
      }
      opened_.fetch_add(1);
    } else {
      reused_.fetch_add(1);
    }

    Exchange x = exchange(*c, req, head, deadline);
    if (x.complete) {
      auto& res = x.parser->get();
      out.status = static_cast<int>(res.result_int());
      for (const auto& f : res) out.headers.emplace_back(lower(f.name_string()), f.value());
      out.body = std::move(res.body());
      out.reused_connection = reused;
      if (x.keep_alive) {
        give_back(std::move(c));
      } else {
        dispose(std::move(c));
      }
      return finish(HttpResultKind::kOk, {});
    }
    dispose(std::move(c));
    maybe_seen = maybe_seen || x.sent_any;

    // A pooled connection can break under a request because the server closed it (idle
    // timeout, restart) just as the request went out. Sending again on a fresh connection is
    // safe when
    //  - nothing of the request left us (x.sent_any false): the server saw nothing; or
    //  - the request is idempotent and no byte of an answer came back: even if the server did
    //    act on it, acting twice equals acting once.
    // A POST that went out is never sent again. Usually the server had closed the idle
    // connection without reading it, but that cannot be told apart from a server that created
    // the booking and then failed to answer; so the caller gets kUncertain and resolves it (by
    // a look-up). The pool's check before sending (Connection::looks_alive) keeps this rare.
    // A timeout is never retried: the call's time is spent.
    const bool broke_before_answer = !x.timed_out && !x.answer_any;
    if (reused && attempt == 0 && broke_before_answer && (!x.sent_any || idempotent)) {
      if (x.sent_any) resends_.fetch_add(1);
      out.resent = x.sent_any;
      fresh_only = true;
      continue;
    }
    if (!maybe_seen) return finish(HttpResultKind::kConnectFailed, std::move(x.error));
    return finish(HttpResultKind::kUncertain, std::move(x.error));
  }
}

// ---- HttpClient ------------------------------------------------------------------------------

HttpClient::HttpClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpClient::~HttpClient() = default;

HttpClient::Created HttpClient::create(std::string_view base_url, HttpClientOptions options) {
  BaseUrlParse parsed = parse_base_url(base_url);
  if (!parsed.url) return {nullptr, std::move(parsed.error)};
  if (options.connect_timeout.count() <= 0 || options.total_timeout.count() <= 0)
    return {nullptr, "timeouts must be positive"};
  std::optional<ssl::context> ctx;
  if (parsed.url->tls) {
    ctx.emplace(ssl::context::tls_client);
    beast::error_code ec;
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                         ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1,
                     ec);
    SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
    ctx->set_verify_mode(ssl::verify_peer, ec);
    if (!options.ca_file.empty()) {
      ctx->load_verify_file(options.ca_file, ec);
      if (ec) return {nullptr, "cannot load CA file \"" + options.ca_file + "\": " + ec.message()};
    } else {
      ctx->set_default_verify_paths(ec);
      if (ec) return {nullptr, "cannot load the system's CA certificates: " + ec.message()};
    }
  }
  auto impl = std::make_unique<Impl>(std::move(*parsed.url), std::move(options), std::move(ctx));
  return {std::unique_ptr<HttpClient>(new HttpClient(std::move(impl))), {}};
}

HttpResult HttpClient::send(const HttpRequest& request) {
  return impl_->send(request);
}

HttpResult HttpClient::request(std::string method, std::string target, HttpHeaders headers,
                               std::string body) {
  HttpRequest r;
  r.method = std::move(method);
  r.target = std::move(target);
  r.headers = std::move(headers);
  r.body = std::move(body);
  return impl_->send(r);
}

const BaseUrl& HttpClient::base_url() const {
  return impl_->url();
}
const HttpClientOptions& HttpClient::options() const {
  return impl_->opts();
}
HttpClientStats HttpClient::stats() const {
  return impl_->stats();
}

}  // namespace appointd::sync
