#include "booking/availability.h"

#include <algorithm>
#include <map>
#include <string>

#include "booking/planning.h"
#include "domain/segments.h"

namespace appointd::booking {
namespace {

std::optional<Error> check_window(const Interval& w) {
  if (w.until <= w.from) {
    Error e = Error::validation("to must be after from");
    e.extra["field"] = "to";
    return e;
  }
  if (w.length() > date::days{kMaxAvailabilityDays}) {
    Error e = Error::validation("the window is at most " + std::to_string(kMaxAvailabilityDays) +
                                " days");
    e.extra["field"] = "to";
    return e;
  }
  return std::nullopt;
}

// The staff ids to consider for a service: the one given (checked), or every active one
// performing it.
Result<std::vector<Id>> staff_for(store::ReadTx& tx, Id company_id, Id service_id,
                                  std::optional<Id> staff_id) {
  if (!staff_id) return tx.staff_performing(company_id, service_id);
  auto st = tx.staff(company_id, *staff_id);
  if (!st) return Error::not_found("staff " + std::to_string(*staff_id));
  if (!st->active) return Error::validation("staff " + std::to_string(st->id) + " is not active");
  if (!std::binary_search(st->service_ids.begin(), st->service_ids.end(), service_id))
    return Error::validation("staff " + std::to_string(st->id) + " does not perform service " +
                             std::to_string(service_id));
  return std::vector<Id>{st->id};
}

}  // namespace

Result<Availability> availability(store::ReadTx& tx, const AvailabilityQuery& q) {
  if (auto e = check_window(q.window)) return *e;
  auto svc = tx.service(q.company_id, q.service_id);
  if (!svc) return Error::not_found("service " + std::to_string(q.service_id));
  auto ids = staff_for(tx, q.company_id, svc->id, q.staff_id);
  if (!ids) return ids.error();
  if (!q.staff_id && !q.among.empty())
    std::erase_if(*ids,
                  [&](Id id) { return !std::binary_search(q.among.begin(), q.among.end(), id); });
  auto co = tx.company(q.company_id);
  if (!co) return Error::not_found("company");
  const SlotRules rules = slot_rules(co->settings, q.now);
  Availability out{*svc, {}};
  size_t listed = 0;
  for (const auto& [id, cal] : load_calendars(tx, q.company_id, *ids, q.window, q.now)) {
    StaffSlots s{id, cal.zone, cal.scheduled, {}};
    s.starts = free_starts(cal, *svc, q.window, rules, kMaxSlotsPerReply - listed + 1);
    listed += s.starts.size();
    if (listed > kMaxSlotsPerReply) {
      Error e{ErrorCode::kTooManySlots,
              "more than " + std::to_string(kMaxSlotsPerReply) +
                  " free starts; ask for a shorter window or one staff member"};
      e.extra["max_slots"] = kMaxSlotsPerReply;
      return e;
    }
    out.staff.push_back(std::move(s));
  }
  return out;
}

Result<std::vector<CompositeSequence>> composite_availability(store::ReadTx& tx,
                                                              const CompositeQuery& q) {
  if (q.items.empty() || q.items.size() > static_cast<size_t>(kMaxSegments))
    return Error::validation("services must list 1 to " + std::to_string(kMaxSegments) +
                             " services");
  if (q.limit < 1 || q.limit > kMaxSequences)
    return Error::validation("limit must be between 1 and " + std::to_string(kMaxSequences));
  if (auto e = check_window(q.window)) return *e;
  auto co = tx.company(q.company_id);
  if (!co) return Error::not_found("company");
  std::vector<Service> services;
  std::vector<std::vector<Id>> staff;
  std::vector<Id> all;
  for (const auto& item : q.items) {
    auto svc = tx.service(q.company_id, item.service_id);
    if (!svc) return Error::not_found("service " + std::to_string(item.service_id));
    auto ids = staff_for(tx, q.company_id, svc->id, item.staff_id);
    if (!ids) return ids.error();
    all.insert(all.end(), ids->begin(), ids->end());
    services.push_back(*svc);
    staff.push_back(std::move(*ids));
  }
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());
  // Later services start after the first: widen the loaded window by their total length.
  Interval loaded = q.window;
  for (const auto& s : services)
    loaded.until += Minutes{s.duration_minutes + s.buffer_before_minutes + s.buffer_after_minutes};
  const auto cals = load_calendars(tx, q.company_id, all, loaded, q.now);
  std::vector<CompositeStep> steps;
  for (size_t i = 0; i < services.size(); ++i) {
    CompositeStep st{services[i], {}};
    for (Id id : staff[i]) {
      auto it = cals.find(id);
      if (it != cals.end() && it->second.scheduled) st.options.push_back(&it->second);
    }
    steps.push_back(std::move(st));
  }
  std::vector<CompositeSequence> out;
  for (const auto& seq :
       composite_sequences(steps, q.window, slot_rules(co->settings, q.now), q.limit)) {
    CompositeSequence s;
    for (const auto& p : seq)
      s.push_back({p.staff_id, p.service_id, p.placement.time, cals.at(p.staff_id).zone});
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace appointd::booking
