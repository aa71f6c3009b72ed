#pragma once
// The inputs of the use cases, already decoded and type-checked by the caller (HTTP, Retell,
// CLI). Semantic rules (existence, ownership, time rules) are checked by the use cases.
#include <optional>
#include <string>
#include <vector>

#include "domain/model.h"
#include "domain/segments.h"

namespace appointd::booking {

struct CreateCompany {
  std::string name, timezone, country;
  Instant now{};
  SchedulingSettings settings{};
};

struct CreateBranch {
  Id company_id = 0;
  std::string name;
  std::optional<std::string> timezone;  // default: the company's
  std::string phone;
  Instant now{};
};

struct CreateService {
  Id company_id = 0;
  std::string name;
  int duration_minutes = 0, buffer_before_minutes = 0, buffer_after_minutes = 0;
  Instant now{};
};

struct CreateStaff {
  Id company_id = 0;
  Id branch_id = 0;
  std::string name, email;
  std::vector<Id> service_ids;
  Instant now{};
};

struct CustomerInput {
  std::string phone, name, email;
  // True when `phone` is already E.164 for the company (normalised before the write path, so
  // libphonenumber's parsing stays off the single writer thread).
  bool phone_normalized = false;
};

struct UpsertCustomer {
  Id company_id = 0;
  CustomerInput customer;
  std::string source = "api";
  Instant now{};
};

struct Book {
  Id company_id = 0;
  std::optional<Id> customer_id;
  std::optional<CustomerInput> customer;
  std::vector<SegmentRequest> segments;
  std::string notes;
  std::string source = "api";
  std::string call_id;
  Instant now{};
  // Converts this hold of the company: it must be live and match one segment's staff, service
  // and start; it does not block this booking and is deleted with it.
  std::optional<Id> hold_id;
  // On slot_unavailable, offer only alternatives that do not overlap each other (so all of
  // them can be held for the caller at once; see booking/holds.h hold_alternatives).
  bool disjoint_alternatives = false;
};

struct Cancel {
  Id company_id = 0;
  Id appointment_id = 0;
  std::optional<std::int64_t> expected_version;
  std::string reason;
  Instant now{};
};

struct UpdateSettings {
  Id company_id = 0;
  std::optional<int> slot_step_minutes, min_notice_minutes, horizon_days;  // unset: unchanged
};

struct SetWorkingHours {
  Id company_id = 0;
  Id staff_id = 0;
  std::vector<WorkingHours> hours;  // replaces all
};

struct AddTimeOff {
  Id company_id = 0;
  Id staff_id = 0;
  Interval time;
  std::string reason;
};

struct CreateHold {
  Id company_id = 0;
  Id staff_id = 0;
  Id service_id = 0;
  Instant start{};
  int ttl_seconds = 120;
  std::string owner;
  Instant now{};
};

struct Reschedule {
  Id company_id = 0;
  Id appointment_id = 0;
  std::optional<std::int64_t> expected_version;
  std::optional<Instant> start;                         // shift every segment by the same amount
  std::optional<std::vector<SegmentRequest>> segments;  // or replace them
  Instant now{};
};

}  // namespace appointd::booking
