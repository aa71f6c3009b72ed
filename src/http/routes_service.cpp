// GET /healthz, /readyz, /metrics, /v1/openapi.json: unauthenticated, cheap, never touching the
// write path.
#include "http/app.h"
#include "http/openapi.h"

namespace appointd::http {
namespace {

void healthz(Env&, const CtxPtr& c) {
  c->send(json_response(200, {{"status", "ok"}}));
}

void readyz(Env& env, const CtxPtr& c) {
  bool ok = false;
  try {
    ok = env.store.ready();
  } catch (...) {
  }
  if (ok) return c->send(json_response(200, {{"status", "ready"}, {"store", env.store.backend()}}));
  Response r = problem(503, "unavailable", "Unavailable", "the store is not reachable");
  r.headers.push_back({"Retry-After", "1"});
  c->send(std::move(r));
}

void metrics(Env& env, const CtxPtr& c) {
  Response r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = env.metrics.render();
  c->send(std::move(r));
}

void openapi(Env&, const CtxPtr& c) {
  Response r;
  r.content_type = "application/json";
  r.body = kOpenApiJson;
  c->send(std::move(r));
}

}  // namespace

void service_routes(std::vector<RouteDef>& out) {
  out.push_back({"GET", "/healthz", healthz, Access::kPublic});
  out.push_back({"GET", "/readyz", readyz, Access::kPublic});
  out.push_back({"GET", "/metrics", metrics, Access::kPublic});
  out.push_back({"GET", "/v1/openapi.json", openapi, Access::kPublic});
}

}  // namespace appointd::http
