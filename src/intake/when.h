#pragma once
// The times a caller's agent passes: a start as a local date-time of the branch or RFC 3339, a
// day or a range of days, a part of the day; and how a few starts are picked from many. Pure
// functions over their arguments, thread-safe.
#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

#include <date/date.h>

#include "domain/time.h"
#include "domain/zone.h"

namespace appointd::intake {

// A start: RFC 3339 with an offset ("2026-12-08T13:30:00Z", "...+01:00"), or a local date-time
// in `zone` without offset: "YYYY-MM-DDTHH:MM" or "YYYY-MM-DDTHH:MM:SS" ('T' or one space between
// date and time). A local time in a fall-back overlap is its first occurrence; one in a
// spring-forward gap is the instant of the transition (domain/zone.h local_to_utc). nullopt for
// anything else (no date alone, no 24:00, no Feb 30).
std::optional<Instant> parse_start(std::string_view s, const Zone& zone);

// A day "YYYY-MM-DD" (a real date); nullopt otherwise.
std::optional<date::local_days> parse_local_date(std::string_view s);

// A range bound: a day ("YYYY-MM-DD": its local midnight, or, when `end`, the next day's, so a
// range's last day is included) or anything parse_start() accepts (taken as is).
std::optional<Instant> parse_bound(std::string_view s, const Zone& zone, bool end);

enum class PartOfDay { kMorning, kAfternoon, kEvening };
// "morning" | "afternoon" | "evening" (exactly); nullopt otherwise.
std::optional<PartOfDay> parse_part_of_day(std::string_view s);
// morning: local time before 12:00; afternoon: 12:00 to before 17:00; evening: from 17:00.
bool in_part_of_day(PartOfDay p, date::local_seconds t);

// Up to `k` of `sorted` (ascending, distinct), spread over the time they span: the first start,
// then, splitting [first, last] into k equal parts, the first start in each later part not yet
// taken; when the parts leave some empty, the rest are filled with the remaining starts that lie
// farthest from the ones taken. Result ascending. All of them when there are at most k.
std::vector<Instant> spread(const std::vector<Instant>& sorted, std::size_t k);

}  // namespace appointd::intake
