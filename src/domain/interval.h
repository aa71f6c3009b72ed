#pragma once
// Half-open intervals [from, until) of instants.
#include "domain/time.h"

namespace appointd {

struct Interval {
  Instant from;
  Instant until;

  bool empty() const { return until <= from; }
  Seconds length() const { return until - from; }
  // Half-open: [9,10) and [10,11) do not overlap.
  bool overlaps(const Interval& o) const { return from < o.until && o.from < until; }
  bool contains(const Interval& o) const { return from <= o.from && o.until <= until; }
  bool operator==(const Interval&) const = default;
};

}  // namespace appointd
