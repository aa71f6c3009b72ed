#pragma once
// Instants are UTC seconds since the epoch. The domain never reads a clock: `now` is passed in.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace appointd {

using Instant = std::chrono::sys_seconds;
using Seconds = std::chrono::seconds;
using Minutes = std::chrono::minutes;

// The instants appointd accepts: [1970-01-01T00:00:00Z, 9000-01-01T00:00:00Z). Each of them
// formats as an RFC 3339 string with a four-digit year that parses back to itself.
inline constexpr std::int64_t kMinUnix = 0;
inline constexpr std::int64_t kMaxUnix = 221845392000;  // 9000-01-01T00:00:00Z, excluded
inline constexpr const char* kInstantRule =
    "must be an RFC 3339 date-time with offset between 1970 and 9000, e.g. 2026-12-01T09:00:00Z";

// Parses an RFC 3339 date-time with a `Z` or `±HH:MM` offset ("2026-12-01T09:30:00+01:00").
// Fractional seconds are accepted and truncated. Returns nullopt for anything else, including
// dates that do not exist (Feb 30), a missing offset, and instants outside [kMinUnix, kMaxUnix).
std::optional<Instant> parse_rfc3339(std::string_view s);

// Formats as "YYYY-MM-DDTHH:MM:SSZ".
std::string format_rfc3339(Instant t);

inline std::int64_t to_unix(Instant t) {
  return t.time_since_epoch().count();
}
inline Instant from_unix(std::int64_t s) {
  return Instant{Seconds{s}};
}

// The source of `now` for the layers that need one; tests pass a fake.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual Instant now() const = 0;
};

class SystemClock final : public Clock {
 public:
  Instant now() const override;
};

}  // namespace appointd
