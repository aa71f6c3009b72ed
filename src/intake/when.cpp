#include "intake/when.h"

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace appointd::intake {
namespace {

// `n` decimal digits at s[pos].
bool digits(std::string_view s, std::size_t pos, std::size_t n, unsigned& out) {
  if (pos + n > s.size()) return false;
  unsigned v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + static_cast<unsigned>(s[i] - '0');
  }
  out = v;
  return true;
}

// "YYYY-MM-DD" at the start of `s` (which may go on), a real date.
std::optional<date::local_days> date_prefix(std::string_view s) {
  unsigned y, m, d;
  if (!digits(s, 0, 4, y) || s.size() < 10 || s[4] != '-' || !digits(s, 5, 2, m) || s[7] != '-' ||
      !digits(s, 8, 2, d))
    return std::nullopt;
  const date::year_month_day ymd{date::year{static_cast<int>(y)}, date::month{m}, date::day{d}};
  if (!ymd.ok()) return std::nullopt;
  return date::local_days{ymd};
}

// "YYYY-MM-DDTHH:MM" or "YYYY-MM-DDTHH:MM:SS" ('T' or a space), a real date and time of day.
std::optional<date::local_seconds> local_date_time(std::string_view s) {
  if (s.size() != 16 && s.size() != 19) return std::nullopt;
  const auto day = date_prefix(s);
  unsigned h, mi, se = 0;
  if (!day || (s[10] != 'T' && s[10] != ' ') || !digits(s, 11, 2, h) || s[13] != ':' ||
      !digits(s, 14, 2, mi) || (s.size() == 19 && (s[16] != ':' || !digits(s, 17, 2, se))))
    return std::nullopt;
  if (h > 23 || mi > 59 || se > 59) return std::nullopt;
  return date::local_seconds{*day} + std::chrono::hours{h} + std::chrono::minutes{mi} +
         std::chrono::seconds{se};
}

// The instant `zone` shows `local` at, when it is one appointd accepts (domain/time.h).
std::optional<Instant> in_zone(const Zone& zone, date::local_seconds local) {
  const Instant t = local_to_utc(zone, local, /*earliest=*/true);
  if (to_unix(t) < kMinUnix || to_unix(t) >= kMaxUnix) return std::nullopt;
  return t;
}

// Start of part `i` of [first, first + span] split into k equal parts, without overflow.
std::int64_t part_start(std::int64_t first, std::int64_t span, std::int64_t k, std::int64_t i) {
  return first + span / k * i + span % k * i / k;
}

// The indexes picked by part: the first start, then the first start of each later part.
std::vector<bool> pick_by_parts(const std::vector<Instant>& sorted, std::size_t k) {
  std::vector<bool> taken(sorted.size(), false);
  taken[0] = true;
  const std::int64_t first = to_unix(sorted.front());
  const std::int64_t span = to_unix(sorted.back()) - first;
  const auto parts = static_cast<std::int64_t>(k);
  for (std::int64_t p = 1; p < parts; ++p) {
    const auto lo = from_unix(part_start(first, span, parts, p));
    // The last part includes the last start.
    const auto hi = p + 1 == parts ? sorted.back() + Seconds{1}
                                   : from_unix(part_start(first, span, parts, p + 1));
    const auto it = std::lower_bound(sorted.begin(), sorted.end(), lo);
    if (it != sorted.end() && *it < hi) taken[static_cast<std::size_t>(it - sorted.begin())] = true;
  }
  return taken;
}

// Takes starts until `k` are taken, each time the one farthest from the nearest start taken
// (ties to the earlier one).
void fill_farthest(const std::vector<Instant>& sorted, std::size_t k, std::vector<bool>& taken) {
  const std::size_t n = sorted.size();
  std::vector<Seconds> nearest(n, Seconds::max());
  auto update = [&](std::size_t t) {
    for (std::size_t j = 0; j < n; ++j)
      nearest[j] = std::min(nearest[j],
                            sorted[j] > sorted[t] ? sorted[j] - sorted[t] : sorted[t] - sorted[j]);
  };
  std::size_t count = 0;
  for (std::size_t t = 0; t < n; ++t) {
    if (!taken[t]) continue;
    update(t);
    ++count;
  }
  for (; count < k; ++count) {
    std::size_t best = n;
    for (std::size_t j = 0; j < n; ++j)
      if (!taken[j] && (best == n || nearest[j] > nearest[best])) best = j;
    taken[best] = true;
    update(best);
  }
}

}  // namespace

std::optional<Instant> parse_start(std::string_view s, const Zone& zone) {
  if (const auto local = local_date_time(s)) return in_zone(zone, *local);
  return parse_rfc3339(s);
}

std::optional<date::local_days> parse_local_date(std::string_view s) {
  if (s.size() != 10) return std::nullopt;
  return date_prefix(s);
}

std::optional<Instant> parse_bound(std::string_view s, const Zone& zone, bool end) {
  if (s.size() != 10) return parse_start(s, zone);
  const auto day = parse_local_date(s);
  if (!day) return std::nullopt;
  return in_zone(zone, date::local_seconds{*day + date::days{end ? 1 : 0}});
}

std::optional<PartOfDay> parse_part_of_day(std::string_view s) {
  if (s == "morning") return PartOfDay::kMorning;
  if (s == "afternoon") return PartOfDay::kAfternoon;
  if (s == "evening") return PartOfDay::kEvening;
  return std::nullopt;
}

bool in_part_of_day(PartOfDay p, date::local_seconds t) {
  const auto time_of_day = t - date::floor<date::days>(t);
  switch (p) {
    case PartOfDay::kMorning:
      return time_of_day < std::chrono::hours{12};
    case PartOfDay::kAfternoon:
      return time_of_day >= std::chrono::hours{12} && time_of_day < std::chrono::hours{17};
    case PartOfDay::kEvening:
      return time_of_day >= std::chrono::hours{17};
  }
  return false;
}

std::vector<Instant> spread(const std::vector<Instant>& sorted, std::size_t k) {
  if (sorted.size() <= k) return sorted;
  if (k == 0) return {};
  auto taken = pick_by_parts(sorted, k);
  fill_farthest(sorted, k, taken);
  std::vector<Instant> out;
  out.reserve(k);
  for (std::size_t i = 0; i < sorted.size(); ++i)
    if (taken[i]) out.push_back(sorted[i]);
  return out;
}

}  // namespace appointd::intake
