#include "booking/alternatives.h"

#include <algorithm>

#include "booking/planning.h"
#include "domain/availability.h"

namespace appointd::booking {
namespace {

constexpr Seconds kFarReachAfter = date::days{1};
constexpr Seconds kFarReachBefore = date::days{1};
constexpr Seconds kNearReach = std::chrono::hours{6};
constexpr int kMaxCandidates = 600;   // starts tried per direction: bounded work on the writer
constexpr size_t kMaxOtherStaff = 2;  // other staff offered at the requested time
constexpr size_t kOtherStaffProbes = 8;

using Candidate = std::vector<Segment>;

bool overlaps_chosen(const Candidate& cand, const std::vector<const Candidate*>& chosen) {
  for (const Candidate* c : chosen)
    for (const auto& a : *c)
      for (const auto& b : cand)
        if (a.staff_id == b.staff_id && a.blocked.overlaps(b.blocked)) return true;
  return false;
}

class Finder {
 public:
  Finder(const AlternativeQuery& q, const std::map<Id, Calendar>& cals, const SlotRules& rules)
      : q_(q), cals_(cals), rules_(rules) {}

  // Whether the whole candidate can be booked now.
  bool bookable(const Candidate& cand) const {
    if (cand.front().time.from < q_.now) return false;  // never offer the past
    for (const auto& s : cand) {
      auto it = cals_.find(s.staff_id);
      if (it == cals_.end() || !fits(it->second, {s.time, s.blocked}, rules_)) return false;
    }
    return true;
  }

  // Candidates with the first segment at the given starts, in the order given, up to `max`.
  template <class Starts>
  std::vector<Candidate> collect(Starts&& next_start, size_t max) const {
    std::vector<Candidate> out;
    const Candidate& req = q_.segments;
    for (int i = 0; i < kMaxCandidates && out.size() < max; ++i) {
      auto t = next_start();
      if (!t) break;
      Candidate cand = shifted(req, *t - req.front().time.from);
      if (!bookable(cand)) continue;
      if (q_.disjoint) {
        std::vector<const Candidate*> chosen;
        for (const auto& c : out) chosen.push_back(&c);
        if (overlaps_chosen(cand, chosen)) continue;
      }
      out.push_back(std::move(cand));
    }
    return out;
  }

 private:
  const AlternativeQuery& q_;
  const std::map<Id, Calendar>& cals_;
  const SlotRules& rules_;
};

struct Found {
  std::vector<Candidate> after, before, other;
};

// Every segment's blocked interval widened by the reaches: what a search over them reads.
Interval reach_of(const Candidate& segs, Seconds before, Seconds after) {
  Interval w{segs.front().blocked.from - before, segs.front().blocked.until + after};
  for (const auto& s : segs) {
    w.from = std::min(w.from, s.blocked.from - before);
    w.until = std::max(w.until, s.blocked.until + after);
  }
  return w;
}

// One search over [request - reach_before, request + reach_after]; other staff only when
// `with_others` (they are offered at the requested time, which no reach changes).
Found search(store::ReadTx& tx, const AlternativeQuery& q, const SlotRules& rules,
             Seconds reach_before, Seconds reach_after, bool with_others) {
  const Candidate& segs = q.segments;
  const Segment& first = segs.front();
  const Instant req = first.time.from;
  const Seconds len0 = first.time.length();
  const Seconds step = rules.step;

  // Other staff at the requested time: one cheap overlap probe each first; only the free ones
  // have their schedules loaded (most probes on a busy day end at the probe).
  std::vector<Id> others;
  if (with_others && segs.size() == 1 && req >= q.now) {
    size_t probes = 0;
    for (Id id : tx.staff_for_service(q.company_id, q.branch_id, first.service_id,
                                      static_cast<int>(kOtherStaffProbes) + 1)) {
      if (probes >= kOtherStaffProbes || others.size() >= kMaxOtherStaff) break;
      if (id == first.staff_id) continue;
      ++probes;
      bool busy = false;
      for (const auto& b : tx.blocks(id, first.blocked, q.exclude, q.now))
        busy |= !(b.kind == Block::kHold && b.id == q.ignore_hold);
      if (!busy) others.push_back(id);
    }
  }
  const std::vector<Id> ids = staff_of(segs);
  // The window covers every candidate's blocked interval (buffers included), so nothing that
  // could collide with a candidate lies outside what is loaded.
  const Interval window = reach_of(segs, reach_before, reach_after);
  // The window holds every candidate's blocked interval: nothing beyond it is needed.
  auto cals = load_calendars(tx, q.company_id, ids, window, q.now, q.exclude, q.ignore_hold, true,
                             Seconds{0});
  // Other staff are only offered at the requested time: their calendars over that interval.
  if (!others.empty())
    cals.merge(load_calendars(tx, q.company_id, others, first.blocked, q.now, q.exclude,
                              q.ignore_hold, true, Seconds{0}));
  Finder finder(q, cals, rules);

  auto c0 = cals.find(first.staff_id);
  const bool grid = c0 != cals.end() && c0->second.scheduled;
  Found f;
  auto& after = f.after;
  auto& before = f.before;
  auto& other = f.other;
  if (grid) {
    // Starts on the step grid of the first staff member's working intervals.
    const auto& w = c0->second.working;
    size_t wi = 0;
    Instant t{};
    bool started = false;
    after = finder.collect(
        [&]() -> std::optional<Instant> {
          while (wi < w.size()) {
            if (!started) {
              t = w[wi].from;
              if (t <= req) t += step * (((req - t) / step) + 1);
              started = true;
            } else {
              t += step;
            }
            if (t + len0 <= w[wi].until && t <= req + reach_after) return t;
            if (t > req + reach_after) return std::nullopt;
            ++wi;
            started = false;
          }
          return std::nullopt;
        },
        kMaxAlternatives);
    size_t wj = w.size();
    started = false;
    before = finder.collect(
        [&]() -> std::optional<Instant> {
          while (wj > 0) {
            const Interval& iv = w[wj - 1];
            if (!started) {
              const Instant last = std::min(req - Seconds{1}, iv.until - len0);
              if (last < iv.from) {
                --wj;
                continue;
              }
              t = iv.from + step * ((last - iv.from) / step);
              started = true;
            } else {
              t -= step;
            }
            if (t >= iv.from && t >= req - reach_before && t >= q.now) return t;
            if (t < req - reach_before || t < q.now) return std::nullopt;
            --wj;
            started = false;
          }
          return std::nullopt;
        },
        kMaxAlternatives);
  } else {
    int k = 0;
    after = finder.collect(
        [&]() -> std::optional<Instant> {
          Instant t = req + step * ++k;
          if (t > req + reach_after) return std::nullopt;
          return t;
        },
        kMaxAlternatives);
    k = 0;
    before = finder.collect(
        [&]() -> std::optional<Instant> {
          Instant t = req - step * ++k;
          if (t < req - reach_before || t < q.now) return std::nullopt;
          return t;
        },
        kMaxAlternatives);
  }
  for (Id id : others) {
    if (other.size() >= kMaxOtherStaff) break;
    Candidate moved = segs;
    moved.front().staff_id = id;
    if (finder.bookable(moved)) other.push_back(std::move(moved));
  }
  return f;
}

// Interleaves nearest after, nearest before, other staff now, then further out.
std::vector<SlotConflict::Alternative> interleave(const AlternativeQuery& q, const Found& f) {
  const auto& after = f.after;
  const auto& before = f.before;
  const auto& other = f.other;
  std::vector<SlotConflict::Alternative> out;
  std::vector<const Candidate*> chosen;
  auto take = [&](const std::vector<Candidate>& v, size_t& i) {
    while (i < v.size() && out.size() < kMaxAlternatives) {
      const Candidate& c = v[i++];
      if (q.disjoint && overlaps_chosen(c, chosen)) continue;
      chosen.push_back(&c);
      out.push_back({c});
      return;
    }
  };
  size_t ia = 0, ib = 0, io = 0;
  while (out.size() < kMaxAlternatives &&
         (ia < after.size() || ib < before.size() || io < other.size())) {
    take(after, ia);
    take(before, ib);
    take(other, io);
  }
  return out;
}

}  // namespace

void announce_alternatives(store::ReadTx& tx, const AlternativeQuery& q) {
  // The requested staff over the near window (what the first pass reads), and the other staff at
  // the requested time.
  const Segment& first = q.segments.front();
  // The near window: most conflicts find their alternatives there (a store that remembers what
  // it read, as PostgreSQL's, then reads only the rest of the day when they do not).
  const std::vector<Id> staff = staff_of(q.segments);
  tx.expect_blocks(staff, reach_of(q.segments, kNearReach, kNearReach), q.exclude, q.now);
  // The day around the request, which the second pass reads when the first did not yield a
  // full list: a store may read it at once (while that is the common case) or later.
  tx.expect_blocks(staff, reach_of(q.segments, kFarReachBefore, kFarReachAfter), q.exclude, q.now);
  if (q.segments.size() == 1 && first.time.from >= q.now) {
    auto others = tx.staff_for_service(q.company_id, q.branch_id, first.service_id,
                                       static_cast<int>(kOtherStaffProbes) + 1);
    std::erase(others, first.staff_id);
    tx.expect_blocks(others, first.blocked, q.exclude, q.now);
  }
}

std::vector<SlotConflict::Alternative> alternatives(store::ReadTx& tx, const AlternativeQuery& q) {
  auto co = tx.company(q.company_id);
  const SlotRules rules = slot_rules(co ? co->settings : SchedulingSettings{}, q.now);
  // Most conflicts have free time nearby: look half a day around the request first, and load
  // the wide window (a day either way) only when that does not yield a full list. This
  // keeps the writer's work on a busy calendar proportional to what is offered.
  Found near = search(tx, q, rules, kNearReach, kNearReach, true);
  auto out = interleave(q, near);
  if (out.size() >= kMaxAlternatives) return out;
  Found far = search(tx, q, rules, kFarReachBefore, kFarReachAfter, false);
  far.other = std::move(near.other);
  return interleave(q, far);
}

}  // namespace appointd::booking
