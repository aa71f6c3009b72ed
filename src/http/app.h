#pragma once
// The application behind the HTTP server: routing, authentication, per-route metrics, and the
// write path with idempotency. Handlers are thin: decode, call one use case, encode.
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "domain/error.h"
#include "domain/model.h"
#include "domain/phone.h"
#include "domain/time.h"
#include "http/auth_cache.h"
#include "http/message.h"
#include "http/router.h"
#include "http/work_pool.h"
#include "obs/metrics.h"
#include "store/store.h"

namespace appointd::http {}  // namespace appointd::http
namespace appointd::sync {
class Engine;
}
namespace appointd::http {

struct Env {
  store::Store& store;
  const Clock& clock;
  obs::Registry& metrics;
  PhoneNormalizer& phones;
  sync::Engine* sync = nullptr;  // the calendar sync; null: its routes answer 503
};

// One request in flight. Shared by the handler and the write completion.
struct Ctx {
  Request req;
  Reply reply;
  std::string path;
  Params params;  // path captures
  std::map<std::string, std::string, std::less<>> query;
  ApiKey key;           // the authenticated key (company_id 0 for platform keys)
  std::string country;  // the company's (default region of its phone numbers)
  Instant now{};
  bool replied = false;

  Id company() const { return key.company_id; }
  // Whose Idempotency-Keys a request's key shares: its company's, or for a platform key (no
  // company) the key's own, as -key id, so two platform keys never replay each other.
  Id idempotency_scope() const { return key.company_id ? key.company_id : -key.id; }
  void send(Response r);
};
using CtxPtr = std::shared_ptr<Ctx>;

// kPublic: the service routes (health, readiness, metrics), also on the operations listener;
// kSigned: a provider's webhook, which checks its own signature (no API key).
enum class Access { kPublic, kSigned, kPlatform, kCompany };
using RouteFn = void (*)(Env&, const CtxPtr&);
struct RouteDef {
  const char* method;
  const char* pattern;
  RouteFn fn;
  Access access;
  // The handler never reads the store: it decodes and queues a write (store::Store::write), so
  // it may run on the I/O thread when its key is authenticated from the cache. Saves the hop to
  // a worker on the hot write routes (about a tenth of a booking's CPU, measured).
  bool queues_only = false;
};

class App {
 public:
  // metrics_on_ops_only: /metrics is served on the operations listener only (Channel::kOps).
  // workers: the threads that run every handler but the service routes' (/healthz, /readyz,
  // /metrics, which stay on the I/O thread that read the request: they never touch the
  // database), so that no I/O thread waits on the database.
  explicit App(Env env, bool metrics_on_ops_only = false, int workers = 4);
  ~App();
  // The http::Handler: thread-safe.
  void handle(Request&& req, Reply reply);
  // The http::Admit: routes and authenticates a head that waits for 100 Continue; the answer
  // that refuses it, or nullopt. Thread-safe.
  std::optional<Response> admit(const Request& head);

  struct RouteEntry;  // a route with its metrics

 private:
  // Parses the target and finds the route (entry, c.path, c.query, c.params), applying the
  // channel's rules; the answer that ends the request, or nullopt.
  std::optional<Response> route(Ctx& c, std::shared_ptr<RouteEntry>& entry) const;
  // Checks the key a route needs (c.key, c.country); the refusal, or nullopt. With
  // `cache_only` a key the cache does not know is neither refused nor accepted (nullopt, c.key
  // unset): what the I/O thread may decide without waiting on the database.
  std::optional<Response> authenticate(Ctx& c, const RouteDef& def, bool cache_only = false);
  // Runs the route's handler, authenticating first unless `authenticated`.
  void run(const CtxPtr& c, const RouteDef& def, bool authenticated);
  // Whether the route can run on the I/O thread without any wait on the database: a service
  // route, or a queues_only route whose key the cache knows (then authenticated here).
  bool runs_inline(Ctx& c, const RouteDef& def);

  Env env_;
  bool metrics_on_ops_only_;
  AuthCache auth_{std::chrono::seconds(10)};
  Router<std::shared_ptr<RouteEntry>> router_;
  std::shared_ptr<RouteEntry> unmatched_;
  // Last: destroyed first, so its threads finish their handlers while the rest still exists.
  WorkPool workers_;
};

// --- helpers for handlers ---

Response json_response(int status, const nlohmann::json& body);
// The body as a JSON object, or replies 400 malformed_json and returns nullopt.
std::optional<nlohmann::json> body_object(const CtxPtr& c);
// A path parameter as a positive id, or replies 404 and returns nullopt.
std::optional<Id> path_id(const CtxPtr& c, const char* name);

// Runs `fn` as one write on the store's write path. For requests with an Idempotency-Key the
// stored outcome of that key is replayed instead, or recorded together with the change (I4).
// `fn` may run more than once (retrying backends) and must be deterministic over the tx.
// `observe`, if set, sees the final response once (after commit), e.g. to count outcomes.
void write(Env& env, const CtxPtr& c, std::function<Response(store::WriteTx&)> fn,
           std::function<void(const Response&)> observe = {});

// Encodes a use-case result: ok -> `status` with enc(value), error -> problem. The body is
// rendered later (Response::render), off the store's writer thread.
template <class T, class Enc>
Response respond(Result<T> r, int status, Enc enc);

// Route tables, one per resource file.
// Every route the API serves, in matching order (the route tables below, together).
std::vector<RouteDef> all_routes();
void service_routes(std::vector<RouteDef>& out);  // healthz, readyz, metrics, openapi.json
void catalog_routes(std::vector<RouteDef>& out);  // companies, branches, services, staff
void customer_routes(std::vector<RouteDef>& out);
void appointment_routes(std::vector<RouteDef>& out);
void schedule_routes(std::vector<RouteDef>& out);      // settings, working hours, time off
void availability_routes(std::vector<RouteDef>& out);  // availability, composite
void hold_routes(std::vector<RouteDef>& out);
void sync_routes(std::vector<RouteDef>& out);    // integrations, sync jobs, Cal.com webhooks
void retell_routes(std::vector<RouteDef>& out);  // Retell integration, webhooks, calls

}  // namespace appointd::http

#include "http/problem.h"

namespace appointd::http {
template <class T, class Enc>
Response respond(Result<T> r, int status, Enc enc) {
  if (!r.ok()) return deferred_problem(std::move(r.error()));
  Response out;
  out.status = status;
  out.render = [v = std::move(r.value()), enc](Response& self) {
    self.body = enc(v).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  };
  return out;
}
}  // namespace appointd::http
