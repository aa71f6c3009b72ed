#include "intake/resolve.h"

#include <algorithm>
#include <map>

#include "booking/availability.h"
#include "domain/conflict.h"

namespace appointd::intake {
namespace {

using nlohmann::json;

bool all_digits(const std::string& s) {
  return !s.empty() && s.size() < 19 && s.find_first_not_of("0123456789") == std::string::npos;
}

// The index of the candidate a query means, or the Reply that says why there is none.
template <class T, class NameOf>
std::variant<std::size_t, Reply> pick(const CallScope& s, const std::vector<T>& items,
                                      NameOf name_of, const std::string& query, bool service) {
  if (all_digits(query))
    for (std::size_t i = 0; i < items.size(); ++i)
      if (std::to_string(items[i].id) == query) return i;
  std::vector<std::string> names;
  for (const auto& it : items) names.push_back(name_of(it));
  const NameMatch m = match_name(query, names);
  if (m.found) return *m.found;
  Reply r;
  r.booked = false;
  const Language l = s.lang;
  if (!m.ambiguous.empty()) {
    std::vector<std::string> options;
    for (std::size_t i : m.ambiguous) options.push_back(names[i]);
    r.result = fill(say(l, "Which one do you mean: {0}?", "Welche meinen Sie: {0}?"),
                    {spoken_list(l, options, true)});
    r.error = service ? "service_ambiguous" : "staff_ambiguous";
    return r;
  }
  if (m.suggestion) {
    r.result = fill(service ? say(l, "I could not find the service \"{0}\". Did you mean {1}?",
                                  "Die Leistung \"{0}\" habe ich nicht gefunden. Meinen Sie {1}?")
                            : say(l, "I could not find \"{0}\" on the team. Did you mean {1}?",
                                  "\"{0}\" habe ich im Team nicht gefunden. Meinen Sie {1}?"),
                    {query, names[*m.suggestion]});
  } else {
    r.result =
        fill(service ? say(l, "I could not find the service \"{0}\". We offer {1}.",
                           "Die Leistung \"{0}\" habe ich nicht gefunden. Wir bieten {1} an.")
                     : say(l, "I could not find \"{0}\" on the team here: {1}.",
                           "\"{0}\" habe ich hier im Team nicht gefunden: {1}."),
             {query, spoken_list(l, names)});
  }
  r.error = service ? "service_not_found" : "staff_not_found";
  return r;
}

}  // namespace

std::string arg_text(const json& args, const char* key) {
  auto it = args.find(key);
  if (it == args.end() || it->is_null()) return "";
  std::string v;
  if (it->is_string())
    v = it->get<std::string>();
  else if (it->is_number_integer() || it->is_number_unsigned())
    v = std::to_string(it->get<std::int64_t>());
  else
    return "";
  const auto b = v.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  const auto e = v.find_last_not_of(" \t\r\n");
  return v.substr(b, e - b + 1);
}

std::variant<Service, Reply> resolve_service(const CallScope& s, const Catalog& cat,
                                             const json& args) {
  const std::string q = arg_text(args, "service");
  if (q.empty()) {
    std::vector<std::string> names;
    for (const auto& sv : cat.services) names.push_back(sv.name);
    Reply r;
    r.booked = false;
    r.result = fill(say(s.lang, "Which service would you like? We offer {0}.",
                        "Welche Leistung möchten Sie? Wir bieten {0} an."),
                    {spoken_list(s.lang, names)});
    r.error = "service_missing";
    return r;
  }
  auto p = pick(
      s, cat.services, [](const Service& sv) { return sv.name; }, q, true);
  if (auto* r = std::get_if<Reply>(&p)) return std::move(*r);
  return cat.services[std::get<std::size_t>(p)];
}

std::vector<Id> branch_staff(const CallScope& s, const Catalog& cat, Id service_id) {
  std::vector<Id> out;
  for (const auto& st : cat.staff)
    if (st.active && st.branch_id == s.route.branch.id &&
        std::binary_search(st.service_ids.begin(), st.service_ids.end(), service_id))
      out.push_back(st.id);
  return out;
}

std::variant<std::optional<Staff>, Reply> resolve_staff(const CallScope& s, const Catalog& cat,
                                                        const json& args, const Service& service) {
  const std::string q = arg_text(args, "staff");
  if (q.empty()) return std::optional<Staff>{};
  std::vector<Staff> team;
  for (const auto& st : cat.staff)
    if (st.active && st.branch_id == s.route.branch.id) team.push_back(st);
  auto p = pick(
      s, team, [](const Staff& st) { return st.name; }, q, false);
  if (auto* r = std::get_if<Reply>(&p)) return std::move(*r);
  const Staff& st = team[std::get<std::size_t>(p)];
  if (!std::binary_search(st.service_ids.begin(), st.service_ids.end(), service.id)) {
    Reply r;
    r.booked = false;
    r.result = fill(say(s.lang, "{0} does not do {1}.", "{0} bietet {1} nicht an."),
                    {st.name, service.name});
    r.error = "staff_cannot_do_service";
    return r;
  }
  return std::optional<Staff>{st};
}

namespace {

// start -> the lowest staff id of `staff` free then; nullopt when the window holds more starts
// than one availability answer carries.
std::optional<std::map<Instant, Id>> free_starts(store::ReadTx& tx, const CallScope& s,
                                                 Id service_id, const std::vector<Id>& staff,
                                                 Interval window, std::optional<PartOfDay> part) {
  booking::AvailabilityQuery q;
  q.company_id = s.route.company.id;
  q.service_id = service_id;
  if (staff.size() == 1)
    q.staff_id = staff.front();
  else
    q.among = staff;  // the branch's: other branches' calendars are not loaded
  q.window = window;
  q.now = s.now;
  auto a = booking::availability(tx, q);
  if (!a) {
    if (a.error().code == ErrorCode::kTooManySlots) return std::nullopt;
    return std::map<Instant, Id>{};
  }
  std::map<Instant, Id> first;
  for (const auto& ss : a->staff) {
    if (!std::binary_search(staff.begin(), staff.end(), ss.staff_id)) continue;
    for (Instant t : ss.starts) {
      if (part && !in_part_of_day(*part, s.zone->to_local(t))) continue;
      auto [it, fresh] = first.emplace(t, ss.staff_id);
      if (!fresh) it->second = std::min(it->second, ss.staff_id);
    }
  }
  return first;
}

}  // namespace

std::vector<Offer> free_offers(store::ReadTx& tx, const CallScope& s, const Catalog& cat,
                               Id service_id, const std::vector<Id>& staff, Interval window,
                               std::optional<PartOfDay> part, std::size_t k, bool first_day_only) {
  if (staff.empty() || window.until <= window.from) return {};
  auto found = free_starts(tx, s, service_id, staff, window, part);
  // A range too busy to list at once: day by day, up to the first day with free starts.
  for (Instant from = window.from; !found && from < window.until; from += Seconds{86400}) {
    found = free_starts(tx, s, service_id, staff,
                        {from, std::min(window.until, from + Seconds{86400})}, part);
    if (found && found->empty()) found.reset();
  }
  if (!found || found->empty()) return {};
  std::map<Instant, Id>& first = *found;
  if (first_day_only) {
    const auto day = date::floor<date::days>(s.zone->to_local(first.begin()->first));
    std::erase_if(first, [&](const auto& e) {
      return date::floor<date::days>(s.zone->to_local(e.first)) != day;
    });
  }
  std::vector<Instant> starts;
  for (const auto& [t, st] : first) starts.push_back(t);
  std::vector<Offer> out;
  for (Instant t : spread(starts, k))
    out.push_back({t, spoken_at(s.lang, *s.zone, t), first[t], cat.staff_name(first[t]), 0});
  return out;
}

Reply error_reply(const CallScope& s, const Error& e, Instant start) {
  const Language l = s.lang;
  const std::string when = spoken_at(l, *s.zone, start);
  Reply r;
  r.booked = false;
  r.error = code_name(e.code);
  switch (e.code) {
    case ErrorCode::kOutsideWorkingHours:
      r.result = fill(say(l, "On {0} nobody is working here. Shall I look for another time?",
                          "Am {0} arbeitet hier leider niemand. Soll ich eine andere Zeit suchen?"),
                      {when});
      break;
    case ErrorCode::kStaffTimeOff:
      r.result = fill(say(l, "On {0} that person is away. Shall I look for another time?",
                          "Am {0} ist die Person leider nicht da. Soll ich eine andere Zeit "
                          "suchen?"),
                      {when});
      break;
    case ErrorCode::kTooSoon:
      r.result = fill(say(l, "{0} is too soon to book. Shall I look for a later time?",
                          "{0} ist leider zu kurzfristig. Soll ich eine spätere Zeit suchen?"),
                      {when});
      break;
    case ErrorCode::kBeyondHorizon:
      r.result = fill(say(l, "{0} is too far ahead; we do not take bookings that far out yet.",
                          "{0} liegt zu weit in der Zukunft; so weit im Voraus buchen wir noch "
                          "nicht."),
                      {when});
      break;
    case ErrorCode::kSlotUnavailable:
      r.result = fill(say(l,
                          "{0} is no longer free, and I found nothing close to it. Shall I "
                          "look on another day?",
                          "{0} ist leider nicht mehr frei, und in der Nähe ist auch nichts frei. "
                          "Soll ich an einem anderen Tag suchen?"),
                      {when});
      break;
    case ErrorCode::kInvalidPhone:
      r.result = std::string(say(l,
                                 "That phone number does not seem to be valid. Could you say it "
                                 "again?",
                                 "Diese Telefonnummer scheint nicht gültig zu sein. Können Sie sie "
                                 "bitte noch einmal sagen?"));
      break;
    case ErrorCode::kNotFound:
      r.result = std::string(say(l, "I could not find that appointment.",
                                 "Diesen Termin habe ich leider nicht gefunden."));
      r.error = "no_appointment";
      break;
    case ErrorCode::kConflict:
      r.result = std::string(
          say(l, "That appointment is already cancelled.", "Dieser Termin ist bereits abgesagt."));
      r.error = "already_cancelled";
      break;
    default:
      r.result = std::string(say(l, "I could not do that: ", "Das hat leider nicht geklappt: ")) +
                 e.detail + ".";
      break;
  }
  return r;
}

std::vector<Offer> offers_of(const CallScope& s, const Catalog& cat,
                             const std::vector<SlotConflict::Alternative>& alts) {
  std::vector<Offer> out;
  for (const auto& a : alts) {
    if (a.segments.empty()) continue;
    const Segment& first = a.segments.front();
    out.push_back({first.time.from, spoken_at(s.lang, *s.zone, first.time.from), first.staff_id,
                   cat.staff_name(first.staff_id), a.hold_id});
  }
  return out;
}

std::string spoken_offers(const CallScope& s, const std::vector<Offer>& offers,
                          std::optional<Instant> day_of) {
  std::optional<date::local_days> day;
  if (day_of) day = date::floor<date::days>(s.zone->to_local(*day_of));
  bool one_person = true;
  for (const auto& o : offers) one_person &= o.staff_id == offers.front().staff_id;
  std::vector<std::string> items;
  for (const auto& o : offers) {
    const auto local = s.zone->to_local(o.start);
    std::string item =
        day && date::floor<date::days>(local) == *day ? spoken_time(s.lang, local) : o.local_time;
    if (!one_person && !o.staff_name.empty())
      item += std::string(say(s.lang, " with ", " bei ")) + o.staff_name;
    items.push_back(std::move(item));
  }
  return spoken_list(s.lang, items, true);
}

}  // namespace appointd::intake
