#include "domain/availability.h"

#include <algorithm>

#include "domain/schedule.h"

namespace appointd {
namespace {

// The first interval of a sorted, merged list that ends after `t` (end() if none).
std::vector<Interval>::const_iterator first_ending_after(const std::vector<Interval>& v,
                                                         Instant t) {
  return std::partition_point(v.begin(), v.end(), [t](const Interval& i) { return i.until <= t; });
}

bool overlaps_any(const std::vector<Interval>& v, const Interval& x) {
  auto it = first_ending_after(v, x.from);
  return it != v.end() && it->from < x.until;
}

// The first instant of the grid base + k * step (k >= 0) that is not before x.
Instant align_up(Instant base, Seconds step, Instant x) {
  if (x <= base) return base;
  const auto k = ((x - base).count() + step.count() - 1) / step.count();
  return base + step * k;
}

}  // namespace

Calendar make_calendar(Id staff_id, const Zone& zone, const std::vector<WorkingHours>& hours,
                       std::vector<Interval> time_off, std::vector<Interval> busy,
                       Interval window) {
  Calendar c;
  c.staff_id = staff_id;
  c.zone = &zone;
  c.scheduled = !hours.empty();
  if (c.scheduled)
    c.working =
        working_intervals(hours, zone, {window.from - date::days{1}, window.until + date::days{1}});
  c.time_off = merge_intervals(std::move(time_off));
  c.busy = merge_intervals(std::move(busy));
  return c;
}

SlotRules slot_rules(const SchedulingSettings& s, Instant now) {
  return {now + Minutes{s.min_notice_minutes}, now + date::days{s.horizon_days},
          Minutes{s.slot_step_minutes}};
}

Placement place(const Service& service, Instant start) {
  Placement p;
  p.time = {start, start + Minutes{service.duration_minutes}};
  p.blocked = {start - Minutes{service.buffer_before_minutes},
               p.time.until + Minutes{service.buffer_after_minutes}};
  return p;
}

std::optional<ErrorCode> rule_violation(const Calendar& c, const Placement& p, const SlotRules& r) {
  // Nobody books the past: the notice holds for scheduled and unscheduled staff alike.
  if (p.time.from < r.earliest) return ErrorCode::kTooSoon;
  if (c.scheduled) {
    if (p.time.from >= r.latest) return ErrorCode::kBeyondHorizon;
    auto it = first_ending_after(c.working, p.time.from);
    if (it == c.working.end() || !it->contains(p.time)) return ErrorCode::kOutsideWorkingHours;
  }
  if (overlaps_any(c.time_off, p.time)) return ErrorCode::kStaffTimeOff;
  return std::nullopt;
}

bool fits(const Calendar& c, const Placement& p, const SlotRules& r) {
  return !rule_violation(c, p, r) && !overlaps_any(c.busy, p.blocked);
}

std::vector<Instant> free_starts(const Calendar& c, const Service& service, Interval window,
                                 const SlotRules& r, size_t max) {
  std::vector<Instant> out;
  if (!c.scheduled || max == 0) return out;
  const Seconds dur = Minutes{service.duration_minutes};
  const Seconds before = Minutes{service.buffer_before_minutes};
  const Seconds after = Minutes{service.buffer_after_minutes};
  const Seconds step = r.step.count() > 0 ? Seconds{r.step} : Seconds{Minutes{15}};
  const Instant lo = std::max(window.from, r.earliest);
  const Instant hi = std::min(window.until, r.latest);
  if (hi <= lo) return out;
  // Both pointers only move forward: t grows across the sorted working intervals.
  auto off = c.time_off.begin();
  auto busy = c.busy.begin();
  for (const Interval& w : c.working) {
    if (w.from >= hi) break;
    if (w.until - dur < lo) continue;
    Instant t = align_up(w.from, step, lo);
    while (t < hi && t + dur <= w.until) {
      while (off != c.time_off.end() && off->until <= t) ++off;
      if (off != c.time_off.end() && off->from < t + dur) {
        t = align_up(w.from, step, off->until);
        continue;
      }
      const Instant b_from = t - before;
      while (busy != c.busy.end() && busy->until <= b_from) ++busy;
      if (busy != c.busy.end() && busy->from < t + dur + after) {
        t = align_up(w.from, step, busy->until + before);
        continue;
      }
      out.push_back(t);
      if (out.size() >= max) return out;
      t += step;
    }
  }
  return out;
}

namespace {

struct CompositeSearch {
  const std::vector<CompositeStep>& steps;
  const SlotRules& rules;
  std::vector<SequencePart> parts;
  int budget = 0;

  bool dfs(size_t k, Instant first) {
    if (k == steps.size()) return true;
    const CompositeStep& st = steps[k];
    for (const Calendar* cal : st.options) {
      if (--budget < 0) return false;
      Instant start = first;
      if (k > 0) {
        const SequencePart& prev = parts.back();
        start = prev.placement.time.until;
        // The same staff member twice in a row: keep both buffers between the two.
        if (prev.staff_id == cal->staff_id)
          start = prev.placement.blocked.until + Minutes{st.service.buffer_before_minutes};
      }
      Placement p = place(st.service, start);
      if (!fits(*cal, p, rules)) continue;
      bool clash = false;
      for (const auto& q : parts)
        if (q.staff_id == cal->staff_id && q.placement.blocked.overlaps(p.blocked)) clash = true;
      if (clash) continue;
      parts.push_back({cal->staff_id, st.service.id, p});
      if (dfs(k + 1, first)) return true;
      parts.pop_back();
    }
    return false;
  }
};

constexpr int kCompositeBudget = 256;  // staff choices tried per first start

}  // namespace

std::vector<std::vector<SequencePart>> composite_sequences(const std::vector<CompositeStep>& steps,
                                                           Interval window, const SlotRules& r,
                                                           size_t limit) {
  std::vector<std::vector<SequencePart>> out;
  if (steps.empty() || limit == 0) return out;
  std::vector<Instant> starts;
  for (const Calendar* cal : steps.front().options) {
    auto f = free_starts(*cal, steps.front().service, window, r);
    starts.insert(starts.end(), f.begin(), f.end());
  }
  std::sort(starts.begin(), starts.end());
  starts.erase(std::unique(starts.begin(), starts.end()), starts.end());
  for (Instant t : starts) {
    CompositeSearch s{steps, r, {}, kCompositeBudget};
    if (s.dfs(0, t)) {
      out.push_back(std::move(s.parts));
      if (out.size() >= limit) break;
    }
  }
  return out;
}

}  // namespace appointd
