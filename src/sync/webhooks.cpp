#include "sync/webhooks.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "booking/appointments.h"
#include "booking/attempt.h"
#include "sync/providers/calcom/calcom_client.h"

namespace appointd::sync {
namespace {

using nlohmann::json;

std::string str(const json& o, const char* k) {
  auto it = o.find(k);
  return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::int64_t num(const json& o, const char* k) {
  auto it = o.find(k);
  if (it == o.end()) return 0;
  if (it->is_number_integer()) return it->get<std::int64_t>();
  if (it->is_string()) {
    try {
      return std::stoll(it->get<std::string>());
    } catch (...) {
    }
  }
  return 0;
}

// A sync job of the appointment is running: its result is not recorded yet, so what the
// webhook reports may be that job's own echo. Wait for it.
bool job_running(store::WriteTx& tx, Id appointment_id, Instant now) {
  const Id ids[] = {appointment_id};
  for (const auto& j : tx.open_sync_jobs(ids))
    if (j.state == JobState::kRunning && j.lease_until > now) return true;
  return false;
}

void mark_dead(store::WriteTx& tx, ExternalBooking b) {
  b.live = false;
  tx.record_external_booking(b);
}

void flag(store::WriteTx& tx, Appointment a, const std::string& why, Instant now) {
  a.needs_attention = true;
  a.updated_at = now;
  tx.update_appointment(a);
  tx.append_event({0, a.company_id, a.id, "appointment.needs_attention",
                   json{{"reason", why}, {"version", a.version}}.dump(), now});
}

WebhookResult on_cancelled(store::WriteTx& tx, Id company_id, const json& p, Instant now) {
  auto known = tx.external_booking(kProviderCalcom, str(p, "uid"));
  if (!known) return {"unknown_booking"};
  auto a = tx.appointment(company_id, known->appointment_id);
  if (!a) return {"unknown_booking"};
  if (!known->live) return {"echo", a->id};  // we cancelled it (or learnt so already)
  if (job_running(tx, a->id, now)) return {"deferred", a->id};
  mark_dead(tx, *known);
  if (a->status != AppointmentStatus::kBooked) return {"echo", a->id};
  booking::Cancel c{company_id, a->id, std::nullopt, "cancelled in Cal.com", now};
  auto r = booking::attempt(tx, [&] { return booking::cancel(tx, c); });
  if (!r.ok()) return {"ignored", a->id};
  return {"cancelled", a->id};
}

WebhookResult on_rescheduled(store::WriteTx& tx, Id company_id, const json& p, Instant now) {
  const std::string uid = str(p, "uid");
  if (auto mine = tx.external_booking(kProviderCalcom, uid)) return {"echo", mine->appointment_id};
  auto old = tx.external_booking(kProviderCalcom, str(p, "rescheduleUid"));
  if (!old) return {"unknown_booking"};
  auto a = tx.appointment(company_id, old->appointment_id);
  if (!a) return {"unknown_booking"};
  auto start = parse_rfc3339(str(p, "startTime"));
  if (!start) return {"malformed", a->id};
  if (job_running(tx, a->id, now)) return {"deferred", a->id};
  // Cal.com moved the booking: the old one is gone, the new one is ours.
  mark_dead(tx, *old);
  tx.record_external_booking(
      {a->id, old->ordinal, kProviderCalcom, uid, old->event_type_id, *start, true});
  std::vector<Segment> active;
  for (const auto& g : a->segments)
    if (g.active) active.push_back(g);
  if (a->status != AppointmentStatus::kBooked || old->ordinal >= static_cast<int>(active.size()))
    return {"ignored", a->id};
  const Segment& moved = active[old->ordinal];
  if (moved.time.from == *start) return {"echo", a->id};  // our own reschedule, seen first
  booking::Reschedule r;
  r.company_id = company_id;
  r.appointment_id = a->id;
  r.start = active.front().time.from + (*start - moved.time.from);
  r.now = now;
  auto done = booking::attempt(tx, [&] { return booking::reschedule(tx, r); });
  if (done.ok()) return {"rescheduled", a->id};
  flag(tx, *a,
       "moved in Cal.com to " + format_rfc3339(*start) +
           ", which appointd cannot take: " + done.error().detail,
       now);
  return {"needs_attention", a->id};
}

WebhookResult on_created(store::WriteTx& tx, Id company_id, const json& p, Instant now) {
  const std::string uid = str(p, "uid");
  if (auto k = tx.external_booking(kProviderCalcom, uid)) return {"echo", k->appointment_id};
  if (auto m = p.find("metadata");
      m != p.end() && m->is_object() && m->contains(calcom::kMetaAppointment))
    return {"echo"};  // ours, made by a sync job whose result is not recorded yet
  CalendarBooking b;
  b.uid = uid;
  b.event_type_id = num(p, "eventTypeId");
  auto start = parse_rfc3339(str(p, "startTime"));
  auto end = parse_rfc3339(str(p, "endTime"));
  if (uid.empty() || !start || !end || *end <= *start) return {"malformed"};
  b.start = *start;
  b.end = *end;
  if (auto at = p.find("attendees");
      at != p.end() && at->is_array() && !at->empty() && (*at)[0].is_object()) {
    b.name = str((*at)[0], "name");
    b.email = str((*at)[0], "email");
    b.phone = str((*at)[0], "phoneNumber");
  }
  return import_booking(tx, company_id, b, now);
}

}  // namespace

std::string sign_body(std::string_view secret, std::string_view body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &len);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += hex[mac[i] >> 4];
    out += hex[mac[i] & 15];
  }
  return out;
}

bool valid_signature(std::string_view secret, std::string_view body, std::string_view header) {
  const std::string want = sign_body(secret, body);
  std::string got(header);
  std::transform(got.begin(), got.end(), got.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (got.rfind("sha256=", 0) == 0) got = got.substr(7);
  return got.size() == want.size() && CRYPTO_memcmp(got.data(), want.data(), want.size()) == 0;
}

WebhookResult import_booking(store::WriteTx& tx, Id company_id, const CalendarBooking& b,
                             Instant now) {
  if (auto k = tx.external_booking(kProviderCalcom, b.uid)) return {"echo", k->appointment_id};
  std::optional<EventTypeMapping> m;
  for (const auto& x : tx.event_types(company_id, std::nullopt))
    if (x.event_type_id == b.event_type_id) m = x;
  if (!m) return {"unmapped"};
  auto staff = tx.staff(company_id, m->staff_id);
  auto service = tx.service(company_id, m->service_id);
  if (!staff || !service) return {"unmapped"};
  // Customers are keyed by phone; a Cal.com attendee may have none (documented in docs/sync.md).
  Customer c;
  c.company_id = company_id;
  c.phone = !b.phone.empty() && b.phone[0] == '+' ? b.phone
            : !b.email.empty()                    ? "email:" + b.email
                                                  : "calcom:" + b.uid;
  c.name = b.name;
  c.email = b.email;
  c.source = "calcom";
  c.created_at = now;
  const auto customer = tx.upsert_customer(c).customer;
  Segment g;
  g.staff_id = staff->id;
  g.service_id = service->id;
  g.time = {b.start, b.end};
  g.blocked = {b.start - std::chrono::minutes(service->buffer_before_minutes),
               b.end + std::chrono::minutes(service->buffer_after_minutes)};
  const Id staff_ids[] = {staff->id};
  tx.lock_staff(staff_ids);
  const bool collides = !tx.blocks(staff->id, g.blocked, 0, now).empty();
  Appointment a;
  a.company_id = company_id;
  a.branch_id = staff->branch_id;
  a.customer_id = customer.id;
  a.status = collides ? AppointmentStatus::kConflict : AppointmentStatus::kBooked;
  a.source = "calcom";
  a.external_provider = kProviderCalcom;
  a.external_id = b.uid;
  a.created_at = a.updated_at = now;
  a.id = tx.insert_appointment(a);
  g.appointment_id = a.id;
  g.active = !collides;  // a conflict blocks nothing (and may overlap what it collides with)
  g.id = tx.insert_segment(company_id, g);
  tx.append_event({0, company_id, a.id,
                   collides ? "appointment.import_conflict" : "appointment.imported",
                   json{{"uid", b.uid},
                        {"start", format_rfc3339(b.start)},
                        {"end", format_rfc3339(b.end)},
                        {"staff_id", staff->id},
                        {"service_id", service->id},
                        {"version", 1}}
                       .dump(),
                   now});
  tx.record_external_booking({a.id, 0, kProviderCalcom, b.uid, b.event_type_id, b.start, true});
  return {collides ? "import_conflict" : "imported", a.id};
}

WebhookResult process_webhook(store::WriteTx& tx, const WebhookDelivery& d, Instant now) {
  WebhookResult r{"malformed"};
  auto body = json::parse(d.body, nullptr, false);
  if (body.is_object() && body.contains("payload") && body["payload"].is_object()) {
    const auto& p = body["payload"];
    const std::string trigger = str(body, "triggerEvent");
    if (trigger == "BOOKING_CANCELLED")
      r = on_cancelled(tx, d.company_id, p, now);
    else if (trigger == "BOOKING_RESCHEDULED")
      r = on_rescheduled(tx, d.company_id, p, now);
    else if (trigger == "BOOKING_CREATED")
      r = on_created(tx, d.company_id, p, now);
    else
      r = {"ignored"};
  }
  if (r.outcome != "deferred") tx.finish_webhook(d.id, r.outcome, now);
  return r;
}

}  // namespace appointd::sync
