#pragma once
// Plain records of the data model (DESIGN.md "Data model"). Ids are positive 64-bit integers
// assigned by the store; 0 means "none".
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "domain/interval.h"

namespace appointd {

using Id = std::int64_t;

// How a company's calendar is offered (docs/api.md "Scheduling").
struct SchedulingSettings {
  int slot_step_minutes = 15;  // grid of the listed starts, from the start of working hours
  int min_notice_minutes = 0;  // a start must be at least this far after now
  int horizon_days = 90;       // and earlier than now + this many days
  bool operator==(const SchedulingSettings&) const = default;
};

struct Company {
  Id id = 0;
  std::string name;
  std::string timezone;  // IANA
  std::string country;   // ISO 3166-1 alpha-2, default region for phone numbers
  Instant created_at{};
  SchedulingSettings settings{};
  bool operator==(const Company&) const = default;
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
  bool operator==(const Service&) const = default;
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
  bool operator==(const Staff&) const = default;
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

// One interval of a staff member's weekly working hours, in the local time of the staff
// member's branch: [start_minute, end_minute) of `weekday` (0 = Monday ... 6 = Sunday).
// Several intervals a day make breaks; end_minute 1440 is midnight at the end of the day.
struct WorkingHours {
  int weekday = 0;
  int start_minute = 0;
  int end_minute = 0;
  bool operator==(const WorkingHours&) const = default;
};

// A staff member is away for [time.from, time.until) (UTC instants).
struct TimeOff {
  Id id = 0;
  Id staff_id = 0;
  Interval time;
  std::string reason;
  bool operator==(const TimeOff&) const = default;
};

// A start reserved for a staff member and service until expires_at: it blocks `blocked` for
// everyone but the booking that converts it (DESIGN.md I1 counts it until it expires).
struct Hold {
  Id id = 0;
  Id company_id = 0;
  Id staff_id = 0;
  Id service_id = 0;
  Interval time;     // [start, end) of the held service
  Interval blocked;  // with the service's buffers
  Instant expires_at{};
  std::string owner;  // a free label of the holder (e.g. a call id); may be empty

  bool live(Instant now) const { return expires_at > now; }
};

// kConflict: a booking imported from a calendar that collides with one of appointd's; kept for a
// person to resolve, and blocks no time (DESIGN.md "Sync to the calendar").
enum class AppointmentStatus { kBooked, kCancelled, kConflict };
const char* to_string(AppointmentStatus s);
std::optional<AppointmentStatus> parse_appointment_status(std::string_view s);

struct Appointment {
  Id id = 0;
  Id company_id = 0;
  Id branch_id = 0;
  Id customer_id = 0;
  AppointmentStatus status = AppointmentStatus::kBooked;
  std::int64_t version = 1;
  std::string source;  // api | phone | frontdesk | calcom
  // A change made in the calendar could not be applied here (e.g. a reschedule into a taken
  // time): a person must look.
  bool needs_attention = false;
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
  bool operator==(const Block&) const = default;
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
