#pragma once
// Expected failures of the domain and use cases, as values. An Error names a stable machine code
// (shown to API clients as problem+json `code`), a human detail, and optional structured extras
// (e.g. the conflicts and alternatives of a slot_unavailable). Infrastructure failures are
// exceptions, not Errors.
#include <memory>
#include <string>
#include <utility>
#include <variant>

#include <nlohmann/json.hpp>

namespace appointd {

enum class ErrorCode {
  kValidationFailed,     // 422: the request is well-formed but breaks a rule
  kMalformed,            // 400: not JSON, wrong types, missing fields
  kNotFound,             // 404: unknown id, or an id of another company
  kSlotUnavailable,      // 409: a segment's blocked interval collides with another booking
  kVersionMismatch,      // 412: expected_version differs from the stored version
  kIdempotencyReused,    // 422: same Idempotency-Key, different request
  kIdempotencyInFlight,  // 409: same Idempotency-Key, first request still running
  kConflict,             // 409: state does not allow the change (e.g. cancel a cancelled booking)
  kInvalidPhone,         // 422: phone number not valid for the company's region
  kInvalidTimeZone,      // 422: unknown IANA zone
  kUnauthorized,         // 401
  kForbidden,            // 403
  // Scheduling rules (docs/api.md "Scheduling"), each 422:
  kOutsideWorkingHours,  // a segment is not inside the staff member's working hours
  kStaffTimeOff,         // a segment overlaps the staff member's time off
  kTooSoon,              // a segment starts before now + the company's minimum notice
  kBeyondHorizon,        // a segment starts at or after now + the booking horizon
  // Holds:
  kHoldExpired,   // 409: the hold given with a booking has expired
  kHoldMismatch,  // 422: the hold is for another staff member, service or start
  // Bounds on what one request may ask for:
  kTooManySlots,  // 422: an availability answer would list more starts than one reply carries
};

struct SlotConflict;  // domain/conflict.h

struct Error {
  ErrorCode code;
  std::string detail;
  nlohmann::json extra = nlohmann::json::object();  // merged into the problem document
  // slot_unavailable: conflicts and alternatives as data (JSON only when rendered).
  std::shared_ptr<SlotConflict> slot = nullptr;

  // `extra` with the slot conflict's members added: what the problem document carries (for
  // tests and cold paths; the problem renderer writes the slot conflict as text).
  nlohmann::json details() const;

  static Error validation(std::string d) { return {ErrorCode::kValidationFailed, std::move(d)}; }
  static Error malformed(std::string d) { return {ErrorCode::kMalformed, std::move(d)}; }
  static Error not_found(std::string what) {
    return {ErrorCode::kNotFound, std::move(what) + " not found"};
  }
  static Error version_mismatch(long expected, long actual);
  static Error conflict(std::string d) { return {ErrorCode::kConflict, std::move(d)}; }
};

// HTTP status and stable code string of an ErrorCode.
int http_status(ErrorCode c);
const char* code_name(ErrorCode c);
const char* title_of(ErrorCode c);

// Result<T>: either a T or an Error. Small stand-in for std::expected (C++23).
template <class T>
class Result {
 public:
  Result(T v) : v_(std::move(v)) {}
  Result(Error e) : v_(std::move(e)) {}
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() { return value(); }
  const Error& error() const { return std::get<1>(v_); }
  Error& error() { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

}  // namespace appointd
