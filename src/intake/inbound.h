#pragma once
// The inbound call webhook: before the agent picks up, what it should know of the caller and the
// branch (docs/retell.md, the dynamic variables). Every variable is always present, as a string
// (empty when unknown), since Retell leaves a missing one as its literal {{name}}.
#include <nlohmann/json.hpp>

#include "domain/phone.h"
#include "intake/retell_config.h"
#include "intake/retell_wire.h"
#include "store/tx.h"

namespace appointd::intake {

// {"call_inbound": {"dynamic_variables": {...}, "metadata": {...}}}. Reads only; a handful of
// point queries.
nlohmann::json inbound_reply(store::ReadTx& tx, const Route& route, const InboundRequest& in,
                             Instant now, PhoneNormalizer& phones);

}  // namespace appointd::intake
