// The calendar sync's logic (src/sync): the plan of steps, backoff and breaker (pure), the
// outbox's claim / finish / retry and the webhook processing over a real store (SQLite, and
// PostgreSQL when APPOINTD_PG_URL is set: scripts/pg_tmp.sh; those variants skip without it),
// and the executor against the Python fake of Cal.com (tests/fakes/fake_calcom.py; skipped when
// python3 or the fake is missing).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "booking/appointments.h"
#include "booking/attempt.h"
#include "booking/catalog.h"
#include "pg_test_db.h"
#include "store/postgres/pg.h"
#include "store/store.h"
#include "sync/backoff.h"
#include "sync/executor.h"
#include "sync/http_client.h"
#include "sync/jobs.h"
#include "sync/plan.h"
#include "sync/providers/calcom/calcom_client.h"
#include "sync/webhooks.h"

using namespace appointd;
using namespace appointd::sync;
using nlohmann::json;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

namespace {

namespace fs = std::filesystem;

Instant at(const char* s) {
  return *parse_rfc3339(s);
}

std::int64_t secs(Instant t) {
  return to_unix(t);
}

// ================================================================================================
// plan_steps
// ================================================================================================

const Instant kT = at("2026-12-01T09:00:00Z");

Wanted want(int ordinal, std::int64_t et, Instant start, minutes len = minutes(30)) {
  return {ordinal, et, start, start + len};
}

ExternalBooking ext(const std::string& uid, int ordinal, std::int64_t et, Instant start,
                    bool live = true) {
  return {7, ordinal, kProviderCalcom, uid, et, start, live};
}

std::string describe(const Step& s) {
  const char* k = s.kind == Step::kCreate ? "create" : s.kind == Step::kCancel ? "cancel" : "move";
  return std::string(k) + "(ord=" + std::to_string(s.wanted.ordinal) +
         " et=" + std::to_string(s.wanted.event_type_id) + " at=" + format_rfc3339(s.wanted.start) +
         " uid=" + s.uid + ")";
}

std::string describe(const std::vector<Step>& steps) {
  std::string out;
  for (const auto& s : steps) out += describe(s) + " ";
  return out;
}

// Step's defaulted operator== needs one of Wanted, which has none: compare by hand.
void expect_step(const Step& s, Step::Kind kind, int ordinal, std::int64_t et, Instant start,
                 const std::string& uid) {
  EXPECT_EQ(s.kind, kind) << describe(s);
  EXPECT_EQ(s.wanted.ordinal, ordinal) << describe(s);
  EXPECT_EQ(s.wanted.event_type_id, et) << describe(s);
  EXPECT_EQ(secs(s.wanted.start), secs(start)) << describe(s);
  EXPECT_EQ(s.uid, uid) << describe(s);
}

// No cancel after a create or a reschedule.
void expect_cancels_first(const std::vector<Step>& steps) {
  bool seen_move = false;
  for (const auto& s : steps) {
    if (s.kind != Step::kCancel)
      seen_move = true;
    else
      EXPECT_FALSE(seen_move) << "a cancel after a create/reschedule: " << describe(steps);
  }
}

TEST(SyncLogicPlan, NothingToDoWhenEveryWantedSegmentHasItsBooking) {
  EXPECT_TRUE(plan_steps({}, {}).empty());
  EXPECT_TRUE(plan_steps({want(0, 101, kT)}, {ext("a", 0, 101, kT)}).empty());
  EXPECT_TRUE(plan_steps({want(0, 101, kT), want(1, 102, kT + minutes(30))},
                         {ext("b", 1, 102, kT + minutes(30)), ext("a", 0, 101, kT)})
                  .empty());
  // Only dead bookings, nothing wanted: nothing to cancel.
  EXPECT_TRUE(plan_steps({}, {ext("a", 0, 101, kT, false), ext("b", 3, 9, kT, false)}).empty());
}

TEST(SyncLogicPlan, CreatesAWantedSegmentWithoutABooking) {
  auto steps = plan_steps({want(0, 101, kT)}, {});
  ASSERT_EQ(steps.size(), 1u) << describe(steps);
  expect_step(steps[0], Step::kCreate, 0, 101, kT, "");
  EXPECT_EQ(secs(steps[0].wanted.end), secs(kT + minutes(30)));
  // A booking of another segment does not count for this one (and is not wanted: cancelled).
  steps = plan_steps({want(0, 101, kT)}, {ext("x", 1, 101, kT)});
  ASSERT_EQ(steps.size(), 2u) << describe(steps);
  expect_step(steps[0], Step::kCancel, 1, 101, kT, "x");
  expect_step(steps[1], Step::kCreate, 0, 101, kT, "");
}

TEST(SyncLogicPlan, ReschedulesABookingOfTheSameEventTypeElsewhere) {
  const Instant later = kT + hours(2);
  auto steps = plan_steps({want(0, 101, later)}, {ext("a", 0, 101, kT)});
  ASSERT_EQ(steps.size(), 1u) << describe(steps);
  expect_step(steps[0], Step::kReschedule, 0, 101, later, "a");
  EXPECT_EQ(secs(steps[0].wanted.end), secs(later + minutes(30)));
}

TEST(SyncLogicPlan, AnotherEventTypeIsCancelledAndCreated) {
  auto steps = plan_steps({want(0, 102, kT)}, {ext("a", 0, 101, kT)});
  ASSERT_EQ(steps.size(), 2u) << describe(steps);
  expect_step(steps[0], Step::kCancel, 0, 101, kT, "a");
  expect_step(steps[1], Step::kCreate, 0, 102, kT, "");
  // Another event type AND another time: still cancel + create, never a reschedule across types.
  steps = plan_steps({want(0, 102, kT + hours(1))}, {ext("a", 0, 101, kT)});
  ASSERT_EQ(steps.size(), 2u) << describe(steps);
  expect_step(steps[0], Step::kCancel, 0, 101, kT, "a");
  expect_step(steps[1], Step::kCreate, 0, 102, kT + hours(1), "");
}

TEST(SyncLogicPlan, DuplicatesKeepOneAndCancelTheRest) {
  // Two at the right place: the first is kept.
  auto steps = plan_steps({want(0, 101, kT)}, {ext("a", 0, 101, kT), ext("b", 0, 101, kT)});
  ASSERT_EQ(steps.size(), 1u) << describe(steps);
  expect_step(steps[0], Step::kCancel, 0, 101, kT, "b");
  // One elsewhere listed first, one at the right place: the right one is kept, nothing moves.
  steps = plan_steps({want(0, 101, kT)}, {ext("a", 0, 101, kT - hours(1)), ext("b", 0, 101, kT)});
  ASSERT_EQ(steps.size(), 1u) << describe(steps);
  expect_step(steps[0], Step::kCancel, 0, 101, kT - hours(1), "a");
  // Both elsewhere: one is moved, the other cancelled (cancel first).
  steps = plan_steps({want(0, 101, kT)},
                     {ext("a", 0, 101, kT - hours(1)), ext("b", 0, 101, kT + hours(1))});
  ASSERT_EQ(steps.size(), 2u) << describe(steps);
  expect_step(steps[0], Step::kCancel, 0, 101, kT + hours(1), "b");
  expect_step(steps[1], Step::kReschedule, 0, 101, kT, "a");
  // Three copies (a triple create after timeouts): two cancels.
  steps = plan_steps({want(0, 101, kT)},
                     {ext("a", 0, 101, kT), ext("b", 0, 101, kT), ext("c", 0, 101, kT)});
  ASSERT_EQ(steps.size(), 2u) << describe(steps);
  expect_step(steps[0], Step::kCancel, 0, 101, kT, "b");
  expect_step(steps[1], Step::kCancel, 0, 101, kT, "c");
  // The same uid reported twice is one booking: neither cancelled twice nor against itself.
  steps = plan_steps({want(0, 101, kT)}, {ext("a", 0, 101, kT), ext("a", 0, 101, kT)});
  EXPECT_TRUE(steps.empty()) << describe(steps);
  steps = plan_steps({}, {ext("a", 0, 101, kT), ext("a", 0, 101, kT)});
  ASSERT_EQ(steps.size(), 1u) << describe(steps);
  expect_step(steps[0], Step::kCancel, 0, 101, kT, "a");
}

TEST(SyncLogicPlan, BookingsNoLongerWantedAreCancelled) {
  // The appointment was cancelled: every live booking goes, dead ones are left alone.
  auto steps = plan_steps({}, {ext("a", 0, 101, kT), ext("dead", 1, 102, kT, false),
                               ext("b", 1, 102, kT + minutes(30))});
  ASSERT_EQ(steps.size(), 2u) << describe(steps);
  expect_step(steps[0], Step::kCancel, 0, 101, kT, "a");
  expect_step(steps[1], Step::kCancel, 1, 102, kT + minutes(30), "b");
  // A composite lost its second segment.
  steps = plan_steps({want(0, 101, kT)}, {ext("a", 0, 101, kT), ext("b", 1, 102, kT + hours(1))});
  ASSERT_EQ(steps.size(), 1u) << describe(steps);
  expect_step(steps[0], Step::kCancel, 1, 102, kT + hours(1), "b");
}

TEST(SyncLogicPlan, BookingsThatAreNotLiveAreIgnored) {
  // A dead booking at the right place does not satisfy the segment, nor is it moved or cancelled.
  auto steps = plan_steps({want(0, 101, kT)}, {ext("dead", 0, 101, kT, false)});
  ASSERT_EQ(steps.size(), 1u) << describe(steps);
  expect_step(steps[0], Step::kCreate, 0, 101, kT, "");
  steps = plan_steps({want(0, 101, kT)}, {ext("dead", 0, 101, kT - hours(1), false)});
  ASSERT_EQ(steps.size(), 1u) << describe(steps);
  expect_step(steps[0], Step::kCreate, 0, 101, kT, "");
  // A dead one listed before a live one elsewhere: the live one is moved.
  steps = plan_steps({want(0, 101, kT)},
                     {ext("dead", 0, 101, kT, false), ext("live", 0, 101, kT + hours(1))});
  ASSERT_EQ(steps.size(), 1u) << describe(steps);
  expect_step(steps[0], Step::kReschedule, 0, 101, kT, "live");
}

TEST(SyncLogicPlan, CancelsComeBeforeCreatesAndReschedules) {
  // Wanted first in the input, extra bookings last: the output still starts with the cancels.
  const std::vector<Wanted> w = {want(0, 101, kT + hours(1)), want(1, 102, kT + hours(2)),
                                 want(2, 103, kT + hours(3))};
  const std::vector<ExternalBooking> k = {
      ext("move0", 0, 101, kT),           // same type elsewhere: reschedule
      ext("type1", 1, 999, kT),           // other type: cancel, create
      ext("gone5", 5, 101, kT),           // no such segment: cancel
      ext("dup0", 0, 101, kT + hours(5))  // a duplicate of ordinal 0: cancel
  };
  auto steps = plan_steps(w, k);
  expect_cancels_first(steps);
  ASSERT_EQ(steps.size(), 6u) << describe(steps);
  std::multiset<std::string> cancels;
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(steps[i].kind, Step::kCancel) << describe(steps);
    cancels.insert(steps[i].uid);
  }
  EXPECT_EQ(cancels, (std::multiset<std::string>{"type1", "gone5", "dup0"}));
  expect_step(steps[3], Step::kReschedule, 0, 101, kT + hours(1), "move0");
  expect_step(steps[4], Step::kCreate, 1, 102, kT + hours(2), "");
  expect_step(steps[5], Step::kCreate, 2, 103, kT + hours(3), "");
}

TEST(SyncLogicPlan, CompositeOfThreeSegmentsMixesEveryKindOfStep) {
  // Ordinal 0 is in place, 1 moved (same type), 2 changed event type; plus a dead booking of 2
  // at its wanted place and a duplicate of 0.
  const Instant t0 = kT, t1 = kT + minutes(30), t2 = kT + minutes(90);
  const std::vector<Wanted> w = {want(0, 101, t0), want(1, 102, t1, minutes(60)), want(2, 104, t2)};
  const std::vector<ExternalBooking> k = {ext("k0", 0, 101, t0), ext("k1", 1, 102, t1 - hours(1)),
                                          ext("k2", 2, 103, t2), ext("k2dead", 2, 104, t2, false),
                                          ext("k0dup", 0, 101, t0 + hours(4))};
  auto steps = plan_steps(w, k);
  ASSERT_EQ(steps.size(), 4u) << describe(steps);
  expect_cancels_first(steps);
  expect_step(steps[0], Step::kCancel, 2, 103, t2, "k2");
  expect_step(steps[1], Step::kCancel, 0, 101, t0 + hours(4), "k0dup");
  expect_step(steps[2], Step::kReschedule, 1, 102, t1, "k1");
  EXPECT_EQ(secs(steps[2].wanted.end), secs(t1 + minutes(60)));
  expect_step(steps[3], Step::kCreate, 2, 104, t2, "");

  // Applying the plan yields a state that needs no further step.
  std::vector<ExternalBooking> after;
  int n = 0;
  for (auto b : k) {
    for (const auto& s : steps)
      if (s.uid == b.uid) b.live = false;  // cancelled, or the old side of a reschedule
    after.push_back(b);
  }
  for (const auto& s : steps)
    if (s.kind != Step::kCancel)
      after.push_back(ext("new" + std::to_string(n++), s.wanted.ordinal, s.wanted.event_type_id,
                          s.wanted.start));
  EXPECT_TRUE(plan_steps(w, after).empty()) << describe(plan_steps(w, after));
}

TEST(SyncLogicPlan, RandomStatesAlwaysConvergeInOneRound) {
  // Whatever the calendar holds, applying the plan once leaves nothing to do, and no booking is
  // acted on twice.
  std::mt19937_64 rng(42);
  for (int round = 0; round < 2000; ++round) {
    std::uniform_int_distribution<int> n_w(0, 3), n_k(0, 6), ord(0, 4), et(101, 103), hr(0, 3),
        coin(0, 3);
    std::vector<Wanted> w;
    const int nw = n_w(rng);
    for (int i = 0; i < nw; ++i) w.push_back(want(i, et(rng), kT + hours(hr(rng))));
    std::vector<ExternalBooking> k;
    const int nk = n_k(rng);
    for (int i = 0; i < nk; ++i)
      k.push_back(
          ext("u" + std::to_string(i), ord(rng), et(rng), kT + hours(hr(rng)), coin(rng) != 0));
    const auto steps = plan_steps(w, k);
    SCOPED_TRACE(describe(steps));
    expect_cancels_first(steps);
    std::set<std::string> touched;
    for (const auto& s : steps) {
      if (s.kind == Step::kCreate) continue;
      EXPECT_TRUE(touched.insert(s.uid).second) << "acted on twice: " << s.uid;
      auto it = std::find_if(k.begin(), k.end(), [&](auto& b) { return b.uid == s.uid; });
      ASSERT_NE(it, k.end());
      EXPECT_TRUE(it->live) << "acted on a dead booking: " << s.uid;
    }
    std::vector<ExternalBooking> after;
    int n = 0;
    for (auto b : k) {
      if (touched.count(b.uid)) b.live = false;
      after.push_back(b);
    }
    for (const auto& s : steps)
      if (s.kind != Step::kCancel)
        after.push_back(ext("n" + std::to_string(n++), s.wanted.ordinal, s.wanted.event_type_id,
                            s.wanted.start));
    EXPECT_TRUE(plan_steps(w, after).empty()) << describe(plan_steps(w, after));
    // Exactly one live booking per wanted segment afterwards.
    for (const auto& x : w) {
      int live = 0;
      for (const auto& b : after)
        if (b.live && b.ordinal == x.ordinal) {
          ++live;
          EXPECT_EQ(b.event_type_id, x.event_type_id);
          EXPECT_EQ(secs(b.start), secs(x.start));
        }
      EXPECT_EQ(live, 1) << "ordinal " << x.ordinal;
    }
  }
}

// ================================================================================================
// backoff_delay and the breaker
// ================================================================================================

TEST(SyncLogicBackoff, NeverAboveTheCeilingAndTheMaximumReachesIt) {
  const BackoffPolicy p{seconds(1), seconds(60)};
  std::mt19937_64 rng(7);
  const std::int64_t ceilings[] = {1, 2, 4, 8, 16, 32, 60, 60, 60};
  for (int attempts = 1; attempts <= 9; ++attempts) {
    std::int64_t lo = LLONG_MAX, hi = -1;
    for (int i = 0; i < 5000; ++i) {
      const auto d = backoff_delay(p, attempts, rng).count();
      lo = std::min(lo, d);
      hi = std::max(hi, d);
    }
    EXPECT_EQ(hi, ceilings[attempts - 1]) << "attempts " << attempts;
    EXPECT_EQ(lo, 0) << "attempts " << attempts;  // full jitter
  }
}

TEST(SyncLogicBackoff, GrowsWithAttempts) {
  const BackoffPolicy p{seconds(1), seconds(60)};
  std::mt19937_64 rng(11);
  double prev = -1;
  for (int attempts = 1; attempts <= 7; ++attempts) {
    double sum = 0;
    for (int i = 0; i < 4000; ++i)
      sum += static_cast<double>(backoff_delay(p, attempts, rng).count());
    const double mean = sum / 4000;
    EXPECT_GT(mean, prev) << "attempts " << attempts;
    prev = mean;
  }
}

TEST(SyncLogicBackoff, HugeAttemptsAndOtherBasesStayWithinTheCap) {
  std::mt19937_64 rng(3);
  for (int attempts : {31, 32, 33, 62, 63, 64, 65, 1000, INT_MAX - 1, INT_MAX}) {
    const BackoffPolicy p{seconds(1), seconds(60)};
    std::int64_t hi = -1;
    for (int i = 0; i < 3000; ++i) {
      const auto d = backoff_delay(p, attempts, rng).count();
      ASSERT_GE(d, 0) << attempts;
      ASSERT_LE(d, 60) << attempts;
      hi = std::max(hi, d);
    }
    EXPECT_EQ(hi, 60) << attempts;
  }
  // A large cap with a large base: base * 2^30 must not overflow (60 * 2^30 < 2^63).
  const BackoffPolicy big{seconds(60), seconds(86400 * 365)};
  for (int i = 0; i < 200; ++i) {
    const auto d = backoff_delay(big, INT_MAX, rng).count();
    EXPECT_GE(d, 0);
    EXPECT_LE(d, 86400 * 365);
  }
  // attempts below 1 (outside the contract): treated as the first.
  const BackoffPolicy p{seconds(1), seconds(60)};
  for (int attempts : {0, -1, -1000}) {
    for (int i = 0; i < 200; ++i) {
      const auto d = backoff_delay(p, attempts, rng).count();
      EXPECT_GE(d, 0);
      EXPECT_LE(d, 1);
    }
  }
  // A base above the cap: the cap wins from the first attempt.
  const BackoffPolicy odd{seconds(100), seconds(60)};
  for (int i = 0; i < 200; ++i) EXPECT_LE(backoff_delay(odd, 1, rng).count(), 60);
}

TEST(SyncLogicBackoff, NeverBelowAtLeast) {
  const BackoffPolicy p{seconds(1), seconds(60)};
  std::mt19937_64 rng(5);
  for (int attempts : {1, 3, 10}) {
    for (int i = 0; i < 1000; ++i) {
      EXPECT_GE(backoff_delay(p, attempts, rng, seconds(30)).count(), 30);
      EXPECT_LE(backoff_delay(p, attempts, rng, seconds(30)).count(), 60);
    }
  }
  // A Retry-After above the cap is still honoured (waiting less would be refused again).
  for (int i = 0; i < 100; ++i) EXPECT_EQ(backoff_delay(p, 1, rng, seconds(120)).count(), 120);
  // A negative one is no floor.
  for (int i = 0; i < 100; ++i) EXPECT_GE(backoff_delay(p, 1, rng, seconds(-5)).count(), 0);
}

TEST(SyncLogicBackoff, AtLeastIsHonouredAboveAnHour) {
  // backoff.h: "never less than `at_least` (a Retry-After)". Retry-After values are parsed up to
  // a day (parse_retry_after caps at 86400).
  const BackoffPolicy p{seconds(1), seconds(60)};
  std::mt19937_64 rng(5);
  EXPECT_GE(backoff_delay(p, 1, rng, seconds(7200)).count(), 7200);
  EXPECT_GE(backoff_delay(p, 1, rng, seconds(86400)).count(), 86400);
}

TEST(SyncLogicBreaker, OpensAfterThresholdFailuresInARow) {
  const Instant t = kT;
  Breaker b(3, seconds(30));
  EXPECT_EQ(b.state(t), Breaker::kClosed);
  EXPECT_TRUE(b.allow(t));
  b.failure(t);
  b.failure(t);
  EXPECT_EQ(b.state(t), Breaker::kClosed);
  EXPECT_TRUE(b.allow(t));
  b.failure(t + seconds(1));
  EXPECT_EQ(b.state(t + seconds(1)), Breaker::kOpen);
  EXPECT_EQ(secs(b.reopens_at()), secs(t + seconds(31)));
  for (int i = 0; i < 30; ++i) EXPECT_FALSE(b.allow(t + seconds(1 + i))) << i;
  EXPECT_EQ(b.state(t + seconds(30)), Breaker::kOpen);
  EXPECT_EQ(b.state(t + seconds(31)), Breaker::kHalfOpen);
}

TEST(SyncLogicBreaker, ASuccessResetsTheCount) {
  const Instant t = kT;
  Breaker b(3, seconds(30));
  for (int round = 0; round < 5; ++round) {
    b.failure(t);
    b.failure(t);
    b.success();
  }
  EXPECT_EQ(b.state(t), Breaker::kClosed);
  EXPECT_TRUE(b.allow(t));
  b.failure(t);
  b.failure(t);
  EXPECT_EQ(b.state(t), Breaker::kClosed);
  b.failure(t);
  EXPECT_EQ(b.state(t), Breaker::kOpen);
}

TEST(SyncLogicBreaker, HalfOpenLetsOneProbeThroughUntilItReports) {
  const Instant t = kT;
  Breaker b(2, seconds(30));
  b.failure(t);
  b.failure(t);
  ASSERT_FALSE(b.allow(t + seconds(29)));
  const Instant half = t + seconds(30);
  EXPECT_TRUE(b.allow(half));  // the probe
  EXPECT_FALSE(b.allow(half));
  EXPECT_FALSE(b.allow(half + hours(1)));  // still waiting for the probe, however long
  // The probe made no call after all: the next caller probes.
  b.abandon();
  EXPECT_TRUE(b.allow(half + seconds(1)));
  EXPECT_FALSE(b.allow(half + seconds(1)));
  // Its success closes the breaker: everyone goes through again.
  b.success();
  EXPECT_EQ(b.state(half + seconds(1)), Breaker::kClosed);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(b.allow(half + seconds(2)));
  // And it takes threshold failures again to open it.
  b.failure(half + seconds(3));
  EXPECT_EQ(b.state(half + seconds(3)), Breaker::kClosed);
}

TEST(SyncLogicBreaker, AFailedProbeReopensForAnotherPeriod) {
  const Instant t = kT;
  Breaker b(5, seconds(30));
  for (int i = 0; i < 5; ++i) b.failure(t);
  const Instant half = t + seconds(40);
  ASSERT_TRUE(b.allow(half));
  b.failure(half);  // one failure suffices in half-open, below the threshold or not
  EXPECT_EQ(b.state(half), Breaker::kOpen);
  EXPECT_EQ(secs(b.reopens_at()), secs(half + seconds(30)));
  EXPECT_FALSE(b.allow(half + seconds(29)));
  EXPECT_TRUE(b.allow(half + seconds(30)));
  EXPECT_FALSE(b.allow(half + seconds(30)));
  b.success();
  EXPECT_EQ(b.state(half + seconds(30)), Breaker::kClosed);
}

TEST(SyncLogicBreaker, ThresholdOfOneAndConcurrentProbes) {
  const Instant t = kT;
  Breaker b(1, seconds(10));
  b.failure(t);
  EXPECT_FALSE(b.allow(t));
  // Many threads at once in half-open: exactly one probes.
  std::atomic<int> allowed{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < 16; ++i)
    ts.emplace_back([&] {
      for (int j = 0; j < 100; ++j)
        if (b.allow(t + seconds(10))) ++allowed;
    });
  for (auto& th : ts) th.join();
  EXPECT_EQ(allowed.load(), 1);
}

// ================================================================================================
// A store per test, on SQLite or PostgreSQL
// ================================================================================================

class SyncLogicStore : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    store::Options o;
    o.durability_full = false;
    if (GetParam() == "postgresql") {
      if (pgtest::pg_base_url().empty())
        GTEST_SKIP() << "no APPOINTD_PG_URL: PostgreSQL variant skipped";
      static std::atomic<int> n{0};
      const std::string prefix = "appointd_synclogic_" + std::to_string(n++) + "_";
      pg_db_ = prefix + std::to_string(::getpid());
      o.url = pgtest::pg_schema_url(prefix);
    } else {
      std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
      std::replace(name.begin(), name.end(), '/', '_');
      dir_ = fs::temp_directory_path() /
             ("appointd-synclogic-" + std::to_string(::getpid()) + "-" + name);
      fs::remove_all(dir_);
      fs::create_directories(dir_);
      o.url = "sqlite:" + (dir_ / "t.db").string();
    }
    store_ = store::open_store(o);
    write([&](store::WriteTx& tx) {
      company_ = booking::create_company(tx, {"Co", "Europe/Berlin", "DE", now_})->company.id;
      branch_ = booking::create_branch(tx, {company_, "B", std::nullopt, "", now_})->id;
      cut_ = booking::create_service(tx, {company_, "Cut", 30, 0, 10, now_})->id;
      long_ = booking::create_service(tx, {company_, "Long", 60, 5, 5, now_})->id;
      for (int i = 0; i < 3; ++i)
        staff_.push_back(
            booking::create_staff(tx, {company_, branch_, "S", "", {cut_, long_}, now_})->id);
    });
  }

  void TearDown() override {
    store_.reset();
    if (!pg_db_.empty()) {
      store::postgres::Connection admin(pgtest::pg_base_url(), {});
      admin.exec(("DROP DATABASE IF EXISTS " + pg_db_ + " WITH (FORCE)").c_str());
    }
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  void write(const store::WriteFn& fn) { store_->write_sync(fn); }
  void read(const store::ReadFn& fn) { store_->read(fn); }

  Id other_company() {
    Id id = 0;
    write([&](store::WriteTx& tx) {
      id = booking::create_company(tx, {"Other", "Europe/Berlin", "DE", now_})->company.id;
    });
    return id;
  }

  // Books through the use case (which enqueues the "create" job, version 1, due at `when`).
  Result<Appointment> try_book(std::vector<SegmentRequest> segs, Instant when) {
    booking::Book b;
    b.company_id = company_;
    b.customer = booking::CustomerInput{"+49301234567", "X", ""};
    b.segments = std::move(segs);
    b.now = when;
    std::optional<Result<Appointment>> r;
    write([&](store::WriteTx& tx) {
      r = booking::attempt(tx, [&] { return booking::book(tx, b); });
    });
    return *r;
  }
  Id book(Id staff, Instant start, Id service = 0) {
    auto r = try_book({{staff, service ? service : cut_, start, std::nullopt}}, now_);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().detail);
    return r.ok() ? r->id : 0;
  }
  void cancel(Id appointment, Instant when) {
    std::optional<Result<Appointment>> r;
    write([&](store::WriteTx& tx) {
      r = booking::attempt(tx, [&] {
        return booking::cancel(tx, {company_, appointment, std::nullopt, "", when});
      });
    });
    ASSERT_TRUE(r->ok()) << r->error().detail;
  }
  void reschedule(Id appointment, Instant start, Instant when) {
    booking::Reschedule c{company_, appointment, std::nullopt, start, std::nullopt, when};
    std::optional<Result<Appointment>> r;
    write([&](store::WriteTx& tx) {
      r = booking::attempt(tx, [&] { return booking::reschedule(tx, c); });
    });
    ASSERT_TRUE(r->ok()) << r->error().detail;
  }

  std::optional<Appointment> appointment(Id id) {
    std::optional<Appointment> a;
    read([&](store::ReadTx& tx) { a = tx.appointment(company_, id); });
    return a;
  }

  // The appointment's jobs, oldest first.
  std::vector<SyncJob> jobs_of(Id appointment) {
    std::vector<SyncJob> out;
    read([&](store::ReadTx& tx) {
      out = tx.sync_jobs(company_, {std::nullopt, appointment, 100});
    });
    std::reverse(out.begin(), out.end());
    return out;
  }
  SyncJob job(Id id) {
    std::optional<SyncJob> j;
    read([&](store::ReadTx& tx) { j = tx.sync_job(company_, id); });
    EXPECT_TRUE(j) << "job " << id;
    return j.value_or(SyncJob{});
  }

  std::vector<SyncJob> claim(const std::string& owner, Instant now, seconds lease = seconds(60),
                             int limit = 10) {
    std::vector<SyncJob> out;
    write([&](store::WriteTx& tx) { out = claim_jobs(tx, owner, now, lease, limit); });
    return out;
  }
  std::optional<JobState> finish(const SyncJob& j, const std::string& owner, const JobOutcome& o,
                                 Instant now, seconds max_age = hours(24)) {
    std::optional<JobState> s;
    write([&](store::WriteTx& tx) { s = finish_job(tx, j, owner, o, now, max_age); });
    return s;
  }
  std::vector<ExternalBooking> externals(Id appointment) {
    std::vector<ExternalBooking> out;
    read([&](store::ReadTx& tx) { out = tx.external_bookings(appointment); });
    return out;
  }

  fs::path dir_;
  std::string pg_db_;
  std::unique_ptr<store::Store> store_;
  Instant now_ = at("2026-11-28T08:00:00Z");
  Id company_ = 0, branch_ = 0, cut_ = 0, long_ = 0;
  std::vector<Id> staff_;
};

const char* name_of(JobState s) {
  return to_string(s);
}

#define EXPECT_STATE(job, st) EXPECT_STREQ(name_of((job).state), name_of(st))

// ================================================================================================
// claim_jobs / finish_job / retry_job
// ================================================================================================

class SyncLogicJobs : public SyncLogicStore {};

TEST_P(SyncLogicJobs, AClaimLeasesTheNewestJobAndSupersedesTheOlderOnes) {
  const Instant t9 = at("2026-12-01T09:00:00Z");
  const Id a = book(staff_[0], t9);
  reschedule(a, t9 + hours(3), now_);  // v2, 12:00-12:30
  cancel(a, now_);                     // v3
  const Id b = book(staff_[1], t9);    // another appointment, one job
  auto got = claim("w1", now_, seconds(60));
  ASSERT_EQ(got.size(), 2u);
  std::map<Id, SyncJob> by;
  for (const auto& j : got) by[j.appointment_id] = j;
  ASSERT_TRUE(by.count(a) && by.count(b));
  const SyncJob& ja = by[a];
  EXPECT_EQ(ja.version, 3);
  EXPECT_EQ(ja.action, "cancel");
  EXPECT_STATE(ja, JobState::kRunning);
  EXPECT_EQ(ja.attempts, 1);
  EXPECT_EQ(ja.lease_owner, "w1");
  EXPECT_EQ(secs(ja.lease_until), secs(now_ + seconds(61)));
  EXPECT_FALSE(ja.uncertain);
  // The lookup window is the appointment's current span (the cancelled segments keep theirs).
  EXPECT_EQ(secs(ja.lookup_from), secs(t9 + hours(3)));
  EXPECT_EQ(secs(ja.lookup_until), secs(t9 + hours(3) + minutes(30)));
  const auto jobs = jobs_of(a);
  ASSERT_EQ(jobs.size(), 3u);
  for (int i = 0; i < 2; ++i) {
    EXPECT_STATE(jobs[i], JobState::kSuperseded);
    EXPECT_EQ(jobs[i].lease_owner, "");
    EXPECT_EQ(jobs[i].attempts, 0);
    EXPECT_EQ(jobs[i].last_error, "superseded by version 3");
  }
  EXPECT_STATE(jobs[2], JobState::kRunning);
  EXPECT_EQ(jobs[2].id, ja.id);
  EXPECT_EQ(by[b].version, 1);
  // Stored as returned.
  const SyncJob stored = job(ja.id);
  EXPECT_EQ(stored.lease_owner, "w1");
  EXPECT_EQ(stored.attempts, 1);
  EXPECT_EQ(secs(stored.lease_until), secs(ja.lease_until));
  EXPECT_EQ(secs(stored.lookup_from), secs(ja.lookup_from));
  // Nothing is due now.
  EXPECT_TRUE(claim("w2", now_ + seconds(30)).empty());
}

TEST_P(SyncLogicJobs, ALimitAndNotYetDueJobsAreRespected) {
  const Instant t9 = at("2026-12-01T09:00:00Z");
  for (int i = 0; i < 3; ++i) book(staff_[i], t9);
  EXPECT_TRUE(claim("w", now_ - seconds(1)).empty());  // enqueued at now_: not due before
  EXPECT_EQ(claim("w", now_, seconds(60), 2).size(), 2u);
  EXPECT_EQ(claim("w", now_, seconds(60), 2).size(), 1u);
  EXPECT_TRUE(claim("w", now_).empty());
}

TEST_P(SyncLogicJobs, AnAppointmentWhoseJobIsLeasedIsNotClaimedAgain) {
  const Instant t9 = at("2026-12-01T09:00:00Z");
  const Id a = book(staff_[0], t9);
  auto first = claim("w1", now_, seconds(60));
  ASSERT_EQ(first.size(), 1u);
  EXPECT_TRUE(claim("w2", now_ + seconds(10)).empty());
  // A newer change while the lease runs: it waits, the running job stays as it is.
  cancel(a, now_ + seconds(20));
  EXPECT_TRUE(claim("w2", now_ + seconds(30)).empty());
  EXPECT_TRUE(claim("w2", now_ + seconds(60)).empty());  // lease_until is now + 61 s
  auto jobs = jobs_of(a);
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_STATE(jobs[0], JobState::kRunning);
  EXPECT_EQ(jobs[0].lease_owner, "w1");
  EXPECT_EQ(jobs[0].attempts, 1);
  EXPECT_STATE(jobs[1], JobState::kPending);
  EXPECT_EQ(jobs[1].attempts, 0);
  EXPECT_EQ(jobs[1].lease_owner, "");
  // The running job finishes (the version moved on: it goes back to pending), then the next
  // claim takes the newest.
  EXPECT_EQ(finish(first[0], "w1", {}, now_ + seconds(40)), JobState::kPending);
  auto next = claim("w2", now_ + seconds(41));
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].version, 2);
  EXPECT_FALSE(next[0].uncertain);
  jobs = jobs_of(a);
  EXPECT_STATE(jobs[0], JobState::kSuperseded);
  EXPECT_STATE(jobs[1], JobState::kRunning);
}

TEST_P(SyncLogicJobs, AnExpiredLeaseIsReclaimedUncertainWithOneMoreAttempt) {
  const Instant t9 = at("2026-12-01T09:00:00Z");
  const Id a = book(staff_[0], t9);
  auto first = claim("w1", now_, seconds(60));
  ASSERT_EQ(first.size(), 1u);
  EXPECT_FALSE(first[0].uncertain);
  EXPECT_TRUE(claim("w2", now_ + seconds(60)).empty());  // lease_until = now + 61: still held
  auto second = claim("w2", now_ + seconds(61));
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].id, first[0].id);
  EXPECT_TRUE(second[0].uncertain);
  EXPECT_EQ(second[0].attempts, 2);
  EXPECT_EQ(second[0].lease_owner, "w2");
  EXPECT_EQ(secs(second[0].lease_until), secs(now_ + seconds(61 + 61)));
  EXPECT_EQ(secs(second[0].lookup_from), secs(t9));
  EXPECT_EQ(secs(second[0].lookup_until), secs(t9 + minutes(30)));

  // The first worker comes back: its facts are recorded, its outcome is not.
  JobOutcome late;
  late.kind = JobOutcome::kDone;
  late.facts = {{a, 0, kProviderCalcom, "uid-late", 101, t9, true}};
  EXPECT_FALSE(finish(first[0], "w1", late, now_ + seconds(70)));
  const SyncJob j = job(first[0].id);
  EXPECT_STATE(j, JobState::kRunning);
  EXPECT_EQ(j.lease_owner, "w2");
  EXPECT_EQ(j.attempts, 2);
  EXPECT_TRUE(j.uncertain);
  const auto ext = externals(a);
  ASSERT_EQ(ext.size(), 1u);
  EXPECT_EQ(ext[0].uid, "uid-late");
  EXPECT_TRUE(ext[0].live);
  // The second one's outcome counts.
  EXPECT_EQ(finish(second[0], "w2", {}, now_ + seconds(80)), JobState::kDone);
  EXPECT_STATE(job(first[0].id), JobState::kDone);
  EXPECT_FALSE(job(first[0].id).uncertain);
}

TEST_P(SyncLogicJobs, ASameOwnerWithAnotherAttemptNumberHasLostTheLease) {
  const Instant t9 = at("2026-12-01T09:00:00Z");
  const Id a = book(staff_[0], t9);
  auto first = claim("w1", now_, seconds(60));
  ASSERT_EQ(first.size(), 1u);
  auto again = claim("w1", now_ + seconds(100), seconds(60));  // w1 itself, after expiry
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].attempts, 2);
  JobOutcome o;
  o.kind = JobOutcome::kFailed;
  o.error = "from the old run";
  o.facts = {{a, 0, kProviderCalcom, "uid-old-run", 101, t9, false}};
  EXPECT_FALSE(finish(first[0], "w1", o, now_ + seconds(110)));
  SyncJob j = job(first[0].id);
  EXPECT_STATE(j, JobState::kRunning);
  EXPECT_EQ(j.attempts, 2);
  EXPECT_EQ(j.last_error, "");
  ASSERT_EQ(externals(a).size(), 1u);
  EXPECT_FALSE(externals(a)[0].live);
  // Another owner with the current attempt number: lost too.
  EXPECT_FALSE(finish(again[0], "w9", o, now_ + seconds(110)));
  EXPECT_STATE(job(first[0].id), JobState::kRunning);
  // A job that is no longer running (here: done) is not finished twice.
  EXPECT_EQ(finish(again[0], "w1", {}, now_ + seconds(120)), JobState::kDone);
  EXPECT_FALSE(finish(again[0], "w1", o, now_ + seconds(121)));
  EXPECT_STATE(job(first[0].id), JobState::kDone);
  EXPECT_EQ(job(first[0].id).last_error, "");
}

TEST_P(SyncLogicJobs, AnUncertainSupersededJobPassesItsDoubtAndWindowToTheNewest) {
  const Instant t9 = at("2026-12-01T09:00:00Z");
  const Id a = book(staff_[0], t9);
  auto first = claim("w1", now_);
  ASSERT_EQ(first.size(), 1u);
  JobOutcome o;
  o.kind = JobOutcome::kRetry;
  o.uncertain = true;
  o.error = "create: timed out";
  o.retry_at = now_ + seconds(30);
  EXPECT_EQ(finish(first[0], "w1", o, now_ + seconds(5)), JobState::kPending);
  SyncJob j1 = job(first[0].id);
  EXPECT_TRUE(j1.uncertain);
  EXPECT_EQ(secs(j1.next_attempt_at), secs(now_ + seconds(30)));
  EXPECT_EQ(j1.last_error, "create: timed out");
  EXPECT_EQ(j1.lease_owner, "");
  // Moved to 14:00 before the retry.
  reschedule(a, t9 + hours(5), now_ + seconds(10));
  auto next = claim("w2", now_ + seconds(11));
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].version, 2);
  EXPECT_TRUE(next[0].uncertain);
  // The old window (09:00-09:30) widened by the current span (14:00-14:30).
  EXPECT_EQ(secs(next[0].lookup_from), secs(t9));
  EXPECT_EQ(secs(next[0].lookup_until), secs(t9 + hours(5) + minutes(30)));
  EXPECT_STATE(job(first[0].id), JobState::kSuperseded);
}

TEST_P(SyncLogicJobs, ARunningJobCutOffMidCallMakesItsSuccessorUncertain) {
  const Instant t9 = at("2026-12-01T09:00:00Z");
  const Id a = book(staff_[0], t9);
  ASSERT_EQ(claim("w1", now_).size(), 1u);
  reschedule(a, t9 + hours(2), now_ + seconds(1));
  auto next = claim("w2", now_ + seconds(61));  // w1's lease expired; never reported
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].version, 2);
  EXPECT_TRUE(next[0].uncertain);
  EXPECT_EQ(next[0].attempts, 1);
  EXPECT_EQ(secs(next[0].lookup_from), secs(t9));
  EXPECT_EQ(secs(next[0].lookup_until), secs(t9 + hours(2) + minutes(30)));
  EXPECT_STATE(jobs_of(a)[0], JobState::kSuperseded);
}

TEST_P(SyncLogicJobs, ACertainSupersededJobLeavesItsSuccessorCertain) {
  const Instant t9 = at("2026-12-01T09:00:00Z");
  const Id a = book(staff_[0], t9);
  auto first = claim("w1", now_);
  ASSERT_EQ(first.size(), 1u);
  JobOutcome o;
  o.kind = JobOutcome::kRetry;
  o.error = "throttled";
  o.retry_at = now_ + seconds(30);
  EXPECT_EQ(finish(first[0], "w1", o, now_ + seconds(1)), JobState::kPending);
  cancel(a, now_ + seconds(2));
  auto next = claim("w2", now_ + seconds(3));
  ASSERT_EQ(next.size(), 1u);
  EXPECT_FALSE(next[0].uncertain);
  EXPECT_EQ(secs(next[0].lookup_from), secs(t9));
  EXPECT_EQ(secs(next[0].lookup_until), secs(t9 + minutes(30)));
}

TEST_P(SyncLogicJobs, FinishWhenTheVersionMovedLeavesThePendingJobForTheNextClaimToSupersede) {
  const Instant t9 = at("2026-12-01T09:00:00Z");
  const Id a = book(staff_[0], t9);
  auto first = claim("w1", now_);
  ASSERT_EQ(first.size(), 1u);
  cancel(a, now_ + seconds(5));
  JobOutcome o;
  o.kind = JobOutcome::kRetry;
  o.uncertain = true;
  o.retry_at = now_ + hours(1);  // ignored: the newer job takes over now
  o.error = "uncertain";
  o.facts = {{a, 0, kProviderCalcom, "made", 101, t9, true}};
  EXPECT_EQ(finish(first[0], "w1", o, now_ + seconds(10)), JobState::kPending);
  SyncJob j = job(first[0].id);
  EXPECT_STATE(j, JobState::kPending);
  EXPECT_TRUE(j.uncertain);
  EXPECT_EQ(secs(j.next_attempt_at), secs(now_ + seconds(10)));
  EXPECT_EQ(j.lease_owner, "");
  ASSERT_EQ(externals(a).size(), 1u);  // the facts are recorded in any case
  auto next = claim("w2", now_ + seconds(10));
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].version, 2);
  EXPECT_TRUE(next[0].uncertain);
  EXPECT_STATE(job(first[0].id), JobState::kSuperseded);
  // The same with a definite outcome: pending again, certain, superseded next.
  const Id b = book(staff_[1], t9);
  auto fb = claim("w1", now_ + seconds(20));
  ASSERT_EQ(fb.size(), 1u);
  reschedule(b, t9 + hours(1), now_ + seconds(21));
  JobOutcome failed;
  failed.kind = JobOutcome::kFailed;
  failed.error = "refused";
  EXPECT_EQ(finish(fb[0], "w1", failed, now_ + seconds(22)), JobState::kPending);
  auto nb = claim("w2", now_ + seconds(22));
  ASSERT_EQ(nb.size(), 1u);
  EXPECT_EQ(nb[0].version, 2);
  EXPECT_FALSE(nb[0].uncertain);
}

TEST_P(SyncLogicJobs, OutcomesMapToStatesAndARetryPastMaxAgeFails) {
  const Instant t9 = at("2026-12-01T09:00:00Z");
  std::vector<Id> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(book(staff_[i], t9));
  ids.push_back(book(staff_[0], t9 + hours(2)));
  auto got = claim("w", now_);
  ASSERT_EQ(got.size(), 4u);
  std::map<Id, SyncJob> by;
  for (const auto& j : got) by[j.appointment_id] = j;
  JobOutcome done, skipped, retry, old;
  skipped.kind = JobOutcome::kSkipped;
  skipped.error = "Cal.com is not connected";
  retry.kind = JobOutcome::kRetry;
  retry.retry_at = now_ + minutes(5);
  retry.error = "HTTP 500";
  old = retry;
  EXPECT_EQ(finish(by[ids[0]], "w", done, now_ + seconds(1)), JobState::kDone);
  EXPECT_EQ(finish(by[ids[1]], "w", skipped, now_ + seconds(1)), JobState::kSkipped);
  // Just before max_age: pending at retry_at.
  EXPECT_EQ(finish(by[ids[2]], "w", retry, now_ + hours(24) - seconds(1), hours(24)),
            JobState::kPending);
  // At max_age since the job was created: failed.
  EXPECT_EQ(finish(by[ids[3]], "w", old, now_ + hours(24), hours(24)), JobState::kFailed);
  EXPECT_EQ(job(by[ids[1]].id).last_error, "Cal.com is not connected");
  const SyncJob p = job(by[ids[2]].id);
  EXPECT_EQ(secs(p.next_attempt_at), secs(now_ + minutes(5)));
  EXPECT_EQ(p.last_error, "HTTP 500");
  const SyncJob f = job(by[ids[3]].id);
  EXPECT_STATE(f, JobState::kFailed);
  EXPECT_EQ(f.last_error, "gave up after 1 attempts: HTTP 500");
  EXPECT_FALSE(f.uncertain);
  EXPECT_EQ(f.lease_owner, "");
  // Finished jobs are not claimed; the pending one is, at its time.
  EXPECT_TRUE(claim("w", now_ + minutes(4)).empty());
  auto later = claim("w", now_ + minutes(5));
  ASSERT_EQ(later.size(), 1u);
  EXPECT_EQ(later[0].appointment_id, ids[2]);
  EXPECT_EQ(later[0].attempts, 2);
}

TEST_P(SyncLogicJobs, RetryJobOnlyForFailedOrSkippedJobsOfTheCompany) {
  const Instant t9 = at("2026-12-01T09:00:00Z");
  const Id a = book(staff_[0], t9), b = book(staff_[1], t9), c = book(staff_[2], t9);
  const Id d = book(staff_[0], t9 + hours(2));
  auto got = claim("w", now_);
  ASSERT_EQ(got.size(), 4u);
  std::map<Id, SyncJob> by;
  for (const auto& j : got) by[j.appointment_id] = j;
  JobOutcome failed, skipped;
  failed.kind = JobOutcome::kFailed;
  failed.error = "refused";
  skipped.kind = JobOutcome::kSkipped;
  ASSERT_EQ(finish(by[a], "w", failed, now_ + seconds(1)), JobState::kFailed);
  ASSERT_EQ(finish(by[b], "w", skipped, now_ + seconds(1)), JobState::kSkipped);
  ASSERT_EQ(finish(by[c], "w", {}, now_ + seconds(1)), JobState::kDone);
  // d stays running.
  const Id other = other_company();
  const Instant later = now_ + hours(30);
  auto retry = [&](Id company, Id job_id) {
    std::optional<Result<SyncJob>> r;
    write([&](store::WriteTx& tx) { r = retry_job(tx, company, job_id, later); });
    return *r;
  };
  auto ra = retry(company_, by[a].id);
  ASSERT_TRUE(ra.ok()) << ra.error().detail;
  EXPECT_STATE(*ra, JobState::kPending);
  EXPECT_EQ(ra->attempts, 0);
  EXPECT_EQ(secs(ra->next_attempt_at), secs(later));
  EXPECT_EQ(secs(ra->created_at), secs(later));
  const SyncJob sa = job(by[a].id);
  EXPECT_STATE(sa, JobState::kPending);
  EXPECT_EQ(sa.attempts, 0);
  EXPECT_EQ(secs(sa.created_at), secs(later));
  auto rb = retry(company_, by[b].id);
  ASSERT_TRUE(rb.ok());
  EXPECT_STATE(*rb, JobState::kPending);
  // Done, running, pending: conflict.
  for (Id id : {by[c].id, by[d].id, by[a].id}) {
    auto r = retry(company_, id);
    ASSERT_FALSE(r.ok()) << id;
    EXPECT_EQ(r.error().code, ErrorCode::kConflict) << id;
  }
  EXPECT_STATE(job(by[c].id), JobState::kDone);
  ASSERT_EQ(finish(by[d], "w", {}, now_ + seconds(2)), JobState::kDone);
  // Another company's job, or none: not found.
  const Id other_job = by[b].id;
  ASSERT_EQ(finish(by[b], "w", {}, now_), std::nullopt);  // (b is pending now; no effect)
  auto ro = retry(other, other_job);
  ASSERT_FALSE(ro.ok());
  EXPECT_EQ(ro.error().code, ErrorCode::kNotFound);
  auto rn = retry(company_, 999999);
  ASSERT_FALSE(rn.ok());
  EXPECT_EQ(rn.error().code, ErrorCode::kNotFound);
  // A retried job is claimed and runs with a fresh max-age window.
  auto again = claim("w", later);
  ASSERT_EQ(again.size(), 2u);
  for (const auto& j : again) EXPECT_EQ(j.attempts, 1);
  JobOutcome r;
  r.kind = JobOutcome::kRetry;
  r.retry_at = later + minutes(1);
  for (const auto& j : again)
    EXPECT_EQ(finish(j, "w", r, later + hours(23), hours(24)), JobState::kPending);
}

// claim_jobs claims "up to `limit` due jobs": an appointment whose newer job waits behind a
// running one is not one of them, and must not take the place of another appointment's due job.
TEST_P(SyncLogicJobs, AnAppointmentWaitingBehindARunningJobDoesNotTakeTheClaimOfAnother) {
  const Instant t9 = at("2026-12-01T09:00:00Z");
  const Id a = book(staff_[0], t9);
  ASSERT_EQ(claim("w1", now_, seconds(600)).size(), 1u);  // a's job runs (a long call)
  cancel(a, now_ + seconds(1));                           // a's v2 waits behind it, due since +1
  auto b = try_book({{staff_[1], cut_, t9, std::nullopt}}, now_ + seconds(2));  // due since +2
  ASSERT_TRUE(b.ok());
  const auto got = claim("w2", now_ + seconds(10), seconds(60), 1);
  ASSERT_EQ(got.size(), 1u) << "b's due job was not claimed";
  EXPECT_EQ(got[0].appointment_id, b->id);
}

// A failed or skipped job of an older version, retried by the API after a newer job of the
// appointment finished: it is the only open job, so it is claimed and brings the calendar to the
// current state. It must end; it must not come back forever.
TEST_P(SyncLogicJobs, ARetriedJobOfAnOlderVersionEnds) {
  const Instant t9 = at("2026-12-01T09:00:00Z");
  const Id a = book(staff_[0], t9);
  JobOutcome skipped;
  skipped.kind = JobOutcome::kSkipped;
  skipped.error = "Cal.com is not connected";
  auto v1 = claim("w", now_);
  ASSERT_EQ(v1.size(), 1u);
  ASSERT_EQ(finish(v1[0], "w", skipped, now_ + seconds(1)), JobState::kSkipped);
  cancel(a, now_ + seconds(2));
  auto v2 = claim("w", now_ + seconds(3));
  ASSERT_EQ(v2.size(), 1u);
  ASSERT_EQ(finish(v2[0], "w", skipped, now_ + seconds(4)), JobState::kSkipped);
  // Cal.com is connected now; the user retries the first (older) skipped job only.
  write([&](store::WriteTx& tx) {
    ASSERT_TRUE(retry_job(tx, company_, v1[0].id, now_ + seconds(5)).ok());
  });
  Instant t = now_ + seconds(5);
  int rounds = 0;
  for (; rounds < 5; ++rounds) {
    auto got = claim("w", t);
    if (got.empty()) break;
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].id, v1[0].id);
    JobOutcome done;  // the worker read the appointment (version 2, cancelled) and synced it
    done.synced_version = 2;
    finish(got[0], "w", done, t + seconds(1));
    t += seconds(2);
  }
  EXPECT_EQ(rounds, 1) << "the retried job was claimed " << rounds << " times; it is left "
                       << name_of(job(v1[0].id).state);
  EXPECT_STRNE(name_of(job(v1[0].id).state), "pending");
}

INSTANTIATE_TEST_SUITE_P(SyncLogic, SyncLogicJobs, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& info) { return info.param; });

// ================================================================================================
// Webhooks
// ================================================================================================

TEST(SyncLogicWebhookSignature, AcceptsOnlyTheHexHmacOfTheBody) {
  const std::string secret = "whsec_abc", body = R"({"triggerEvent":"PING","payload":{}})";
  const std::string sig = sign_body(secret, body);
  ASSERT_EQ(sig.size(), 64u);
  for (char c : sig) EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << sig;
  std::string upper = sig;
  std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
  EXPECT_TRUE(valid_signature(secret, body, sig));
  EXPECT_TRUE(valid_signature(secret, body, upper));
  EXPECT_TRUE(valid_signature(secret, body, "sha256=" + sig));
  EXPECT_TRUE(valid_signature(secret, body, "SHA256=" + upper));
  // Known answer (RFC 4231 test case 2).
  EXPECT_EQ(sign_body("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");

  EXPECT_FALSE(valid_signature("whsec_abd", body, sig));   // wrong secret
  EXPECT_FALSE(valid_signature(secret, body + " ", sig));  // tampered body
  EXPECT_FALSE(valid_signature(secret, R"({"triggerEvent":"PONG","payload":{}})", sig));
  EXPECT_FALSE(valid_signature(secret, body, sig.substr(0, 63)));  // too short
  EXPECT_FALSE(valid_signature(secret, body, sig + "0"));          // too long
  EXPECT_FALSE(valid_signature(secret, body, sig.substr(0, 32)));
  EXPECT_FALSE(valid_signature(secret, body, ""));  // empty header
  EXPECT_FALSE(valid_signature(secret, body, "sha256="));
  EXPECT_FALSE(valid_signature(secret, body, "sha256=sha256=" + sig));
  EXPECT_FALSE(valid_signature(secret, body, " " + sig));
  EXPECT_FALSE(valid_signature(secret, body, "sha1=" + sig));
  std::string flipped = sig;
  flipped[10] = flipped[10] == 'a' ? 'b' : 'a';
  EXPECT_FALSE(valid_signature(secret, body, flipped));
  // Non-hex of the right length.
  EXPECT_FALSE(valid_signature(secret, body, std::string(64, 'z')));
  // The empty body has a signature too, and only its own.
  EXPECT_TRUE(valid_signature(secret, "", sign_body(secret, "")));
  EXPECT_FALSE(valid_signature(secret, "", sig));
}

class SyncLogicWebhooks : public SyncLogicStore {
 protected:
  static constexpr std::int64_t kEt = 500;  // staff 0, cut

  void SetUp() override {
    SyncLogicStore::SetUp();
    if (IsSkipped()) return;
    write([&](store::WriteTx& tx) {
      tx.replace_event_types(company_, staff_[0], {{staff_[0], cut_, kEt}});
    });
  }

  // Stores a delivery and processes it, as the worker does.
  WebhookResult deliver(const std::string& body, Instant now, Id company = 0) {
    if (!company) company = company_;
    WebhookResult r;
    write([&](store::WriteTx& tx) {
      auto id =
          tx.insert_webhook(company, kProviderCalcom,
                            "digest-" + std::to_string(++n_) + sign_body("k", body), body, now);
      ASSERT_TRUE(id);
      last_delivery_ = *id;
      r = process_webhook(tx, {*id, company, kProviderCalcom, body, now, 0}, now);
    });
    return r;
  }
  bool pending(Id delivery) {
    bool found = false;
    write([&](store::WriteTx& tx) {
      for (const auto& d : tx.pending_webhooks(1000)) found |= d.id == delivery;
    });
    return found;
  }

  static std::string created(const std::string& uid, std::int64_t et, Instant start, Instant end,
                             json extra = json::object()) {
    json p = {
        {"uid", uid},
        {"eventTypeId", et},
        {"startTime", format_rfc3339(start)},
        {"endTime", format_rfc3339(end)},
        {"attendees",
         json::array(
             {{{"name", "Ann"}, {"email", "ann@example.com"}, {"phoneNumber", "+4930999888"}}})}};
    p.update(extra);
    return json{{"triggerEvent", "BOOKING_CREATED"}, {"createdAt", "x"}, {"payload", p}}.dump();
  }
  static std::string cancelled(const std::string& uid) {
    return json{{"triggerEvent", "BOOKING_CANCELLED"},
                {"payload", {{"uid", uid}, {"cancellationReason", "x"}}}}
        .dump();
  }
  static std::string rescheduled(const std::string& uid, const std::string& old, Instant start) {
    return json{{"triggerEvent", "BOOKING_RESCHEDULED"},
                {"payload",
                 {{"uid", uid},
                  {"rescheduleUid", old},
                  {"startTime", format_rfc3339(start)},
                  {"endTime", format_rfc3339(start + minutes(30))}}}}
        .dump();
  }

  void know(Id a, const std::string& uid, Instant start, bool live = true, int ordinal = 0) {
    write([&](store::WriteTx& tx) {
      tx.record_external_booking({a, ordinal, kProviderCalcom, uid, kEt, start, live});
    });
  }

  int n_ = 0;
  Id last_delivery_ = 0;
};

TEST_P(SyncLogicWebhooks, ABookingCreatedForAMappedEventTypeIsImported) {
  const Instant t = at("2026-12-01T09:00:00Z");
  const auto r = deliver(created("cal-1", kEt, t, t + minutes(30)), now_);
  EXPECT_EQ(r.outcome, "imported");
  ASSERT_GT(r.appointment_id, 0);
  EXPECT_FALSE(pending(last_delivery_));
  auto a = appointment(r.appointment_id);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->status, AppointmentStatus::kBooked);
  EXPECT_EQ(a->source, "calcom");
  EXPECT_EQ(a->external_provider, kProviderCalcom);
  EXPECT_EQ(a->external_id, "cal-1");
  EXPECT_EQ(a->branch_id, branch_);
  EXPECT_FALSE(a->needs_attention);
  ASSERT_EQ(a->segments.size(), 1u);
  EXPECT_TRUE(a->segments[0].active);
  EXPECT_EQ(a->segments[0].staff_id, staff_[0]);
  EXPECT_EQ(a->segments[0].service_id, cut_);
  EXPECT_EQ(secs(a->segments[0].time.from), secs(t));
  EXPECT_EQ(secs(a->segments[0].time.until), secs(t + minutes(30)));
  EXPECT_EQ(secs(a->segments[0].blocked.until), secs(t + minutes(40)));  // the cut's buffer
  std::optional<Customer> cu;
  read([&](store::ReadTx& tx) { cu = tx.customer(company_, a->customer_id); });
  ASSERT_TRUE(cu);
  EXPECT_EQ(cu->phone, "+4930999888");
  EXPECT_EQ(cu->name, "Ann");
  const auto ext = externals(r.appointment_id);
  ASSERT_EQ(ext.size(), 1u);
  EXPECT_EQ(ext[0].uid, "cal-1");
  EXPECT_TRUE(ext[0].live);
  EXPECT_EQ(ext[0].event_type_id, kEt);
  // It blocks its time like any booking.
  EXPECT_FALSE(try_book({{staff_[0], cut_, t + minutes(10), std::nullopt}}, now_).ok());
  // An unmapped event type is not imported.
  EXPECT_EQ(deliver(created("cal-2", 777, t, t + minutes(30)), now_).outcome, "unmapped");
  EXPECT_FALSE(pending(last_delivery_));
}

TEST_P(SyncLogicWebhooks, ACollidingImportIsAConflictThatBlocksNothing) {
  const Instant t = at("2026-12-01T09:00:00Z");
  const Id mine = book(staff_[0], t);  // blocks 09:00-09:40
  const auto r = deliver(created("cal-x", kEt, t + minutes(15), t + minutes(45)), now_);
  EXPECT_EQ(r.outcome, "import_conflict");
  auto a = appointment(r.appointment_id);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->status, AppointmentStatus::kConflict);
  ASSERT_EQ(a->segments.size(), 1u);
  EXPECT_FALSE(a->segments[0].active);
  std::vector<Block> blocks;
  read([&](store::ReadTx& tx) { blocks = tx.blocks(staff_[0], {t, t + hours(2)}, 0, now_); });
  ASSERT_EQ(blocks.size(), 1u);
  EXPECT_EQ(blocks[0].appointment_id, mine);
  // Once appointd's booking goes, the conflict's time is free for anyone.
  cancel(mine, now_);
  read([&](store::ReadTx& tx) { blocks = tx.blocks(staff_[0], {t, t + hours(2)}, 0, now_); });
  EXPECT_TRUE(blocks.empty());
  EXPECT_TRUE(try_book({{staff_[0], cut_, t + minutes(15), std::nullopt}}, now_).ok());
  for (const auto& c : store_->audit()) EXPECT_EQ(c.violations, 0) << c.name;
}

TEST_P(SyncLogicWebhooks, OurOwnBookingsAndRepeatsAreEchoes) {
  const Instant t = at("2026-12-01T11:00:00Z");
  // Tagged with our metadata: made by a sync job whose result is not recorded yet.
  const auto ours = deliver(
      created("cal-ours", kEt, t, t + minutes(30), {{"metadata", {{"appointd_appointment", "1"}}}}),
      now_);
  EXPECT_EQ(ours.outcome, "echo");
  EXPECT_FALSE(pending(last_delivery_));
  read([&](store::ReadTx& tx) {
    EXPECT_FALSE(tx.external_booking(kProviderCalcom, "cal-ours"));
    store::AppointmentFilter f;
    EXPECT_TRUE(tx.appointments(company_, f).empty());
  });
  // The same uid twice: imported once.
  const auto first = deliver(created("cal-1", kEt, t, t + minutes(30)), now_);
  EXPECT_EQ(first.outcome, "imported");
  const auto second = deliver(created("cal-1", kEt, t, t + minutes(30)), now_ + seconds(1));
  EXPECT_EQ(second.outcome, "echo");
  EXPECT_EQ(second.appointment_id, first.appointment_id);
  read([&](store::ReadTx& tx) {
    store::AppointmentFilter f;
    EXPECT_EQ(tx.appointments(company_, f).size(), 1u);
  });
}

TEST_P(SyncLogicWebhooks, ACancelOfAKnownLiveBookingCancelsTheAppointment) {
  const Instant t = at("2026-12-01T09:00:00Z");
  const Id a = book(staff_[0], t);
  know(a, "cal-a", t);
  const auto r = deliver(cancelled("cal-a"), now_ + seconds(5));
  EXPECT_EQ(r.outcome, "cancelled");
  EXPECT_EQ(r.appointment_id, a);
  EXPECT_FALSE(pending(last_delivery_));
  auto ap = appointment(a);
  ASSERT_TRUE(ap);
  EXPECT_EQ(ap->status, AppointmentStatus::kCancelled);
  EXPECT_EQ(ap->version, 2);
  const auto ext = externals(a);
  ASSERT_EQ(ext.size(), 1u);
  EXPECT_FALSE(ext[0].live);
  const auto jobs = jobs_of(a);
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_EQ(jobs[1].action, "cancel");
  EXPECT_EQ(jobs[1].version, 2);
  // The time is free again.
  EXPECT_TRUE(try_book({{staff_[0], cut_, t, std::nullopt}}, now_).ok());
  // Again (Cal.com's redelivery): an echo, nothing more.
  EXPECT_EQ(deliver(cancelled("cal-a"), now_ + seconds(6)).outcome, "echo");
  EXPECT_EQ(appointment(a)->version, 2);
  EXPECT_EQ(jobs_of(a).size(), 2u);
  // An unknown uid.
  EXPECT_EQ(deliver(cancelled("nobody"), now_).outcome, "unknown_booking");
  EXPECT_FALSE(pending(last_delivery_));
}

TEST_P(SyncLogicWebhooks, ACancelOfADeadBookingIsAnEcho) {
  const Instant t = at("2026-12-01T09:00:00Z");
  const Id a = book(staff_[0], t);
  know(a, "cal-dead", t, false);
  const auto r = deliver(cancelled("cal-dead"), now_);
  EXPECT_EQ(r.outcome, "echo");
  EXPECT_EQ(r.appointment_id, a);
  EXPECT_EQ(appointment(a)->status, AppointmentStatus::kBooked);
  EXPECT_EQ(appointment(a)->version, 1);
  // A live booking of an appointment appointd cancelled already: marked dead, an echo.
  const Id b = book(staff_[1], t);
  know(b, "cal-b", t);
  cancel(b, now_);
  EXPECT_EQ(deliver(cancelled("cal-b"), now_ + seconds(1)).outcome, "echo");
  EXPECT_FALSE(externals(b)[0].live);
  EXPECT_EQ(appointment(b)->version, 2);
}

TEST_P(SyncLogicWebhooks, ACancelWhileAJobOfTheAppointmentRunsIsDeferred) {
  const Instant t = at("2026-12-01T09:00:00Z");
  const Id a = book(staff_[0], t);
  know(a, "cal-a", t);
  auto running = claim("w", now_, seconds(60));
  ASSERT_EQ(running.size(), 1u);
  const auto r = deliver(cancelled("cal-a"), now_ + seconds(10));
  EXPECT_EQ(r.outcome, "deferred");
  const Id delivery = last_delivery_;
  EXPECT_TRUE(pending(delivery));
  EXPECT_EQ(appointment(a)->status, AppointmentStatus::kBooked);
  EXPECT_TRUE(externals(a)[0].live);
  // The job finishes; the delivery processed again now cancels.
  ASSERT_EQ(finish(running[0], "w", {}, now_ + seconds(20)), JobState::kDone);
  WebhookDelivery d;
  write([&](store::WriteTx& tx) {
    for (const auto& x : tx.pending_webhooks(100))
      if (x.id == delivery) d = x;
  });
  ASSERT_EQ(d.id, delivery);
  WebhookResult again;
  write([&](store::WriteTx& tx) { again = process_webhook(tx, d, now_ + seconds(30)); });
  EXPECT_EQ(again.outcome, "cancelled");
  EXPECT_FALSE(pending(delivery));
  EXPECT_EQ(appointment(a)->status, AppointmentStatus::kCancelled);
}

TEST_P(SyncLogicWebhooks, AJobWithAnExpiredLeaseDoesNotDeferACancel) {
  const Instant t = at("2026-12-01T09:00:00Z");
  const Id a = book(staff_[0], t);
  know(a, "cal-a", t);
  ASSERT_EQ(claim("w", now_, seconds(60)).size(), 1u);
  EXPECT_EQ(deliver(cancelled("cal-a"), now_ + seconds(61)).outcome, "cancelled");
}

TEST_P(SyncLogicWebhooks, ARescheduleToAFreeTimeReschedules) {
  const Instant t = at("2026-12-01T09:00:00Z");
  const Id a = book(staff_[0], t);
  know(a, "cal-a", t);
  const Instant to = t + hours(2);
  const auto r = deliver(rescheduled("cal-b", "cal-a", to), now_ + seconds(5));
  EXPECT_EQ(r.outcome, "rescheduled");
  EXPECT_EQ(r.appointment_id, a);
  auto ap = appointment(a);
  ASSERT_TRUE(ap);
  EXPECT_EQ(ap->status, AppointmentStatus::kBooked);
  EXPECT_EQ(ap->version, 2);
  EXPECT_FALSE(ap->needs_attention);
  ASSERT_EQ(ap->segments.size(), 1u);
  EXPECT_EQ(secs(ap->segments[0].time.from), secs(to));
  const auto ext = externals(a);
  ASSERT_EQ(ext.size(), 2u);
  EXPECT_EQ(ext[0].uid, "cal-a");
  EXPECT_FALSE(ext[0].live);
  EXPECT_EQ(ext[1].uid, "cal-b");
  EXPECT_TRUE(ext[1].live);
  EXPECT_EQ(secs(ext[1].start), secs(to));
  EXPECT_EQ(ext[1].ordinal, 0);
  EXPECT_EQ(jobs_of(a).back().action, "reschedule");
  // The old time is free, the new one taken.
  EXPECT_TRUE(try_book({{staff_[0], cut_, t, std::nullopt}}, now_).ok());
  EXPECT_FALSE(try_book({{staff_[0], cut_, to, std::nullopt}}, now_).ok());
  // The same delivery again (the new uid is known): an echo.
  EXPECT_EQ(deliver(rescheduled("cal-b", "cal-a", to), now_ + seconds(6)).outcome, "echo");
  EXPECT_EQ(appointment(a)->version, 2);
}

TEST_P(SyncLogicWebhooks, ARescheduleIntoATakenTimeNeedsAttentionAndChangesNothingElse) {
  const Instant t = at("2026-12-01T09:00:00Z");
  const Id a = book(staff_[0], t);
  const Id blocker = book(staff_[0], t + hours(3));
  ASSERT_GT(blocker, 0);
  know(a, "cal-a", t);
  const auto r = deliver(rescheduled("cal-b", "cal-a", t + hours(3)), now_ + seconds(5));
  EXPECT_EQ(r.outcome, "needs_attention");
  EXPECT_EQ(r.appointment_id, a);
  EXPECT_FALSE(pending(last_delivery_));
  auto ap = appointment(a);
  ASSERT_TRUE(ap);
  EXPECT_TRUE(ap->needs_attention);
  EXPECT_EQ(ap->status, AppointmentStatus::kBooked);
  EXPECT_EQ(ap->version, 1);
  ASSERT_EQ(ap->segments.size(), 1u);
  EXPECT_TRUE(ap->segments[0].active);
  EXPECT_EQ(secs(ap->segments[0].time.from), secs(t));
  EXPECT_EQ(jobs_of(a).size(), 1u);  // no new job
  // The blocker is untouched and the old time still taken.
  EXPECT_EQ(appointment(blocker)->version, 1);
  EXPECT_FALSE(try_book({{staff_[0], cut_, t, std::nullopt}}, now_).ok());
  std::vector<Event> events;
  read([&](store::ReadTx& tx) { events = tx.events(company_, a); });
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().kind, "appointment.needs_attention");
  for (const auto& c : store_->audit()) EXPECT_EQ(c.violations, 0) << c.name;
}

TEST_P(SyncLogicWebhooks, ARescheduleWhileAJobRunsIsDeferred) {
  const Instant t = at("2026-12-01T09:00:00Z");
  const Id a = book(staff_[0], t);
  know(a, "cal-a", t);
  ASSERT_EQ(claim("w", now_, seconds(60)).size(), 1u);
  EXPECT_EQ(deliver(rescheduled("cal-b", "cal-a", t + hours(2)), now_ + seconds(1)).outcome,
            "deferred");
  EXPECT_TRUE(pending(last_delivery_));
  EXPECT_EQ(appointment(a)->version, 1);
  EXPECT_EQ(externals(a).size(), 1u);
  EXPECT_TRUE(externals(a)[0].live);
}

TEST_P(SyncLogicWebhooks, MalformedDeliveriesAreProcessedAsMalformed) {
  const Instant t = at("2026-12-01T09:00:00Z");
  for (const std::string& body :
       {std::string("not json"), std::string("{"), std::string("[]"), std::string("{}"),
        std::string(R"({"triggerEvent":"BOOKING_CREATED"})"),
        std::string(R"({"triggerEvent":"BOOKING_CREATED","payload":"x"})"),
        // a created one without a uid, with a bad time, or ending before it starts
        created("", kEt, t, t + minutes(30)), created("u1", kEt, t, t),
        json{{"triggerEvent", "BOOKING_CREATED"},
             {"payload", {{"uid", "u2"}, {"eventTypeId", kEt}, {"startTime", "soon"}}}}
            .dump()}) {
    SCOPED_TRACE(body);
    const auto r = deliver(body, now_);
    EXPECT_EQ(r.outcome, "malformed");
    EXPECT_FALSE(pending(last_delivery_));
  }
  EXPECT_EQ(deliver(R"({"triggerEvent":"MEETING_ENDED","payload":{}})", now_).outcome, "ignored");
  read([&](store::ReadTx& tx) {
    store::AppointmentFilter f;
    EXPECT_TRUE(tx.appointments(company_, f).empty());
  });
}

TEST_P(SyncLogicWebhooks, ARescheduleOfOneSegmentMovesTheWholeComposite) {
  const Instant t = at("2026-12-01T09:00:00Z");
  auto a = try_book(
      {{staff_[0], cut_, t, std::nullopt}, {staff_[1], cut_, t + minutes(30), std::nullopt}}, now_);
  ASSERT_TRUE(a.ok()) << a.error().detail;
  know(a->id, "cal-0", t, true, 0);
  know(a->id, "cal-1", t + minutes(30), true, 1);
  // The second segment's booking moved two hours later in Cal.com.
  const auto r = deliver(rescheduled("cal-1b", "cal-1", t + minutes(150)), now_);
  EXPECT_EQ(r.outcome, "rescheduled");
  auto ap = appointment(a->id);
  ASSERT_TRUE(ap);
  ASSERT_EQ(ap->segments.size(), 2u);
  EXPECT_EQ(secs(ap->segments[0].time.from), secs(t + hours(2)));
  EXPECT_EQ(ap->segments[0].staff_id, staff_[0]);
  EXPECT_EQ(secs(ap->segments[1].time.from), secs(t + minutes(150)));
  EXPECT_EQ(ap->segments[1].staff_id, staff_[1]);
  const auto ext = externals(a->id);
  ASSERT_EQ(ext.size(), 3u);
  EXPECT_TRUE(ext[0].live);  // cal-0: the next job moves it
  EXPECT_FALSE(ext[1].live);
  EXPECT_EQ(ext[2].uid, "cal-1b");
  EXPECT_EQ(ext[2].ordinal, 1);
}

TEST_P(SyncLogicWebhooks, ARescheduleToTheTimeWeHoldIsAnEcho) {
  // appointd moved the appointment and its job moved the booking in Cal.com, but the job's
  // result was never recorded (its worker died): the delivery is our own reschedule.
  const Instant t = at("2026-12-01T09:00:00Z");
  const Id a = book(staff_[0], t);
  know(a, "cal-a", t);
  reschedule(a, t + hours(2), now_);
  const auto r = deliver(rescheduled("cal-b", "cal-a", t + hours(2)), now_ + seconds(1));
  EXPECT_EQ(r.outcome, "echo");
  auto ap = appointment(a);
  EXPECT_EQ(ap->version, 2);
  EXPECT_FALSE(ap->needs_attention);
  EXPECT_EQ(secs(ap->segments[0].time.from), secs(t + hours(2)));
  const auto ext = externals(a);
  ASSERT_EQ(ext.size(), 2u);
  EXPECT_FALSE(ext[0].live);
  EXPECT_TRUE(ext[1].live);
  EXPECT_EQ(ext[1].uid, "cal-b");
  EXPECT_EQ(jobs_of(a).size(), 2u);  // no new job
}

TEST_P(SyncLogicWebhooks, ImportedCustomersAreKeyedByPhoneElseEmailElseUid) {
  const Instant t = at("2026-12-01T09:00:00Z");
  auto customer_of = [&](const WebhookResult& r) {
    std::optional<Customer> c;
    read([&](store::ReadTx& tx) {
      auto a = tx.appointment(company_, r.appointment_id);
      if (a) c = tx.customer(company_, a->customer_id);
    });
    return c.value_or(Customer{});
  };
  const auto by_email = deliver(
      created("e1", kEt, t, t + minutes(30),
              {{"attendees", json::array({{{"name", "Bo"}, {"email", "bo@example.com"}}})}}),
      now_);
  ASSERT_EQ(by_email.outcome, "imported");
  EXPECT_EQ(customer_of(by_email).phone, "email:bo@example.com");
  const auto anon = deliver(
      created("e2", kEt, t + hours(1), t + hours(1) + minutes(30), {{"attendees", json::array()}}),
      now_);
  ASSERT_EQ(anon.outcome, "imported");
  EXPECT_EQ(customer_of(anon).phone, "calcom:e2");
  // A phone that is not E.164 is not a key.
  const auto local = deliver(
      created("e3", kEt, t + hours(2), t + hours(2) + minutes(30),
              {{"attendees",
                json::array({{{"email", "cy@example.com"}, {"phoneNumber", "030 1234"}}})}}),
      now_);
  ASSERT_EQ(local.outcome, "imported");
  EXPECT_EQ(customer_of(local).phone, "email:cy@example.com");
}

TEST_P(SyncLogicWebhooks, AnotherCompanysDeliveryCannotTouchOurAppointments) {
  const Instant t = at("2026-12-01T09:00:00Z");
  const Id a = book(staff_[0], t);
  know(a, "cal-a", t);
  const Id other = other_company();
  EXPECT_EQ(deliver(cancelled("cal-a"), now_, other).outcome, "unknown_booking");
  EXPECT_EQ(deliver(rescheduled("cal-x", "cal-a", t + hours(2)), now_, other).outcome,
            "unknown_booking");
  auto ap = appointment(a);
  EXPECT_EQ(ap->status, AppointmentStatus::kBooked);
  EXPECT_EQ(ap->version, 1);
  EXPECT_EQ(secs(ap->segments[0].time.from), secs(t));
  const auto ext = externals(a);
  ASSERT_EQ(ext.size(), 1u);
  EXPECT_TRUE(ext[0].live);
  std::optional<ExternalBooking> x;
  read([&](store::ReadTx& tx) { x = tx.external_booking(kProviderCalcom, "cal-x"); });
  EXPECT_FALSE(x);
  // Our event type is not theirs to import.
  EXPECT_EQ(
      deliver(created("cal-o", kEt, t + hours(3), t + hours(3) + minutes(30)), now_, other).outcome,
      "unmapped");
}

INSTANTIATE_TEST_SUITE_P(SyncLogic, SyncLogicWebhooks, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& info) { return info.param; });

// ================================================================================================
// The executor against the fake Cal.com
// ================================================================================================

// A child process whose stdout is read until a line starting with `ready` appears (as in
// calcom_client_test.cpp). Killed with SIGTERM (then SIGKILL) when destroyed.
class Child {
 public:
  static std::unique_ptr<Child> start(const std::vector<std::string>& argv, const char* ready,
                                      std::string& line) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return nullptr;
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() != parent) ::_exit(127);
      ::dup2(fds[1], STDOUT_FILENO);
      ::execvp(args[0], args.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    if (pid < 0) {
      ::close(fds[0]);
      return nullptr;
    }
    auto child = std::unique_ptr<Child>(new Child(pid, fds[0]));
    if (!child->read_line_starting(ready, line, std::chrono::seconds(15))) return nullptr;
    return child;
  }

  ~Child() {
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 100; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        ::close(out_);
        return;
      }
      std::this_thread::sleep_for(milliseconds(20));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    ::close(out_);
  }

 private:
  Child(pid_t pid, int out) : pid_(pid), out_(out) {}

  bool read_line_starting(const char* prefix, std::string& line, std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string buf;
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{out_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char c;
      if (::read(out_, &c, 1) != 1) return false;
      if (c != '\n') {
        buf += c;
        continue;
      }
      if (buf.rfind(prefix, 0) == 0) {
        line = buf;
        return true;
      }
      buf.clear();
    }
    return false;
  }

  pid_t pid_;
  int out_;
};

constexpr const char* kKey = "cal_test_synclogic";
constexpr std::int64_t kAliceCut = 101;  // host alice, 30 minutes
constexpr std::int64_t kBobLong = 102;   // host bob, 60 minutes
constexpr std::int64_t kCarolCut = 103;  // host carol, 30 minutes
constexpr Id kAlice = 11, kBob = 12, kCarol = 13, kCut = 21, kLong = 22;

class SyncLogicExecutor : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const fs::path script = fs::path(APPOINTD_SOURCE_DIR) / "tests/fakes/fake_calcom.py";
    if (!fs::exists(script)) {
      skip_reason_ = new std::string("no " + script.string());
      return;
    }
    std::string line;
    fake_ =
        Child::start({"python3", script.string(), "--port", "0", "--api-key", kKey, "--event-type",
                      "101:alice:30", "--event-type", "102:bob:60", "--event-type", "103:carol:30"},
                     "listening ", line)
            .release();
    if (!fake_) {
      skip_reason_ = new std::string("could not start python3 " + script.string());
      return;
    }
    url_ = new std::string("http://127.0.0.1:" + line.substr(std::string("listening ").size()));
  }

  static void TearDownTestSuite() {
    delete fake_;
    fake_ = nullptr;
    delete url_;
    url_ = nullptr;
    delete skip_reason_;
    skip_reason_ = nullptr;
  }

  void SetUp() override {
    if (!fake_) GTEST_SKIP() << *skip_reason_;
    auto c = HttpClient::create(*url_);
    ASSERT_TRUE(c.client) << c.error;
    control_ = std::move(c.client);
    control("POST", "/_fake/reset", {{"keep_event_types", true}});
    HttpClientOptions o;
    o.total_timeout = milliseconds(1500);
    auto h = HttpClient::create(*url_, o);
    ASSERT_TRUE(h.client) << h.error;
    http_ = std::move(h.client);
    client_ = std::make_unique<calcom::CalcomClient>(*http_, kKey);
  }

  json control(const std::string& method, const std::string& path, const json& body = nullptr) {
    auto r = control_->request(method, path, {{"Content-Type", "application/json"}},
                               body.is_null() ? std::string() : body.dump());
    EXPECT_EQ(r.kind, HttpResultKind::kOk) << r.error;
    EXPECT_LT(r.status, 300) << r.body;
    return json::parse(r.body, nullptr, false);
  }

  void fault(const std::string& mode, const std::string& method, json extra = json::object()) {
    extra["mode"] = mode;
    extra["match"] = {{"method", method}, {"path_prefix", "/v2/bookings"}};
    control("POST", "/_fake/faults", json::array({extra}));
  }

  // The fake's bookings (every status).
  std::vector<calcom::CalcomBooking> bookings() {
    std::vector<calcom::CalcomBooking> out;
    const json all = control("GET", "/_fake/bookings");
    for (const auto& b : all["bookings"])
      if (auto p = calcom::parse_booking(b.dump())) out.push_back(*p);
    return out;
  }
  std::vector<calcom::CalcomBooking> live() {
    auto all = bookings();
    std::vector<calcom::CalcomBooking> out;
    for (auto& b : all)
      if (b.live()) out.push_back(b);
    return out;
  }
  // The /v2 requests the fake saw, as "METHOD path".
  std::vector<std::string> requests() {
    std::vector<std::string> out;
    const json log = control("GET", "/_fake/requests");
    for (const auto& r : log["requests"])
      out.push_back(r["method"].get<std::string>() + " " + r["path"].get<std::string>());
    return out;
  }
  int posts() {
    int n = 0;
    for (const auto& r : requests()) n += r.rfind("POST /v2/bookings", 0) == 0;
    return n;
  }

  // A whole hour two days ahead (the fake refuses past starts).
  static Instant future(int hours_ahead) {
    const auto today = std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now());
    return Instant{std::chrono::duration_cast<Seconds>(today.time_since_epoch()) +
                   hours(48 + hours_ahead)};
  }

  static Segment seg(Id staff, Id service, Instant start, minutes len = minutes(30)) {
    Segment g;
    g.staff_id = staff;
    g.service_id = service;
    g.time = g.blocked = {start, start + len};
    g.active = true;
    return g;
  }

  // A booked appointment `id` with these segments; Cal.com connected, alice's and carol's cut and
  // bob's long service mapped.
  static JobContext context(Id id, std::vector<Segment> segs) {
    JobContext c;
    c.connected = true;
    c.appointment.id = id;
    c.appointment.company_id = 1;
    c.appointment.status = AppointmentStatus::kBooked;
    c.appointment.segments = std::move(segs);
    for (auto& g : c.appointment.segments) g.appointment_id = id;
    c.customer = Customer{5, 1, "+4915112345678", "Ada", "", "api", {}};
    c.timezone = "Europe/Berlin";
    c.mappings = {{kAlice, kCut, kAliceCut}, {kBob, kLong, kBobLong}, {kCarol, kCut, kCarolCut}};
    return c;
  }
  static SyncJob job_of(const JobContext& c, std::int64_t version = 1, bool uncertain = false) {
    SyncJob j;
    j.id = 1;
    j.appointment_id = c.appointment.id;
    j.company_id = 1;
    j.action = "create";
    j.version = version;
    j.state = JobState::kRunning;
    j.attempts = 1;
    j.uncertain = uncertain;
    if (!c.appointment.segments.empty()) {
      j.lookup_from = c.appointment.segments.front().time.from;
      j.lookup_until = c.appointment.segments.back().time.until;
    }
    return j;
  }
  // Our booking, made as an earlier attempt would have (tagged with appointment and segment).
  calcom::CalcomBooking make(Id appointment, Instant start, int ordinal = 0,
                             std::int64_t et = kAliceCut) {
    calcom::CreateBooking b;
    b.start = start;
    b.event_type_id = et;
    b.attendee = {"Ada", "ada@example.com", "Europe/Berlin", ""};
    b.appointment_id = appointment;
    b.version = 1;
    b.segment_id = ordinal;
    auto r = client_->create_booking(b);
    EXPECT_TRUE(r.status.ok()) << r.status.error;
    return r.booking.value_or(calcom::CalcomBooking{});
  }
  // The last fact learnt of `uid` (a run may learn a booking live, then cancel it).
  static const ExternalBooking* fact(const JobRun& r, const std::string& uid) {
    const ExternalBooking* last = nullptr;
    for (const auto& f : r.outcome.facts)
      if (f.uid == uid) last = &f;
    return last;
  }
  static std::string why(const JobRun& r) {
    return "outcome " + std::to_string(r.outcome.kind) + " error: " + r.outcome.error +
           " calls: " + std::to_string(r.calls);
  }

  static Child* fake_;
  static std::string* url_;
  static std::string* skip_reason_;
  std::unique_ptr<HttpClient> control_, http_;
  std::unique_ptr<calcom::CalcomClient> client_;
};

Child* SyncLogicExecutor::fake_ = nullptr;
std::string* SyncLogicExecutor::url_ = nullptr;
std::string* SyncLogicExecutor::skip_reason_ = nullptr;

TEST_F(SyncLogicExecutor, ACreateRecordsALiveFact) {
  const Instant start = future(9);
  const auto ctx = context(70, {seg(kAlice, kCut, start)});
  const JobRun r = run_calcom_job(job_of(ctx), ctx, *client_);
  EXPECT_EQ(r.outcome.kind, JobOutcome::kDone) << why(r);
  EXPECT_EQ(r.calls, 1);
  EXPECT_TRUE(r.provider_ok);
  EXPECT_FALSE(r.provider_failure);
  ASSERT_EQ(r.outcome.facts.size(), 1u);
  const auto& f = r.outcome.facts[0];
  EXPECT_TRUE(f.live);
  EXPECT_EQ(f.appointment_id, 70);
  EXPECT_EQ(f.ordinal, 0);
  EXPECT_EQ(f.provider, kProviderCalcom);
  EXPECT_EQ(f.event_type_id, kAliceCut);
  EXPECT_EQ(secs(f.start), secs(start));
  const auto l = live();
  ASSERT_EQ(l.size(), 1u);
  EXPECT_EQ(l[0].uid, f.uid);
  EXPECT_EQ(l[0].metadata.at(calcom::kMetaAppointment), "70");
  EXPECT_EQ(l[0].metadata.at(calcom::kMetaSegment), "0");
  // The customer has no email: the placeholder from the phone number.
  const json log = control("GET", "/_fake/requests")["requests"];
  ASSERT_FALSE(log.empty());
  EXPECT_EQ(log.back()["body"]["attendee"]["email"], "4915112345678@phone.invalid");
  EXPECT_EQ(log.back()["body"]["attendee"]["phoneNumber"], "+4915112345678");
  EXPECT_EQ(log.back()["body"]["attendee"]["timeZone"], "Europe/Berlin");

  // Run again with what was learnt: nothing to do, no call.
  auto again_ctx = ctx;
  again_ctx.known = r.outcome.facts;
  const JobRun again = run_calcom_job(job_of(again_ctx), again_ctx, *client_);
  EXPECT_EQ(again.outcome.kind, JobOutcome::kDone) << why(again);
  EXPECT_EQ(again.calls, 0);
}

TEST_F(SyncLogicExecutor, ACompositeCreatesOneBookingPerSegment) {
  const Instant start = future(10);
  const auto ctx =
      context(71, {seg(kAlice, kCut, start), seg(kBob, kLong, start + minutes(30), minutes(60)),
                   seg(kCarol, kCut, start + minutes(90))});
  const JobRun r = run_calcom_job(job_of(ctx), ctx, *client_);
  EXPECT_EQ(r.outcome.kind, JobOutcome::kDone) << why(r);
  EXPECT_EQ(r.calls, 3);
  ASSERT_EQ(r.outcome.facts.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(r.outcome.facts[i].ordinal, i);
    EXPECT_TRUE(r.outcome.facts[i].live);
  }
  EXPECT_EQ(r.outcome.facts[1].event_type_id, kBobLong);
  EXPECT_EQ(live().size(), 3u);
}

TEST_F(SyncLogicExecutor, AnUncertainCreateIsLookedUpAndFoundWithoutADuplicate) {
  for (const char* mode : {"after", "drop_after"}) {
    SCOPED_TRACE(mode);
    control("POST", "/_fake/reset", {{"keep_event_types", true}});
    const Instant start = future(11);
    const auto ctx = context(72, {seg(kAlice, kCut, start)});
    fault(mode, "POST");
    const JobRun r = run_calcom_job(job_of(ctx), ctx, *client_);
    EXPECT_EQ(r.outcome.kind, JobOutcome::kDone) << why(r);
    EXPECT_EQ(r.calls, 2);  // the create, the look-up
    const auto l = live();
    ASSERT_EQ(l.size(), 1u);
    const ExternalBooking* f = fact(r, l[0].uid);
    ASSERT_TRUE(f);
    EXPECT_TRUE(f->live);
    EXPECT_EQ(f->ordinal, 0);
    EXPECT_EQ(posts(), 1);
  }
}

TEST_F(SyncLogicExecutor, AnUncertainCreateThatMadeNothingIsRetriedUncertain) {
  const Instant start = future(11);
  const auto ctx = context(73, {seg(kAlice, kCut, start)});
  fault("before", "POST");
  const JobRun r = run_calcom_job(job_of(ctx), ctx, *client_);
  EXPECT_EQ(r.outcome.kind, JobOutcome::kRetry) << why(r);
  EXPECT_TRUE(r.outcome.uncertain);
  EXPECT_TRUE(r.provider_failure);
  EXPECT_TRUE(live().empty());
  // The next attempt (uncertain: it looks first) creates exactly one.
  const JobRun next = run_calcom_job(job_of(ctx, 1, true), ctx, *client_);
  EXPECT_EQ(next.outcome.kind, JobOutcome::kDone) << why(next);
  EXPECT_EQ(live().size(), 1u);
}

TEST_F(SyncLogicExecutor, AnUncertainJobFindsWhatAnEarlierAttemptMadeAndCreatesNothing) {
  const Instant start = future(12);
  const auto made = make(74, start);
  const auto ctx = context(74, {seg(kAlice, kCut, start)});
  const int before = posts();
  const JobRun r = run_calcom_job(job_of(ctx, 2, true), ctx, *client_);
  EXPECT_EQ(r.outcome.kind, JobOutcome::kDone) << why(r);
  EXPECT_EQ(posts(), before);
  const ExternalBooking* f = fact(r, made.uid);
  ASSERT_TRUE(f);
  EXPECT_TRUE(f->live);
  EXPECT_EQ(live().size(), 1u);
}

TEST_F(SyncLogicExecutor, ARacingCreateConflictWithOurBookingThereIsFound) {
  const Instant start = future(13);
  const auto made = make(75, start);
  const auto ctx = context(75, {seg(kAlice, kCut, start)});
  fault("conflict", "POST");  // the 409 of two identical creates racing
  const JobRun r = run_calcom_job(job_of(ctx), ctx, *client_);
  EXPECT_EQ(r.outcome.kind, JobOutcome::kDone) << why(r);
  EXPECT_EQ(r.calls, 2);
  const ExternalBooking* f = fact(r, made.uid);
  ASSERT_TRUE(f);
  EXPECT_TRUE(f->live);
  EXPECT_EQ(live().size(), 1u);
  // Without the fault Cal.com answers 400 "already has booking": found the same way.
  const JobRun busy = run_calcom_job(job_of(ctx), ctx, *client_);
  EXPECT_EQ(busy.outcome.kind, JobOutcome::kDone) << why(busy);
  EXPECT_TRUE(fact(busy, made.uid));
  EXPECT_EQ(live().size(), 1u);
}

TEST_F(SyncLogicExecutor, AConflictWithSomeoneElsesBookingIsRetried) {
  const Instant start = future(14);
  make(999, start);  // another appointment holds alice
  const auto ctx = context(76, {seg(kAlice, kCut, start)});
  const JobRun r = run_calcom_job(job_of(ctx), ctx, *client_);
  EXPECT_EQ(r.outcome.kind, JobOutcome::kRetry) << why(r);
  EXPECT_FALSE(r.outcome.uncertain);
  EXPECT_NE(r.outcome.error.find("busy"), std::string::npos) << r.outcome.error;
  EXPECT_TRUE(r.outcome.facts.empty());
  EXPECT_EQ(live().size(), 1u);
}

// The look-up after an uncertain create asks for bookings inside the segment's [start, end).
// Cal.com makes a booking as long as its event type, which the mapping does not tie to the
// service's duration: a 30-minute segment mapped to a 60-minute event type.
TEST_F(SyncLogicExecutor, AnUncertainCreateIsFoundWhenTheEventTypeIsLongerThanTheSegment) {
  const Instant start = future(15);
  auto ctx = context(77, {seg(kBob, kCut, start)});
  ctx.mappings = {{kBob, kCut, kBobLong}};
  fault("after", "POST");
  const JobRun r = run_calcom_job(job_of(ctx), ctx, *client_);
  EXPECT_EQ(r.outcome.kind, JobOutcome::kDone) << why(r);
  EXPECT_EQ(live().size(), 1u);
  // And a job that is uncertain from the start finds it as well, creating nothing.
  const int before = posts();
  const JobRun next = run_calcom_job(job_of(ctx, 1, true), ctx, *client_);
  EXPECT_EQ(next.outcome.kind, JobOutcome::kDone) << why(next);
  EXPECT_EQ(posts(), before);
  EXPECT_EQ(live().size(), 1u);
}

// A create timed out (its booking landed unseen), then the appointment was cancelled: the
// superseding cancel job is uncertain and must find that booking and cancel it. appointd knows
// of no booking, and a cancelled appointment wants none, so the event types to look in come from
// the (inactive) segments' mappings.
TEST_F(SyncLogicExecutor, AnUncertainJobOfACancelledAppointmentFindsTheUnseenBooking) {
  const Instant start = future(22);
  const auto landed = make(88, start);  // what the timed-out create made
  ASSERT_EQ(live().size(), 1u);
  auto ctx = context(88, {seg(kAlice, kCut, start)});
  ctx.appointment.status = AppointmentStatus::kCancelled;
  for (auto& g : ctx.appointment.segments) g.active = false;
  const JobRun r = run_calcom_job(job_of(ctx, 2, true), ctx, *client_);
  EXPECT_EQ(r.outcome.kind, JobOutcome::kDone) << why(r);
  EXPECT_TRUE(live().empty()) << "the booking " << landed.uid << " is left in Cal.com";
  const ExternalBooking* f = fact(r, landed.uid);
  EXPECT_TRUE(f && !f->live);
}

TEST_F(SyncLogicExecutor, SkippedWhenNotConnectedOrNotMapped) {
  const Instant start = future(9);
  auto ctx = context(78, {seg(kAlice, kCut, start)});
  ctx.connected = false;
  JobRun r = run_calcom_job(job_of(ctx), ctx, *client_);
  EXPECT_EQ(r.outcome.kind, JobOutcome::kSkipped) << why(r);
  EXPECT_EQ(r.outcome.error, "Cal.com is not connected");
  EXPECT_EQ(r.calls, 0);
  ctx.connected = true;
  ctx.mappings = {{kAlice, kLong, kAliceCut}, {kBob, kCut, kBobLong}};  // not alice's cut
  r = run_calcom_job(job_of(ctx), ctx, *client_);
  EXPECT_EQ(r.outcome.kind, JobOutcome::kSkipped) << why(r);
  EXPECT_NE(r.outcome.error.find("not mapped"), std::string::npos) << r.outcome.error;
  EXPECT_EQ(r.calls, 0);
  ctx.mappings.clear();
  r = run_calcom_job(job_of(ctx), ctx, *client_);
  EXPECT_EQ(r.outcome.kind, JobOutcome::kSkipped) << why(r);
  EXPECT_EQ(r.calls, 0);
  // A conflicting import is never synced.
  ctx = context(78, {seg(kAlice, kCut, start)});
  ctx.appointment.status = AppointmentStatus::kConflict;
  r = run_calcom_job(job_of(ctx), ctx, *client_);
  EXPECT_EQ(r.outcome.kind, JobOutcome::kSkipped) << why(r);
  EXPECT_EQ(r.calls, 0);
  EXPECT_TRUE(requests().empty());
}

TEST_F(SyncLogicExecutor, ACompositeWithOneUnmappedSegmentSyncsTheRest) {
  const Instant start = future(16);
  auto ctx = context(79, {seg(kAlice, kCut, start), seg(kBob, kCut, start + minutes(30))});
  const JobRun r = run_calcom_job(job_of(ctx), ctx, *client_);
  EXPECT_EQ(r.outcome.kind, JobOutcome::kDone) << why(r);
  EXPECT_NE(r.outcome.error.find("not mapped"), std::string::npos) << r.outcome.error;
  EXPECT_EQ(live().size(), 1u);
}

TEST_F(SyncLogicExecutor, ACancelledAppointmentWithoutKnownBookingsIsDoneWithoutACall) {
  auto ctx = context(80, {seg(kAlice, kCut, future(9))});
  ctx.appointment.status = AppointmentStatus::kCancelled;
  for (auto& g : ctx.appointment.segments) g.active = false;
  const JobRun r = run_calcom_job(job_of(ctx, 2), ctx, *client_);
  EXPECT_EQ(r.outcome.kind, JobOutcome::kDone) << why(r);
  EXPECT_EQ(r.calls, 0);
  EXPECT_FALSE(r.provider_ok);
  EXPECT_TRUE(requests().empty());
  // Known only as dead: nothing to do either.
  ctx.known = {{80, 0, kProviderCalcom, "gone", kAliceCut, future(9), false}};
  const JobRun dead = run_calcom_job(job_of(ctx, 2), ctx, *client_);
  EXPECT_EQ(dead.outcome.kind, JobOutcome::kDone) << why(dead);
  EXPECT_EQ(dead.calls, 0);
}

TEST_F(SyncLogicExecutor, ASegmentThatStartedBeforeItWasSyncedIsNotCreated) {
  // Cal.com refuses bookings in the past: an old outbox row ends done without a call.
  const Instant past =
      std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now()) -
      std::chrono::hours(2);
  auto ctx = context(79, {seg(kAlice, kCut, past)});
  const JobRun r = run_calcom_job(job_of(ctx, 1), ctx, *client_);
  EXPECT_EQ(r.outcome.kind, JobOutcome::kDone) << why(r);
  EXPECT_EQ(r.calls, 0);
  EXPECT_TRUE(requests().empty());
}

TEST_F(SyncLogicExecutor, ACancelledAppointmentCancelsItsLiveBooking) {
  const Instant start = future(17);
  const auto made = make(81, start);
  auto ctx = context(81, {seg(kAlice, kCut, start)});
  ctx.appointment.status = AppointmentStatus::kCancelled;
  for (auto& g : ctx.appointment.segments) g.active = false;
  ctx.known = {{81, 0, kProviderCalcom, made.uid, kAliceCut, start, true}};
  const JobRun r = run_calcom_job(job_of(ctx, 2), ctx, *client_);
  EXPECT_EQ(r.outcome.kind, JobOutcome::kDone) << why(r);
  EXPECT_EQ(r.calls, 1);
  const ExternalBooking* f = fact(r, made.uid);
  ASSERT_TRUE(f);
  EXPECT_FALSE(f->live);
  EXPECT_TRUE(live().empty());
  // Cancelled meanwhile by someone else (already cancelled): still done, the fact dead.
  const JobRun again = run_calcom_job(job_of(ctx, 2), ctx, *client_);
  EXPECT_EQ(again.outcome.kind, JobOutcome::kDone) << why(again);
  ASSERT_TRUE(fact(again, made.uid));
  EXPECT_FALSE(fact(again, made.uid)->live);
}

TEST_F(SyncLogicExecutor, AMovedAppointmentReschedulesItsBooking) {
  const Instant start = future(18);
  const auto made = make(82, start);
  const Instant to = start + hours(3);
  auto ctx = context(82, {seg(kAlice, kCut, to)});
  ctx.known = {{82, 0, kProviderCalcom, made.uid, kAliceCut, start, true}};
  const JobRun r = run_calcom_job(job_of(ctx, 2), ctx, *client_);
  EXPECT_EQ(r.outcome.kind, JobOutcome::kDone) << why(r);
  EXPECT_EQ(r.calls, 1);
  const ExternalBooking* old = fact(r, made.uid);
  ASSERT_TRUE(old);
  EXPECT_FALSE(old->live);
  const auto l = live();
  ASSERT_EQ(l.size(), 1u);
  EXPECT_EQ(secs(l[0].start), secs(to));
  const ExternalBooking* now = fact(r, l[0].uid);
  ASSERT_TRUE(now);
  EXPECT_TRUE(now->live);
  EXPECT_EQ(now->ordinal, 0);
  EXPECT_EQ(secs(now->start), secs(to));
}

TEST_F(SyncLogicExecutor, AnotherEventTypeIsCancelledAndCreated) {
  const Instant start = future(19);
  const auto made = make(83, start);  // alice's cut
  auto ctx = context(83, {seg(kCarol, kCut, start)});
  ctx.known = {{83, 0, kProviderCalcom, made.uid, kAliceCut, start, true}};
  const JobRun r = run_calcom_job(job_of(ctx, 2), ctx, *client_);
  EXPECT_EQ(r.outcome.kind, JobOutcome::kDone) << why(r);
  EXPECT_EQ(r.calls, 2);
  const auto l = live();
  ASSERT_EQ(l.size(), 1u);
  EXPECT_EQ(l[0].event_type_id, kCarolCut);
  ASSERT_TRUE(fact(r, made.uid));
  EXPECT_FALSE(fact(r, made.uid)->live);
}

TEST_F(SyncLogicExecutor, DuplicatesFoundByALookUpAreCancelled) {
  const Instant start = future(20);
  // Two of ours for one segment (forced past the overlap check, as a double create would be).
  for (int i = 0; i < 2; ++i)
    control("POST", "/_fake/bookings",
            {{"eventTypeId", kAliceCut},
             {"start", format_rfc3339(start)},
             {"force", true},
             {"attendee", {{"name", "Ada"}, {"email", "ada@example.com"}, {"timeZone", "UTC"}}},
             {"metadata",
              {{calcom::kMetaAppointment, "84"},
               {calcom::kMetaVersion, "1"},
               {calcom::kMetaSegment, "0"}}}});
  ASSERT_EQ(live().size(), 2u);
  const auto ctx = context(84, {seg(kAlice, kCut, start)});
  const JobRun r = run_calcom_job(job_of(ctx, 1, true), ctx, *client_);
  EXPECT_EQ(r.outcome.kind, JobOutcome::kDone) << why(r);
  EXPECT_EQ(live().size(), 1u);
  std::set<std::string> live_uids;
  for (const auto& f : r.outcome.facts) {
    // The last word on each uid.
    if (f.live)
      live_uids.insert(f.uid);
    else
      live_uids.erase(f.uid);
  }
  ASSERT_EQ(live_uids.size(), 1u);
  EXPECT_EQ(*live_uids.begin(), live()[0].uid);
}

TEST_F(SyncLogicExecutor, ADeadlineInThePastRetriesWithoutACall) {
  auto ctx = context(85, {seg(kAlice, kCut, future(9))});
  ctx.deadline = std::chrono::system_clock::now() - seconds(1);
  const JobRun r = run_calcom_job(job_of(ctx), ctx, *client_);
  EXPECT_EQ(r.outcome.kind, JobOutcome::kRetry) << why(r);
  EXPECT_TRUE(r.retry_now);
  EXPECT_FALSE(r.outcome.uncertain);
  EXPECT_FALSE(r.provider_failure);
  EXPECT_EQ(r.calls, 0);
  // An uncertain job keeps its doubt.
  const JobRun u = run_calcom_job(job_of(ctx, 1, true), ctx, *client_);
  EXPECT_EQ(u.outcome.kind, JobOutcome::kRetry) << why(u);
  EXPECT_TRUE(u.outcome.uncertain);
  EXPECT_EQ(u.calls, 0);
  EXPECT_TRUE(requests().empty());
}

TEST_F(SyncLogicExecutor, AFailedLookUpRetriesUncertainAndCountsForTheBreaker) {
  const Instant start = future(21);
  const auto ctx = context(86, {seg(kAlice, kCut, start)});
  fault("before", "GET");
  const JobRun r = run_calcom_job(job_of(ctx, 1, true), ctx, *client_);
  EXPECT_EQ(r.outcome.kind, JobOutcome::kRetry) << why(r);
  EXPECT_TRUE(r.outcome.uncertain);
  EXPECT_TRUE(r.provider_failure);
  EXPECT_EQ(posts(), 0);  // never creates without having looked
}

TEST_F(SyncLogicExecutor, AThrottledCreateWaitsForRetryAfter) {
  const auto ctx = context(87, {seg(kAlice, kCut, future(9))});
  fault("throttle", "POST", {{"retry_after", 7}});
  const JobRun r = run_calcom_job(job_of(ctx), ctx, *client_);
  EXPECT_EQ(r.outcome.kind, JobOutcome::kRetry) << why(r);
  EXPECT_FALSE(r.outcome.uncertain);
  EXPECT_EQ(r.retry_after, seconds(7));
  EXPECT_TRUE(r.provider_failure);
  EXPECT_TRUE(live().empty());
}

}  // namespace
