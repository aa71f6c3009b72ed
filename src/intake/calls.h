#pragma once
// Call events (call_started, call_ended, call_analyzed) into the calls table. Retell may deliver
// them late, twice or out of order: each event only adds what it knows, and a call's status
// never goes back (an ended call does not become ongoing again).
#include "domain/intake.h"
#include "intake/retell_wire.h"
#include "store/tx.h"

namespace appointd::intake {

// The call as stored, with what the event tells added (pure).
Call merge_event(Call stored, const CallEvent& e, Instant now);

// Applies the event to the call's row in the caller's write transaction (under the row lock).
// `skeleton` is the call's row as the event's routing knows it, inserted when the call is new.
void record_event(store::WriteTx& tx, const Call& skeleton, const CallEvent& e, Instant now);

// The events appointd records; others are acknowledged and ignored.
bool is_call_event(const std::string& event);

}  // namespace appointd::intake
