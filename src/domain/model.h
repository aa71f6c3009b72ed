#pragma once
// Plain records of the data model (DESIGN.md "Data model"). Ids are positive 64-bit integers
// assigned by the store; 0 means "none".
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "domain/interval.h"

namespace appointd {

using Id = std::int64_t;

struct Company {
  Id id = 0;
  std::string name;
  std::string timezone;  // IANA
  std::string country;   // ISO 3166-1 alpha-2, default region for phone numbers
  Instant created_at{};
};

struct Branch {
  Id id = 0;
  Id company_id = 0;
  std::string name;
  std::string timezone;
  std::string phone;  // E.164 or empty
  Instant created_at{};
};

struct Service {
  Id id = 0;
  Id company_id = 0;
  std::string name;
  int duration_minutes = 0;
  int buffer_before_minutes = 0;
  int buffer_after_minutes = 0;
  Instant created_at{};
};

struct Staff {
  Id id = 0;
  Id company_id = 0;
  Id branch_id = 0;
  std::string name;
  std::string email;
  bool active = true;
  std::vector<Id> service_ids;  // sorted ascending
  Instant created_at{};
};

struct Customer {
  Id id = 0;
  Id company_id = 0;
  std::string phone;  // E.164
  std::string name;
  std::string email;
  std::string source;
  Instant created_at{};
};

struct Segment {
  Id id = 0;
  Id appointment_id = 0;
  Id staff_id = 0;
  Id service_id = 0;
  Interval time;     // [start, end)
  Interval blocked;  // [start - buffer_before, end + buffer_after)
  bool active = true;
};

enum class AppointmentStatus { kBooked, kCancelled };
const char* to_string(AppointmentStatus s);

struct Appointment {
  Id id = 0;
  Id company_id = 0;
  Id branch_id = 0;
  Id customer_id = 0;
  AppointmentStatus status = AppointmentStatus::kBooked;
  std::int64_t version = 1;
  std::string source;  // api | phone | staff
  std::string notes;
  std::string call_id;
  std::string external_provider;
  std::string external_id;
  Instant created_at{};
  Instant updated_at{};
  std::vector<Segment> segments;  // ordered by start
};

// Something that occupies a staff member's time: an active segment or a live hold.
struct Block {
  enum Kind { kSegment, kHold } kind = kSegment;
  Id id = 0;              // segment id or hold id
  Id appointment_id = 0;  // for segments
  Id staff_id = 0;
  Interval blocked;
};

struct Event {
  Id id = 0;
  Id company_id = 0;
  Id appointment_id = 0;  // 0 for events of other entities
  std::string kind;       // appointment.booked, appointment.cancelled, ...
  std::string payload;    // JSON text
  Instant created_at{};
};

enum class KeyRole { kPlatform, kCompany };

struct ApiKey {
  Id id = 0;
  Id company_id = 0;  // 0 for platform keys
  std::string name;
  KeyRole role = KeyRole::kCompany;
};

}  // namespace appointd
