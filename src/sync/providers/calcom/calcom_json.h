#pragma once
// Internal to the Cal.com client: reading a booking object already parsed as JSON.
#include <optional>

#include <nlohmann/json.hpp>

#include "sync/providers/calcom/calcom_client.h"

namespace appointd::sync::calcom {

// As parse_booking, for an object already parsed.
std::optional<CalcomBooking> booking_from_json(const nlohmann::json& object);

}  // namespace appointd::sync::calcom
