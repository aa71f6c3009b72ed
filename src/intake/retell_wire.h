#pragma once
// Retell's request bodies as typed values (docs/retell.md "What Retell sends"). Decoding checks
// shapes and bounds only; what the values mean is for the functions. Unknown fields are ignored
// (Retell adds fields over time); a wrong type where a field is read is malformed.
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "domain/error.h"

namespace appointd::intake {

// The call object Retell sends with function calls and call events (a subset).
struct RetellCall {
  std::string call_id;
  std::string agent_id;
  std::string from_number;  // empty, "anonymous" or the like when the caller hides it
  std::string to_number;
  std::string direction;    // inbound | outbound
  std::string call_status;  // registered | ongoing | ended | error | not_connected
  std::optional<std::int64_t> start_ms, end_ms;  // Unix milliseconds
  std::string disconnection_reason;
  std::string summary;  // call_analysis.call_summary
};

// POST /v1/retell/inbound: {"event": "call_inbound", "call_inbound": {agent_id, from_number,
// to_number}}. There is no call id yet.
struct InboundRequest {
  std::string agent_id, from_number, to_number;
};

// POST /v1/retell/functions: {"name", "call": {...}, "args": {...}}.
struct FunctionRequest {
  std::string name;
  RetellCall call;
  nlohmann::json args = nlohmann::json::object();
  // SHA-256 hex of the arguments re-serialised with sorted keys: a retry's arguments in another
  // order or spacing are the same call.
  std::string args_fingerprint;
};

// POST /v1/retell/events: {"event": "call_started" | "call_ended" | "call_analyzed", "call"}.
struct CallEvent {
  std::string event;
  RetellCall call;
};

// Each returns malformed (with the field named) when the body does not have the shape.
Result<InboundRequest> decode_inbound(const nlohmann::json& body);
Result<FunctionRequest> decode_function(const nlohmann::json& body);
Result<CallEvent> decode_event(const nlohmann::json& body);

// Longest text field accepted (ids, numbers, names); a summary may be longer.
inline constexpr std::size_t kMaxField = 256;
inline constexpr std::size_t kMaxSummary = 20000;

}  // namespace appointd::intake
