#include "booking/planning.h"

#include <algorithm>
#include <string>

#include "booking/alternatives.h"
#include "domain/conflict.h"

namespace appointd::booking {

using nlohmann::json;

Result<std::vector<Segment>> plan(store::ReadTx& tx, Id company_id,
                                  const std::vector<SegmentRequest>& reqs, Id* branch_id) {
  if (reqs.empty()) return Error::validation("segments must not be empty");
  if (reqs.size() > static_cast<size_t>(kMaxSegments))
    return Error::validation("too many segments");
  std::vector<Segment> out;
  std::map<Id, Staff> staff_cache;
  for (const auto& r : reqs) {
    auto it = staff_cache.find(r.staff_id);
    if (it == staff_cache.end()) {
      auto st = tx.staff(company_id, r.staff_id);
      if (!st) return Error::not_found("staff " + std::to_string(r.staff_id));
      it = staff_cache.emplace(r.staff_id, std::move(*st)).first;
    }
    const Staff& st = it->second;
    if (out.empty()) *branch_id = st.branch_id;
    if (!st.active) return Error::validation("staff " + std::to_string(st.id) + " is not active");
    auto svc = tx.service(company_id, r.service_id);
    if (!svc) return Error::not_found("service " + std::to_string(r.service_id));
    if (!std::binary_search(st.service_ids.begin(), st.service_ids.end(), svc->id))
      return Error::validation("staff " + std::to_string(st.id) + " does not perform service " +
                               std::to_string(svc->id));
    auto seg = plan_segment(r, *svc);
    if (!seg) return seg.error();
    out.push_back(*seg);
  }
  if (auto e = check_composite(out)) return *e;
  return out;
}

std::vector<Id> staff_of(const std::vector<Segment>& segs) {
  std::vector<Id> ids;
  for (const auto& s : segs) ids.push_back(s.staff_id);
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

std::map<Id, Calendar> load_calendars(store::ReadTx& tx, Id company_id, std::span<const Id> staff,
                                      Interval window, Instant now, Id exclude, Id ignore_hold,
                                      bool busy, Seconds reach_beyond) {
  std::map<Id, Calendar> out;
  const Interval reach{window.from - reach_beyond, window.until + reach_beyond};
  auto schedules = tx.staff_schedules(company_id, staff, reach);
  if (schedules.empty()) return out;
  std::map<Id, std::vector<Interval>> blocked;
  if (busy) {
    std::vector<Id> ids;
    for (const auto& s : schedules) ids.push_back(s.staff_id);
    for (const auto& b : tx.blocks_of(ids, reach, exclude, now))
      if (!(b.kind == Block::kHold && b.id == ignore_hold))
        blocked[b.staff_id].push_back(b.blocked);
  }
  static const Zone* utc = find_zone("Etc/UTC");
  for (const auto& s : schedules) {
    const Zone* z = find_zone(s.timezone);
    std::vector<Interval> off;
    for (const auto& t : s.time_off) off.push_back(t.time);
    auto cal = make_calendar(s.staff_id, z ? *z : *utc, s.hours, std::move(off),
                             std::move(blocked[s.staff_id]), window);
    out.emplace(s.staff_id, std::move(cal));
  }
  return out;
}

std::optional<Error> check_rules(store::ReadTx& tx, Id company_id, const std::vector<Segment>& segs,
                                 Instant now) {
  Interval span = segs.front().time;
  for (const auto& s : segs) {
    span.from = std::min(span.from, s.time.from);
    span.until = std::max(span.until, s.time.until);
  }
  auto ids = staff_of(segs);
  auto co = tx.company(company_id);
  const SchedulingSettings settings = co ? co->settings : SchedulingSettings{};
  const SlotRules rules = slot_rules(settings, now);
  // The span holds the segments' times: nothing beyond it matters to the rules.
  auto cals = load_calendars(tx, company_id, ids, span, now, 0, 0, false, Seconds{0});
  bool any = span.from < rules.earliest;  // the notice holds for unscheduled staff too
  for (const auto& [id, c] : cals) any |= c.scheduled || !c.time_off.empty();
  if (!any) return std::nullopt;  // unscheduled staff without time off, not too soon: all fine
  for (size_t i = 0; i < segs.size(); ++i) {
    auto it = cals.find(segs[i].staff_id);
    const Calendar unscheduled{};
    auto code = rule_violation(it == cals.end() ? unscheduled : it->second,
                               {segs[i].time, segs[i].blocked}, rules);
    if (!code) continue;
    std::string detail;
    switch (*code) {
      case ErrorCode::kTooSoon:
        detail = "the segment starts before the minimum notice of " +
                 std::to_string(settings.min_notice_minutes) + " minutes";
        break;
      case ErrorCode::kBeyondHorizon:
        detail = "the segment starts beyond the booking horizon of " +
                 std::to_string(settings.horizon_days) + " days";
        break;
      case ErrorCode::kOutsideWorkingHours:
        detail = "the segment is not inside the working hours of staff " +
                 std::to_string(segs[i].staff_id);
        break;
      default:
        detail = "the segment overlaps time off of staff " + std::to_string(segs[i].staff_id);
    }
    Error e{*code, detail};
    e.extra["segment_index"] = i;
    e.extra["staff_id"] = segs[i].staff_id;
    return e;
  }
  return std::nullopt;
}

std::optional<Error> check_free(store::WriteTx& tx, Id company_id, Id branch_id,
                                const std::vector<Segment>& segs, Instant now,
                                const FreeCheck& opts) {
  auto ids = staff_of(segs);
  tx.lock_staff(ids);
  const AlternativeQuery alt{
      company_id, branch_id, segs, opts.exclude, opts.ignore_hold, opts.disjoint_alternatives, now};
  announce_alternatives(tx, alt);  // what a conflict reads next
  auto slot = std::make_shared<SlotConflict>();
  for (size_t i = 0; i < segs.size(); ++i)
    for (const auto& b : tx.blocks(segs[i].staff_id, segs[i].blocked, opts.exclude, now)) {
      if (b.kind == Block::kHold && b.id == opts.ignore_hold) continue;
      slot->conflicts.push_back({i, b});
    }
  if (slot->conflicts.empty()) return std::nullopt;
  slot->alternatives = alternatives(tx, alt);
  Error e{ErrorCode::kSlotUnavailable, "the requested time is no longer free"};
  e.slot = std::move(slot);
  return e;
}

}  // namespace appointd::booking
