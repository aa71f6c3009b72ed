#include "store/postgres/catalog.h"

#include <algorithm>
#include <tuple>
#include <utility>

#include "store/postgres/rows.h"
#include "store/postgres/sql.h"

namespace appointd::store::postgres {

std::optional<Staff> CompanyCatalog::find_staff(Id id) const {
  auto it = staff.find(id);
  if (it == staff.end()) return std::nullopt;
  return it->second;
}

std::optional<Service> CompanyCatalog::find_service(Id id) const {
  auto it = services.find(id);
  if (it == services.end()) return std::nullopt;
  return it->second;
}

// As sql::kStaffForService: active staff of the branch performing the service, ascending.
std::vector<Id> CompanyCatalog::staff_for_service(Id branch_id, Id service_id, int limit) const {
  std::vector<Id> out;
  for (const auto& [id, st] : staff) {
    if (static_cast<int>(out.size()) >= limit) break;
    if (st.branch_id == branch_id && st.active &&
        std::binary_search(st.service_ids.begin(), st.service_ids.end(), service_id))
      out.push_back(id);
  }
  return out;
}

// As sql::kSchedules: the company's staff among the ids (with a branch), ordered by id; every
// working hours row; the time off overlapping the window, ordered by start.
std::vector<StaffSchedule> CompanyCatalog::schedules(std::span<const Id> staff_ids,
                                                     Interval window) const {
  std::vector<Id> ids(staff_ids.begin(), staff_ids.end());
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  std::vector<StaffSchedule> out;
  for (Id id : ids) {
    auto st = staff.find(id);
    if (st == staff.end()) continue;
    auto zone = branch_zones.find(st->second.branch_id);
    if (zone == branch_zones.end()) continue;
    StaffSchedule s;
    s.staff_id = id;
    s.branch_id = st->second.branch_id;
    s.active = st->second.active;
    s.timezone = zone->second;
    if (auto h = hours.find(id); h != hours.end()) s.hours = h->second;
    if (auto t = time_off.find(id); t != time_off.end())
      for (const auto& off : t->second)
        if (off.time.until > window.from && off.time.from < window.until) s.time_off.push_back(off);
    out.push_back(std::move(s));
  }
  return out;
}

std::shared_ptr<const CompanyCatalog> load_catalog(Session& c, Id company_id) {
  const Params p = Params().add(company_id);
  const std::pair<const Statement*, Params> batch[] = {
      {&sql::kCatalogCompany, p}, {&sql::kBranches, p},     {&sql::kStaffList, p},
      {&sql::kServices, p},       {&sql::kCatalogHours, p}, {&sql::kCatalogTimeOff, p}};
  auto rs = c.run_all(batch);
  auto out = std::make_shared<CompanyCatalog>();
  out->company_id = company_id;
  if (!rs[0].rows()) return out;  // version 0, no company: nothing of it can be found
  out->version = rs[0].i64(0, 0);
  out->company = read_company(rs[0], 0, 1);
  for (int i = 0; i < rs[1].rows(); ++i) {
    Branch b = read_branch(rs[1], i);
    out->branch_zones.emplace(b.id, std::move(b.timezone));
  }
  for (int i = 0; i < rs[2].rows(); ++i) {
    Staff st = read_staff(rs[2], i);
    out->staff.emplace(st.id, std::move(st));
  }
  for (int i = 0; i < rs[3].rows(); ++i) {
    Service sv = read_service(rs[3], i);
    out->services.emplace(sv.id, std::move(sv));
  }
  for (int i = 0; i < rs[4].rows(); ++i)
    out->hours[rs[4].i64(i, 0)].push_back({static_cast<int>(rs[4].i64(i, 1)),
                                           static_cast<int>(rs[4].i64(i, 2)),
                                           static_cast<int>(rs[4].i64(i, 3))});
  for (int i = 0; i < rs[5].rows(); ++i) {
    TimeOff t = read_time_off(rs[5], i);
    out->time_off[t.staff_id].push_back(std::move(t));
  }
  return out;
}

std::shared_ptr<const CompanyCatalog> CatalogCache::find(Id company_id) const {
  std::lock_guard lock(mu_);
  auto it = copies_.find(company_id);
  return it == copies_.end() ? nullptr : it->second;
}

void CatalogCache::put(std::shared_ptr<const CompanyCatalog> c) {
  if (loads_counter_) loads_counter_->inc();
  std::lock_guard lock(mu_);
  if (copies_.size() >= kMaxCompanies) copies_.clear();
  auto& slot = copies_[c->company_id];
  if (!slot || slot->version <= c->version) slot = std::move(c);
}

void CatalogCache::drop(Id company_id, std::int64_t version) {
  std::lock_guard lock(mu_);
  auto it = copies_.find(company_id);
  if (it != copies_.end() && it->second->version <= version) copies_.erase(it);
}

void CatalogCache::clear() {
  std::lock_guard lock(mu_);
  copies_.clear();
}

}  // namespace appointd::store::postgres
