#include "sync/retry_after.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <string>
#include <vector>

namespace appointd::sync {
namespace {

constexpr std::int64_t kMaxDelaySeconds = 24 * 60 * 60;

constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (std::isdigit(static_cast<unsigned char>(c)) == 0) return false;
  return true;
}

// A number of exactly `width` digits (width 0: one or more), or -1.
int number(std::string_view s, std::size_t width = 0) {
  if (!all_digits(s) || (width != 0 && s.size() != width) || s.size() > 4) return -1;
  int v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

int month_number(std::string_view s) {
  for (std::size_t i = 0; i < kMonths.size(); ++i)
    if (kMonths[i] == s) return static_cast<int>(i) + 1;
  return -1;
}

// "HH:MM:SS" -> seconds of the day, or -1.
int time_of_day(std::string_view s) {
  if (s.size() != 8 || s[2] != ':' || s[5] != ':') return -1;
  const int h = number(s.substr(0, 2), 2), m = number(s.substr(3, 2), 2),
            sec = number(s.substr(6, 2), 2);
  if (h < 0 || h > 23 || m < 0 || m > 59 || sec < 0 || sec > 60) return -1;
  return h * 3600 + m * 60 + std::min(sec, 59);
}

std::optional<Instant> make(int y, int mon, int d, int secs) {
  using namespace std::chrono;
  if (y < 0 || mon < 1 || d < 1 || secs < 0) return std::nullopt;
  const year_month_day ymd{year{y}, month{static_cast<unsigned>(mon)},
                           day{static_cast<unsigned>(d)}};
  if (!ymd.ok()) return std::nullopt;
  return Instant{sys_days{ymd}.time_since_epoch() + seconds{secs}};
}

std::vector<std::string_view> split(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && s[i] == ' ') ++i;
    const std::size_t start = i;
    while (i < s.size() && s[i] != ' ') ++i;
    if (i > start) out.push_back(s.substr(start, i - start));
  }
  return out;
}

}  // namespace

std::optional<Instant> parse_http_date(std::string_view value) {
  const auto f = split(trim(value));
  // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
  if (f.size() == 6 && f[0].size() == 4 && f[0].back() == ',' && f[5] == "GMT")
    return make(number(f[3], 4), month_number(f[2]), number(f[1], 2), time_of_day(f[4]));
  // RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT" (two-digit years: 70..99 -> 19xx, else 20xx)
  if (f.size() == 4 && f[0].back() == ',' && f[3] == "GMT" && f[1].size() == 9 && f[1][2] == '-' &&
      f[1][6] == '-') {
    int y = number(f[1].substr(7, 2), 2);
    if (y < 0) return std::nullopt;
    y += y >= 70 ? 1900 : 2000;
    return make(y, month_number(f[1].substr(3, 3)), number(f[1].substr(0, 2), 2),
                time_of_day(f[2]));
  }
  // asctime: "Sun Nov  6 08:49:37 1994"
  if (f.size() == 5 && f[0].size() == 3)
    return make(number(f[4], 4), month_number(f[1]), number(f[2]), time_of_day(f[3]));
  return std::nullopt;
}

std::optional<std::chrono::seconds> parse_retry_after(std::string_view value, Instant now) {
  value = trim(value);
  if (all_digits(value)) {
    // Long runs of digits saturate instead of overflowing.
    if (value.size() > 9) return std::chrono::seconds{kMaxDelaySeconds};
    std::int64_t v = 0;
    std::from_chars(value.data(), value.data() + value.size(), v);
    return std::chrono::seconds{std::min(v, kMaxDelaySeconds)};
  }
  const auto at = parse_http_date(value);
  if (!at) return std::nullopt;
  const auto delay = (*at - now).count();
  return std::chrono::seconds{std::clamp<std::int64_t>(delay, 0, kMaxDelaySeconds)};
}

}  // namespace appointd::sync
