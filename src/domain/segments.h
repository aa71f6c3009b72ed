#pragma once
// Turning requested segments into timed, blocked intervals, and the rules a composite booking
// must satisfy before the store is asked about anybody else's time. Pure functions.
#include <optional>
#include <vector>

#include "domain/error.h"
#include "domain/model.h"

namespace appointd {

// Limits on one booking (explicit, so the overlap query can bound its index scan).
inline constexpr int kMaxSegments = 10;
inline constexpr int kMaxServiceMinutes = 12 * 60;  // a service or segment lasts at most 12 h
inline constexpr int kMaxBufferMinutes = 4 * 60;    // each buffer at most 4 h
// No blocked interval is longer than this; the overlap query relies on it.
inline constexpr Seconds kMaxBlocked{(kMaxServiceMinutes + 2 * kMaxBufferMinutes) * 60};

struct SegmentRequest {
  Id staff_id = 0;
  Id service_id = 0;
  Instant start{};
  std::optional<Instant> end;  // default: start + the service's duration
};

// Computes [start, end) and the blocked interval of one segment for its service.
// Fails with validation_failed when end <= start or the segment is longer than the limit.
Result<Segment> plan_segment(const SegmentRequest& r, const Service& s);

// Checks a whole composite: 1..kMaxSegments segments, and no two segments of the same staff
// member whose blocked intervals overlap each other (they would violate I1 on their own).
std::optional<Error> check_composite(const std::vector<Segment>& planned);

// The same segments moved by d (time and blocked interval alike).
std::vector<Segment> shifted(const std::vector<Segment>& segs, Seconds d);

// Validates a service definition (duration 1..kMaxServiceMinutes, buffers 0..kMaxBufferMinutes).
std::optional<Error> check_service(int duration, int buffer_before, int buffer_after);

}  // namespace appointd
