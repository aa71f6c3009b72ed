#pragma once
// Retell's custom functions (docs/retell.md): check_availability, book_appointment,
// reschedule_appointment, cancel_appointment, list_my_appointments. Each turns a function call
// into booking use cases and their outcome into a Reply the agent can say.
//
// The work is split in two: prepare_*() runs on a read transaction before the write (names,
// times and phone numbers are resolved there, off the writer), and run_*() inside the write
// transaction, which once() wraps: one call's function calls are applied one after the other
// (the call's row lock), and a retried call (same call id, function and arguments) replays the
// reply stored with the first one's effect.
#include <functional>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "domain/intake.h"
#include "domain/model.h"
#include "domain/phone.h"
#include "domain/zone.h"
#include "intake/reply.h"
#include "intake/retell_config.h"
#include "intake/retell_wire.h"
#include "store/tx.h"

namespace appointd::intake {

// How long the alternatives offered for a taken time stay held for the call.
inline constexpr int kCallHoldSeconds = 300;
// How long a stored reply answers a repeat of its function call (same call, function and
// arguments): Retell retries a function within its timeout (10 s in deploy/retell/functions.json,
// twice). Later, the same words are a new request ("cancel my next one", then "and the next").
inline constexpr Seconds kRetryWindow{60};
// Alternatives offered at most, and free starts check_availability names at most.
inline constexpr std::size_t kMaxOffers = 3;
inline constexpr std::size_t kMaxFreeStarts = 5;

// One function call in its company and branch.
struct CallScope {
  Route route;
  const Zone* zone = nullptr;  // the branch's
  Language lang = Language::kEn;
  std::string call_id;
  std::string caller;   // the caller's number in E.164; empty when hidden or not valid
  bool hidden = false;  // the caller's number is hidden (anonymous)
  Call skeleton;        // the call's row as this request knows it (inserted when new)
  Instant now{};
};

// The scope of a request routed to `route`; nullopt when the branch's zone is unknown.
std::optional<CallScope> make_scope(const Route& route, const RetellCall& call, Instant now,
                                    PhoneNormalizer& phones);

// The company's catalogue as the functions need it (read before the write).
struct Catalog {
  std::vector<Service> services;
  std::vector<Staff> staff;  // every staff member of the company
  const Staff* staff_by_id(Id id) const;
  std::string staff_name(Id id) const;
  const Service* service_by_id(Id id) const;
};
Catalog load_catalog(store::ReadTx& tx, Id company_id);

// --- read-only functions ---

Reply check_availability(store::ReadTx& tx, const CallScope& s, const Catalog& cat,
                         const nlohmann::json& args);
Reply list_my_appointments(store::ReadTx& tx, const CallScope& s, const Catalog& cat);

// --- functions with an effect: prepared on a read, run in the write ---

struct BookPlan {
  Service service;
  std::vector<Id> candidates;  // staff who may take it, in order of preference
  Instant start{};
  std::string phone;  // E.164 of the customer
  std::string name, notes;
};
std::variant<Reply, BookPlan> prepare_book(store::ReadTx& tx, const CallScope& s,
                                           const Catalog& cat, const nlohmann::json& args,
                                           PhoneNormalizer& phones);
Reply run_book(store::WriteTx& tx, const CallScope& s, const Catalog& cat, const BookPlan& p);

struct ChangePlan {
  std::optional<Id> appointment_id;  // default: the caller's next appointment
  std::optional<Instant> start;      // reschedule only
};
std::variant<Reply, ChangePlan> prepare_change(const CallScope& s, const nlohmann::json& args,
                                               bool reschedule);
Reply run_reschedule(store::WriteTx& tx, const CallScope& s, const Catalog& cat,
                     const ChangePlan& p);
Reply run_cancel(store::WriteTx& tx, const CallScope& s, const Catalog& cat, const ChangePlan& p);

// Runs `fn` as the function call `f` of the call, once: under the call's row lock, a reply of the
// same (call, function, arguments) stored less than kRetryWindow ago is returned instead, else
// fn's reply is rendered and stored with the appointment it booked, moved or cancelled (none
// when it changed nothing).
struct Answer {
  std::string body;     // the reply's JSON text
  std::string outcome;  // "ok", or the reply's error code (a replay's, read from its text)
};
Answer once(store::WriteTx& tx, const CallScope& s, const FunctionRequest& f,
            const std::function<Reply(store::WriteTx&)>& fn);

// The reply to a function this server does not offer.
Reply unknown_function(const CallScope& s, const std::string& name);

}  // namespace appointd::intake
