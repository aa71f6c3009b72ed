// The SQLite writer's block index: its own rules (overlap, exclusion, expiry, coverage, the
// mirrored savepoints), then a randomized run of every write that touches blocks, batched,
// with savepoints undone and writes that throw, in verify mode: each answer the index gives is
// compared with the SQL answer and a difference aborts the test binary.
#include "store/sqlite/block_index.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <future>
#include <random>

#include "booking/holds.h"
#include "store_fixture.h"

namespace appointd::testing {
namespace {

using store::sqlite::BlockIndex;

Instant t(int minutes) {
  return at("2030-01-01T00:00:00Z") + Minutes{minutes};
}

BlockIndex::Entry segment(Id id, Id appointment, int from, int until) {
  return {Block::kSegment, id, appointment, {t(from), t(until)}};
}

std::vector<Id> ids(const std::vector<Block>& v) {
  std::vector<Id> out;
  for (const auto& b : v) out.push_back(b.id);
  return out;
}

TEST(BlockIndex, AnswersOverlapsHalfOpenWithExclusionAndExpiry) {
  BlockIndex idx;
  auto& s = idx.load(7, t(-60),
                     {segment(1, 10, 0, 30),
                      segment(2, 11, 30, 90),
                      segment(3, 12, 600, 660),
                      {Block::kHold, 4, 0, {t(100), t(130)}, t(5)}});
  std::vector<Block> out;
  s.query(7, {t(30), t(31)}, 0, t(0), out);  // [0,30) ends where the query starts
  EXPECT_EQ(ids(out), (std::vector<Id>{2}));
  out.clear();
  s.query(7, {t(0), t(200)}, 11, t(0), out);  // appointment 11 excluded; hold live at t(0)
  EXPECT_EQ(ids(out), (std::vector<Id>{1, 4}));
  out.clear();
  s.query(7, {t(0), t(200)}, 0, t(5), out);  // the hold expired at t(5)
  EXPECT_EQ(ids(out), (std::vector<Id>{1, 2}));
  out.clear();
  s.query(7, {t(620), t(621)}, 0, t(0), out);  // a long block reaching into the query
  EXPECT_EQ(ids(out), (std::vector<Id>{3}));
  // Times before what was loaded are not answered from memory.
  EXPECT_EQ(idx.find(7, t(-61)), nullptr);
  EXPECT_NE(idx.find(7, t(-60)), nullptr);
  EXPECT_EQ(idx.find(8, t(0)), nullptr);
}

TEST(BlockIndex, SegmentsComeBeforeHoldsAsInSql) {
  BlockIndex idx;
  auto& s = idx.load(1, t(0), {{Block::kHold, 9, 0, {t(0), t(10)}, t(999)}, segment(5, 2, 5, 20)});
  std::vector<Block> out;
  s.query(1, {t(0), t(30)}, 0, t(0), out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].kind, Block::kSegment);
  EXPECT_EQ(out[1].kind, Block::kHold);
}

TEST(BlockIndex, RollbackForgetsWhatTheLevelWroteReleaseHandsItUp) {
  BlockIndex idx;
  idx.begin();
  idx.load(1, t(0), {});
  idx.load(2, t(0), {});
  idx.load(3, t(0), {});
  idx.savepoint();
  idx.added(1, segment(1, 1, 0, 30));
  EXPECT_EQ(idx.find(1, t(0))->size(), 1u);
  idx.rollback();  // undone: staff 1's copy held the undone row
  EXPECT_EQ(idx.find(1, t(0)), nullptr);
  EXPECT_NE(idx.find(2, t(0)), nullptr);

  idx.savepoint();
  idx.savepoint();
  idx.added(2, segment(2, 2, 0, 30));
  idx.release();   // the write now belongs to the outer savepoint
  idx.rollback();  // which is undone
  EXPECT_EQ(idx.find(2, t(0)), nullptr);
  EXPECT_NE(idx.find(3, t(0)), nullptr);

  idx.savepoint();
  idx.added(3, segment(3, 3, 0, 30));
  idx.release();
  idx.committed();
  EXPECT_EQ(idx.find(3, t(0))->size(), 1u);  // committed rows stay

  idx.begin();
  idx.added(3, segment(4, 4, 40, 50));
  idx.aborted();  // a failed batch starts over
  EXPECT_EQ(idx.staff(), 0u);
  EXPECT_EQ(idx.rows(), 0u);
}

TEST(BlockIndex, RowsBeyondTheCapStartOver) {
  BlockIndex idx(3);
  idx.load(1, t(0), {segment(1, 1, 0, 10), segment(2, 2, 10, 20)});
  idx.load(2, t(0), {segment(3, 3, 0, 10), segment(4, 4, 10, 20)});
  EXPECT_EQ(idx.find(1, t(0)), nullptr);
  EXPECT_EQ(idx.rows(), 2u);
}

// Every block-changing use case, at random, batched, through the real writer; the store runs in
// verify mode, so a stale or wrong index answer aborts the binary.
class BlockIndexFuzz : public StoreTest {
 protected:
  void SetUp() override {
    ::setenv("APPOINTD_VERIFY_BLOCK_INDEX", "1", 1);
    StoreTest::SetUp();
  }
  void TearDown() override {
    StoreTest::TearDown();
    ::unsetenv("APPOINTD_VERIFY_BLOCK_INDEX");
  }
};

TEST_F(BlockIndexFuzz, RandomWritesBatchedWithRollbacksNeverDiverge) {
  std::mt19937 rng(20261128);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  std::vector<Id> appointments, holds;
  std::mutex mu;
  int booked = 0, conflicts = 0, cancelled = 0, moved = 0, held = 0, undone = 0, thrown = 0;
  auto start = [&] { return now_ + std::chrono::hours{2} + Minutes{15 * pick(7 * 24 * 4)}; };

  for (int round = 0; round < 800; ++round) {
    std::vector<std::future<void>> done;
    // The clock moves on, so holds expire while the index holds them.
    const Instant now = now_ + Seconds{20 * round};
    const int writes = 1 + pick(8);
    for (int w = 0; w < writes; ++w) {
      const int op = pick(10);
      const int si = pick(3);
      const Id staff = staff_[si];
      const Id second = staff_[(si + 1 + pick(2)) % 3];
      const bool composite = pick(4) == 0, disjoint = pick(2), hold_alts = pick(3) == 0;
      const int ttl = 60 * (1 + pick(3));
      const Id service = pick(2) ? cut_ : long_;
      const Instant when = start();
      Id target = 0;
      {
        std::lock_guard lock(mu);
        if (op >= 4 && op <= 6 && !appointments.empty())
          target = appointments[pick(static_cast<int>(appointments.size()))];
        if (op == 8 && !holds.empty()) target = holds[pick(static_cast<int>(holds.size()))];
      }
      auto p = std::make_shared<std::promise<void>>();
      done.push_back(p->get_future());
      store_->write(
          [&, now, op, staff, second, composite, disjoint, hold_alts, ttl, service, when,
           target](store::WriteTx& tx) {
            const bool undo = op == 3;  // book, then undo the booking's savepoint by hand
            const bool fail = op == 9;  // book, then throw: the store rolls the write back
            if (op <= 3 || fail) {
              booking::Book b;
              b.company_id = company_;
              b.customer = booking::CustomerInput{"+49301234567", "X", ""};
              b.segments = {{staff, service, when, std::nullopt}};
              if (composite)  // a second segment right after, with other staff
                b.segments.push_back(
                    {second, cut_, when + Minutes{service == cut_ ? 30 : 60}, std::nullopt});
              b.now = now;
              b.disjoint_alternatives = disjoint;
              if (undo) tx.savepoint();
              auto r = booking::attempt(tx, [&] { return booking::book(tx, b); });
              std::lock_guard lock(mu);
              if (r.ok() && !undo && !fail) {
                appointments.push_back(r->id);
                ++booked;
              } else if (!r.ok()) {
                ++conflicts;
                if (hold_alts && r.error().slot)
                  held += booking::hold_alternatives(tx, company_, r.error().slot->alternatives,
                                                     ttl, "f", now);
              }
              if (undo) {
                tx.rollback_savepoint();
                ++undone;
              }
              if (fail) {
                ++thrown;
                throw std::runtime_error("injected");
              }
            } else if (op <= 5 && target) {
              auto r = booking::attempt(tx, [&] {
                return booking::cancel(tx, {company_, target, {}, "", now});
              });
              std::lock_guard lock(mu);
              cancelled += r.ok();
            } else if (op == 6 && target) {
              booking::Reschedule c{company_, target, {}, when, {}, now};
              auto r = booking::attempt(tx, [&] { return booking::reschedule(tx, c); });
              std::lock_guard lock(mu);
              moved += r.ok();
            } else if (op == 7) {
              auto r = booking::attempt(tx, [&] {
                return booking::create_hold(tx, {company_, staff, service, when, ttl, "f", now});
              });
              std::lock_guard lock(mu);
              if (r.ok()) holds.push_back(r->id);
            } else if (op == 8 && target) {
              booking::attempt(tx, [&] { return booking::release_hold(tx, company_, target); });
            }
          },
          [p](std::exception_ptr) { p->set_value(); });
    }
    for (auto& f : done) f.wait();
  }
  // A last look at every staff member's whole window, through the index (verified).
  store_->write_sync([&](store::WriteTx& tx) {
    for (Id st : staff_)
      tx.blocks(st, {now_, now_ + std::chrono::hours{24 * 8}}, 0, now_ + Seconds{20 * 800});
  });
  // The run did exercise every path.
  SCOPED_TRACE(::testing::Message()
               << "booked " << booked << ", conflicts " << conflicts << ", cancelled " << cancelled
               << ", moved " << moved << ", held " << held << ", undone " << undone << ", thrown "
               << thrown);
  EXPECT_GT(booked, 200);
  EXPECT_GT(conflicts, 100);
  EXPECT_GT(cancelled, 50);
  EXPECT_GT(moved, 30);
  EXPECT_GT(held, 30);
  EXPECT_GT(undone, 50);
  EXPECT_GT(thrown, 50);
}

}  // namespace
}  // namespace appointd::testing
