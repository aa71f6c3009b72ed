#pragma once
// Slot holds: a start reserved for a staff member and service for a short time. A live hold
// blocks its interval for everyone (I1 counts it) except the booking that converts it
// (Book::hold_id). Expiry needs no sweeper: every reader ignores holds with expires_at <= now,
// and the write path deletes expired ones of the staff it touches.

#include "booking/commands.h"
#include "domain/conflict.h"
#include "domain/error.h"
#include "store/tx.h"

namespace appointd::booking {

inline constexpr int kDefaultHoldTtl = 120;
inline constexpr int kMaxHoldTtl = 900;

// Holds the start as a booking would be made there: the same checks (not_found,
// validation_failed, the scheduling rule codes, slot_unavailable with alternatives), then the
// hold with expires_at = now + ttl_seconds (1..kMaxHoldTtl).
Result<Hold> create_hold(store::WriteTx& tx, const CreateHold& c);

// Releases a hold of the company (live or expired). Errors: not_found.
Result<Id> release_hold(store::WriteTx& tx, Id company_id, Id id);

// Holds the single-segment alternatives of a slot_unavailable for the caller, in the caller's
// transaction after the failed booking's savepoint was rolled back: each one that is still free
// (it is, unless two overlap) becomes a hold and gets its `hold_id` and `expires_at`.
// Alternatives of several segments are left as they are. Returns how many were held.
int hold_alternatives(store::WriteTx& tx, Id company_id,
                      std::vector<SlotConflict::Alternative>& alternatives, int ttl_seconds,
                      const std::string& owner, Instant now);

}  // namespace appointd::booking
