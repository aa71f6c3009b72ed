// PUT /v1/customers (upsert by phone), GET /v1/customers?phone=, GET /v1/customers/{id}.
#include "booking/attempt.h"
#include "booking/customers.h"
#include "http/app.h"
#include "http/codec.h"
#include "http/decode.h"
#include "http/read_routes.h"

namespace appointd::http {
namespace {

void upsert(Env& env, const CtxPtr& c) {
  auto body = body_object(c);
  if (!body) return;
  Decoder d(*body);
  booking::UpsertCustomer cmd;
  cmd.company_id = c->company();
  cmd.customer.phone = d.str("phone", 64);
  cmd.customer.name = d.opt_str("name").value_or("");
  cmd.customer.email = d.opt_str("email").value_or("");
  cmd.source = d.opt_str("source", 32).value_or("api");
  cmd.now = c->now;
  if (!d.ok()) return c->send(d.problem());
  if (auto e = booking::normalize_customer(cmd.customer, c->country, env.phones))
    return c->send(problem(*e));
  write(env, c, [cmd](store::WriteTx& tx) {
    auto r = booking::attempt(tx, [&] { return booking::upsert_customer(tx, cmd); });
    if (!r) return problem(r.error());
    return json_response(r->created ? 201 : 200, to_json(r->customer));
  });
}

void find_by_phone(Env& env, const CtxPtr& c) {
  auto it = c->query.find("phone");
  if (it == c->query.end() || it->second.empty())
    return c->send(problem(422, "validation_failed", "Validation failed", "phone: is required",
                           {{"errors", {{{"field", "phone"}, {"message", "is required"}}}}}));
  booking::CustomerInput in{it->second, "", "", false};
  if (auto e = booking::normalize_customer(in, c->country, env.phones)) return c->send(problem(*e));
  std::optional<Customer> cu;
  env.store.read([&](store::ReadTx& tx) { cu = tx.customer_by_phone(c->company(), in.phone); });
  if (!cu) return c->send(problem(Error::not_found("customer")));
  c->send(json_response(200, to_json(*cu)));
}

}  // namespace

void customer_routes(std::vector<RouteDef>& out) {
  out.push_back({"PUT", "/v1/customers", upsert, Access::kCompany});
  out.push_back({"GET", "/v1/customers", find_by_phone, Access::kCompany});
  out.push_back({"GET", "/v1/customers/{id}", get_one<&store::ReadTx::customer>, Access::kCompany});
}

}  // namespace appointd::http
