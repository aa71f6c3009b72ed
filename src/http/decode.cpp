#include "http/decode.h"

#include <set>

#include "domain/schedule.h"
#include "domain/text.h"
#include "http/problem.h"

namespace appointd::http {

using nlohmann::json;

std::optional<json> parse_object(const std::string& body, Response* err) {
  // RFC 8259 leaves duplicate names to the parser, which keeps the last: two readers of one
  // body could then disagree on what it says. Refused instead. One set of names per open
  // object, innermost last.
  std::vector<std::set<std::string, std::less<>>> open;
  std::string duplicate;
  json::parser_callback_t check = [&](int, json::parse_event_t ev, json& parsed) {
    switch (ev) {
      case json::parse_event_t::object_start:
        open.emplace_back();
        break;
      case json::parse_event_t::object_end:
        if (!open.empty()) open.pop_back();
        break;
      case json::parse_event_t::key:
        if (!open.empty() && !open.back().insert(parsed.get<std::string>()).second &&
            duplicate.empty())
          duplicate = parsed.get<std::string>();
        break;
      default:
        break;
    }
    return true;
  };
  json j = json::parse(body, check, false);
  if (j.is_discarded()) {
    *err = problem(400, "malformed_json", "Malformed JSON", "the body is not valid JSON");
    return std::nullopt;
  }
  if (!duplicate.empty()) {
    *err = problem(400, "malformed_json", "Malformed JSON",
                   "the name \"" + duplicate.substr(0, 64) + "\" appears twice in one object");
    return std::nullopt;
  }
  if (!j.is_object()) {
    *err = problem(400, "malformed_json", "Malformed JSON", "the body must be a JSON object");
    return std::nullopt;
  }
  return j;
}

void Decoder::fail(const std::string& field, const std::string& message) {
  errors_.push_back({{"field", field}, {"message", message}});
}

Response Decoder::problem() const {
  if (errors_.empty())
    return http::problem(422, "validation_failed", "Validation failed", "invalid request");
  return validation_problem(errors_);
}

const json* Decoder::get(const char* f, bool required) {
  auto it = obj_.find(f);
  if (it == obj_.end() || it->is_null()) {
    if (required) fail(name(f), "is required");
    return nullptr;
  }
  return &*it;
}

std::optional<std::string> Decoder::opt_str(const char* f, size_t max_len) {
  const json* v = get(f, false);
  if (!v) return std::nullopt;
  if (!v->is_string()) {
    fail(name(f), "must be a string");
    return std::nullopt;
  }
  const auto& s = v->get_ref<const std::string&>();
  if (!fits_chars(s, max_len)) {
    fail(name(f), "is longer than " + std::to_string(max_len) + " characters");
    return std::nullopt;
  }
  return s;
}

std::string Decoder::str(const char* f, size_t max_len) {
  if (!get(f, true)) return {};
  return opt_str(f, max_len).value_or("");
}

std::optional<std::int64_t> Decoder::opt_int(const char* f, std::int64_t min, std::int64_t max) {
  const json* v = get(f, false);
  if (!v) return std::nullopt;
  if (!v->is_number_integer()) {
    fail(name(f), "must be an integer");
    return std::nullopt;
  }
  std::int64_t x = v->is_number_unsigned() && v->get<std::uint64_t>() > INT64_MAX
                       ? INT64_MAX
                       : v->get<std::int64_t>();
  if (x < min || x > max) {
    fail(name(f), "must be between " + std::to_string(min) + " and " + std::to_string(max));
    return std::nullopt;
  }
  return x;
}

std::int64_t Decoder::integer(const char* f, std::int64_t min, std::int64_t max) {
  if (!get(f, true)) return 0;
  return opt_int(f, min, max).value_or(0);
}

std::optional<std::int64_t> Decoder::opt_id(const char* f) {
  const json* v = get(f, false);
  if (!v) return std::nullopt;
  if (!v->is_number_integer() || v->get<std::int64_t>() <= 0 ||
      (v->is_number_unsigned() && v->get<std::uint64_t>() > INT64_MAX)) {
    fail(name(f), "must be a positive integer id");
    return std::nullopt;
  }
  return v->get<std::int64_t>();
}

std::int64_t Decoder::id(const char* f) {
  if (!get(f, true)) return 0;
  return opt_id(f).value_or(0);
}

std::optional<Instant> Decoder::opt_instant(const char* f) {
  const json* v = get(f, false);
  if (!v) return std::nullopt;
  if (!v->is_string()) {
    fail(name(f), "must be an RFC 3339 date-time string");
    return std::nullopt;
  }
  auto t = parse_rfc3339(v->get_ref<const std::string&>());
  if (!t) fail(name(f), kInstantRule);
  return t;
}

Instant Decoder::instant(const char* f) {
  if (!get(f, true)) return {};
  return opt_instant(f).value_or(Instant{});
}

std::vector<std::int64_t> Decoder::id_list(const char* f, size_t max_items) {
  std::vector<std::int64_t> out;
  const json* v = get(f, false);
  if (!v) return out;
  if (!v->is_array() || v->size() > max_items) {
    fail(name(f), "must be an array of at most " + std::to_string(max_items) + " ids");
    return out;
  }
  for (const auto& x : *v) {
    if (!x.is_number_integer() || x.get<std::int64_t>() <= 0) {
      fail(name(f), "must contain positive integer ids");
      return {};
    }
    out.push_back(x.get<std::int64_t>());
  }
  return out;
}

std::vector<SegmentRequest> Decoder::segments(const char* f) {
  std::vector<SegmentRequest> out;
  const json* v = get(f, true);
  if (!v) return out;
  if (!v->is_array() || v->empty() || v->size() > static_cast<size_t>(kMaxSegments)) {
    fail(name(f), "must be an array of 1 to " + std::to_string(kMaxSegments) + " segments");
    return out;
  }
  for (size_t i = 0; i < v->size(); ++i) {
    const json& s = (*v)[i];
    std::string p = name(f) + "[" + std::to_string(i) + "].";
    if (!s.is_object()) {
      fail(name(f) + "[" + std::to_string(i) + "]", "must be an object");
      continue;
    }
    Decoder d(s, p);
    SegmentRequest r;
    r.staff_id = d.id("staff_id");
    r.service_id = d.id("service_id");
    r.start = d.instant("start");
    r.end = d.opt_instant("end");
    for (const auto& e : d.errors_) errors_.push_back(e);
    out.push_back(r);
  }
  return out;
}

std::optional<booking::CustomerInput> Decoder::opt_customer(const char* f) {
  const json* v = get(f, false);
  if (!v) return std::nullopt;
  if (!v->is_object()) {
    fail(name(f), "must be an object");
    return std::nullopt;
  }
  Decoder d(*v, name(f) + ".");
  booking::CustomerInput c;
  c.phone = d.str("phone", 64);
  c.name = d.opt_str("name").value_or("");
  c.email = d.opt_str("email").value_or("");
  for (const auto& e : d.errors_) errors_.push_back(e);
  return c;
}

std::optional<bool> Decoder::opt_bool(const char* f) {
  const json* v = get(f, false);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) {
    fail(name(f), "must be true or false");
    return std::nullopt;
  }
  return v->get<bool>();
}

namespace {

// "HH:MM" as minutes since midnight (00:00..24:00), or -1.
int parse_hhmm(const json& v) {
  if (!v.is_string()) return -1;
  const auto& s = v.get_ref<const std::string&>();
  if (s.size() != 5 || s[2] != ':') return -1;
  for (int i : {0, 1, 3, 4})
    if (s[i] < '0' || s[i] > '9') return -1;
  const int h = (s[0] - '0') * 10 + (s[1] - '0');
  const int m = (s[3] - '0') * 10 + (s[4] - '0');
  if (m > 59 || h > 24 || (h == 24 && m != 0)) return -1;
  return h * 60 + m;
}

}  // namespace

std::vector<WorkingHours> Decoder::weekly_hours() {
  std::vector<WorkingHours> out;
  for (const auto& [key, day] : obj_.items()) {
    int wd = -1;
    for (int i = 0; i < 7; ++i)
      if (key == kWeekdayNames[i]) wd = i;
    if (wd < 0) {
      fail(name(key.c_str()), "is not a weekday (mon, tue, wed, thu, fri, sat, sun)");
      continue;
    }
    if (day.is_null()) continue;
    if (!day.is_array() || day.size() > static_cast<size_t>(kMaxIntervalsPerDay)) {
      fail(name(key.c_str()), "must be an array of at most " + std::to_string(kMaxIntervalsPerDay) +
                                  " [\"HH:MM\", \"HH:MM\"] pairs");
      continue;
    }
    for (size_t i = 0; i < day.size(); ++i) {
      const json& pair = day[i];
      const std::string field = name(key.c_str()) + "[" + std::to_string(i) + "]";
      int from = -1, until = -1;
      if (pair.is_array() && pair.size() == 2) {
        from = parse_hhmm(pair[0]);
        until = parse_hhmm(pair[1]);
      }
      if (from < 0 || until < 0) {
        fail(field, "must be a pair [\"HH:MM\", \"HH:MM\"] of times 00:00..24:00");
        continue;
      }
      out.push_back({wd, from, until});
    }
  }
  return out;
}

}  // namespace appointd::http
