#include "domain/time.h"

#include <date/date.h>

#include <cctype>
#include <cstdio>

namespace appointd {
namespace {

bool digits(std::string_view s, size_t pos, size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
    v = v * 10 + (s[i] - '0');
  }
  out = v;
  return true;
}

}  // namespace

std::optional<Instant> parse_rfc3339(std::string_view s) {
  int y, mo, d, h, mi, se;
  if (!digits(s, 0, 4, y) || s.size() < 20 || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' ||
      !digits(s, 8, 2, d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      !digits(s, 11, 2, h) || s[13] != ':' || !digits(s, 14, 2, mi) || s[16] != ':' ||
      !digits(s, 17, 2, se))
    return std::nullopt;
  size_t p = 19;
  if (p < s.size() && s[p] == '.') {
    ++p;
    size_t start = p;
    while (p < s.size() && std::isdigit(static_cast<unsigned char>(s[p]))) ++p;
    if (p == start || p - start > 9) return std::nullopt;
  }
  if (p >= s.size()) return std::nullopt;
  int offset_min = 0;
  if (s[p] == 'Z' || s[p] == 'z') {
    ++p;
  } else if (s[p] == '+' || s[p] == '-') {
    int oh, om;
    int sign = s[p] == '-' ? -1 : 1;
    if (!digits(s, p + 1, 2, oh) || p + 3 >= s.size() || s[p + 3] != ':' ||
        !digits(s, p + 4, 2, om) || oh > 23 || om > 59)
      return std::nullopt;
    offset_min = sign * (oh * 60 + om);
    p += 6;
  } else {
    return std::nullopt;
  }
  if (p != s.size()) return std::nullopt;
  if (h > 23 || mi > 59 || se > 59) return std::nullopt;
  date::year_month_day ymd{date::year{y}, date::month{static_cast<unsigned>(mo)},
                           date::day{static_cast<unsigned>(d)}};
  if (!ymd.ok()) return std::nullopt;
  auto t = date::sys_days{ymd} + std::chrono::hours{h} + std::chrono::minutes{mi} +
           std::chrono::seconds{se} - std::chrono::minutes{offset_min};
  const Instant out{std::chrono::duration_cast<Seconds>(t.time_since_epoch())};
  if (to_unix(out) < kMinUnix || to_unix(out) >= kMaxUnix) return std::nullopt;
  return out;
}

std::string format_rfc3339(Instant t) {
  // Hand-rolled (no iostreams, no printf): this runs for every instant of every reply.
  auto days = std::chrono::floor<date::days>(t);
  date::year_month_day ymd{days};
  const int year = int(ymd.year());
  if (year < 0 || year > 9999) {  // not an instant anyone books; RFC 3339 has 4-digit years
    char buf[48];
    auto secs = (t - days).count();
    int n = std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02dZ", year,
                          unsigned(ymd.month()), unsigned(ymd.day()), int(secs / 3600),
                          int(secs / 60 % 60), int(secs % 60));
    return std::string(buf, n);
  }
  const auto secs = static_cast<int>((t - days).count());
  char buf[20] = {'0', '0', '0', '0', '-', '0', '0', '-', '0', '0',
                  'T', '0', '0', ':', '0', '0', ':', '0', '0', 'Z'};
  auto two = [&](int at, int v) {
    buf[at] = static_cast<char>('0' + v / 10);
    buf[at + 1] = static_cast<char>('0' + v % 10);
  };
  two(0, year / 100);
  two(2, year % 100);
  two(5, static_cast<int>(unsigned(ymd.month())));
  two(8, static_cast<int>(unsigned(ymd.day())));
  two(11, secs / 3600);
  two(14, secs / 60 % 60);
  two(17, secs % 60);
  return std::string(buf, sizeof buf);
}

Instant SystemClock::now() const {
  return std::chrono::time_point_cast<Seconds>(std::chrono::system_clock::now());
}

}  // namespace appointd
