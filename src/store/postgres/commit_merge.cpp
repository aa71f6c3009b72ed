#include "store/postgres/commit_merge.h"

#include <algorithm>
#include <charconv>
#include <string>

#include "store/postgres/items.h"
#include "store/postgres/sql.h"

namespace appointd::store::postgres {
namespace {

using items::is_control;
using items::is_lock;

// The statements of a merged fiber that are merged across fibers, in their order in the
// transaction (each one's fibers all depend on the ones before: the check before the inserts,
// the appointment before its outbox row).
constexpr const Statement* kStages[] = {&sql::kExpectFree, &sql::kInsertAppointmentAndSegment,
                                        &sql::kInsertEventAndSyncJob};
// What else a merged fiber may send: independent of the order (after the merged ones).
bool independent(const Item& it) {
  return it.st == &sql::kFillCustomer || it.st == &sql::kInsertIdempotency;
}
bool staged(const Item& it) {
  return std::find(std::begin(kStages), std::end(kStages), it.st) != std::end(kStages);
}

std::int64_t number(const Params& p, int i) {
  std::int64_t v = 0;
  const std::string& s = p.value(i);
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

// kExpectFree of many (its params: staff, from, until, exclude, longest, now).
Item expect_free_many(const std::vector<const Params*>& ps) {
  Params p;
  p.add_indexes(ps.size());
  for (int c = 0; c < 6; ++c) p.add_numbers_of(ps, c);
  std::vector<std::int64_t> staff;
  std::int64_t earliest = number(*ps.front(), 5);
  for (const Params* q : ps) {
    staff.push_back(number(*q, 0));
    earliest = std::min(earliest, number(*q, 5));
  }
  std::sort(staff.begin(), staff.end());
  staff.erase(std::unique(staff.begin(), staff.end()), staff.end());
  p.add_ids(staff).add(earliest);
  return {&sql::kExpectFreeMany, nullptr, std::move(p), false, false};
}

// A merged insert: every parameter of the statement as an array (text ones quoted).
Item insert_many(const Statement* many, const std::vector<const Params*>& ps,
                 std::initializer_list<int> texts) {
  Params p;
  for (int i = 0; i < ps.front()->size(); ++i) {
    if (std::find(texts.begin(), texts.end(), i) != texts.end())
      p.add_texts_of(ps, i);
    else
      p.add_numbers_of(ps, i);
  }
  return {many, nullptr, std::move(p), false, false};
}

Item merged(const Statement* st, const std::vector<const Params*>& ps) {
  if (st == &sql::kExpectFree) return expect_free_many(ps);
  if (st == &sql::kInsertAppointmentAndSegment)
    // status, source, notes, call_id, external_provider, external_id
    return insert_many(&sql::kInsertAppointmentAndSegmentMany, ps, {3, 5, 6, 7, 8, 9});
  // kInsertEventAndSyncJob: kind, payload, action
  return insert_many(&sql::kInsertEventAndSyncJobMany, ps, {2, 3, 6});
}

}  // namespace

CommitMerge::CommitMerge(const std::vector<const std::vector<Item>*>& queues) {
  const size_t n = queues.size();
  included_.assign(n, true);
  at_.resize(n);
  wanted_.resize(n);
  std::vector<bool> mergeable(n, true);
  for (size_t f = 0; f < n; ++f)
    for (const auto& it : *queues[f])
      if (!is_control(it) && !staged(it) && !independent(it)) mergeable[f] = false;
  // Checks for overlapping times of one staff member: the later fiber waits.
  struct Taken {
    std::int64_t staff, from, until;
  };
  std::vector<Taken> taken;
  for (size_t f = 0; f < n; ++f) {
    if (!mergeable[f]) continue;
    std::vector<Taken> mine;
    for (const auto& it : *queues[f])
      if (it.st == &sql::kExpectFree)
        mine.push_back({number(it.params, 0), number(it.params, 1), number(it.params, 2)});
    for (const auto& m : mine)
      for (const auto& t : taken)
        if (m.staff == t.staff && m.from < t.until && t.from < m.until) included_[f] = false;
    if (included_[f]) taken.insert(taken.end(), mine.begin(), mine.end());
  }

  size_t rows = 0;  // rows of the wanted statements placed so far
  auto own = [&](Item it) {
    owned_.push_back(std::move(it));
    scope_.push_back(&owned_.back());
    rows += owned_.back().want;
    return scope_.size() - 1;
  };
  own({nullptr, "BEGIN", {}, false, false});
  std::vector<Id> staff;
  for (size_t f = 0; f < n; ++f) {
    if (!included_[f]) continue;
    for (const auto& it : *queues[f])
      if (is_lock(it)) {
        const std::string& v = it.params.value(0);
        const char* p = v.data();
        const char* end = p + v.size();
        while (p < end) {
          if (*p < '0' || *p > '9') {
            ++p;
            continue;
          }
          Id id = 0;
          p = std::from_chars(p, end, id).ptr;
          staff.push_back(id);
        }
      }
  }
  std::sort(staff.begin(), staff.end());
  staff.erase(std::unique(staff.begin(), staff.end()), staff.end());
  if (staff.size() == 1)
    own({&sql::kLockOneStaff, nullptr, Params().add(staff.front()), false, false});
  else if (staff.size() > 1)
    own({&sql::kLockStaff, nullptr, Params().add_ids(staff), false, false});

  auto place = [&](size_t f, const Item& it) {
    scope_.push_back(&it);
    at_[f].push_back(scope_.size() - 1);
    if (it.want) wanted_[f].push_back(rows++);
  };
  for (const Statement* stage : kStages) {
    std::vector<size_t> fibers;
    std::vector<const Item*> members;
    for (size_t f = 0; f < n; ++f)
      if (included_[f] && mergeable[f])
        for (const auto& it : *queues[f])
          if (it.st == stage) {
            fibers.push_back(f);
            members.push_back(&it);
          }
    if (members.size() == 1) place(fibers.front(), *members.front());
    if (members.size() < 2) continue;
    std::vector<const Params*> ps;
    for (const Item* m : members) ps.push_back(&m->params);
    const size_t pos = own(merged(stage, ps));
    for (size_t f : fibers)
      if (at_[f].empty() || at_[f].back() != pos) at_[f].push_back(pos);
    if (stage == &sql::kExpectFree) {
      check_pos_ = pos;
      check_fiber_ = fibers;
    }
  }
  for (size_t f = 0; f < n; ++f) {
    if (!included_[f]) continue;
    for (const auto& it : *queues[f])
      if (!is_control(it) && !(mergeable[f] && staged(it))) place(f, it);
  }
  own({nullptr, "COMMIT", {}, false, false});
}

CommitMerge::Fate CommitMerge::fate(size_t f, const ScopeResult& out) const {
  if (!included_[f]) return Fate::kAgain;
  if (!out.error) return Fate::kCommitted;
  const size_t p = out.failed;
  if (p == check_pos_) {
    // The merged check names the booking whose time was taken.
    const std::string& d = out.error->detail();
    size_t k = 0;
    const auto [ptr, ec] = std::from_chars(d.data(), d.data() + d.size(), k);
    if (ec == std::errc() && ptr == d.data() + d.size() && k < check_fiber_.size())
      return check_fiber_[k] == f ? Fate::kFailed : Fate::kAgain;
    return Fate::kFailed;  // not ours to say whose: each runs again as it would alone
  }
  const auto& mine = at_[f];
  if (std::find(mine.begin(), mine.end(), p) != mine.end()) return Fate::kFailed;
  // BEGIN, the lock or COMMIT (nobody's statement) fails all.
  for (const auto& a : at_)
    if (std::find(a.begin(), a.end(), p) != a.end()) return Fate::kAgain;
  return Fate::kFailed;
}

std::vector<Result> CommitMerge::results(size_t f, const ScopeResult& out) const {
  std::vector<Result> mine;
  for (size_t row : wanted_[f]) mine.push_back(out.rows[row]);
  return mine;
}

}  // namespace appointd::store::postgres
