#pragma once
// What a function call answers (docs/retell.md): always a sentence the agent can say, in the
// company's language, with the facts beside it for the agent's reasoning. Fields that do not
// apply are left out of the JSON.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "domain/model.h"
#include "domain/zone.h"
#include "intake/language.h"

namespace appointd::intake {

// Retell's limit on a function result; replies are cut to fit (lists shortened first).
inline constexpr std::size_t kMaxReplyChars = 15000;

// A time the caller can take: an alternative to a taken time (held for the call when hold_id is
// set) or a free start found by check_availability.
struct Offer {
  Instant start{};
  std::string local_time;  // spoken, in the branch's zone
  Id staff_id = 0;
  std::string staff_name;
  Id hold_id = 0;
};

// One of the caller's appointments, as list_my_appointments tells them.
struct Listed {
  Id appointment_id = 0;
  Instant start{};
  std::string local_time;
  std::string service;
  std::string staff_name;
};

struct Reply {
  std::string result;          // one or two sentences
  std::optional<bool> booked;  // book/reschedule: whether the caller now has the time
  std::optional<bool> cancelled;
  Id appointment_id = 0;
  std::optional<Instant> start;  // of the appointment booked, moved or cancelled
  std::string local_time;
  std::vector<Offer> alternatives;
  std::vector<Listed> appointments;
  std::string error;  // a stable code when the function could not do what was asked
};

nlohmann::json to_json(const Reply& r);
// The reply's JSON text, at most kMaxReplyChars characters (lists shortened as needed).
std::string render(const Reply& r);

// Speech helpers over the branch's zone.
std::string spoken_at(Language l, const Zone& zone, Instant t);  // spoken_date_time
// Picks the sentence of the language.
inline std::string_view say(Language l, std::string_view en, std::string_view de) {
  return l == Language::kDe ? de : en;
}
// Replaces {0}, {1}, ... in `pattern` by the arguments.
std::string fill(std::string_view pattern, const std::vector<std::string>& args);

}  // namespace appointd::intake
