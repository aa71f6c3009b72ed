#pragma once
// What a sync job must do in the calendar: the difference between what the appointment wants
// (one live booking per mapped segment, at the segment's start, of its event type) and what
// appointd knows exists there. A pure function; the worker runs the steps in order.
#include <cstdint>
#include <string>
#include <vector>

#include "domain/sync.h"

namespace appointd::sync {

// One segment the calendar should hold.
struct Wanted {
  int ordinal = 0;
  std::int64_t event_type_id = 0;
  Instant start{};
  Instant end{};
};

struct Step {
  enum Kind { kCreate, kReschedule, kCancel } kind = kCreate;
  Wanted wanted;    // kCreate, kReschedule: where the booking should be
  std::string uid;  // kReschedule, kCancel: the booking acted on
  bool operator==(const Step&) const = default;
};

// Steps that turn `known` (live ones count; others are ignored) into `wanted`:
//  - a wanted segment with one live booking of its event type at its start: nothing;
//  - with one of its event type elsewhere: reschedule it; of another event type: cancel, create;
//  - with none: create;
//  - every other live booking (duplicates, segments no longer wanted): cancel.
// Cancels come first, so a create never collides with a booking of the same appointment.
std::vector<Step> plan_steps(const std::vector<Wanted>& wanted,
                             const std::vector<ExternalBooking>& known);

}  // namespace appointd::sync
