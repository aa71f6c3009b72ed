#include "domain/zone.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>
#include <unordered_set>

namespace appointd {

namespace {

// The canonical names: those of the Zone lines ("Z Europe/Berlin ...") of the system tzdata's
// compact source, read once. On Debian every link ("US/Eastern", "UTC") is a symlink that the
// OS tz database loads as a zone of that name, so the tz database alone cannot tell them apart.
// Empty when the file is missing.
const std::unordered_set<std::string>& canonical_zone_names() {
  static const std::unordered_set<std::string> names = [] {
    std::unordered_set<std::string> out;
    std::ifstream in("/usr/share/zoneinfo/tzdata.zi");
    std::string line;
    while (std::getline(in, line))
      if (line.size() > 2 && line[0] == 'Z' && line[1] == ' ')
        out.insert(line.substr(2, line.find(' ', 2) - 2));
    return out;
  }();
  return names;
}

}  // namespace

bool is_valid_time_zone(std::string_view name) {
  // Canonical IANA names only: a link ("US/Eastern"), a system file ("localtime",
  // "posixrules") or another spelling names no zone of its own. "UTC" is the one link
  // accepted, being what everybody writes.
  const Zone* z = find_zone(name);
  if (z == nullptr) return false;
  if (name == "UTC") return true;
  const auto& canonical = canonical_zone_names();
  if (!canonical.empty()) return canonical.count(std::string(name)) > 0;
  return z->name() == name;  // without tzdata.zi: at least the links the tz database knows
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
