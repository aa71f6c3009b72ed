#include "http/app.h"

#include <array>
#include <chrono>

#include "domain/hash.h"
#include "http/decode.h"
#include "obs/log.h"

namespace appointd::http {

using nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

// A route with its metrics. The series are created on first use, so /metrics lists only the
// routes and status classes that were answered (its size follows the traffic's variety, which
// the route table bounds, not its volume); labels come from the route table only.
struct App::RouteEntry {
  RouteDef def;
  obs::Registry* metrics = nullptr;
  std::array<std::atomic<obs::Counter*>, 5> requests{};  // by status class 1xx..5xx
  std::atomic<obs::Histogram*> latency{nullptr};

  void record(int status, double seconds) {
    static const char* kClasses[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
    const int cls = std::clamp(status / 100, 1, 5) - 1;
    obs::Counter* c = requests[cls].load(std::memory_order_acquire);
    if (!c) {  // racing creators get the same series from the registry
      c = &metrics->counter(
          "appointd_http_requests_total", "HTTP requests by route and status class",
          {{"route", def.pattern}, {"method", def.method}, {"status", kClasses[cls]}});
      requests[cls].store(c, std::memory_order_release);
    }
    c->inc();
    obs::Histogram* h = latency.load(std::memory_order_acquire);
    if (!h) {
      h = &metrics->histogram("appointd_http_request_duration_seconds",
                              "HTTP request latency by route", obs::latency_buckets(),
                              {{"route", def.pattern}, {"method", def.method}});
      latency.store(h, std::memory_order_release);
    }
    h->observe(seconds);
  }
};

namespace {

std::shared_ptr<App::RouteEntry> make_entry(obs::Registry& m, const RouteDef& d) {
  auto e = std::make_shared<App::RouteEntry>();
  e->def = d;
  e->metrics = &m;
  return e;
}

// 503 for a store that cannot serve right now (database gone, pool exhausted, retries spent):
// nothing was changed, and the same request may succeed shortly.
Response unavailable() {
  Response r = problem(503, "unavailable", "Unavailable",
                       "the database is not available right now; nothing was changed, retry later");
  r.headers.push_back({"Retry-After", "1"});
  return r;
}

Response outcome_unknown() {
  Response r = problem(
      503, "outcome_unknown", "Outcome unknown",
      "the database stopped answering while this change was being committed, so it may or may "
      "not have been saved; retry with the same Idempotency-Key to get the real outcome (without "
      "one, look the change up before retrying)");
  r.headers.push_back({"Retry-After", "2"});
  return r;
}

Response too_many_connections() {
  Response r = problem(503, "too_many_connections", "Too many connections",
                       "the server is at its connection limit (in all or for your address); "
                       "retry shortly");
  r.headers.push_back({"Retry-After", "1"});
  return r;
}

bool valid_idempotency_key(std::string_view k) {
  if (k.empty() || k.size() > 255) return false;
  for (char ch : k)
    if (ch < 0x21 || ch > 0x7e) return false;
  return true;
}

}  // namespace

void Ctx::send(Response r) {
  if (replied) return;
  replied = true;
  reply(std::move(r));
}

std::vector<RouteDef> all_routes() {
  std::vector<RouteDef> defs;
  service_routes(defs);
  catalog_routes(defs);
  customer_routes(defs);
  appointment_routes(defs);
  schedule_routes(defs);
  availability_routes(defs);
  hold_routes(defs);
  sync_routes(defs);
  retell_routes(defs);
  return defs;
}

App::App(Env env, bool metrics_on_ops_only, int workers)
    : env_(env), metrics_on_ops_only_(metrics_on_ops_only), workers_(workers) {
  for (const auto& d : all_routes()) router_.add(d.method, d.pattern, make_entry(env_.metrics, d));
  unmatched_ = make_entry(env_.metrics, {"*", "unmatched", nullptr, Access::kPublic});
}

App::~App() = default;

namespace {

bool is_service_route(const RouteDef& d) {
  return d.access == Access::kPublic;  // /healthz, /readyz, /metrics
}

}  // namespace

std::optional<Response> App::route(Ctx& c, std::shared_ptr<RouteEntry>& entry) const {
  if (!parse_target(c.req.target, c.path, c.query))
    return problem(400, "bad_request", "Bad request",
                   "broken percent-encoding or a repeated query parameter in the target");
  auto m = router_.match(c.req.method, c.path);
  if (!m.target) {
    if (c.req.channel == Channel::kOverCap) return too_many_connections();
    if (m.path_known)
      return problem(405, "method_not_allowed", "Method not allowed",
                     c.req.method + " is not allowed on " + c.path);
    return problem(404, "not_found", "Not found", "no route for " + c.path);
  }
  entry = *m.target;
  c.params = std::move(m.params);
  const RouteDef& def = entry->def;
  const bool service = is_service_route(def);
  switch (c.req.channel) {
    case Channel::kOverCap:
      if (!service) return too_many_connections();
      break;
    case Channel::kOps:
      if (!service) return problem(404, "not_found", "Not found", "no route for " + c.path);
      break;
    case Channel::kApi:
      if (metrics_on_ops_only_ && std::string_view(def.pattern) == "/metrics")
        return problem(404, "not_found", "Not found", "metrics are served on --metrics-listen");
      break;
  }
  return std::nullopt;
}

std::optional<Response> App::authenticate(Ctx& c, const RouteDef& def, bool cache_only) {
  if (def.access == Access::kPublic || def.access == Access::kSigned) return std::nullopt;
  auto auth = c.req.header("authorization");
  std::optional<Principal> who;
  if (auth && auth->size() > 7 && strncasecmp(auth->data(), "Bearer ", 7) == 0) {
    const std::string hash = sha256_hex(auth->substr(7));
    if (cache_only) {
      who = auth_.peek(hash);
      if (!who) return std::nullopt;  // undecided: a worker looks it up
    } else {
      who = auth_.find(hash, [&]() -> std::optional<Principal> {
        std::optional<Principal> p;
        env_.store.read([&](store::ReadTx& tx) {
          auto k = tx.api_key_by_hash(hash);
          if (!k) return;
          std::string country;
          if (k->company_id) {
            auto co = tx.company(k->company_id);
            if (!co) return;
            country = co->country;
          }
          p = Principal{*k, country};
        });
        return p;
      });
    }
  }
  if (!who)
    return problem(401, "unauthorized", "Unauthorized",
                   "a valid Authorization: Bearer <key> header is required");
  const bool platform = who->key.role == KeyRole::kPlatform;
  if (def.access == Access::kPlatform && !platform)
    return problem(403, "forbidden", "Forbidden", "this needs a platform key");
  if (def.access == Access::kCompany && platform)
    return problem(403, "forbidden", "Forbidden", "this needs a company key");
  c.key = who->key;
  c.country = who->country;
  return std::nullopt;
}

std::optional<Response> App::admit(const Request& head) {
  Ctx c;
  c.req = head;
  std::shared_ptr<RouteEntry> entry = unmatched_;
  try {
    if (auto answer = route(c, entry)) return answer;
    // Authenticated before 100 Continue invites the body (test_hostile finding 3). A key the
    // cache does not know is read here, on the I/O thread: the one store read left there.
    return authenticate(c, entry->def);
  } catch (const std::exception& e) {
    obs::log_warn("could not vet a request head",
                  "\"request_id\":\"" + obs::json_escape(head.request_id) + "\",\"error\":\"" +
                      obs::json_escape(e.what()) + "\"");
    return unavailable();
  }
}

void App::handle(Request&& req, Reply reply) {
  auto c = std::make_shared<Ctx>();
  c->now = env_.clock.now();
  const auto started = SteadyClock::now();
  c->req = std::move(req);

  std::shared_ptr<RouteEntry> entry = unmatched_;
  std::optional<Response> early = route(*c, entry);
  // Count and time every answer under its route, whichever thread completes it.
  c->reply = [entry, started, reply = std::move(reply)](Response r) mutable {
    entry->record(r.status, std::chrono::duration<double>(SteadyClock::now() - started).count());
    reply(std::move(r));
  };
  if (early) return c->send(std::move(*early));
  if (runs_inline(*c, entry->def)) return run(c, entry->def, true);
  workers_.post([this, c, entry] { run(c, entry->def, false); });
}

bool App::runs_inline(Ctx& c, const RouteDef& def) {
  if (is_service_route(def)) return true;
  if (!def.queues_only) return false;
  // Authenticated from the cache, or by a worker (which may read the key).
  auto refused = authenticate(c, def, true);
  return !refused && c.key.id != 0;
}

void App::run(const CtxPtr& c, const RouteDef& def, bool authenticated) {
  try {
    if (!authenticated)
      if (auto refused = authenticate(*c, def)) return c->send(std::move(*refused));
    def.fn(env_, c);
  } catch (const store::StoreUnavailable& e) {
    obs::log_warn("store unavailable", "\"request_id\":\"" + obs::json_escape(c->req.request_id) +
                                           "\",\"error\":\"" + obs::json_escape(e.what()) + "\"");
    c->send(unavailable());
  } catch (const std::exception& e) {
    obs::log_error("request failed", "\"request_id\":\"" + obs::json_escape(c->req.request_id) +
                                         "\",\"error\":\"" + obs::json_escape(e.what()) + "\"");
    c->send(problem(500, "internal_error", "Internal error",
                    "the request failed; see the server log for request " + c->req.request_id));
  }
}

Response json_response(int status, const json& body) {
  Response r;
  r.status = status;
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return r;
}

std::optional<json> body_object(const CtxPtr& c) {
  Response err;
  auto j = parse_object(c->req.body, &err);
  if (!j) c->send(std::move(err));
  return j;
}

std::optional<Id> path_id(const CtxPtr& c, const char* name) {
  auto it = c->params.find(name);
  if (it != c->params.end())
    if (auto id = parse_positive_id(it->second)) return *id;
  c->send(problem(404, "not_found", "Not found", "no such resource: " + c->path));
  return std::nullopt;
}

void write(Env& env, const CtxPtr& c, std::function<Response(store::WriteTx&)> fn,
           std::function<void(const Response&)> observe) {
  std::optional<std::string> key;
  std::string fingerprint;
  // Only for requests with an API key: a signed webhook has no key scope to keep its outcomes
  // in (every provider's would share one); its own deduplication is its route's.
  auto k = c->key.id ? c->req.header("idempotency-key") : std::nullopt;
  if (k) {
    if (!valid_idempotency_key(*k))
      return c->send(problem(
          422, "validation_failed", "Validation failed",
          "Idempotency-Key must be 1 to 255 printable ASCII characters",
          {{"errors", json::array({{{"field", "Idempotency-Key"}, {"message", "invalid"}}})}}));
    key = std::string(*k);
    // Semantic comparison: the parsed body re-serialised (object keys sorted).
    json body = json::parse(c->req.body, nullptr, false);
    fingerprint = sha256_hex(c->req.method + " " + c->path + "\n" +
                             (body.is_discarded() ? c->req.body : body.dump()));
  }
  auto result = std::make_shared<Response>();
  const Id company = c->idempotency_scope();
  const Instant now = c->now;
  env.store.write(
      [result, key, fingerprint, company, now, fn = std::move(fn)](store::WriteTx& tx) {
        if (key) {
          if (auto prior = tx.idempotency(company, *key)) {
            if (prior->fingerprint != fingerprint) {
              *result = problem(422, "idempotency_key_reused", "Idempotency key reused",
                                "this Idempotency-Key was used with a different request");
              return;
            }
            Response r;
            r.status = prior->status;
            r.body = prior->body;
            if (r.status >= 400) r.content_type = "application/problem+json";
            r.headers.push_back({"Idempotent-Replayed", "true"});
            *result = std::move(r);
            return;
          }
        }
        *result = fn(tx);
        if (key && result->status < 500) {
          result->finish();  // the stored outcome needs its bytes now
          tx.store_idempotency(
              company, *key,
              {fingerprint, result->status, result->replay_body.value_or(result->body)}, now);
        }
      },
      [c, result, observe = std::move(observe)](std::exception_ptr e) {
        if (!e) {
          if (observe) observe(*result);
          return c->send(std::move(*result));
        }
        std::string what = "unknown";
        bool retry_later = false;
        bool unknown = false;
        try {
          std::rethrow_exception(e);
        } catch (const store::OutcomeUnknown& ex) {
          what = ex.what();
          unknown = true;
        } catch (const store::StoreUnavailable& ex) {
          what = ex.what();
          retry_later = true;
        } catch (const std::exception& ex) {
          what = ex.what();
        } catch (...) {
        }
        obs::log_error("write failed", "\"request_id\":\"" + obs::json_escape(c->req.request_id) +
                                           "\",\"error\":\"" + obs::json_escape(what) + "\"");
        // It may have committed: only a retry with its key (or a look) can tell.
        if (unknown) return c->send(outcome_unknown());
        // Nothing was committed and the store expects to recover: the client may retry.
        if (retry_later) return c->send(unavailable());
        c->send(problem(
            500, "internal_error", "Internal error",
            "the change was not saved; see the server log for request " + c->req.request_id));
      });
}

}  // namespace appointd::http
