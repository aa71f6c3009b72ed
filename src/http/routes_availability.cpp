// Availability: GET /v1/availability, POST /v1/availability/composite. Read-only: both run on a
// read snapshot, off the writer thread.
#include "booking/availability.h"
#include "http/app.h"
#include "http/codec.h"
#include "http/decode.h"

namespace appointd::http {
namespace {

using nlohmann::json;

json slot_json(Instant start, Instant end, const Zone* zone) {
  json j = {{"start", format_rfc3339(start)}, {"end", format_rfc3339(end)}};
  if (zone) j["local_start"] = format_local(start, *zone);
  return j;
}

void single(Env& env, const CtxPtr& c) {
  json errors = json::array();
  auto q = [&](const char* k) -> const std::string* {
    auto it = c->query.find(k);
    return it == c->query.end() || it->second.empty() ? nullptr : &it->second;
  };
  auto id = [&](const char* k, bool required) -> std::optional<Id> {
    const std::string* v = q(k);
    if (!v) {
      if (required) errors.push_back({{"field", k}, {"message", "is required"}});
      return std::nullopt;
    }
    if (auto id = parse_positive_id(*v)) return id;
    errors.push_back({{"field", k}, {"message", "must be a positive integer"}});
    return std::nullopt;
  };
  auto instant = [&](const char* k) -> Instant {
    const std::string* v = q(k);
    if (!v) {
      errors.push_back({{"field", k}, {"message", "is required"}});
      return {};
    }
    auto t = parse_rfc3339(*v);
    if (!t) errors.push_back({{"field", k}, {"message", kInstantRule}});
    return t.value_or(Instant{});
  };
  booking::AvailabilityQuery query;
  query.company_id = c->company();
  query.service_id = id("service_id", true).value_or(0);
  query.staff_id = id("staff_id", false);
  query.window = {instant("from"), instant("to")};
  query.now = c->now;
  if (!errors.empty()) return c->send(validation_problem(errors));

  std::optional<Result<booking::Availability>> r;
  env.store.read([&](store::ReadTx& tx) { r = booking::availability(tx, query); });
  if (!r->ok()) return c->send(problem(r->error()));
  const auto& a = r->value();
  const Minutes dur{a.service.duration_minutes};
  json staff = json::array();
  for (const auto& s : a.staff) {
    json slots = json::array();
    for (Instant t : s.starts) slots.push_back(slot_json(t, t + dur, s.zone));
    staff.push_back({{"staff_id", s.staff_id},
                     {"timezone", s.zone ? s.zone->name() : ""},
                     {"scheduled", s.scheduled},
                     {"slots", std::move(slots)}});
  }
  c->send(json_response(200, {{"service_id", a.service.id},
                              {"from", format_rfc3339(query.window.from)},
                              {"to", format_rfc3339(query.window.until)},
                              {"staff", std::move(staff)}}));
}

void composite(Env& env, const CtxPtr& c) {
  auto body = body_object(c);
  if (!body) return;
  Decoder d(*body);
  booking::CompositeQuery query;
  query.company_id = c->company();
  query.window = {d.instant("from"), d.instant("to")};
  query.limit = static_cast<size_t>(
      d.opt_int("limit", 1, static_cast<std::int64_t>(booking::kMaxSequences)).value_or(5));
  query.now = c->now;
  const json* services = body->contains("services") ? &(*body)["services"] : nullptr;
  if (!services || !services->is_array() || services->empty() ||
      services->size() > static_cast<size_t>(kMaxSegments)) {
    d.fail("services", "must be an array of 1 to " + std::to_string(kMaxSegments) + " objects");
  } else {
    for (size_t i = 0; i < services->size(); ++i) {
      const json& s = (*services)[i];
      const std::string p = "services[" + std::to_string(i) + "]";
      if (!s.is_object()) {
        d.fail(p, "must be an object");
        continue;
      }
      Decoder item(s, p + ".");
      booking::CompositeItem it;
      it.service_id = item.id("service_id");
      it.staff_id = item.opt_id("staff_id");
      if (!item.ok())
        for (const auto& e : json::parse(item.problem().body)["errors"])
          d.fail(e["field"].get<std::string>(), e["message"].get<std::string>());
      query.items.push_back(it);
    }
  }
  if (!d.ok()) return c->send(d.problem());

  std::optional<Result<std::vector<booking::CompositeSequence>>> r;
  env.store.read([&](store::ReadTx& tx) { r = booking::composite_availability(tx, query); });
  if (!r->ok()) return c->send(problem(r->error()));
  json seqs = json::array();
  for (const auto& seq : r->value()) {
    json parts = json::array();
    for (const auto& p : seq) {
      json j = slot_json(p.time.from, p.time.until, p.zone);
      j["staff_id"] = p.staff_id;
      j["service_id"] = p.service_id;
      parts.push_back(std::move(j));
    }
    json s = slot_json(seq.front().time.from, seq.back().time.until, seq.front().zone);
    s["segments"] = std::move(parts);
    seqs.push_back(std::move(s));
  }
  c->send(json_response(200, {{"sequences", std::move(seqs)}}));
}

}  // namespace

void availability_routes(std::vector<RouteDef>& out) {
  out.push_back({"GET", "/v1/availability", single, Access::kCompany});
  out.push_back({"POST", "/v1/availability/composite", composite, Access::kCompany});
}

}  // namespace appointd::http
