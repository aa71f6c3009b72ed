// Appointments: book, read, list, cancel, reschedule, history.
#include "booking/appointments.h"
#include "booking/attempt.h"
#include "booking/customers.h"
#include "booking/holds.h"
#include "http/app.h"
#include "http/codec.h"
#include "http/decode.h"
#include "http/read_routes.h"

namespace appointd::http {
namespace {

using nlohmann::json;

// Counts booking outcomes by the stable code of the answer ("ok" for a 2xx).
std::function<void(const Response&)> outcome_counter(Env& env, const char* op) {
  // The registry outlives the store whose threads run this (see cli/serve.cpp); the App
  // (and its Env) may not, at shutdown.
  return [metrics = &env.metrics, op](const Response& r) {
    const std::string& outcome = r.status < 400   ? std::string("ok")
                                 : r.code.empty() ? std::string("error")
                                                  : r.code;
    metrics
        ->counter("appointd_booking_outcomes_total", "Outcomes of booking use cases",
                  {{"op", op}, {"outcome", outcome}})
        .inc();
  };
}

Response encode(Result<Appointment> r, int status) {
  return respond(std::move(r), status, [](const Appointment& a) { return to_json(a); });
}

void book(Env& env, const CtxPtr& c) {
  auto body = body_object(c);
  if (!body) return;
  Decoder d(*body);
  booking::Book cmd;
  cmd.company_id = c->company();
  cmd.customer_id = d.opt_id("customer_id");
  cmd.customer = d.opt_customer("customer");
  if (!cmd.customer_id && !cmd.customer && d.ok())
    d.fail("customer", "customer or customer_id is required");
  if (cmd.customer_id && cmd.customer) d.fail("customer", "give customer or customer_id, not both");
  cmd.segments = d.segments("segments");
  cmd.notes = d.opt_str("notes", 2000).value_or("");
  cmd.source = d.opt_str("source", 32).value_or("api");
  cmd.hold_id = d.opt_id("hold_id");
  const bool hold_alts = d.opt_bool("hold_alternatives").value_or(false);
  cmd.disjoint_alternatives = hold_alts;
  const int hold_ttl = static_cast<int>(
      d.opt_int("hold_ttl_seconds", 1, booking::kMaxHoldTtl).value_or(booking::kDefaultHoldTtl));
  const std::string hold_owner = d.opt_str("hold_owner").value_or("");
  cmd.now = c->now;
  if (!d.ok()) return c->send(d.problem());
  if (cmd.customer)
    if (auto e = booking::normalize_customer(*cmd.customer, c->country, env.phones))
      return c->send(problem(*e));
  write(
      env, c,
      [cmd, hold_alts, hold_ttl, hold_owner](store::WriteTx& tx) {
        auto r = booking::attempt(tx, [&] { return booking::book(tx, cmd); });
        // The booking's savepoint is rolled back by now: the holds of its alternatives are
        // written after it, still inside this write transaction.
        if (hold_alts && !r.ok() && r.error().slot)
          booking::hold_alternatives(tx, cmd.company_id, r.error().slot->alternatives, hold_ttl,
                                     hold_owner, cmd.now);
        return encode(std::move(r), 201);
      },
      outcome_counter(env, "book"));
}

void cancel(Env& env, const CtxPtr& c) {
  auto id = path_id(c, "id");
  if (!id) return;
  auto body = c->req.body.empty() ? std::optional<json>(json::object()) : body_object(c);
  if (!body) return;
  Decoder d(*body);
  booking::Cancel cmd;
  cmd.company_id = c->company();
  cmd.appointment_id = *id;
  cmd.expected_version = d.opt_int("expected_version", 1, INT64_MAX);
  cmd.reason = d.opt_str("reason", 2000).value_or("");
  cmd.now = c->now;
  if (!d.ok()) return c->send(d.problem());
  write(
      env, c,
      [cmd](store::WriteTx& tx) {
        return encode(booking::attempt(tx, [&] { return booking::cancel(tx, cmd); }), 200);
      },
      outcome_counter(env, "cancel"));
}

void reschedule(Env& env, const CtxPtr& c) {
  auto id = path_id(c, "id");
  if (!id) return;
  auto body = body_object(c);
  if (!body) return;
  Decoder d(*body);
  booking::Reschedule cmd;
  cmd.company_id = c->company();
  cmd.appointment_id = *id;
  cmd.expected_version = d.opt_int("expected_version", 1, INT64_MAX);
  cmd.start = d.opt_instant("start");
  if (d.has("segments")) cmd.segments = d.segments("segments");
  if (d.ok() && cmd.start.has_value() == cmd.segments.has_value())
    d.fail("start", "give either start or segments");
  cmd.now = c->now;
  if (!d.ok()) return c->send(d.problem());
  write(
      env, c,
      [cmd](store::WriteTx& tx) {
        return encode(booking::attempt(tx, [&] { return booking::reschedule(tx, cmd); }), 200);
      },
      outcome_counter(env, "reschedule"));
}

void list(Env& env, const CtxPtr& c) {
  store::AppointmentFilter f;
  json errors = json::array();
  auto q = [&](const char* k) -> const std::string* {
    auto it = c->query.find(k);
    return it == c->query.end() || it->second.empty() ? nullptr : &it->second;
  };
  if (auto v = q("staff_id")) {
    f.staff_id = parse_positive_id(*v);
    if (!f.staff_id)
      errors.push_back({{"field", "staff_id"}, {"message", "must be a positive integer"}});
  }
  std::optional<Instant> from, to;
  for (auto [k, out] : {std::pair{"from", &from}, std::pair{"to", &to}}) {
    if (auto v = q(k)) {
      *out = parse_rfc3339(*v);
      if (!*out) errors.push_back({{"field", k}, {"message", kInstantRule}});
    }
  }
  if (from || to) {
    f.window = Interval{from.value_or(Instant{}), to.value_or(from_unix(253402300799))};
    if (from && to && *to <= *from)
      errors.push_back({{"field", "to"}, {"message", "must be after from"}});
  }
  if (auto v = q("status")) {
    if (auto st = parse_appointment_status(*v))
      f.status = *st;
    else
      errors.push_back({{"field", "status"}, {"message", "must be booked, cancelled or conflict"}});
  }
  if (auto v = q("limit")) {
    if (v->size() < 4 && v->find_first_not_of("0123456789") == std::string::npos &&
        std::stoi(*v) >= 1 && std::stoi(*v) <= 500)
      f.limit = std::stoi(*v);
    else
      errors.push_back({{"field", "limit"}, {"message", "must be between 1 and 500"}});
  }
  if (!errors.empty()) return c->send(validation_problem(errors));
  json j;
  env.store.read([&](store::ReadTx& tx) { j = items(tx.appointments(c->company(), f)); });
  c->send(json_response(200, j));
}

void events(Env& env, const CtxPtr& c) {
  auto id = path_id(c, "id");
  if (!id) return;
  bool found = false;
  json j;
  env.store.read([&](store::ReadTx& tx) {
    if (!tx.appointment(c->company(), *id)) return;
    found = true;
    j = items(tx.events(c->company(), *id));
  });
  if (!found) return c->send(problem(Error::not_found("appointment")));
  c->send(json_response(200, j));
}

}  // namespace

void appointment_routes(std::vector<RouteDef>& out) {
  out.push_back({"POST", "/v1/appointments", book, Access::kCompany, true});
  out.push_back({"GET", "/v1/appointments", list, Access::kCompany});
  // GET /v1/appointments/{id} is in routes_sync.cpp: it carries the sync state.
  out.push_back({"POST", "/v1/appointments/{id}/cancel", cancel, Access::kCompany, true});
  out.push_back({"POST", "/v1/appointments/{id}/reschedule", reschedule, Access::kCompany, true});
  out.push_back({"GET", "/v1/appointments/{id}/events", events, Access::kCompany});
}

}  // namespace appointd::http
