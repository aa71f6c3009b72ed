#include "domain/schedule.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>

namespace appointd {

std::optional<Error> check_working_hours(const std::vector<WorkingHours>& hours) {
  std::array<std::vector<const WorkingHours*>, 7> by_day;
  for (const auto& h : hours) {
    if (h.weekday < 0 || h.weekday > 6) return Error::validation("weekday must be 0..6");
    const char* day = kWeekdayNames[h.weekday];
    if (h.start_minute < 0 || h.end_minute > 1440 || h.start_minute >= h.end_minute)
      return Error::validation(
          fmt::format("{}: an interval must start before it ends, within 00:00..24:00", day));
    by_day[h.weekday].push_back(&h);
  }
  for (int d = 0; d < 7; ++d) {
    auto& v = by_day[d];
    if (v.size() > static_cast<size_t>(kMaxIntervalsPerDay))
      return Error::validation(
          fmt::format("{}: at most {} intervals a day", kWeekdayNames[d], kMaxIntervalsPerDay));
    std::sort(v.begin(), v.end(),
              [](auto* a, auto* b) { return a->start_minute < b->start_minute; });
    for (size_t i = 1; i < v.size(); ++i)
      if (v[i]->start_minute < v[i - 1]->end_minute)
        return Error::validation(fmt::format("{}: intervals overlap", kWeekdayNames[d]));
  }
  return std::nullopt;
}

std::optional<Error> check_settings(const SchedulingSettings& s) {
  if (s.slot_step_minutes < 5 || s.slot_step_minutes > 240)
    return Error::validation("slot_step_minutes must be between 5 and 240");
  if (s.min_notice_minutes < 0 || s.min_notice_minutes > 43200)
    return Error::validation("min_notice_minutes must be between 0 and 43200");
  if (s.horizon_days < 1 || s.horizon_days > 730)
    return Error::validation("horizon_days must be between 1 and 730");
  return std::nullopt;
}

std::vector<Interval> merge_intervals(std::vector<Interval> v) {
  std::sort(v.begin(), v.end(), [](const Interval& a, const Interval& b) {
    return a.from < b.from || (a.from == b.from && a.until < b.until);
  });
  std::vector<Interval> out;
  out.reserve(v.size());
  for (const auto& i : v) {
    if (i.empty()) continue;
    if (!out.empty() && i.from <= out.back().until)
      out.back().until = std::max(out.back().until, i.until);
    else
      out.push_back(i);
  }
  return out;
}

std::vector<Interval> working_intervals(const std::vector<WorkingHours>& hours, const Zone& zone,
                                        Interval window) {
  std::vector<Interval> out;
  if (hours.empty() || window.empty()) return out;
  std::array<std::vector<const WorkingHours*>, 7> by_day;
  for (const auto& h : hours)
    if (h.weekday >= 0 && h.weekday <= 6) by_day[h.weekday].push_back(&h);
  // Local days from the one before the window's first to its last: an interval of the day
  // before can reach into the window (a night shift), and offsets shift days by < 1.
  const auto first = date::floor<date::days>(zone.to_local(window.from)) - date::days{1};
  const auto last = date::floor<date::days>(zone.to_local(window.until));
  for (auto d = first; d <= last; d += date::days{1}) {
    const int wd = static_cast<int>(date::weekday{d}.iso_encoding()) - 1;  // Monday = 0
    for (const WorkingHours* h : by_day[wd]) {
      Interval i{local_to_utc(zone, d + Minutes{h->start_minute}, true),
                 local_to_utc(zone, d + Minutes{h->end_minute}, false)};
      if (!i.empty() && i.overlaps(window)) out.push_back(i);
    }
  }
  return merge_intervals(std::move(out));
}

}  // namespace appointd
