#pragma once
// Reconciliation (docs/sync.md): webhooks get lost, so appointd lists the bookings of the
// company's mapped event types over [now - 1 day, now + horizon) and repairs drift. A booking
// tagged with one of our appointments that appointd does not know, or knows in another state,
// is recorded and its appointment re-enqueued (the job then brings Cal.com back to appointd's
// state); an untagged live booking appointd does not know is imported as a webhook would.
#include "domain/time.h"
#include "store/store.h"
#include "sync/engine.h"
#include "sync/providers/calcom/calcom_client.h"

namespace appointd::sync {

ReconcileReport reconcile_company(store::Store& store, const Clock& clock,
                                  const calcom::CalcomClient& client, Id company_id,
                                  int horizon_days);

}  // namespace appointd::sync
