#include "domain/conflict.h"

#include <charconv>

#include "domain/time.h"

namespace appointd {

nlohmann::json segment_json(const Segment& s) {
  return {{"staff_id", s.staff_id},
          {"service_id", s.service_id},
          {"start", format_rfc3339(s.time.from)},
          {"end", format_rfc3339(s.time.until)}};
}

namespace {

void number(std::string& out, std::int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

// `"name":` then the value; every name and fixed text here is plain ASCII without escapes.
void key(std::string& out, const char* name) {
  out += '"';
  out += name;
  out += "\":";
}

void instant(std::string& out, const char* name, Instant t) {
  key(out, name);
  out += '"';
  out += format_rfc3339(t);
  out += '"';
}

void segment_members(std::string& out, const Segment& s) {
  key(out, "staff_id");
  number(out, s.staff_id);
  out += ',';
  key(out, "service_id");
  number(out, s.service_id);
  out += ',';
  instant(out, "start", s.time.from);
  out += ',';
  instant(out, "end", s.time.until);
}

}  // namespace

void append_members(const SlotConflict& c, std::string& out) {
  key(out, "conflicts");
  out += '[';
  for (size_t i = 0; i < c.conflicts.size(); ++i) {
    const auto& item = c.conflicts[i];
    if (i) out += ',';
    out += '{';
    key(out, "segment_index");
    number(out, static_cast<std::int64_t>(item.segment_index));
    out += ',';
    key(out, "staff_id");
    number(out, item.block.staff_id);
    out += ',';
    key(out, "kind");
    out += item.block.kind == Block::kHold ? "\"hold\"," : "\"appointment\",";
    instant(out, "blocked_from", item.block.blocked.from);
    out += ',';
    instant(out, "blocked_until", item.block.blocked.until);
    out += '}';
  }
  out += "],";
  key(out, "alternatives");
  out += '[';
  for (size_t i = 0; i < c.alternatives.size(); ++i) {
    const auto& a = c.alternatives[i];
    if (i) out += ',';
    out += '{';
    segment_members(out, a.segments.front());
    out += ',';
    key(out, "segments");
    out += '[';
    for (size_t k = 0; k < a.segments.size(); ++k) {
      if (k) out += ',';
      out += '{';
      segment_members(out, a.segments[k]);
      out += '}';
    }
    out += ']';
    if (a.hold_id) {
      out += ',';
      key(out, "hold_id");
      number(out, a.hold_id);
      out += ',';
      instant(out, "expires_at", a.expires_at);
    }
    out += '}';
  }
  out += ']';
}

}  // namespace appointd
