// The SQLite writer's block index: its own rules (overlap, exclusion, expiry, coverage, the
// mirrored savepoints); then, with the catalog cache, a randomized run of every write that
// touches either, batched, with savepoints undone and writes that throw, in verify mode.
#include "store/sqlite/block_index.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <future>
#include <map>
#include <random>
#include <string>

#include "booking/holds.h"
#include "booking/schedule.h"
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

// Every use case that changes blocks or the cached catalog (hours, time off, settings), at
// random, batched, through the real writer; each write is kept, undone by a savepoint or thrown
// out. The store runs in verify mode: a stale or wrong answer of the block index or the catalog
// cache aborts the binary.
class WriterCacheFuzz : public StoreTest {
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

TEST_F(WriterCacheFuzz, RandomWritesBatchedWithRollbacksNeverDiverge) {
  std::mt19937 rng(20261128);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  std::vector<Id> appointments, holds, time_off;
  std::mutex mu;
  std::map<std::string, int> n;  // outcomes by kind
  auto start = [&] { return now_ + std::chrono::hours{2} + Minutes{15 * pick(7 * 24 * 4)}; };

  for (int round = 0; round < 800; ++round) {
    std::vector<std::future<void>> done;
    // The clock moves on, so holds expire while the index holds them.
    const Instant now = now_ + Seconds{20 * round};
    const int writes = 1 + pick(8);
    for (int w = 0; w < writes; ++w) {
      // What to do, decided here (the writer thread must not share the generator).
      const int op = pick(16);
      const int mode = pick(6);  // 0: undo by savepoint, 1: throw, else keep
      const int si = pick(3);
      const Id staff = staff_[si];
      const Id second = staff_[(si + 1 + pick(2)) % 3];
      const bool composite = pick(4) == 0, disjoint = pick(2), hold_alts = pick(3) == 0;
      const int ttl = 60 * (1 + pick(3)), step = 5 * (1 + pick(3)), hour = pick(10);
      const Id service = pick(2) ? cut_ : long_;
      const Instant when = start();
      Id target = 0;
      {
        std::lock_guard lock(mu);
        auto any = [&](const std::vector<Id>& v) {
          return v.empty() ? Id{0} : v[pick(static_cast<int>(v.size()))];
        };
        if (op >= 5 && op <= 7) target = any(appointments);
        if (op == 9) target = any(holds);
        if (op == 12) target = any(time_off);
      }
      auto p = std::make_shared<std::promise<void>>();
      done.push_back(p->get_future());
      store_->write(
          [&, now, op, mode, staff, second, composite, disjoint, hold_alts, ttl, step, hour,
           service, when, target](store::WriteTx& tx) {
            if (mode == 0) tx.savepoint();
            std::string kind;
            if (op <= 4) {
              booking::Book b;
              b.company_id = company_;
              b.customer = booking::CustomerInput{"+49301234567", "X", ""};
              b.segments = {{staff, service, when, std::nullopt}};
              if (composite)  // a second segment right after, with other staff
                b.segments.push_back(
                    {second, cut_, when + Minutes{service == cut_ ? 30 : 60}, std::nullopt});
              b.now = now;
              b.disjoint_alternatives = disjoint;
              auto r = booking::attempt(tx, [&] { return booking::book(tx, b); });
              if (r.ok()) {
                kind = "booked";
                if (mode > 1) {
                  std::lock_guard lock(mu);
                  appointments.push_back(r->id);
                }
              } else {
                kind = "refused";
                if (hold_alts && r.error().slot &&
                    booking::hold_alternatives(tx, company_, r.error().slot->alternatives, ttl, "f",
                                               now) > 0)
                  kind = "held alternatives";
              }
            } else if (op <= 6 && target) {
              auto r = booking::attempt(tx, [&] {
                return booking::cancel(tx, {company_, target, {}, "", now});
              });
              kind = r.ok() ? "cancelled" : "cancel refused";
            } else if (op == 7 && target) {
              booking::Reschedule c{company_, target, {}, when, {}, now};
              auto r = booking::attempt(tx, [&] { return booking::reschedule(tx, c); });
              kind = r.ok() ? "rescheduled" : "reschedule refused";
            } else if (op == 8) {
              auto r = booking::attempt(tx, [&] {
                return booking::create_hold(tx, {company_, staff, service, when, ttl, "f", now});
              });
              kind = r.ok() ? "held" : "hold refused";
              if (r.ok() && mode > 1) {
                std::lock_guard lock(mu);
                holds.push_back(r->id);
              }
            } else if (op == 9 && target) {
              auto r =
                  booking::attempt(tx, [&] { return booking::release_hold(tx, company_, target); });
              kind = r.ok() ? "released" : "release refused";
              if (r.ok() && mode > 1) {  // ids are never reused: a released id stays dead
                std::lock_guard lock(mu);
                holds.erase(std::remove(holds.begin(), holds.end(), target), holds.end());
              }
            } else if (op == 10) {
              // Working hours every day from `hour`:00 to 22:00 local, or none at all.
              std::vector<WorkingHours> hours;
              if (hour > 1)
                for (int d = 0; d < 7; ++d) hours.push_back({d, 60 * (hour + 6), 22 * 60});
              auto r = booking::attempt(tx, [&] {
                return booking::set_working_hours(tx, {company_, staff, hours});
              });
              kind = r.ok() ? "hours set" : "hours refused";
            } else if (op == 11) {
              auto r = booking::attempt(tx, [&] {
                return booking::add_time_off(
                    tx, {company_, staff, {when, when + std::chrono::hours{1 + hour}}, "off"});
              });
              kind = r.ok() ? "time off added" : "time off refused";
              if (r.ok() && mode > 1) {
                std::lock_guard lock(mu);
                time_off.push_back(r->id);
              }
            } else if (op == 12 && target) {
              // Time off ids are of one staff member each: try them on every staff member.
              kind = "time off kept";
              for (Id st : staff_)
                if (booking::attempt(tx, [&] {
                      return booking::remove_time_off(tx, company_, st, target);
                    }).ok())
                  kind = "time off removed";
            } else if (op == 13) {
              auto r = booking::attempt(tx, [&] {
                return booking::update_settings(tx, {company_, step, hour * 10, std::nullopt});
              });
              kind = r.ok() ? "settings changed" : "settings refused";
            } else {
              kind = "looked";  // reads only: the caches answer, verified
              tx.blocks(staff, {when, when + std::chrono::hours{hour + 1}}, 0, now);
              std::vector<Id> ids{staff, second};
              tx.staff_schedules(company_, ids, {when, when + std::chrono::hours{24}});
            }
            {
              std::lock_guard lock(mu);
              ++n[kind + (mode == 0 ? ", undone" : mode == 1 ? ", thrown" : "")];
            }
            if (mode < 2) {  // read back what is about to be undone: the caches hold it now
              std::vector<Id> ids{staff};
              tx.staff_schedules(company_, ids, {when, when + std::chrono::hours{24}});
              tx.company(company_);
              tx.blocks(staff, {when, when + std::chrono::hours{2}}, 0, now);
            }
            if (mode == 0) tx.rollback_savepoint();
            if (mode == 1) throw std::runtime_error("injected");
          },
          [p](std::exception_ptr) { p->set_value(); });
    }
    for (auto& f : done) f.wait();
  }
  // A last look at every staff member's whole window, through the caches (verified).
  store_->write_sync([&](store::WriteTx& tx) {
    for (Id st : staff_) tx.blocks(st, {now_, now_ + std::chrono::hours{24 * 8}}, 0, now_);
    tx.staff_schedules(company_, staff_, {now_, now_ + std::chrono::hours{24 * 8}});
  });
  // The run did exercise every path, kept, undone and thrown out.
  std::string seen;
  for (const auto& [k, v] : n) seen += k + ": " + std::to_string(v) + "; ";
  SCOPED_TRACE(seen);
  for (const char* kind :
       {"booked", "refused", "held alternatives", "cancelled", "rescheduled", "held", "released",
        "hours set", "time off added", "time off removed", "settings changed"}) {
    EXPECT_GE(n[kind], 5) << kind;
    EXPECT_GE(n[std::string(kind) + ", undone"], 1) << kind;
    EXPECT_GE(n[std::string(kind) + ", thrown"], 1) << kind;
  }
}

}  // namespace
}  // namespace appointd::testing
