#pragma once
// Inbound Cal.com webhooks (docs/sync.md "Webhooks"). A delivery is verified and stored by the
// HTTP handler and processed afterwards by process_webhook(), in one write transaction with the
// use case it runs, so a crash between the two loses nothing and a processed delivery is never
// processed twice.
#include <string>
#include <string_view>

#include "domain/sync.h"
#include "store/tx.h"

namespace appointd::sync {

// Whether `header` is the lower- or upper-case hex HMAC-SHA256 of `body` under `secret`
// (compared in constant time).
bool valid_signature(std::string_view secret, std::string_view body, std::string_view header);

// The hex HMAC-SHA256 (for tests and the fake).
std::string sign_body(std::string_view secret, std::string_view body);

// What processing a delivery did: "imported", "import_conflict", "cancelled", "rescheduled",
// "needs_attention", "echo", "duplicate", "unknown_booking", "unmapped", "ignored", "malformed",
// or "deferred" (a sync job of the appointment is running: try again shortly; the delivery
// stays pending).
struct WebhookResult {
  std::string outcome;
  Id appointment_id = 0;
};

// Processes one stored delivery and, unless deferred, marks it processed.
WebhookResult process_webhook(store::WriteTx& tx, const WebhookDelivery& d, Instant now);

// One booking as the calendar has it, for an import (webhook or reconciliation).
struct CalendarBooking {
  std::string uid;
  std::int64_t event_type_id = 0;
  Instant start{};
  Instant end{};
  std::string name, email, phone;  // the first attendee
};

// Imports a booking made directly in the calendar for a mapped event type: an appointment with
// source "calcom", status booked, or conflict (blocking nothing) when its time collides with
// something appointd holds. "imported", "import_conflict", "unmapped", or "echo" (known uid).
WebhookResult import_booking(store::WriteTx& tx, Id company_id, const CalendarBooking& b,
                             Instant now);

}  // namespace appointd::sync
