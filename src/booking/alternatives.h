#pragma once
// The alternatives a 409 slot_unavailable offers, computed in the write transaction that found
// the conflict, so each one was free (and bookable under the scheduling rules) at that moment.
#include "domain/conflict.h"
#include "domain/model.h"
#include "store/tx.h"

namespace appointd::booking {

inline constexpr size_t kMaxAlternatives = 5;

struct AlternativeQuery {
  Id company_id = 0;
  Id branch_id = 0;               // other staff are offered from this branch
  std::vector<Segment> segments;  // as requested (planned)
  Id exclude = 0;                 // appointment whose segments do not count (reschedule)
  Id ignore_hold = 0;             // hold that does not count (its conversion)
  bool disjoint = false;          // no two alternatives overlap on one staff member
  Instant now{};
};

// Up to kMaxAlternatives alternatives, interleaved nearest first: the same segments moved to
// the nearest free starts after (within 1 day) and before (within 1 day, never in the past),
// and, for a single segment, up to two other staff members of the branch who perform the
// service and are free at the requested time. A scheduled staff member's starts lie on the
// step grid of their working hours; an unscheduled one's on the step grid from the requested
// start. Bounded work: a first pass over 6 hours either side, the full reach only when that
// finds fewer than five; each pass a handful of queries and a capped number of candidates.
std::vector<SlotConflict::Alternative> alternatives(store::ReadTx& tx, const AlternativeQuery& q);
// Announces (ReadTx::expect_blocks) the blocks alternatives() reads for `q`: a store may then
// read them with the overlap check that precedes (only when it finds a conflict), or at the
// first of them. Called before the check (check_free does), not by alternatives() itself.
void announce_alternatives(store::ReadTx& tx, const AlternativeQuery& q);

}  // namespace appointd::booking
