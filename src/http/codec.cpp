#include "http/codec.h"

#include <cstdio>

#include "domain/schedule.h"

namespace appointd::http {

using nlohmann::json;

json to_json(const Company& c) {
  return {{"id", c.id},
          {"name", c.name},
          {"timezone", c.timezone},
          {"country", c.country},
          {"slot_step_minutes", c.settings.slot_step_minutes},
          {"min_notice_minutes", c.settings.min_notice_minutes},
          {"horizon_days", c.settings.horizon_days},
          {"created_at", format_rfc3339(c.created_at)}};
}

json to_json(const Branch& b) {
  return {{"id", b.id},
          {"name", b.name},
          {"timezone", b.timezone},
          {"phone", b.phone},
          {"created_at", format_rfc3339(b.created_at)}};
}

json to_json(const Service& s) {
  return {{"id", s.id},
          {"name", s.name},
          {"duration_minutes", s.duration_minutes},
          {"buffer_before_minutes", s.buffer_before_minutes},
          {"buffer_after_minutes", s.buffer_after_minutes},
          {"created_at", format_rfc3339(s.created_at)}};
}

json to_json(const Staff& s) {
  return {{"id", s.id},
          {"name", s.name},
          {"email", s.email},
          {"branch_id", s.branch_id},
          {"service_ids", s.service_ids},
          {"active", s.active},
          {"created_at", format_rfc3339(s.created_at)}};
}

json to_json(const Customer& c) {
  return {{"id", c.id},       {"phone", c.phone},   {"name", c.name},
          {"email", c.email}, {"source", c.source}, {"created_at", format_rfc3339(c.created_at)}};
}

json to_json(const Appointment& a) {
  // A booked appointment's segments are active; a cancelled one keeps the times it had.
  json segs = json::array();
  for (const auto& s : a.segments) {
    segs.push_back({{"id", s.id},
                    {"staff_id", s.staff_id},
                    {"service_id", s.service_id},
                    {"start", format_rfc3339(s.time.from)},
                    {"end", format_rfc3339(s.time.until)}});
  }
  return {{"id", a.id},
          {"status", to_string(a.status)},
          {"version", a.version},
          {"customer_id", a.customer_id},
          {"branch_id", a.branch_id},
          {"source", a.source},
          {"needs_attention", a.needs_attention},
          {"notes", a.notes},
          {"call_id", a.call_id.empty() ? json() : json(a.call_id)},
          {"segments", std::move(segs)},
          {"created_at", format_rfc3339(a.created_at)},
          {"updated_at", format_rfc3339(a.updated_at)}};
}

json to_json(const Event& e) {
  json payload = json::parse(e.payload, nullptr, false);
  if (payload.is_discarded()) payload = e.payload;
  return {{"id", e.id},
          {"kind", e.kind},
          {"payload", std::move(payload)},
          {"created_at", format_rfc3339(e.created_at)}};
}

json to_json(const TimeOff& t) {
  return {{"id", t.id},
          {"staff_id", t.staff_id},
          {"starts_at", format_rfc3339(t.time.from)},
          {"ends_at", format_rfc3339(t.time.until)},
          {"reason", t.reason}};
}

json to_json(const Hold& h) {
  return {{"id", h.id},
          {"staff_id", h.staff_id},
          {"service_id", h.service_id},
          {"start", format_rfc3339(h.time.from)},
          {"end", format_rfc3339(h.time.until)},
          {"expires_at", format_rfc3339(h.expires_at)},
          {"owner", h.owner}};
}

json weekly_hours_json(const std::vector<WorkingHours>& hours) {
  auto hhmm = [](int m) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%02d:%02d", m / 60 % 100, m % 60);
    return std::string(buf);
  };
  json out = json::object();
  for (const char* d : kWeekdayNames) out[d] = json::array();
  for (const auto& h : hours)
    if (h.weekday >= 0 && h.weekday < 7)
      out[kWeekdayNames[h.weekday]].push_back({hhmm(h.start_minute), hhmm(h.end_minute)});
  return out;
}

}  // namespace appointd::http
