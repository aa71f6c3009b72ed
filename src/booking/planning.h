#pragma once
// Shared steps of the use cases that place segments on staff members' time (book, reschedule,
// hold): resolve and plan the segments, check the scheduling rules, check others' time (I1).
// Each runs inside the caller's write transaction.
#include <map>
#include <span>
#include <vector>

#include <nlohmann/json.hpp>

#include "domain/availability.h"
#include "domain/error.h"
#include "domain/segments.h"
#include "store/tx.h"

namespace appointd::booking {

// Resolves staff and services, checks each staff member is active and performs the service,
// and computes the timed and blocked intervals of every segment (check_composite included).
// *branch_id: the first segment's staff's branch. Errors: not_found, validation_failed.
Result<std::vector<Segment>> plan(store::ReadTx& tx, Id company_id,
                                  const std::vector<SegmentRequest>& reqs, Id* branch_id);

// The distinct staff ids of the segments, ascending.
std::vector<Id> staff_of(const std::vector<Segment>& segs);

// Calendars of some staff members of the company for starts in `window`, keyed by staff id
// (four queries whatever the number: staff_schedules and blocks_of). Staff of other companies
// are left out. Appointment `exclude`'s segments and hold `ignore_hold` do not count as busy.
// With busy = false the blocks are not loaded (rules only). Blocks and time off are loaded
// `reach` beyond the window either way: kMaxBlocked when the window holds starts (a booking
// that starts inside may block beyond it), 0 when it already covers every blocked interval that
// will be checked.
std::map<Id, Calendar> load_calendars(store::ReadTx& tx, Id company_id, std::span<const Id> staff,
                                      Interval window, Instant now, Id exclude = 0,
                                      Id ignore_hold = 0, bool busy = true,
                                      Seconds reach = kMaxBlocked);

// The scheduling rule the first offending segment breaks (too_soon, beyond_horizon,
// outside_working_hours, staff_time_off; extra: segment_index, staff_id), or nullopt.
std::optional<Error> check_rules(store::ReadTx& tx, Id company_id, const std::vector<Segment>& segs,
                                 Instant now);

struct FreeCheck {
  Id exclude = 0;      // appointment whose own segments do not conflict (reschedule)
  Id ignore_hold = 0;  // the hold being converted
  bool disjoint_alternatives = false;
};

// Locks the staff rows, then checks every segment against others' time (I1). Returns the
// slot_unavailable error (extra: conflicts, alternatives), or nullopt when all are free.
std::optional<Error> check_free(store::WriteTx& tx, Id company_id, Id branch_id,
                                const std::vector<Segment>& segs, Instant now,
                                const FreeCheck& opts = {});

}  // namespace appointd::booking
