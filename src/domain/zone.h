#pragma once
// IANA time zones, via Howard Hinnant's date/tz over the system tzdata (read-only).
#include <string_view>

namespace appointd {

// True when `name` is a zone of the system tz database ("Europe/Berlin"). Thread-safe.
bool is_valid_time_zone(std::string_view name);

}  // namespace appointd
