#include "store/postgres/pg_tx.h"

#include <algorithm>
#include <chrono>
#include <iterator>
#include <string>
#include <tuple>

#include "domain/segments.h"
#include "store/postgres/rows.h"
#include "store/postgres/sql.h"

namespace appointd::store::postgres {
namespace {

std::int64_t unix_of(Instant t) {
  return to_unix(t);
}

std::vector<Id> ids_of(std::span<const Id> ids) {
  return {ids.begin(), ids.end()};
}
// What every overlap read of sql.h takes after its staff ($1: one id or an array): the
// interval, the appointment whose segments do not count, the longest blocked interval, now.
Params& add_window(Params& p, Interval w, Id exclude, Instant now) {
  return p.add(unix_of(w.from))
      .add(unix_of(w.until))
      .add(exclude)
      .add(static_cast<std::int64_t>(kMaxBlocked.count()))
      .add(unix_of(now));
}
// kUpsertCustomer's parameters.
Params upsert_params(const Customer& c) {
  return Params()
      .add(c.company_id)
      .add(c.phone)
      .add(c.name)
      .add(c.email)
      .add(c.source)
      .add(unix_of(c.created_at));
}

// A block from a row whose kind (0 segment, 1 hold), id, appointment id, blocked from and
// until are the five columns from `col` on (sql.h's block statements).
Block block_at(const Result& r, int i, int col, Id staff_id) {
  return {r.i64(i, col) ? Block::kHold : Block::kSegment,
          r.i64(i, col + 1),
          r.i64(i, col + 2),
          staff_id,
          {from_unix(r.i64(i, col + 3)), from_unix(r.i64(i, col + 4))}};
}

// Savepoint statements by nesting depth (constant text: utility statements are not prepared).
constexpr int kMaxDepth = 4;
constexpr const char* kSavepoint[kMaxDepth] = {"SAVEPOINT sp1", "SAVEPOINT sp2", "SAVEPOINT sp3",
                                               "SAVEPOINT sp4"};
constexpr const char* kRelease[kMaxDepth] = {"RELEASE sp1", "RELEASE sp2", "RELEASE sp3",
                                             "RELEASE sp4"};
constexpr const char* kRollbackTo[kMaxDepth] = {"ROLLBACK TO sp1", "ROLLBACK TO sp2",
                                                "ROLLBACK TO sp3", "ROLLBACK TO sp4"};

// Sequence values reserved for the INSERTs after a free overlap check: one appointment and
// up to this many segments (a composite books at most kMaxSegments).
constexpr int kMaxReservedSegments = kMaxSegments;

}  // namespace

template <class F>
auto PgTx::timed(F&& f) -> decltype(f()) {
  if (!lock_unsent_ || !lock_wait_) {
    lock_unsent_ = false;
    return f();
  }
  // The round trip that carries the lock: its duration bounds the wait for the lock.
  const auto began = std::chrono::steady_clock::now();
  auto r = f();
  lock_unsent_ = false;
  lock_wait_->observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count());
  return r;
}

Result PgTx::read(const Statement& s, const Params& p) {
  if (unchecked_.empty()) return timed([&] { return c_.run(s, p); });
  const std::pair<const Statement*, Params> one[] = {{&s, p}};
  return std::move(round_trip(one).front());
}

std::vector<Result> PgTx::round_trip(std::span<const std::pair<const Statement*, Params>> batch) {
  if (unchecked_.empty()) return timed([&] { return c_.run_all(batch); });
  std::vector<std::pair<const Statement*, Params>> all(batch.begin(), batch.end());
  const std::vector<std::pair<Id, std::int64_t>> checks(unchecked_.begin(), unchecked_.end());
  for (const auto& [company, version] : checks)
    all.push_back({&sql::kCatalogVersion, Params().add(company)});
  auto rs = timed([&] { return c_.run_all(all); });
  const size_t first_check = rs.size() - checks.size();  // after every other wanted result
  for (size_t i = 0; i < checks.size(); ++i) {
    const Result& r = rs[first_check + i];
    const auto [company, version] = checks[i];
    if (!r.rows() || r.i64(0, 0) != version) {
      if (catalog_) catalog_->drop(company, version);
      throw CatalogStale(company);
    }
    unchecked_.erase(company);
  }
  while (rs.size() > first_check) rs.pop_back();
  return rs;
}

const CompanyCatalog* PgTx::copy(Id company_id) {
  if (!catalog_) return nullptr;
  if (auto it = copies_.find(company_id); it != copies_.end()) return it->second.get();
  auto c = catalog_->find(company_id);
  if (!c) {
    c = timed([&] { return load_catalog(c_, company_id); });
    // A company that does not exist (yet) is not kept: it has no version to check.
    if (!c->company) return copies_.emplace(company_id, std::move(c)).first->second.get();
    catalog_->put(c);
  }
  unchecked_[company_id] = c->version;
  return copies_.emplace(company_id, std::move(c)).first->second.get();
}

void PgTx::catalog_write() {
  if (!catalog_) return;
  if (!unchecked_.empty()) round_trip({});
  catalog_->clear();
  catalog_ = nullptr;
  copies_.clear();
}

void PgTx::queue_lock(const std::vector<Id>& ascending) {
  begin();
  // Queued: the lock is taken, in order, before the next statement runs; a lock timeout or
  // deadlock surfaces at the next round trip.
  if (ascending.size() == 1)
    c_.defer(sql::kLockOneStaff, Params().add(ascending.front()));
  else
    c_.defer(sql::kLockStaff, Params().add_ids(ascending));
  lock_unsent_ = true;
}

void PgTx::release_withheld() {
  probe_armed_ = false;
  if (withheld_.empty()) return;
  if (probe_hit_) throw ProbeMissed();
  std::vector<Id> ids;
  ids.swap(withheld_);
  queue_lock(ids);
  if (expect_free_) {
    // The check under the lock of a time the probe found free (blocks()).
    const ExpectFree& e = *expect_free_;
    Params p;
    c_.defer(sql::kExpectFree, add_window(p.add(e.staff_id), e.blocked, e.exclude, e.now));
    expect_free_.reset();
  }
}

void PgTx::begin() {
  if (begun_) return;
  c_.defer("BEGIN");
  begun_ = true;
}

void PgTx::open_savepoints() {
  release_withheld();  // a lock is taken before the savepoint, so its rollback keeps it
  if (std::find(levels_.begin(), levels_.end(), false) != levels_.end()) begin();
  for (size_t i = 0; i < levels_.size(); ++i) {
    if (!levels_[i]) {
      c_.defer(kSavepoint[i]);
      levels_[i] = true;
      marks_.push_back({lock_log_.size(), purge_log_.size()});
    }
  }
}

void PgTx::prepare_write() {
  if (!writable_) throw StoreError("postgresql: write in a read transaction");
  wrote_.back() = true;
  forget_read_ahead();
  open_savepoints();  // the withheld lock first, then BEGIN and the SAVEPOINTs
  begin();            // a write outside any savepoint level
}

void PgTx::write(const Statement& s, Params p, Fusion f) {
  prepare_write();
  // A SAVEPOINT queued just now is the last item, and then nothing fuses across it.
  if (f.last && c_.fuse(*f.last, *f.fused, p)) return;
  c_.defer(s, std::move(p));
}

Result PgTx::write_returning(const Statement& s, const Params& p) {
  prepare_write();
  const bool reserve = want_appointment_id_ || want_segment_ids_ > 0;
  if (!reserve) return read(s, p);
  // The reservation rides along: no round trip of its own.
  const int segments = want_segment_ids_;
  std::pair<const Statement*, Params> batch[] = {
      {&s, p}, {&sql::kReserveIds, Params().add(want_appointment_id_).add(std::max(1, segments))}};
  want_appointment_id_ = false;
  want_segment_ids_ = 0;
  auto rs = round_trip(batch);
  keep_reserved(rs[1], segments);
  return std::move(rs[0]);
}

void PgTx::keep_reserved(const Result& ids, int segments) {
  if (ids.rows() && !ids.is_null(0, 0)) appointment_ids_.push_back(ids.i64(0, 0));
  // Taken in ascending order: take_reserved pops from the back.
  for (int i = std::min(segments, ids.rows()) - 1; i >= 0; --i)
    segment_ids_.push_back(ids.i64(i, 1));
}

Id PgTx::take_reserved(std::vector<Id>& ids) {
  if (ids.empty()) return 0;
  Id id = ids.back();
  ids.pop_back();
  return id;
}

void PgTx::commit() {
  if (probe_hit_ && reach_ && near_) reach_->record(beyond_);
  withheld_.clear();  // nothing was written after it: the lock is not needed
  if (!begun_) {
    // Only reads ran, each in its own implicit transaction: nothing to end. A copy's check
    // still decides whether the answer stands.
    if (!unchecked_.empty()) round_trip({});
    return;
  }
  if (!wrote_.front()) {
    // Nothing to keep (a conflict, a refusal, a read): ROLLBACK ends it without the WAL flush
    // a COMMIT of its row locks and housekeeping would wait for. The copies' checks ride along.
    c_.defer("ROLLBACK");
    if (!unchecked_.empty())
      round_trip({});
    else
      timed([&] {
        c_.flush();
        return 0;
      });
    return;
  }
  if (!unchecked_.empty()) round_trip({});  // a copy's check never travels with COMMIT
  timed([&] {
    c_.commit();
    return 0;
  });
}

std::optional<Company> PgTx::company(Id company_id) {
  if (const CompanyCatalog* cat = copy(company_id)) return cat->company;
  auto r = read(sql::kCompany, Params().add(company_id));
  if (!r.rows()) return std::nullopt;
  return read_company(r, 0);
}

std::optional<Branch> PgTx::branch(Id company_id, Id id) {
  auto r = read(sql::kBranch, Params().add(company_id).add(id));
  if (!r.rows()) return std::nullopt;
  return read_branch(r, 0);
}

std::vector<Branch> PgTx::branches(Id company_id) {
  auto r = read(sql::kBranches, Params().add(company_id));
  std::vector<Branch> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(read_branch(r, i));
  return out;
}

std::optional<Service> PgTx::service(Id company_id, Id id) {
  if (const CompanyCatalog* cat = copy(company_id)) return cat->find_service(id);
  auto r = read(sql::kService, Params().add(company_id).add(id));
  if (!r.rows()) return std::nullopt;
  return read_service(r, 0);
}

std::vector<Service> PgTx::services(Id company_id) {
  auto r = read(sql::kServices, Params().add(company_id));
  std::vector<Service> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(read_service(r, i));
  return out;
}

std::optional<Staff> PgTx::staff(Id company_id, Id id) {
  if (const CompanyCatalog* cat = copy(company_id)) return cat->find_staff(id);
  auto r = read(sql::kStaff, Params().add(company_id).add(id));
  if (!r.rows()) return std::nullopt;
  return read_staff(r, 0);
}

std::vector<Staff> PgTx::staff_list(Id company_id) {
  auto r = read(sql::kStaffList, Params().add(company_id));
  std::vector<Staff> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(read_staff(r, i));
  return out;
}

std::vector<Id> PgTx::staff_for_service(Id company_id, Id branch_id, Id service_id, int limit) {
  std::vector<Id> out;
  if (const CompanyCatalog* cat = copy(company_id)) {
    out = cat->staff_for_service(branch_id, service_id, limit);
  } else {
    auto r = read(sql::kStaffForService,
                  Params().add(company_id).add(branch_id).add(service_id).add(limit));
    for (int i = 0; i < r.rows(); ++i) out.push_back(r.i64(i, 0));
  }
  return out;
}

std::optional<Customer> PgTx::customer(Id company_id, Id id) {
  auto r = read(sql::kCustomer, Params().add(company_id).add(id));
  if (!r.rows()) return std::nullopt;
  return read_customer(r, 0);
}

std::optional<Customer> PgTx::customer_by_phone(Id company_id, const std::string& e164) {
  auto r = read(sql::kCustomerByPhone, Params().add(company_id).add(e164));
  if (!r.rows()) return std::nullopt;
  return read_customer(r, 0);
}

std::optional<Appointment> PgTx::appointment(Id company_id, Id id) {
  // Both in one round trip; the segments count only when the appointment is the company's.
  // A write locks the row first (a change of the appointment follows): the segments are read
  // after the lock, so they are those of the last committed change.
  if (writable_) begin();  // the row lock lasts until the transaction ends
  std::pair<const Statement*, Params> batch[] = {
      {writable_ ? &sql::kAppointmentForUpdate : &sql::kAppointment,
       Params().add(company_id).add(id)},
      {&sql::kSegmentsOf, Params().add(id)}};
  auto rs = round_trip(batch);
  if (!rs[0].rows()) return std::nullopt;
  return appointment_of(rs[0], rs[1]);
}
std::vector<Appointment> PgTx::appointments(Id company_id, const AppointmentFilter& f) {
  Params p;
  p.add(company_id);
  if (f.staff_id)
    p.add(*f.staff_id);
  else
    p.add_null();
  if (f.window)
    p.add(unix_of(f.window->from)).add(unix_of(f.window->until));
  else
    p.add_null().add_null();
  if (f.status)
    p.add(to_string(*f.status));
  else
    p.add_null();
  p.add(f.limit);
  std::vector<Id> ids;
  {
    auto r = read(f.staff_id ? sql::kAppointmentIdsOfStaff : sql::kAppointmentIdsOfCompany, p);
    for (int i = 0; i < r.rows(); ++i) ids.push_back(r.i64(i, 0));
  }
  std::vector<Appointment> out;
  out.reserve(ids.size());
  if (ids.empty()) return out;
  // Every appointment with its segments, in one round trip.
  std::vector<std::pair<const Statement*, Params>> batch;
  batch.reserve(2 * ids.size());
  for (Id id : ids) {
    batch.push_back({&sql::kAppointment, Params().add(company_id).add(id)});
    batch.push_back({&sql::kSegmentsOf, Params().add(id)});
  }
  auto rs = round_trip(batch);
  for (size_t k = 0; k < ids.size(); ++k)
    if (rs[2 * k].rows()) out.push_back(appointment_of(rs[2 * k], rs[2 * k + 1]));
  return out;
}

std::vector<Event> PgTx::events(Id company_id, Id appointment_id) {
  auto r = read(sql::kEvents, Params().add(company_id).add(appointment_id));
  std::vector<Event> out;
  for (int i = 0; i < r.rows(); ++i)
    out.push_back({r.i64(i, 0), r.i64(i, 1), r.i64(i, 2), r.text(i, 3), r.text(i, 4),
                   from_unix(r.i64(i, 5))});
  return out;
}

std::optional<ApiKey> PgTx::api_key_by_hash(const std::string& sha256_hex) {
  auto r = read(sql::kApiKeyByHash, Params().add(sha256_hex));
  if (!r.rows()) return std::nullopt;
  return ApiKey{r.i64(0, 0), r.i64(0, 1), r.text(0, 2),
                r.text(0, 3) == "platform" ? KeyRole::kPlatform : KeyRole::kCompany};
}

std::vector<Block> PgTx::blocks(Id staff_id, Interval blocked, Id exclude, Instant now) {
  Params p;
  add_window(p.add(staff_id), blocked, exclude, now);
  const bool locked = writable_ && locked_.count(staff_id);
  if (!locked) {
    const Id one[] = {staff_id};
    if (auto known = known_blocks(one, blocked, exclude, now)) return std::move(*known);
  }
  if (locked && !withheld_.empty() &&
      std::find(withheld_.begin(), withheld_.end(), staff_id) != withheld_.end()) {
    // The probe: the same check without the lock. A conflict it finds is the answer (it was
    // there in this snapshot); a free time is decided by the check under the lock below. The
    // reads a conflict's alternatives announced come along, read only if there is one; when
    // one of them covers this staff member and time, it is the probe itself.
    const Params busy =
        Params().add(staff_id).add(unix_of(blocked.from)).add(unix_of(blocked.until));
    auto todo = queue_announced(&busy);
    size_t cover = todo.size();
    for (size_t k = 0; k < todo.size() && cover == todo.size(); ++k)
      if (todo[k].covers(staff_id, blocked, exclude, now)) cover = k;
    if (cover == todo.size()) c_.want(sql::kBlocks, p);
    // A one-segment booking of a returning customer needs no round trip of its own for the
    // check under the lock when the time is free: the probe also looks the customer up and
    // reserves the ids (only when the time is free: a conflict spends no ids and reads no
    // customer), and the lock and the locked check (kExpectFree, which raises when the time
    // was taken since) travel with the INSERTs and COMMIT.
    const bool fast = booking_ahead_ && booking_ahead_->segments == 1 && booking_ahead_->customer &&
                      appointment_ids_.empty() && withheld_.size() == 1;
    if (fast) {
      const Customer& cu = *booking_ahead_->customer;
      c_.want(sql::kReserveIdsAndCustomerIfFree,
              Params().add(cu.company_id).add(cu.phone).append(p));
    }
    auto rs = round_trip({});
    std::vector<Block> found;
    const Result& r = rs[cover];
    const int c = cover == todo.size() ? 0 : 1;  // kBlocksOfIfBusy leads with staff_id
    for (int i = 0; i < r.rows(); ++i) {
      if (c && r.i64(i, 0) != staff_id) continue;
      Block b = block_at(r, i, c, staff_id);
      if (b.blocked.overlaps(blocked)) found.push_back(b);
    }
    if (!found.empty()) {
      keep_announced(todo, rs, 0);
      probe_hit_ = true;
      booking_ahead_.reset();
      if (probe_) probe_->record(true);
      return found;
    }
    // Free as of the probe: the announced reads came back empty; a conflict found under the
    // lock reads them afresh.
    std::move(todo.begin(), todo.end(), std::back_inserter(announced_));
    if (fast) {
      const Result& fr = rs[todo.size() + (cover == todo.size() ? 1 : 0)];
      keep_reserved(fr, 1);
      if (fr.rows() && !fr.is_null(0, 2)) {
        probed_customer_ = read_customer(fr, 0, 2);
        expect_free_ = ExpectFree{staff_id, blocked, exclude, now};
        // The locked check's housekeeping is kExpectFree's: nothing to delete again.
        purge_log_.push_back({staff_id, now});
        booking_ahead_.reset();
        if (probe_) probe_->record(false);
        return {};
      }
    }
  }
  release_withheld();
  if (locked) begin();
  // Under the lock, the check also deletes the expired holds (housekeeping that needs no undo:
  // no reader counts them, so it opens no savepoint).
  c_.want(locked ? sql::kBlocksLocked : sql::kBlocks, std::move(p));
  if (locked) purge_log_.push_back({staff_id, now});
  // The booking announced what follows a free check: it travels with the check, inside the
  // booking's savepoint level (a conflict rolls that level back, and the upsert with it).
  bool upsert = false;
  int reserve = -1;          // segments reserved with the check, -1: no reservation sent
  bool first_check = false;  // of a booking: its outcome feeds the probe policy
  if (locked && booking_ahead_ && !levels_.empty()) {
    first_check = true;
    BookingAhead ahead = std::move(*booking_ahead_);
    booking_ahead_.reset();
    if (ahead.customer) {
      const Customer& cu = *ahead.customer;
      open_savepoints();
      wrote_.back() = true;
      c_.want(sql::kUpsertCustomer, upsert_params(cu));
      upsert_sent_ = cu;
      upsert = true;
    }
    if (appointment_ids_.empty() && ahead.segments > 0) {
      reserve = std::min(ahead.segments, kMaxReservedSegments);
      c_.want(sql::kReserveIds, Params().add(true).add(reserve));
    }
  }
  auto rs = round_trip({});
  Result& r = rs[0];
  if (first_check && probe_) probe_->record(r.rows() > 0);
  if (upsert) upsert_rows_.emplace(std::move(rs[1]));
  if (reserve >= 0) keep_reserved(rs[upsert ? 2 : 1], reserve);
  if (locked && reserve < 0) {
    // Free: an INSERT of this time probably follows; reserve its ids on the next round trip.
    if (!r.rows()) {
      want_appointment_id_ |= exclude == 0 && appointment_ids_.empty();
      if (static_cast<int>(segment_ids_.size()) + want_segment_ids_ < kMaxReservedSegments)
        ++want_segment_ids_;
    }
  }
  std::vector<Block> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(block_at(r, i, 0, staff_id));
  return out;
}

std::optional<StoredResponse> PgTx::idempotency(Id company_id, const std::string& key) {
  auto r = read(sql::kIdempotency, Params().add(company_id).add(key));
  if (!r.rows()) return std::nullopt;
  return StoredResponse{r.text(0, 0), static_cast<int>(r.i64(0, 1)), r.text(0, 2)};
}

void PgTx::expect_blocks(std::span<const Id> staff_ids, Interval window, Id exclude, Instant now) {
  if (staff_ids.empty()) return;
  announced_.push_back({ids_of(staff_ids), window, exclude, now});
}

void PgTx::expect_booking(const BookingAhead& ahead) {
  if (!writable_) return;
  booking_ahead_ = ahead;
  // Only without a hold to convert: then any block the probe finds is a conflict.
  probe_armed_ = probe_ && ahead.hold_id == 0 && !levels_.empty() && probe_->probe_first();
}

std::optional<std::vector<Block>> PgTx::known_blocks(std::span<const Id> staff_ids, Interval window,
                                                     Id exclude, Instant now) {
  auto covers = [&](const Interval& w, Id ex, Instant at) {
    return ex == exclude && at == now && w.from <= window.from && window.until <= w.until;
  };
  auto answer = [&]() -> std::optional<std::vector<Block>> {
    std::vector<Block> out;
    for (Id id : staff_ids) {
      auto it = known_.find(id);
      if (it == known_.end() || !covers(it->second.window, it->second.exclude, it->second.now))
        return std::nullopt;
      for (const auto& b : it->second.blocks)
        if (b.blocked.overlaps(window)) out.push_back(b);
    }
    return out;
  };
  if (near_ && !near_->contains(window)) beyond_ = true;
  if (auto out = answer()) return out;
  bool wanted = false;
  for (const auto& a : announced_)
    for (Id id : staff_ids) wanted |= a.covers(id, window, exclude, now);
  if (wanted) {
    auto todo = queue_announced(nullptr);
    auto rs = round_trip({});
    keep_announced(todo, rs, 0);
    return answer();
  }
  // Known over part of the window (a conflict's alternatives read the hours around the request
  // first, and the rest of the day only when those do not yield enough): only the rest is read.
  struct Rest {
    Id staff_id;
    Interval w;
  };
  std::vector<Rest> rest;
  for (Id id : staff_ids) {
    auto it = known_.find(id);
    if (it == known_.end() || it->second.exclude != exclude || it->second.now != now)
      return std::nullopt;
    const Interval k = it->second.window;
    if (!k.overlaps(window)) return std::nullopt;
    if (window.from < k.from) rest.push_back({id, {window.from, k.from}});
    if (k.until < window.until) rest.push_back({id, {k.until, window.until}});
  }
  std::vector<std::pair<const Statement*, Params>> batch;
  for (const auto& r : rest) {
    Params p;
    add_window(p.add_ids({r.staff_id}), r.w, exclude, now);
    batch.push_back({&sql::kBlocksOf, std::move(p)});
  }
  auto rs = round_trip(batch);
  for (size_t i = 0; i < rest.size(); ++i) {
    Known& k = known_[rest[i].staff_id];
    const Result& r = rs[i];
    for (int j = 0; j < r.rows(); ++j) {
      Block b = block_at(r, j, 1, r.i64(j, 0));
      // A block across the boundary was read with the known part already.
      const bool seen = std::any_of(k.blocks.begin(), k.blocks.end(), [&](const Block& x) {
        return x.kind == b.kind && x.id == b.id;
      });
      if (!seen) k.blocks.push_back(b);
    }
  }
  for (Id id : staff_ids) {
    Known& k = known_[id];
    k.window = {std::min(k.window.from, window.from), std::max(k.window.until, window.until)};
  }
  return answer();
}

std::vector<PgTx::Announced> PgTx::queue_announced(const Params* if_busy) {
  std::vector<Announced> todo;
  todo.swap(announced_);
  // Reads nested in one another: the widest at once (null policy, or calendars full), else the
  // narrowest.
  const bool wide = !reach_ || reach_->wide_first();
  auto nested = [](const Announced& a, const Announced& b) {  // b inside a
    return a.staff == b.staff && a.exclude == b.exclude && a.now == b.now &&
           a.window.contains(b.window) && !(a.window == b.window);
  };
  std::vector<bool> drop(todo.size(), false);
  for (size_t i = 0; i < todo.size(); ++i)
    for (size_t j = 0; j < todo.size(); ++j)
      if (i != j && nested(todo[i], todo[j])) {
        drop[wide ? j : i] = true;
        if (!near_ || near_->contains(todo[j].window)) near_ = todo[j].window;
      }
  std::vector<Announced> kept;
  for (size_t i = 0; i < todo.size(); ++i)
    if (!drop[i]) kept.push_back(std::move(todo[i]));
  todo.swap(kept);
  for (const auto& a : todo) {
    Params p;
    add_window(p.add_ids(a.staff), a.window, a.exclude, a.now);
    if (if_busy) p.append(*if_busy);
    c_.want(if_busy ? sql::kBlocksOfIfBusy : sql::kBlocksOf, std::move(p));
  }
  return todo;
}

void PgTx::keep_announced(const std::vector<Announced>& todo, const std::vector<Result>& rs,
                          size_t first) {
  // A staff member's blocks stay known over the window read (Announced).
  for (size_t k = 0; k < todo.size(); ++k) {
    const auto& a = todo[k];
    // A staff member in two reads keeps the first (alternatives announce the widest first).
    std::set<Id> mine;
    for (Id id : a.staff)
      if (known_.emplace(id, Known{a.window, a.exclude, a.now, {}}).second) mine.insert(id);
    const Result& r = rs[first + k];
    for (int i = 0; i < r.rows(); ++i)
      if (mine.count(r.i64(i, 0)))
        known_[r.i64(i, 0)].blocks.push_back(block_at(r, i, 1, r.i64(i, 0)));
  }
}

void PgTx::lock_staff(std::span<const Id> ascending_ids) {
  if (!writable_) throw StoreError("postgresql: lock_staff in a read transaction");
  std::vector<Id> todo;
  for (Id id : ascending_ids)
    if (!locked_.count(id)) todo.push_back(id);
  if (todo.empty()) return;
  forget_read_ahead();
  // Ascending order is what makes concurrent composite bookings deadlock-free; the SQL sorts
  // again (its subquery orders the ids it locks), so a caller's mistake cannot break it.
  std::sort(todo.begin(), todo.end());
  if (probe_armed_ && withheld_.empty() && lock_log_.empty()) {
    withheld_ = todo;  // the probe first (blocks())
  } else {
    release_withheld();
    queue_lock(todo);
  }
  locked_.insert(todo.begin(), todo.end());
  lock_log_.insert(lock_log_.end(), todo.begin(), todo.end());
}

void PgTx::savepoint() {
  if (levels_.size() >= static_cast<size_t>(kMaxDepth))
    throw StoreError("savepoints nested too deep");
  levels_.push_back(false);
  wrote_.push_back(false);
}

void PgTx::rollback_savepoint() {
  if (levels_.empty()) throw StoreError("rollback_savepoint without savepoint");
  forget_read_ahead();
  upsert_rows_.reset();  // undone with the level it was sent in
  upsert_sent_.reset();
  probed_customer_.reset();
  booking_ahead_.reset();
  if (levels_.back()) {
    c_.defer(kRollbackTo[levels_.size() - 1]);
    c_.defer(kRelease[levels_.size() - 1], true);
    // The row locks taken since that SAVEPOINT are gone with it, and the holds deleted since
    // are back.
    const Marks m = marks_.back();
    for (size_t i = m.locks; i < lock_log_.size(); ++i) locked_.erase(lock_log_[i]);
    lock_log_.resize(m.locks);
    purge_log_.resize(m.purges);
    marks_.pop_back();
  }
  levels_.pop_back();
  wrote_.pop_back();  // undone
}

void PgTx::release_savepoint() {
  if (levels_.empty()) throw StoreError("release_savepoint without savepoint");
  if (levels_.back()) {
    c_.defer(kRelease[levels_.size() - 1], true);
    marks_.pop_back();  // its locks and deletions now belong to the enclosing level
  }
  levels_.pop_back();
  const bool wrote = wrote_.back();
  wrote_.pop_back();
  wrote_.back() = wrote_.back() || wrote;  // kept by the enclosing level
}

Id PgTx::insert_company(const Company& c) {
  catalog_write();
  Params p;
  p.add(c.name).add(c.timezone).add(c.country).add(unix_of(c.created_at));
  p.add(c.settings.slot_step_minutes).add(c.settings.min_notice_minutes);
  p.add(c.settings.horizon_days);
  auto r = write_returning(sql::kInsertCompany, p);
  return r.i64(0, 0);
}

Id PgTx::insert_branch(const Branch& b) {
  catalog_write();
  auto r = write_returning(sql::kInsertBranch, Params()
                                                   .add(b.company_id)
                                                   .add(b.name)
                                                   .add(b.timezone)
                                                   .add(b.phone)
                                                   .add(unix_of(b.created_at)));
  return r.i64(0, 0);
}

Id PgTx::insert_service(const Service& v) {
  catalog_write();
  auto r = write_returning(sql::kInsertService, Params()
                                                    .add(v.company_id)
                                                    .add(v.name)
                                                    .add(v.duration_minutes)
                                                    .add(v.buffer_before_minutes)
                                                    .add(v.buffer_after_minutes)
                                                    .add(unix_of(v.created_at)));
  return r.i64(0, 0);
}

Id PgTx::insert_staff(const Staff& v) {
  catalog_write();
  Id id = write_returning(sql::kInsertStaff, Params()
                                                 .add(v.company_id)
                                                 .add(v.branch_id)
                                                 .add(v.name)
                                                 .add(v.email)
                                                 .add(v.active)
                                                 .add(unix_of(v.created_at)))
              .i64(0, 0);
  if (!v.service_ids.empty())
    write(sql::kInsertStaffServices, Params().add(id).add_ids(v.service_ids));
  return id;
}

CustomerUpsert PgTx::upsert_customer(const Customer& c) {
  if (probed_customer_ && probed_customer_->company_id == c.company_id &&
      probed_customer_->phone == c.phone) {
    // Found live by the probe (blocks()): a returning customer, whose empty name or email
    // are filled in as the upsert would.
    Customer existing = std::move(*probed_customer_);
    probed_customer_.reset();
    if ((existing.name.empty() && !c.name.empty()) ||
        (existing.email.empty() && !c.email.empty())) {
      write(sql::kFillCustomer,
            Params().add(c.company_id).add(existing.id).add(c.name).add(c.email));
      if (existing.name.empty()) existing.name = c.name;
      if (existing.email.empty()) existing.email = c.email;
    }
    return {existing, false};
  }
  auto same = [](const Customer& x, const Customer& y) {
    return x.company_id == y.company_id && x.phone == y.phone && x.name == y.name &&
           x.email == y.email && x.source == y.source && x.created_at == y.created_at;
  };
  if (upsert_rows_ && upsert_sent_ && same(*upsert_sent_, c)) {
    // Sent with the overlap check (expect_booking), in this savepoint level.
    Result r = std::move(*upsert_rows_);
    upsert_rows_.reset();
    upsert_sent_.reset();
    return upserted(c, r);
  }
  return upserted(c, write_returning(sql::kUpsertCustomer, upsert_params(c)));
}

CustomerUpsert PgTx::upserted(const Customer& c, const Result& r) {
  std::optional<Customer> existing;
  // Inserted (column 7 true), or the live row of the statement's snapshot.
  if (r.rows() && r.boolean(0, 7)) {
    Customer out = c;
    out.id = r.i64(0, 0);
    return {out, true};
  }
  if (r.rows()) existing = read_customer(r, 0);
  // No row: a concurrent insert of the phone committed after the snapshot (the INSERT waited
  // for it); a new statement sees it.
  if (!existing) existing = customer_by_phone(c.company_id, c.phone);
  if (!existing) throw StoreError("customer upsert: conflict without a live row");
  if ((existing->name.empty() && !c.name.empty()) ||
      (existing->email.empty() && !c.email.empty())) {
    write(sql::kFillCustomer,
          Params().add(c.company_id).add(existing->id).add(c.name).add(c.email));
    if (existing->name.empty()) existing->name = c.name;
    if (existing->email.empty()) existing->email = c.email;
  }
  return {*existing, false};
}

Id PgTx::insert_appointment(const Appointment& a) {
  Params p;
  p.add(a.company_id).add(a.branch_id).add(a.customer_id).add(to_string(a.status));
  p.add(a.version).add(a.source).add(a.notes).add_text_or_null(a.call_id);
  p.add_text_or_null(a.external_provider).add_text_or_null(a.external_id);
  p.add(unix_of(a.created_at)).add(unix_of(a.updated_at));
  Id id = take_reserved(appointment_ids_);
  if (id) {
    p.add(id);
    write(sql::kInsertAppointmentWithId, std::move(p));
  } else {
    id = write_returning(sql::kInsertAppointment, p).i64(0, 0);
  }
  if (a.status != AppointmentStatus::kBooked) not_booked_.insert(id);
  return id;
}

Id PgTx::insert_segment(Id company_id, const Segment& g) {
  Params p;
  p.add(g.appointment_id).add(company_id).add(g.staff_id).add(g.service_id);
  p.add(unix_of(g.time.from)).add(unix_of(g.time.until));
  p.add(unix_of(g.blocked.from)).add(unix_of(g.blocked.until));
  // A segment that blocks nothing goes in inactive (segments_no_overlap is checked at once): the
  // caller's deactivate_segments() that follows finds nothing left to do, as on SQLite.
  if (!g.active || not_booked_.count(g.appointment_id))
    return write_returning(sql::kInsertInactiveSegment, p).i64(0, 0);
  if (Id id = take_reserved(segment_ids_)) {
    p.add(id);
    // Right after its appointment's INSERT: one statement for both.
    write(sql::kInsertSegmentWithId, std::move(p),
          {&sql::kInsertAppointmentWithId, &sql::kInsertAppointmentAndSegment});
    return id;
  }
  return write_returning(sql::kInsertSegment, p).i64(0, 0);
}

void PgTx::deactivate_segments(Id appointment_id) {
  write(sql::kDeactivateSegments, Params().add(appointment_id));
}

void PgTx::delete_segments(Id appointment_id) {
  write(sql::kDeleteSegments, Params().add(appointment_id));
}

void PgTx::update_appointment(const Appointment& a) {
  write(sql::kUpdateAppointment, Params()
                                     .add(a.company_id)
                                     .add(a.id)
                                     .add(to_string(a.status))
                                     .add(a.version)
                                     .add(a.notes)
                                     .add(unix_of(a.updated_at))
                                     .add(a.needs_attention));
}

void PgTx::append_event(const Event& e) {
  Params p;
  p.add(e.company_id);
  if (e.appointment_id)
    p.add(e.appointment_id);
  else
    p.add_null();
  p.add(e.kind).add(e.payload).add(unix_of(e.created_at));
  write(sql::kInsertEvent, p);
}

void PgTx::enqueue_sync(Id appointment_id, const std::string& action, std::int64_t version,
                        Instant now) {
  // Right after the appointment's event (the use cases write both): one statement for both.
  write(sql::kInsertSyncJob,
        Params().add(appointment_id).add(action).add(version).add(unix_of(now)),
        {&sql::kInsertEvent, &sql::kInsertEventAndSyncJob});
}

void PgTx::store_idempotency(Id company_id, const std::string& key, const StoredResponse& r,
                             Instant now) {
  write(sql::kInsertIdempotency, Params()
                                     .add(company_id)
                                     .add(key)
                                     .add(r.fingerprint)
                                     .add(r.status)
                                     .add(r.body)
                                     .add(unix_of(now)));
}

Id PgTx::insert_api_key(const ApiKey& k, const std::string& sha256_hex, Instant now) {
  Params p;
  if (k.company_id)
    p.add(k.company_id);
  else
    p.add_null();
  p.add(k.name).add(sha256_hex).add(k.role == KeyRole::kPlatform ? "platform" : "company");
  p.add(unix_of(now));
  return write_returning(sql::kInsertApiKey, p).i64(0, 0);
}

// --- scheduling ---

std::vector<Id> PgTx::staff_performing(Id company_id, Id service_id) {
  auto r = read(sql::kStaffPerforming, Params().add(company_id).add(service_id));
  std::vector<Id> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(r.i64(i, 0));
  return out;
}

std::vector<WorkingHours> PgTx::working_hours(Id company_id, Id staff_id) {
  auto r = read(sql::kWorkingHours, Params().add(company_id).add(staff_id));
  std::vector<WorkingHours> out;
  for (int i = 0; i < r.rows(); ++i)
    out.push_back({static_cast<int>(r.i64(i, 0)), static_cast<int>(r.i64(i, 1)),
                   static_cast<int>(r.i64(i, 2))});
  return out;
}

std::vector<TimeOff> PgTx::time_off(Id company_id, Id staff_id, Instant after, int limit) {
  auto r =
      read(sql::kTimeOff, Params().add(company_id).add(staff_id).add(unix_of(after)).add(limit));
  std::vector<TimeOff> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(read_time_off(r, i));
  return out;
}

std::vector<StaffSchedule> PgTx::staff_schedules(Id company_id, std::span<const Id> staff_ids,
                                                 Interval window) {
  std::vector<StaffSchedule> out;
  if (staff_ids.empty()) return out;
  if (const CompanyCatalog* cat = copy(company_id)) return cat->schedules(staff_ids, window);
  auto r = read(sql::kSchedules, Params()
                                     .add(company_id)
                                     .add_ids(ids_of(staff_ids))
                                     .add(unix_of(window.from))
                                     .add(unix_of(window.until)));
  // Staff rows first (ordered by id), then hours and time off into them; the statement leaves
  // the order to us.
  for (int i = 0; i < r.rows(); ++i) {
    if (r.i64(i, 0) != 0) continue;
    StaffSchedule st;
    st.staff_id = r.i64(i, 1);
    st.branch_id = r.i64(i, 2);
    st.active = r.i64(i, 3) != 0;
    st.timezone = r.text(i, 5);
    out.push_back(std::move(st));
  }
  std::sort(out.begin(), out.end(),
            [](const StaffSchedule& a, const StaffSchedule& b) { return a.staff_id < b.staff_id; });
  auto find = [&](Id id) -> StaffSchedule* {
    auto it = std::lower_bound(out.begin(), out.end(), id,
                               [](const StaffSchedule& a, Id b) { return a.staff_id < b; });
    return it != out.end() && it->staff_id == id ? &*it : nullptr;
  };
  for (int i = 0; i < r.rows(); ++i) {
    const auto kind = r.i64(i, 0);
    if (kind == 0) continue;
    StaffSchedule* st = find(r.i64(i, 1));
    if (!st) continue;
    if (kind == 1)
      st->hours.push_back({static_cast<int>(r.i64(i, 2)), static_cast<int>(r.i64(i, 3)),
                           static_cast<int>(r.i64(i, 4))});
    else
      st->time_off.push_back({r.i64(i, 2),
                              st->staff_id,
                              {from_unix(r.i64(i, 3)), from_unix(r.i64(i, 4))},
                              r.text(i, 5)});
  }
  for (auto& st : out) {
    std::sort(st.hours.begin(), st.hours.end(), [](const WorkingHours& a, const WorkingHours& b) {
      return std::tie(a.weekday, a.start_minute) < std::tie(b.weekday, b.start_minute);
    });
    std::sort(st.time_off.begin(), st.time_off.end(), [](const TimeOff& a, const TimeOff& b) {
      return std::tie(a.time.from, a.id) < std::tie(b.time.from, b.id);
    });
  }
  return out;
}

std::vector<Block> PgTx::blocks_of(std::span<const Id> staff_ids, Interval window, Id exclude,
                                   Instant now) {
  std::vector<Block> out;
  if (staff_ids.empty()) return out;
  if (auto known = known_blocks(staff_ids, window, exclude, now)) return std::move(*known);
  Params p;
  auto r = read(sql::kBlocksOf, add_window(p.add_ids(ids_of(staff_ids)), window, exclude, now));
  for (int i = 0; i < r.rows(); ++i) out.push_back(block_at(r, i, 1, r.i64(i, 0)));
  return out;
}

std::optional<Hold> PgTx::hold(Id company_id, Id id) {
  auto r = read(sql::kHold, Params().add(company_id).add(id));
  if (!r.rows()) return std::nullopt;
  Hold h;
  h.id = r.i64(0, 0);
  h.company_id = r.i64(0, 1);
  h.staff_id = r.i64(0, 2);
  h.service_id = r.i64(0, 3);
  h.time = {from_unix(r.i64(0, 4)), from_unix(r.i64(0, 5))};
  h.blocked = {from_unix(r.i64(0, 6)), from_unix(r.i64(0, 7))};
  h.expires_at = from_unix(r.i64(0, 8));
  h.owner = r.text(0, 9);
  return h;
}

void PgTx::update_company_settings(Id company_id, const SchedulingSettings& v) {
  catalog_write();
  write(sql::kUpdateCompanySettings, Params()
                                         .add(company_id)
                                         .add(v.slot_step_minutes)
                                         .add(v.min_notice_minutes)
                                         .add(v.horizon_days));
}

void PgTx::replace_working_hours(Id staff_id, const std::vector<WorkingHours>& hours) {
  catalog_write();
  write(sql::kDeleteWorkingHours, Params().add(staff_id));
  if (hours.empty()) return;
  std::vector<Id> days, starts, ends;
  for (const auto& h : hours) {
    days.push_back(h.weekday);
    starts.push_back(h.start_minute);
    ends.push_back(h.end_minute);
  }
  write(sql::kInsertWorkingHours,
        Params().add(staff_id).add_ids(days).add_ids(starts).add_ids(ends));
}

Id PgTx::insert_time_off(const TimeOff& t) {
  catalog_write();
  return write_returning(sql::kInsertTimeOff, Params()
                                                  .add(t.staff_id)
                                                  .add(unix_of(t.time.from))
                                                  .add(unix_of(t.time.until))
                                                  .add(t.reason))
      .i64(0, 0);
}

bool PgTx::delete_time_off(Id company_id, Id staff_id, Id id) {
  catalog_write();
  return write_returning(sql::kDeleteTimeOff, Params().add(company_id).add(staff_id).add(id))
             .affected() > 0;
}

Id PgTx::insert_hold(const Hold& h) {
  Params p;
  p.add(h.company_id).add(h.staff_id).add(h.service_id);
  p.add(unix_of(h.time.from)).add(unix_of(h.time.until));
  p.add(unix_of(h.blocked.from)).add(unix_of(h.blocked.until));
  p.add(unix_of(h.expires_at)).add(h.owner);
  return write_returning(sql::kInsertHold, p).i64(0, 0);
}

bool PgTx::delete_hold(Id company_id, Id id) {
  return write_returning(sql::kDeleteHold, Params().add(company_id).add(id)).affected() > 0;
}

int PgTx::delete_expired_holds(Id staff_id, Instant now) {
  // Done already under the lock, as of now or later: nobody else writes holds of a locked
  // staff member, and this transaction writes only live ones.
  if (writable_ && locked_.count(staff_id))
    for (const auto& d : purge_log_)
      if (d.staff_id == staff_id && d.at >= now) return 0;
  const auto n = static_cast<int>(
      write_returning(sql::kDeleteExpiredHolds, Params().add(staff_id).add(unix_of(now)))
          .affected());
  if (writable_ && locked_.count(staff_id)) purge_log_.push_back({staff_id, now});
  return n;
}

}  // namespace appointd::store::postgres
