// The HTTP/1.1 server. Layout:
//  - run_server: binds, spawns the accept loop and the signal watcher on one strand, runs the
//    io_context on opts.threads threads, and on SIGINT/SIGTERM drains gracefully.
//  - accept_loop: admits a connection (beyond a cap: for one request on Channel::kOverCap, or
//    not at all) and spawns its session on a fresh strand.
//  - serve_connection: the keep-alive loop of one connection. One request is read, handed to the
//    application, answered and only then is the next one read: at most one write in flight.
//  - PendingReplies: lets the application complete a request from any thread (Reply) and lets
//    shutdown destroy the requests that were never answered while the io_context still exists.
#include "http/pch.h"  // first: <utility> must precede Asio's coroutine headers (Boost 1.74)

#include "http/server.h"

#include <algorithm>
#include <cctype>
#include <limits>
#include <optional>
#include <random>
#include <stdexcept>
#include <system_error>

#include "http/problem.h"
#include "obs/log.h"

// GCC 12 reports a false -Wmismatched-new-delete inside Asio's awaitable frame allocator
// (awaitable_frame_base::operator new/delete recycle through thread_info_base) when sanitizers
// change inlining. The pairing is correct; silence only that warning, only in this file.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace appointd::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr std::size_t kReadChunk = 16 * 1024;
// After an error response the rest of the request is read and discarded for a moment before the
// socket is closed: closing with unread data makes the kernel send RST, which can destroy the
// response before the client has read it.
constexpr auto kLingerTime = milliseconds(1000);
constexpr auto kRejectLingerTime = milliseconds(500);
constexpr std::size_t kLingerMaxBytes = 1024 * 1024;
// Extra time after read_timeout before tcp_stream itself closes the socket. The read deadline is
// enforced by our own timer (which keeps the socket open, so a 408 can be written); this is only
// a backstop against a missed cancellation.
constexpr auto kReadBackstop = seconds(2);
// How long a connection beyond a cap may take to send its one request.
constexpr auto kOverCapReadTimeout = seconds(2);
// How long in-flight requests may take to finish once SIGINT/SIGTERM arrived.
constexpr auto kShutdownGrace = seconds(5);
constexpr auto kShutdownPoll = milliseconds(20);

// ---- request ids ---------------------------------------------------------------------------

bool is_sane_request_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '_' || c == '-';
  });
}

std::string new_request_id() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::uint64_t v = rng();
  std::string id(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) id[static_cast<std::size_t>(i)] = kHex[v & 0xF];
  return id;
}

std::string pick_request_id(std::string_view sent) {
  return is_sane_request_id(sent) ? std::string(sent) : new_request_id();
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string endpoint_string(const tcp::socket& socket) {
  beast::error_code ec;
  const tcp::endpoint ep = socket.remote_endpoint(ec);
  if (ec) return "unknown";
  const auto addr = ep.address();
  std::string host = addr.to_string();
  if (addr.is_v6()) host = "[" + host + "]";
  return host + ":" + std::to_string(ep.port());
}

// The client address a per-address cap counts under (an IPv4-mapped IPv6 address as IPv4).
std::string client_address(const tcp::socket& socket) {
  beast::error_code ec;
  const tcp::endpoint ep = socket.remote_endpoint(ec);
  if (ec) return {};
  auto addr = ep.address();
  if (addr.is_v6() && addr.to_v6().is_v4_mapped())
    addr = asio::ip::make_address_v4(asio::ip::v4_mapped, addr.to_v6());
  return addr.to_string();
}

bool has_crlf(std::string_view s) {
  return s.find_first_of("\r\n") != std::string_view::npos;
}

// ---- pending replies -----------------------------------------------------------------------

// The completion handlers of requests the application has not answered yet, by id. Reply
// completes one by posting its handler to the connection's strand. The map exists so that
// shutdown can destroy the handlers of never-answered requests (and with them the coroutine
// frames and sockets) while the io_context is still alive; a Reply called after that finds
// nothing and does nothing. Posting happens under the mutex so that close() cannot interleave
// with a post into an io_context that is about to be destroyed.
class PendingReplies {
 public:
  class Op {
   public:
    virtual ~Op() = default;
    virtual void post(Response r) = 0;
  };

  template <class H>
  class OpImpl final : public Op {
   public:
    explicit OpImpl(H h) : h_(std::move(h)) {}
    void post(Response r) override {
      auto ex = asio::get_associated_executor(h_);
      // Always post, never dispatch: Reply may be called synchronously inside the handler,
      // i.e. inside the awaitable's initiation; resuming the coroutine there would re-enter it.
      asio::post(ex,
                 [h = std::move(h_), r = std::move(r)]() mutable { std::move(h)(std::move(r)); });
    }

   private:
    H h_;
  };

  // Returns the id under which `op` waits; 0 when already closed (op is then destroyed).
  std::uint64_t add(std::unique_ptr<Op> op) {
    std::lock_guard lock(mu_);
    if (closed_) return 0;
    const std::uint64_t id = ++next_id_;
    ops_.emplace(id, std::move(op));
    return id;
  }

  // Completes the request `id`; false if it was completed before or the server is closed.
  bool complete(std::uint64_t id, Response r) {
    std::lock_guard lock(mu_);
    auto it = ops_.find(id);
    if (it == ops_.end()) return false;
    std::unique_ptr<Op> op = std::move(it->second);
    ops_.erase(it);
    op->post(std::move(r));
    return true;
  }

  // Called once the io threads have stopped: drops every unanswered request.
  void close() {
    std::unordered_map<std::uint64_t, std::unique_ptr<Op>> ops;
    {
      std::lock_guard lock(mu_);
      closed_ = true;
      ops.swap(ops_);
    }
    ops.clear();  // destroys handlers: their frames are posted to the (stopped) io_context
  }

 private:
  std::mutex mu_;
  bool closed_ = false;
  std::uint64_t next_id_ = 0;
  std::unordered_map<std::uint64_t, std::unique_ptr<Op>> ops_;
};

// Shared by every copy of one Reply. The first call wins; a Reply dropped without being called
// answers 500, so a buggy handler cannot leave a connection hanging.
class ReplyToken {
 public:
  ReplyToken(std::shared_ptr<PendingReplies> replies, std::uint64_t id, std::string request_id)
      : replies_(std::move(replies)), id_(id), request_id_(std::move(request_id)) {}
  ReplyToken(const ReplyToken&) = delete;
  ReplyToken& operator=(const ReplyToken&) = delete;

  ~ReplyToken() {
    if (done_.load()) return;
    try {
      if (replies_->complete(id_, problem(500, "internal_error", "Internal error",
                                          "the request handler did not reply")))
        obs::log_error("handler dropped its reply",
                       "\"request_id\":\"" + obs::json_escape(request_id_) + "\"");
    } catch (...) {
    }
  }

  void complete(Response r) {
    if (done_.exchange(true)) {
      obs::log_warn("reply called more than once; ignored",
                    "\"request_id\":\"" + obs::json_escape(request_id_) + "\"");
      return;
    }
    replies_->complete(id_, std::move(r));
  }

 private:
  std::shared_ptr<PendingReplies> replies_;
  std::uint64_t id_;
  std::string request_id_;
  std::atomic<bool> done_{false};
};

// ---- server state --------------------------------------------------------------------------

// Per connection, confined to the connection's strand (shutdown touches it only through a post
// to that strand, or after the io threads have stopped).
struct SessionCtl {
  explicit SessionCtl(asio::any_io_executor e) : ex(std::move(e)) {}
  asio::any_io_executor ex;
  beast::tcp_stream* stream = nullptr;  // null once the session has ended
  bool idle = false;                    // waiting for the first byte of a request
  bool reading = false;                 // the read deadline is armed
  bool read_timed_out = false;
  std::uint64_t read_gen = 0;  // tells a stale deadline callback from the current one
};

// How a connection was admitted.
enum class Admission { kNormal, kOverCap, kRefused };

struct ServerState {
  ServerState(const ServerOptions& o, Handler h, Admit a, obs::Registry& m)
      : opts(o),
        handler(std::move(h)),
        admit(std::move(a)),
        open(m.gauge("appointd_http_connections", "open connections")),
        accepted(m.counter("appointd_http_connections_total", "accepted TCP connections")),
        rej_payload(rejected(m, "payload_too_large")),
        rej_headers(rejected(m, "headers_too_large")),
        rej_timeout(rejected(m, "request_timeout")),
        rej_bad(rejected(m, "bad_request")),
        rej_conns(rejected(m, "too_many_connections")) {}

  static obs::Counter& rejected(obs::Registry& m, const char* reason) {
    return m.counter("appointd_http_rejected_total",
                     "requests and connections refused by a server limit", {{"reason", reason}});
  }

  // Takes a place for a new connection from `ip` (see ServerOptions' caps); release() gives it
  // back.
  Admission take_place(const std::string& ip) {
    std::lock_guard lock(places_mu);
    int& from_ip = per_ip[ip];
    if (live.load() < opts.max_connections && from_ip < opts.max_connections_per_ip) {
      live.fetch_add(1);
      ++from_ip;
      return Admission::kNormal;
    }
    if (from_ip == 0) per_ip.erase(ip);
    if (over_cap_live < opts.over_cap_sessions) {
      ++over_cap_live;
      return Admission::kOverCap;
    }
    return Admission::kRefused;
  }
  void release(Admission a, const std::string& ip) {
    std::lock_guard lock(places_mu);
    if (a == Admission::kOverCap) {
      --over_cap_live;
      return;
    }
    live.fetch_sub(1);
    auto it = per_ip.find(ip);
    if (it != per_ip.end() && --it->second <= 0) per_ip.erase(it);
  }

  void add_session(const std::shared_ptr<SessionCtl>& c) {
    std::lock_guard lock(sessions_mu);
    sessions.insert(c);
  }
  void remove_session(const std::shared_ptr<SessionCtl>& c) {
    std::lock_guard lock(sessions_mu);
    sessions.erase(c);
  }

  const ServerOptions opts;
  const Handler handler;
  const Admit admit;
  obs::Gauge& open;
  obs::Counter& accepted;
  obs::Counter& rej_payload;
  obs::Counter& rej_headers;
  obs::Counter& rej_timeout;
  obs::Counter& rej_bad;
  obs::Counter& rej_conns;

  std::atomic<int> live{0};  // admitted connections, for the cap and the shutdown drain
  std::atomic<bool> stopping{false};
  std::mutex places_mu;  // guards per_ip, over_cap_live and the check-and-add on live
  std::unordered_map<std::string, int> per_ip;
  int over_cap_live = 0;
  const std::shared_ptr<PendingReplies> replies = std::make_shared<PendingReplies>();

  std::mutex sessions_mu;
  std::unordered_set<std::shared_ptr<SessionCtl>> sessions;
};

// Owns one admitted connection's place (ServerState::take_place) and its share of the gauge.
class ConnectionSlot {
 public:
  ConnectionSlot(std::shared_ptr<ServerState> s, Admission a, std::string ip)
      : s_(std::move(s)), a_(a), ip_(std::move(ip)) {
    s_->open.add(1);
  }
  ConnectionSlot(ConnectionSlot&&) noexcept = default;
  ConnectionSlot& operator=(ConnectionSlot&&) = delete;
  ~ConnectionSlot() {
    if (!s_) return;
    s_->release(a_, ip_);
    s_->open.add(-1);
  }
  Admission admission() const { return a_; }

 private:
  std::shared_ptr<ServerState> s_;
  Admission a_;
  std::string ip_;
};

// Registers a session for shutdown and unregisters it when its frame is destroyed.
class SessionRegistration {
 public:
  SessionRegistration(ServerState& s, std::shared_ptr<SessionCtl> c) : s_(s), c_(std::move(c)) {
    s_.add_session(c_);
  }
  SessionRegistration(const SessionRegistration&) = delete;
  SessionRegistration& operator=(const SessionRegistration&) = delete;
  ~SessionRegistration() {
    c_->stream = nullptr;
    s_.remove_session(c_);
  }

 private:
  ServerState& s_;
  std::shared_ptr<SessionCtl> c_;
};

void log_exception(std::string_view what, std::exception_ptr e, std::string_view request_id = {}) {
  if (!e) return;
  std::string fields;
  if (!request_id.empty()) fields = "\"request_id\":\"" + obs::json_escape(request_id) + "\",";
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    obs::log_error(what, fields + "\"error\":\"" + obs::json_escape(ex.what()) + "\"");
  } catch (...) {
    obs::log_error(what, fields + "\"error\":\"unknown exception\"");
  }
}

// ---- the application call ------------------------------------------------------------------

// Hands `req` to the application and completes with its Response, on the caller's strand,
// whichever thread the application replies from. Never blocks an io thread.
template <class CompletionToken>
auto async_call_handler(ServerState& s, Request req, CompletionToken&& token) {
  return asio::async_initiate<CompletionToken, void(Response)>(
      [&s](auto completion, Request req) {
        // Runs inside the awaitable's await_suspend, which is noexcept: nothing may escape.
        using H = decltype(completion);
        std::shared_ptr<ReplyToken> tok;
        const std::string request_id = req.request_id;
        try {
          const std::uint64_t id =
              s.replies->add(std::make_unique<PendingReplies::OpImpl<H>>(std::move(completion)));
          if (id == 0) return;  // closed: the frame is destroyed with the io_context
          tok = std::make_shared<ReplyToken>(s.replies, id, req.request_id);
          Reply reply = [tok](Response r) { tok->complete(std::move(r)); };
          s.handler(std::move(req), std::move(reply));
        } catch (...) {
          try {
            log_exception("request handler threw", std::current_exception(), request_id);
            if (tok)
              tok->complete(problem(500, "internal_error", "Internal error",
                                    "the server failed to process the request"));
          } catch (...) {
          }
        }
      },
      token, std::move(req));
}

// ---- responses -----------------------------------------------------------------------------

bhttp::response<bhttp::string_body> to_beast(Response&& r, unsigned version, bool keep_alive,
                                             std::string_view request_id) {
  bhttp::response<bhttp::string_body> res;
  res.version(version);
  const unsigned status =
      (r.status >= 100 && r.status <= 999) ? static_cast<unsigned>(r.status) : 500;
  res.result(status);
  res.set(bhttp::field::server, "appointd");
  for (auto& [name, value] : r.headers) {
    if (name.empty() || has_crlf(name) || has_crlf(value)) {
      obs::log_warn("dropped an invalid response header",
                    "\"request_id\":\"" + obs::json_escape(request_id) + "\",\"header\":\"" +
                        obs::json_escape(name) + "\"");
      continue;
    }
    // Framing is the server's business.
    if (beast::iequals(name, "content-length") || beast::iequals(name, "transfer-encoding"))
      continue;
    if (beast::iequals(name, "connection")) {
      if (beast::iequals(value, "close")) keep_alive = false;
      continue;
    }
    res.insert(name, value);
  }
  const bool bodyless = status < 200 || status == 204 || status == 304;
  if (!bodyless && !r.content_type.empty() && !has_crlf(r.content_type))
    res.set(bhttp::field::content_type, r.content_type);
  res.set("X-Request-Id", request_id);
  res.keep_alive(keep_alive);
  if (bodyless) return res;  // no body and no Content-Length (RFC 9110 8.6); Beast would throw
  res.body() = std::move(r.body);
  res.prepare_payload();
  return res;
}

// Half-closes, discards what the client still sends for a moment, then closes.
asio::awaitable<void> linger_close(beast::tcp_stream& stream, milliseconds linger) {
  beast::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  if (!ec) {
    stream.expires_after(linger);
    std::array<char, 4096> scratch;
    std::size_t drained = 0;
    while (drained < kLingerMaxBytes) {
      drained += co_await stream.async_read_some(asio::buffer(scratch),
                                                 asio::redirect_error(asio::use_awaitable, ec));
      if (ec) break;
    }
  }
  stream.close();
}

// Writes a final response (Connection: close) and closes the connection.
asio::awaitable<void> send_final(const ServerState& s, beast::tcp_stream& stream,
                                 bhttp::response<bhttp::string_body> res, milliseconds linger) {
  beast::error_code ec;
  stream.expires_after(s.opts.write_timeout);
  co_await bhttp::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    stream.close();
    co_return;
  }
  co_await linger_close(stream, linger);
}

// ---- one connection ------------------------------------------------------------------------

struct Rejection {
  int status;
  const char* code;
  const char* title;
  std::string detail;
  obs::Counter* counter;
};

bool same_category(const beast::error_code& ec, bhttp::error e) {
  return ec.category() == bhttp::make_error_code(e).category();
}

// What to answer for a failed read; nullopt: close silently (the peer left or broke the socket).
std::optional<Rejection> classify(ServerState& s, const beast::error_code& ec, bool timed_out) {
  if (timed_out)
    return Rejection{
        408, "request_timeout", "Request timeout",
        "the request did not arrive within " + std::to_string(s.opts.read_timeout.count()) + " s",
        &s.rej_timeout};
  if (ec == bhttp::error::body_limit)
    return Rejection{413, "payload_too_large", "Payload too large",
                     "the request body exceeds " + std::to_string(s.opts.body_limit) + " bytes",
                     &s.rej_payload};
  if (ec == bhttp::error::header_limit)
    return Rejection{
        431, "headers_too_large", "Request header fields too large",
        "the request header block exceeds " + std::to_string(s.opts.header_limit) + " bytes",
        &s.rej_headers};
  if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message) return std::nullopt;
  if (same_category(ec, bhttp::error::bad_target))
    return Rejection{400, "bad_request", "Bad request", "malformed HTTP request: " + ec.message(),
                     &s.rej_bad};
  return std::nullopt;  // eof, reset, aborted, backstop timeout, ...
}

// RFC 9112 framing and request-line rules Beast leaves to the server. A message that breaks
// them cannot be framed safely (its body might be taken for the next request: smuggling), so
// it is answered 400 and the connection closed unread. Returns what is wrong, or nullopt.
std::optional<std::string> framing_error(const bhttp::request<bhttp::string_body>& m) {
  const auto method = m.method_string();
  if (method.empty() ||
      !std::all_of(method.begin(), method.end(), [](char c) { return c >= 'A' && c <= 'Z'; }))
    return std::string("the method must be an upper-case token (RFC 9110 section 9.1)");
  if (m.target().empty() || m.target().front() != '/')
    return std::string("the request target must be an absolute path starting with /");
  const auto hosts = m.count(bhttp::field::host);
  if (m.version() >= 11 && hosts == 0)
    return std::string("an HTTP/1.1 request must carry a Host header");
  if (hosts > 1) return std::string("more than one Host header");
  const auto te = m.equal_range(bhttp::field::transfer_encoding);
  if (te.first == te.second) return std::nullopt;
  if (m.version() < 11) return std::string("Transfer-Encoding is not allowed in HTTP/1.0");
  if (m.count(bhttp::field::content_length) > 0)
    return std::string("a request must not carry both Transfer-Encoding and Content-Length");
  // Every coding of every Transfer-Encoding line, in order: exactly one, `chunked`.
  int codings = 0;
  bool chunked = false;
  for (auto it = te.first; it != te.second; ++it) {
    std::string_view v = it->value();
    for (;;) {
      const auto comma = v.find(',');
      std::string_view item = v.substr(0, comma);
      while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
      while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
      ++codings;
      chunked = beast::iequals(item, "chunked");
      if (!chunked) break;
      if (comma == std::string_view::npos) break;
      v.remove_prefix(comma + 1);
    }
    if (!chunked) break;
  }
  if (codings != 1 || !chunked)
    return std::string("the only Transfer-Encoding accepted is a single `chunked`");
  return std::nullopt;
}

bool expects_continue(const bhttp::request<bhttp::string_body>& m) {
  if (m.version() < 11) return false;
  auto it = m.find(bhttp::field::expect);
  return it != m.end() && beast::iequals(it->value(), "100-continue");
}

// The plain Request of a parsed head (and body, once read).
Request to_request(bhttp::request<bhttp::string_body>& msg, const std::string& remote,
                   Channel channel) {
  Request req;
  req.method = std::string(msg.method_string());
  req.target = std::string(msg.target());
  req.headers.reserve(static_cast<std::size_t>(std::distance(msg.begin(), msg.end())));
  for (const auto& f : msg)
    req.headers.emplace_back(lower(f.name_string()), std::string(f.value()));
  req.body = std::move(msg.body());
  req.remote = remote;
  req.channel = channel;
  req.request_id = pick_request_id(req.header("x-request-id").value_or(std::string_view{}));
  return req;
}

asio::awaitable<void> serve_connection(ServerState& s, beast::tcp_stream& stream,
                                       std::shared_ptr<SessionCtl> ctlp, std::string remote,
                                       Channel channel) {
  SessionCtl& ctl = *ctlp;
  beast::flat_buffer buffer;
  asio::steady_timer deadline(stream.get_executor());
  beast::error_code ec;
  auto redir = asio::redirect_error(asio::use_awaitable, ec);
  const std::uint32_t header_limit = static_cast<std::uint32_t>(
      std::min<std::size_t>(s.opts.header_limit, std::numeric_limits<std::uint32_t>::max()));
  const bool over_cap = channel == Channel::kOverCap;
  const auto read_timeout =
      over_cap ? std::min<std::chrono::seconds>(s.opts.read_timeout, kOverCapReadTimeout)
               : s.opts.read_timeout;

  for (bool first = true;; first = false) {
    if (s.stopping.load()) {
      co_await linger_close(stream, kRejectLingerTime);
      co_return;
    }

    // 1. Idle: wait for the first byte of the next request. Expiry closes silently (tcp_stream
    //    closes the socket on timeout). A new connection gets only the read timeout for its
    //    first byte, so connections that never speak are cheap to drop; a kept-alive one gets
    //    the idle timeout. Skipped when a pipelined request is already buffered.
    if (buffer.size() == 0) {
      ctl.idle = true;
      stream.expires_after(first ? read_timeout : s.opts.idle_timeout);
      const std::size_t n = co_await stream.async_read_some(buffer.prepare(kReadChunk), redir);
      ctl.idle = false;
      if (ec) co_return;  // idle timeout, peer closed, reset, or shutdown
      buffer.commit(n);
    }

    // 2. A request has started: all of it must arrive within read_timeout. The deadline is our
    //    own timer that only cancels the pending operation (tcp_stream's own timeout would
    //    close the socket and leave no way to answer 408).
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(header_limit);
    // Beast checks a Content-Length against the limit as the header completes, before the
    // target is known here: the larger limit first, the target's own checked just after.
    parser.body_limit(static_cast<std::uint64_t>(std::max(
        s.opts.body_limit, s.opts.large_body_prefix.empty() ? 0 : s.opts.large_body_limit)));

    const auto read_deadline = std::chrono::steady_clock::now() + read_timeout;
    ctl.read_timed_out = false;
    ctl.reading = true;
    const std::uint64_t gen = ++ctl.read_gen;
    deadline.expires_at(read_deadline);
    deadline.async_wait([c = ctlp, gen](beast::error_code wec) {
      if (wec || !c->reading || c->read_gen != gen || c->stream == nullptr) return;
      c->read_timed_out = true;
      beast::error_code ignored;
      c->stream->socket().cancel(ignored);
    });
    stream.expires_at(read_deadline + kReadBackstop);

    // An answer decided before the whole request was read; the connection closes after it.
    std::optional<Response> early;
    co_await bhttp::async_read_header(stream, buffer, parser, redir);
    if (!ec && (s.opts.large_body_prefix.empty() ||
                !parser.get().target().starts_with(s.opts.large_body_prefix))) {
      parser.body_limit(static_cast<std::uint64_t>(s.opts.body_limit));  // a chunked body's
      if (auto n = parser.content_length(); n && *n > s.opts.body_limit)
        ec = bhttp::error::body_limit;
    }
    if (!ec && !ctl.read_timed_out) {
      if (auto bad = framing_error(parser.get())) {
        s.rej_bad.inc();
        early = problem(400, "bad_request", "Bad request", *bad);
      } else if (!parser.is_done() && expects_continue(parser.get())) {
        // 100 Continue invites the body: only for a request the application would take.
        if (s.admit) {
          auto head = parser.get();  // a copy without body: the parser keeps the original
          early = s.admit(to_request(head, remote, channel));
        }
        if (!early) {
          bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_, parser.get().version()};
          stream.expires_after(s.opts.write_timeout);
          co_await bhttp::async_write(stream, cont, redir);
          stream.expires_at(read_deadline + kReadBackstop);
        }
      }
    }
    if (!early && !ec && !ctl.read_timed_out && !parser.is_done())
      co_await bhttp::async_read(stream, buffer, parser, redir);
    ctl.reading = false;
    deadline.cancel();
    if (early) {
      std::string rid(parser.get()["X-Request-Id"]);
      auto res = to_beast(std::move(*early), parser.get().version(), false, pick_request_id(rid));
      co_await send_final(s, stream, std::move(res), kLingerTime);
      co_return;
    }
    const bool complete = !ec && parser.is_done();
    if (!complete) {
      auto rejection = classify(s, ec, ctl.read_timed_out);
      if (!rejection) {
        stream.close();
        co_return;
      }
      rejection->counter->inc();
      std::string rid;
      if (auto it = parser.get().find("X-Request-Id"); it != parser.get().end())
        rid = std::string(it->value());
      auto res = to_beast(
          problem(rejection->status, rejection->code, rejection->title, rejection->detail),
          parser.is_header_done() ? parser.get().version() : 11, false, pick_request_id(rid));
      co_await send_final(s, stream, std::move(res), kLingerTime);
      co_return;
    }

    // 3. Build the plain request and let the application answer it.
    bhttp::request<bhttp::string_body> msg = parser.release();
    const unsigned version = msg.version();
    const bool client_keep_alive = msg.keep_alive();
    Request req = to_request(msg, remote, channel);
    const std::string rid = req.request_id;

    Response r = co_await async_call_handler(s, std::move(req), asio::use_awaitable);

    // 4. Answer. The loop reads nothing while writing: at most one write in flight. A
    //    connection beyond a cap gets one answer only.
    const bool keep_alive = client_keep_alive && !over_cap && !s.stopping.load();
    r.finish();  // deferred encoding runs here, on this connection's io thread
    auto res = to_beast(std::move(r), version, keep_alive, rid);
    const bool will_keep = res.keep_alive();
    stream.expires_after(s.opts.write_timeout);
    co_await bhttp::async_write(stream, res, redir);
    if (ec) {
      stream.close();
      co_return;
    }
    if (!will_keep) {
      co_await linger_close(stream, kLingerTime);
      co_return;
    }
  }
}

asio::awaitable<void> run_session(std::shared_ptr<ServerState> srv, tcp::socket socket,
                                  ConnectionSlot slot, Channel channel) {
  ServerState& s = *srv;
  if (slot.admission() == Admission::kOverCap) channel = Channel::kOverCap;
  const std::string remote = endpoint_string(socket);
  beast::tcp_stream stream(std::move(socket));
  auto ctl = std::make_shared<SessionCtl>(stream.get_executor());
  ctl->stream = &stream;
  SessionRegistration registration(s, ctl);
  try {
    co_await serve_connection(s, stream, ctl, remote, channel);
  } catch (...) {
    log_exception("http connection failed",
                  std::current_exception());  // logged, then the connection is closed below
  }
  stream.close();
}

void on_coroutine_done(std::exception_ptr e) {
  log_exception("http coroutine failed", e);
}

asio::awaitable<void> accept_loop(std::shared_ptr<ServerState> srv, tcp::acceptor& acceptor,
                                  asio::io_context& ioc, Channel channel) {
  ServerState& s = *srv;
  asio::steady_timer backoff(co_await asio::this_coro::executor);
  beast::error_code ec;
  for (;;) {
    tcp::socket socket(asio::make_strand(ioc));
    co_await acceptor.async_accept(socket, asio::redirect_error(asio::use_awaitable, ec));
    if (s.stopping.load() || !acceptor.is_open()) co_return;
    if (ec) {
      if (ec == asio::error::operation_aborted) co_return;
      if (ec == asio::error::no_descriptors || ec == std::errc::too_many_files_open_in_system ||
          ec == asio::error::no_buffer_space || ec == asio::error::no_memory) {
        obs::log_error("accept failed; backing off",
                       "\"error\":\"" + obs::json_escape(ec.message()) + "\"");
        backoff.expires_after(milliseconds(100));
        co_await backoff.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      }
      continue;
    }
    s.accepted.inc();
    beast::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    const auto ex = socket.get_executor();
    std::string ip = client_address(socket);
    const Admission admission = s.take_place(ip);
    if (admission != Admission::kNormal) s.rej_conns.inc();
    if (admission == Admission::kRefused) {
      socket.close(ignored);
      continue;
    }
    ConnectionSlot slot(srv, admission, std::move(ip));
    asio::co_spawn(ex, run_session(srv, std::move(socket), std::move(slot), channel),
                   on_coroutine_done);
  }
}

// Stops accepting and closes idle keep-alive connections; busy ones close after their response.
void begin_shutdown(ServerState& s, const std::vector<tcp::acceptor*>& acceptors) {
  s.stopping.store(true);
  beast::error_code ec;
  for (auto* a : acceptors) a->close(ec);
  std::vector<std::shared_ptr<SessionCtl>> sessions;
  {
    std::lock_guard lock(s.sessions_mu);
    sessions.assign(s.sessions.begin(), s.sessions.end());
  }
  for (auto& c : sessions)
    asio::post(c->ex, [c] {
      if (c->idle && c->stream != nullptr) c->stream->cancel();
    });
}

asio::awaitable<void> watch_signals(std::shared_ptr<ServerState> srv, asio::signal_set& signals,
                                    std::vector<tcp::acceptor*> acceptors, asio::io_context& ioc) {
  beast::error_code ec;
  const int signo = co_await signals.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return;
  obs::log_info("http server stopping", "\"signal\":" + std::to_string(signo));
  begin_shutdown(*srv, acceptors);
  asio::steady_timer poll(co_await asio::this_coro::executor);
  const auto give_up = std::chrono::steady_clock::now() + kShutdownGrace;
  while (srv->live.load() > 0 && std::chrono::steady_clock::now() < give_up) {
    poll.expires_after(kShutdownPoll);
    co_await poll.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  if (srv->live.load() > 0)
    obs::log_warn("http server stopped with connections still open",
                  "\"open\":" + std::to_string(srv->live.load()));
  ioc.stop();
}

void run_io(asio::io_context& ioc) {
  for (;;) {
    try {
      ioc.run();
      return;
    } catch (...) {
      log_exception("exception escaped an io handler", std::current_exception());
    }
  }
}

// Opens, binds and listens; returns the bound port.
std::uint16_t listen_on(asio::io_context& ioc, tcp::acceptor& acceptor, const std::string& host,
                        std::uint16_t port) {
  try {
    tcp::resolver resolver(ioc);
    auto results = resolver.resolve(host, std::to_string(port),
                                    tcp::resolver::passive | tcp::resolver::numeric_service);
    if (results.empty()) throw std::runtime_error("cannot resolve listen host " + host);
    const tcp::endpoint ep = results.begin()->endpoint();
    acceptor.open(ep.protocol());
    acceptor.set_option(asio::socket_base::reuse_address(true));
    acceptor.bind(ep);
    acceptor.listen(asio::socket_base::max_listen_connections);
  } catch (const std::system_error& e) {
    throw std::runtime_error("cannot listen on " + host + ":" + std::to_string(port) + ": " +
                             e.what());
  }
  return acceptor.local_endpoint().port();
}

}  // namespace

void run_server(const ServerOptions& opts, Handler handler, Admit admit, obs::Registry& metrics,
                std::function<void(std::uint16_t, std::uint16_t)> on_listening) {
  // Declaration order is destruction order in reverse: the io_context (and with it every
  // coroutine frame) goes before `srv`, which those frames use while being destroyed.
  auto srv = std::make_shared<ServerState>(opts, std::move(handler), std::move(admit), metrics);
  const int threads = std::max(1, opts.threads);
  asio::io_context ioc(threads);
  auto accept_strand = asio::make_strand(ioc);
  tcp::acceptor acceptor(accept_strand);
  tcp::acceptor ops_acceptor(accept_strand);
  asio::signal_set signals(accept_strand, SIGINT, SIGTERM);

  const std::uint16_t port = listen_on(ioc, acceptor, opts.host, opts.port);
  std::uint16_t ops_port = 0;
  std::vector<tcp::acceptor*> acceptors{&acceptor};
  if (!opts.ops_host.empty()) {
    ops_port = listen_on(ioc, ops_acceptor, opts.ops_host, opts.ops_port);
    acceptors.push_back(&ops_acceptor);
  }
  obs::log_info("http server listening", "\"host\":\"" + obs::json_escape(opts.host) +
                                             "\",\"port\":" + std::to_string(port) +
                                             ",\"ops_port\":" + std::to_string(ops_port) +
                                             ",\"threads\":" + std::to_string(threads));

  asio::co_spawn(accept_strand, accept_loop(srv, acceptor, ioc, Channel::kApi), on_coroutine_done);
  if (ops_port != 0)
    asio::co_spawn(accept_strand, accept_loop(srv, ops_acceptor, ioc, Channel::kOps),
                   on_coroutine_done);
  asio::co_spawn(accept_strand, watch_signals(srv, signals, acceptors, ioc), on_coroutine_done);
  if (on_listening) on_listening(port, ops_port);

  std::vector<std::thread> pool;
  try {
    pool.reserve(static_cast<std::size_t>(threads - 1));
    for (int i = 1; i < threads; ++i) pool.emplace_back([&ioc] { run_io(ioc); });
  } catch (...) {
    ioc.stop();
    for (auto& t : pool) t.join();
    throw;
  }
  run_io(ioc);
  for (auto& t : pool) t.join();

  // The io threads are gone: drop requests the application never answered while the io_context
  // still exists, so their coroutine frames die with it (below) and not on some other thread.
  srv->replies->close();
  beast::error_code ec;
  signals.cancel(ec);
  acceptor.close(ec);
  ops_acceptor.close(ec);
  obs::log_info("http server stopped");
}

}  // namespace appointd::http
