#!/usr/bin/env python3
"""A local fake of Cal.com's API v2 (bookings, cal-api-version 2024-08-13) and of its webhooks,
with fault injection, for appointd's sync tests. Python 3.11 standard library only.

Module:   fake = FakeCalcom(port=0, api_key="cal_test_fake", seed=1).start(); fake.url; fake.stop()
CLI:      python3 fake_calcom.py --port 0 --api-key KEY     (prints "listening <port>", serves)
Ceiling:  python3 fake_calcom.py --bench --bench-threads 8 --bench-seconds 3   (one JSON line)

==================================================================================================
THE CONTRACT, AS FOUND (sources in [brackets]; "src:" paths are in github.com/calcom/cal.com)
==================================================================================================
[C] src: apps/api/v2/src/ee/bookings/2024-08-13/controllers/bookings.controller.ts
[I] src: packages/platform/types/bookings/2024-08-13/inputs/{create-booking,get-bookings,
         cancel-booking,reschedule-booking}.input.ts, inputs/validators/validate-metadata.ts
[O] src: packages/platform/types/bookings/2024-08-13/outputs/booking.output.ts,
         apps/api/v2/src/ee/bookings/2024-08-13/services/output.service.ts
[S] src: apps/api/v2/src/ee/bookings/2024-08-13/services/{bookings,input,errors}.service.ts
[E] src: apps/api/v2/src/filters/{http-exception,prisma-exception}.filter.ts, packages/platform/types/api.ts
[A] src: apps/api/v2/src/modules/auth/strategies/api-auth/api-auth.strategy.ts
[V] src: apps/api/v2/src/app.ts (versioning), apps/api/v2/src/lib/api-versions.ts
[P] src: apps/api/v2/src/lib/pagination/pagination.ts, packages/platform/types/pagination/pagination.output.ts
[T] src: apps/api/v2/src/lib/throttler-guard.ts (CustomThrottlerGuard)
[W] src: packages/features/webhooks/lib/sendPayload.ts, packages/features/bookings/lib/
         handleCancelBooking.ts, handleNewBooking.ts (webhookData)
[D] https://cal.com/docs/api-reference/v2/bookings/{create-a-booking,reschedule-a-booking,
    get-all-bookings}, https://cal.com/docs/api-reference/v2/v1-v2-differences,
    https://cal.com/docs/developing/guides/automation/webhooks
[X] calcom/cal.diy issue #13747 (second identical create answers no_available_users_found_error),
    PR #13865 (booking idempotencyKey = uuidv5(start.end.userId), unique in the database)

Headers. `Authorization: Bearer <api key>` (keys start with "cal_") and `cal-api-version:
2024-08-13` [D, C]. Without that header (or with another value) Cal.com does NOT fail: it routes
/v2/bookings to its legacy 2024-04-15 controllers, whose bodies and answers differ [V]; a 2024-08-13
body then fails validation (400). This fake answers 400 BadRequestException saying so instead of
emulating the legacy version. A bad key is 401 "ApiAuthStrategy - api key - Your api key is not
valid" (a bearer token without the cal_ prefix is read as an OAuth access token: "... access
token - Invalid Access Token") [A]. GET /v2/bookings requires auth (ApiAuthGuard); POST create /
cancel / reschedule and GET one use OptionalApiAuthGuard, i.e. real Cal.com lets an anonymous
attendee book or cancel by uid [C]. This fake is stricter by default (strict_auth): a missing key is
401 everywhere, so a client that forgets the header is caught; strict_auth=False is the real rule.

Envelopes. Success: {"status":"success","data":...} (+ "pagination" on lists) [C]. Errors
(HttpExceptionFilter) [E]: {"status":"error","timestamp":ISO,"path":url,"error":{"code":
<exception name, e.g. "BadRequestException">,"message":...,"details":{"message":...,"error":
"Bad Request","statusCode":400}}}. A unique-constraint violation (PrismaExceptionFilter) is
409 {"status":"error",...,"error":{"code":"CONFLICT","message":"Invalid Input: Trying to create a
record that already exists."}} [E].

POST /v2/bookings -> 201 [C] body [I]: start (ISO 8601, UTC; offsets are converted), eventTypeId
(int), attendee {name, email?, timeZone (IANA), phoneNumber? (E.164), language? (enum)} with email
or phoneNumber required, lengthInMinutes? (ONLY for event types with several lengths: otherwise 400
"Can't specify 'lengthInMinutes' because event type does not have multiple possible lengths..."
[S input.service validateBookingLengthInMinutes]; the end is start + lengthInMinutes or the event
type's length), guests?, metadata? (object, <= 50 keys, key <= 40 chars, values strings <= 500
chars, numbers or booleans [I validate-metadata]), bookingFieldsResponses?, location?.
Unknown event type: 404 "Event type with id N not found." [S errors]. Past start: 400 "Attempting
to book a meeting in the past." [S errors].
THE CONFLICT ANSWER. When the host is busy (any accepted booking of that host overlaps), Cal.com
answers 400 BadRequestException "User either already has booking at this time or is not available"
(no_available_users_found_error) [S errors.service handleBookingError] - a 400, not a 409. A second
identical create sent sequentially gets that same 400 [X #13747]. A 409 CONFLICT (the Prisma P2002
envelope above) only appears when two identical creates race past the availability check and the
second hits the unique booking idempotencyKey [X PR #13865, E]. The fake answers the 400 for every
overlap; fault mode "conflict" answers that 409 (with no effect) so both paths can be tested.

Booking object [O]: id, uid, title, description, hosts [{id, name, email, displayEmail, username,
timeZone}], status "accepted" | "cancelled" | "rejected" | "pending" (lower case), cancellationReason?,
cancelledByEmail?, reschedulingReason?, rescheduledByEmail?, rescheduledFromUid?, rescheduledToUid?,
start, end (ISO, "…T09:00:00.000Z"), duration (minutes), eventTypeId (deprecated), eventType {id,
slug}, location, meetingUrl, absentHost, createdAt, updatedAt, metadata (user metadata only),
icsUid, attendees [{name, email, displayEmail, timeZone, language, absent, phoneNumber?}], guests,
bookingFieldsResponses.

GET /v2/bookings/{uid} -> 200, or 404 "Booking with uid=X was not found in the database" [S].

POST /v2/bookings/{uid}/cancel -> 200 with the cancelled booking [C]; body {cancellationReason?}
[I]. Already cancelled: 400 "Can't cancel booking with uid=X because it has been cancelled already.
Please provide uid of a booking that is not cancelled." [S input.service]. Unknown uid: 404.
When the API key's owner is the booking's host, a reason is required: 400 "Cancellation reason is
required when you are the host" [W handleCancelBooking] (FakeCalcom(key_owner=<host>)).

POST /v2/bookings/{uid}/reschedule -> 201 [C]; body {start, reschedulingReason?, rescheduledBy?}
[I]. The answer is a NEW booking with a NEW uid and rescheduledFromUid = old uid; it keeps the old
booking's attendee and METADATA, and its length is the event type's length (not the old booking's)
[S input.service transformInputRescheduleBooking]. The old booking becomes status "cancelled" with
rescheduledToUid. The old booking does not block its own new time. Rescheduling a cancelled
booking: 400 "Can't reschedule booking with uid=X because it has been cancelled..." (or "...
cancelled and rescheduled already to booking with uid=Y ...") [S bookings.service
canRescheduleBooking]. Busy host: the same 400 "User either already has booking..." [S].

GET /v2/bookings -> 200 {"status":"success","data":[...],"pagination":{returnedItems, totalItems,
itemsPerPage, remainingItems, currentPage, totalPages, hasNextPage, hasPreviousPage}} [C, P].
Query [I get-bookings]: status=upcoming,recurring,past,cancelled,unconfirmed (comma list; upcoming
= ends in the future and not cancelled/rejected, past = ended and not cancelled/rejected,
cancelled = cancelled or rejected, unconfirmed = pending), attendeeEmail, attendeeName, bookingUid,
eventTypeId, eventTypeIds (comma list), afterStart (start >= x), beforeEnd (end <= x),
afterCreatedAt, beforeCreatedAt, sortStart / sortEnd / sortCreated = asc|desc, take (1..250,
default 100), skip (>= 0, default 0). Unknown parameters are ignored (ValidationPipe whitelist).
Without a sort parameter the fake orders by start ascending (Cal.com's default order depends on the
status filter), ties by id.

Rate limits [T]: 120 requests / 60 s per API key by default; a blocked request is 429
ThrottlerException "Too many requests. Please try again later." with X-RateLimit-Limit-Default,
X-RateLimit-Remaining-Default and X-RateLimit-Reset-Default (seconds until unblocked). Cal.com's
guard sets no Retry-After itself; the fake's "throttle" fault sends Retry-After AND those headers.

Webhooks [W]. POST to the subscriber URL, Content-Type application/json, header
X-Cal-Signature-256 = hex HMAC-SHA256 of the exact raw body under the webhook's secret
("no-secret-provided" when there is no secret). Body JSON.stringify({triggerEvent, createdAt,
payload}) - compact, no spaces. payload is the CalendarEvent plus: type (event type slug), title,
startTime, endTime, organizer {id, name, email, username, timeZone, language {locale},
timeFormat, utcOffset}, attendees [{name, email, timeZone, language {locale}, utcOffset, ...}],
responses, uid, bookingId, eventTypeId, location, length, eventTitle, status ("ACCEPTED",
"CANCELLED" - upper case), metadata ({...user metadata, videoCallUrl?}); BOOKING_RESCHEDULED adds
rescheduleId, rescheduleUid (the OLD uid; payload.uid is the NEW booking), rescheduleStartTime,
rescheduleEndTime (the old times). BOOKING_CANCELLED carries cancellationReason and NO metadata
(handleCancelBooking builds it from the event, not from booking.metadata), and its startTime /
endTime come from dayjs(...).format() ("…T09:00:00+00:00" on a UTC server) where created /
rescheduled use dayjs.utc().format() ("…T09:00:00Z"). Cal.com does not retry failed deliveries.

Not modelled: availability schedules, minimum notice, booking windows, seats, recurring events,
requiresConfirmation (pending), teams, the legacy 2024-04-15 version, real rate counting.

==================================================================================================
THE FAKE'S OWN API
==================================================================================================
Control API (JSON, no auth, never subject to faults), all under /_fake/:
  POST   /_fake/event-types      {id, host, length, lengths?, slug?, title?, host_name?,
                                  host_email?, host_time_zone?} or a list of them -> 201
  GET    /_fake/event-types
  GET    /_fake/bookings         every booking (cancelled too), API shape + "_fake": {host, source,
                                  rescheduled}; ?eventTypeId=&status=accepted|cancelled
  POST   /_fake/bookings         a booking made directly in Cal.com (no metadata unless given):
                                  {eventTypeId, start, lengthInMinutes?, attendee?, metadata?,
                                  force?} -> 201 (force skips the overlap check); webhooks fire
  POST   /_fake/bookings/{uid}/cancel      {cancellationReason?}  a cancel made in Cal.com
  POST   /_fake/bookings/{uid}/reschedule  {start, reschedulingReason?, force?}
  POST   /_fake/faults           {"rules": [...], "seed"?: n, "append"?: bool} or a bare list.
                                  rule = {match: {method?, path_prefix?}, mode, count? | probability?,
                                  retry_after?, delay?}. Modes: before (500, no effect), after
                                  (effect, then 500), hang (no effect, wait `delay` s, close without
                                  answer), hang_after, drop (close without answer, no effect),
                                  drop_after, throttle (429 + Retry-After), unavailable (503 +
                                  Retry-After), conflict (409 CONFLICT envelope, no effect), slow
                                  (effect, wait `delay`, answer normally). Without count or
                                  probability a rule fires once. First matching rule that fires wins.
  GET    /_fake/faults, DELETE /_fake/faults
  GET    /_fake/stats            {total_requests, max_concurrent, in_flight, calls: {"POST
                                  /v2/bookings": {"201": n, "fault:drop": m, ...}}, bookings, ...}
  GET    /_fake/requests         the request log (method, path, query, headers, body, outcome)
  POST   /_fake/reset            {keep_event_types?: bool} bookings, faults, stats, log, deliveries,
                                  subscriptions (and event types unless kept) are cleared
  POST   /_fake/config           {strict_auth?, reject_past?, key_owner?, latency?, api_key?}
  POST   /_fake/webhook          {url, secret, triggerEvent, uid | booking: {...}, overrides?,
                                  signature?} -> {"status": <receiver's status>, "body": ...}
  POST   /_fake/webhook-subscriptions  {url, secret, triggers?} -> Cal.com then POSTs webhooks
                                  for every change (API or direct), asynchronously
  GET    /_fake/webhook-subscriptions, DELETE /_fake/webhook-subscriptions
  GET    /_fake/deliveries       automatic deliveries and their outcomes
Python: the same through FakeCalcom methods (add_event_type, bookings, booking, create_direct,
cancel_direct, reschedule_direct, set_faults, clear_faults, stats, requests, reset, configure,
send_webhook, subscribe, deliveries, wait_deliveries) and module helpers sign(body, secret),
webhook_payload(trigger, booking, previous=None), webhook_body(trigger, booking, ...), bench(...).
"""
from __future__ import annotations

import argparse
import bisect
import collections
import datetime as dt
import hashlib
import hmac
import http
import http.client
import http.server
import itertools
import json
import random
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from typing import Any, Callable

try:  # IANA zones for attendee.timeZone validation and webhook utcOffset
    import zoneinfo

    _ZONES: frozenset[str] = frozenset(zoneinfo.available_timezones())
except Exception:  # pragma: no cover - no tz database on this machine
    zoneinfo = None  # type: ignore[assignment]
    _ZONES = frozenset()

API_VERSION = "2024-08-13"
DEFAULT_API_KEY = "cal_test_fake"

# Messages copied from Cal.com's source (see the header for where).
MSG_BUSY = "User either already has booking at this time or is not available"
MSG_PAST = "Attempting to book a meeting in the past."
MSG_METADATA = ("Metadata must have at most 50 keys, each key up to 40 characters, and string "
                "values up to 500 characters.")
MSG_SINGLE_LENGTH = ("Can't specify 'lengthInMinutes' because event type does not have multiple "
                     "possible lengths. Please, remove the 'lengthInMinutes' field from the request.")
MSG_NO_AUTH = ("ApiAuthStrategy - No authentication method provided. Either pass an API key as "
               "'Bearer' header or OAuth client credentials as 'x-cal-secret-key' and "
               "'x-cal-client-id' headers")
MSG_BAD_KEY = "ApiAuthStrategy - api key - Your api key is not valid"
MSG_BAD_TOKEN = "ApiAuthStrategy - access token - Invalid Access Token."
MSG_THROTTLED = "Too many requests. Please try again later."
MSG_P2002 = "Invalid Input: Trying to create a record that already exists."
MSG_HOST_REASON = "Cancellation reason is required when you are the host"
MSG_STATUS = "Invalid status. Allowed are upcoming, recurring, past, cancelled, unconfirmed"
MSG_EVENT_LOOKUP = ("Either eventTypeId or eventTypeSlug + username or eventTypeSlug + teamSlug "
                    "must be provided")

# BookingLanguage enum [I inputs/language.ts]
LANGUAGES = frozenset((
    "ar", "ca", "de", "es", "eu", "he", "id", "ja", "lv", "pl", "ro", "sr", "th", "vi", "az", "cs",
    "el", "es-419", "fi", "hr", "it", "km", "nl", "pt", "ru", "sv", "tr", "zh-CN", "bg", "da", "en",
    "et", "fr", "hu", "iw", "ko", "no", "pt-BR", "sk", "ta", "uk", "zh-TW", "bn"))
LIST_STATUSES = ("upcoming", "recurring", "past", "cancelled", "unconfirmed")
FAULT_MODES = frozenset(("before", "after", "hang", "hang_after", "drop", "drop_after", "throttle",
                         "unavailable", "conflict", "slow"))
WEBHOOK_TRIGGERS = ("BOOKING_CREATED", "BOOKING_RESCHEDULED", "BOOKING_CANCELLED")
_UID_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"  # short-uuid (base58)
_PHONE = re.compile(r"^\+[1-9]\d{6,14}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ZONE_SHAPE = re.compile(r"^(UTC|GMT|[A-Za-z]+(/[A-Za-z0-9_+\-]+)+)$")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_MAX_BODY = 1 << 20


# ------------------------------------------------------------------------------------------------
# Small helpers: instants, JSON, envelopes, signatures.
# ------------------------------------------------------------------------------------------------

def parse_instant(value: Any) -> int | None:
    """ISO 8601 -> epoch milliseconds (UTC). Naive times are UTC, as luxon's fromISO(..., utc)."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return (parsed - _EPOCH) // dt.timedelta(milliseconds=1)


def _utc(ms: int) -> dt.datetime:
    return _EPOCH + dt.timedelta(milliseconds=ms)


def iso_ms(ms: int) -> str:
    """API v2 instants: JavaScript Date#toISOString, "2024-08-13T09:00:00.000Z"."""
    return _utc(ms).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def iso_dayjs_utc(ms: int) -> str:
    """dayjs(x).utc().format(): "2024-08-13T09:00:00Z" (webhooks of created/rescheduled)."""
    return _utc(ms).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_dayjs_local_utc(ms: int) -> str:
    """dayjs(x).format() on a UTC server: "2024-08-13T09:00:00+00:00" (BOOKING_CANCELLED)."""
    return _utc(ms).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _compact(obj: Any) -> bytes:
    """JSON.stringify: no spaces, UTF-8."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sign(body: bytes | str, secret: str | None) -> str:
    """X-Cal-Signature-256: hex HMAC-SHA256 of the raw body under the secret [W sendPayload.ts
    createWebhookSignature]; Cal.com sends "no-secret-provided" when the webhook has no secret."""
    if not secret:
        return "no-secret-provided"
    raw = body.encode("utf-8") if isinstance(body, str) else body
    return hmac.new(secret.encode("utf-8"), raw, hashlib.sha256).hexdigest()


_REASONS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
            409: "Conflict", 422: "Unprocessable Entity", 429: "Too Many Requests",
            500: "Internal Server Error", 503: "Service Unavailable"}


def error_envelope(status: int, code: str, message: str, path: str, *, details: bool = True) -> dict:
    """Cal.com API v2's error body [E http-exception.filter.ts]: error.code is the Nest exception's
    name and error.details is exception.getResponse(); the Prisma filter sends no details."""
    err: dict[str, Any] = {"code": code, "message": message}
    if details:
        err["details"] = {"message": message, "error": _REASONS.get(status, "Error"),
                          "statusCode": status}
    return {"status": "error", "timestamp": iso_ms(_now_ms()), "path": path, "error": err}


class ApiError(Exception):
    """An HttpException of Cal.com: status, Nest exception name, message."""

    _CODES = {400: "BadRequestException", 401: "UnauthorizedException", 403: "ForbiddenException",
              404: "NotFoundException", 409: "ConflictException",
              422: "UnprocessableEntityException", 429: "ThrottlerException",
              500: "InternalServerErrorException", 503: "ServiceUnavailableException"}

    def __init__(self, status: int, message: str, code: str | None = None, details: bool = True):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or self._CODES.get(status, "HttpException")
        self.details = details

    def envelope(self, path: str) -> dict:
        return error_envelope(self.status, self.code, self.message, path, details=self.details)


def _utc_offset_minutes(zone: str, at_ms: int) -> int:
    if zoneinfo is None:
        return 0
    try:
        off = _utc(at_ms).astimezone(zoneinfo.ZoneInfo(zone)).utcoffset()
    except Exception:
        return 0
    return int(off.total_seconds() // 60) if off is not None else 0


def _valid_zone(zone: Any) -> bool:
    if not isinstance(zone, str):
        return False
    if _ZONES:
        return zone in _ZONES or zone in ("UTC", "GMT")
    return bool(_ZONE_SHAPE.match(zone))


# ------------------------------------------------------------------------------------------------
# Webhook bodies (module level so tests can build tampered / replayed deliveries themselves).
# ------------------------------------------------------------------------------------------------

def webhook_payload(trigger: str, booking: dict, previous: dict | None = None,
                    created_at: str | None = None, overrides: dict | None = None) -> dict:
    """The body Cal.com POSTs for BOOKING_CREATED / BOOKING_RESCHEDULED / BOOKING_CANCELLED, built
    from a booking in API v2 shape (what the fake's API and accessors return). For
    BOOKING_RESCHEDULED, `booking` is the NEW booking and `previous` the old one (defaults to a
    booking known only by booking["rescheduledFromUid"]). Field list from [W]."""
    host = (booking.get("hosts") or [{}])[0]
    event_type = booking.get("eventType") or {"id": booking.get("eventTypeId"), "slug": ""}
    start_ms = parse_instant(booking.get("start")) or 0
    end_ms = parse_instant(booking.get("end")) or start_ms
    cancelled = trigger == "BOOKING_CANCELLED"
    fmt = iso_dayjs_local_utc if cancelled else iso_dayjs_utc
    attendees = []
    for a in booking.get("attendees") or []:
        zone = a.get("timeZone") or "UTC"
        name = a.get("name") or ""
        first, _, last = name.partition(" ")
        item = {"email": a.get("email", ""), "name": name, "firstName": first, "lastName": last,
                "timeZone": zone, "language": {"locale": a.get("language") or "en"},
                "utcOffset": _utc_offset_minutes(zone, start_ms)}
        if a.get("phoneNumber"):
            item["phoneNumber"] = a["phoneNumber"]
        attendees.append(item)
    first_att = (booking.get("attendees") or [{}])[0]
    responses: dict[str, Any] = {
        "name": {"label": "your_name", "value": first_att.get("name", "")},
        "email": {"label": "email_address", "value": first_att.get("email", "")},
        "guests": {"label": "additional_guests", "value": booking.get("guests") or []},
    }
    if first_att.get("phoneNumber"):
        responses["attendeePhoneNumber"] = {"label": "phone_number",
                                            "value": first_att["phoneNumber"]}
    host_zone = host.get("timeZone") or "UTC"
    payload: dict[str, Any] = {
        "type": event_type.get("slug", ""),
        "title": booking.get("title", ""),
        "description": booking.get("description") or "",
        "additionalNotes": booking.get("description") or "",
        "customInputs": {},
        "startTime": fmt(start_ms),
        "endTime": fmt(end_ms),
        "organizer": {"id": host.get("id"), "name": host.get("name"), "email": host.get("email"),
                      "username": host.get("username"), "timeZone": host_zone,
                      "language": {"locale": "en"}, "timeFormat": "h:mma",
                      "utcOffset": _utc_offset_minutes(host_zone, start_ms)},
        "responses": responses,
        "userFieldsResponses": {},
        "attendees": attendees,
        "location": booking.get("location") or "",
        "destinationCalendar": [] if cancelled else None,
        "hideCalendarNotes": False,
        "requiresConfirmation": None,
        "eventTypeId": event_type.get("id", booking.get("eventTypeId")),
        "seatsShowAttendees": True,
        "seatsPerTimeSlot": None,
        "uid": booking.get("uid"),
        "bookingId": booking.get("id"),
        "iCalUID": booking.get("icsUid"),
        "iCalSequence": 1 if cancelled else 0,
        "eventTitle": booking.get("_eventTitle") or event_type.get("slug", ""),
        "eventDescription": None,
        "price": 0,
        "currency": "usd",
        "length": booking.get("duration"),
    }
    if cancelled:
        # handleCancelBooking: no booking metadata in the payload; reason and status only.
        payload["cancellationReason"] = booking.get("cancellationReason")
        payload["status"] = "CANCELLED"
        if booking.get("cancelledByEmail"):
            payload["cancelledBy"] = booking["cancelledByEmail"]
    else:
        payload["metadata"] = dict(booking.get("metadata") or {})
        payload["status"] = "ACCEPTED"
        if trigger == "BOOKING_RESCHEDULED":
            old_uid = (previous or {}).get("uid") or booking.get("rescheduledFromUid")
            payload["rescheduleUid"] = old_uid
            if previous:
                payload["rescheduleId"] = previous.get("id")
                old_start = parse_instant(previous.get("start"))
                old_end = parse_instant(previous.get("end"))
                if old_start is not None:
                    payload["rescheduleStartTime"] = iso_dayjs_utc(old_start)
                if old_end is not None:
                    payload["rescheduleEndTime"] = iso_dayjs_utc(old_end)
            if booking.get("rescheduledByEmail"):
                payload["rescheduledBy"] = booking["rescheduledByEmail"]
    if overrides:
        payload.update(overrides)
    payload = {k: v for k, v in payload.items() if v is not None or k in (
        "destinationCalendar", "requiresConfirmation", "seatsPerTimeSlot", "eventDescription")}
    return {"triggerEvent": trigger, "createdAt": created_at or iso_ms(_now_ms()),
            "payload": payload}


def webhook_body(trigger: str, booking: dict, previous: dict | None = None,
                 created_at: str | None = None, overrides: dict | None = None) -> bytes:
    """The exact raw bytes Cal.com would send (JSON.stringify of webhook_payload)."""
    return _compact(webhook_payload(trigger, booking, previous, created_at, overrides))


def post_webhook(url: str, body: bytes, signature: str | None,
                 timeout: float = 10.0) -> tuple[int | None, str]:
    """POST a raw webhook body like Cal.com does; returns (receiver status, body text). A
    signature of None sends no X-Cal-Signature-256 header (a missing-signature test)."""
    parts = urllib.parse.urlsplit(url)
    conn_cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = conn_cls(parts.hostname, parts.port, timeout=timeout)
    headers = {"Content-Type": "application/json", "X-Cal-Webhook-Version": "2021-10-20"}
    if signature is not None:
        headers["X-Cal-Signature-256"] = signature
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    try:
        conn.request("POST", path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read().decode("utf-8", "replace")
    finally:
        conn.close()


# ------------------------------------------------------------------------------------------------
# The fake.
# ------------------------------------------------------------------------------------------------

class _Rule:
    def __init__(self, spec: dict, seq: int):
        if not isinstance(spec, dict):
            raise ValueError("a fault rule must be an object")
        mode = spec.get("mode")
        if mode not in FAULT_MODES:
            raise ValueError(f"unknown fault mode {mode!r}; modes: {sorted(FAULT_MODES)}")
        match = spec.get("match") or {}
        if not isinstance(match, dict):
            raise ValueError("match must be an object")
        self.id = seq
        self.mode: str = mode
        self.method = str(match.get("method") or "*").upper()
        self.path_prefix = str(match.get("path_prefix") or "/v2/")
        prob = spec.get("probability")
        count = spec.get("count")
        if prob is not None and not (isinstance(prob, (int, float)) and 0 <= prob <= 1):
            raise ValueError("probability must be a number in [0, 1]")
        if count is not None and not (isinstance(count, int) and count >= 0):
            raise ValueError("count must be a non-negative integer")
        self.probability: float | None = float(prob) if prob is not None else None
        # Without count or probability a rule fires once; with only a probability, forever.
        self.remaining: int | None = count if count is not None else (None if prob is not None else 1)
        self.retry_after = spec.get("retry_after", 1)
        self.delay = float(spec.get("delay", 5.0))
        self.fired = 0

    def matches(self, method: str, path: str) -> bool:
        return (self.method in ("*", method)) and path.startswith(self.path_prefix)

    def describe(self) -> dict:
        return {"id": self.id, "mode": self.mode,
                "match": {"method": self.method, "path_prefix": self.path_prefix},
                "probability": self.probability, "remaining": self.remaining,
                "retry_after": self.retry_after, "delay": self.delay, "fired": self.fired}


class FakeCalcom:
    """An in-memory Cal.com (API v2 bookings + webhooks) on 127.0.0.1. Thread-safe."""

    def __init__(self, port: int = 0, api_key: str = DEFAULT_API_KEY, *, host: str = "127.0.0.1",
                 seed: int | None = None, strict_auth: bool = True, reject_past: bool = True,
                 key_owner: Any = None, latency: float = 0.0,
                 now: Callable[[], int] | None = None, verbose: bool = False,
                 max_log: int = 20000):
        self._bind = (host, port)
        self.api_key = api_key
        self.strict_auth = strict_auth
        self.reject_past = reject_past
        self.key_owner = key_owner          # the host the API key belongs to (cancel reason rule)
        self.latency = float(latency)       # added to every /v2 request (a network round trip)
        self.verbose = verbose
        self._now = now or _now_ms
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._seed = seed
        self._rng = random.Random(seed)           # probability faults
        self._uid_rng = random.Random(None if seed is None else seed + 1)
        self._max_log = max_log
        self._deliver_q: collections.deque = collections.deque()
        self._deliver_cv = threading.Condition()
        self._deliver_pending = 0
        self._deliverer: threading.Thread | None = None
        self._reset_state(keep_event_types=False)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> "FakeCalcom":
        if self._server is not None:
            return self
        self._stop.clear()
        self._server = _Server(self._bind, _make_handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.1},
                                        name="fake-calcom", daemon=True)
        self._thread.start()
        self._deliverer = threading.Thread(target=self._deliver_loop, name="fake-calcom-webhooks",
                                           daemon=True)
        self._deliverer.start()
        return self

    def stop(self) -> None:
        self._stop.set()                       # wakes hanging requests
        with self._deliver_cv:
            self._deliver_cv.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._deliverer is not None:
            self._deliverer.join(timeout=5)
            self._deliverer = None

    def __enter__(self) -> "FakeCalcom":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("not started")
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self._bind[0]}:{self.port}"

    # -- state -------------------------------------------------------------------------------

    def _reset_state(self, keep_event_types: bool) -> None:
        with self._lock:
            if not keep_event_types:
                self._event_types: dict[int, dict] = {}
                self._hosts: dict[Any, dict] = {}
                self._host_ids = itertools.count(1001)
            self._bookings: dict[str, dict] = {}       # uid -> record
            self._order: list[str] = []                # uids in creation order
            self._busy: dict[Any, list[tuple[int, int, str]]] = {}  # host -> sorted live intervals
            self._overlapped: set[Any] = set()         # hosts with a forced double booking
            self._ids = itertools.count(1)
            self._rules: list[_Rule] = []
            self._rule_seq = itertools.count(1)
            self._calls: dict[str, collections.Counter] = {}
            self._total = 0
            self._control = 0
            self._in_flight = 0
            self._max_in_flight = 0
            self._log: collections.deque = collections.deque(maxlen=self._max_log)
            self._log_seq = itertools.count(1)
            self._subs: list[dict] = []
            self._deliveries: list[dict] = []

    def reset(self, keep_event_types: bool = False) -> None:
        self._reset_state(keep_event_types)

    def configure(self, **settings: Any) -> None:
        allowed = {"strict_auth", "reject_past", "key_owner", "latency", "api_key"}
        unknown = set(settings) - allowed
        if unknown:
            raise ValueError(f"unknown settings {sorted(unknown)}; allowed: {sorted(allowed)}")
        with self._lock:
            for k, v in settings.items():
                setattr(self, k, float(v) if k == "latency" else v)

    def add_event_type(self, id: int, host: Any, length: int, lengths: list[int] | None = None,
                       slug: str | None = None, title: str | None = None,
                       host_name: str | None = None, host_email: str | None = None,
                       host_time_zone: str | None = None) -> dict:
        """An event type owned by `host` (a staff member: any JSON scalar). `lengths` lists the
        durations of a multi-length event type; without it lengthInMinutes is refused, as in
        Cal.com. Bookings of one host (over all its event types) may not overlap."""
        if not isinstance(id, int) or isinstance(id, bool) or id <= 0:
            raise ValueError("id must be a positive integer")
        if not isinstance(length, int) or isinstance(length, bool) or length <= 0:
            raise ValueError("length must be a positive integer (minutes)")
        if host is None or isinstance(host, (dict, list)):
            raise ValueError("host must be a string or a number")
        if lengths is not None and (not isinstance(lengths, list) or not lengths or not all(
                isinstance(x, int) and not isinstance(x, bool) and x > 0 for x in lengths)):
            raise ValueError("lengths must be a non-empty list of positive integers")
        with self._lock:
            h = self._hosts.get(host)
            if h is None:
                username = re.sub(r"[^a-z0-9]+", "-", str(host).lower()).strip("-") or "host"
                h = {"id": host if isinstance(host, int) and not isinstance(host, bool)
                     else next(self._host_ids),
                     "name": host_name or f"Staff {host}", "email": host_email
                     or f"{username}@staff.example", "username": username,
                     "timeZone": host_time_zone or "UTC"}
                self._hosts[host] = h
            else:
                if host_name:
                    h["name"] = host_name
                if host_email:
                    h["email"] = host_email
                if host_time_zone:
                    h["timeZone"] = host_time_zone
            et = {"id": id, "host": host, "length": length, "lengths": list(lengths) if lengths
                  else None, "slug": slug or f"{length}min-{id}",
                  "title": title or f"{length} Min Meeting"}
            self._event_types[id] = et
            return dict(et)

    def event_types(self) -> list[dict]:
        with self._lock:
            return [dict(e) for e in self._event_types.values()]

    def bookings(self, status: str | None = None, event_type_id: int | None = None,
                 internal: bool = True) -> list[dict]:
        """Every booking in creation order (cancelled ones too), API shape; with internal=True
        each carries "_fake": {host, source ("api" | "calcom"), rescheduled}."""
        with self._lock:
            out = []
            for uid in self._order:
                rec = self._bookings[uid]
                if status and rec["status"].lower() != status.lower():
                    continue
                if event_type_id is not None and rec["event_type_id"] != event_type_id:
                    continue
                item = self._out(rec)
                if internal:
                    item["_fake"] = {"host": rec["host"], "source": rec["source"],
                                     "rescheduled": rec["rescheduled"]}
                out.append(item)
            return out

    def booking(self, uid: str) -> dict | None:
        with self._lock:
            rec = self._bookings.get(uid)
            return self._out(rec) if rec else None

    # -- faults ------------------------------------------------------------------------------

    def set_faults(self, rules: list[dict], seed: int | None = None, append: bool = False) -> list[dict]:
        parsed = []
        with self._lock:
            for spec in rules:
                parsed.append(_Rule(spec, next(self._rule_seq)))
            if seed is not None:
                self._rng.seed(seed)
            self._rules = (self._rules + parsed) if append else parsed
            return [r.describe() for r in self._rules]

    def clear_faults(self) -> None:
        with self._lock:
            self._rules = []

    def faults(self) -> list[dict]:
        with self._lock:
            return [r.describe() for r in self._rules]

    def _pick_fault(self, method: str, path: str) -> _Rule | None:
        with self._lock:
            for rule in self._rules:
                if not rule.matches(method, path) or rule.remaining == 0:
                    continue
                if rule.probability is not None and self._rng.random() >= rule.probability:
                    continue
                if rule.remaining is not None:
                    rule.remaining -= 1
                rule.fired += 1
                return rule
            return None

    # -- stats and log -----------------------------------------------------------------------

    def stats(self) -> dict:
        with self._lock:
            live = sum(1 for r in self._bookings.values() if r["status"] == "ACCEPTED")
            return {
                "total_requests": self._total,
                "control_requests": self._control,
                "in_flight": self._in_flight,
                "max_concurrent": self._max_in_flight,
                "calls": {k: dict(v) for k, v in sorted(self._calls.items())},
                "bookings": {"total": len(self._bookings), "accepted": live,
                             "cancelled": len(self._bookings) - live},
                "webhooks": {"subscriptions": len(self._subs),
                             "deliveries": len(self._deliveries),
                             "delivered_2xx": sum(1 for d in self._deliveries
                                                  if d["status"] and 200 <= d["status"] < 300)},
                "faults": [r.describe() for r in self._rules],
            }

    def requests(self) -> list[dict]:
        with self._lock:
            return list(self._log)

    def _enter(self) -> None:
        with self._lock:
            self._total += 1
            self._in_flight += 1
            if self._in_flight > self._max_in_flight:
                self._max_in_flight = self._in_flight

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _record(self, route: str, outcome: str, entry: dict) -> None:
        with self._lock:
            self._calls.setdefault(route, collections.Counter())[outcome] += 1
            entry["outcome"] = outcome
            entry["seq"] = next(self._log_seq)
            self._log.append(entry)

    # -- the bookings store --------------------------------------------------------------------

    def _new_uid(self) -> str:
        while True:
            uid = "".join(self._uid_rng.choice(_UID_ALPHABET) for _ in range(22))
            if uid not in self._bookings:
                return uid

    def _conflict(self, host: Any, start: int, end: int, ignore: str | None = None) -> str | None:
        """The uid of an accepted booking of `host` overlapping [start, end), if any. Live
        intervals of one host normally never overlap, so sorted by start they are sorted by end
        too and only the last one starting before `end` (skipping `ignore`) can overlap. A forced
        double booking breaks that; such hosts are scanned in full."""
        spans = self._busy.get(host, [])
        i = bisect.bisect_left(spans, (end, -1, ""))
        if host in self._overlapped:
            return next((u for s, e, u in spans[:i] if e > start and u != ignore), None)
        while i > 0:
            i -= 1
            s, e, uid = spans[i]
            if uid == ignore:
                continue
            return uid if e > start else None
        return None

    def _occupy(self, host: Any, start: int, end: int, uid: str) -> None:
        spans = self._busy.setdefault(host, [])
        if self._conflict(host, start, end) is not None:
            self._overlapped.add(host)
        bisect.insort(spans, (start, end, uid))

    def _release(self, rec: dict) -> None:
        spans = self._busy.get(rec["host"], [])
        try:
            spans.remove((rec["start"], rec["end"], rec["uid"]))
        except ValueError:
            pass

    def _insert(self, et: dict, start: int, end: int, attendee: dict, metadata: dict,
                guests: list, source: str, from_uid: str | None = None,
                rescheduling_reason: str | None = None, rescheduled_by: str | None = None,
                responses: dict | None = None) -> dict:
        now = self._now()
        host = self._hosts[et["host"]]
        uid = self._new_uid()
        rec = {
            "id": next(self._ids), "uid": uid, "event_type_id": et["id"], "host": et["host"],
            "start": start, "end": end, "status": "ACCEPTED", "attendee": dict(attendee),
            "metadata": dict(metadata), "guests": list(guests), "created": now, "updated": now,
            "title": f"{et['title']} between {host['name']} and {attendee.get('name', '')}",
            "cancellation_reason": None, "cancelled_by": None,
            "rescheduling_reason": rescheduling_reason, "rescheduled_by": rescheduled_by,
            "from_reschedule": from_uid, "rescheduled_to": None, "rescheduled": False,
            "source": source, "responses": dict(responses or {}),
        }
        self._bookings[uid] = rec
        self._order.append(uid)
        self._occupy(et["host"], start, end, uid)
        return rec

    def _out(self, rec: dict) -> dict:
        """Booking in API v2 shape [O BookingOutput_2024_08_13, output.service getOutputBooking]."""
        et = self._event_types.get(rec["event_type_id"]) or {"id": rec["event_type_id"],
                                                              "slug": "", "title": ""}
        h = self._hosts.get(rec["host"]) or {"id": 0, "name": "unknown", "email": "unknown",
                                             "username": "unknown", "timeZone": "UTC"}
        a = rec["attendee"]
        attendee = {"name": a.get("name", ""), "email": a.get("email", ""),
                    "displayEmail": a.get("email", ""), "timeZone": a.get("timeZone", "UTC"),
                    "language": a.get("language") or "en", "absent": False}
        if a.get("phoneNumber"):
            attendee["phoneNumber"] = a["phoneNumber"]
        responses = {"name": a.get("name", ""), "email": a.get("email", ""),
                     "guests": list(rec["guests"])}
        if a.get("phoneNumber"):
            responses["attendeePhoneNumber"] = a["phoneNumber"]
        responses.update(rec["responses"])
        out: dict[str, Any] = {
            "id": rec["id"], "uid": rec["uid"], "title": rec["title"], "description": "",
            "hosts": [{"id": h["id"], "name": h["name"], "email": h["email"],
                       "displayEmail": h["email"], "username": h["username"],
                       "timeZone": h["timeZone"]}],
            "status": rec["status"].lower(),
        }
        if rec["cancellation_reason"] is not None:
            out["cancellationReason"] = rec["cancellation_reason"]
        if rec["cancelled_by"]:
            out["cancelledByEmail"] = rec["cancelled_by"]
        if rec["rescheduling_reason"] is not None:
            out["reschedulingReason"] = rec["rescheduling_reason"]
        if rec["rescheduled_by"]:
            out["rescheduledByEmail"] = rec["rescheduled_by"]
        if rec["from_reschedule"]:
            out["rescheduledFromUid"] = rec["from_reschedule"]
        if rec["rescheduled_to"]:
            out["rescheduledToUid"] = rec["rescheduled_to"]
        out.update({
            "start": iso_ms(rec["start"]), "end": iso_ms(rec["end"]),
            "duration": (rec["end"] - rec["start"]) // 60000,
            "eventTypeId": et["id"], "eventType": {"id": et["id"], "slug": et["slug"]},
            "location": "", "meetingUrl": "", "absentHost": False,
            "createdAt": iso_ms(rec["created"]), "updatedAt": iso_ms(rec["updated"]),
            "metadata": dict(rec["metadata"]), "icsUid": f"{rec['uid']}@Cal.com",
            "attendees": [attendee], "guests": list(rec["guests"]),
            "bookingFieldsResponses": responses,
        })
        return out

    # -- the operations (shared by the API and the direct "made in Cal.com" calls) -----------

    def _event_type(self, event_type_id: int) -> dict:
        et = self._event_types.get(event_type_id)
        if et is None:
            raise ApiError(404, f"Event type with id {event_type_id} not found.")
        return et

    def _do_create(self, et: dict, start: int, end: int, attendee: dict, metadata: dict,
                   guests: list, source: str, force: bool = False,
                   responses: dict | None = None) -> tuple[dict, list]:
        if self.reject_past and source == "api" and start < self._now():
            raise ApiError(400, MSG_PAST)
        if not force and self._conflict(et["host"], start, end) is not None:
            raise ApiError(400, MSG_BUSY)
        rec = self._insert(et, start, end, attendee, metadata, guests, source, responses=responses)
        out = self._out(rec)
        return out, [("BOOKING_CREATED", out, None)]

    def _do_cancel(self, uid: str, reason: str | None, by: str | None,
                   as_host: Any = None) -> tuple[dict, list]:
        rec = self._bookings.get(uid)
        if rec is None:
            raise ApiError(404, f"Booking with uid={uid} not found")
        if rec["status"] == "CANCELLED":
            raise ApiError(400, f"Can't cancel booking with uid={uid} because it has been cancelled "
                                f"already. Please provide uid of a booking that is not cancelled.")
        if as_host is not None and as_host == rec["host"] and not reason:
            raise ApiError(400, MSG_HOST_REASON)
        rec["status"] = "CANCELLED"
        rec["cancellation_reason"] = reason
        rec["cancelled_by"] = by
        rec["updated"] = self._now()
        self._release(rec)
        out = self._out(rec)
        return out, [("BOOKING_CANCELLED", out, None)]

    def _do_reschedule(self, uid: str, start: int, reason: str | None, by: str | None,
                       source: str, force: bool = False) -> tuple[dict, list]:
        rec = self._bookings.get(uid)
        if rec is None:
            raise ApiError(404, f"Booking with uid={uid} was not found in the database")
        if rec["status"] == "CANCELLED":
            if rec["rescheduled"]:
                to = rec["rescheduled_to"]
                raise ApiError(400, f"Can't reschedule booking with uid={uid} because it has been "
                                    f"cancelled and rescheduled already to booking with uid={to}. "
                                    f"You probably want to reschedule {to} instead by passing it "
                                    f"within the request URL.")
            raise ApiError(400, f"Can't reschedule booking with uid={uid} because it has been "
                                f"cancelled. Please provide uid of a booking that is not cancelled.")
        et = self._event_type(rec["event_type_id"])
        end = start + et["length"] * 60000      # the event type's length, not the old booking's
        if self.reject_past and source == "api" and start < self._now():
            raise ApiError(400, MSG_PAST)
        if not force and self._conflict(rec["host"], start, end, ignore=uid) is not None:
            raise ApiError(400, MSG_BUSY)
        previous_before = self._out(rec)
        self._release(rec)
        rec["status"] = "CANCELLED"
        rec["rescheduled"] = True
        rec["updated"] = self._now()
        new = self._insert(et, start, end, rec["attendee"], rec["metadata"], rec["guests"],
                           source, from_uid=uid, rescheduling_reason=reason, rescheduled_by=by,
                           responses=rec["responses"])
        rec["rescheduled_to"] = new["uid"]
        out = self._out(new)
        return out, [("BOOKING_RESCHEDULED", out, previous_before)]

    # -- direct changes "made in Cal.com" (no auth, no faults; webhooks fire) -------------------

    def create_direct(self, event_type_id: int, start: str, length_in_minutes: int | None = None,
                      attendee: dict | None = None, metadata: dict | None = None,
                      force: bool = False) -> dict:
        """A booking made in Cal.com itself (its booking page): no appointd metadata. force=True
        books even over an existing booking (a host overriding availability)."""
        start_ms = parse_instant(start)
        if start_ms is None:
            raise ApiError(400, "start must be a valid ISO 8601 date string")
        att = {"name": "Walk-in Booker", "email": "booker@example.com", "timeZone": "UTC",
               "language": "en"}
        att.update(attendee or {})
        with self._lock:
            et = self._event_type(event_type_id)
            length = length_in_minutes or et["length"]
            out, events = self._do_create(et, start_ms, start_ms + length * 60000, att,
                                          metadata or {}, [], "calcom", force=force)
        self._emit(events)
        return out

    def cancel_direct(self, uid: str, reason: str | None = None,
                      by: str | None = "host@staff.example") -> dict:
        with self._lock:
            out, events = self._do_cancel(uid, reason, by)
        self._emit(events)
        return out

    def reschedule_direct(self, uid: str, start: str, reason: str | None = None,
                          force: bool = False) -> dict:
        start_ms = parse_instant(start)
        if start_ms is None:
            raise ApiError(400, "start must be a valid ISO 8601 date string")
        with self._lock:
            out, events = self._do_reschedule(uid, start_ms, reason, None, "calcom", force=force)
        self._emit(events)
        return out

    # -- webhooks ------------------------------------------------------------------------------

    def subscribe(self, url: str, secret: str | None, triggers: list[str] | None = None) -> dict:
        """Like a webhook configured in Cal.com: every later change (made through the API or
        directly) is POSTed to `url`, asynchronously, once (Cal.com does not retry)."""
        if triggers is not None and (not isinstance(triggers, list) or any(
                t not in WEBHOOK_TRIGGERS for t in triggers)):
            raise ValueError(f"triggers must be a list of {list(WEBHOOK_TRIGGERS)}")
        with self._lock:
            sub = {"id": len(self._subs) + 1, "url": url, "secret": secret,
                   "triggers": list(triggers) if triggers else list(WEBHOOK_TRIGGERS),
                   "active": True}
            self._subs.append(sub)
            return dict(sub)

    def unsubscribe_all(self) -> None:
        with self._lock:
            self._subs = []

    def subscriptions(self) -> list[dict]:
        with self._lock:
            return [dict(s) for s in self._subs]

    def deliveries(self) -> list[dict]:
        with self._lock:
            return [dict(d) for d in self._deliveries]

    def wait_deliveries(self, timeout: float = 10.0) -> bool:
        """Wait until every queued automatic delivery has been attempted."""
        deadline = time.monotonic() + timeout
        with self._deliver_cv:
            while self._deliver_pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._deliver_cv.wait(left)
        return True

    def _emit(self, events: list) -> None:
        with self._lock:
            subs = [dict(s) for s in self._subs if s["active"]]
        if not subs:
            return
        with self._deliver_cv:
            for trigger, booking, previous in events:
                for sub in subs:
                    if trigger in sub["triggers"]:
                        self._deliver_q.append((sub, trigger, booking, previous))
                        self._deliver_pending += 1
            self._deliver_cv.notify_all()

    def _deliver_loop(self) -> None:
        while not self._stop.is_set():
            with self._deliver_cv:
                while not self._deliver_q and not self._stop.is_set():
                    self._deliver_cv.wait(0.5)
                if self._stop.is_set():
                    return
                sub, trigger, booking, previous = self._deliver_q.popleft()
            body = webhook_body(trigger, self._with_title(booking), previous)
            status, text, error = None, "", None
            try:
                status, text = post_webhook(sub["url"], body, sign(body, sub["secret"]))
            except Exception as exc:  # the receiver is down: Cal.com logs it and moves on
                error = f"{type(exc).__name__}: {exc}"
            with self._lock:
                self._deliveries.append({"subscription": sub["id"], "url": sub["url"],
                                         "triggerEvent": trigger, "uid": booking.get("uid"),
                                         "status": status, "error": error,
                                         "response": text[:500], "at": iso_ms(_now_ms())})
            with self._deliver_cv:
                self._deliver_pending -= 1
                self._deliver_cv.notify_all()

    def _with_title(self, booking: dict) -> dict:
        et = self._event_types.get((booking.get("eventType") or {}).get("id"))
        if et:
            booking = dict(booking, _eventTitle=et["title"])
        return booking

    def send_webhook(self, url: str, secret: str | None, trigger: str, uid: str | None = None,
                     booking: dict | None = None, overrides: dict | None = None,
                     signature: Any = ..., previous: dict | None = None) -> tuple[int | None, str]:
        """POST one Cal.com-shaped webhook now and return (receiver status, body). Built from
        the stored booking `uid` (for BOOKING_RESCHEDULED: the new booking; its predecessor is
        looked up) or from `booking` (API-shaped fields; missing ones are filled in). signature:
        ... = the right one, None = no header, a string = that value (tampering)."""
        if trigger not in WEBHOOK_TRIGGERS:
            raise ValueError(f"triggerEvent must be one of {list(WEBHOOK_TRIGGERS)}")
        with self._lock:
            if uid is not None:
                rec = self._bookings.get(uid)
                if rec is None:
                    raise ApiError(404, f"no booking with uid {uid}")
                data = self._out(rec)
                if previous is None and trigger == "BOOKING_RESCHEDULED" and rec["from_reschedule"]:
                    prev = self._bookings.get(rec["from_reschedule"])
                    previous = self._out(prev) if prev else None
            elif booking is not None:
                data = self._synthesise(booking)
            else:
                raise ValueError("give uid or booking")
            data = self._with_title(data)
        body = webhook_body(trigger, data, previous, overrides=overrides)
        sig = sign(body, secret) if signature is ... else signature
        return post_webhook(url, body, sig)

    def _synthesise(self, fields: dict) -> dict:
        """An API-shaped booking from loose fields {uid?, id?, eventTypeId?, start, end?,
        attendee? | attendees?, metadata?, status?, ...} for webhooks about unknown bookings."""
        et = self._event_types.get(fields.get("eventTypeId"))
        start = parse_instant(fields.get("start")) or self._now()
        length = (et or {}).get("length", 30)
        end = parse_instant(fields.get("end")) or start + length * 60000
        h = self._hosts.get((et or {}).get("host")) or {"id": 1, "name": "Host", "email":
                                                        "host@staff.example", "username": "host",
                                                        "timeZone": "UTC"}
        att = fields.get("attendee") or {"name": "Booker", "email": "booker@example.com",
                                         "timeZone": "UTC"}
        data = {
            "id": fields.get("id", 900000 + len(self._bookings)),
            "uid": fields.get("uid") or self._new_uid(),
            "title": fields.get("title", "Meeting"), "description": "",
            "hosts": [dict(h, displayEmail=h["email"])],
            "status": fields.get("status", "accepted"),
            "start": iso_ms(start), "end": iso_ms(end), "duration": (end - start) // 60000,
            "eventTypeId": fields.get("eventTypeId"),
            "eventType": {"id": fields.get("eventTypeId"), "slug": (et or {}).get("slug", "")},
            "attendees": fields.get("attendees") or [att],
            "metadata": fields.get("metadata") or {},
        }
        for k, v in fields.items():
            if k not in data and k not in ("attendee",):
                data[k] = v
        return data

    # -- the HTTP API ----------------------------------------------------------------------------

    def _api(self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str],
             raw: bytes) -> tuple[int, dict, list]:
        """One /v2 request (faults already handled). Returns (status, JSON body, events)."""
        route, uid, action = _route(method, path)
        if route == "other":
            raise ApiError(404, f"Cannot {method} {path}")
        # Versioning is resolved before guards [V]; the fake refuses what Cal.com would send to
        # its legacy controllers.
        version = headers.get("cal-api-version")
        if version != API_VERSION:
            got = "missing" if version is None else f"{version!r}"
            raise ApiError(400, f"cal-api-version header {got}: it must be {API_VERSION}. Without "
                                f"it Cal.com routes /v2/bookings to its legacy 2024-04-15 version, "
                                f"whose request and response shapes differ.")
        self._authenticate(headers, required=self.strict_auth or route == "GET /v2/bookings")
        body: dict = {}
        if method == "POST":
            body = _json_object(raw)
        with self._lock:
            if route == "POST /v2/bookings":
                out, events = self._api_create(body)
                return 201, {"status": "success", "data": out}, events
            if route == "GET /v2/bookings":
                data, pagination = self._api_list(query)
                return 200, {"status": "success", "data": data, "pagination": pagination}, []
            if route == "GET /v2/bookings/{uid}":
                rec = self._bookings.get(uid)
                if rec is None:
                    raise ApiError(404, f"Booking with uid={uid} was not found in the database")
                return 200, {"status": "success", "data": self._out(rec)}, []
            if route == "POST /v2/bookings/{uid}/cancel":
                reason = body.get("cancellationReason")
                if reason is not None and not isinstance(reason, str):
                    raise ApiError(400, "cancellationReason must be a string")
                out, events = self._do_cancel(uid, reason, None, as_host=self.key_owner)
                return 200, {"status": "success", "data": out}, events
            if route == "POST /v2/bookings/{uid}/reschedule":
                start = parse_instant(body.get("start"))
                if start is None:
                    raise ApiError(400, "start must be a valid ISO 8601 date string")
                reason = body.get("reschedulingReason")
                if reason is not None and not isinstance(reason, str):
                    raise ApiError(400, "reschedulingReason must be a string")
                by = body.get("rescheduledBy")
                if by is not None and (not isinstance(by, str) or not _EMAIL.match(by)):
                    raise ApiError(400, "Invalid rescheduledBy email format")
                out, events = self._do_reschedule(uid, start, reason, by, "api")
                return 201, {"status": "success", "data": out}, events
        raise ApiError(404, f"Cannot {method} {path}")  # pragma: no cover

    def _authenticate(self, headers: dict[str, str], required: bool) -> None:
        auth = headers.get("authorization")
        if auth is None:
            if required:
                raise ApiError(401, MSG_NO_AUTH)
            return
        token = auth.replace("Bearer ", "", 1)
        if not hmac.compare_digest(token.encode(), str(self.api_key).encode()):
            raise ApiError(401, MSG_BAD_KEY if token.startswith("cal_") else MSG_BAD_TOKEN)

    def _api_create(self, body: dict) -> tuple[dict, list]:
        # Body validation [I CreateBookingInput_2024_08_13], then the event type, then the
        # booking handler (past, availability) [S].
        event_type_id = body.get("eventTypeId")
        if event_type_id is None:
            raise ApiError(400, MSG_EVENT_LOOKUP)
        if not isinstance(event_type_id, int) or isinstance(event_type_id, bool):
            raise ApiError(400, "eventTypeId must be an integer number")
        start = parse_instant(body.get("start"))
        if start is None:
            raise ApiError(400, "start must be a valid ISO 8601 date string")
        attendee = body.get("attendee")
        if not isinstance(attendee, dict):
            raise ApiError(400, "attendee must be an object")
        att = _validate_attendee(attendee)
        length = body.get("lengthInMinutes")
        if length is not None and (not isinstance(length, int) or isinstance(length, bool)
                                   or length < 1):
            raise ApiError(400, "lengthInMinutes must not be less than 1")
        metadata = body.get("metadata")
        if metadata is not None:
            _validate_metadata(metadata)
        guests = body.get("guests") or []
        if not isinstance(guests, list) or not all(isinstance(g, str) for g in guests):
            raise ApiError(400, "each value in guests must be a string")
        responses = body.get("bookingFieldsResponses") or {}
        if not isinstance(responses, dict):
            raise ApiError(400, "bookingFieldsResponses must be an object")
        et = self._event_type(event_type_id)
        if length is not None:
            if not et["lengths"]:
                raise ApiError(400, MSG_SINGLE_LENGTH)
            if length not in et["lengths"]:
                raise ApiError(400, "Provided 'lengthInMinutes' is not one of the possible lengths "
                                    "for the event type. The possible lengths are: "
                                    + ", ".join(str(x) for x in et["lengths"]))
        minutes = length or et["length"]
        return self._do_create(et, start, start + minutes * 60000, att, metadata or {}, guests,
                               "api", responses=responses)

    def _api_list(self, query: dict[str, list[str]]) -> tuple[list, dict]:
        q = {k: v[-1] for k, v in query.items() if v}
        statuses: list[str] = []
        if "status" in q:
            statuses = [s.strip() for s in q["status"].split(",")]
            if not statuses or any(s not in LIST_STATUSES for s in statuses):
                raise ApiError(400, MSG_STATUS)
        ids: set[int] | None = None
        try:
            if "eventTypeIds" in q:
                ids = {int(x) for x in q["eventTypeIds"].split(",")}
            elif "eventTypeId" in q:
                ids = {int(q["eventTypeId"])}
        except ValueError:
            raise ApiError(400, "eventTypeId must be an integer number") from None
        bounds = {}
        for name in ("afterStart", "beforeEnd", "afterCreatedAt", "beforeCreatedAt"):
            if name in q:
                bounds[name] = parse_instant(q[name])
                if bounds[name] is None:
                    raise ApiError(400, f"{name} must be a valid ISO 8601 date.")
        take, skip = 100, 0
        try:
            if "take" in q:
                take = int(q["take"])
            if "skip" in q:
                skip = int(q["skip"])
        except ValueError:
            raise ApiError(400, "take and skip must be numbers") from None
        if not 1 <= take <= 250:
            raise ApiError(400, "take must not be less than 1" if take < 1
                           else "take must not be greater than 250")
        if skip < 0:
            raise ApiError(400, "skip must not be less than 0")
        now = self._now()
        email = q.get("attendeeEmail")
        name = q.get("attendeeName")
        uid_filter = q.get("bookingUid")
        hits = []
        for uid in self._order:
            r = self._bookings[uid]
            if ids is not None and r["event_type_id"] not in ids:
                continue
            if uid_filter and uid != uid_filter:
                continue
            if email and r["attendee"].get("email", "").lower() != email.strip().lower():
                continue
            if name and name.lower() not in r["attendee"].get("name", "").lower():
                continue
            if "afterStart" in bounds and r["start"] < bounds["afterStart"]:
                continue
            if "beforeEnd" in bounds and r["end"] > bounds["beforeEnd"]:
                continue
            if "afterCreatedAt" in bounds and r["created"] < bounds["afterCreatedAt"]:
                continue
            if "beforeCreatedAt" in bounds and r["created"] > bounds["beforeCreatedAt"]:
                continue
            if statuses and not any(_status_matches(s, r, now) for s in statuses):
                continue
            hits.append(r)
        for key, field in (("sortCreated", "created"), ("sortEnd", "end"), ("sortStart", "start")):
            order = q.get(key)
            if order is not None:
                if order not in ("asc", "desc"):
                    raise ApiError(400, f'{key[0].upper()}{key[1:]} must be either "asc" or "desc".')
        sort_keys = [(k, f) for k, f in (("sortStart", "start"), ("sortEnd", "end"),
                                         ("sortCreated", "created")) if k in q]
        if sort_keys:
            for key, field in reversed(sort_keys):   # stable sorts: the first key wins
                hits.sort(key=lambda r, f=field: (r[f], r["id"]), reverse=q[key] == "desc")
        else:
            hits.sort(key=lambda r: (r["start"], r["id"]))
        total = len(hits)
        page = [self._out(r) for r in hits[skip:skip + take]]
        return page, _pagination(skip, take, total)


def _status_matches(status: str, rec: dict, now: int) -> bool:
    # getAllUserBookings' bookingListingFilters (no recurring / pending bookings in the fake).
    live = rec["status"] not in ("CANCELLED", "REJECTED")
    if status == "upcoming":
        return rec["end"] >= now and live
    if status == "past":
        return rec["end"] <= now and live
    if status == "cancelled":
        return not live
    if status == "unconfirmed":
        return rec["end"] >= now and rec["status"] == "PENDING"
    return False  # recurring


def _pagination(skip: int, take: int, total: int) -> dict:
    """[P] getPagination."""
    safe_skip = max(0, min(skip, total))
    total_pages = -(-total // take) if take else 0
    current = 0 if total_pages == 0 else max(1, min(safe_skip // take + 1, total_pages))
    return {"returnedItems": max(0, min(total - safe_skip, take)), "totalItems": total,
            "itemsPerPage": take, "remainingItems": max(0, min(total - (safe_skip + take), total)),
            "currentPage": current, "totalPages": total_pages,
            "hasNextPage": safe_skip + take < total, "hasPreviousPage": safe_skip > 0}


def _json_object(raw: bytes) -> dict:
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"Unexpected token in JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ApiError(400, "request body must be a JSON object")
    return body


def _validate_attendee(a: dict) -> dict:
    name = a.get("name")
    if not isinstance(name, str):
        raise ApiError(400, "attendee.name must be a string")
    zone = a.get("timeZone")
    if not _valid_zone(zone):
        raise ApiError(400, "attendee.timeZone must be a valid IANA time-zone")
    email = a.get("email")
    phone = a.get("phoneNumber")
    if email is not None and (not isinstance(email, str) or (email and not _EMAIL.match(email))):
        raise ApiError(400, "Invalid email format")
    if phone is not None and (not isinstance(phone, str) or (phone and not _PHONE.match(phone))):
        raise ApiError(400, "Invalid phone number format. Please use international format.")
    if not (email or "").strip() and not (phone or "").strip():
        raise ApiError(400, "At least one contact method (email or phone number) must be provided")
    language = a.get("language")
    if language is not None and language not in LANGUAGES:
        raise ApiError(400, "attendee.language must be one of the following values: "
                            + ", ".join(sorted(LANGUAGES)))
    out = {"name": name, "email": email or "", "timeZone": zone, "language": language or "en"}
    if phone:
        out["phoneNumber"] = phone
    return out


def _validate_metadata(m: Any) -> None:
    """[I validators/validate-metadata.ts]."""
    if not isinstance(m, dict) or len(m) > 50:
        raise ApiError(400, MSG_METADATA)
    for k, v in m.items():
        if len(k) > 40:
            raise ApiError(400, MSG_METADATA)
        if isinstance(v, bool) or isinstance(v, (int, float)):
            continue
        if not isinstance(v, str) or len(v) > 500:
            raise ApiError(400, MSG_METADATA)


_ROUTE_UID = re.compile(r"^/v2/bookings/([^/]+)(?:/(cancel|reschedule))?$")


def _route(method: str, path: str) -> tuple[str, str | None, str | None]:
    if path == "/v2/bookings" and method in ("GET", "POST"):
        return f"{method} /v2/bookings", None, None
    m = _ROUTE_UID.match(path)
    if m:
        uid, action = urllib.parse.unquote(m.group(1)), m.group(2)
        if action is None and method == "GET":
            return "GET /v2/bookings/{uid}", uid, None
        if action and method == "POST":
            return f"POST /v2/bookings/{{uid}}/{action}", uid, action
    return "other", None, None


# ------------------------------------------------------------------------------------------------
# HTTP plumbing.
# ------------------------------------------------------------------------------------------------

class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 512
    allow_reuse_address = True


class _Drop(Exception):
    """Close the connection without an answer."""


def _make_handler(fake: FakeCalcom) -> type:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "fake-calcom"
        sys_version = ""
        disable_nagle_algorithm = True

        def log_message(self, fmt: str, *args: Any) -> None:  # noqa: D401 - quiet by default
            if fake.verbose:
                sys.stderr.write("fake-calcom: " + (fmt % args) + "\n")

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def do_DELETE(self) -> None:
            self._serve("DELETE")

        def do_PUT(self) -> None:
            self._serve("PUT")

        def do_PATCH(self) -> None:
            self._serve("PATCH")

        # -- i/o ----------------------------------------------------------------------------

        def _read_body(self) -> bytes:
            if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                chunks = []
                size = 0
                while True:
                    line = self.rfile.readline(1024)
                    n = int(line.split(b";")[0].strip() or b"0", 16)
                    if n == 0:
                        while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                            pass
                        return b"".join(chunks)
                    size += n
                    if size > _MAX_BODY:
                        raise _Drop()
                    chunks.append(self.rfile.read(n))
                    self.rfile.readline(8)
            length = int(self.headers.get("Content-Length") or 0)
            if length > _MAX_BODY:
                raise _Drop()
            return self.rfile.read(length) if length > 0 else b""

        def _send(self, status: int, obj: Any, extra: list[tuple[str, str]] | None = None) -> None:
            body = _compact(obj)
            reason = http.HTTPStatus(status).phrase if status in http.HTTPStatus._value2member_map_ else ""
            lines = [f"HTTP/1.1 {status} {reason}",
                     f"Date: {self.date_time_string()}",
                     "Content-Type: application/json; charset=utf-8",
                     f"Content-Length: {len(body)}"]
            for k, v in extra or []:
                lines.append(f"{k}: {v}")
            if self.close_connection:
                lines.append("Connection: close")
            self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
            self.wfile.flush()

        def _drop(self) -> None:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

        # -- dispatch -------------------------------------------------------------------------

        def _serve(self, method: str) -> None:
            parts = urllib.parse.urlsplit(self.path)
            self._url = self.path            # error envelopes carry request.url, query included
            path = parts.path
            if len(path) > 1 and path.endswith("/"):
                path = path[:-1]
            query = urllib.parse.parse_qs(parts.query, keep_blank_values=True)
            try:
                raw = self._read_body()
            except (_Drop, ValueError):
                self._drop()
                return
            if path.startswith("/_fake/") or path == "/_fake":
                with fake._lock:
                    fake._control += 1
                try:
                    status, obj = _control(fake, method, path, query, raw)
                except ApiError as e:
                    status, obj = e.status, {"error": e.message}
                except (ValueError, TypeError, KeyError) as e:
                    status, obj = 400, {"error": str(e)}
                self._send(status, obj)
                return
            self._serve_api(method, path, query, raw)

        def _serve_api(self, method: str, path: str, query: dict, raw: bytes) -> None:
            headers = {k.lower(): v for k, v in self.headers.items()}
            route = _route(method, path)[0]
            entry: dict[str, Any] = {"at": iso_ms(_now_ms()), "method": method, "path": path,
                                     "query": {k: v[-1] for k, v in query.items()},
                                     "headers": headers}
            try:
                entry["body"] = json.loads(raw) if raw.strip() else None
            except (ValueError, UnicodeDecodeError):
                entry["body"] = raw.decode("utf-8", "replace")
            fake._enter()
            try:
                if fake.latency > 0:
                    fake._stop.wait(fake.latency)
                rule = fake._pick_fault(method, path)
                mode = rule.mode if rule else None
                if mode in ("before", "throttle", "unavailable", "conflict"):
                    status, obj, extra = _fault_answer(rule, self._url)
                    fake._record(route, f"fault:{mode}", dict(entry, status=status))
                    self._send(status, obj, extra)
                    return
                if mode in ("drop", "hang"):
                    if mode == "hang":
                        fake._stop.wait(rule.delay)
                    fake._record(route, f"fault:{mode}", dict(entry, status=None))
                    self._drop()
                    return
                # Do the work.
                events: list = []
                extra: list[tuple[str, str]] = []
                try:
                    status, obj, events = fake._api(method, path, query, headers, raw)
                except ApiError as e:
                    status, obj = e.status, e.envelope(self._url)
                entry["response"] = obj
                fake._emit(events)
                if mode == "after":
                    status, obj, extra = _fault_answer(rule, self._url)
                elif mode in ("drop_after", "hang_after"):
                    if mode == "hang_after":
                        fake._stop.wait(rule.delay)
                    fake._record(route, f"fault:{mode}", dict(entry, status=None))
                    self._drop()
                    return
                elif mode == "slow":
                    fake._stop.wait(rule.delay)
                outcome = f"fault:{mode}" if mode in ("after", "slow") else str(status)
                fake._record(route, outcome, dict(entry, status=status))
                self._send(status, obj, extra)
            finally:
                fake._leave()

    return Handler


def _fault_answer(rule: _Rule, path: str) -> tuple[int, dict, list[tuple[str, str]]]:
    if rule.mode == "throttle":
        ra = str(rule.retry_after)
        # [T]: ThrottlerException + X-RateLimit-*-Default (reset in seconds); plus Retry-After.
        return 429, error_envelope(429, "ThrottlerException", MSG_THROTTLED, path), [
            ("Retry-After", ra), ("X-RateLimit-Limit-Default", "120"),
            ("X-RateLimit-Remaining-Default", "0"), ("X-RateLimit-Reset-Default", ra)]
    if rule.mode == "unavailable":
        return 503, error_envelope(503, "ServiceUnavailableException", "Service Unavailable",
                                   path), [("Retry-After", str(rule.retry_after))]
    if rule.mode == "conflict":
        return 409, error_envelope(409, "CONFLICT", MSG_P2002, path, details=False), []
    # before / after: an unexpected server error (Nest's InternalServerErrorException).
    return 500, error_envelope(500, "InternalServerErrorException", "Internal server error",
                               path), []


# ------------------------------------------------------------------------------------------------
# Control API.
# ------------------------------------------------------------------------------------------------

def _control(fake: FakeCalcom, method: str, path: str, query: dict, raw: bytes) -> tuple[int, Any]:
    body: Any = None
    if raw.strip():
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise ApiError(400, f"invalid JSON: {exc}") from None
    q = {k: v[-1] for k, v in query.items()}
    key = (method, path)
    if key == ("GET", "/_fake/health"):
        return 200, {"ok": True}
    if key == ("POST", "/_fake/event-types"):
        items = body if isinstance(body, list) else [body]
        out = []
        for spec in items:
            if not isinstance(spec, dict):
                raise ApiError(400, "an event type must be an object")
            out.append(fake.add_event_type(
                spec.get("id"), spec.get("host"), spec.get("length"), spec.get("lengths"),
                spec.get("slug"), spec.get("title"), spec.get("host_name"),
                spec.get("host_email"), spec.get("host_time_zone")))
        return 201, out if isinstance(body, list) else out[0]
    if key == ("GET", "/_fake/event-types"):
        return 200, {"event_types": fake.event_types()}
    if key == ("GET", "/_fake/bookings"):
        et = int(q["eventTypeId"]) if q.get("eventTypeId") else None
        return 200, {"bookings": fake.bookings(status=q.get("status") or None, event_type_id=et)}
    if key == ("POST", "/_fake/bookings"):
        b = body or {}
        try:
            return 201, fake.create_direct(b.get("eventTypeId"), b.get("start"),
                                           b.get("lengthInMinutes"), b.get("attendee"),
                                           b.get("metadata"), bool(b.get("force")))
        except ApiError as e:
            return e.status, e.envelope(path)
    m = re.match(r"^/_fake/bookings/([^/]+)/(cancel|reschedule)$", path)
    if m and method == "POST":
        b = body or {}
        try:
            if m.group(2) == "cancel":
                return 200, fake.cancel_direct(m.group(1), b.get("cancellationReason"))
            return 201, fake.reschedule_direct(m.group(1), b.get("start"),
                                               b.get("reschedulingReason"), bool(b.get("force")))
        except ApiError as e:
            return e.status, e.envelope(path)
    if key == ("POST", "/_fake/faults"):
        if isinstance(body, list):
            rules, seed, append = body, None, False
        elif isinstance(body, dict):
            rules, seed, append = body.get("rules", []), body.get("seed"), bool(body.get("append"))
        else:
            raise ApiError(400, "expected a list of rules or {rules, seed?, append?}")
        return 200, {"rules": fake.set_faults(rules, seed=seed, append=append)}
    if key == ("GET", "/_fake/faults"):
        return 200, {"rules": fake.faults()}
    if key == ("DELETE", "/_fake/faults"):
        fake.clear_faults()
        return 200, {"rules": []}
    if key == ("GET", "/_fake/stats"):
        return 200, fake.stats()
    if key == ("GET", "/_fake/requests"):
        return 200, {"requests": fake.requests()}
    if key == ("POST", "/_fake/reset"):
        fake.reset(keep_event_types=bool((body or {}).get("keep_event_types")))
        return 200, {"ok": True}
    if key == ("POST", "/_fake/config"):
        fake.configure(**(body or {}))
        return 200, {"strict_auth": fake.strict_auth, "reject_past": fake.reject_past,
                     "key_owner": fake.key_owner, "latency": fake.latency}
    if key == ("POST", "/_fake/webhook"):
        b = body or {}
        kwargs: dict[str, Any] = {}
        if "signature" in b:
            kwargs["signature"] = b["signature"]
        # A stored booking by uid, or one described by the given fields (an unknown uid too).
        uid, booking = b.get("uid"), b.get("booking")
        if booking is None and (uid is None or fake.booking(uid) is None):
            booking = {k: v for k, v in b.items() if k not in (
                "url", "secret", "triggerEvent", "overrides", "signature", "booking")}
        if booking is not None:
            uid = None
        try:
            status, text = fake.send_webhook(b["url"], b.get("secret"), b["triggerEvent"],
                                             uid=uid, booking=booking,
                                             overrides=b.get("overrides"), **kwargs)
        except (OSError, http.client.HTTPException) as exc:
            return 200, {"status": None, "error": f"{type(exc).__name__}: {exc}"}
        return 200, {"status": status, "body": text}
    if key == ("POST", "/_fake/webhook-subscriptions"):
        b = body or {}
        return 201, fake.subscribe(b["url"], b.get("secret"), b.get("triggers"))
    if key == ("GET", "/_fake/webhook-subscriptions"):
        return 200, {"subscriptions": fake.subscriptions()}
    if key == ("DELETE", "/_fake/webhook-subscriptions"):
        fake.unsubscribe_all()
        return 200, {"subscriptions": []}
    if key == ("GET", "/_fake/deliveries"):
        if q.get("wait"):
            fake.wait_deliveries(float(q["wait"]))
        return 200, {"deliveries": fake.deliveries()}
    raise ApiError(404, f"no control endpoint {method} {path}")


# ------------------------------------------------------------------------------------------------
# The fake's own ceiling: how many creates per second it serves with N client threads.
# ------------------------------------------------------------------------------------------------

def _bench_worker(url: str, api_key: str, event_type_id: int, base_ms: int, length: int,
                  deadline: float, counts: list[int], idx: int, errors: list[int]) -> None:
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    headers = {"Authorization": f"Bearer {api_key}", "cal-api-version": API_VERSION,
               "Content-Type": "application/json"}
    n = 0
    while time.monotonic() < deadline:
        body = _compact({"start": iso_ms(base_ms + n * length * 60000), "eventTypeId": event_type_id,
                         "attendee": {"name": "Bench", "email": "bench@example.com",
                                      "timeZone": "UTC"},
                         "metadata": {"appointd_appointment": str(n), "appointd_version": "1"}})
        try:
            conn.request("POST", "/v2/bookings", body=body, headers=headers)
            resp = conn.getresponse()
            resp.read()
            if resp.status == 201:
                counts[idx] += 1
            else:
                errors[idx] += 1
        except (OSError, http.client.HTTPException):
            errors[idx] += 1
            conn.close()
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        n += 1
    conn.close()


def bench(threads: int = 8, seconds: float = 3.0, url: str | None = None,
          api_key: str = DEFAULT_API_KEY) -> dict:
    """Measure the fake's ceiling: POST /v2/bookings per second (201s) served to `threads`
    keep-alive client threads for `seconds`. Without `url` a fake is started in a separate
    process (so the clients do not share its interpreter lock); with `url`, that running fake
    is used (its state is reset, event types 900001.. are added)."""
    proc = None
    if url is None:
        proc = subprocess.Popen([sys.executable, __file__, "--port", "0", "--api-key", api_key],
                                stdout=subprocess.PIPE, text=True)
        line = proc.stdout.readline().split() if proc.stdout else []
        if len(line) != 2 or line[0] != "listening":
            proc.kill()
            raise RuntimeError(f"the fake did not start: {line}")
        url = f"http://127.0.0.1:{line[1]}"
    try:
        _control_call(url, "POST", "/_fake/reset", {})
        length = 15
        _control_call(url, "POST", "/_fake/event-types",
                      [{"id": 900001 + i, "host": f"bench-{i}", "length": length}
                       for i in range(threads)])
        base = ((_now_ms() // 86_400_000) + 2) * 86_400_000
        counts, errors = [0] * threads, [0] * threads
        deadline = time.monotonic() + seconds
        t0 = time.monotonic()
        workers = [threading.Thread(target=_bench_worker, args=(
            url, api_key, 900001 + i, base, length, deadline, counts, i, errors))
            for i in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        elapsed = time.monotonic() - t0
        stats = _control_call(url, "GET", "/_fake/stats", None)
        return {"threads": threads, "seconds": round(elapsed, 3), "creates": sum(counts),
                "errors": sum(errors), "creates_per_s": round(sum(counts) / elapsed, 1),
                "max_concurrent": stats.get("max_concurrent")}
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()


def _control_call(url: str, method: str, path: str, body: Any) -> Any:
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        data = None if body is None else _compact(body)
        conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        return json.loads(resp.read() or b"null")
    finally:
        conn.close()


# ------------------------------------------------------------------------------------------------
# CLI.
# ------------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="A local fake of Cal.com API v2 with fault injection.")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--api-key", default=DEFAULT_API_KEY)
    ap.add_argument("--seed", type=int, default=None, help="seed of probability faults and uids")
    ap.add_argument("--lenient-auth", action="store_true",
                    help="real Cal.com rule: no key needed for create/cancel/reschedule/get-one")
    ap.add_argument("--allow-past", action="store_true", help="accept starts in the past")
    ap.add_argument("--key-owner", default=None, help="host the API key belongs to")
    ap.add_argument("--latency", type=float, default=0.0, help="seconds added to every /v2 call")
    ap.add_argument("--event-type", action="append", default=[], metavar="ID:HOST:LENGTH",
                    help="an event type (repeatable)")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--bench", action="store_true", help="measure the ceiling and exit")
    ap.add_argument("--bench-threads", type=int, default=8)
    ap.add_argument("--bench-seconds", type=float, default=3.0)
    ap.add_argument("--bench-url", default=None, help="bench a running fake instead")
    args = ap.parse_args(argv)

    if args.bench:
        print(json.dumps(bench(args.bench_threads, args.bench_seconds, args.bench_url,
                               args.api_key)), flush=True)
        return 0

    fake = FakeCalcom(port=args.port, api_key=args.api_key, host=args.host, seed=args.seed,
                      strict_auth=not args.lenient_auth, reject_past=not args.allow_past,
                      key_owner=args.key_owner, latency=args.latency, verbose=args.verbose)
    for spec in args.event_type:
        et_id, host, length = spec.split(":")
        fake.add_event_type(int(et_id), host, int(length))
    fake.start()
    print(f"listening {fake.port}", flush=True)
    import signal
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    while not done.wait(1.0):
        pass
    fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
