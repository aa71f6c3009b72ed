#include "booking/appointments.h"

#include <algorithm>
#include <map>

#include "booking/customers.h"
#include "booking/planning.h"
#include "domain/conflict.h"
#include "domain/text.h"

namespace appointd::booking {
namespace {

using nlohmann::json;

// The hold a booking converts: of the company, live, and matching one of the segments.
Result<Hold> hold_for(store::ReadTx& tx, Id company_id, Id hold_id,
                      const std::vector<Segment>& segs, Instant now) {
  auto h = tx.hold(company_id, hold_id);
  if (!h) return Error::not_found("hold");
  if (!h->live(now))
    return Error{ErrorCode::kHoldExpired, "hold " + std::to_string(hold_id) + " expired at " +
                                              format_rfc3339(h->expires_at)};
  for (const auto& s : segs)
    if (s.staff_id == h->staff_id && s.service_id == h->service_id && s.time.from == h->time.from)
      return std::move(*h);
  return Error{ErrorCode::kHoldMismatch, "hold " + std::to_string(hold_id) +
                                             " is for another staff member, service or start"};
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
  if (!fits_chars(c.notes, 2000)) return Error::validation("notes are at most 2000 characters");
  Id customer_id = 0;
  if (c.customer_id) {
    auto cu = tx.customer(c.company_id, *c.customer_id);
    if (!cu) return Error::not_found("customer");
    customer_id = cu->id;
  } else if (!c.customer) {
    return Error::validation("customer or customer_id is required");
  }
  Id branch_id = 0;
  auto segs = plan(tx, c.company_id, c.segments, &branch_id);
  if (!segs) return segs.error();
  Id hold_id = 0;
  if (c.hold_id) {
    auto h = hold_for(tx, c.company_id, *c.hold_id, *segs, c.now);
    if (!h) return h.error();
    hold_id = h->id;
  }
  if (auto e = check_rules(tx, c.company_id, *segs, c.now)) return *e;
  {
    // What follows a free check, for a store that can send it with the check (tx.h).
    store::WriteTx::BookingAhead ahead;
    ahead.segments = static_cast<int>(segs->size());
    ahead.hold_id = hold_id;
    const auto& in = c.customer;
    if (in && in->phone_normalized && customer_text_fits(*in))
      ahead.customer = Customer{0, c.company_id, in->phone, in->name, in->email, c.source, c.now};
    tx.expect_booking(ahead);
  }
  if (auto e = check_free(tx, c.company_id, branch_id, *segs, c.now,
                          {0, hold_id, c.disjoint_alternatives}))
    return *e;
  // The customer is upserted only once the time is known to be free: a conflict (the common
  // failure under load) costs no customer write to undo.
  if (c.customer) {
    auto r = upsert_customer(tx, {c.company_id, *c.customer, c.source, c.now});
    if (!r) return r.error();
    customer_id = r->customer.id;
  }
  // The converted hold goes with the booking; expired holds of these staff go too (they block
  // nothing already: housekeeping, so the table does not grow without a sweeper).
  if (hold_id) tx.delete_hold(c.company_id, hold_id);
  for (Id st : staff_of(*segs)) tx.delete_expired_holds(st, c.now);

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
  if (!fits_chars(c.reason, 2000)) return Error::validation("reason is at most 2000 characters");
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
    Id branch_id = 0;  // the appointment keeps its branch (update_appointment does not move it)
    auto planned = plan(tx, c.company_id, *c.segments, &branch_id);
    if (!planned) return planned.error();
    next = std::move(*planned);
  }
  // Lock the staff of the old segments too: their time is given back in this transaction.
  std::vector<Segment> both = current;
  both.insert(both.end(), next.begin(), next.end());
  tx.lock_staff(staff_of(both));
  if (auto e = check_rules(tx, c.company_id, next, c.now)) return *e;
  if (auto e = check_free(tx, c.company_id, a->branch_id, next, c.now, {a->id, 0, false}))
    return *e;

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
