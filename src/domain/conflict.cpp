#include "domain/conflict.h"

#include "domain/time.h"

namespace appointd {

using nlohmann::json;

json segment_json(const Segment& s) {
  return {{"staff_id", s.staff_id},
          {"service_id", s.service_id},
          {"start", format_rfc3339(s.time.from)},
          {"end", format_rfc3339(s.time.until)}};
}

json alternative_json(const SlotConflict::Alternative& a) {
  json j = segment_json(a.segments.front());
  json parts = json::array();
  for (const auto& s : a.segments) parts.push_back(segment_json(s));
  j["segments"] = std::move(parts);
  if (a.hold_id) {
    j["hold_id"] = a.hold_id;
    j["expires_at"] = format_rfc3339(a.expires_at);
  }
  return j;
}

void add_to_problem(const SlotConflict& c, json& extra) {
  json conflicts = json::array();
  for (const auto& i : c.conflicts)
    conflicts.push_back({{"segment_index", i.segment_index},
                         {"staff_id", i.block.staff_id},
                         {"kind", i.block.kind == Block::kHold ? "hold" : "appointment"},
                         {"blocked_from", format_rfc3339(i.block.blocked.from)},
                         {"blocked_until", format_rfc3339(i.block.blocked.until)}});
  json alts = json::array();
  for (const auto& a : c.alternatives) alts.push_back(alternative_json(a));
  extra["conflicts"] = std::move(conflicts);
  extra["alternatives"] = std::move(alts);
}

}  // namespace appointd
