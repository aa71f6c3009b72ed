#pragma once
// Availability queries (read-only): which starts can be booked, per staff member, and which
// back-to-back sequences of several services fit. The computation is domain/availability.h;
// this layer loads what it needs in a bounded number of queries and applies the API's limits.
#include <optional>
#include <vector>

#include "domain/availability.h"
#include "domain/error.h"
#include "store/tx.h"

namespace appointd::booking {

inline constexpr int kMaxAvailabilityDays = 31;
// Starts one availability reply lists at most, over all its staff (about 0.4 MB of JSON).
inline constexpr size_t kMaxSlotsPerReply = 5000;
inline constexpr size_t kMaxSequences = 20;

struct AvailabilityQuery {
  Id company_id = 0;
  Id service_id = 0;
  std::optional<Id> staff_id;  // default: every active staff member performing the service
  Interval window;             // starts in [from, to)
  Instant now{};
  // With no staff_id and not empty: only these of them (e.g. one branch's), ascending. Their
  // calendars alone are loaded, and only their starts count toward kMaxSlotsPerReply.
  std::vector<Id> among;
};

struct StaffSlots {
  Id staff_id = 0;
  const Zone* zone = nullptr;  // the branch's
  bool scheduled = false;      // false: no working hours, so nothing is listed
  std::vector<Instant> starts;
};

struct Availability {
  Service service;
  std::vector<StaffSlots> staff;  // by staff id
};

// Errors: not_found (service, staff), validation_failed (window empty or over
// kMaxAvailabilityDays; the staff member does not perform the service or is inactive),
// too_many_slots (more than kMaxSlotsPerReply starts: the work stops at the first one over).
Result<Availability> availability(store::ReadTx& tx, const AvailabilityQuery& q);

struct CompositeItem {
  Id service_id = 0;
  std::optional<Id> staff_id;  // default: any active scheduled staff member performing it
};

struct CompositeQuery {
  Id company_id = 0;
  std::vector<CompositeItem> items;  // 1..kMaxSegments, in order
  Interval window;                   // first starts in [from, to)
  size_t limit = 5;                  // 1..kMaxSequences
  Instant now{};
};

struct CompositePart {
  Id staff_id = 0;
  Id service_id = 0;
  Interval time;
  const Zone* zone = nullptr;
};
using CompositeSequence = std::vector<CompositePart>;

// The earliest back-to-back sequences (domain composite_sequences). Errors as availability().
Result<std::vector<CompositeSequence>> composite_availability(store::ReadTx& tx,
                                                              const CompositeQuery& q);

}  // namespace appointd::booking
