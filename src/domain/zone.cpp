#include "domain/zone.h"

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace appointd {

bool is_valid_time_zone(std::string_view name) {
  return find_zone(name) != nullptr;
}

const Zone* find_zone(std::string_view name) {
  if (name.empty() || name.size() > 64) return nullptr;
  try {
    return date::locate_zone(name);
  } catch (const std::runtime_error&) {
    return nullptr;
  }
}

Instant local_to_utc(const Zone& zone, date::local_seconds local, bool earliest) {
  return zone.to_sys(local, earliest ? date::choose::earliest : date::choose::latest);
}

std::string format_local(Instant t, const Zone& zone) {
  const auto info = zone.get_info(t);
  const Instant shifted = t + info.offset;  // the wall clock, as if it were UTC
  std::string s = format_rfc3339(shifted);
  s.pop_back();  // the 'Z'
  const long off = static_cast<long>(info.offset.count());
  const long a = std::labs(off);
  char buf[24];
  std::snprintf(buf, sizeof buf, "%c%02ld:%02ld", off < 0 ? '-' : '+', a / 3600 % 100, a / 60 % 60);
  return s + buf;
}

}  // namespace appointd
