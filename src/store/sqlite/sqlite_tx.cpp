#include "store/sqlite/sqlite_tx.h"

#include <algorithm>
#include <cstdlib>
#include <string>
#include <tuple>

#include "domain/segments.h"
#include "obs/log.h"
#include "store/sqlite/sql.h"
#include "store/store.h"

namespace appointd::store::sqlite {
namespace {

Company read_company(Stmt& s) {
  Company c{s.i64(0), s.text(1), s.text(2), s.text(3), from_unix(s.i64(4)), {}};
  c.settings = {static_cast<int>(s.i64(5)), static_cast<int>(s.i64(6)), static_cast<int>(s.i64(7))};
  return c;
}
TimeOff read_time_off(Stmt& s) {
  return {s.i64(0), s.i64(1), {from_unix(s.i64(2)), from_unix(s.i64(3))}, s.text(4)};
}
Branch read_branch(Stmt& s) {
  return {s.i64(0), s.i64(1), s.text(2), s.text(3), s.text(4), from_unix(s.i64(5))};
}
Service read_service(Stmt& s) {
  return {s.i64(0),
          s.i64(1),
          s.text(2),
          static_cast<int>(s.i64(3)),
          static_cast<int>(s.i64(4)),
          static_cast<int>(s.i64(5)),
          from_unix(s.i64(6))};
}
Staff read_staff(Stmt& s) {
  Staff st;
  st.id = s.i64(0);
  st.company_id = s.i64(1);
  st.branch_id = s.i64(2);
  st.name = s.text(3);
  st.email = s.text(4);
  st.active = s.i64(5) != 0;
  st.created_at = from_unix(s.i64(6));
  return st;
}
Customer read_customer(Stmt& s) {
  return {s.i64(0), s.i64(1), s.text(2), s.text(3), s.text(4), s.text(5), from_unix(s.i64(6))};
}
Appointment read_appointment(Stmt& s) {
  Appointment a;
  a.id = s.i64(0);
  a.company_id = s.i64(1);
  a.branch_id = s.i64(2);
  a.customer_id = s.i64(3);
  a.status = parse_appointment_status(s.text(4)).value_or(AppointmentStatus::kBooked);
  a.version = s.i64(5);
  a.source = s.text(6);
  a.notes = s.text(7);
  a.call_id = s.text(8);
  a.external_provider = s.text(9);
  a.external_id = s.text(10);
  a.created_at = from_unix(s.i64(11));
  a.updated_at = from_unix(s.i64(12));
  a.needs_attention = s.i64(13) != 0;
  return a;
}

}  // namespace

namespace {
// The catalog's copy of `key` when the transaction has one (the writer's), else `load()`. With
// `verify`, the copy is compared with a fresh load and a difference aborts.
template <class Map, class Key, class Load>
typename Map::mapped_type through(CatalogCache* catalog, bool verify, Map CatalogCache::*map,
                                  const Key& key, Load&& load) {
  if (!catalog) return load();
  auto value = catalog->memo(catalog->*map, key, load);
  if (verify && !(value == load())) {
    obs::log_error("catalog cache diverged from the database");
    std::abort();
  }
  return value;
}
}  // namespace

std::optional<Company> SqliteTx::company(Id company_id) {
  return through(catalog(), verify_, &CatalogCache::companies, company_id,
                 [&]() -> std::optional<Company> {
                   auto s = c_.prepare(sql::kCompany);
                   s.bind(1, company_id);
                   if (!s.step()) return std::nullopt;
                   return read_company(s);
                 });
}

std::optional<Branch> SqliteTx::branch(Id company_id, Id id) {
  auto s = c_.prepare(sql::kBranch);
  s.bind(1, company_id).bind(2, id);
  if (!s.step()) return std::nullopt;
  return read_branch(s);
}

std::vector<Branch> SqliteTx::branches(Id company_id) {
  auto s = c_.prepare(sql::kBranches);
  s.bind(1, company_id);
  std::vector<Branch> out;
  while (s.step()) out.push_back(read_branch(s));
  return out;
}

std::optional<Service> SqliteTx::service(Id company_id, Id id) {
  return through(catalog(), verify_, &CatalogCache::services, CatalogCache::Pair{company_id, id},
                 [&]() -> std::optional<Service> {
                   auto s = c_.prepare(sql::kService);
                   s.bind(1, company_id).bind(2, id);
                   if (!s.step()) return std::nullopt;
                   return read_service(s);
                 });
}

std::vector<Service> SqliteTx::services(Id company_id) {
  auto s = c_.prepare(sql::kServices);
  s.bind(1, company_id);
  std::vector<Service> out;
  while (s.step()) out.push_back(read_service(s));
  return out;
}

namespace {
void load_staff_services(Connection& c, Staff& st) {
  auto s = c.prepare(sql::kStaffServices);
  s.bind(1, st.id);
  while (s.step()) st.service_ids.push_back(s.i64(0));
}
}  // namespace

std::optional<Staff> SqliteTx::staff(Id company_id, Id id) {
  return through(catalog(), verify_, &CatalogCache::staff, CatalogCache::Pair{company_id, id},
                 [&]() -> std::optional<Staff> {
                   std::optional<Staff> st;
                   {
                     auto s = c_.prepare(sql::kStaff);
                     s.bind(1, company_id).bind(2, id);
                     if (!s.step()) return std::nullopt;
                     st = read_staff(s);
                   }
                   load_staff_services(c_, *st);
                   return st;
                 });
}

std::vector<Staff> SqliteTx::staff_list(Id company_id) {
  std::vector<Staff> out;
  {
    auto s = c_.prepare(sql::kStaffList);
    s.bind(1, company_id);
    while (s.step()) out.push_back(read_staff(s));
  }
  // Every staff member's services in one statement (not one per staff member).
  auto s = c_.prepare(sql::kCompanyStaffServices);
  s.bind(1, company_id);
  size_t k = 0;
  while (s.step()) {
    const Id staff = s.i64(0);
    while (k < out.size() && out[k].id < staff) ++k;
    if (k < out.size() && out[k].id == staff) out[k].service_ids.push_back(s.i64(1));
  }
  return out;
}

std::vector<Id> SqliteTx::staff_for_service(Id company_id, Id branch_id, Id service_id, int limit) {
  return through(catalog(), verify_, &CatalogCache::staff_for_service,
                 std::tuple{company_id, branch_id, service_id, limit}, [&] {
                   auto s = c_.prepare(sql::kStaffForService);
                   s.bind(1, company_id).bind(2, branch_id).bind(3, service_id).bind(4, limit);
                   std::vector<Id> out;
                   while (s.step()) out.push_back(s.i64(0));
                   return out;
                 });
}

std::optional<Customer> SqliteTx::customer(Id company_id, Id id) {
  auto s = c_.prepare(sql::kCustomer);
  s.bind(1, company_id).bind(2, id);
  if (!s.step()) return std::nullopt;
  return read_customer(s);
}

std::optional<Customer> SqliteTx::customer_by_phone(Id company_id, const std::string& e164) {
  auto s = c_.prepare(sql::kCustomerByPhone);
  s.bind(1, company_id).bind(2, e164);
  if (!s.step()) return std::nullopt;
  return read_customer(s);
}

std::optional<Appointment> SqliteTx::appointment(Id company_id, Id id) {
  std::optional<Appointment> a;
  {
    auto s = c_.prepare(sql::kAppointment);
    s.bind(1, company_id).bind(2, id);
    if (!s.step()) return std::nullopt;
    a = read_appointment(s);
  }
  auto s = c_.prepare(sql::kSegmentsOf);
  s.bind(1, id);
  while (s.step()) {
    Segment seg;
    seg.id = s.i64(0);
    seg.appointment_id = s.i64(1);
    seg.staff_id = s.i64(2);
    seg.service_id = s.i64(3);
    seg.time = {from_unix(s.i64(4)), from_unix(s.i64(5))};
    seg.blocked = {from_unix(s.i64(6)), from_unix(s.i64(7))};
    seg.active = s.i64(8) != 0;
    a->segments.push_back(seg);
  }
  return a;
}

std::vector<Appointment> SqliteTx::appointments(Id company_id, const AppointmentFilter& f) {
  std::vector<Id> ids;
  {
    auto s = c_.prepare(sql::kAppointmentIds);
    s.bind(1, company_id);
    if (f.staff_id)
      s.bind(2, *f.staff_id);
    else
      s.bind_null(2);
    if (f.window) {
      s.bind(3, to_unix(f.window->from)).bind(4, to_unix(f.window->until));
    } else {
      s.bind_null(3).bind_null(4);
    }
    if (f.status)
      s.bind(5, to_string(*f.status));
    else
      s.bind_null(5);
    s.bind(6, f.limit);
    while (s.step()) ids.push_back(s.i64(0));
  }
  std::vector<Appointment> out;
  out.reserve(ids.size());
  for (Id id : ids)
    if (auto a = appointment(company_id, id)) out.push_back(std::move(*a));
  return out;
}

std::vector<Event> SqliteTx::events(Id company_id, Id appointment_id) {
  auto s = c_.prepare(sql::kEvents);
  s.bind(1, company_id).bind(2, appointment_id);
  std::vector<Event> out;
  while (s.step())
    out.push_back({s.i64(0), s.i64(1), s.i64(2), s.text(3), s.text(4), from_unix(s.i64(5))});
  return out;
}

std::optional<ApiKey> SqliteTx::api_key_by_hash(const std::string& sha256_hex) {
  auto s = c_.prepare(sql::kApiKeyByHash);
  s.bind(1, sha256_hex);
  if (!s.step()) return std::nullopt;
  return ApiKey{s.i64(0), s.i64(1), s.text(2),
                s.text(3) == "platform" ? KeyRole::kPlatform : KeyRole::kCompany};
}

std::vector<Block> SqliteTx::blocks_sql(Id staff_id, Interval blocked, Id exclude, Instant now) {
  std::vector<Block> out;
  auto s = c_.prepare(sql::kBlocks);
  s.bind(1, staff_id).bind(2, to_unix(blocked.from)).bind(3, to_unix(blocked.until));
  s.bind(4, exclude).bind(5, kMaxBlocked.count()).bind(6, to_unix(now));
  while (s.step())
    out.push_back({s.i64(0) ? Block::kHold : Block::kSegment,
                   s.i64(1),
                   s.i64(2),
                   staff_id,
                   {from_unix(s.i64(3)), from_unix(s.i64(4))}});
  return out;
}

namespace {
// How far into the past a loaded copy of a staff member's blocks reaches: checks of earlier
// times (rare: bookings are in the future) go to SQL.
constexpr Seconds kIndexPast = std::chrono::hours{24};

// The same rows, in any order.
bool same_blocks(std::vector<Block> a, std::vector<Block> b) {
  auto by_key = [](const Block& x, const Block& y) {
    return std::tuple(x.kind, x.id) < std::tuple(y.kind, y.id);
  };
  std::sort(a.begin(), a.end(), by_key);
  std::sort(b.begin(), b.end(), by_key);
  return a == b;
}
}  // namespace

const BlockIndex::Staff& SqliteTx::load_blocks(Id staff_id, Instant lo) {
  std::vector<BlockIndex::Entry> rows;
  auto s = c_.prepare(sql::kBlocksAfter);
  s.bind(1, staff_id).bind(2, to_unix(lo)).bind(3, kMaxBlocked.count());
  while (s.step()) {
    BlockIndex::Entry e;
    e.kind = s.i64(0) ? Block::kHold : Block::kSegment;
    e.id = s.i64(1);
    e.appointment_id = s.i64(2);
    e.blocked = {from_unix(s.i64(3)), from_unix(s.i64(4))};
    if (e.kind == Block::kHold) e.expires_at = from_unix(s.i64(5));
    rows.push_back(e);
  }
  return index()->load(staff_id, lo, std::move(rows));
}

std::vector<Block> SqliteTx::blocks(Id staff_id, Interval blocked, Id exclude, Instant now) {
  if (!index()) return blocks_sql(staff_id, blocked, exclude, now);
  const BlockIndex::Staff* copy = index()->find(staff_id, blocked.from);
  if (!copy) {
    const Instant lo = now - kIndexPast;
    if (blocked.from < lo) return blocks_sql(staff_id, blocked, exclude, now);
    copy = &load_blocks(staff_id, lo);
  }
  std::vector<Block> out;
  copy->query(staff_id, blocked, exclude, now, out);
  if (verify_ && !same_blocks(out, blocks_sql(staff_id, blocked, exclude, now))) {
    obs::log_error("block index diverged from the database",
                   "\"staff_id\":" + std::to_string(staff_id) +
                       ",\"from\":" + std::to_string(to_unix(blocked.from)));
    std::abort();
  }
  return out;
}

std::optional<StoredResponse> SqliteTx::idempotency(Id company_id, const std::string& key) {
  auto s = c_.prepare(sql::kIdempotency);
  s.bind(1, company_id).bind(2, key);
  if (!s.step()) return std::nullopt;
  return StoredResponse{s.text(0), static_cast<int>(s.i64(1)), s.text(2)};
}

namespace {
// Savepoint statements by nesting depth, prepared once per connection (cached by address).
constexpr int kMaxDepth = 4;
constexpr const char* kSavepoint[kMaxDepth] = {"SAVEPOINT sp1", "SAVEPOINT sp2", "SAVEPOINT sp3",
                                               "SAVEPOINT sp4"};
constexpr const char* kRelease[kMaxDepth] = {"RELEASE sp1", "RELEASE sp2", "RELEASE sp3",
                                             "RELEASE sp4"};
constexpr const char* kRollbackTo[kMaxDepth] = {"ROLLBACK TO sp1", "ROLLBACK TO sp2",
                                                "ROLLBACK TO sp3", "ROLLBACK TO sp4"};
}  // namespace

void SqliteTx::savepoint() {
  if (depth_ >= kMaxDepth) throw StoreError("savepoints nested too deep");
  c_.prepare(kSavepoint[depth_]).exec();
  ++depth_;
  if (cache_) cache_->savepoint();
}

void SqliteTx::rollback_savepoint() {
  int d = depth_--;
  // The index forgets first: if the SQL below fails, the batch fails and the index starts over.
  if (cache_) cache_->rollback();
  c_.prepare(kRollbackTo[d - 1]).exec();
  c_.prepare(kRelease[d - 1]).exec();
}

void SqliteTx::rollback_all() {
  if (depth_ == 0) return;
  if (cache_)
    for (int i = 0; i < depth_; ++i) cache_->rollback();
  depth_ = 0;
  c_.prepare(kRollbackTo[0]).exec();
  c_.prepare(kRelease[0]).exec();
}

void SqliteTx::release_savepoint() {
  c_.prepare(kRelease[depth_ - 1]).exec();
  --depth_;
  if (cache_) cache_->release();
}

Id SqliteTx::insert_company(const Company& c) {
  catalog_changed();
  auto s = c_.prepare(sql::kInsertCompany);
  s.bind(1, c.name).bind(2, c.timezone).bind(3, c.country).bind(4, to_unix(c.created_at));
  s.bind(5, c.settings.slot_step_minutes).bind(6, c.settings.min_notice_minutes);
  s.bind(7, c.settings.horizon_days);
  s.exec();
  return c_.last_insert_id();
}

Id SqliteTx::insert_branch(const Branch& b) {
  catalog_changed();
  auto s = c_.prepare(sql::kInsertBranch);
  s.bind(1, b.company_id).bind(2, b.name).bind(3, b.timezone).bind(4, b.phone);
  s.bind(5, to_unix(b.created_at));
  s.exec();
  return c_.last_insert_id();
}

Id SqliteTx::insert_service(const Service& v) {
  catalog_changed();
  auto s = c_.prepare(sql::kInsertService);
  s.bind(1, v.company_id).bind(2, v.name).bind(3, v.duration_minutes);
  s.bind(4, v.buffer_before_minutes).bind(5, v.buffer_after_minutes);
  s.bind(6, to_unix(v.created_at));
  s.exec();
  return c_.last_insert_id();
}

Id SqliteTx::insert_staff(const Staff& v) {
  catalog_changed();
  Id id;
  {
    auto s = c_.prepare(sql::kInsertStaff);
    s.bind(1, v.company_id).bind(2, v.branch_id).bind(3, v.name).bind(4, v.email);
    s.bind(5, v.active ? 1 : 0).bind(6, to_unix(v.created_at));
    s.exec();
    id = c_.last_insert_id();
  }
  for (Id svc : v.service_ids) {
    auto s = c_.prepare(sql::kInsertStaffService);
    s.bind(1, id).bind(2, svc);
    s.exec();
  }
  return id;
}

CustomerUpsert SqliteTx::upsert_customer(const Customer& c) {
  // Writes are serialised, so look first: most bookings are of returning customers, and a read
  // is cheaper than an insert refused by the unique index. The ON CONFLICT of the insert stays
  // as the guard of I2.
  auto existing = customer_by_phone(c.company_id, c.phone);
  if (!existing) {
    auto s = c_.prepare(sql::kInsertCustomer);
    s.bind(1, c.company_id).bind(2, c.phone).bind(3, c.name).bind(4, c.email).bind(5, c.source);
    s.bind(6, to_unix(c.created_at));
    if (!s.step()) throw StoreError("customer upsert: conflict without a live row");
    Customer out = c;
    out.id = s.i64(0);
    return {out, true};
  }
  if ((existing->name.empty() && !c.name.empty()) ||
      (existing->email.empty() && !c.email.empty())) {
    auto s = c_.prepare(sql::kFillCustomer);
    s.bind(1, c.company_id).bind(2, existing->id).bind(3, c.name).bind(4, c.email);
    s.exec();
    if (existing->name.empty()) existing->name = c.name;
    if (existing->email.empty()) existing->email = c.email;
  }
  return {*existing, false};
}

Id SqliteTx::insert_appointment(const Appointment& a) {
  auto s = c_.prepare(sql::kInsertAppointment);
  s.bind(1, a.company_id).bind(2, a.branch_id).bind(3, a.customer_id).bind(4, to_string(a.status));
  s.bind(5, a.version).bind(6, a.source).bind(7, a.notes).bind_text_or_null(8, a.call_id);
  s.bind_text_or_null(9, a.external_provider).bind_text_or_null(10, a.external_id);
  s.bind(11, to_unix(a.created_at)).bind(12, to_unix(a.updated_at));
  s.exec();
  return c_.last_insert_id();
}

Id SqliteTx::insert_segment(Id company_id, const Segment& g) {
  auto s = c_.prepare(sql::kInsertSegment);
  s.bind(1, g.appointment_id).bind(2, company_id).bind(3, g.staff_id).bind(4, g.service_id);
  s.bind(5, to_unix(g.time.from)).bind(6, to_unix(g.time.until));
  s.bind(7, to_unix(g.blocked.from)).bind(8, to_unix(g.blocked.until)).bind(9, g.active ? 1 : 0);
  s.exec();
  Id id = c_.last_insert_id();
  if (!g.active) return id;  // blocks nothing (an import kept as conflict)
  raise_max_blocked(g.staff_id, g.blocked);
  if (index()) index()->added(g.staff_id, {Block::kSegment, id, g.appointment_id, g.blocked});
  return id;
}

void SqliteTx::forget_staff_of(Id appointment_id) {
  if (!index()) return;
  auto s = c_.prepare(sql::kStaffOfAppointment);
  s.bind(1, appointment_id);
  while (s.step()) index()->forget(s.i64(0));
}

void SqliteTx::deactivate_segments(Id appointment_id) {
  forget_staff_of(appointment_id);
  auto s = c_.prepare(sql::kDeactivateSegments);
  s.bind(1, appointment_id);
  s.exec();
}

void SqliteTx::delete_segments(Id appointment_id) {
  forget_staff_of(appointment_id);
  auto s = c_.prepare(sql::kDeleteSegments);
  s.bind(1, appointment_id);
  s.exec();
}

void SqliteTx::update_appointment(const Appointment& a) {
  auto s = c_.prepare(sql::kUpdateAppointment);
  s.bind(1, a.company_id).bind(2, a.id).bind(3, to_string(a.status)).bind(4, a.version);
  s.bind(5, a.notes).bind(6, to_unix(a.updated_at)).bind(7, a.needs_attention ? 1 : 0);
  s.exec();
}

void SqliteTx::append_event(const Event& e) {
  auto s = c_.prepare(sql::kInsertEvent);
  s.bind(1, e.company_id);
  if (e.appointment_id)
    s.bind(2, e.appointment_id);
  else
    s.bind_null(2);
  s.bind(3, e.kind).bind(4, e.payload).bind(5, to_unix(e.created_at));
  s.exec();
}

void SqliteTx::enqueue_sync(Id appointment_id, const std::string& action, std::int64_t version,
                            Instant now) {
  auto s = c_.prepare(sql::kInsertSyncJob);
  s.bind(1, appointment_id).bind(2, action).bind(3, version).bind(4, to_unix(now));
  s.exec();
}

void SqliteTx::store_idempotency(Id company_id, const std::string& key, const StoredResponse& r,
                                 Instant now) {
  auto s = c_.prepare(sql::kInsertIdempotency);
  s.bind(1, company_id).bind(2, key).bind(3, r.fingerprint).bind(4, r.status).bind(5, r.body);
  s.bind(6, to_unix(now));
  s.exec();
}

Id SqliteTx::insert_api_key(const ApiKey& k, const std::string& sha256_hex, Instant now) {
  auto s = c_.prepare(sql::kInsertApiKey);
  if (k.company_id)
    s.bind(1, k.company_id);
  else
    s.bind_null(1);
  s.bind(2, k.name).bind(3, sha256_hex);
  s.bind(4, k.role == KeyRole::kPlatform ? "platform" : "company").bind(5, to_unix(now));
  s.exec();
  return c_.last_insert_id();
}

// --- scheduling ---

std::vector<Id> SqliteTx::staff_performing(Id company_id, Id service_id) {
  auto s = c_.prepare(sql::kStaffPerforming);
  s.bind(1, company_id).bind(2, service_id);
  std::vector<Id> out;
  while (s.step()) out.push_back(s.i64(0));
  return out;
}

std::vector<WorkingHours> SqliteTx::working_hours(Id company_id, Id staff_id) {
  auto s = c_.prepare(sql::kWorkingHours);
  s.bind(1, company_id).bind(2, staff_id);
  std::vector<WorkingHours> out;
  while (s.step())
    out.push_back(
        {static_cast<int>(s.i64(0)), static_cast<int>(s.i64(1)), static_cast<int>(s.i64(2))});
  return out;
}

std::vector<TimeOff> SqliteTx::time_off(Id company_id, Id staff_id, Instant after, int limit) {
  auto s = c_.prepare(sql::kTimeOff);
  s.bind(1, company_id).bind(2, staff_id).bind(3, to_unix(after)).bind(4, limit);
  std::vector<TimeOff> out;
  while (s.step()) out.push_back(read_time_off(s));
  return out;
}

std::optional<StaffSchedule> SqliteTx::schedule_sql(Id company_id, Id id, Interval window) {
  StaffSchedule st;
  {
    auto s = c_.prepare(sql::kScheduleStaff);
    s.bind(1, company_id).bind(2, id);
    if (!s.step()) return std::nullopt;  // unknown or another company's (I7)
    st.staff_id = s.i64(0);
    st.branch_id = s.i64(1);
    st.active = s.i64(2) != 0;
    st.timezone = s.text(3);
  }
  {
    auto s = c_.prepare(sql::kScheduleHours);
    s.bind(1, id);
    while (s.step())
      st.hours.push_back(
          {static_cast<int>(s.i64(1)), static_cast<int>(s.i64(2)), static_cast<int>(s.i64(3))});
  }
  {
    auto s = c_.prepare(sql::kScheduleTimeOff);
    s.bind(1, id).bind(2, to_unix(window.from)).bind(3, to_unix(window.until));
    while (s.step()) st.time_off.push_back(read_time_off(s));
  }
  return st;
}

std::vector<StaffSchedule> SqliteTx::schedules_sql(Id company_id, const std::vector<Id>& ids,
                                                   Interval window) {
  std::vector<StaffSchedule> out;
  if (ids.empty()) return out;
  std::string list = "[";
  for (Id id : ids) {
    if (list.size() > 1) list += ',';
    list += std::to_string(id);
  }
  list += "]";
  {
    auto s = c_.prepare(sql::kSchedulesStaff);
    s.bind(1, company_id).bind(2, list);
    while (s.step()) {
      StaffSchedule st;
      st.staff_id = s.i64(0);
      st.branch_id = s.i64(1);
      st.active = s.i64(2) != 0;
      st.timezone = s.text(3);
      out.push_back(std::move(st));
    }
  }
  // Both ordered by staff id, like `out`: one merge pass each.
  auto of = [&](Id staff, size_t& k) -> StaffSchedule* {
    while (k < out.size() && out[k].staff_id < staff) ++k;
    return k < out.size() && out[k].staff_id == staff ? &out[k] : nullptr;
  };
  {
    auto s = c_.prepare(sql::kSchedulesHours);
    s.bind(1, list);
    size_t k = 0;
    while (s.step())
      if (auto* st = of(s.i64(0), k))
        st->hours.push_back(
            {static_cast<int>(s.i64(1)), static_cast<int>(s.i64(2)), static_cast<int>(s.i64(3))});
  }
  {
    auto s = c_.prepare(sql::kSchedulesTimeOff);
    s.bind(1, list).bind(2, to_unix(window.from)).bind(3, to_unix(window.until));
    size_t k = 0;
    while (s.step())
      if (auto* st = of(s.i64(1), k)) st->time_off.push_back(read_time_off(s));
  }
  return out;
}

std::vector<StaffSchedule> SqliteTx::staff_schedules(Id company_id, std::span<const Id> staff_ids,
                                                     Interval window) {
  std::vector<Id> ids(staff_ids.begin(), staff_ids.end());
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  if (!catalog()) return schedules_sql(company_id, ids, window);
  std::vector<StaffSchedule> out;
  for (Id id : ids) {
    // The writer keeps every time off of the staff member and picks the window's here.
    static constexpr Interval kAllTime{Instant::min(), Instant::max()};
    auto st =
        through(catalog(), verify_, &CatalogCache::schedules, CatalogCache::Pair{company_id, id},
                [&] { return schedule_sql(company_id, id, kAllTime); });
    if (!st) continue;
    std::erase_if(st->time_off, [&](const TimeOff& t) { return !t.time.overlaps(window); });
    out.push_back(std::move(*st));
  }
  return out;
}

std::vector<Block> SqliteTx::blocks_of(std::span<const Id> staff_ids, Interval window, Id exclude,
                                       Instant now) {
  std::vector<Block> out;
  for (Id id : staff_ids) {
    auto part = blocks(id, window, exclude, now);
    out.insert(out.end(), part.begin(), part.end());
  }
  return out;
}

std::optional<Hold> SqliteTx::hold(Id company_id, Id id) {
  auto s = c_.prepare(sql::kHold);
  s.bind(1, company_id).bind(2, id);
  if (!s.step()) return std::nullopt;
  Hold h;
  h.id = s.i64(0);
  h.company_id = s.i64(1);
  h.staff_id = s.i64(2);
  h.service_id = s.i64(3);
  h.time = {from_unix(s.i64(4)), from_unix(s.i64(5))};
  h.blocked = {from_unix(s.i64(6)), from_unix(s.i64(7))};
  h.expires_at = from_unix(s.i64(8));
  h.owner = s.text(9);
  return h;
}

void SqliteTx::update_company_settings(Id company_id, const SchedulingSettings& v) {
  catalog_changed();
  auto s = c_.prepare(sql::kUpdateCompanySettings);
  s.bind(1, company_id).bind(2, v.slot_step_minutes).bind(3, v.min_notice_minutes);
  s.bind(4, v.horizon_days);
  s.exec();
}

void SqliteTx::replace_working_hours(Id staff_id, const std::vector<WorkingHours>& hours) {
  catalog_changed();
  {
    auto s = c_.prepare(sql::kDeleteWorkingHours);
    s.bind(1, staff_id);
    s.exec();
  }
  for (const auto& h : hours) {
    auto s = c_.prepare(sql::kInsertWorkingHours);
    s.bind(1, staff_id).bind(2, h.weekday).bind(3, h.start_minute).bind(4, h.end_minute);
    s.exec();
  }
}

Id SqliteTx::insert_time_off(const TimeOff& t) {
  catalog_changed();
  auto s = c_.prepare(sql::kInsertTimeOff);
  s.bind(1, t.staff_id).bind(2, to_unix(t.time.from)).bind(3, to_unix(t.time.until));
  s.bind(4, t.reason);
  s.exec();
  return c_.last_insert_id();
}

bool SqliteTx::delete_time_off(Id company_id, Id staff_id, Id id) {
  catalog_changed();
  auto s = c_.prepare(sql::kDeleteTimeOff);
  s.bind(1, company_id).bind(2, staff_id).bind(3, id);
  s.exec();
  return c_.changes() > 0;
}

Id SqliteTx::insert_hold(const Hold& h) {
  auto s = c_.prepare(sql::kInsertHold);
  s.bind(1, h.company_id).bind(2, h.staff_id).bind(3, h.service_id);
  s.bind(4, to_unix(h.time.from)).bind(5, to_unix(h.time.until));
  s.bind(6, to_unix(h.blocked.from)).bind(7, to_unix(h.blocked.until));
  s.bind(8, to_unix(h.expires_at)).bind(9, h.owner);
  s.exec();
  Id id = c_.last_insert_id();
  raise_max_blocked(h.staff_id, h.blocked);
  if (index()) index()->added(h.staff_id, {Block::kHold, id, 0, h.blocked, h.expires_at});
  return id;
}

void SqliteTx::raise_max_blocked(Id staff_id, Interval blocked) {
  auto s = c_.prepare(sql::kRaiseMaxBlocked);
  s.bind(1, staff_id).bind(2, blocked.length().count());
  s.exec();
}

bool SqliteTx::delete_hold(Id company_id, Id id) {
  if (index()) {
    auto q = c_.prepare(sql::kStaffOfHold);
    q.bind(1, company_id).bind(2, id);
    if (q.step()) index()->forget(q.i64(0));
  }
  auto s = c_.prepare(sql::kDeleteHold);
  s.bind(1, company_id).bind(2, id);
  s.exec();
  return c_.changes() > 0;
}

int SqliteTx::delete_expired_holds(Id staff_id, Instant now) {
  auto s = c_.prepare(sql::kDeleteExpiredHolds);
  s.bind(1, staff_id).bind(2, to_unix(now));
  s.exec();
  int n = c_.changes();
  if (index() && n > 0) index()->forget(staff_id);
  return n;
}

}  // namespace appointd::store::sqlite
