#include "http/app.h"

#include <array>
#include <chrono>

#include "domain/hash.h"
#include "http/decode.h"
#include "obs/log.h"

namespace appointd::http {

using nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

struct App::RouteEntry {
  RouteDef def;
  std::array<obs::Counter*, 5> requests{};  // by status class 1xx..5xx
  std::array<obs::Histogram*, 5> latency{};
};

namespace {

std::shared_ptr<App::RouteEntry> make_entry(obs::Registry& m, const RouteDef& d) {
  auto e = std::make_shared<App::RouteEntry>();
  e->def = d;
  static const char* kClasses[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
  for (int i = 0; i < 5; ++i) {
    obs::Labels l{{"route", d.pattern}, {"method", d.method}, {"status", kClasses[i]}};
    e->requests[i] =
        &m.counter("appointd_http_requests_total", "HTTP requests by route and status class", l);
    e->latency[i] =
        &m.histogram("appointd_http_request_duration_seconds",
                     "HTTP request latency by route and status class", obs::latency_buckets(), l);
  }
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

App::App(Env env) : env_(env) {
  std::vector<RouteDef> defs;
  service_routes(defs);
  catalog_routes(defs);
  customer_routes(defs);
  appointment_routes(defs);
  schedule_routes(defs);
  availability_routes(defs);
  hold_routes(defs);
  for (const auto& d : defs) router_.add(d.method, d.pattern, make_entry(env_.metrics, d));
  unmatched_ = make_entry(env_.metrics, {"*", "unmatched", nullptr, Access::kPublic});
}

App::~App() = default;

void App::handle(Request&& req, Reply reply) {
  auto c = std::make_shared<Ctx>();
  c->now = env_.clock.now();
  std::string method = req.method;
  const auto started = SteadyClock::now();
  c->req = std::move(req);

  std::shared_ptr<RouteEntry> entry = unmatched_;
  Router<std::shared_ptr<RouteEntry>>::Match m;
  bool target_ok = parse_target(c->req.target, c->path, c->query);
  if (target_ok) {
    m = router_.match(method, c->path);
    if (m.target) entry = *m.target;
  }
  // Count and time every answer under its route, whichever thread completes it.
  c->reply = [entry, started, reply = std::move(reply)](Response r) mutable {
    int cls = std::clamp(r.status / 100, 1, 5) - 1;
    entry->requests[cls]->inc();
    entry->latency[cls]->observe(
        std::chrono::duration<double>(SteadyClock::now() - started).count());
    reply(std::move(r));
  };

  if (!target_ok)
    return c->send(
        problem(400, "bad_request", "Bad request", "broken percent-encoding in the target"));
  if (!m.target) {
    if (m.path_known)
      return c->send(problem(405, "method_not_allowed", "Method not allowed",
                             method + " is not allowed on " + c->path));
    return c->send(problem(404, "not_found", "Not found", "no route for " + c->path));
  }
  c->params = std::move(m.params);

  try {
    const RouteDef& def = entry->def;
    if (def.access != Access::kPublic) {
      auto auth = c->req.header("authorization");
      std::optional<Principal> who;
      if (auth && auth->size() > 7 && strncasecmp(auth->data(), "Bearer ", 7) == 0) {
        const std::string hash = sha256_hex(auth->substr(7));
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
      if (!who)
        return c->send(problem(401, "unauthorized", "Unauthorized",
                               "a valid Authorization: Bearer <key> header is required"));
      const ApiKey* key = &who->key;
      bool platform = key->role == KeyRole::kPlatform;
      if (def.access == Access::kPlatform && !platform)
        return c->send(problem(403, "forbidden", "Forbidden", "this needs a platform key"));
      if (def.access == Access::kCompany && platform)
        return c->send(problem(403, "forbidden", "Forbidden", "this needs a company key"));
      c->key = *key;
      c->country = who->country;
    }
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
  if (auto k = c->req.header("idempotency-key")) {
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
  const Id company = c->company();
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
          tx.store_idempotency(company, *key, {fingerprint, result->status, result->body}, now);
        }
      },
      [c, result, observe = std::move(observe)](std::exception_ptr e) {
        if (!e) {
          if (observe) observe(*result);
          return c->send(std::move(*result));
        }
        std::string what = "unknown";
        bool retry_later = false;
        try {
          std::rethrow_exception(e);
        } catch (const store::StoreUnavailable& ex) {
          what = ex.what();
          retry_later = true;
        } catch (const std::exception& ex) {
          what = ex.what();
        } catch (...) {
        }
        obs::log_error("write failed", "\"request_id\":\"" + obs::json_escape(c->req.request_id) +
                                           "\",\"error\":\"" + obs::json_escape(what) + "\"");
        // Nothing was committed and the store expects to recover: the client may retry.
        if (retry_later) return c->send(unavailable());
        c->send(problem(
            500, "internal_error", "Internal error",
            "the change was not saved; see the server log for request " + c->req.request_id));
      });
}

}  // namespace appointd::http
