#pragma once
// Records of the phone intake (DESIGN.md "Phone intake"): the calls a phone agent answered and
// the replies it was given, kept so that a retried function call gets the first reply.
#include <optional>
#include <string>

#include "domain/model.h"

namespace appointd {

// One phone call, as its events and function calls told of it. Fields not yet known are empty.
struct Call {
  Id company_id = 0;
  std::string call_id;  // the provider's id (Retell's call_id)
  Id branch_id = 0;     // 0: not routed to a branch
  std::string agent_id;
  std::string from_number;  // as the provider sent it (may be "anonymous" or empty)
  std::string to_number;
  std::string direction;  // inbound | outbound
  std::optional<Instant> started_at, ended_at;
  std::string status;  // registered | ongoing | ended | error | not_connected
  std::string disconnection_reason;
  std::string summary;  // the provider's call analysis
  Instant created_at{};
  Instant updated_at{};
};

// The reply a function call got, stored with its effect in one transaction: a retry of the same
// (call, function, arguments) replays the latest `body` and changes nothing.
struct IntakeReply {
  Id company_id = 0;
  std::string call_id;
  std::string function;
  std::string args_fingerprint;  // SHA-256 hex of the canonical arguments
  // 1 for the first reply of (call, function, arguments); a later call of the same function
  // with the same arguments, past the retry window, is a new one (2, 3, ...).
  int seq = 1;
  std::string body;       // the JSON reply, byte for byte as first sent
  Id appointment_id = 0;  // the appointment it made or changed (0: none)
  Instant created_at{};
};

}  // namespace appointd
