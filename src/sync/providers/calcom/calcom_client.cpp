// The Cal.com calls: request bodies and targets; answers are read in calcom_answers.cpp.
#include "sync/providers/calcom/calcom_client.h"

#include <algorithm>
#include <cctype>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "sync/providers/calcom/calcom_json.h"

namespace appointd::sync::calcom {
namespace {

using nlohmann::json;

constexpr int kMaxPageSize = 250;  // Cal.com's limit for `take`

// Percent-encodes every byte but RFC 3986's unreserved characters and those in `keep`.
std::string encode(std::string_view s, std::string_view keep = {}) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) != 0 || ch == '-' || ch == '.' || ch == '_' || ch == '~' ||
        keep.find(ch) != std::string_view::npos) {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
  return out;
}

// A query value: commas stay (Cal.com splits lists on them), and so do colons of instants.
std::string query_value(std::string_view s) {
  return encode(s, ",:");
}

std::string booking_path(std::string_view uid) {
  return "/v2/bookings/" + encode(uid);
}

// The `data` of a success envelope {"status":"success","data":...}, or nullptr.
const json* data_of(const json& envelope) {
  if (!envelope.is_object()) return nullptr;
  const auto it = envelope.find("data");
  return it == envelope.end() ? nullptr : &*it;
}

void mark_unreadable(CallStatus& s, const std::string& body, std::size_t max_bytes) {
  // The call succeeded on Cal.com's side but we cannot tell what it made: uncertain.
  s.outcome = CalcomOutcome::kUncertain;
  s.error = "HTTP " + std::to_string(s.http_status) +
            ": an answer appointd cannot read: " + body.substr(0, max_bytes);
}

}  // namespace

CalcomClient::CalcomClient(HttpClient& http, std::string api_key, CalcomClientOptions options)
    : http_(http), authorization_("Bearer " + api_key), options_(std::move(options)) {}

HttpResult CalcomClient::call(SyncEndpoint endpoint, std::string method, std::string target,
                              std::string body) const {
  HttpRequest req;
  req.method = std::move(method);
  req.target = std::move(target);
  req.headers = {{"Authorization", authorization_},
                 {"cal-api-version", kApiVersion},
                 {"Accept", "application/json"}};
  if (!body.empty()) req.headers.emplace_back("Content-Type", "application/json");
  req.body = std::move(body);
  HttpResult r = http_.send(req);
  if (options_.observer)
    options_.observer(endpoint, status_class(r.kind, r.status),
                      std::chrono::duration<double>(r.elapsed));
  return r;
}

BookingResult CalcomClient::booking_call(SyncEndpoint endpoint, std::string method,
                                         std::string target, std::string body) const {
  const HttpResult h = call(endpoint, std::move(method), std::move(target), std::move(body));
  const Instant now = options_.clock ? options_.clock->now() : SystemClock().now();
  BookingResult out;
  out.status = classify(endpoint, h, now, options_.max_error_bytes);
  if (!out.status.ok()) return out;
  const json envelope = json::parse(h.body, nullptr, false);
  const json* data = data_of(envelope);
  // GET of a recurring booking answers an array of occurrences; appointd makes none, but
  // reads the first rather than failing.
  if (data && data->is_array() && !data->empty()) data = &data->front();
  if (data) out.booking = booking_from_json(*data);
  if (!out.booking) mark_unreadable(out.status, h.body, options_.max_error_bytes);
  return out;
}

BookingResult CalcomClient::create_booking(const CreateBooking& r) const {
  json attendee = {{"name", r.attendee.name}, {"timeZone", r.attendee.time_zone}};
  if (!r.attendee.email.empty()) attendee["email"] = r.attendee.email;
  if (!r.attendee.phone_number.empty()) attendee["phoneNumber"] = r.attendee.phone_number;
  json body = {
      {"start", format_rfc3339(r.start)},
      {"eventTypeId", r.event_type_id},
      {"attendee", std::move(attendee)},
      {"metadata",
       {{kMetaAppointment, std::to_string(r.appointment_id)},
        {kMetaVersion, std::to_string(r.version)},
        {kMetaSegment, std::to_string(r.segment_id)}}},
  };
  if (r.length_minutes) body["lengthInMinutes"] = *r.length_minutes;
  return booking_call(SyncEndpoint::kCreate, "POST", "/v2/bookings", body.dump());
}

BookingResult CalcomClient::cancel_booking(std::string_view uid, std::string_view reason) const {
  json body = json::object();
  if (!reason.empty()) body["cancellationReason"] = std::string(reason);
  return booking_call(SyncEndpoint::kCancel, "POST", booking_path(uid) + "/cancel", body.dump());
}

BookingResult CalcomClient::reschedule_booking(std::string_view uid, Instant start,
                                               std::string_view reason) const {
  json body = {{"start", format_rfc3339(start)}};
  if (!reason.empty()) body["reschedulingReason"] = std::string(reason);
  return booking_call(SyncEndpoint::kReschedule, "POST", booking_path(uid) + "/reschedule",
                      body.dump());
}

BookingResult CalcomClient::get_booking(std::string_view uid) const {
  return booking_call(SyncEndpoint::kGet, "GET", booking_path(uid), {});
}

ListResult CalcomClient::list_bookings(const ListFilter& f) const {
  std::string query = "sortStart=asc";
  if (f.event_type_ids.size() == 1) {
    query += "&eventTypeId=" + std::to_string(f.event_type_ids.front());
  } else if (!f.event_type_ids.empty()) {
    std::string ids;
    for (const auto id : f.event_type_ids) ids += (ids.empty() ? "" : ",") + std::to_string(id);
    query += "&eventTypeIds=" + query_value(ids);
  }
  if (f.after_start) query += "&afterStart=" + query_value(format_rfc3339(*f.after_start));
  if (f.before_end) query += "&beforeEnd=" + query_value(format_rfc3339(*f.before_end));
  if (!f.statuses.empty()) {
    std::string list;
    for (const auto& s : f.statuses) list += (list.empty() ? "" : ",") + s;
    query += "&status=" + query_value(list);
  }
  const int take = std::clamp(f.page_size, 1, kMaxPageSize);

  ListResult out;
  std::unordered_set<std::string> seen;
  std::chrono::milliseconds elapsed{0};
  for (int page = 0; page < std::max(f.max_pages, 1); ++page) {
    const std::string target = "/v2/bookings?" + query + "&take=" + std::to_string(take) +
                               "&skip=" + std::to_string(static_cast<std::int64_t>(page) * take);
    const HttpResult h = call(SyncEndpoint::kList, "GET", target, {});
    const Instant now = options_.clock ? options_.clock->now() : SystemClock().now();
    out.status = classify(SyncEndpoint::kList, h, now, options_.max_error_bytes);
    elapsed += h.elapsed;
    out.status.elapsed = elapsed;
    if (!out.status.ok()) return out;  // complete stays false

    const json envelope = json::parse(h.body, nullptr, false);
    const json* data = data_of(envelope);
    if (!data || !data->is_array()) {
      mark_unreadable(out.status, h.body, options_.max_error_bytes);
      return out;
    }
    for (const auto& item : *data) {
      // A booking without uid or times is none appointd made; it is skipped.
      auto b = booking_from_json(item);
      if (b && seen.insert(b->uid).second) out.bookings.push_back(std::move(*b));
    }
    bool more = data->size() >= static_cast<std::size_t>(take);
    const auto pagination = envelope.find("pagination");
    if (pagination != envelope.end() && pagination->is_object()) {
      const auto next = pagination->find("hasNextPage");
      if (next != pagination->end() && next->is_boolean()) more = next->get<bool>();
    }
    if (!more || data->empty()) {
      out.complete = true;
      return out;
    }
  }
  return out;  // max_pages reached: complete stays false
}

}  // namespace appointd::sync::calcom
