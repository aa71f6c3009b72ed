// Companies (platform key), branches, services and staff.
#include "booking/attempt.h"
#include "booking/catalog.h"
#include "http/app.h"
#include "http/codec.h"
#include "http/decode.h"
#include "http/read_routes.h"

namespace appointd::http {
namespace {

using nlohmann::json;

void create_company(Env& env, const CtxPtr& c) {
  auto body = body_object(c);
  if (!body) return;
  Decoder d(*body);
  booking::CreateCompany cmd;
  cmd.name = d.str("name");
  cmd.timezone = d.str("timezone", 64);
  cmd.country = d.str("country", 2);
  // Scheduling settings (optional; ranges are checked by the use case).
  auto setting = [&](const char* f, int dflt) {
    return static_cast<int>(d.opt_int(f, INT32_MIN, INT32_MAX).value_or(dflt));
  };
  cmd.settings.slot_step_minutes = setting("slot_step_minutes", 15);
  cmd.settings.min_notice_minutes = setting("min_notice_minutes", 0);
  cmd.settings.horizon_days = setting("horizon_days", 90);
  cmd.now = c->now;
  if (!d.ok()) return c->send(d.problem());
  write(env, c, [cmd](store::WriteTx& tx) {
    auto r = booking::attempt(tx, [&] { return booking::create_company(tx, cmd); });
    if (!r.ok()) return problem(r.error());
    // The key exists in plain text only in this first reply; a replay gets the company and a
    // note instead (the stored outcome never holds the key).
    json j = to_json(r->company);
    json replay = j;
    replay["api_key_note"] =
        "the API key is shown only in the first reply and is not stored; create a new key "
        "with `appointd keys create --company " +
        std::to_string(r->company.id) + "`";
    j["api_key"] = r->api_key;
    Response out = json_response(201, j);
    out.replay_body = replay.dump();
    return out;
  });
}

void get_company(Env& env, const CtxPtr& c) {
  std::optional<Company> co;
  env.store.read([&](store::ReadTx& tx) { co = tx.company(c->company()); });
  if (!co) return c->send(problem(Error::not_found("company")));
  c->send(json_response(200, to_json(*co)));
}

void create_branch(Env& env, const CtxPtr& c) {
  auto body = body_object(c);
  if (!body) return;
  Decoder d(*body);
  booking::CreateBranch cmd;
  cmd.company_id = c->company();
  cmd.name = d.str("name");
  cmd.timezone = d.opt_str("timezone", 64);
  cmd.phone = d.opt_str("phone", 64).value_or("");
  cmd.now = c->now;
  if (!d.ok()) return c->send(d.problem());
  write(env, c, [cmd](store::WriteTx& tx) {
    auto r = booking::attempt(tx, [&] { return booking::create_branch(tx, cmd); });
    return respond(r, 201, [](const Branch& b) { return to_json(b); });
  });
}

void create_service(Env& env, const CtxPtr& c) {
  auto body = body_object(c);
  if (!body) return;
  Decoder d(*body);
  booking::CreateService cmd;
  cmd.company_id = c->company();
  cmd.name = d.str("name");
  // Range rules live in the domain (check_service); here only the type.
  cmd.duration_minutes = static_cast<int>(d.integer("duration_minutes", INT32_MIN, INT32_MAX));
  cmd.buffer_before_minutes =
      static_cast<int>(d.opt_int("buffer_before_minutes", INT32_MIN, INT32_MAX).value_or(0));
  cmd.buffer_after_minutes =
      static_cast<int>(d.opt_int("buffer_after_minutes", INT32_MIN, INT32_MAX).value_or(0));
  cmd.now = c->now;
  if (!d.ok()) return c->send(d.problem());
  write(env, c, [cmd](store::WriteTx& tx) {
    auto r = booking::attempt(tx, [&] { return booking::create_service(tx, cmd); });
    return respond(r, 201, [](const Service& s) { return to_json(s); });
  });
}

void create_staff(Env& env, const CtxPtr& c) {
  auto body = body_object(c);
  if (!body) return;
  Decoder d(*body);
  booking::CreateStaff cmd;
  cmd.company_id = c->company();
  cmd.name = d.str("name");
  cmd.email = d.opt_str("email").value_or("");
  cmd.branch_id = d.id("branch_id");
  cmd.service_ids = d.id_list("service_ids");
  cmd.now = c->now;
  if (!d.ok()) return c->send(d.problem());
  write(env, c, [cmd](store::WriteTx& tx) {
    auto r = booking::attempt(tx, [&] { return booking::create_staff(tx, cmd); });
    return respond(r, 201, [](const Staff& s) { return to_json(s); });
  });
}

}  // namespace

void catalog_routes(std::vector<RouteDef>& out) {
  using store::ReadTx;
  out.push_back({"POST", "/v1/companies", create_company, Access::kPlatform});
  out.push_back({"GET", "/v1/company", get_company, Access::kCompany});
  out.push_back({"POST", "/v1/branches", create_branch, Access::kCompany});
  out.push_back({"GET", "/v1/branches", list_all<&ReadTx::branches>, Access::kCompany});
  out.push_back({"GET", "/v1/branches/{id}", get_one<&ReadTx::branch>, Access::kCompany});
  out.push_back({"POST", "/v1/services", create_service, Access::kCompany});
  out.push_back({"GET", "/v1/services", list_all<&ReadTx::services>, Access::kCompany});
  out.push_back({"GET", "/v1/services/{id}", get_one<&ReadTx::service>, Access::kCompany});
  out.push_back({"POST", "/v1/staff", create_staff, Access::kCompany});
  out.push_back({"GET", "/v1/staff", list_all<&ReadTx::staff_list>, Access::kCompany});
  out.push_back({"GET", "/v1/staff/{id}", get_one<&ReadTx::staff>, Access::kCompany});
}

}  // namespace appointd::http
