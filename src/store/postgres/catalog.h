#pragma once
// The PostgreSQL store's copy of each company's catalog: the rows every booking reads and
// almost nothing writes (company settings, branches' zones, staff with their services,
// services, working hours, time off). Several appointd instances share the database, so a copy
// can go stale at any moment; it is used only together with a check of its version:
//
//   companies.catalog_version goes up in the transaction of every change of one of those rows,
//   whatever SQL makes it (triggers, migrations/postgres/003_catalog_version.sql).
//
// A copy is tagged with the version read in the first statement of its load; the rows read by
// later statements of the load are at least that new. A write transaction that used a copy
// reads the version again in one of its own statements (PgTx, riding along with a round trip it
// makes anyway) and, when it differs, drops the copy and runs again (CatalogStale). When it is
// equal, no change of the catalog committed between the load and that statement: the copy is
// the catalog as of a moment inside the transaction, like rows read by a statement of it.
//
// Thread-safe: shared by the store's threads; a copy is immutable once published.
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "domain/model.h"
#include "obs/metrics.h"
#include "store/postgres/pg.h"
#include "store/tx.h"

namespace appointd::store::postgres {

// One company's catalog as of one version.
struct CompanyCatalog {
  Id company_id = 0;
  std::int64_t version = 0;
  std::optional<Company> company;          // none: no such company (nothing else is then loaded)
  std::map<Id, std::string> branch_zones;  // branch id -> IANA zone
  std::map<Id, Staff> staff;               // with service_ids, ascending
  std::map<Id, Service> services;
  std::map<Id, std::vector<WorkingHours>> hours;  // by staff; ordered by weekday, start
  std::map<Id, std::vector<TimeOff>> time_off;    // by staff; every entry, ordered by start

  // ReadTx's answers over this copy, with the same rules as the SQL they replace (sql.h).
  std::optional<Staff> find_staff(Id id) const;
  std::optional<Service> find_service(Id id) const;
  std::vector<Id> staff_for_service(Id branch_id, Id service_id, int limit) const;
  std::vector<StaffSchedule> schedules(std::span<const Id> staff_ids, Interval window) const;
};

// Loads a company's catalog over `c` (one round trip), inside whatever transaction is open.
std::shared_ptr<const CompanyCatalog> load_catalog(Session& c, Id company_id);

// A write transaction found the catalog it used changed since: the store runs it again.
class CatalogStale : public StoreError {
 public:
  explicit CatalogStale(Id company_id)
      : StoreError("postgresql: the catalog of company " + std::to_string(company_id) +
                   " changed during the write") {}
};

class CatalogCache {
 public:
  // loads: counts the copies put (may be null).
  explicit CatalogCache(obs::Counter* loads = nullptr) : loads_counter_(loads) {}
  // The copy of the company, or null when there is none.
  std::shared_ptr<const CompanyCatalog> find(Id company_id) const;
  void put(std::shared_ptr<const CompanyCatalog> c);
  // Drops the copy of the company when it is `version` or older (a newer one stays).
  void drop(Id company_id, std::int64_t version);
  void clear();

 private:
  static constexpr size_t kMaxCompanies = 10'000;
  obs::Counter* loads_counter_;
  mutable std::mutex mu_;
  std::unordered_map<Id, std::shared_ptr<const CompanyCatalog>> copies_;
};

}  // namespace appointd::store::postgres
