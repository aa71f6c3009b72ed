#include "intake/calls.h"

namespace appointd::intake {
namespace {

int rank(const std::string& status) {
  if (status == "registered") return 0;
  if (status == "ongoing") return 1;
  if (status == "ended" || status == "error" || status == "not_connected") return 2;
  return -1;  // unknown or empty
}

std::optional<Instant> instant_of(const std::optional<std::int64_t>& ms) {
  if (!ms) return std::nullopt;
  return from_unix(*ms / 1000);
}

void fill_empty(std::string& field, const std::string& value) {
  if (field.empty()) field = value;
}

}  // namespace

bool is_call_event(const std::string& event) {
  return event == "call_started" || event == "call_ended" || event == "call_analyzed";
}

Call merge_event(Call c, const CallEvent& e, Instant now) {
  const RetellCall& in = e.call;
  fill_empty(c.agent_id, in.agent_id);
  fill_empty(c.from_number, in.from_number);
  fill_empty(c.to_number, in.to_number);
  fill_empty(c.direction, in.direction);
  if (auto t = instant_of(in.start_ms)) c.started_at = t;
  if (auto t = instant_of(in.end_ms)) c.ended_at = t;
  std::string status = in.call_status;
  if (status.empty()) status = e.event == "call_started" ? "ongoing" : "ended";
  if (rank(status) >= rank(c.status)) c.status = status;
  if (!in.disconnection_reason.empty()) c.disconnection_reason = in.disconnection_reason;
  if (!in.summary.empty()) c.summary = in.summary;
  c.updated_at = now;
  return c;
}

void record_event(store::WriteTx& tx, const Call& skeleton, const CallEvent& e, Instant now) {
  Call stored = tx.lock_call(skeleton);
  tx.update_call(merge_event(std::move(stored), e, now));
}

}  // namespace appointd::intake
