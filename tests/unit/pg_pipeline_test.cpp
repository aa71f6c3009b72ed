// The PostgreSQL connection's pipelines and PgTx's queued statements, against a real server:
// APPOINTD_PG_URL (set by scripts/pg_tmp.sh, as ./test.sh does); skipped without it.
#include <gtest/gtest.h>

#include <unistd.h>
#include <cstdlib>
#include <memory>
#include <string>

#include "booking/appointments.h"
#include "booking/attempt.h"
#include "domain/conflict.h"
#include "pg_test_db.h"
#include "store/postgres/catalog.h"
#include "store/postgres/migrate.h"
#include "store/postgres/pg.h"
#include "store/postgres/pg_tx.h"
#include "store/postgres/retry.h"
#include "store/postgres/sql.h"

using namespace appointd;
using namespace appointd::store::postgres;

namespace {

constexpr Statement kInsertT{"t_insert", "INSERT INTO pipe_t(k) VALUES ($1::int)"};
constexpr Statement kCountT{"t_count", "SELECT count(*) FROM pipe_t"};
constexpr Statement kFail{"t_fail", "SELECT 1 / ($1::int - $1::int)"};  // 22012

std::string base_url() {
  return pgtest::pg_base_url();
}

// A database of its own per test binary run, with appointd's schema.
std::string schema_url() {
  static const std::string url = pgtest::pg_schema_url("appointd_unit_");
  return url;
}

class PgPipeline : public ::testing::Test {
 protected:
  void SetUp() override {
    if (base_url().empty()) GTEST_SKIP() << "no APPOINTD_PG_URL";
    c_ = std::make_unique<Connection>(base_url(), std::vector<std::string>{});
    c_->exec("CREATE TEMP TABLE pipe_t (k int PRIMARY KEY)");
  }
  long count() { return static_cast<long>(c_->run(kCountT).i64(0, 0)); }
  std::unique_ptr<Connection> c_;
};

TEST_F(PgPipeline, QueuedStatementsTravelWithTheNextResult) {
  c_->defer("BEGIN");
  c_->defer(kInsertT, Params().add(1));
  c_->defer(kInsertT, Params().add(2));
  EXPECT_EQ(c_->queued(), 3u);
  EXPECT_EQ(count(), 2);  // one round trip: BEGIN, both inserts, the count
  EXPECT_EQ(c_->queued(), 0u);
  EXPECT_TRUE(c_->in_transaction());
  c_->commit();
  EXPECT_FALSE(c_->in_transaction());
  EXPECT_EQ(count(), 2);
}

TEST_F(PgPipeline, ErrorOfAQueuedStatementSurfacesWithItsSqlstateAndName) {
  c_->defer("BEGIN");
  c_->defer(kInsertT, Params().add(1));
  c_->defer(kInsertT, Params().add(1));  // 23505
  c_->defer(kInsertT, Params().add(3));  // skipped
  try {
    c_->run(kCountT);
    FAIL() << "no error";
  } catch (const PgError& e) {
    EXPECT_EQ(e.sqlstate(), "23505");
    EXPECT_EQ(e.constraint(), "pipe_t_pkey");
    EXPECT_NE(std::string(e.what()).find("t_insert"), std::string::npos) << e.what();
    EXPECT_FALSE(e.connection_lost());
  }
  EXPECT_TRUE(c_->ok());
  EXPECT_TRUE(c_->in_transaction());  // aborted, not ended
  c_->rollback_quietly();
  EXPECT_FALSE(c_->in_transaction());
  EXPECT_EQ(count(), 0);
}

TEST_F(PgPipeline, AFailureBeforeCommitMeansCommitDidNotRun) {
  c_->defer("BEGIN");
  c_->defer(kInsertT, Params().add(1));
  c_->defer(kFail, Params().add(7));
  try {
    c_->commit();
    FAIL() << "no error";
  } catch (const PgError& e) {
    EXPECT_EQ(e.sqlstate(), "22012");
    EXPECT_NE(std::string(e.what()).find("t_fail"), std::string::npos) << e.what();
  }
  c_->rollback_quietly();
  EXPECT_EQ(count(), 0);
  // The connection is fine afterwards, and the statement that failed is still usable.
  c_->defer(kInsertT, Params().add(5));
  c_->flush();
  EXPECT_EQ(count(), 1);
  EXPECT_THROW(c_->run(kFail, Params().add(1)), PgError);
  EXPECT_EQ(count(), 1);
}

TEST_F(PgPipeline, StatementsPreparedInAnAbortedPipelineArePreparedAgain) {
  constexpr Statement kLate{"t_late", "SELECT $1::int + 1"};
  c_->defer(kFail, Params().add(1));
  EXPECT_THROW(c_->run(kLate, Params().add(1)), PgError);  // its Parse was skipped
  EXPECT_EQ(c_->run(kLate, Params().add(1)).i64(0, 0), 2);
  // Twice in one pipeline: one Parse.
  c_->defer(kInsertT, Params().add(8));
  c_->defer(kInsertT, Params().add(9));
  EXPECT_EQ(count(), 2);
}

TEST_F(PgPipeline, ElidableReleaseIsDroppedAtCommitAndRollbackToUndoes) {
  c_->defer("BEGIN");
  c_->defer("SAVEPOINT sp1");
  c_->defer(kInsertT, Params().add(1));
  c_->defer("ROLLBACK TO sp1");
  c_->defer("RELEASE sp1", true);
  c_->defer("SAVEPOINT sp1");
  c_->defer(kInsertT, Params().add(2));
  c_->defer("RELEASE sp1", true);
  c_->commit();
  EXPECT_EQ(count(), 1);
  EXPECT_EQ(c_->run(Statement{"t_k", "SELECT k FROM pipe_t"}).i64(0, 0), 2);
}

TEST_F(PgPipeline, ErrorsKeepTheRetryRules) {
  // A deadlock-like error of a queued statement (raised here) is retryable, whether or not the
  // round trip carried COMMIT: COMMIT did not run.
  constexpr Statement kRaise{"t_raise",
                             "DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = '40P01'; END $$"};
  c_->defer("BEGIN");
  c_->defer(kRaise, Params());
  try {
    c_->commit();
    FAIL();
  } catch (const PgError& e) {
    EXPECT_EQ(e.sqlstate(), "40P01");
    EXPECT_TRUE(retryable(e));
  }
  c_->rollback_quietly();
}

// PgTx over the schema: queued writes, reserved ids, savepoints and their lock bookkeeping.
class PgTxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (base_url().empty()) GTEST_SKIP() << "no APPOINTD_PG_URL";
    c_ =
        std::make_unique<Connection>(schema_url(), std::vector<std::string>{"SET TIME ZONE 'UTC'"});
    PgTx tx(*c_, true);  // begins at its first lock or write
    company_ = tx.insert_company({0, "Co", "Europe/Berlin", "DE", now_, {}});
    branch_ = tx.insert_branch({0, company_, "B", "Europe/Berlin", "", now_});
    service_ = tx.insert_service({0, company_, "Cut", 30, 0, 0, now_});
    Staff st;
    st.company_id = company_;
    st.branch_id = branch_;
    st.name = "S";
    st.service_ids = {service_};
    st.created_at = now_;
    staff_ = tx.insert_staff(st);
    customer_ = tx.upsert_customer({0, company_, "+49301111111", "C", "", "api", now_}).customer.id;
    tx.commit();
  }

  Id book(PgTx& tx, Instant from) {
    Appointment a;
    a.company_id = company_;
    a.branch_id = branch_;
    a.customer_id = customer_;
    a.version = 1;
    a.source = "api";
    a.created_at = a.updated_at = now_;
    a.id = tx.insert_appointment(a);
    Segment s;
    s.appointment_id = a.id;
    s.staff_id = staff_;
    s.service_id = service_;
    s.time = s.blocked = {from, from + std::chrono::minutes(30)};
    s.id = tx.insert_segment(company_, s);
    EXPECT_GT(s.id, 0);
    return a.id;
  }

  Instant now_ = from_unix(1893456000);
  std::unique_ptr<Connection> c_;
  Id company_ = 0, branch_ = 0, service_ = 0, staff_ = 0, customer_ = 0;
};

TEST_F(PgTxTest, FreeCheckReservesIdsAndTheInsertsNeedNoRoundTrip) {
  const Instant t = now_ + std::chrono::hours(24);
  PgTx tx(*c_, true);  // begins at its first lock or write
  Id ids[] = {staff_};
  tx.lock_staff(ids);
  EXPECT_TRUE(tx.blocks(staff_, {t, t + std::chrono::minutes(30)}, 0, now_).empty());
  auto cu = tx.upsert_customer({0, company_, "+49301111111", "", "", "api", now_});
  EXPECT_FALSE(cu.created);
  EXPECT_EQ(cu.customer.id, customer_);
  EXPECT_EQ(tx.delete_expired_holds(staff_, now_), 0);  // done by blocks() already
  const size_t before = c_->queued();
  Id id = book(tx, t);
  EXPECT_EQ(c_->queued(), before + 1);  // both INSERTs queued as one statement, ids known
  tx.commit();
  PgTx rd(*c_, false);
  auto a = rd.appointment(company_, id);
  ASSERT_TRUE(a);
  ASSERT_EQ(a->segments.size(), 1u);
  EXPECT_EQ(a->segments[0].time.from, t);
}

TEST_F(PgTxTest, OverlapOfAQueuedSegmentSurfacesAsExclusionViolation) {
  const Instant t = now_ + std::chrono::hours(48);
  {
    PgTx tx(*c_, true);  // begins at its first lock or write
    book(tx, t);
    tx.commit();
  }
  PgTx tx(*c_, true);  // begins at its first lock or write
  // A free check elsewhere reserves ids (in the upsert's round trip); the overlapping INSERTs
  // below are then queued, and the constraint's error comes with COMMIT.
  Id ids[] = {staff_};
  tx.lock_staff(ids);
  const Instant free = t + std::chrono::hours(5);
  EXPECT_TRUE(tx.blocks(staff_, {free, free + std::chrono::minutes(30)}, 0, now_).empty());
  tx.upsert_customer({0, company_, "+49301111111", "", "", "api", now_});
  const size_t before = c_->queued();
  book(tx, t + std::chrono::minutes(15));
  EXPECT_EQ(c_->queued(), before + 1);
  try {
    tx.commit();
    FAIL() << "committed an overlap";
  } catch (const PgError& e) {
    EXPECT_EQ(e.sqlstate(), "23P01");
    EXPECT_TRUE(retryable(e));
  }
  c_->rollback_quietly();
  EXPECT_FALSE(c_->in_transaction());
}

TEST_F(PgTxTest, EventAndOutboxRowFuseButNotAcrossASavepoint) {
  PgTx tx(*c_, true);  // begins at its first lock or write
  tx.append_event({0, company_, 0, "x", "{}", now_});
  const size_t before = c_->queued();
  tx.savepoint();
  tx.append_event({0, company_, 0, "y", "{}", now_});
  EXPECT_EQ(c_->queued(), before + 2);  // SAVEPOINT, event
  tx.release_savepoint();
  Id a = book(tx, now_ + std::chrono::hours(200));  // RETURNING: no ids reserved
  const size_t mid = c_->queued();
  tx.append_event({0, company_, a, "appointment.booked", "{}", now_});
  tx.enqueue_sync(a, "create", 1, now_);
  EXPECT_EQ(c_->queued(), mid + 1);
  tx.commit();
  PgTx rd(*c_, false);
  EXPECT_EQ(rd.events(company_, a).size(), 1u);
}

TEST_F(PgTxTest, SavepointRollbackUndoesQueuedWritesAndForgetsLocksAndPurges) {
  const Instant t = now_ + std::chrono::hours(72);
  PgTx tx(*c_, true);  // begins at its first lock or write
  tx.savepoint();
  Id ids[] = {staff_};
  tx.lock_staff(ids);
  EXPECT_TRUE(tx.blocks(staff_, {t, t + std::chrono::minutes(30)}, 0, now_).empty());
  Id undone = book(tx, t);
  tx.rollback_savepoint();
  // The lock was taken before the level wrote (its SAVEPOINT came later): it stays.
  tx.savepoint();
  tx.append_event({0, company_, 0, "x", "{}", now_});
  tx.lock_staff(ids);  // still held: no statement
  tx.release_savepoint();
  tx.commit();
  PgTx rd(*c_, false);
  EXPECT_FALSE(rd.appointment(company_, undone));
  EXPECT_TRUE(rd.blocks(staff_, {t, t + std::chrono::minutes(30)}, 0, now_).empty());
}

TEST_F(PgTxTest, LockTakenInsideARolledBackSavepointIsTakenAgain) {
  PgTx tx(*c_, true);  // begins at its first lock or write
  tx.savepoint();
  tx.append_event({0, company_, 0, "x", "{}", now_});  // the SAVEPOINT goes first
  Id ids[] = {staff_};
  tx.lock_staff(ids);
  c_->flush();
  tx.rollback_savepoint();  // releases the row lock
  const size_t before = c_->queued();
  tx.lock_staff(ids);
  EXPECT_EQ(c_->queued(), before + 1);  // queued again
  // And an expired-hold deletion logged inside the rolled-back level is forgotten too.
  tx.commit();
}

// The probe (probe.h): a booking whose time is taken is answered from an unlocked read, in no
// transaction at all; a free time is then checked under the lock and booked as usual.
TEST_F(PgTxTest, ProbeAnswersAConflictWithoutLockOrTransaction) {
  const Instant t = now_ + std::chrono::hours(96);
  {
    PgTx tx(*c_, true);
    book(tx, t);
    tx.commit();
  }
  ProbePolicy always(ProbePolicy::Mode::kAlways);
  Id ids[] = {staff_};
  // The sequences' next values, read on a connection of their own without taking one.
  Connection other(schema_url(), {});
  static constexpr Statement kNextIds{
      "test_next_ids",
      "SELECT (SELECT last_value + is_called::int FROM appointments_id_seq), "
      "(SELECT last_value + is_called::int FROM segments_id_seq)"};
  auto next_ids = [&] {
    auto r = other.run(kNextIds);
    return std::pair{r.i64(0, 0), r.i64(0, 1)};
  };
  {
    PgTx tx(*c_, true, nullptr, nullptr, &always);
    tx.savepoint();
    tx.expect_booking({Customer{0, company_, "+49301111111", "", "", "api", now_}, 1, 0});
    tx.lock_staff(ids);
    const auto before = next_ids();
    auto found = tx.blocks(staff_, {t, t + std::chrono::minutes(30)}, 0, now_);
    ASSERT_EQ(found.size(), 1u);
    EXPECT_EQ(next_ids(), before);       // a conflict spends no ids
    EXPECT_FALSE(c_->in_transaction());  // no BEGIN, no lock, no upsert sent
    EXPECT_EQ(c_->queued(), 0u);
    // Writing after all (the caller did not count the block as a conflict) is refused: the
    // store runs the write again without the probe.
    EXPECT_THROW(tx.append_event({0, company_, 0, "x", "{}", now_}), ProbeMissed);
    tx.rollback_savepoint();
    tx.commit();
    EXPECT_FALSE(c_->in_transaction());
  }
  {
    // Free, for a returning customer: the probe looked the customer up and reserved the ids;
    // the lock and the locked check wait for the INSERTs and travel with them.
    PgTx tx(*c_, true, nullptr, nullptr, &always);
    tx.savepoint();
    const Customer cu{0, company_, "+49301111111", "", "", "api", now_};
    tx.expect_booking({cu, 1, 0});
    tx.lock_staff(ids);
    const Instant free = t + std::chrono::hours(2);
    EXPECT_TRUE(tx.blocks(staff_, {free, free + std::chrono::minutes(30)}, 0, now_).empty());
    EXPECT_FALSE(c_->in_transaction());
    EXPECT_EQ(tx.upsert_customer(cu).customer.id, customer_);  // no statement
    EXPECT_EQ(c_->queued(), 0u);
    Id id = book(tx, free);
    tx.release_savepoint();
    tx.commit();
    PgTx rd(*c_, false);
    c_->defer("BEGIN");
    EXPECT_TRUE(rd.appointment(company_, id));
    c_->commit();
  }
}

TEST(ProbePolicyTest, ProbesWhileConflictsAreCommon) {
  ProbePolicy p;
  EXPECT_FALSE(p.probe_first());
  for (int i = 0; i < 200; ++i) p.record(true);
  EXPECT_TRUE(p.probe_first());
  for (int i = 0; i < 200; ++i) p.record(false);
  EXPECT_FALSE(p.probe_first());
  EXPECT_FALSE(ProbePolicy(ProbePolicy::Mode::kNever).probe_first());
  EXPECT_TRUE(ProbePolicy(ProbePolicy::Mode::kAlways).probe_first());
}

// The round trips of a booking, the cost the PostgreSQL store is built around (DESIGN.md):
// with the catalog copied and checked in passing, and the probe while conflicts are common.
TEST_F(PgTxTest, RoundTripsOfABooking) {
  CatalogCache catalog;
  ProbePolicy always(ProbePolicy::Mode::kAlways), never(ProbePolicy::Mode::kNever);
  const Instant t = now_ + std::chrono::hours(120);
  auto run = [&](ProbePolicy& probe, Instant at, const char* phone) {
    booking::Book b;
    b.company_id = company_;
    b.customer = booking::CustomerInput{phone, "C", "", true};
    b.segments = {{staff_, service_, at, std::nullopt}};
    b.now = now_;
    const size_t before = c_->round_trips();
    PgTx tx(*c_, true, nullptr, &catalog, &probe);
    auto r = booking::attempt(tx, [&] { return booking::book(tx, b); });
    tx.commit();
    EXPECT_FALSE(c_->in_transaction());
    return std::make_pair(std::move(r), c_->round_trips() - before);
  };
  {
    auto [r, trips] = run(never, t, "+49301111111");  // loads the copy: one more
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(trips, 3u);
  }
  {
    // Without the probe: [lock, check, savepoint, upsert, ids, version] [inserts, COMMIT].
    auto [r, trips] = run(never, t + std::chrono::hours(1), "+49301111111");
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(trips, 2u);
  }
  {
    // A conflict without the probe: the check, the alternatives' reads, ROLLBACK.
    auto [r, trips] = run(never, t, "+49301111111");
    ASSERT_FALSE(r.ok());
    ASSERT_TRUE(r.error().slot);
    EXPECT_FALSE(r.error().slot->alternatives.empty());
    EXPECT_EQ(trips, 3u);
  }
  {
    // A conflict with the probe: one round trip, no transaction.
    auto [r, trips] = run(always, t, "+49302222222");
    ASSERT_FALSE(r.ok());
    ASSERT_TRUE(r.error().slot);
    EXPECT_FALSE(r.error().slot->alternatives.empty());
    EXPECT_EQ(trips, 1u);
  }
  {
    // A free time with the probe: the probe, then as without it; a new customer.
    auto [r, trips] = run(always, t + std::chrono::hours(2), "+49302222222");
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(trips, 3u);
  }
  {
    // A free time with the probe for a returning customer: the probe (which looked the
    // customer up and reserved the ids), then the lock, the locked check, the INSERTs and
    // COMMIT in one round trip.
    auto [r, trips] = run(always, t + std::chrono::hours(3), "+49302222222");
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(trips, 2u);
  }
  // The conflict above created no customer (its upsert was never sent); the booking did.
  PgTx rd(*c_, false);
  c_->defer("BEGIN");
  EXPECT_TRUE(rd.customer_by_phone(company_, "+49302222222"));
  c_->commit();
}

TEST_F(PgTxTest, AlternativesAreTheSameWhicheverReachIsReadFirst) {
  // A day whose hours around 12:00 are full: the alternatives come from the rest of the day.
  // Read at once (wide) or the near hours first and the rest later (near), or without a
  // policy: the same list, with one round trip more when the rest is read later.
  const Instant noon = now_ + std::chrono::hours(24 * 30 + 12);
  {
    PgTx tx(*c_, true);
    const Id ids[] = {staff_};
    tx.lock_staff(ids);
    for (int m = -7 * 60; m < 7 * 60; m += 30) book(tx, noon + std::chrono::minutes(m));
    // And beyond the near hours: the alternatives must see these too.
    for (int m : {-7 * 60 - 30, 7 * 60, 7 * 60 + 30}) book(tx, noon + std::chrono::minutes(m));
    tx.commit();
  }
  ProbePolicy always(ProbePolicy::Mode::kAlways);
  ReachPolicy wide, near;
  for (int i = 0; i < 200; ++i) {
    wide.record(true);
    near.record(false);
  }
  ASSERT_TRUE(wide.wide_first());
  ASSERT_FALSE(near.wide_first());
  auto run = [&](ReachPolicy* reach, size_t* trips) {
    booking::Book b;
    b.company_id = company_;
    b.customer = booking::CustomerInput{"+49301111111", "C", "", true};
    b.segments = {{staff_, service_, noon, std::nullopt}};
    b.now = now_;
    const size_t before = c_->round_trips();
    PgTx tx(*c_, true, nullptr, nullptr, &always, reach);
    auto r = booking::attempt(tx, [&] { return booking::book(tx, b); });
    tx.commit();
    *trips = c_->round_trips() - before;
    EXPECT_FALSE(r.ok());
    std::vector<Instant> starts;
    if (!r.ok() && r.error().slot)
      for (const auto& a : r.error().slot->alternatives)
        starts.push_back(a.segments.front().time.from);
    return starts;
  };
  size_t t_wide = 0, t_near = 0, t_none = 0;
  const auto a_wide = run(&wide, &t_wide);
  const auto a_near = run(&near, &t_near);
  const auto a_none = run(nullptr, &t_none);
  ASSERT_EQ(a_wide.size(), 5u);
  EXPECT_EQ(a_near, a_wide);
  EXPECT_EQ(a_none, a_wide);
  for (Instant t : a_wide)
    EXPECT_TRUE(t + std::chrono::minutes(30) <= noon - std::chrono::minutes(7 * 60 + 30) ||
                t >= noon + std::chrono::hours(8))
        << "outside every booking, near or far";
  EXPECT_EQ(t_near, t_wide + 1) << "the rest of the day in one more round trip";
  EXPECT_EQ(t_none, t_wide);
}

// A time the probe found free and another transaction took before the lock: the locked check
// that travels with the INSERTs raises kTakenSince, and nothing of the booking commits.
TEST_F(PgTxTest, TimeTakenBetweenProbeAndLockCommitsNothing) {
  CatalogCache catalog;
  ProbePolicy always(ProbePolicy::Mode::kAlways);
  const Instant t = now_ + std::chrono::hours(300);
  booking::Book b;
  b.company_id = company_;
  b.customer = booking::CustomerInput{"+49301111111", "C", "", true};
  b.segments = {{staff_, service_, t, std::nullopt}};
  b.now = now_;
  PgTx tx(*c_, true, nullptr, &catalog, &always);
  tx.savepoint();
  tx.expect_booking({Customer{0, company_, "+49301111111", "C", "", "api", now_}, 1, 0});
  Id ids[] = {staff_};
  tx.lock_staff(ids);
  EXPECT_TRUE(tx.blocks(staff_, {t, t + std::chrono::minutes(30)}, 0, now_).empty());
  EXPECT_FALSE(c_->in_transaction());  // free as of the probe; nothing locked yet
  {
    // Another instance books the time meanwhile.
    Connection other(schema_url(), {"SET TIME ZONE 'UTC'"});
    PgTx tx2(other, true);
    book(tx2, t + std::chrono::minutes(15));
    tx2.commit();
  }
  EXPECT_EQ(tx.upsert_customer({0, company_, "+49301111111", "C", "", "api", now_}).customer.id,
            customer_);
  Id id = book(tx, t);
  tx.release_savepoint();
  try {
    tx.commit();
    FAIL() << "committed over a booking made after the probe";
  } catch (const PgError& e) {
    EXPECT_EQ(e.sqlstate(), sql::kTakenSince);
  }
  c_->rollback_quietly();
  PgTx rd(*c_, false);
  c_->defer("BEGIN");
  EXPECT_FALSE(rd.appointment(company_, id));
  c_->commit();
}

}  // namespace
