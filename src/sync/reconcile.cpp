#include "sync/reconcile.h"

#include <algorithm>
#include <set>

#include "sync/executor.h"
#include "sync/webhooks.h"

namespace appointd::sync {

ReconcileReport reconcile_company(store::Store& store, const Clock& clock,
                                  const calcom::CalcomClient& client, Id company_id,
                                  int horizon_days) {
  ReconcileReport rep;
  std::vector<EventTypeMapping> mappings;
  store.read([&](store::ReadTx& tx) { mappings = tx.event_types(company_id, std::nullopt); });
  std::set<std::int64_t> types;
  for (const auto& m : mappings) types.insert(m.event_type_id);
  const Instant now = clock.now();
  std::vector<calcom::CalcomBooking> seen;
  const Instant from = now - std::chrono::hours(24);
  const Instant until = now + std::chrono::hours(24 * horizon_days);
  for (std::int64_t et : types) {
    calcom::ListFilter f;
    f.event_type_ids = {et};
    f.after_start = from;
    f.before_end = until;
    f.page_size = 250;
    f.max_pages = 200;
    auto r = client.list_bookings(f);
    if (!r.complete) {
      rep.error = "listing event type " + std::to_string(et) + ": " + r.status.error;
      return rep;
    }
    seen.insert(seen.end(), r.bookings.begin(), r.bookings.end());
  }
  rep.listed = static_cast<long>(seen.size());
  store.write_sync([&](store::WriteTx& tx) {
    rep.imported = rep.conflicts = rep.reenqueued = rep.matched = 0;
    std::set<Id> enqueue;
    for (const auto& b : seen) {
      auto known = tx.external_booking(kProviderCalcom, b.uid);
      auto tag = b.metadata.find(calcom::kMetaAppointment);
      Id appointment = known ? known->appointment_id : 0;
      if (!appointment && tag != b.metadata.end()) {
        try {
          appointment = std::stoll(tag->second);
        } catch (...) {
        }
        if (appointment && !tx.appointment(company_id, appointment)) appointment = 0;
      }
      if (!appointment) {
        if (!b.live()) continue;
        auto r = import_booking(tx, company_id,
                                {b.uid, b.event_type_id, b.start, b.end, "", "", ""}, now);
        if (r.outcome == "imported") ++rep.imported;
        if (r.outcome == "import_conflict") ++rep.imported, ++rep.conflicts;
        continue;
      }
      const bool drift = !known || known->live != b.live() || (b.live() && known->start != b.start);
      if (!drift) {
        ++rep.matched;
        continue;
      }
      tx.record_external_booking(fact_of(b, appointment, known ? known->ordinal : 0));
      enqueue.insert(appointment);
    }
    // The reverse pass: a live booking appointd knows of, of a listed event type and in the
    // listed window, that Cal.com did not list, is gone (Cal.com lists cancelled ones too).
    std::set<std::string> listed_uids;
    for (const auto& b : seen) listed_uids.insert(b.uid);
    store::AppointmentFilter af;
    af.window = Interval{from, until};
    af.status = AppointmentStatus::kBooked;
    af.limit = 100000;
    for (const auto& a : tx.appointments(company_id, af)) {
      for (const auto& k : tx.external_bookings(a.id)) {
        if (!k.live || listed_uids.count(k.uid) || !types.count(k.event_type_id)) continue;
        if (k.start < from || k.start >= until - std::chrono::hours(24)) continue;
        auto gone = k;
        gone.live = false;
        tx.record_external_booking(gone);
        enqueue.insert(a.id);
      }
    }
    for (Id id : enqueue) {
      auto a = tx.appointment(company_id, id);
      if (!a) continue;
      tx.enqueue_sync(id, "reconcile", a->version, now);
      ++rep.reenqueued;
    }
  });
  rep.ok = true;
  return rep;
}

}  // namespace appointd::sync
