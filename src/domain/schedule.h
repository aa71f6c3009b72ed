#pragma once
// The rules of a staff member's week: working hours in the branch's local time, time off, and
// the company's scheduling settings. Pure functions: no I/O, no clock.
#include <optional>
#include <vector>

#include "domain/error.h"
#include "domain/model.h"
#include "domain/zone.h"

namespace appointd {

inline constexpr int kMaxIntervalsPerDay = 12;
inline constexpr int kMaxTimeOffDays = 366;  // one time-off entry lasts at most a year

// Checks weekly hours: weekday 0..6, 0 <= start < end <= 1440, at most kMaxIntervalsPerDay a
// day, and no two intervals of one day overlapping. validation_failed names the first breach.
std::optional<Error> check_working_hours(const std::vector<WorkingHours>& hours);

// Checks settings: step 5..240 minutes, notice 0..43200 minutes (30 days), horizon 1..730 days.
std::optional<Error> check_settings(const SchedulingSettings& s);

// The UTC instants at which the staff member works, for every local day of `zone` that touches
// `window` (so an interval reaching into the window from the day before is included), sorted
// and merged (adjacent intervals join: 09-12 and 12-17 are 09-17; Monday 22-24 and Tuesday 00-02
// make one night shift). Each local interval [start, end) becomes [start earliest, end latest):
// on a fall-back day an interval over the repeated hour covers both passes of it; on a
// spring-forward day the missing hour is simply not there (an interval entirely inside the gap
// vanishes).
std::vector<Interval> working_intervals(const std::vector<WorkingHours>& hours, const Zone& zone,
                                        Interval window);

// Sorts and merges overlapping or adjacent intervals; empty intervals are dropped.
std::vector<Interval> merge_intervals(std::vector<Interval> v);

// Weekday names of the API, index = WorkingHours::weekday: "mon", ..., "sun".
inline constexpr const char* kWeekdayNames[7] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

}  // namespace appointd
