#include "intake/reply.h"

#include "domain/text.h"

namespace appointd::intake {

using nlohmann::json;

json to_json(const Reply& r) {
  json j{{"result", r.result}};
  if (r.booked) j["booked"] = *r.booked;
  if (r.cancelled) j["cancelled"] = *r.cancelled;
  if (r.appointment_id) j["appointment_id"] = r.appointment_id;
  if (r.start) j["start"] = format_rfc3339(*r.start);
  if (!r.local_time.empty()) j["local_time"] = r.local_time;
  if (!r.alternatives.empty()) {
    json alts = json::array();
    for (const auto& o : r.alternatives) {
      json a{{"start", format_rfc3339(o.start)}, {"local_time", o.local_time}};
      if (o.staff_id) a["staff_id"] = o.staff_id;
      if (!o.staff_name.empty()) a["staff_name"] = o.staff_name;
      if (o.hold_id) a["hold_id"] = o.hold_id;
      alts.push_back(std::move(a));
    }
    j["alternatives"] = std::move(alts);
  }
  if (!r.appointments.empty()) {
    json list = json::array();
    for (const auto& a : r.appointments)
      list.push_back({{"appointment_id", a.appointment_id},
                      {"start", format_rfc3339(a.start)},
                      {"local_time", a.local_time},
                      {"service", a.service},
                      {"staff_name", a.staff_name}});
    j["appointments"] = std::move(list);
  }
  if (!r.error.empty()) j["error"] = r.error;
  return j;
}

std::string render(const Reply& r) {
  Reply cut = r;
  for (;;) {
    std::string text = to_json(cut).dump(-1, ' ', false, json::error_handler_t::replace);
    if (utf8_length(text) <= kMaxReplyChars) return text;
    // Halving keeps this a few passes whatever the length (lists are short in practice).
    if (!cut.appointments.empty()) {
      cut.appointments.resize(cut.appointments.size() / 2);
    } else if (!cut.alternatives.empty()) {
      cut.alternatives.resize(cut.alternatives.size() / 2);
    } else {
      // Only an absurdly long sentence is left: shorten it at a character boundary.
      std::string& s = cut.result;
      std::size_t keep = s.size() > 1000 ? s.size() - 1000 : 0;
      while (keep > 0 && (static_cast<unsigned char>(s[keep]) & 0xC0) == 0x80) --keep;
      s.resize(keep);
    }
  }
}

std::string spoken_at(Language l, const Zone& zone, Instant t) {
  return spoken_date_time(l, zone.to_local(t));
}

std::string fill(std::string_view pattern, const std::vector<std::string>& args) {
  std::string out;
  out.reserve(pattern.size() + 64);
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '{' && i + 2 < pattern.size() && pattern[i + 2] == '}' &&
        pattern[i + 1] >= '0' && pattern[i + 1] <= '9') {
      const auto k = static_cast<std::size_t>(pattern[i + 1] - '0');
      if (k < args.size()) out += args[k];
      i += 2;
      continue;
    }
    out += pattern[i];
  }
  return out;
}

}  // namespace appointd::intake
