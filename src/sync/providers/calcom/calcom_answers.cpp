// Reading Cal.com's answers: the outcome of an HTTP result, booking objects, metadata look-ups.
#include <algorithm>
#include <cctype>

#include <nlohmann/json.hpp>

#include "sync/providers/calcom/calcom_json.h"
#include "sync/retry_after.h"

namespace appointd::sync::calcom {
namespace {

using nlohmann::json;

bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

// Cal.com's answer for a host with no free time at the start asked for [S errors.service]:
// "User either already has booking at this time or is not available", whose code in Cal.com's
// source is no_available_users_found_error.
bool is_busy_message(std::string_view m) {
  return contains(m, "already has booking at this time") ||
         contains(m, "no_available_users_found_error");
}

// "Can't cancel booking with uid=X because it has been cancelled already..." and "Can't
// reschedule booking with uid=X because it has been cancelled [and rescheduled already ...]".
bool is_cancelled_message(std::string_view m) {
  return contains(m, "because it has been cancelled");
}

// The error.message of Cal.com's error envelope {"status":"error","error":{"code","message"}}.
std::string error_message(const std::string& body) {
  const json j = json::parse(body, nullptr, false);
  if (!j.is_object()) return {};
  const auto err = j.find("error");
  if (err != j.end() && err->is_object()) {
    const auto m = err->find("message");
    if (m != err->end() && m->is_string()) return m->get<std::string>();
  }
  const auto m = j.find("message");  // other shapes (a proxy, an older version)
  if (m != j.end() && m->is_string()) return m->get<std::string>();
  return {};
}

// Retry-After, else the largest X-RateLimit-Reset-<name> (seconds), which is what Cal.com's
// throttler sends [T].
std::optional<std::chrono::seconds> wait_hint(const HttpResult& r, Instant now) {
  if (const std::string* ra = r.header("retry-after")) {
    if (auto d = parse_retry_after(*ra, now)) return d;
  }
  std::optional<std::chrono::seconds> best;
  for (const auto& [name, value] : r.headers) {
    if (name.rfind("x-ratelimit-reset", 0) != 0) continue;
    const bool digits = !value.empty() && std::all_of(value.begin(), value.end(), [](char c) {
      return std::isdigit(static_cast<unsigned char>(c)) != 0;
    });
    if (!digits) continue;
    if (auto d = parse_retry_after(value, now); d && (!best || *d > *best)) best = d;
  }
  return best;
}

std::string scalar_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

std::int64_t int_or_zero(const json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer()) return 0;
  return it->get<std::int64_t>();
}

std::string string_or_empty(const json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return {};
  return it->get<std::string>();
}

}  // namespace

const char* to_string(CalcomOutcome outcome) {
  switch (outcome) {
    case CalcomOutcome::kOk:
      return "ok";
    case CalcomOutcome::kConflict:
      return "conflict";
    case CalcomOutcome::kNotFound:
      return "not_found";
    case CalcomOutcome::kRejected:
      return "rejected";
    case CalcomOutcome::kThrottled:
      return "throttled";
    case CalcomOutcome::kServerError:
      return "server_error";
    case CalcomOutcome::kUncertain:
      return "uncertain";
    case CalcomOutcome::kUnreachable:
      return "unreachable";
  }
  return "unknown";
}

bool effect_uncertain(CalcomOutcome outcome) {
  return outcome == CalcomOutcome::kServerError || outcome == CalcomOutcome::kUncertain;
}

bool transient(CalcomOutcome outcome) {
  return outcome == CalcomOutcome::kThrottled || outcome == CalcomOutcome::kServerError ||
         outcome == CalcomOutcome::kUncertain || outcome == CalcomOutcome::kUnreachable;
}

CallStatus classify(SyncEndpoint endpoint, const HttpResult& r, Instant now,
                    std::size_t max_error_bytes) {
  CallStatus s;
  s.elapsed = r.elapsed;
  if (r.kind == HttpResultKind::kConnectFailed) {
    s.outcome = CalcomOutcome::kUnreachable;
    s.error = r.error;
    return s;
  }
  if (r.kind == HttpResultKind::kUncertain) {
    s.outcome = CalcomOutcome::kUncertain;
    s.error = r.error;
    return s;
  }
  const int code = r.status;
  s.http_status = code;
  if (code >= 200 && code < 300) {
    s.outcome = CalcomOutcome::kOk;
    return s;
  }
  s.error = "HTTP " + std::to_string(code) + ": " + r.body.substr(0, max_error_bytes);
  s.message = error_message(r.body);
  s.retry_after = wait_hint(r, now);
  const bool writes_time =
      endpoint == SyncEndpoint::kCreate || endpoint == SyncEndpoint::kReschedule;
  if (code == 409) {
    s.outcome = CalcomOutcome::kConflict;
  } else if (code == 400 && writes_time && is_busy_message(s.message)) {
    s.outcome = CalcomOutcome::kConflict;
  } else if (code == 404) {
    s.outcome = CalcomOutcome::kNotFound;
  } else if (code == 429 || (code == 503 && r.header("retry-after") != nullptr)) {
    s.outcome = CalcomOutcome::kThrottled;
  } else if (code >= 500 && code < 600) {
    s.outcome = CalcomOutcome::kServerError;
  } else {
    // Other 4xx, and 1xx/3xx (redirects are not followed: the request did not reach the API).
    s.outcome = CalcomOutcome::kRejected;
    s.already_cancelled =
        code == 400 &&
        (endpoint == SyncEndpoint::kCancel || endpoint == SyncEndpoint::kReschedule) &&
        is_cancelled_message(s.message);
  }
  return s;
}

std::optional<CalcomBooking> booking_from_json(const json& j) {
  if (!j.is_object()) return std::nullopt;
  CalcomBooking b;
  b.uid = string_or_empty(j, "uid");
  const auto start = parse_rfc3339(string_or_empty(j, "start"));
  const auto end = parse_rfc3339(string_or_empty(j, "end"));
  if (b.uid.empty() || !start || !end) return std::nullopt;
  b.start = *start;
  b.end = *end;
  b.id = int_or_zero(j, "id");
  b.event_type_id = int_or_zero(j, "eventTypeId");
  if (b.event_type_id == 0) {  // eventTypeId is deprecated in favour of eventType.id
    const auto et = j.find("eventType");
    if (et != j.end() && et->is_object()) b.event_type_id = int_or_zero(*et, "id");
  }
  b.status = string_or_empty(j, "status");
  std::transform(b.status.begin(), b.status.end(), b.status.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const auto meta = j.find("metadata");
  if (meta != j.end() && meta->is_object())
    for (const auto& [k, v] : meta->items())
      if (v.is_primitive() && !v.is_null()) b.metadata[k] = scalar_text(v);
  b.rescheduled_from_uid = string_or_empty(j, "rescheduledFromUid");
  b.rescheduled_to_uid = string_or_empty(j, "rescheduledToUid");
  return b;
}

std::optional<CalcomBooking> parse_booking(std::string_view json_object) {
  const json j = json::parse(json_object, nullptr, false);
  return booking_from_json(j);
}

std::vector<CalcomBooking> find_by_metadata(const std::vector<CalcomBooking>& list,
                                            Id appointment_id, std::optional<std::int64_t> version,
                                            Id segment_id) {
  const std::string appointment = std::to_string(appointment_id);
  const std::string segment = std::to_string(segment_id);
  const std::string wanted_version = version ? std::to_string(*version) : std::string();
  auto has = [](const CalcomBooking& b, const char* key, const std::string& value) {
    const auto it = b.metadata.find(key);
    return it != b.metadata.end() && it->second == value;
  };
  std::vector<CalcomBooking> out;
  for (const auto& b : list) {
    if (!has(b, kMetaAppointment, appointment) || !has(b, kMetaSegment, segment)) continue;
    if (version && !has(b, kMetaVersion, wanted_version)) continue;
    out.push_back(b);
  }
  return out;
}

}  // namespace appointd::sync::calcom
