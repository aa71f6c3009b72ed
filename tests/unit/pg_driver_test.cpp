// The PostgreSQL store's driver (batch.h) under concurrency, through the Store interface as the
// HTTP layer uses it: many threads book the same few times of a few staff members (merged
// commits, probes missed, overlaps within one merged transaction), then cancel each booking
// twice at once (writes that need a lane of their own, beside merged ones). Every write must be
// answered exactly once, and the database must hold exactly what was acknowledged. Against a
// real server (APPOINTD_PG_URL); skipped without it.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "booking/appointments.h"
#include "booking/attempt.h"
#include "booking/catalog.h"
#include "pg_test_db.h"
#include "store/store.h"

using namespace appointd;
using std::chrono::minutes;

namespace {

std::string schema_url() {
  static const std::string url = pgtest::pg_schema_url("appointd_driver_");
  return url;
}

// Writes in flight, counted down by their completions.
class Pending {
 public:
  void add() {
    std::lock_guard l(mu_);
    ++n_;
  }
  void done() {
    std::lock_guard l(mu_);
    if (--n_ == 0) cv_.notify_all();
  }
  void wait() {
    std::unique_lock l(mu_);
    cv_.wait(l, [&] { return n_ == 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int n_ = 0;
};

TEST(PgDriverTest, ConcurrentBookingsAndCancelsAreEachAnsweredOnceAndStoredExactly) {
  if (pgtest::pg_base_url().empty()) GTEST_SKIP() << "no APPOINTD_PG_URL";
  store::Options o;
  o.url = schema_url();
  o.pg_writers = 1;
  o.pool_size = 6;
  auto st = store::open_store(o);
  const Instant now = from_unix(1893456000);
  const Instant day = now + std::chrono::hours(24 * 3);
  Id company = 0, service = 0;
  std::vector<Id> staff;
  st->write_sync([&](store::WriteTx& tx) {
    company = booking::create_company(tx, {"Co", "Europe/Berlin", "DE", now})->company.id;
    const Id branch = booking::create_branch(tx, {company, "B", std::nullopt, "", now})->id;
    service = booking::create_service(tx, {company, "Cut", 30, 0, 0, now})->id;
    for (int i = 0; i < 3; ++i)
      staff.push_back(booking::create_staff(tx, {company, branch, "S", "", {service}, now})->id);
  });

  // 8 threads x 60 bookings over 3 staff x 12 starts 15 minutes apart (30-minute service):
  // most collide with one another.
  constexpr int kThreads = 8, kEach = 60;
  std::mutex mu;
  std::set<Id> booked;  // acknowledged
  std::atomic<int> answers{0}, conflicts{0}, failures{0};
  Pending pending;
  auto book = [&](int t, int i) {
    booking::Book b;
    b.company_id = company;
    b.customer = booking::CustomerInput{"+4930100" + std::to_string(1000 + (t * kEach + i) % 40),
                                        "C", "", true};
    const int k = (t * 7 + i * 5) % 36;
    b.segments = {
        {staff[static_cast<size_t>(k % 3)], service, day + minutes(15 * (k / 3)), std::nullopt}};
    b.now = now;
    auto out = std::make_shared<std::optional<appointd::Result<Appointment>>>();
    pending.add();
    st->write(
        [out, b](store::WriteTx& tx) {
          *out = booking::attempt(tx, [&] { return booking::book(tx, b); });
        },
        [&, out](std::exception_ptr e) {
          ++answers;
          if (e) {
            ++failures;
          } else if ((*out)->ok()) {
            std::lock_guard l(mu);
            EXPECT_TRUE(booked.insert((*out)->value().id).second) << "one id per booking";
          } else {
            EXPECT_EQ((*out)->error().code, ErrorCode::kSlotUnavailable);
            ++conflicts;
          }
          pending.done();
        });
  };
  {
    std::vector<std::thread> ts;
    for (int t = 0; t < kThreads; ++t)
      ts.emplace_back([&, t] {
        for (int i = 0; i < kEach; ++i) book(t, i);
      });
    for (auto& t : ts) t.join();
    pending.wait();
  }
  EXPECT_EQ(answers.load(), kThreads * kEach);
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(static_cast<int>(booked.size()) + conflicts.load(), kThreads * kEach);
  // 12 starts 15 minutes apart hold at most 6 half-hour bookings per staff member.
  EXPECT_GE(booked.size(), 3u * 4u);
  EXPECT_LE(booked.size(), 3u * 6u);
  for (const auto& c : st->audit()) EXPECT_EQ(c.violations, 0) << c.name << " " << c.detail;
  // What was acknowledged is what is stored.
  std::set<Id> stored;
  st->read([&](store::ReadTx& tx) {
    for (Id s : staff) {
      store::AppointmentFilter f;
      f.staff_id = s;
      for (const auto& a : tx.appointments(company, f))
        if (a.status == AppointmentStatus::kBooked) stored.insert(a.id);
    }
  });
  EXPECT_EQ(stored, booked);

  // Each booking cancelled twice at once, both expecting version 1: exactly one wins.
  std::atomic<int> cancelled{0}, refused{0};
  for (Id id : booked)
    for (int twice = 0; twice < 2; ++twice) {
      auto out = std::make_shared<std::optional<appointd::Result<Appointment>>>();
      pending.add();
      st->write(
          [out, id, company, now](store::WriteTx& tx) {
            *out = booking::attempt(tx, [&] {
              return booking::cancel(tx, {company, id, std::int64_t{1}, "", now});
            });
          },
          [&, out](std::exception_ptr e) {
            EXPECT_FALSE(e);
            if (!e) ((*out)->ok() ? cancelled : refused)++;
            pending.done();
          });
    }
  pending.wait();
  EXPECT_EQ(cancelled.load(), static_cast<int>(booked.size()));
  EXPECT_EQ(refused.load(), static_cast<int>(booked.size()));
  st->read([&](store::ReadTx& tx) {
    for (Id id : booked) {
      auto a = tx.appointment(company, id);
      ASSERT_TRUE(a);
      EXPECT_EQ(a->status, AppointmentStatus::kCancelled);
      EXPECT_EQ(a->version, 2);
    }
  });
}

}  // namespace
