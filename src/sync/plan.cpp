#include "sync/plan.h"

#include <algorithm>
#include <set>

namespace appointd::sync {

std::vector<Step> plan_steps(const std::vector<Wanted>& wanted,
                             const std::vector<ExternalBooking>& known) {
  std::vector<Step> cancels, moves;
  std::set<std::string> used;
  for (const Wanted& w : wanted) {
    const ExternalBooking* exact = nullptr;
    const ExternalBooking* same_type = nullptr;
    for (const auto& k : known) {
      if (!k.live || k.ordinal != w.ordinal || used.count(k.uid)) continue;
      if (k.event_type_id != w.event_type_id) continue;
      if (k.start == w.start && !exact) exact = &k;
      if (!same_type) same_type = &k;
    }
    if (exact) {
      used.insert(exact->uid);
    } else if (same_type) {
      used.insert(same_type->uid);
      moves.push_back({Step::kReschedule, w, same_type->uid});
    } else {
      moves.push_back({Step::kCreate, w, {}});
    }
  }
  std::set<std::string> cancelled;
  for (const auto& k : known)
    if (k.live && !used.count(k.uid) && cancelled.insert(k.uid).second)
      cancels.push_back({Step::kCancel, {k.ordinal, k.event_type_id, k.start, k.start}, k.uid});
  cancels.insert(cancels.end(), moves.begin(), moves.end());
  return cancels;
}

}  // namespace appointd::sync
