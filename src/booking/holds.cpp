#include "booking/holds.h"

#include <algorithm>

#include "booking/planning.h"
#include "domain/text.h"

namespace appointd::booking {

Result<Hold> create_hold(store::WriteTx& tx, const CreateHold& c) {
  if (c.ttl_seconds < 1 || c.ttl_seconds > kMaxHoldTtl)
    return Error::validation("ttl_seconds must be between 1 and " + std::to_string(kMaxHoldTtl));
  if (!fits_chars(c.owner, 200)) return Error::validation("owner is at most 200 characters");
  Id branch_id = 0;
  auto segs =
      plan(tx, c.company_id, {{c.staff_id, c.service_id, c.start, std::nullopt}}, &branch_id);
  if (!segs) return segs.error();
  if (auto e = check_rules(tx, c.company_id, *segs, c.now)) return *e;
  if (auto e = check_free(tx, c.company_id, branch_id, *segs, c.now)) return *e;
  tx.delete_expired_holds(c.staff_id, c.now);
  const Segment& s = segs->front();
  Hold h{0,
         c.company_id,
         c.staff_id,
         c.service_id,
         s.time,
         s.blocked,
         c.now + Seconds{c.ttl_seconds},
         c.owner};
  h.id = tx.insert_hold(h);
  return h;
}

Result<Id> release_hold(store::WriteTx& tx, Id company_id, Id id) {
  if (!tx.delete_hold(company_id, id)) return Error::not_found("hold");
  return id;
}

int hold_alternatives(store::WriteTx& tx, Id company_id,
                      std::vector<SlotConflict::Alternative>& alternatives, int ttl_seconds,
                      const std::string& owner, Instant now) {
  // Lock every staff member about to be held (ascending, the global order) before checking:
  // an alternative may name other staff than the booking locked, and on PostgreSQL only the
  // staff lock makes "check, then write a hold" safe against a concurrent booking of them.
  std::vector<Id> staff;
  for (const auto& alt : alternatives)
    if (alt.segments.size() == 1) staff.push_back(alt.segments.front().staff_id);
  std::sort(staff.begin(), staff.end());
  staff.erase(std::unique(staff.begin(), staff.end()), staff.end());
  tx.lock_staff(staff);
  for (Id st : staff) tx.delete_expired_holds(st, now);
  int held = 0;
  for (auto& alt : alternatives) {
    if (alt.segments.size() != 1) continue;
    const Segment& s = alt.segments.front();
    Hold h{
        0,    company_id, s.staff_id, s.service_id, s.time, s.blocked, now + Seconds{ttl_seconds},
        owner};
    // Still free in this transaction? (It was when computed; the holds made just before it in
    // this loop are the only change since.)
    if (!tx.blocks(s.staff_id, h.blocked, 0, now).empty()) continue;
    h.id = tx.insert_hold(h);
    alt.hold_id = h.id;
    alt.expires_at = h.expires_at;
    ++held;
  }
  return held;
}

}  // namespace appointd::booking
