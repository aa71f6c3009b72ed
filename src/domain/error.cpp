#include "domain/error.h"

#include <fmt/format.h>

#include "domain/conflict.h"

namespace appointd {

nlohmann::json Error::details() const {
  if (!slot) return extra;
  // One encoding of the slot conflict: the text the problem document carries, read back.
  std::string members = "{";
  append_members(*slot, members);
  members += '}';
  nlohmann::json out = extra;
  out.update(nlohmann::json::parse(members));
  return out;
}

Error Error::version_mismatch(long expected, long actual) {
  Error e{ErrorCode::kVersionMismatch,
          fmt::format("expected version {} but the current version is {}", expected, actual)};
  e.extra["current_version"] = actual;
  return e;
}

int http_status(ErrorCode c) {
  switch (c) {
    case ErrorCode::kValidationFailed:
      return 422;
    case ErrorCode::kMalformed:
      return 400;
    case ErrorCode::kNotFound:
      return 404;
    case ErrorCode::kSlotUnavailable:
      return 409;
    case ErrorCode::kVersionMismatch:
      return 412;
    case ErrorCode::kIdempotencyReused:
      return 422;
    case ErrorCode::kIdempotencyInFlight:
      return 409;
    case ErrorCode::kConflict:
      return 409;
    case ErrorCode::kInvalidPhone:
      return 422;
    case ErrorCode::kInvalidTimeZone:
      return 422;
    case ErrorCode::kUnauthorized:
      return 401;
    case ErrorCode::kForbidden:
      return 403;
    case ErrorCode::kOutsideWorkingHours:
    case ErrorCode::kStaffTimeOff:
    case ErrorCode::kTooSoon:
    case ErrorCode::kBeyondHorizon:
    case ErrorCode::kHoldMismatch:
    case ErrorCode::kTooManySlots:
      return 422;
    case ErrorCode::kHoldExpired:
      return 409;
  }
  return 500;
}

const char* code_name(ErrorCode c) {
  switch (c) {
    case ErrorCode::kValidationFailed:
      return "validation_failed";
    case ErrorCode::kMalformed:
      return "malformed_json";
    case ErrorCode::kNotFound:
      return "not_found";
    case ErrorCode::kSlotUnavailable:
      return "slot_unavailable";
    case ErrorCode::kVersionMismatch:
      return "version_mismatch";
    case ErrorCode::kIdempotencyReused:
      return "idempotency_key_reused";
    case ErrorCode::kIdempotencyInFlight:
      return "idempotency_key_in_flight";
    case ErrorCode::kConflict:
      return "conflict";
    case ErrorCode::kInvalidPhone:
      return "invalid_phone";
    case ErrorCode::kInvalidTimeZone:
      return "invalid_time_zone";
    case ErrorCode::kUnauthorized:
      return "unauthorized";
    case ErrorCode::kForbidden:
      return "forbidden";
    case ErrorCode::kOutsideWorkingHours:
      return "outside_working_hours";
    case ErrorCode::kStaffTimeOff:
      return "staff_time_off";
    case ErrorCode::kTooSoon:
      return "too_soon";
    case ErrorCode::kBeyondHorizon:
      return "beyond_horizon";
    case ErrorCode::kHoldExpired:
      return "hold_expired";
    case ErrorCode::kHoldMismatch:
      return "hold_mismatch";
    case ErrorCode::kTooManySlots:
      return "too_many_slots";
  }
  return "internal_error";
}

const char* title_of(ErrorCode c) {
  switch (c) {
    case ErrorCode::kValidationFailed:
      return "Validation failed";
    case ErrorCode::kMalformed:
      return "Malformed request";
    case ErrorCode::kNotFound:
      return "Not found";
    case ErrorCode::kSlotUnavailable:
      return "Slot unavailable";
    case ErrorCode::kVersionMismatch:
      return "Version mismatch";
    case ErrorCode::kIdempotencyReused:
      return "Idempotency key reused";
    case ErrorCode::kIdempotencyInFlight:
      return "Idempotency key in flight";
    case ErrorCode::kConflict:
      return "Conflict";
    case ErrorCode::kInvalidPhone:
      return "Invalid phone number";
    case ErrorCode::kInvalidTimeZone:
      return "Invalid time zone";
    case ErrorCode::kUnauthorized:
      return "Unauthorized";
    case ErrorCode::kForbidden:
      return "Forbidden";
    case ErrorCode::kOutsideWorkingHours:
      return "Outside working hours";
    case ErrorCode::kStaffTimeOff:
      return "Staff time off";
    case ErrorCode::kTooSoon:
      return "Too soon";
    case ErrorCode::kBeyondHorizon:
      return "Beyond booking horizon";
    case ErrorCode::kHoldExpired:
      return "Hold expired";
    case ErrorCode::kHoldMismatch:
      return "Hold does not match";
    case ErrorCode::kTooManySlots:
      return "Too many slots";
  }
  return "Internal error";
}

}  // namespace appointd
