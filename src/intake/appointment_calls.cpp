// reschedule_appointment, cancel_appointment and list_my_appointments: only ever the caller's
// own appointments, found by the number they call from.
#include <algorithm>

#include "booking/appointments.h"
#include "booking/attempt.h"
#include "domain/conflict.h"
#include "intake/functions.h"
#include "intake/resolve.h"

namespace appointd::intake {
namespace {

using nlohmann::json;

constexpr int kMaxListed = 10;

Reply caller_unknown(const CallScope& s) {
  Reply r;
  r.result = std::string(say(s.lang,
                             "I can only find appointments by the number you are calling from, "
                             "and I cannot see it. Please call from the number you booked with.",
                             "Termine finde ich nur über die Nummer, von der Sie anrufen, und "
                             "die sehe ich leider nicht. Bitte rufen Sie von der Nummer an, mit "
                             "der Sie gebucht haben."));
  r.error = "caller_unknown";
  return r;
}

Reply none_found(const CallScope& s) {
  Reply r;
  r.result = std::string(say(s.lang, "I could not find an upcoming appointment under your number.",
                             "Unter Ihrer Nummer habe ich keinen anstehenden Termin gefunden."));
  r.error = "no_appointment";
  return r;
}

// The caller's appointment the call means: the one named (if it is theirs and booked), else
// their next one. A Reply when there is none.
std::variant<Appointment, Reply> own_appointment(store::WriteTx& tx, const CallScope& s,
                                                 const ChangePlan& p) {
  if (s.caller.empty()) return caller_unknown(s);
  const Id company = s.route.company.id;
  auto cu = tx.customer_by_phone(company, s.caller);
  if (!cu) return none_found(s);
  if (p.appointment_id) {
    auto a = tx.appointment(company, *p.appointment_id);
    if (!a || a->customer_id != cu->id || a->segments.empty()) return none_found(s);
    return std::move(*a);
  }
  auto next = tx.upcoming_appointments(company, cu->id, s.now, 1);
  if (next.empty()) return none_found(s);
  return std::move(next.front());
}

std::string what_of(const Catalog& cat, const Appointment& a) {
  const Segment& first = a.segments.front();
  const Service* sv = cat.service_by_id(first.service_id);
  return sv ? sv->name : "";
}

}  // namespace

std::variant<Reply, ChangePlan> prepare_change(const CallScope& s, const json& args,
                                               bool reschedule) {
  ChangePlan p;
  Reply r;
  const std::string id = arg_text(args, "appointment_id");
  if (!id.empty()) {
    if (id.size() > 18 || id.find_first_not_of("0123456789") != std::string::npos ||
        std::stoll(id) <= 0) {
      r.result = std::string(say(s.lang, "I could not find that appointment.",
                                 "Diesen Termin habe ich leider nicht gefunden."));
      r.error = "no_appointment";
      return r;
    }
    p.appointment_id = std::stoll(id);
  }
  if (reschedule) {
    const std::string start = arg_text(args, "start");
    p.start = parse_start(start, *s.zone);
    if (!p.start) {
      r.booked = false;
      r.result = fill(say(s.lang, "I did not understand the time \"{0}\".",
                          "Die Zeit \"{0}\" habe ich nicht verstanden."),
                      {start});
      r.error = "invalid_start";
      return r;
    }
  }
  return p;
}

Reply run_reschedule(store::WriteTx& tx, const CallScope& s, const Catalog& cat,
                     const ChangePlan& p) {
  const Language l = s.lang;
  auto own = own_appointment(tx, s, p);
  if (auto* r = std::get_if<Reply>(&own)) return std::move(*r);
  const Appointment& a = std::get<Appointment>(own);
  if (a.status != AppointmentStatus::kBooked)
    return error_reply(s, Error::conflict("cancelled"), a.segments.front().time.from);
  booking::Reschedule cmd;
  cmd.company_id = s.route.company.id;
  cmd.appointment_id = a.id;
  cmd.start = *p.start;
  cmd.now = s.now;
  auto moved = booking::attempt(tx, [&] { return booking::reschedule(tx, cmd); });
  Reply r;
  r.appointment_id = a.id;
  if (moved) {
    r.booked = true;
    r.start = moved->segments.front().time.from;
    r.local_time = spoken_at(l, *s.zone, *r.start);
    r.result = fill(say(l, "I have moved your appointment to {0}.",
                        "Ich habe Ihren Termin auf {0} verschoben."),
                    {r.local_time});
    return r;
  }
  const Error& e = moved.error();
  r = error_reply(s, e, *p.start);
  r.appointment_id = a.id;
  if (e.slot) {
    // A move keeps its staff: only the alternatives with the same person are offered, not held
    // (a hold would block the move itself).
    std::vector<SlotConflict::Alternative> same;
    for (const auto& alt : e.slot->alternatives)
      if (!alt.segments.empty() && alt.segments.front().staff_id == a.segments.front().staff_id &&
          same.size() < kMaxOffers)
        same.push_back(alt);
    r.alternatives = offers_of(s, cat, same);
    std::sort(r.alternatives.begin(), r.alternatives.end(),
              [](const Offer& x, const Offer& y) { return x.start < y.start; });
    if (!r.alternatives.empty())
      r.result =
          fill(say(l, "{0} is not free. I could move it to {1}.",
                   "{0} ist leider nicht frei. Ich könnte ihn auf {1} verschieben."),
               {spoken_at(l, *s.zone, *p.start), spoken_offers(s, r.alternatives, *p.start)});
  }
  return r;
}

Reply run_cancel(store::WriteTx& tx, const CallScope& s, const Catalog& cat, const ChangePlan& p) {
  const Language l = s.lang;
  auto own = own_appointment(tx, s, p);
  if (auto* r = std::get_if<Reply>(&own)) return std::move(*r);
  const Appointment& a = std::get<Appointment>(own);
  const Instant start = a.segments.front().time.from;
  booking::Cancel cmd;
  cmd.company_id = s.route.company.id;
  cmd.appointment_id = a.id;
  cmd.reason = "cancelled by the caller on the phone";
  cmd.now = s.now;
  auto done = booking::attempt(tx, [&] { return booking::cancel(tx, cmd); });
  Reply r;
  if (!done) {
    r = error_reply(s, done.error(), start);
  } else {
    r.cancelled = true;
    r.local_time = spoken_at(l, *s.zone, start);
    r.result = fill(say(l, "I have cancelled your appointment on {0} ({1}).",
                        "Ich habe Ihren Termin am {0} ({1}) abgesagt."),
                    {r.local_time, what_of(cat, a)});
  }
  r.appointment_id = a.id;
  r.start = start;
  r.local_time = spoken_at(l, *s.zone, start);
  return r;
}

Reply list_my_appointments(store::ReadTx& tx, const CallScope& s, const Catalog& cat) {
  if (s.caller.empty()) return caller_unknown(s);
  const Language l = s.lang;
  auto cu = tx.customer_by_phone(s.route.company.id, s.caller);
  std::vector<Appointment> upcoming;
  if (cu) upcoming = tx.upcoming_appointments(s.route.company.id, cu->id, s.now, kMaxListed);
  if (upcoming.empty()) return none_found(s);
  Reply r;
  std::vector<std::string> spoken;
  for (const auto& a : upcoming) {
    const Segment& first = a.segments.front();
    Listed it{a.id, first.time.from, spoken_at(l, *s.zone, first.time.from), what_of(cat, a),
              cat.staff_name(first.staff_id)};
    spoken.push_back(fill(say(l, "{0}, {1} with {2}", "{0}, {1} bei {2}"),
                          {it.local_time, it.service, it.staff_name}));
    r.appointments.push_back(std::move(it));
  }
  r.result = upcoming.size() == 1 ? fill(say(l, "You have one upcoming appointment: {0}.",
                                             "Sie haben einen anstehenden Termin: {0}."),
                                         {spoken.front()})
                                  : fill(say(l, "You have {0} upcoming appointments: {1}.",
                                             "Sie haben {0} anstehende Termine: {1}."),
                                         {std::to_string(upcoming.size()), spoken_list(l, spoken)});
  return r;
}

}  // namespace appointd::intake
