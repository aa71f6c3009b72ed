#pragma once
// Typed reading of a JSON request body that collects every problem instead of stopping at the
// first, so a 422 validation_failed lists them all as `errors: [{field, message}]`.
#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "booking/commands.h"
#include "domain/model.h"
#include "domain/time.h"
#include "http/message.h"

namespace appointd::http {

class Decoder {
 public:
  explicit Decoder(const nlohmann::json& obj, std::string prefix = "")
      : obj_(obj), prefix_(std::move(prefix)) {}

  // Required or optional fields; wrong types and missing required fields are recorded.
  std::string str(const char* f, size_t max_len = 200);
  std::optional<std::string> opt_str(const char* f, size_t max_len = 200);
  std::int64_t id(const char* f);  // a positive integer
  std::optional<std::int64_t> opt_id(const char* f);
  std::optional<std::int64_t> opt_int(const char* f, std::int64_t min, std::int64_t max);
  std::int64_t integer(const char* f, std::int64_t min, std::int64_t max);
  Instant instant(const char* f);
  std::optional<Instant> opt_instant(const char* f);
  std::vector<std::int64_t> id_list(const char* f, size_t max_items = 100);
  std::vector<SegmentRequest> segments(const char* f);
  std::optional<booking::CustomerInput> opt_customer(const char* f);
  // The whole object as weekly hours: {"mon": [["09:00","12:00"], ...], ...}; keys are the
  // weekday names mon..sun (a missing day has no hours), times "HH:MM", "24:00" as an end.
  std::vector<WorkingHours> weekly_hours();
  std::optional<bool> opt_bool(const char* f);
  bool has(const char* f) const { return obj_.contains(f) && !obj_[f].is_null(); }

  void fail(const std::string& field, const std::string& message);
  bool ok() const { return errors_.empty(); }
  // The 422 validation_failed problem with all recorded errors.
  Response problem() const;

 private:
  const nlohmann::json* get(const char* f, bool required);
  std::string name(const char* f) const { return prefix_ + f; }

  const nlohmann::json& obj_;
  std::string prefix_;
  nlohmann::json errors_ = nlohmann::json::array();
};

// Parses a body that must be a JSON object: nullopt (and *err set to a 400 malformed_json)
// otherwise.
std::optional<nlohmann::json> parse_object(const std::string& body, Response* err);

}  // namespace appointd::http
