#include "booking/appointments.h"

#include <algorithm>
#include <map>

#include "booking/customers.h"

namespace appointd::booking {
namespace {

using nlohmann::json;

constexpr Minutes kAlternativeStep{15};
constexpr int kAlternativeSteps = 48;  // look 12 h either way
constexpr size_t kMaxAlternatives = 5;
constexpr size_t kMaxOtherStaff = 2;     // other staff offered at the requested time
constexpr size_t kOtherStaffProbes = 8;  // bounded work on the writer for a busy day

// Resolves staff and services, checks the staff member performs the service, and computes the
// timed and blocked intervals of every segment. *branch_id: the first segment's staff's branch.
Result<std::vector<Segment>> plan(store::WriteTx& tx, Id company_id,
                                  const std::vector<SegmentRequest>& reqs, Id* branch_id) {
  if (reqs.empty()) return Error::validation("segments must not be empty");
  if (reqs.size() > static_cast<size_t>(kMaxSegments))
    return Error::validation("too many segments");
  std::vector<Segment> out;
  std::map<Id, Staff> staff_cache;
  for (const auto& r : reqs) {
    auto it = staff_cache.find(r.staff_id);
    if (it == staff_cache.end()) {
      auto st = tx.staff(company_id, r.staff_id);
      if (!st) return Error::not_found("staff " + std::to_string(r.staff_id));
      it = staff_cache.emplace(r.staff_id, std::move(*st)).first;
    }
    const Staff& st = it->second;
    if (out.empty()) *branch_id = st.branch_id;
    if (!st.active) return Error::validation("staff " + std::to_string(st.id) + " is not active");
    auto svc = tx.service(company_id, r.service_id);
    if (!svc) return Error::not_found("service " + std::to_string(r.service_id));
    if (!std::binary_search(st.service_ids.begin(), st.service_ids.end(), svc->id))
      return Error::validation("staff " + std::to_string(st.id) + " does not perform service " +
                               std::to_string(svc->id));
    auto seg = plan_segment(r, *svc);
    if (!seg) return seg.error();
    out.push_back(*seg);
  }
  if (auto e = check_composite(out)) return *e;
  return out;
}

std::vector<Id> staff_of(const std::vector<Segment>& segs) {
  std::vector<Id> ids;
  for (const auto& s : segs) ids.push_back(s.staff_id);
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

json segment_json(const Segment& s) {
  return {{"staff_id", s.staff_id},
          {"service_id", s.service_id},
          {"start", format_rfc3339(s.time.from)},
          {"end", format_rfc3339(s.time.until)}};
}

std::vector<Segment> shifted(const std::vector<Segment>& segs, Seconds d) {
  std::vector<Segment> out = segs;
  for (auto& s : out) {
    s.time = {s.time.from + d, s.time.until + d};
    s.blocked = {s.blocked.from + d, s.blocked.until + d};
  }
  return out;
}

// Free alternatives, computed in the transaction that found the conflict (so each was free at
// that moment): the same segments shifted to the nearest free times after and before, and for
// a single segment, other staff members of the branch who perform the service at that time.
json alternatives(store::WriteTx& tx, Id company_id, Id branch_id, const std::vector<Segment>& segs,
                  Id exclude, Instant now) {
  const Seconds reach = kAlternativeStep * kAlternativeSteps;
  std::map<Id, std::vector<Interval>> busy;
  Interval window{segs.front().blocked.from, segs.front().blocked.until};
  for (const auto& s : segs) {
    window.from = std::min(window.from, s.blocked.from);
    window.until = std::max(window.until, s.blocked.until);
  }
  window = {window.from - reach, window.until + reach};
  for (Id st : staff_of(segs))
    for (const auto& b : tx.blocks(st, window, exclude, now)) busy[st].push_back(b.blocked);
  auto free = [&](const std::vector<Segment>& cand) {
    if (cand.front().time.from < now) return false;
    for (const auto& s : cand)
      for (const auto& b : busy[s.staff_id])
        if (b.overlaps(s.blocked)) return false;
    return true;
  };
  auto encode = [&](const std::vector<Segment>& cand) {
    json j = segment_json(cand.front());
    json parts = json::array();
    for (const auto& s : cand) parts.push_back(segment_json(s));
    j["segments"] = std::move(parts);
    return j;
  };

  // Candidates are kept as segments; only the ones returned are encoded.
  std::vector<std::vector<Segment>> after, before, others;
  for (int k = 1; k <= kAlternativeSteps && after.size() < kMaxAlternatives; ++k) {
    auto cand = shifted(segs, kAlternativeStep * k);
    if (free(cand)) after.push_back(std::move(cand));
  }
  for (int k = 1; k <= kAlternativeSteps && before.size() < kMaxAlternatives; ++k) {
    auto cand = shifted(segs, -kAlternativeStep * k);
    if (free(cand)) before.push_back(std::move(cand));
  }
  if (segs.size() == 1 && segs.front().time.from >= now) {
    const Segment& s = segs.front();
    size_t probes = 0;
    for (Id other : tx.staff_for_service(company_id, branch_id, s.service_id)) {
      if (others.size() >= kMaxOtherStaff || probes >= kOtherStaffProbes) break;
      if (other == s.staff_id) continue;
      ++probes;
      if (!tx.blocks(other, s.blocked, 0, now).empty()) continue;
      Segment moved = s;
      moved.staff_id = other;
      others.push_back({moved});
    }
  }
  // Interleave: nearest after, nearest before, other staff now, then further out.
  json out = json::array();
  size_t ia = 0, ib = 0, io = 0;
  while (out.size() < kMaxAlternatives &&
         (ia < after.size() || ib < before.size() || io < others.size())) {
    if (ia < after.size()) out.push_back(encode(after[ia++]));
    if (out.size() < kMaxAlternatives && ib < before.size()) out.push_back(encode(before[ib++]));
    if (out.size() < kMaxAlternatives && io < others.size()) out.push_back(encode(others[io++]));
  }
  return out;
}

// Locks the staff rows, then checks every segment against others' time (I1). Returns the
// slot_unavailable error, or nullopt when all segments are free.
std::optional<Error> check_free(store::WriteTx& tx, Id company_id, Id branch_id,
                                const std::vector<Segment>& segs, Id exclude, Instant now) {
  auto ids = staff_of(segs);
  tx.lock_staff(ids);
  json conflicts = json::array();
  for (size_t i = 0; i < segs.size(); ++i)
    for (const auto& b : tx.blocks(segs[i].staff_id, segs[i].blocked, exclude, now))
      conflicts.push_back({{"segment_index", i},
                           {"staff_id", b.staff_id},
                           {"kind", b.kind == Block::kHold ? "hold" : "appointment"},
                           {"blocked_from", format_rfc3339(b.blocked.from)},
                           {"blocked_until", format_rfc3339(b.blocked.until)}});
  if (conflicts.empty()) return std::nullopt;
  Error e{ErrorCode::kSlotUnavailable, "the requested time is no longer free"};
  e.extra["conflicts"] = std::move(conflicts);
  e.extra["alternatives"] = alternatives(tx, company_id, branch_id, segs, exclude, now);
  return e;
}

void insert_segments(store::WriteTx& tx, Appointment& a, std::vector<Segment> segs) {
  std::sort(segs.begin(), segs.end(),
            [](const Segment& x, const Segment& y) { return x.time.from < y.time.from; });
  for (auto& s : segs) {
    s.appointment_id = a.id;
    s.active = true;
    s.id = tx.insert_segment(a.company_id, s);
  }
  a.segments = std::move(segs);
}

json segments_payload(const std::vector<Segment>& segs) {
  json arr = json::array();
  for (const auto& s : segs)
    if (s.active) arr.push_back(segment_json(s));
  return arr;
}

void record(store::WriteTx& tx, const Appointment& a, const char* kind, const char* action,
            json payload, Instant now) {
  payload["version"] = a.version;
  tx.append_event({0, a.company_id, a.id, kind, payload.dump(), now});
  tx.enqueue_sync(a.id, action, a.version, now);
}

// Loads an appointment for a change and checks its status and expected version.
Result<Appointment> load_for_change(store::WriteTx& tx, Id company_id, Id id,
                                    std::optional<std::int64_t> expected) {
  auto a = tx.appointment(company_id, id);
  if (!a) return Error::not_found("appointment");
  if (expected && *expected != a->version) return Error::version_mismatch(*expected, a->version);
  if (a->status == AppointmentStatus::kCancelled)
    return Error::conflict("the appointment is cancelled");
  return std::move(*a);
}

}  // namespace

Result<Appointment> book(store::WriteTx& tx, const Book& c) {
  if (c.notes.size() > 2000) return Error::validation("notes are at most 2000 characters");
  Id customer_id = 0;
  if (c.customer_id) {
    auto cu = tx.customer(c.company_id, *c.customer_id);
    if (!cu) return Error::not_found("customer");
    customer_id = cu->id;
  } else if (c.customer) {
    auto r = upsert_customer(tx, {c.company_id, *c.customer, c.source, c.now});
    if (!r) return r.error();
    customer_id = r->customer.id;
  } else {
    return Error::validation("customer or customer_id is required");
  }
  Id branch_id = 0;
  auto segs = plan(tx, c.company_id, c.segments, &branch_id);
  if (!segs) return segs.error();
  if (auto e = check_free(tx, c.company_id, branch_id, *segs, 0, c.now)) return *e;

  Appointment a;
  a.company_id = c.company_id;
  a.branch_id = branch_id;
  a.customer_id = customer_id;
  a.status = AppointmentStatus::kBooked;
  a.version = 1;
  a.source = c.source;
  a.notes = c.notes;
  a.call_id = c.call_id;
  a.created_at = a.updated_at = c.now;
  a.id = tx.insert_appointment(a);
  insert_segments(tx, a, std::move(*segs));
  record(tx, a, "appointment.booked", "create",
         {{"customer_id", customer_id}, {"segments", segments_payload(a.segments)}}, c.now);
  return a;
}

Result<Appointment> cancel(store::WriteTx& tx, const Cancel& c) {
  if (c.reason.size() > 2000) return Error::validation("reason is at most 2000 characters");
  auto a = load_for_change(tx, c.company_id, c.appointment_id, c.expected_version);
  if (!a) return a;
  tx.deactivate_segments(a->id);
  for (auto& s : a->segments) s.active = false;
  a->status = AppointmentStatus::kCancelled;
  a->version += 1;
  a->updated_at = c.now;
  tx.update_appointment(*a);
  record(tx, *a, "appointment.cancelled", "cancel", {{"reason", c.reason}}, c.now);
  return a;
}

Result<Appointment> reschedule(store::WriteTx& tx, const Reschedule& c) {
  if (c.start.has_value() == c.segments.has_value())
    return Error::validation("give either start or segments");
  auto a = load_for_change(tx, c.company_id, c.appointment_id, c.expected_version);
  if (!a) return a;
  std::vector<Segment> current;
  for (const auto& s : a->segments)
    if (s.active) current.push_back(s);
  std::vector<Segment> next;
  if (c.start) {
    if (current.empty()) return Error::conflict("the appointment has no active segments");
    next = shifted(current, *c.start - current.front().time.from);
  } else {
    auto planned = plan(tx, c.company_id, *c.segments, &a->branch_id);
    if (!planned) return planned.error();
    next = std::move(*planned);
  }
  // Lock the staff of the old segments too: their time is given back in this transaction.
  auto ids = staff_of(current);
  for (Id id : staff_of(next)) ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  tx.lock_staff(ids);
  if (auto e = check_free(tx, c.company_id, a->branch_id, next, a->id, c.now)) return *e;

  json from = segments_payload(current);
  tx.delete_segments(a->id);
  a->version += 1;
  a->updated_at = c.now;
  tx.update_appointment(*a);
  insert_segments(tx, *a, std::move(next));
  record(tx, *a, "appointment.rescheduled", "reschedule",
         {{"from", std::move(from)}, {"to", segments_payload(a->segments)}}, c.now);
  return a;
}

}  // namespace appointd::booking
