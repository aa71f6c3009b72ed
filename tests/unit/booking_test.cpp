// Use cases over the real SQLite store.
#include <atomic>
#include <thread>

#include "store_fixture.h"

using namespace appointd;
using namespace appointd::testing;

TEST_F(StoreTest, BookThenConflictWithBuffers) {
  auto a = book({{staff_[0], cut_, at("2026-12-01T09:00:00Z"), std::nullopt}});
  ASSERT_TRUE(a.ok()) << a.error().detail;
  EXPECT_EQ(a->version, 1);
  ASSERT_EQ(a->segments.size(), 1u);
  // 09:30 is inside the 10-minute buffer after the first cut.
  auto b = book({{staff_[0], cut_, at("2026-12-01T09:30:00Z"), std::nullopt}});
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().code, ErrorCode::kSlotUnavailable);
  EXPECT_EQ(b.error().details()["conflicts"].size(), 1u);
  EXPECT_FALSE(b.error().details()["alternatives"].empty());
  EXPECT_LE(b.error().details()["alternatives"].size(), 5u);
  // 09:40 is free; another staff member at 09:00 too.
  EXPECT_TRUE(book({{staff_[0], cut_, at("2026-12-01T09:40:00Z"), std::nullopt}}).ok());
  EXPECT_TRUE(book({{staff_[1], cut_, at("2026-12-01T09:00:00Z"), std::nullopt}}).ok());
}

TEST_F(StoreTest, EveryAlternativeIsBookable) {
  ASSERT_TRUE(book({{staff_[0], cut_, at("2026-12-01T09:00:00Z"), std::nullopt}}).ok());
  ASSERT_TRUE(book({{staff_[0], cut_, at("2026-12-01T10:00:00Z"), std::nullopt}}).ok());
  auto b = book({{staff_[0], cut_, at("2026-12-01T09:10:00Z"), std::nullopt}});
  ASSERT_FALSE(b.ok());
  const auto alts = b.error().details()["alternatives"];
  ASSERT_EQ(alts.size(), 5u);
  bool other_staff = false;
  for (const auto& alt : alts) {
    // Book the alternative, then cancel it so the next one is tried against the same state.
    Id staff = alt["staff_id"].get<Id>();
    other_staff |= staff != staff_[0];
    auto r = book({{staff, cut_, *parse_rfc3339(alt["start"].get<std::string>()), std::nullopt}});
    ASSERT_TRUE(r.ok()) << alt.dump();
    store_->write_sync([&](store::WriteTx& tx) {
      ASSERT_TRUE(booking::cancel(tx, {company_, r->id, std::nullopt, "", now_}).ok());
    });
  }
  EXPECT_TRUE(other_staff);
}

TEST_F(StoreTest, CompositeIsAllOrNothing) {
  ASSERT_TRUE(book({{staff_[1], cut_, at("2026-12-01T10:00:00Z"), std::nullopt}}).ok());
  // First segment free, second collides with staff 1's booking: nothing may remain.
  auto r = book({{staff_[0], cut_, at("2026-12-01T09:30:00Z"), std::nullopt},
                 {staff_[1], cut_, at("2026-12-01T10:00:00Z"), std::nullopt}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kSlotUnavailable);
  EXPECT_TRUE(book({{staff_[0], cut_, at("2026-12-01T09:30:00Z"), std::nullopt}}).ok());
}

TEST_F(StoreTest, UnknownAndForeignIdsAreNotFound) {
  auto r = book({{999, cut_, at("2026-12-01T09:00:00Z"), std::nullopt}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
  Id other_staff = 0;
  store_->write_sync([&](store::WriteTx& tx) {
    Id co = booking::create_company(tx, {"Other", "Europe/Berlin", "DE", now_})->company.id;
    Id br = booking::create_branch(tx, {co, "B", std::nullopt, "", now_})->id;
    Id sv = booking::create_service(tx, {co, "Cut", 30, 0, 0, now_})->id;
    other_staff = booking::create_staff(tx, {co, br, "S", "", {sv}, now_})->id;
  });
  auto f = book({{other_staff, cut_, at("2026-12-01T09:00:00Z"), std::nullopt}});
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().code, ErrorCode::kNotFound);
}

TEST_F(StoreTest, RescheduleIsAtomicAndKeepsOldTimesOnConflict) {
  auto a = book({{staff_[0], long_, at("2026-12-01T09:00:00Z"), std::nullopt}});
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(book({{staff_[0], cut_, at("2026-12-01T12:00:00Z"), std::nullopt}}).ok());
  auto move = [&](const char* start, std::optional<std::int64_t> v) {
    booking::Reschedule c{company_, a->id, v, at(start), std::nullopt, now_};
    std::optional<Result<Appointment>> r;
    store_->write_sync([&](store::WriteTx& tx) {
      r = booking::attempt(tx, [&] { return booking::reschedule(tx, c); });
    });
    return *r;
  };
  // Overlapping its own old time is fine.
  auto m = move("2026-12-01T09:30:00Z", 1);
  ASSERT_TRUE(m.ok()) << m.error().detail;
  EXPECT_EQ(m->version, 2);
  // Stale version.
  auto stale = move("2026-12-01T10:00:00Z", 1);
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.error().code, ErrorCode::kVersionMismatch);
  // Conflict with the 12:00 booking: old times stay.
  auto c = move("2026-12-01T11:30:00Z", 2);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, ErrorCode::kSlotUnavailable);
  std::optional<Appointment> now;
  store_->read([&](store::ReadTx& tx) { now = tx.appointment(company_, a->id); });
  ASSERT_TRUE(now);
  EXPECT_EQ(now->version, 2);
  ASSERT_EQ(now->segments.size(), 1u);
  EXPECT_EQ(now->segments[0].time.from, at("2026-12-01T09:30:00Z"));
  // The old slot (09:00) is free again; the new one is taken.
  EXPECT_FALSE(book({{staff_[0], cut_, at("2026-12-01T10:00:00Z"), std::nullopt}}).ok());
}

TEST_F(StoreTest, CancelFreesTheSlotAndRefusesTwice) {
  auto a = book({{staff_[0], cut_, at("2026-12-01T09:00:00Z"), std::nullopt}});
  ASSERT_TRUE(a.ok());
  auto cancel = [&](std::optional<std::int64_t> v) {
    booking::Cancel c{company_, a->id, v, "", now_};
    std::optional<Result<Appointment>> r;
    store_->write_sync([&](store::WriteTx& tx) {
      r = booking::attempt(tx, [&] { return booking::cancel(tx, c); });
    });
    return *r;
  };
  EXPECT_EQ(cancel(7).error().code, ErrorCode::kVersionMismatch);
  auto ok = cancel(1);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->status, AppointmentStatus::kCancelled);
  EXPECT_EQ(ok->version, 2);
  EXPECT_EQ(cancel(std::nullopt).error().code, ErrorCode::kConflict);
  EXPECT_TRUE(book({{staff_[0], cut_, at("2026-12-01T09:00:00Z"), std::nullopt}}).ok());
}

// Group commit: a write that throws is undone alone; its batch neighbours commit.
TEST_F(StoreTest, FailingWriteDoesNotUndoItsBatchNeighbours) {
  constexpr int kN = 64;
  std::vector<std::promise<std::exception_ptr>> done(kN);
  for (int i = 0; i < kN; ++i) {
    booking::Book b;
    b.company_id = company_;
    b.customer = booking::CustomerInput{"+49301234567", "X", ""};
    b.segments = {
        {staff_[i % 3], cut_, at("2026-12-01T06:00:00Z") + Minutes{60 * (i / 3)}, std::nullopt}};
    b.now = now_;
    store_->write(
        [b, i](store::WriteTx& tx) {
          auto r = booking::attempt(tx, [&] { return booking::book(tx, b); });
          if (i % 5 == 0) throw std::runtime_error("injected");
          ASSERT_TRUE(r.ok());
        },
        [&done, i](std::exception_ptr e) { done[i].set_value(e); });
  }
  int failed = 0;
  for (int i = 0; i < kN; ++i) failed += done[i].get_future().get() ? 1 : 0;
  EXPECT_EQ(failed, (kN + 4) / 5);
  std::vector<Appointment> all;
  store_->read([&](store::ReadTx& tx) {
    store::AppointmentFilter f;
    f.limit = 1000;
    all = tx.appointments(company_, f);
  });
  EXPECT_EQ(static_cast<int>(all.size()), kN - failed);
}

// Many threads, one slot: exactly one booking wins (I1 by construction of the write path).
TEST_F(StoreTest, ConcurrentBookingsOfOneSlotHaveOneWinner) {
  constexpr int kThreads = 32;
  std::atomic<int> won{0}, lost{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([&, t] {
      auto r =
          book({{staff_[0], cut_, at("2026-12-01T09:00:00Z") + Minutes{t % 4 * 10}, std::nullopt}});
      if (r.ok()) {
        ++won;
      } else {
        ++lost;
        EXPECT_EQ(r.error().code, ErrorCode::kSlotUnavailable);
      }
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(won.load(), 1);
  EXPECT_EQ(lost.load(), kThreads - 1);
  for (const auto& c : store_->audit()) EXPECT_EQ(c.violations, 0) << c.name;
}
