// Slot holds: POST /v1/holds, GET and DELETE /v1/holds/{id}.
#include "booking/attempt.h"
#include "booking/holds.h"
#include "http/app.h"
#include "http/codec.h"
#include "http/decode.h"
#include "http/read_routes.h"

namespace appointd::http {
namespace {

void create(Env& env, const CtxPtr& c) {
  auto body = body_object(c);
  if (!body) return;
  Decoder d(*body);
  booking::CreateHold cmd;
  cmd.company_id = c->company();
  cmd.staff_id = d.id("staff_id");
  cmd.service_id = d.id("service_id");
  cmd.start = d.instant("start");
  cmd.ttl_seconds = static_cast<int>(
      d.opt_int("ttl_seconds", 1, booking::kMaxHoldTtl).value_or(booking::kDefaultHoldTtl));
  cmd.owner = d.opt_str("owner").value_or("");
  cmd.now = c->now;
  if (!d.ok()) return c->send(d.problem());
  write(env, c, [cmd](store::WriteTx& tx) {
    auto r = booking::attempt(tx, [&] { return booking::create_hold(tx, cmd); });
    return respond(r, 201, [](const Hold& h) { return to_json(h); });
  });
}

void release(Env& env, const CtxPtr& c) {
  auto id = path_id(c, "id");
  if (!id) return;
  const Id company = c->company();
  write(env, c, [company, hold = *id](store::WriteTx& tx) {
    auto r = booking::attempt(tx, [&] { return booking::release_hold(tx, company, hold); });
    if (!r.ok()) return problem(r.error());
    Response ok;
    ok.status = 204;
    return ok;
  });
}

}  // namespace

void hold_routes(std::vector<RouteDef>& out) {
  out.push_back({"POST", "/v1/holds", create, Access::kCompany, true});
  out.push_back({"GET", "/v1/holds/{id}", get_one<&store::ReadTx::hold>, Access::kCompany});
  out.push_back({"DELETE", "/v1/holds/{id}", release, Access::kCompany, true});
}

}  // namespace appointd::http
