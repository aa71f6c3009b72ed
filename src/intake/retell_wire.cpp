#include "intake/retell_wire.h"

#include "domain/hash.h"

namespace appointd::intake {
namespace {

using nlohmann::json;

// A string field of `obj` (absent or null: empty). False when present with another type or
// longer than `max` bytes.
bool text(const json& obj, const char* key, std::string& out, std::size_t max = kMaxField) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return true;
  if (!it->is_string()) return false;
  out = it->get<std::string>();
  return out.size() <= max;
}

// A Unix-millisecond field (absent or null: nullopt).
bool millis(const json& obj, const char* key, std::optional<std::int64_t>& out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return true;
  if (!it->is_number_integer() && !it->is_number_unsigned()) return false;
  const auto v = it->get<std::int64_t>();
  if (v < 0 || v > 253402300799000) return false;
  out = v;
  return true;
}

Error bad(const std::string& field, const std::string& what) {
  Error e = Error::malformed(field + " " + what);
  e.extra["errors"] = json::array({{{"field", field}, {"message", what}}});
  return e;
}

Result<RetellCall> decode_call(const json& body, bool need_id) {
  auto it = body.find("call");
  if (it == body.end() || !it->is_object()) return bad("call", "must be an object");
  const json& c = *it;
  RetellCall out;
  for (auto [key, dst] : {std::pair{"call_id", &out.call_id},
                          {"agent_id", &out.agent_id},
                          {"from_number", &out.from_number},
                          {"to_number", &out.to_number},
                          {"direction", &out.direction},
                          {"call_status", &out.call_status},
                          {"disconnection_reason", &out.disconnection_reason}})
    if (!text(c, key, *dst)) return bad(std::string("call.") + key, "must be a short string");
  if (need_id && out.call_id.empty()) return bad("call.call_id", "is required");
  if (!millis(c, "start_timestamp", out.start_ms))
    return bad("call.start_timestamp", "must be Unix milliseconds");
  if (!millis(c, "end_timestamp", out.end_ms))
    return bad("call.end_timestamp", "must be Unix milliseconds");
  if (auto a = c.find("call_analysis"); a != c.end() && a->is_object())
    if (!text(*a, "call_summary", out.summary, kMaxSummary))
      return bad("call.call_analysis.call_summary", "must be a string");
  return out;
}

}  // namespace

Result<InboundRequest> decode_inbound(const json& body) {
  auto it = body.find("call_inbound");
  if (it == body.end() || !it->is_object()) return bad("call_inbound", "must be an object");
  InboundRequest r;
  for (auto [key, dst] : {std::pair{"agent_id", &r.agent_id},
                          {"from_number", &r.from_number},
                          {"to_number", &r.to_number}})
    if (!text(*it, key, *dst)) return bad(std::string("call_inbound.") + key, "must be a string");
  return r;
}

Result<FunctionRequest> decode_function(const json& body) {
  FunctionRequest r;
  if (!text(body, "name", r.name) || r.name.empty()) return bad("name", "must be a function name");
  auto call = decode_call(body, true);
  if (!call) return call.error();
  r.call = std::move(*call);
  if (auto it = body.find("args"); it != body.end() && !it->is_null()) {
    if (!it->is_object()) return bad("args", "must be an object");
    r.args = *it;
  }
  // nlohmann::json keeps object keys sorted: dump() is canonical for equal arguments.
  r.args_fingerprint = sha256_hex(r.args.dump(-1, ' ', false, json::error_handler_t::replace));
  return r;
}

Result<CallEvent> decode_event(const json& body) {
  CallEvent e;
  if (!text(body, "event", e.event) || e.event.empty()) return bad("event", "must be a string");
  auto call = decode_call(body, true);
  if (!call) return call.error();
  e.call = std::move(*call);
  return e;
}

}  // namespace appointd::intake
