#pragma once
// The Cal.com API v2 calls appointd's sync makes (cal-api-version 2024-08-13), over an
// HttpClient. Every call returns a value saying what is known about its effect (CalcomOutcome);
// no failure of Cal.com or of the network throws.
//
// Cal.com's contract as found (tests/fakes/fake_calcom.py's header cites the sources):
//  - A busy host is answered 400 "User either already has booking at this time or is not
//    available" (also for a second identical create); two identical creates racing each other
//    get 409 (a unique key). Both are kConflict: the caller looks up what exists there.
//  - A reschedule answers a NEW booking with a new uid (rescheduled_from_uid = the old one); the
//    old booking becomes "cancelled" with rescheduled_to_uid. The new booking keeps the OLD
//    booking's metadata, so its appointd_version is still the one written at create.
//  - Cancelling a cancelled booking, or rescheduling one, is a 400 (CallStatus::already_cancelled).
//  - lengthInMinutes is refused (400) for an event type with a single length.
//  - Cal.com itself sends no Retry-After on 429 but X-RateLimit-Reset-<name> (seconds); both
//    are read.
//
// Thread-safety: a CalcomClient is immutable after construction; its calls may run on many
// threads at once (the HttpClient pools connections). The HttpClient must outlive it.
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "domain/model.h"
#include "domain/time.h"
#include "sync/call_metrics.h"
#include "sync/http_client.h"

namespace appointd::sync::calcom {

inline constexpr const char* kApiVersion = "2024-08-13";
// The booking metadata keys appointd tags its bookings with (values are decimal strings).
inline constexpr const char* kMetaAppointment = "appointd_appointment";
inline constexpr const char* kMetaVersion = "appointd_version";
inline constexpr const char* kMetaSegment = "appointd_segment";

enum class CalcomOutcome {
  kOk,           // done; the answer was read
  kConflict,     // the host is busy at that time (400 "already has booking", or 409): no booking
                 // was made by this call, but one of ours may exist from an earlier attempt
  kNotFound,     // 404: no such booking (or event type, on create)
  kRejected,     // another 4xx: a definite failure, nothing changed; see CallStatus::error
  kThrottled,    // 429, or 503 with Retry-After: nothing changed; retry after retry_after
  kServerError,  // another 5xx: the effect may or may not have happened
  kUncertain,    // sent, no complete (or readable) answer: the effect may or may not have happened
  kUnreachable,  // nothing was sent (connect, TLS or DNS failure): certainly no effect
};

const char* to_string(CalcomOutcome outcome);

// kServerError and kUncertain: the call may have taken effect, so the caller must look (e.g.
// find_by_metadata over a list) before it acts again.
bool effect_uncertain(CalcomOutcome outcome);

// Outcomes a later attempt of the same call may turn into success: kThrottled, kServerError,
// kUncertain, kUnreachable.
bool transient(CalcomOutcome outcome);

struct CallStatus {
  CalcomOutcome outcome = CalcomOutcome::kUnreachable;
  int http_status = 0;  // 0 when no complete answer came
  // kThrottled (and a 503 or 5xx that carried one): how long Cal.com asks us to wait.
  std::optional<std::chrono::seconds> retry_after;
  // Empty on kOk. Otherwise, for last_error: "HTTP <status>: <Cal.com's error body as sent>"
  // (cut at 2 KiB), or what the network did ("connection closed before any answer", ...).
  std::string error;
  std::string message;  // Cal.com's error.message, when the error body had one
  // cancel/reschedule: Cal.com refused because the booking is cancelled already (for a
  // reschedule this includes "rescheduled already"; GET the booking for rescheduled_to_uid).
  bool already_cancelled = false;
  std::chrono::milliseconds elapsed{0};  // all HTTP calls of this operation

  bool ok() const { return outcome == CalcomOutcome::kOk; }
};

struct CalcomBooking {
  std::string uid;
  std::int64_t id = 0;
  std::int64_t event_type_id = 0;
  Instant start{};
  Instant end{};
  std::string status;  // "accepted", "cancelled", "rejected", "pending"
  // User metadata. Cal.com allows strings, numbers and booleans; the latter two are kept as
  // their JSON text ("3", "true").
  std::map<std::string, std::string> metadata;
  std::string rescheduled_from_uid;  // set on the booking a reschedule created
  std::string rescheduled_to_uid;    // set on the booking a reschedule cancelled

  // Holds time in the host's calendar: "accepted" or "pending".
  bool live() const { return status == "accepted" || status == "pending"; }
};

struct BookingResult {
  CallStatus status;
  std::optional<CalcomBooking> booking;  // set exactly when status.ok()
};

struct ListResult {
  CallStatus status;
  std::vector<CalcomBooking> bookings;  // every page read, deduplicated by uid, in Cal.com's order
  // False when the list stopped early: at ListFilter::max_pages, or at a page that failed
  // (status then says why). An incomplete list proves no absence.
  bool complete = false;
};

struct Attendee {
  std::string name;
  std::string email;         // Cal.com requires email or phone_number; empty: not sent
  std::string time_zone;     // IANA, e.g. "Europe/Berlin"
  std::string phone_number;  // E.164; empty: not sent
};

struct CreateBooking {
  Instant start{};
  std::int64_t event_type_id = 0;
  // Only for event types with several lengths; Cal.com refuses it otherwise (400).
  std::optional<int> length_minutes;
  Attendee attendee;
  // Sent as metadata (kMeta*), so that the booking can be found again after an uncertain
  // outcome.
  Id appointment_id = 0;
  std::int64_t version = 0;
  Id segment_id = 0;
};

struct ListFilter {
  std::vector<std::int64_t> event_type_ids;  // empty: every event type of the key's user
  std::optional<Instant> after_start;        // bookings starting at or after
  std::optional<Instant> before_end;         // bookings ending at or before
  // Cal.com's status categories: "upcoming", "recurring", "past", "cancelled", "unconfirmed"
  // (a booking's status is a different thing). Empty: all.
  std::vector<std::string> statuses;
  int page_size = 100;  // Cal.com's `take`, 1..250
  int max_pages = 50;
};

struct CalcomClientOptions {
  CallObserver observer;         // may be empty; see call_metrics.h
  const Clock* clock = nullptr;  // turns a Retry-After date into a delay; null: system clock
  std::size_t max_error_bytes = 2048;
};

class CalcomClient {
 public:
  // `http` talks to Cal.com's API origin (https://api.cal.com, or a fake) and must outlive the
  // client. `api_key` is sent as `Authorization: Bearer <api_key>`.
  CalcomClient(HttpClient& http, std::string api_key, CalcomClientOptions options = {});

  // POST /v2/bookings. On kOk the booking Cal.com made (status "accepted", or "pending" for
  // event types that need confirmation).
  BookingResult create_booking(const CreateBooking& request) const;

  // POST /v2/bookings/{uid}/cancel. On kOk the cancelled booking. Cancelling a cancelled
  // booking: kRejected with already_cancelled.
  BookingResult cancel_booking(std::string_view uid, std::string_view reason) const;

  // POST /v2/bookings/{uid}/reschedule. On kOk the NEW booking (new uid, rescheduled_from_uid
  // = uid); the old one is cancelled. A busy host: kConflict.
  BookingResult reschedule_booking(std::string_view uid, Instant start,
                                   std::string_view reason = {}) const;

  // GET /v2/bookings/{uid}. Unknown uid: kNotFound.
  BookingResult get_booking(std::string_view uid) const;

  // GET /v2/bookings with the filter, following the pages (skip/take, start ascending) to the
  // end or to max_pages. Bookings that move while the pages are read may be missed or seen
  // twice (the latter are dropped): a look-up that must be certain uses a window small enough
  // for one page.
  ListResult list_bookings(const ListFilter& filter) const;

 private:
  HttpResult call(SyncEndpoint endpoint, std::string method, std::string target,
                  std::string body) const;
  BookingResult booking_call(SyncEndpoint endpoint, std::string method, std::string target,
                             std::string body) const;

  HttpClient& http_;
  const std::string authorization_;
  const CalcomClientOptions options_;
};

// How an HTTP result of `endpoint` maps to an outcome (without reading the success body).
// Exposed for tests; `now` turns a Retry-After date into a delay.
CallStatus classify(SyncEndpoint endpoint, const HttpResult& result, Instant now,
                    std::size_t max_error_bytes = 2048);

// Reads one booking object of API v2 (the `data` of an answer); nullopt without a uid or with
// an unreadable start or end.
std::optional<CalcomBooking> parse_booking(std::string_view json_object);

// The bookings in `list` that appointd tagged for this appointment and segment, and for this
// version when one is given, in list order, whatever their status (see CalcomBooking::live()).
// After an uncertain create, more than one live match means duplicates to cancel.
std::vector<CalcomBooking> find_by_metadata(const std::vector<CalcomBooking>& list,
                                            Id appointment_id, std::optional<std::int64_t> version,
                                            Id segment_id);

}  // namespace appointd::sync::calcom
