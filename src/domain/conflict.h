#pragma once
// The detail of a slot_unavailable outcome as data: what collided and what could be booked
// instead. The writer thread fills it in the conflicting transaction; it becomes JSON only when
// the problem document is rendered (Error::details()), off the writer.
#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "domain/model.h"

namespace appointd {

struct SlotConflict {
  struct Item {
    size_t segment_index = 0;  // of the request
    Block block;               // what it collides with
  };
  struct Alternative {
    std::vector<Segment> segments;  // the request's segments, moved or given to other staff
    Id hold_id = 0;                 // set when held for the caller (hold_alternatives)
    Instant expires_at{};
  };
  std::vector<Item> conflicts;
  std::vector<Alternative> alternatives;
};

// {staff_id, service_id, start, end} of a segment, as replies show it.
nlohmann::json segment_json(const Segment& s);

// Appends the members `"conflicts":[...],"alternatives":[...]` of a problem document, as JSON
// text written directly (a 409 is the most common reply under load):
//   conflicts:    [{segment_index, staff_id, kind: appointment|hold, blocked_from,
//                   blocked_until}]
//   alternatives: [{staff_id, service_id, start, end (of the first segment),
//                   segments: [{staff_id, service_id, start, end}], hold_id?, expires_at?}]
void append_members(const SlotConflict& c, std::string& out);

}  // namespace appointd
