// The PostgreSQL store's batched write path (src/store/postgres/batch.h): fibers, the merging of
// many fibers' reads into fewer statements, and the merged commit. Merged statements must answer
// each fiber exactly as its own statements would have, and a failure must reach exactly the
// fiber it belongs to. Against a real server (APPOINTD_PG_URL); skipped without it.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "booking/appointments.h"
#include "booking/attempt.h"
#include "pg_test_db.h"
#include "store/postgres/commit_merge.h"
#include "store/postgres/fiber.h"
#include "store/postgres/pg.h"
#include "store/postgres/pg_tx.h"
#include "store/postgres/probe.h"
#include "store/postgres/read_merge.h"
#include "store/postgres/sql.h"

using namespace appointd;
using namespace appointd::store::postgres;
using std::chrono::minutes;
using PgResult = appointd::store::postgres::Result;

namespace {

// --- fibers ---------------------------------------------------------------------------------

TEST(FiberTest, RunsUntilYieldAndContinuesWhereItStopped) {
  std::vector<int> log;
  Fiber f([&] {
    log.push_back(1);
    Fiber::yield();
    log.push_back(3);
    Fiber::yield();
    log.push_back(5);
  });
  EXPECT_EQ(Fiber::current(), nullptr);
  f.resume();
  log.push_back(2);
  EXPECT_FALSE(f.done());
  f.resume();
  log.push_back(4);
  f.resume();
  EXPECT_TRUE(f.done());
  EXPECT_EQ(log, (std::vector<int>{1, 2, 3, 4, 5}));
}

int depth(int n) {
  if (n == 0) {
    Fiber::yield();  // suspended deep inside a call chain, with frames below it
    return 0;
  }
  volatile char pad[256] = {};
  return depth(n - 1) + 1 + pad[0];
}

TEST(FiberTest, YieldsFromDeepCallsAndKeepsExceptionsInside) {
  int got = -1;
  bool caught = false;
  Fiber f([&] {
    got = depth(200);
    try {
      Fiber::yield();
      throw std::runtime_error("inside");
    } catch (const std::runtime_error&) {
      caught = true;
    }
  });
  f.resume();  // suspended at depth 200
  EXPECT_EQ(Fiber::current(), nullptr);
  f.resume();  // unwinds the 200 frames, suspends again
  EXPECT_EQ(got, 200);
  f.resume();
  EXPECT_TRUE(caught);
  EXPECT_TRUE(f.done());
}

// Fibers suspended inside catch blocks while others throw and catch: each finds its own
// exception intact when resumed (the runtime's record of caught exceptions is per fiber). Without
// that, the first handler to end would pop another fiber's exception and free it (ASan: a
// heap-use-after-free, as seen when a lost connection sent many writes into their retry waits).
TEST(FiberTest, SuspendsInsideCatchBlocksWhileOthersThrow) {
  constexpr int kFibers = 6;
  std::vector<std::string> seen(kFibers);
  std::vector<std::unique_ptr<Fiber>> fibers;
  for (int i = 0; i < kFibers; ++i)
    fibers.push_back(std::make_unique<Fiber>([&seen, i] {
      try {
        throw std::runtime_error("fiber " + std::to_string(i));
      } catch (const std::runtime_error& outer) {
        Fiber::yield();  // the others throw, catch and suspend meanwhile
        try {
          throw std::logic_error("nested " + std::to_string(i));
        } catch (const std::logic_error&) {
          Fiber::yield();
        }
        Fiber::yield();
        try {
          throw;  // rethrows this fiber's exception in hand, not another's
        } catch (const std::runtime_error& again) {
          seen[static_cast<size_t>(i)] = std::string(outer.what()) + "|" + again.what();
        }
      }
    }));
  // Resumed in the same order every round, so that handlers end first-in, first-out: not the
  // last-in, first-out order one thread's record can keep.
  for (int round = 0; round < 4; ++round)
    for (auto& f : fibers)
      if (!f->done()) f->resume();
  for (int i = 0; i < kFibers; ++i) {
    EXPECT_TRUE(fibers[static_cast<size_t>(i)]->done());
    EXPECT_EQ(seen[static_cast<size_t>(i)],
              "fiber " + std::to_string(i) + "|fiber " + std::to_string(i));
  }
  EXPECT_EQ(std::uncaught_exceptions(), 0);
}
TEST(FiberTest, ManyFibersInterleavedAndTheirStacksReused) {
  // 64 at a time, 40 generations: stacks of ended fibers are recycled; each fiber sees only
  // its own locals across its suspensions.
  long sum = 0;
  for (int gen = 0; gen < 40; ++gen) {
    std::vector<std::unique_ptr<Fiber>> fs;
    std::vector<long> out(64, 0);
    for (int i = 0; i < 64; ++i)
      fs.push_back(std::make_unique<Fiber>([&out, i, gen] {
        long mine = i * 1000 + gen;
        for (int k = 0; k < 5; ++k) {
          Fiber::yield();
          mine += k;
        }
        out[static_cast<size_t>(i)] = mine;
      }));
    for (int round = 0; round < 6; ++round)
      for (auto& f : fs)
        if (!f->done()) f->resume();
    for (int i = 0; i < 64; ++i) {
      EXPECT_TRUE(fs[static_cast<size_t>(i)]->done());
      EXPECT_EQ(out[static_cast<size_t>(i)], i * 1000 + gen + 10);
      sum += out[static_cast<size_t>(i)];
    }
  }
  EXPECT_GT(sum, 0);
}

// --- against the server ---------------------------------------------------------------------

std::string schema_url() {
  static const std::string url = pgtest::pg_schema_url("appointd_batch_");
  return url;
}

// A session over a real connection that keeps the round trip ending in COMMIT instead of
// sending it: the whole transaction a booking would send, as the driver gets it to merge.
class Recording final : public Session {
 public:
  explicit Recording(Connection& c) : c_(c) {}
  std::vector<Item> kept;
  void rollback_quietly() override { queue_.clear(); }
  bool ok() const override { return true; }
  bool in_transaction() const override { return !queue_.empty(); }

 protected:
  std::vector<PgResult> send(std::vector<Item> q) override {
    if (!q.empty() && q.back().text && std::string_view(q.back().text) == "COMMIT") {
      kept = std::move(q);
      return {};
    }
    Scope s;
    for (const auto& it : q) s.push_back(&it);
    const Scope one[] = {std::move(s)};
    auto rs = c_.exchange(one);
    if (rs[0].error) throw *rs[0].error;
    return std::move(rs[0].rows);
  }

 private:
  Connection& c_;
};

class PgBatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (pgtest::pg_base_url().empty()) GTEST_SKIP() << "no APPOINTD_PG_URL";
    c_ =
        std::make_unique<Connection>(schema_url(), std::vector<std::string>{"SET TIME ZONE 'UTC'"});
    PgTx tx(*c_, true);
    company_ = tx.insert_company({0, "Co", "Europe/Berlin", "DE", now_, {}});
    branch_ = tx.insert_branch({0, company_, "B", "Europe/Berlin", "", now_});
    service_ = tx.insert_service({0, company_, "Cut", 30, 0, 0, now_});
    for (int i = 0; i < 3; ++i) {
      Staff st;
      st.company_id = company_;
      st.branch_id = branch_;
      st.name = std::string(1, static_cast<char>('A' + i));
      st.service_ids = {service_};
      st.created_at = now_;
      staff_.push_back(tx.insert_staff(st));
    }
    tx.upsert_customer({0, company_, phone_, "C", "", "api", now_});
    tx.commit();
    // Each test books in its own day, far ahead.
    day_ = now_ + std::chrono::hours(24 * (2 + next_day_++));
  }

  // A booking of staff member `s` at day_ + `at`, probed and run to its commit, which is kept
  // (not sent). Returns the kept transaction; `out` gets the outcome.
  std::vector<Item> prepared(size_t s, minutes at, appointd::Result<Appointment>* out = nullptr) {
    Recording rec(*c_);
    ProbePolicy always(ProbePolicy::Mode::kAlways);
    PgTx tx(rec, true, nullptr, nullptr, &always);
    booking::Book b;
    b.company_id = company_;
    b.customer = booking::CustomerInput{phone_, "C", "", true};
    b.segments = {{staff_[s], service_, day_ + at, std::nullopt}};
    b.now = now_;
    auto r = booking::attempt(tx, [&] { return booking::book(tx, b); });
    tx.commit();
    if (out) *out = r;
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().detail);
    return rec.kept;
  }

  // Books directly (its own transaction, sent).
  void book_now(size_t s, minutes at) {
    PgTx tx(*c_, true);
    booking::Book b;
    b.company_id = company_;
    b.customer = booking::CustomerInput{phone_, "C", "", true};
    b.segments = {{staff_[s], service_, day_ + at, std::nullopt}};
    b.now = now_;
    auto r = booking::attempt(tx, [&] { return booking::book(tx, b); });
    ASSERT_TRUE(r.ok());
    tx.commit();
  }

  long count(const char* table, const std::string& where) {
    Connection c(schema_url(), {});
    const std::string q = std::string("SELECT count(*) FROM ") + table + " WHERE " + where;
    const Statement st{"t_count_any", q.c_str()};
    return static_cast<long>(c.run(st).i64(0, 0));
  }
  // Active segments of the test's day.
  long booked() {
    return count("segments", "active AND starts_at >= to_timestamp(" +
                                 std::to_string(to_unix(day_)) + ") AND starts_at < to_timestamp(" +
                                 std::to_string(to_unix(day_) + 86400) + ")");
  }

  ScopeResult run(const Scope& s) {
    const Scope one[] = {s};
    return std::move(c_->exchange(one)[0]);
  }
  void rollback() {
    const Item rb{nullptr, "ROLLBACK", {}, false, false};
    run(Scope{&rb});
  }

  static inline int next_day_ = 0;
  Instant now_ = from_unix(1893456000);  // 2030-01-01
  Instant day_{};
  std::unique_ptr<Connection> c_;
  Id company_ = 0, branch_ = 0, service_ = 0;
  std::vector<Id> staff_;
  std::string phone_ = "+49301111111";
};

// The blocks of a kBlocksOfIfBusy-shaped answer, as comparable tuples.
using Row =
    std::tuple<std::int64_t, std::int64_t, std::int64_t, std::int64_t, std::int64_t, std::int64_t>;
std::multiset<Row> rows_of(const PgResult& r) {
  std::multiset<Row> out;
  for (int i = 0; i < r.rows(); ++i)
    out.insert({r.i64(i, 0), r.i64(i, 1), r.i64(i, 2), r.i64(i, 3), r.i64(i, 4), r.i64(i, 5)});
  return out;
}

TEST_F(PgBatchTest, MergedProbesAnswerEachAsItsOwnStatementWould) {
  book_now(0, minutes(9 * 60));
  book_now(0, minutes(11 * 60));
  book_now(1, minutes(9 * 60 + 30));
  // Probes: staff 0 at a taken time (wide window), staff 0 at a free time, staff {1, 2} at a
  // time only 1 has taken, and staff 2 alone (free), each with its busy check.
  struct Probe {
    std::vector<Id> staff;
    Id busy_staff;
    minutes at;
  };
  const Probe probes[] = {{{staff_[0]}, staff_[0], minutes(9 * 60 + 15)},
                          {{staff_[0]}, staff_[0], minutes(14 * 60)},
                          {{staff_[1], staff_[2]}, staff_[1], minutes(9 * 60 + 30)},
                          {{staff_[2]}, staff_[2], minutes(9 * 60)}};
  std::vector<std::vector<Item>> queues;
  for (const auto& p : probes) {
    const Instant t = day_ + p.at;
    Params ps;
    ps.add_ids(p.staff)
        .add(to_unix(t - std::chrono::hours(24)))
        .add(to_unix(t + std::chrono::hours(24)))
        .add(0)
        .add(static_cast<std::int64_t>(kMaxBlocked.count()))
        .add(to_unix(now_))
        .add(p.busy_staff)
        .add(to_unix(t))
        .add(to_unix(t + minutes(30)));
    Params rs;
    rs.add(company_).add(phone_).add(p.busy_staff).add(to_unix(t)).add(to_unix(t + minutes(30)));
    rs.add(0).add(static_cast<std::int64_t>(kMaxBlocked.count())).add(to_unix(now_));
    queues.push_back({{&sql::kBlocksOfIfBusy, nullptr, ps, true, false},
                      {&sql::kReserveIdsAndCustomerIfFree, nullptr, rs, true, false},
                      {&sql::kCatalogVersion, nullptr, Params().add(company_), true, false}});
  }
  // Each alone.
  std::vector<std::vector<PgResult>> alone;
  for (const auto& q : queues) {
    Scope s;
    for (const auto& it : q) s.push_back(&it);
    auto r = run(s);
    ASSERT_FALSE(r.error) << r.error->what();
    alone.push_back(std::move(r.rows));
  }
  // Merged.
  std::vector<const std::vector<Item>*> qs;
  for (const auto& q : queues) qs.push_back(&q);
  ReadMerge m(qs);
  EXPECT_EQ(m.scope().size(), 3u) << "one statement per kind for all four";
  auto out = run(m.scope());
  ASSERT_FALSE(out.error) << out.error->what();
  for (size_t f = 0; f < queues.size(); ++f) {
    ASSERT_EQ(m.fate(f, out), ReadMerge::Fate::kAnswered);
    auto mine = m.results(f, out);
    ASSERT_EQ(mine.size(), 3u);
    EXPECT_EQ(rows_of(mine[0]), rows_of(alone[f][0])) << "probe " << f;
    // Ids are spent by each call; that there are ids, and the customer, must agree.
    ASSERT_EQ(mine[1].rows(), alone[f][1].rows()) << "probe " << f;
    if (mine[1].rows()) {
      EXPECT_GT(mine[1].i64(0, 0), 0);
      EXPECT_EQ(mine[1].i64(0, 2), alone[f][1].i64(0, 2));  // the customer's id
      EXPECT_EQ(mine[1].text(0, 4), phone_);
    }
    EXPECT_EQ(mine[2].i64(0, 0), alone[f][2].i64(0, 0));
  }
  // Busy probes returned the day's blocks; free ones none (and reserved ids).
  EXPECT_EQ(alone[0][0].rows(), 2);
  EXPECT_EQ(alone[1][0].rows(), 0);
  EXPECT_EQ(alone[1][1].rows(), 1);
  EXPECT_GE(alone[2][0].rows(), 1);
  EXPECT_EQ(alone[3][0].rows(), 0);
}

TEST_F(PgBatchTest, MergedBlockReadsAnswerEachAsItsOwnStatementWould) {
  book_now(0, minutes(9 * 60));
  book_now(1, minutes(10 * 60));
  book_now(2, minutes(23 * 60 + 45));  // across midnight: in a window ending at midnight too
  // Windows of one staff member or several, some empty, one cut at a booking's middle.
  struct Read {
    std::vector<Id> staff;
    minutes from, until;
  };
  const Read reads[] = {{{staff_[0]}, minutes(0), minutes(24 * 60)},
                        {{staff_[0], staff_[1], staff_[2]}, minutes(9 * 60 + 15), minutes(24 * 60)},
                        {{staff_[1]}, minutes(0), minutes(6 * 60)},
                        {{staff_[2]}, minutes(12 * 60), minutes(24 * 60)}};
  std::vector<std::vector<Item>> queues;
  for (const auto& r : reads) {
    Params p;
    p.add_ids(r.staff)
        .add(to_unix(day_ + r.from))
        .add(to_unix(day_ + r.until))
        .add(0)
        .add(static_cast<std::int64_t>(kMaxBlocked.count()))
        .add(to_unix(now_));
    queues.push_back({{&sql::kBlocksOf, nullptr, p, true, false}});
  }
  std::vector<const std::vector<Item>*> qs;
  for (const auto& q : queues) qs.push_back(&q);
  ReadMerge m(qs);
  EXPECT_EQ(m.scope().size(), 1u);
  auto out = run(m.scope());
  ASSERT_FALSE(out.error) << out.error->what();
  const long expected[] = {1, 3, 0, 1};
  for (size_t f = 0; f < queues.size(); ++f) {
    Scope s{&queues[f][0]};
    auto alone = run(s);
    ASSERT_FALSE(alone.error);
    auto mine = m.results(f, out);
    EXPECT_EQ(rows_of(mine[0]), rows_of(alone.rows[0])) << "read " << f;
    EXPECT_EQ(mine[0].rows(), expected[f]) << "read " << f;
  }
}

TEST_F(PgBatchTest, AFailedReadReachesItsFiberAndThoseAfterItGoAgain) {
  const Statement fails{"t_fails", "SELECT 1 / ($1::int - $1::int)"};  // 22012
  std::vector<std::vector<Item>> queues = {
      {{&sql::kCatalogVersion, nullptr, Params().add(company_), true, false}},
      {{&fails, nullptr, Params().add(1), true, false}},
      {{&sql::kCatalogVersion, nullptr, Params().add(company_ + 1), true, false}}};
  std::vector<const std::vector<Item>*> qs;
  for (const auto& q : queues) qs.push_back(&q);
  ReadMerge m(qs);
  auto out = run(m.scope());
  ASSERT_TRUE(out.error);
  EXPECT_EQ(out.error->sqlstate(), "22012");
  EXPECT_EQ(m.fate(0, out), ReadMerge::Fate::kAnswered);
  EXPECT_EQ(m.fate(1, out), ReadMerge::Fate::kFailed);
  EXPECT_EQ(m.fate(2, out), ReadMerge::Fate::kAgain);
  EXPECT_EQ(m.results(0, out)[0].rows(), 1);
}

TEST_F(PgBatchTest, MergedCommitWritesEveryBookingWithFewerStatements) {
  std::vector<std::vector<Item>> txs = {prepared(0, minutes(8 * 60)), prepared(1, minutes(8 * 60)),
                                        prepared(2, minutes(10 * 60)),
                                        prepared(0, minutes(12 * 60))};
  size_t alone = 0;
  std::vector<const std::vector<Item>*> qs;
  for (const auto& t : txs) {
    ASSERT_FALSE(t.empty());
    alone += t.size();
    qs.push_back(&t);
  }
  CommitMerge m(qs);
  // BEGIN, the lock, one check, one insert of appointments+segments, one of events+outbox,
  // COMMIT.
  EXPECT_EQ(m.scope().size(), 6u);
  EXPECT_LT(m.scope().size(), alone / 3);
  auto out = run(m.scope());
  ASSERT_FALSE(out.error) << out.error->what();
  for (size_t f = 0; f < txs.size(); ++f) EXPECT_EQ(m.fate(f, out), CommitMerge::Fate::kCommitted);
  EXPECT_EQ(booked(), 4);
  EXPECT_EQ(count("sync_jobs",
                  "action = 'create' AND appointment_id IN (SELECT appointment_id "
                  "FROM segments WHERE staff_id = " +
                      std::to_string(staff_[0]) + ")"),
            count("segments", "staff_id = " + std::to_string(staff_[0])));
}

TEST_F(PgBatchTest, ATimeTakenSinceItsProbeFailsThatBookingAloneAndTheOthersCommitNext) {
  std::vector<std::vector<Item>> txs = {prepared(0, minutes(8 * 60)), prepared(1, minutes(8 * 60)),
                                        prepared(2, minutes(8 * 60))};
  book_now(1, minutes(8 * 60 + 15));  // takes the second one's time after its probe
  std::vector<const std::vector<Item>*> qs;
  for (const auto& t : txs) qs.push_back(&t);
  CommitMerge m(qs);
  auto out = run(m.scope());
  ASSERT_TRUE(out.error);
  EXPECT_EQ(out.error->sqlstate(), sql::kTakenSince);
  EXPECT_EQ(m.fate(0, out), CommitMerge::Fate::kAgain);
  EXPECT_EQ(m.fate(1, out), CommitMerge::Fate::kFailed);
  EXPECT_EQ(m.fate(2, out), CommitMerge::Fate::kAgain);
  rollback();
  EXPECT_EQ(booked(), 1) << "nothing of the merged transaction committed";
  // The driver sends the others again.
  std::vector<const std::vector<Item>*> again = {&txs[0], &txs[2]};
  CommitMerge m2(again);
  auto out2 = run(m2.scope());
  ASSERT_FALSE(out2.error) << out2.error->what();
  EXPECT_EQ(booked(), 3);
}

TEST_F(PgBatchTest, ALiveHoldTakenSinceTheProbeFailsThatBooking) {
  std::vector<std::vector<Item>> txs = {prepared(0, minutes(8 * 60)), prepared(1, minutes(9 * 60))};
  {
    PgTx tx(*c_, true);
    Hold h;
    h.company_id = company_;
    h.staff_id = staff_[0];
    h.service_id = service_;
    h.time = h.blocked = {day_ + minutes(8 * 60), day_ + minutes(8 * 60 + 30)};
    h.expires_at = now_ + std::chrono::hours(24 * 400);
    const Id ids[] = {staff_[0]};
    tx.lock_staff(ids);
    tx.insert_hold(h);
    tx.commit();
  }
  std::vector<const std::vector<Item>*> qs = {&txs[0], &txs[1]};
  CommitMerge m(qs);
  auto out = run(m.scope());
  ASSERT_TRUE(out.error);
  EXPECT_EQ(m.fate(0, out), CommitMerge::Fate::kFailed);
  EXPECT_EQ(m.fate(1, out), CommitMerge::Fate::kAgain);
  rollback();
  EXPECT_EQ(booked(), 0);
}

TEST_F(PgBatchTest, OverlappingBookingsOfOneStaffMemberAreNotMergedTogether) {
  // Both probed free; merged, the check before both inserts would pass both.
  std::vector<std::vector<Item>> txs = {prepared(0, minutes(8 * 60)),
                                        prepared(0, minutes(8 * 60 + 15)),
                                        prepared(1, minutes(8 * 60))};
  std::vector<const std::vector<Item>*> qs;
  for (const auto& t : txs) qs.push_back(&t);
  CommitMerge m(qs);
  EXPECT_TRUE(m.included(0));
  EXPECT_FALSE(m.included(1));
  EXPECT_TRUE(m.included(2));
  auto out = run(m.scope());
  ASSERT_FALSE(out.error) << out.error->what();
  EXPECT_EQ(m.fate(1, out), CommitMerge::Fate::kAgain);
  EXPECT_EQ(booked(), 2);
  // Sent again alone, its check under the lock sees the first booking.
  std::vector<const std::vector<Item>*> again = {&txs[1]};
  CommitMerge m2(again);
  auto out2 = run(m2.scope());
  ASSERT_TRUE(out2.error);
  EXPECT_EQ(out2.error->sqlstate(), sql::kTakenSince);
  EXPECT_EQ(m2.fate(0, out2), CommitMerge::Fate::kFailed);
  rollback();
  EXPECT_EQ(booked(), 2);
}

}  // namespace
