// The HTTP client and the Cal.com client: pure parts (URLs, Retry-After, outcome mapping,
// metadata look-up), then against the Python fake of Cal.com (tests/fakes/fake_calcom.py, started
// once for the suite), against sockets that never answer, and over TLS with certificates made by
// the openssl CLI. Tests that need python3, the fake or openssl skip when those are missing.
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "obs/metrics.h"
#include "sync/call_metrics.h"
#include "sync/http_client.h"
#include "sync/providers/calcom/calcom_client.h"
#include "sync/retry_after.h"

using namespace appointd;
using namespace appointd::sync;
using namespace appointd::sync::calcom;
using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

namespace fs = std::filesystem;

Instant at(const char* s) {
  return *parse_rfc3339(s);
}

// ---- child processes ---------------------------------------------------------------------------

// A child process whose stdout is read until a line starting with `ready` appears. Killed with
// SIGTERM (then SIGKILL) when destroyed.
class Child {
 public:
  static std::unique_ptr<Child> start(const std::vector<std::string>& argv, const char* ready,
                                      std::string& line) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return nullptr;
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid == 0) {
      // The child dies with the test process, even when that crashes.
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() != parent) ::_exit(127);
      ::dup2(fds[1], STDOUT_FILENO);
      ::execvp(args[0], args.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    if (pid < 0) {
      ::close(fds[0]);
      return nullptr;
    }
    auto child = std::unique_ptr<Child>(new Child(pid, fds[0]));
    if (!child->read_line_starting(ready, line, std::chrono::seconds(15))) return nullptr;
    return child;
  }

  ~Child() {
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 100; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        ::close(out_);
        return;
      }
      std::this_thread::sleep_for(milliseconds(20));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    ::close(out_);
  }

 private:
  Child(pid_t pid, int out) : pid_(pid), out_(out) {}

  bool read_line_starting(const char* prefix, std::string& line, std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string buf;
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{out_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char c;
      if (::read(out_, &c, 1) != 1) return false;  // exited
      if (c != '\n') {
        buf += c;
        continue;
      }
      if (buf.rfind(prefix, 0) == 0) {
        line = buf;
        return true;
      }
      buf.clear();
    }
    return false;
  }

  pid_t pid_;
  int out_;
};

fs::path temp_dir(const std::string& name) {
  fs::path dir =
      fs::temp_directory_path() / ("appointd-" + name + "-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// A TCP listener on 127.0.0.1 that never accepts: connects succeed (the kernel's backlog), and
// nothing is ever answered.
class SilentListener {
 public:
  SilentListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(fd_, 16);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  ~SilentListener() { ::close(fd_); }
  std::uint16_t port() const { return port_; }

 private:
  int fd_;
  std::uint16_t port_;
};

// A listener with a backlog of 0 and its accept queue filled by connections nobody accepts.
class FullListener {
 public:
  FullListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(fd_, 0);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    for (int i = 0; i < 8 && !full_; ++i) {
      const int c = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
      fillers_.push_back(c);
      if (::connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) continue;
      pollfd p{c, POLLOUT, 0};
      full_ = errno == EINPROGRESS && ::poll(&p, 1, 200) == 0;  // no SYN-ACK: queue full
    }
  }
  ~FullListener() {
    for (int c : fillers_) ::close(c);
    ::close(fd_);
  }
  std::uint16_t port() const { return port_; }
  bool full() const { return full_; }

 private:
  int fd_;
  std::uint16_t port_;
  bool full_ = false;
  std::vector<int> fillers_;
};

// A port nobody listens on (bound once, then released).
std::uint16_t closed_port() {
  SilentListener l;
  return l.port();
}

std::unique_ptr<HttpClient> make_client(const std::string& url, HttpClientOptions o = {}) {
  auto created = HttpClient::create(url, std::move(o));
  EXPECT_TRUE(created.client) << created.error;
  return std::move(created.client);
}

// ---- the fake ----------------------------------------------------------------------------------

constexpr const char* kKey = "cal_test_appointd";
constexpr std::int64_t kAliceCut = 101;  // host alice, 30 minutes
constexpr std::int64_t kBobLong = 102;   // host bob, 60 minutes

class CalcomFakeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const fs::path script = fs::path(APPOINTD_SOURCE_DIR) / "tests/fakes/fake_calcom.py";
    if (!fs::exists(script)) {
      skip_reason_ = new std::string("no " + script.string());
      return;
    }
    std::string line;
    fake_ = Child::start({"python3", script.string(), "--port", "0", "--api-key", kKey,
                          "--event-type", "101:alice:30", "--event-type", "102:bob:60"},
                         "listening ", line)
                .release();
    if (!fake_) {
      skip_reason_ = new std::string("could not start python3 " + script.string());
      return;
    }
    url_ = new std::string("http://127.0.0.1:" + line.substr(std::string("listening ").size()));
  }

  static void TearDownTestSuite() {
    delete fake_;
    fake_ = nullptr;
    delete url_;
    url_ = nullptr;
    delete skip_reason_;
    skip_reason_ = nullptr;
  }

  void SetUp() override {
    if (!fake_) GTEST_SKIP() << *skip_reason_;
    control_ = make_client(*url_);
    control("POST", "/_fake/reset", {{"keep_event_types", true}});
    HttpClientOptions o;
    o.total_timeout = milliseconds(1500);
    http_ = make_client(*url_, o);
    client_ = std::make_unique<CalcomClient>(*http_, kKey);
  }

  json control(const std::string& method, const std::string& path, const json& body = nullptr) {
    auto r = control_->request(method, path, {{"Content-Type", "application/json"}},
                               body.is_null() ? std::string() : body.dump());
    EXPECT_EQ(r.kind, HttpResultKind::kOk) << r.error;
    EXPECT_LT(r.status, 300) << r.body;
    return json::parse(r.body, nullptr, false);
  }

  void fault(const std::string& mode, const std::string& method, json extra = json::object()) {
    extra["mode"] = mode;
    extra["match"] = {{"method", method}, {"path_prefix", "/v2/bookings"}};
    control("POST", "/_fake/faults", json::array({extra}));
  }

  // The fake's bookings (all statuses), as Cal.com's objects.
  std::vector<CalcomBooking> fake_bookings() {
    std::vector<CalcomBooking> out;
    const json all = control("GET", "/_fake/bookings");
    for (const auto& b : all["bookings"])
      if (auto p = parse_booking(b.dump())) out.push_back(*p);
    return out;
  }

  // A start `hours` hours after the next midnight two days from now (UTC, whole hours), so that
  // the fake never refuses it as past.
  static Instant future(int hours) {
    const auto now = std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now());
    return Instant{std::chrono::duration_cast<Seconds>(now.time_since_epoch()) +
                   std::chrono::hours(48 + hours)};
  }

  static CreateBooking booking(Instant start, Id appointment = 7, std::int64_t version = 1,
                               Id segment = 70, std::int64_t event_type = kAliceCut) {
    CreateBooking b;
    b.start = start;
    b.event_type_id = event_type;
    b.attendee = {"Ada Lovelace", "ada@example.com", "Europe/Berlin", "+4915112345678"};
    b.appointment_id = appointment;
    b.version = version;
    b.segment_id = segment;
    return b;
  }

  static Child* fake_;
  static std::string* url_;
  static std::string* skip_reason_;
  std::unique_ptr<HttpClient> control_;
  std::unique_ptr<HttpClient> http_;
  std::unique_ptr<CalcomClient> client_;
};

Child* CalcomFakeTest::fake_ = nullptr;
std::string* CalcomFakeTest::url_ = nullptr;
std::string* CalcomFakeTest::skip_reason_ = nullptr;

}  // namespace

// ---- pure parts
// ----------------------------------------------------------------------------------

TEST(HttpBaseUrl, AcceptsHttpAndHttpsOrigins) {
  auto a = parse_base_url("https://API.cal.com");
  ASSERT_TRUE(a.url) << a.error;
  EXPECT_TRUE(a.url->tls);
  EXPECT_EQ(a.url->host, "api.cal.com");
  EXPECT_EQ(a.url->port, 443);
  EXPECT_EQ(a.url->to_string(), "https://api.cal.com");
  auto b = parse_base_url("http://127.0.0.1:8089/");
  ASSERT_TRUE(b.url) << b.error;
  EXPECT_FALSE(b.url->tls);
  EXPECT_EQ(b.url->port, 8089);
  auto c = parse_base_url("https://[::1]:8443");
  ASSERT_TRUE(c.url) << c.error;
  EXPECT_EQ(c.url->host, "::1");
  EXPECT_EQ(c.url->to_string(), "https://[::1]:8443");
}

TEST(HttpBaseUrl, RefusesEverythingElseWithAReason) {
  for (const char* bad :
       {"ftp://api.cal.com", "api.cal.com", "https://", "https://api.cal.com/v2",
        "https://user@api.cal.com", "https://api.cal.com:0", "https://api.cal.com:65536",
        "https://api.cal.com:x", "http://a b", "https://api.cal.com?x=1", "https://[::1"}) {
    auto p = parse_base_url(bad);
    EXPECT_FALSE(p.url) << bad;
    EXPECT_NE(p.error.find("invalid base URL"), std::string::npos) << bad;
  }
  auto created = HttpClient::create("ftp://x");
  EXPECT_FALSE(created.client);
  EXPECT_NE(created.error.find("scheme must be http or https"), std::string::npos);
  HttpClientOptions missing_ca;
  missing_ca.ca_file = "/nonexistent/ca.pem";
  auto no_ca = HttpClient::create("https://x", missing_ca);
  EXPECT_FALSE(no_ca.client);
  EXPECT_NE(no_ca.error.find("cannot load CA file"), std::string::npos);
}

TEST(RetryAfter, ParsesSecondsAndTheThreeDateForms) {
  const Instant now = at("2015-10-21T07:27:00Z");
  EXPECT_EQ(parse_retry_after("120", now), seconds(120));
  EXPECT_EQ(parse_retry_after(" 0 ", now), seconds(0));
  EXPECT_EQ(parse_retry_after("99999999999999", now), seconds(86400));  // capped at a day
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now), seconds(60));
  EXPECT_EQ(parse_retry_after("Wednesday, 21-Oct-15 07:28:30 GMT", now), seconds(90));
  EXPECT_EQ(parse_retry_after("Wed Oct 21 07:29:00 2015", now), seconds(120));
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now), seconds(0));  // past
  for (const char* bad : {"", "-1", "1.5", "soon", "Wed, 31 Feb 2015 07:28:00 GMT",
                          "Wed, 21 Oct 2015 25:28:00 GMT", "Wed, 21 Oct 2015 07:28:00 CET"})
    EXPECT_FALSE(parse_retry_after(bad, now)) << bad;
}

TEST(CalcomClassify, MapsEveryAnswerToItsOutcome) {
  const Instant now = at("2026-01-01T00:00:00Z");
  auto answer = [](int status, std::string body = "{}", HttpHeaders h = {}) {
    HttpResult r;
    r.kind = HttpResultKind::kOk;
    r.status = status;
    r.body = std::move(body);
    r.headers = std::move(h);
    return r;
  };
  auto busy = answer(
      400, R"({"status":"error","error":{"code":"BadRequestException",)"
           R"("message":"User either already has booking at this time or is not available"}})");
  EXPECT_EQ(classify(SyncEndpoint::kCreate, answer(201), now).outcome, CalcomOutcome::kOk);
  EXPECT_EQ(classify(SyncEndpoint::kCreate, busy, now).outcome, CalcomOutcome::kConflict);
  EXPECT_EQ(classify(SyncEndpoint::kReschedule, busy, now).outcome, CalcomOutcome::kConflict);
  EXPECT_EQ(classify(SyncEndpoint::kCancel, busy, now).outcome, CalcomOutcome::kRejected);
  EXPECT_EQ(classify(SyncEndpoint::kCreate, answer(409), now).outcome, CalcomOutcome::kConflict);
  EXPECT_EQ(classify(SyncEndpoint::kGet, answer(404), now).outcome, CalcomOutcome::kNotFound);
  const auto bad = classify(SyncEndpoint::kCreate, answer(422, R"({"message":"nope"})"), now);
  EXPECT_EQ(bad.outcome, CalcomOutcome::kRejected);
  EXPECT_EQ(bad.message, "nope");
  EXPECT_EQ(bad.error, R"(HTTP 422: {"message":"nope"})");
  EXPECT_EQ(classify(SyncEndpoint::kCreate, answer(302), now).outcome, CalcomOutcome::kRejected);

  const auto t1 = classify(SyncEndpoint::kList, answer(429, "{}", {{"retry-after", "7"}}), now);
  EXPECT_EQ(t1.outcome, CalcomOutcome::kThrottled);
  EXPECT_EQ(t1.retry_after, seconds(7));
  // Cal.com's own throttler sends X-RateLimit-Reset-<name> and no Retry-After.
  const auto t2 =
      classify(SyncEndpoint::kList, answer(429, "{}", {{"x-ratelimit-reset-default", "42"}}), now);
  EXPECT_EQ(t2.retry_after, seconds(42));
  const auto t3 =
      classify(SyncEndpoint::kCreate,
               answer(503, "{}", {{"retry-after", "Thu, 01 Jan 2026 00:00:30 GMT"}}), now);
  EXPECT_EQ(t3.outcome, CalcomOutcome::kThrottled);
  EXPECT_EQ(t3.retry_after, seconds(30));
  EXPECT_EQ(classify(SyncEndpoint::kCreate, answer(503), now).outcome, CalcomOutcome::kServerError);
  EXPECT_EQ(classify(SyncEndpoint::kCreate, answer(500), now).outcome, CalcomOutcome::kServerError);

  HttpResult dropped;
  dropped.kind = HttpResultKind::kUncertain;
  dropped.error = "connection closed before any answer";
  EXPECT_EQ(classify(SyncEndpoint::kCreate, dropped, now).outcome, CalcomOutcome::kUncertain);
  HttpResult refused;
  refused.kind = HttpResultKind::kConnectFailed;
  EXPECT_EQ(classify(SyncEndpoint::kCreate, refused, now).outcome, CalcomOutcome::kUnreachable);

  EXPECT_TRUE(effect_uncertain(CalcomOutcome::kServerError));
  EXPECT_TRUE(effect_uncertain(CalcomOutcome::kUncertain));
  EXPECT_FALSE(effect_uncertain(CalcomOutcome::kUnreachable));
  EXPECT_FALSE(effect_uncertain(CalcomOutcome::kConflict));
}

TEST(CalcomBookings, ParsesABookingAndFindsItsTag) {
  const auto b = parse_booking(R"({"id":5,"uid":"abc","status":"accepted",
      "start":"2026-03-02T09:00:00.000Z","end":"2026-03-02T09:30:00.000Z",
      "eventType":{"id":101,"slug":"cut"},
      "metadata":{"appointd_appointment":"7","appointd_version":"2","appointd_segment":"70",
                  "n":3,"flag":true}})");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->uid, "abc");
  EXPECT_EQ(b->id, 5);
  EXPECT_EQ(b->event_type_id, 101);
  EXPECT_EQ(b->start, at("2026-03-02T09:00:00Z"));
  EXPECT_EQ(b->end, at("2026-03-02T09:30:00Z"));
  EXPECT_TRUE(b->live());
  EXPECT_EQ(b->metadata.at("n"), "3");
  EXPECT_EQ(b->metadata.at("flag"), "true");
  EXPECT_FALSE(parse_booking(R"({"uid":"x","start":"nope","end":"2026-03-02T09:30:00Z"})"));
  EXPECT_FALSE(parse_booking("[]"));

  CalcomBooking other = *b;
  other.uid = "def";
  other.metadata["appointd_segment"] = "71";
  CalcomBooking older = *b;
  older.uid = "old";
  older.metadata["appointd_version"] = "1";
  const std::vector<CalcomBooking> list = {*b, other, older};
  EXPECT_EQ(find_by_metadata(list, 7, 2, 70).size(), 1u);
  EXPECT_EQ(find_by_metadata(list, 7, std::nullopt, 70).size(), 2u);
  EXPECT_EQ(find_by_metadata(list, 7, 3, 70).size(), 0u);
  EXPECT_EQ(find_by_metadata(list, 8, std::nullopt, 70).size(), 0u);
  EXPECT_EQ(find_by_metadata(list, 7, std::nullopt, 71).front().uid, "def");
}

// ---- bounded calls without Python
// ----------------------------------------------------------------

TEST(HttpClient, ASilentServerNeverHoldsACallPastItsTotalTimeout) {
  SilentListener silent;
  HttpClientOptions o;
  o.total_timeout = milliseconds(700);
  auto http = make_client("http://127.0.0.1:" + std::to_string(silent.port()), o);
  const auto t0 = std::chrono::steady_clock::now();
  const HttpResult r = http->request("POST", "/v2/bookings", {}, "{}");
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(r.kind, HttpResultKind::kUncertain) << r.error;
  EXPECT_NE(r.error.find("timed out waiting for the answer"), std::string::npos) << r.error;
  EXPECT_GE(took, milliseconds(650));
  EXPECT_LT(took, milliseconds(1200));
}

TEST(HttpClient, RefusedConnectionsAreCertainlyWithoutEffect) {
  auto http = make_client("http://127.0.0.1:" + std::to_string(closed_port()));
  const HttpResult r = http->request("POST", "/v2/bookings", {}, "{}");
  EXPECT_EQ(r.kind, HttpResultKind::kConnectFailed);
  EXPECT_NE(r.error.find("refused"), std::string::npos) << r.error;
  CalcomClient client(*http, kKey);
  const auto c = client.get_booking("x");
  EXPECT_EQ(c.status.outcome, CalcomOutcome::kUnreachable);
  EXPECT_FALSE(c.status.error.empty());
}

TEST(HttpClient, AConnectThatHangsEndsAtTheConnectTimeout) {
  // A listener whose accept queue is full: Linux drops further SYNs, so a connect hangs.
  FullListener full;
  if (!full.full()) GTEST_SKIP() << "could not fill a listener's accept queue";
  HttpClientOptions o;
  o.connect_timeout = milliseconds(300);
  auto http = make_client("http://127.0.0.1:" + std::to_string(full.port()), o);
  const auto t0 = std::chrono::steady_clock::now();
  const HttpResult r = http->request("POST", "/v2/bookings", {}, "{}");
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(r.kind, HttpResultKind::kConnectFailed) << r.error;
  EXPECT_NE(r.error.find("timed out"), std::string::npos) << r.error;
  EXPECT_GE(took, milliseconds(280));
  EXPECT_LT(took, milliseconds(1000));
}

TEST(HttpClient, RefusesHeadersThatCouldSplitTheRequest) {
  auto http = make_client("http://127.0.0.1:" + std::to_string(closed_port()));
  const HttpResult r = http->request("GET", "/", {{"X-A", "1\r\nX-B: 2"}});
  EXPECT_EQ(r.kind, HttpResultKind::kConnectFailed);
  EXPECT_NE(r.error.find("invalid request header"), std::string::npos);
}

// ---- against the fake
// ----------------------------------------------------------------------------

TEST_F(CalcomFakeTest, CreateGetListRescheduleCancelRoundTrip) {
  const Instant start = future(9);
  const auto created = client_->create_booking(booking(start));
  ASSERT_TRUE(created.status.ok()) << created.status.error;
  const CalcomBooking b = *created.booking;
  EXPECT_FALSE(b.uid.empty());
  EXPECT_EQ(b.status, "accepted");
  EXPECT_EQ(b.event_type_id, kAliceCut);
  EXPECT_EQ(b.start, start);
  EXPECT_EQ(b.end, start + std::chrono::minutes(30));
  EXPECT_EQ(b.metadata.at(kMetaAppointment), "7");
  EXPECT_EQ(b.metadata.at(kMetaVersion), "1");
  EXPECT_EQ(b.metadata.at(kMetaSegment), "70");
  EXPECT_EQ(created.status.http_status, 201);

  // What went over the wire: headers and body as Cal.com expects them.
  const json log = control("GET", "/_fake/requests")["requests"];
  ASSERT_FALSE(log.empty());
  const json& req = log.back();
  EXPECT_EQ(req["headers"]["authorization"], std::string("Bearer ") + kKey);
  EXPECT_EQ(req["headers"]["cal-api-version"], "2024-08-13");
  EXPECT_EQ(req["headers"]["content-type"], "application/json");
  EXPECT_EQ(req["body"]["start"], format_rfc3339(start));
  EXPECT_EQ(req["body"]["attendee"]["phoneNumber"], "+4915112345678");
  EXPECT_FALSE(req["body"].contains("lengthInMinutes"));

  const auto got = client_->get_booking(b.uid);
  ASSERT_TRUE(got.status.ok()) << got.status.error;
  EXPECT_EQ(got.booking->uid, b.uid);
  EXPECT_EQ(got.booking->start, start);

  // Another appointment of bob, outside alice's event type filter.
  ASSERT_TRUE(client_->create_booking(booking(start, 8, 1, 80, kBobLong)).status.ok());
  ListFilter f;
  f.event_type_ids = {kAliceCut};
  f.after_start = start - std::chrono::hours(1);
  f.before_end = start + std::chrono::hours(2);
  auto listed = client_->list_bookings(f);
  ASSERT_TRUE(listed.status.ok()) << listed.status.error;
  EXPECT_TRUE(listed.complete);
  ASSERT_EQ(listed.bookings.size(), 1u);
  EXPECT_EQ(find_by_metadata(listed.bookings, 7, 1, 70).size(), 1u);

  // Reschedule: a new booking with a new uid; the old one is cancelled and points to it.
  const Instant later = start + std::chrono::hours(2);
  const auto moved = client_->reschedule_booking(b.uid, later, "customer asked");
  ASSERT_TRUE(moved.status.ok()) << moved.status.error;
  EXPECT_NE(moved.booking->uid, b.uid);
  EXPECT_EQ(moved.booking->rescheduled_from_uid, b.uid);
  EXPECT_EQ(moved.booking->start, later);
  EXPECT_EQ(moved.booking->metadata.at(kMetaAppointment), "7");  // kept from the old booking
  const auto old = client_->get_booking(b.uid);
  ASSERT_TRUE(old.status.ok());
  EXPECT_EQ(old.booking->status, "cancelled");
  EXPECT_EQ(old.booking->rescheduled_to_uid, moved.booking->uid);
  const auto again = client_->reschedule_booking(b.uid, later + std::chrono::hours(1));
  EXPECT_EQ(again.status.outcome, CalcomOutcome::kRejected);
  EXPECT_TRUE(again.status.already_cancelled) << again.status.error;

  const auto cancelled = client_->cancel_booking(moved.booking->uid, "no longer needed");
  ASSERT_TRUE(cancelled.status.ok()) << cancelled.status.error;
  EXPECT_EQ(cancelled.booking->status, "cancelled");
  EXPECT_FALSE(cancelled.booking->live());
  const auto twice = client_->cancel_booking(moved.booking->uid, "again");
  EXPECT_EQ(twice.status.outcome, CalcomOutcome::kRejected);
  EXPECT_TRUE(twice.status.already_cancelled) << twice.status.error;

  EXPECT_EQ(client_->get_booking("no-such-uid").status.outcome, CalcomOutcome::kNotFound);
  EXPECT_EQ(client_->cancel_booking("no/such uid", "x").status.outcome, CalcomOutcome::kNotFound);
}

TEST_F(CalcomFakeTest, ABusyHostIsAConflictEitherWayCalcomSaysIt) {
  const Instant start = future(10);
  ASSERT_TRUE(client_->create_booking(booking(start)).status.ok());
  const auto busy = client_->create_booking(booking(start + std::chrono::minutes(15), 9, 1, 90));
  EXPECT_EQ(busy.status.outcome, CalcomOutcome::kConflict);
  EXPECT_EQ(busy.status.http_status, 400);
  EXPECT_NE(busy.status.message.find("already has booking"), std::string::npos);
  fault("conflict", "POST");  // the 409 of two identical creates racing
  const auto raced = client_->create_booking(booking(future(12), 9, 1, 90));
  EXPECT_EQ(raced.status.outcome, CalcomOutcome::kConflict);
  EXPECT_EQ(raced.status.http_status, 409);
}

TEST_F(CalcomFakeTest, AWrongKeyIsRejectedWithCalcomsErrorText) {
  CalcomClient wrong(*http_, "cal_wrong_key");
  const auto r = wrong.create_booking(booking(future(9)));
  EXPECT_EQ(r.status.outcome, CalcomOutcome::kRejected);
  EXPECT_EQ(r.status.http_status, 401);
  EXPECT_NE(r.status.error.find("HTTP 401: "), std::string::npos) << r.status.error;
  EXPECT_NE(r.status.error.find("Your api key is not valid"), std::string::npos);
  EXPECT_EQ(r.status.message, "ApiAuthStrategy - api key - Your api key is not valid");
  EXPECT_TRUE(fake_bookings().empty());
  EXPECT_EQ(wrong.list_bookings({}).status.outcome, CalcomOutcome::kRejected);
}

TEST_F(CalcomFakeTest, FaultsMapToOutcomesAndUncertainCreatesAreFoundByTheirTag) {
  const Instant start = future(11);
  ListFilter around;
  around.event_type_ids = {kAliceCut};
  around.after_start = start - std::chrono::hours(1);
  around.before_end = start + std::chrono::hours(1);
  auto tagged = [&](Id appointment) {
    const auto l = client_->list_bookings(around);
    EXPECT_TRUE(l.status.ok() && l.complete) << l.status.error;
    return find_by_metadata(l.bookings, appointment, 1, appointment * 10);
  };

  struct Case {
    const char* mode;
    CalcomOutcome outcome;
    bool effect;
  };
  const Case cases[] = {{"before", CalcomOutcome::kServerError, false},
                        {"after", CalcomOutcome::kServerError, true},
                        {"drop", CalcomOutcome::kUncertain, false},
                        {"drop_after", CalcomOutcome::kUncertain, true}};
  Id appointment = 100;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.mode);
    control("POST", "/_fake/reset", {{"keep_event_types", true}});
    fault(c.mode, "POST");
    const auto r = client_->create_booking(booking(start, appointment, 1, appointment * 10));
    EXPECT_EQ(r.status.outcome, c.outcome) << r.status.error;
    EXPECT_FALSE(r.booking);
    EXPECT_FALSE(r.status.error.empty());
    EXPECT_EQ(tagged(appointment).size(), c.effect ? 1u : 0u);
    ++appointment;
  }

  control("POST", "/_fake/reset", {{"keep_event_types", true}});
  fault("throttle", "POST", {{"retry_after", 7}});
  const auto throttled = client_->create_booking(booking(start));
  EXPECT_EQ(throttled.status.outcome, CalcomOutcome::kThrottled);
  EXPECT_EQ(throttled.status.retry_after, seconds(7));
  fault("unavailable", "GET", {{"retry_after", 3}});
  const auto unavailable = client_->list_bookings(around);
  EXPECT_EQ(unavailable.status.outcome, CalcomOutcome::kThrottled);
  EXPECT_EQ(unavailable.status.retry_after, seconds(3));
  EXPECT_FALSE(unavailable.complete);
  EXPECT_TRUE(fake_bookings().empty());
}

TEST_F(CalcomFakeTest, AHangPastTheTotalTimeoutIsUncertainAndBounded) {
  fault("hang", "POST", {{"delay", 4}});
  const auto t0 = std::chrono::steady_clock::now();
  const auto r = client_->create_booking(booking(future(9)));
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(r.status.outcome, CalcomOutcome::kUncertain) << r.status.error;
  EXPECT_NE(r.status.error.find("timed out"), std::string::npos) << r.status.error;
  EXPECT_LT(took, milliseconds(2000));  // total timeout 1.5 s
  EXPECT_GE(took, milliseconds(1400));
  // The next call works on a new connection; the timed-out one was discarded.
  EXPECT_TRUE(client_->create_booking(booking(future(9))).status.ok());
}

TEST_F(CalcomFakeTest, KeptAliveConnectionsAreReused) {
  for (int i = 0; i < 10; ++i) {
    const auto r = client_->get_booking("nope");
    EXPECT_EQ(r.status.outcome, CalcomOutcome::kNotFound);
  }
  ASSERT_TRUE(client_->create_booking(booking(future(9))).status.ok());
  const HttpClientStats s = http_->stats();
  EXPECT_EQ(s.requests, 11u);
  EXPECT_EQ(s.connections_opened, 1u);
  EXPECT_EQ(s.connections_reused, 10u);
}

TEST_F(CalcomFakeTest, ConcurrentCallsShareOnePool) {
  constexpr int kThreads = 4, kCalls = 8;
  std::atomic<int> not_found{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < kCalls; ++i)
        if (client_->get_booking("nope").status.outcome == CalcomOutcome::kNotFound) ++not_found;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(not_found.load(), kThreads * kCalls);
  const HttpClientStats s = http_->stats();
  EXPECT_EQ(s.requests, static_cast<std::uint64_t>(kThreads * kCalls));
  EXPECT_LE(s.connections_opened, static_cast<std::uint64_t>(kThreads));
}

TEST_F(CalcomFakeTest, ABrokenReusedConnectionResendsOnlyWhatIsSafeToResend) {
  ASSERT_EQ(client_->get_booking("warm-up").status.outcome, CalcomOutcome::kNotFound);
  // A GET that the server drops on a reused connection is sent again on a fresh one.
  fault("drop", "GET");
  const auto got = client_->get_booking("nope");
  EXPECT_EQ(got.status.outcome, CalcomOutcome::kNotFound) << got.status.error;
  EXPECT_EQ(http_->stats().resends, 1u);
  // A POST is not: the server may have acted on it (here it did, with drop_after).
  fault("drop_after", "POST");
  const auto created = client_->create_booking(booking(future(9)));
  EXPECT_EQ(created.status.outcome, CalcomOutcome::kUncertain);
  EXPECT_EQ(http_->stats().resends, 1u);
  EXPECT_EQ(fake_bookings().size(), 1u);  // exactly one, not two
}

TEST_F(CalcomFakeTest, ListsFollowEveryPageAndStopAtTheCap) {
  const Instant first = future(0);
  for (int i = 0; i < 7; ++i)
    ASSERT_TRUE(
        client_->create_booking(booking(first + std::chrono::hours(i), 200 + i, 1, 1)).status.ok());
  ListFilter f;
  f.page_size = 3;
  auto all = client_->list_bookings(f);
  ASSERT_TRUE(all.status.ok()) << all.status.error;
  EXPECT_TRUE(all.complete);
  ASSERT_EQ(all.bookings.size(), 7u);
  for (std::size_t i = 1; i < all.bookings.size(); ++i)
    EXPECT_LT(all.bookings[i - 1].start, all.bookings[i].start);
  f.max_pages = 2;
  auto capped = client_->list_bookings(f);
  EXPECT_TRUE(capped.status.ok());
  EXPECT_FALSE(capped.complete);
  EXPECT_EQ(capped.bookings.size(), 6u);
  ListFilter cancelled;
  cancelled.statuses = {"cancelled"};
  EXPECT_TRUE(client_->list_bookings(cancelled).bookings.empty());
}

TEST_F(CalcomFakeTest, CallDurationsAreRecordedByEndpointAndStatusClass) {
  obs::Registry registry;
  CalcomClientOptions o;
  o.observer = call_duration_observer(registry);
  CalcomClient client(*http_, kKey, o);
  ASSERT_TRUE(client.create_booking(booking(future(9))).status.ok());
  EXPECT_EQ(client.get_booking("nope").status.outcome, CalcomOutcome::kNotFound);
  const std::string text = registry.render();
  EXPECT_NE(text.find("appointd_sync_call_duration_seconds_count{endpoint=\"create\","
                      "status_class=\"2xx\"} 1"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("appointd_sync_call_duration_seconds_count{endpoint=\"get\","
                      "status_class=\"4xx\"} 1"),
            std::string::npos)
      << text;
}

// ---- TLS
// -----------------------------------------------------------------------------------------

namespace {

// A CA, a certificate for localhost/127.0.0.1 and one for another name, made with the openssl
// CLI; and a Python HTTPS server for each of the two (one process, two ports).
class TlsPeer {
 public:
  static std::unique_ptr<TlsPeer> start(std::string& why) {
    auto p = std::unique_ptr<TlsPeer>(new TlsPeer(temp_dir("tls")));
    const std::string d = p->dir_.string();
    const std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    const std::string cmd =
        "cd '" + d + "' && " + "openssl req -x509" + ec + " -keyout ca.key -out ca.pem -days 2 " +
        "-subj /CN=appointd-test-ca -addext basicConstraints=critical,CA:TRUE " +
        "-addext keyUsage=critical,keyCertSign,cRLSign && " +
        "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > good.ext && " +
        "printf 'subjectAltName=DNS:calcom.invalid\\n' > other.ext && " +
        "for n in good other; do openssl req" + ec +
        " -keyout $n.key -out $n.csr -subj /CN=$n && " +
        "openssl x509 -req -in $n.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 " +
        "-extfile $n.ext -out $n.pem || exit 1; done";
    if (std::system(("(" + cmd + ") >/dev/null 2>&1").c_str()) != 0) {
      why = "openssl could not make test certificates";
      return nullptr;
    }
    std::ofstream(p->dir_ / "server.py") << R"(import http.server, ssl, sys, threading
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 0.4  # an idle kept-alive connection is closed after 0.4 s
    def do_GET(self):
        body = b"tls ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
class S(http.server.ThreadingHTTPServer):
    daemon_threads = True
    def handle_error(self, request, address):
        pass
def serve(cert, key):
    srv = S(("127.0.0.1", 0), H)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv.server_address[1]
good = serve(sys.argv[1] + "/good.pem", sys.argv[1] + "/good.key")
other = serve(sys.argv[1] + "/other.pem", sys.argv[1] + "/other.key")
print(f"listening {good} {other}", flush=True)
threading.Event().wait()
)";
    std::string line;
    p->server_ = Child::start({"python3", (p->dir_ / "server.py").string(), d}, "listening ", line);
    if (!p->server_) {
      why = "could not start python3 with ssl";
      return nullptr;
    }
    std::istringstream in(line.substr(std::string("listening ").size()));
    in >> p->good_port_ >> p->other_port_;
    return p;
  }
  ~TlsPeer() {
    server_.reset();
    fs::remove_all(dir_);
  }

  std::string ca() const { return (dir_ / "ca.pem").string(); }
  int good_port() const { return good_port_; }
  int other_port() const { return other_port_; }

 private:
  explicit TlsPeer(fs::path dir) : dir_(std::move(dir)) {}
  fs::path dir_;
  std::unique_ptr<Child> server_;
  int good_port_ = 0;
  int other_port_ = 0;
};

}  // namespace

TEST(HttpClientTls, VerifiesTheChainAndTheHostName) {
  std::string why;
  auto peer = TlsPeer::start(why);
  if (!peer) GTEST_SKIP() << why;
  HttpClientOptions with_ca;
  with_ca.ca_file = peer->ca();

  // The right CA: verified, answered, and the connection kept for the next call.
  auto good = make_client("https://localhost:" + std::to_string(peer->good_port()), with_ca);
  for (int i = 0; i < 2; ++i) {
    const HttpResult r = good->request("GET", "/");
    ASSERT_EQ(r.kind, HttpResultKind::kOk) << r.error;
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "tls ok");
  }
  EXPECT_EQ(good->stats().connections_opened, 1u);
  // The server closes the idle connection; the pool notices before sending on it.
  std::this_thread::sleep_for(milliseconds(900));
  const HttpResult after_idle = good->request("GET", "/");
  EXPECT_EQ(after_idle.kind, HttpResultKind::kOk) << after_idle.error;
  EXPECT_FALSE(after_idle.reused_connection);
  EXPECT_EQ(good->stats().stale_discarded, 1u);
  EXPECT_EQ(good->stats().connections_opened, 2u);

  // An address literal is checked against the certificate's IP addresses.
  auto by_ip = make_client("https://127.0.0.1:" + std::to_string(peer->good_port()), with_ca);
  const HttpResult ip = by_ip->request("GET", "/");
  EXPECT_EQ(ip.kind, HttpResultKind::kOk) << ip.error;

  // The system store does not know the test CA.
  auto system = make_client("https://localhost:" + std::to_string(peer->good_port()));
  const HttpResult untrusted = system->request("GET", "/");
  EXPECT_EQ(untrusted.kind, HttpResultKind::kConnectFailed);
  EXPECT_NE(untrusted.error.find("TLS certificate verification failed for localhost: "),
            std::string::npos)
      << untrusted.error;
  EXPECT_NE(untrusted.error.find("local issuer"), std::string::npos) << untrusted.error;

  // A certificate the right CA issued for another name.
  auto other = make_client("https://localhost:" + std::to_string(peer->other_port()), with_ca);
  const HttpResult mismatch = other->request("GET", "/");
  EXPECT_EQ(mismatch.kind, HttpResultKind::kConnectFailed);
  EXPECT_NE(mismatch.error.find("hostname mismatch"), std::string::npos) << mismatch.error;
  CalcomClient client(*other, kKey);
  EXPECT_EQ(client.get_booking("x").status.outcome, CalcomOutcome::kUnreachable);
}
