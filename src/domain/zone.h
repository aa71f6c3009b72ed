#pragma once
// IANA time zones, via Howard Hinnant's date/tz over the system tzdata (read-only). Every
// function here is thread-safe: the tz database is loaded once and never changed.
#include <string>
#include <string_view>

#include <date/tz.h>

#include "domain/time.h"

namespace appointd {

using Zone = date::time_zone;

// True when `name` is the canonical name of a zone of the system tz database ("Europe/Berlin"),
// or "UTC"; links and system files ("US/Eastern", "localtime") are not.
bool is_valid_time_zone(std::string_view name);

// The zone called `name`, or nullptr when there is none. The pointer lives as long as the
// process.
const Zone* find_zone(std::string_view name);

// The instant at which the wall clock of `zone` shows `local` (seconds since the local epoch).
// A local time that occurs twice (fall-back) maps to its first occurrence when `earliest`, else
// to its second; a local time that does not exist (spring-forward gap) maps to the instant of
// the transition, whichever is asked.
Instant local_to_utc(const Zone& zone, date::local_seconds local, bool earliest);

// `t` as the wall clock of `zone` shows it, with its UTC offset: "2026-03-29T03:00:00+02:00".
std::string format_local(Instant t, const Zone& zone);

}  // namespace appointd
