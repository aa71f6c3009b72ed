// Scheduling rules: company settings (PATCH /v1/company), staff working hours and time off.
#include "booking/attempt.h"
#include "booking/schedule.h"
#include "http/app.h"
#include "http/codec.h"
#include "http/decode.h"

namespace appointd::http {
namespace {

using nlohmann::json;

Response no_content() {
  Response r;
  r.status = 204;
  return r;
}

void patch_company(Env& env, const CtxPtr& c) {
  auto body = body_object(c);
  if (!body) return;
  Decoder d(*body);
  booking::UpdateSettings cmd;
  cmd.company_id = c->company();
  // Ranges are domain rules (check_settings); here only the type.
  auto opt = [&](const char* f) -> std::optional<int> {
    auto v = d.opt_int(f, INT32_MIN, INT32_MAX);
    return v ? std::optional<int>(static_cast<int>(*v)) : std::nullopt;
  };
  cmd.slot_step_minutes = opt("slot_step_minutes");
  cmd.min_notice_minutes = opt("min_notice_minutes");
  cmd.horizon_days = opt("horizon_days");
  for (const auto& [k, v] : body->items())
    if (k != "slot_step_minutes" && k != "min_notice_minutes" && k != "horizon_days")
      d.fail(k, "cannot be changed here");
  if (!d.ok()) return c->send(d.problem());
  write(env, c, [cmd](store::WriteTx& tx) {
    auto r = booking::attempt(tx, [&] { return booking::update_settings(tx, cmd); });
    return respond(r, 200, [](const Company& co) { return to_json(co); });
  });
}

void get_hours(Env& env, const CtxPtr& c) {
  auto id = path_id(c, "id");
  if (!id) return;
  std::optional<std::vector<WorkingHours>> hours;
  env.store.read([&](store::ReadTx& tx) {
    if (tx.staff(c->company(), *id)) hours = tx.working_hours(c->company(), *id);
  });
  if (!hours) return c->send(problem(Error::not_found("staff")));
  c->send(json_response(200, weekly_hours_json(*hours)));
}

void put_hours(Env& env, const CtxPtr& c) {
  auto id = path_id(c, "id");
  if (!id) return;
  auto body = body_object(c);
  if (!body) return;
  Decoder d(*body);
  booking::SetWorkingHours cmd{c->company(), *id, d.weekly_hours()};
  if (!d.ok()) return c->send(d.problem());
  write(env, c, [cmd](store::WriteTx& tx) {
    auto r = booking::attempt(tx, [&] { return booking::set_working_hours(tx, cmd); });
    return respond(r, 200, [](const std::vector<WorkingHours>& h) { return weekly_hours_json(h); });
  });
}

void add_time_off(Env& env, const CtxPtr& c) {
  auto id = path_id(c, "id");
  if (!id) return;
  auto body = body_object(c);
  if (!body) return;
  Decoder d(*body);
  booking::AddTimeOff cmd;
  cmd.company_id = c->company();
  cmd.staff_id = *id;
  cmd.time = {d.instant("starts_at"), d.instant("ends_at")};
  cmd.reason = d.opt_str("reason", 500).value_or("");
  if (!d.ok()) return c->send(d.problem());
  write(env, c, [cmd](store::WriteTx& tx) {
    auto r = booking::attempt(tx, [&] { return booking::add_time_off(tx, cmd); });
    return respond(r, 201, [](const TimeOff& t) { return to_json(t); });
  });
}

void list_time_off(Env& env, const CtxPtr& c) {
  auto id = path_id(c, "id");
  if (!id) return;
  Instant after{};
  if (auto it = c->query.find("from"); it != c->query.end() && !it->second.empty()) {
    auto t = parse_rfc3339(it->second);
    if (!t)
      return c->send(problem(
          422, "validation_failed", "Validation failed", std::string("from: ") + kInstantRule,
          {{"errors", json::array({{{"field", "from"}, {"message", kInstantRule}}})}}));
    after = *t;
  }
  std::optional<json> j;
  env.store.read([&](store::ReadTx& tx) {
    if (tx.staff(c->company(), *id)) j = items(tx.time_off(c->company(), *id, after, 500));
  });
  if (!j) return c->send(problem(Error::not_found("staff")));
  c->send(json_response(200, *j));
}

void delete_time_off(Env& env, const CtxPtr& c) {
  auto id = path_id(c, "id");
  if (!id) return;
  auto tid = path_id(c, "tid");
  if (!tid) return;
  const Id company = c->company();
  write(env, c, [company, staff = *id, t = *tid](store::WriteTx& tx) {
    auto r = booking::attempt(tx, [&] { return booking::remove_time_off(tx, company, staff, t); });
    return r.ok() ? no_content() : problem(r.error());
  });
}

}  // namespace

void schedule_routes(std::vector<RouteDef>& out) {
  out.push_back({"PATCH", "/v1/company", patch_company, Access::kCompany});
  out.push_back({"GET", "/v1/staff/{id}/working-hours", get_hours, Access::kCompany});
  out.push_back({"PUT", "/v1/staff/{id}/working-hours", put_hours, Access::kCompany});
  out.push_back({"POST", "/v1/staff/{id}/time-off", add_time_off, Access::kCompany});
  out.push_back({"GET", "/v1/staff/{id}/time-off", list_time_off, Access::kCompany});
  out.push_back({"DELETE", "/v1/staff/{id}/time-off/{tid}", delete_time_off, Access::kCompany});
}

}  // namespace appointd::http
