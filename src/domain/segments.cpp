#include "domain/segments.h"

#include <fmt/format.h>

#include <algorithm>

namespace appointd {

Result<Segment> plan_segment(const SegmentRequest& r, const Service& s) {
  Segment seg;
  seg.staff_id = r.staff_id;
  seg.service_id = r.service_id;
  seg.time.from = r.start;
  seg.time.until = r.end ? *r.end : r.start + Minutes{s.duration_minutes};
  if (seg.time.until <= seg.time.from)
    return Error::validation("segment end must be after its start");
  if (seg.time.length() > Minutes{kMaxServiceMinutes})
    return Error::validation(
        fmt::format("segment is longer than the limit of {} minutes", kMaxServiceMinutes));
  seg.blocked.from = seg.time.from - Minutes{s.buffer_before_minutes};
  seg.blocked.until = seg.time.until + Minutes{s.buffer_after_minutes};
  return seg;
}

std::optional<Error> check_composite(const std::vector<Segment>& planned) {
  if (planned.empty()) return Error::validation("an appointment needs at least one segment");
  if (planned.size() > static_cast<size_t>(kMaxSegments))
    return Error::validation(fmt::format("an appointment has at most {} segments", kMaxSegments));
  for (size_t i = 0; i < planned.size(); ++i)
    for (size_t j = i + 1; j < planned.size(); ++j)
      if (planned[i].staff_id == planned[j].staff_id &&
          planned[i].blocked.overlaps(planned[j].blocked))
        return Error::validation(
            fmt::format("segments {} and {} overlap for staff {} (buffers included)", i, j,
                        planned[i].staff_id));
  return std::nullopt;
}

std::vector<Segment> shifted(const std::vector<Segment>& segs, Seconds d) {
  std::vector<Segment> out = segs;
  for (auto& s : out) {
    s.time = {s.time.from + d, s.time.until + d};
    s.blocked = {s.blocked.from + d, s.blocked.until + d};
  }
  return out;
}

std::optional<Error> check_service(int duration, int buffer_before, int buffer_after) {
  if (duration < 1 || duration > kMaxServiceMinutes)
    return Error::validation(
        fmt::format("duration_minutes must be between 1 and {}", kMaxServiceMinutes));
  if (buffer_before < 0 || buffer_before > kMaxBufferMinutes || buffer_after < 0 ||
      buffer_after > kMaxBufferMinutes)
    return Error::validation(
        fmt::format("buffers must be between 0 and {} minutes", kMaxBufferMinutes));
  return std::nullopt;
}

}  // namespace appointd
