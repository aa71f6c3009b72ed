#pragma once
// The appointment use cases. Each runs inside one write transaction and either changes
// everything it needs (appointment, segments, history event, sync outbox row) or nothing.
//
// I1 is decided here: the staff rows are locked in ascending id order (a no-op on SQLite,
// where writes are serialised), then every segment's blocked interval is checked against the
// active segments and live holds of its staff member, in the same transaction that inserts.
#include "booking/commands.h"
#include "domain/error.h"
#include "store/tx.h"

namespace appointd::booking {

// Books a (composite) appointment. Errors: not_found (customer, staff, service),
// validation_failed (rules), invalid_phone, slot_unavailable (extra: conflicts, alternatives).
Result<Appointment> book(store::WriteTx& tx, const Book& c);

// Cancels: status cancelled, version + 1, segments inactive. Errors: not_found,
// version_mismatch, conflict (already cancelled).
Result<Appointment> cancel(store::WriteTx& tx, const Cancel& c);

// Moves the appointment atomically; its own current segments never conflict with the new
// ones. On slot_unavailable the old segments stay. Errors as book() plus version_mismatch.
Result<Appointment> reschedule(store::WriteTx& tx, const Reschedule& c);

}  // namespace appointd::booking
