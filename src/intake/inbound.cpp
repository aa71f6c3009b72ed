#include "intake/inbound.h"

#include "intake/functions.h"
#include "intake/resolve.h"

namespace appointd::intake {

using nlohmann::json;

json inbound_reply(store::ReadTx& tx, const Route& route, const InboundRequest& in, Instant now,
                   PhoneNormalizer& phones) {
  RetellCall call;
  call.agent_id = in.agent_id;
  call.from_number = in.from_number;
  call.to_number = in.to_number;
  const Zone* zone = find_zone(route.branch.timezone);
  if (!zone) zone = find_zone("UTC");
  const Language l = route.settings.language;
  const Id company = route.company.id;
  std::string hidden = "true", caller;
  if (!is_hidden_number(in.from_number)) {
    hidden = "false";
    if (auto e164 = phones.normalize(in.from_number, route.company.country)) caller = *e164;
  }
  const Catalog cat = load_catalog(tx, company);
  std::vector<std::string> services;
  for (const auto& sv : cat.services) {
    bool offered = false;
    for (const auto& st : cat.staff)
      offered |= st.active && st.branch_id == route.branch.id &&
                 std::binary_search(st.service_ids.begin(), st.service_ids.end(), sv.id);
    if (offered) services.push_back(sv.name + " (" + spoken_duration(l, sv.duration_minutes) + ")");
  }
  std::optional<Customer> cu;
  if (!caller.empty()) cu = tx.customer_by_phone(company, caller);
  std::string next, next_id;
  if (cu) {
    auto up = tx.upcoming_appointments(company, cu->id, now, 1);
    if (!up.empty()) {
      const Segment& first = up.front().segments.front();
      const Service* sv = cat.service_by_id(first.service_id);
      next = fill(say(l, "{0}, {1} with {2}", "{0}, {1} bei {2}"),
                  {spoken_date_time(l, zone->to_local(first.time.from)), sv ? sv->name : "",
                   cat.staff_name(first.staff_id)});
      next_id = std::to_string(up.front().id);
    }
  }
  const auto local = zone->to_local(now);
  const auto today = date::floor<date::days>(local);
  const date::hh_mm_ss hms{local - today};
  char hhmm[8];
  std::snprintf(hhmm, sizeof hhmm, "%02d:%02d", static_cast<int>(hms.hours().count()),
                static_cast<int>(hms.minutes().count()));
  json vars{{"caller_name", cu ? cu->name : ""},
            {"caller_known", cu ? "true" : "false"},
            {"caller_number_hidden", hidden},
            {"company_name", route.company.name},
            {"branch_name", route.branch.name},
            {"branch_timezone", route.branch.timezone},
            {"today", date::format("%F", today)},
            {"today_spoken", spoken_date(l, today, true)},
            {"now_local", hhmm},
            {"services", spoken_list(l, services)},
            {"next_appointment", next},
            {"next_appointment_id", next_id},
            {"language", to_string(l)}};
  json meta{{"company_id", std::to_string(company)},
            {"branch_id", std::to_string(route.branch.id)},
            {"customer_id", cu ? std::to_string(cu->id) : ""}};
  return {
      {"call_inbound", {{"dynamic_variables", std::move(vars)}, {"metadata", std::move(meta)}}}};
}

}  // namespace appointd::intake
