// book_appointment, and what every function call shares: its scope, the catalogue, once().
#include <algorithm>

#include "booking/appointments.h"
#include "booking/attempt.h"
#include "booking/holds.h"
#include "booking/planning.h"
#include "domain/conflict.h"
#include "domain/segments.h"
#include "domain/text.h"
#include "intake/functions.h"
#include "intake/resolve.h"

namespace appointd::intake {

using nlohmann::json;

std::optional<CallScope> make_scope(const Route& route, const RetellCall& call, Instant now,
                                    PhoneNormalizer& phones) {
  CallScope s;
  s.route = route;
  s.zone = find_zone(route.branch.timezone);
  if (!s.zone) return std::nullopt;
  s.lang = route.settings.language;
  s.call_id = call.call_id;
  s.hidden = is_hidden_number(call.from_number);
  if (!s.hidden)
    if (auto e164 = phones.normalize(call.from_number, route.company.country)) s.caller = *e164;
  s.now = now;
  Call& k = s.skeleton;
  k.company_id = route.company.id;
  k.call_id = call.call_id;
  k.branch_id = route.branch.id;
  k.agent_id = call.agent_id;
  k.from_number = call.from_number;
  k.to_number = call.to_number;
  k.direction = call.direction.empty() ? "inbound" : call.direction;
  k.status = call.call_status.empty() ? "ongoing" : call.call_status;
  k.created_at = k.updated_at = now;
  return s;
}

const Staff* Catalog::staff_by_id(Id id) const {
  for (const auto& st : staff)
    if (st.id == id) return &st;
  return nullptr;
}

std::string Catalog::staff_name(Id id) const {
  const Staff* st = staff_by_id(id);
  return st ? st->name : "";
}

const Service* Catalog::service_by_id(Id id) const {
  for (const auto& sv : services)
    if (sv.id == id) return &sv;
  return nullptr;
}

Catalog load_catalog(store::ReadTx& tx, Id company_id) {
  return {tx.services(company_id), tx.staff_list(company_id)};
}

std::variant<Reply, BookPlan> prepare_book(store::ReadTx& tx, const CallScope& s,
                                           const Catalog& cat, const json& args,
                                           PhoneNormalizer& phones) {
  (void)tx;
  const Language l = s.lang;
  auto service = resolve_service(s, cat, args);
  if (auto* r = std::get_if<Reply>(&service)) return std::move(*r);
  BookPlan p;
  p.service = std::get<Service>(service);
  auto staff = resolve_staff(s, cat, args, p.service);
  if (auto* r = std::get_if<Reply>(&staff)) return std::move(*r);
  if (const auto& st = std::get<std::optional<Staff>>(staff))
    p.candidates = {st->id};
  else
    p.candidates = branch_staff(s, cat, p.service.id);
  Reply r;
  r.booked = false;
  if (p.candidates.empty()) {
    r.result = fill(say(l, "Nobody here offers {0} at the moment.",
                        "{0} bietet hier im Moment leider niemand an."),
                    {p.service.name});
    r.error = "no_staff";
    return r;
  }
  const std::string start = arg_text(args, "start");
  auto t = parse_start(start, *s.zone);
  if (!t) {
    r.result = fill(say(l, "I did not understand the time \"{0}\".",
                        "Die Zeit \"{0}\" habe ich nicht verstanden."),
                    {start});
    r.error = "invalid_start";
    return r;
  }
  p.start = *t;
  p.name = arg_text(args, "name");
  p.notes = arg_text(args, "notes");
  if (!fits_chars(p.name, 200) || !fits_chars(p.notes, 2000)) {
    r.result = std::string(
        say(l, "The name or the note is too long.", "Der Name oder die Notiz ist zu lang."));
    r.error = "invalid_arguments";
    return r;
  }
  if (!s.caller.empty()) {
    p.phone = s.caller;
  } else {
    const std::string given = arg_text(args, "phone");
    if (given.empty()) {
      r.result = s.hidden ? std::string(say(l,
                                            "Your number is hidden. Which number can we reach "
                                            "you on, for the booking?",
                                            "Ihre Nummer ist unterdrückt. Unter welcher Nummer "
                                            "erreichen wir Sie, für die Buchung?"))
                          : std::string(say(l,
                                            "I cannot use the number you are calling from. "
                                            "Which number can we reach you on?",
                                            "Ihre Nummer kann ich leider nicht verwenden. Unter "
                                            "welcher Nummer erreichen wir Sie?"));
      r.error = "phone_required";
      return r;
    }
    auto e164 = phones.normalize(given, s.route.company.country);
    if (!e164) return error_reply(s, {ErrorCode::kInvalidPhone, "invalid phone"}, p.start);
    p.phone = *e164;
  }
  return p;
}

namespace {

// The staff member and hold a booking of p should use: the call's own hold of that time when
// it has one (else the call's holds that overlap the time are released), else the first
// candidate free then under the rules, else the first the rules allow (its booking then reports
// the conflict and its alternatives), else the first.
std::pair<Id, Id> choose_staff(store::WriteTx& tx, const CallScope& s, const BookPlan& p) {
  const auto held = tx.holds_of_owner(s.route.company.id, s.call_id, s.now);
  for (const Hold& h : held)
    if (h.service_id == p.service.id && h.time.from == p.start &&
        std::find(p.candidates.begin(), p.candidates.end(), h.staff_id) != p.candidates.end())
      return {h.staff_id, h.id};
  // The caller wants a time near one held for them (the agent named another start or person):
  // their holds in its way go, so the call never collides with itself. The others stay.
  if (auto seg =
          plan_segment({p.candidates.front(), p.service.id, p.start, std::nullopt}, p.service))
    for (const Hold& h : held)
      if (h.blocked.overlaps(seg->blocked)) tx.delete_hold(s.route.company.id, h.id);
  Id allowed = 0;
  for (Id st : p.candidates) {
    auto seg = plan_segment({st, p.service.id, p.start, std::nullopt}, p.service);
    if (!seg) break;  // the same for every candidate: book() reports it
    if (booking::check_rules(tx, s.route.company.id, {*seg}, s.now)) continue;
    if (tx.blocks(st, seg->blocked, 0, s.now).empty()) return {st, 0};
    if (!allowed) allowed = st;
  }
  return {allowed ? allowed : p.candidates.front(), 0};
}

}  // namespace

Reply run_book(store::WriteTx& tx, const CallScope& s, const Catalog& cat, const BookPlan& p) {
  const Language l = s.lang;
  const Id company = s.route.company.id;
  const auto [staff, hold] = choose_staff(tx, s, p);
  booking::Book cmd;
  cmd.company_id = company;
  cmd.customer = booking::CustomerInput{p.phone, p.name, "", true};
  cmd.segments = {{staff, p.service.id, p.start, std::nullopt}};
  cmd.notes = p.notes;
  cmd.source = "phone";
  cmd.call_id = s.call_id;
  cmd.now = s.now;
  if (hold) cmd.hold_id = hold;
  cmd.disjoint_alternatives = true;
  auto booked = booking::attempt(tx, [&] { return booking::book(tx, cmd); });
  Reply r;
  if (booked) {
    // The other times held for this call are not needed any more.
    for (const Hold& h : tx.holds_of_owner(company, s.call_id, s.now))
      tx.delete_hold(company, h.id);
    const Appointment& a = *booked;
    r.booked = true;
    r.appointment_id = a.id;
    r.start = a.segments.front().time.from;
    r.local_time = spoken_at(l, *s.zone, *r.start);
    r.result = fill(say(l, "You are booked for {0}, {1} with {2}.",
                        "Ich habe Sie für {0} eingetragen, {1} bei {2}."),
                    {r.local_time, p.service.name, cat.staff_name(staff)});
    return r;
  }
  const Error& e = booked.error();
  if (!e.slot || e.slot->alternatives.empty()) return error_reply(s, e, p.start);
  auto alts = e.slot->alternatives;
  if (alts.size() > kMaxOffers) alts.resize(kMaxOffers);
  // Held for this call, in this transaction, after the failed booking's savepoint was undone.
  booking::hold_alternatives(tx, company, alts, kCallHoldSeconds, s.call_id, s.now);
  std::erase_if(alts, [](const auto& a) { return a.hold_id == 0; });
  if (alts.empty()) return error_reply(s, e, p.start);
  r.booked = false;
  r.error = "slot_unavailable";
  r.alternatives = offers_of(s, cat, alts);
  std::sort(r.alternatives.begin(), r.alternatives.end(),
            [](const Offer& a, const Offer& b) { return a.start < b.start; });
  r.result = fill(say(l,
                      "{0} is no longer free. I can offer {1}; I am holding these for you for "
                      "a few minutes.",
                      "{0} ist leider nicht mehr frei. Ich kann Ihnen {1} anbieten; ich halte "
                      "Ihnen diese Zeiten ein paar Minuten frei."),
                  {spoken_at(l, *s.zone, p.start), spoken_offers(s, r.alternatives, p.start)});
  return r;
}

Answer once(store::WriteTx& tx, const CallScope& s, const FunctionRequest& f,
            const std::function<Reply(store::WriteTx&)>& fn) {
  // The call's row lock first: a retry that runs beside the first waits here, then finds its
  // reply (PostgreSQL reads what committed meanwhile; SQLite runs writes one at a time).
  tx.lock_call(s.skeleton);
  const Id company = s.route.company.id;
  auto prior = tx.intake_reply(company, s.call_id, f.name, f.args_fingerprint);
  if (prior && s.now - prior->created_at < kRetryWindow) {
    // A replay (rare): its outcome is read back from the text stored.
    auto j = json::parse(prior->body, nullptr, false);
    const bool failed = j.is_object() && j.contains("error") && j["error"].is_string();
    return {prior->body, failed ? j["error"].get<std::string>() : "ok"};
  }
  Reply r = fn(tx);
  std::string body = render(r);
  IntakeReply stored;
  stored.company_id = company;
  stored.call_id = s.call_id;
  stored.function = f.name;
  stored.args_fingerprint = f.args_fingerprint;
  stored.seq = prior ? prior->seq + 1 : 1;
  stored.body = body;
  // Only the appointment it booked, moved or cancelled counts as the call's.
  if (r.booked.value_or(false) || r.cancelled.value_or(false))
    stored.appointment_id = r.appointment_id;
  stored.created_at = s.now;
  tx.insert_intake_reply(stored);
  return {std::move(body), r.error.empty() ? "ok" : r.error};
}

Reply unknown_function(const CallScope& s, const std::string& name) {
  Reply r;
  r.result =
      fill(say(s.lang, "I cannot do \"{0}\" here.", "\"{0}\" kann ich hier nicht tun."), {name});
  r.error = "unknown_function";
  return r;
}

}  // namespace appointd::intake
