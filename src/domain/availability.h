#pragma once
// Free starts of staff members: the slot computation behind GET /v1/availability, composite
// availability and the alternatives of a conflict. Pure functions over what the store loaded
// (working hours, time off, busy intervals) and the rules; no I/O, no clock.
//
// A start t of a service (duration d, buffers b and a) is bookable for a staff member when
//   * t is on or after `earliest` (now + notice) and before `latest` (now + horizon),
//   * [t, t + d) lies inside one working interval (breaks split intervals),
//   * [t, t + d) overlaps no time off, and
//   * [t - b, t + d + a) overlaps no busy interval (other appointments' and live holds'
//     blocked intervals: buffers never touch each other, I1).
// A staff member with no working hours at all is *unscheduled*: bookable at any time except
// during time off (the rules of notice, horizon and working hours do not apply), and never
// listed as available.
#include <cstddef>
#include <optional>
#include <vector>

#include "domain/error.h"
#include "domain/model.h"
#include "domain/zone.h"

namespace appointd {

// One staff member's time over a window, as the computation needs it.
struct Calendar {
  Id staff_id = 0;
  const Zone* zone = nullptr;      // of the staff member's branch
  bool scheduled = false;          // has working hours
  std::vector<Interval> working;   // UTC working intervals (sorted, merged)
  std::vector<Interval> time_off;  // sorted, merged
  std::vector<Interval> busy;      // blocked intervals of others (sorted, merged)
};

// Builds a calendar for starts in `window` from the loaded rows. `time_off` and `busy` may be
// unsorted and overlapping. The working intervals cover the local days touching `window`
// widened by a day (so services reaching past the window's end are judged correctly).
Calendar make_calendar(Id staff_id, const Zone& zone, const std::vector<WorkingHours>& hours,
                       std::vector<Interval> time_off, std::vector<Interval> busy, Interval window);

struct SlotRules {
  Instant earliest{};  // now + notice: first allowed start
  Instant latest{};    // now + horizon: starts must be before this
  Minutes step{15};    // grid of listed starts, counted from each working interval's start
};
SlotRules slot_rules(const SchedulingSettings& s, Instant now);

// Timed and blocked interval of `service` at `start`.
struct Placement {
  Interval time;
  Interval blocked;
};
Placement place(const Service& service, Instant start);

// The scheduling rule a placement breaks, ignoring other bookings: kTooSoon, kBeyondHorizon,
// kOutsideWorkingHours (scheduled staff only) or kStaffTimeOff; nullopt when none.
std::optional<ErrorCode> rule_violation(const Calendar& c, const Placement& p, const SlotRules& r);

// True when the placement breaks no rule and its blocked interval overlaps nothing busy.
bool fits(const Calendar& c, const Placement& p, const SlotRules& r);

// The bookable starts of `service` in [window.from, window.until), ascending, on the step grid
// of each working interval. Empty for an unscheduled calendar. `max` bounds the result.
std::vector<Instant> free_starts(const Calendar& c, const Service& service, Interval window,
                                 const SlotRules& r, size_t max = SIZE_MAX);

// Composite availability: services one after another ("back to back": each starts when the
// one before ends; when the same staff member does two in a row, the buffers between them are
// kept free too). Each step offers one or more scheduled staff calendars.
struct CompositeStep {
  Service service;
  std::vector<const Calendar*> options;  // tried in this order
};
struct SequencePart {
  Id staff_id = 0;
  Id service_id = 0;
  Placement placement;
};
// The earliest `limit` sequences whose first start lies in `window` (at most one per start),
// ascending by start. The first step's starts are on its staff's grids; work per start is
// bounded (staff choices are searched depth-first with a budget).
std::vector<std::vector<SequencePart>> composite_sequences(const std::vector<CompositeStep>& steps,
                                                           Interval window, const SlotRules& r,
                                                           size_t limit);

}  // namespace appointd
