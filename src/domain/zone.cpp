#include "domain/zone.h"

#include <date/tz.h>

#include <stdexcept>
#include <string>

namespace appointd {

bool is_valid_time_zone(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  try {
    return date::locate_zone(std::string(name)) != nullptr;
  } catch (const std::runtime_error&) {
    return false;
  }
}

}  // namespace appointd
