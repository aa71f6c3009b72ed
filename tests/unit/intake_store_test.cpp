// The phone intake's store methods (issue 14) on both backends: SQLite, and PostgreSQL when
// APPOINTD_PG_URL is set (as ./test.sh does; those variants skip themselves without it):
// routing rows, stored replies, calls with their row lock, a caller's upcoming appointments,
// and a call's holds.
#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

#include "booking/appointments.h"
#include "booking/attempt.h"
#include "booking/catalog.h"
#include "booking/holds.h"
#include "intake/functions.h"
#include "pg_test_db.h"
#include "store/postgres/pg.h"
#include "store/store.h"

using namespace appointd;

namespace {

Instant at(const char* s) {
  return *parse_rfc3339(s);
}

class IntakeStore : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    store::Options o;
    o.durability_full = false;
    if (GetParam() == "postgresql") {
      if (pgtest::pg_base_url().empty()) GTEST_SKIP() << "no APPOINTD_PG_URL";
      static std::atomic<int> n{0};
      const std::string prefix = "appointd_intake_" + std::to_string(n++) + "_";
      pg_db_ = prefix + std::to_string(::getpid());
      o.url = pgtest::pg_schema_url(prefix);
    } else {
      std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
      std::replace(name.begin(), name.end(), '/', '_');
      dir_ = std::filesystem::temp_directory_path() /
             ("appointd-intake-" + std::to_string(::getpid()) + "-" + name);
      std::filesystem::remove_all(dir_);
      std::filesystem::create_directories(dir_);
      o.url = "sqlite:" + (dir_ / "t.db").string();
    }
    store_ = store::open_store(o);
    write([&](store::WriteTx& tx) {
      company_ = booking::create_company(tx, {"Co", "Europe/Berlin", "DE", now_})->company.id;
      branch_ = booking::create_branch(tx, {company_, "B", std::nullopt, "+49301234567", now_})->id;
      cut_ = booking::create_service(tx, {company_, "Cut", 30, 0, 0, now_})->id;
      staff_ = booking::create_staff(tx, {company_, branch_, "Anna", "", {cut_}, now_})->id;
    });
  }
  void TearDown() override {
    store_.reset();
    if (!pg_db_.empty()) {
      store::postgres::Connection admin(pgtest::pg_base_url(), {});
      admin.exec(("DROP DATABASE IF EXISTS " + pg_db_ + " WITH (FORCE)").c_str());
    }
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  void write(const store::WriteFn& fn) { store_->write_sync(fn); }
  void read(const store::ReadFn& fn) { store_->read(fn); }

  Appointment book(Instant start, const std::string& phone, const std::string& call_id = "") {
    booking::Book b;
    b.company_id = company_;
    b.customer = booking::CustomerInput{phone, "X", ""};
    b.segments = {{staff_, cut_, start, std::nullopt}};
    b.call_id = call_id;
    b.source = "phone";
    b.now = now_;
    std::optional<Appointment> a;
    write([&](store::WriteTx& tx) {
      auto r = booking::attempt(tx, [&] { return booking::book(tx, b); });
      ASSERT_TRUE(r.ok()) << r.error().detail;
      a = *r;
    });
    return *a;
  }

  Call skeleton(const std::string& id) {
    Call c;
    c.company_id = company_;
    c.call_id = id;
    c.branch_id = branch_;
    c.from_number = "+4915112345678";
    c.status = "ongoing";
    c.created_at = c.updated_at = now_;
    return c;
  }

  std::filesystem::path dir_;
  std::string pg_db_;
  std::unique_ptr<store::Store> store_;
  Instant now_ = at("2026-11-28T08:00:00Z");
  Id company_ = 0, branch_ = 0, cut_ = 0, staff_ = 0;
};

TEST_P(IntakeStore, BranchesAreFoundByPhoneAndAgentsByCompany) {
  read([&](store::ReadTx& tx) {
    auto b = tx.branches_by_phone("+49301234567", 2);
    ASSERT_EQ(b.size(), 1u);
    EXPECT_EQ(b[0].id, branch_);
    EXPECT_EQ(b[0].company_id, company_);
    EXPECT_TRUE(tx.branches_by_phone("+49309999999", 2).empty());
    EXPECT_TRUE(tx.branches_by_phone("", 2).empty());  // branches without a phone never match
  });
  write([&](store::WriteTx& tx) { tx.replace_agents(company_, {"agent_a", "agent_b"}); });
  write([&](store::WriteTx& tx) { tx.replace_agents(company_, {"agent_b", "agent_c"}); });
  read([&](store::ReadTx& tx) {
    EXPECT_EQ(tx.agents(company_), (std::vector<std::string>{"agent_b", "agent_c"}));
    EXPECT_EQ(tx.agent_company("agent_c"), company_);
    EXPECT_FALSE(tx.agent_company("agent_a"));  // replaced
  });
}

TEST_P(IntakeStore, RepliesAreStoredWithTheirAppointment) {
  const Appointment a = book(at("2026-12-01T09:00:00Z"), "+4915112345678", "call_1");
  write([&](store::WriteTx& tx) {
    tx.insert_intake_reply(
        {company_, "call_1", "book_appointment", "fp1", 1, R"({"result":"ok"})", a.id, now_});
    tx.insert_intake_reply({company_, "call_1", "cancel_appointment", "fp2", 1, "{}", 0, now_});
  });
  read([&](store::ReadTx& tx) {
    auto r = tx.intake_reply(company_, "call_1", "book_appointment", "fp1");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, R"({"result":"ok"})");
    EXPECT_EQ(r->appointment_id, a.id);
    EXPECT_EQ(tx.intake_reply(company_, "call_1", "cancel_appointment", "fp2")->appointment_id, 0);
    EXPECT_FALSE(tx.intake_reply(company_, "call_1", "book_appointment", "fp2"));
    EXPECT_FALSE(tx.intake_reply(company_ + 1, "call_1", "book_appointment", "fp1"));
    EXPECT_EQ(tx.call_appointments(company_, "call_1"), std::vector<Id>{a.id});
    EXPECT_TRUE(tx.call_appointments(company_ + 1, "call_1").empty());
  });
}

TEST_P(IntakeStore, CallsAreInsertedOnceAndUpdatedWhole) {
  Call first;
  write([&](store::WriteTx& tx) { first = tx.lock_call(skeleton("call_9")); });
  EXPECT_EQ(first.status, "ongoing");
  EXPECT_FALSE(first.started_at);
  Call changed = first;
  changed.status = "ended";
  changed.started_at = at("2026-11-28T07:58:00Z");
  changed.ended_at = at("2026-11-28T08:01:30Z");
  changed.summary = "Booked a cut.";
  changed.disconnection_reason = "user_hangup";
  changed.agent_id = "agent_a";
  changed.updated_at = at("2026-11-28T08:02:00Z");
  write([&](store::WriteTx& tx) { tx.update_call(changed); });
  Call again;
  Call other = skeleton("call_9");
  other.status = "registered";
  other.from_number = "+1";
  write([&](store::WriteTx& tx) { again = tx.lock_call(other); });  // exists: not replaced
  EXPECT_EQ(again.status, "ended");
  EXPECT_EQ(again.from_number, "+4915112345678");
  EXPECT_EQ(to_unix(*again.started_at), to_unix(*changed.started_at));
  EXPECT_EQ(to_unix(*again.ended_at), to_unix(*changed.ended_at));
  EXPECT_EQ(again.summary, "Booked a cut.");
  EXPECT_EQ(again.disconnection_reason, "user_hangup");
  EXPECT_EQ(again.agent_id, "agent_a");
  EXPECT_EQ(to_unix(again.created_at), to_unix(now_));
  EXPECT_EQ(to_unix(again.updated_at), to_unix(changed.updated_at));
  read([&](store::ReadTx& tx) {
    EXPECT_TRUE(tx.call(company_, "call_9"));
    EXPECT_FALSE(tx.call(company_ + 1, "call_9"));
  });
}

// One call's writes run one after the other: a second lock_call of the call waits for the
// first transaction (PostgreSQL's row lock; SQLite's single writer).
TEST_P(IntakeStore, OneCallsWritesAreSerialised) {
  write([&](store::WriteTx& tx) { tx.lock_call(skeleton("call_x")); });
  std::atomic<bool> first_done{false}, second_saw_first{false};
  std::atomic<int> in_first{0};
  std::thread a([&] {
    write([&](store::WriteTx& tx) {
      tx.lock_call(skeleton("call_x"));
      in_first = 1;
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      Call c = skeleton("call_x");
      c.summary = "first";
      tx.update_call(c);
      first_done = true;
    });
  });
  while (!in_first) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  write([&](store::WriteTx& tx) {
    Call c = tx.lock_call(skeleton("call_x"));
    second_saw_first = c.summary == "first";
  });
  a.join();
  EXPECT_TRUE(first_done);
  EXPECT_TRUE(second_saw_first) << "the second write ran before the first committed";
}

TEST_P(IntakeStore, UpcomingAppointmentsAreTheCustomersBookedOnesSoonestFirst) {
  const Appointment later = book(at("2026-12-03T09:00:00Z"), "+4915112345678");
  const Appointment sooner = book(at("2026-12-01T09:00:00Z"), "+4915112345678");
  const Appointment gone = book(at("2026-12-02T09:00:00Z"), "+4915112345678");
  book(at("2026-12-01T10:00:00Z"), "+4915199999999");  // someone else's
  write([&](store::WriteTx& tx) {
    ASSERT_TRUE(booking::cancel(tx, {company_, gone.id, std::nullopt, "", now_}).ok());
  });
  read([&](store::ReadTx& tx) {
    auto cu = tx.customer_by_phone(company_, "+4915112345678");
    ASSERT_TRUE(cu);
    auto up = tx.upcoming_appointments(company_, cu->id, now_, 10);
    ASSERT_EQ(up.size(), 2u);
    EXPECT_EQ(up[0].id, sooner.id);
    EXPECT_EQ(up[1].id, later.id);
    ASSERT_EQ(up[0].segments.size(), 1u);
    EXPECT_EQ(up.size(), 2u);
    EXPECT_EQ(tx.upcoming_appointments(company_, cu->id, now_, 1).size(), 1u);
    // Started already: not upcoming.
    EXPECT_EQ(tx.upcoming_appointments(company_, cu->id, at("2026-12-01T09:00:00Z"), 10).size(),
              1u);
    EXPECT_TRUE(tx.upcoming_appointments(company_ + 1, cu->id, now_, 10).empty());
  });
}

TEST_P(IntakeStore, HoldsOfAnOwnerAreTheLiveOnes) {
  write([&](store::WriteTx& tx) {
    for (auto [start, ttl, owner] : {std::tuple{"2026-12-01T09:00:00Z", 120, "call_1"},
                                     {"2026-12-01T10:00:00Z", 10, "call_1"},
                                     {"2026-12-01T11:00:00Z", 120, "call_2"}})
      ASSERT_TRUE(
          booking::create_hold(tx, {company_, staff_, cut_, at(start), ttl, owner, now_}).ok());
  });
  read([&](store::ReadTx& tx) {
    EXPECT_EQ(tx.holds_of_owner(company_, "call_1", now_).size(), 2u);
    auto live = tx.holds_of_owner(company_, "call_1", now_ + Seconds{30});
    ASSERT_EQ(live.size(), 1u);
    EXPECT_EQ(to_unix(live[0].time.from), to_unix(at("2026-12-01T09:00:00Z")));
    EXPECT_EQ(live[0].owner, "call_1");
    EXPECT_TRUE(tx.holds_of_owner(company_, "", now_).empty());
    EXPECT_TRUE(tx.holds_of_owner(company_ + 1, "call_1", now_).empty());
  });
}

// once(): a repeat within the retry window replays the first reply (its function does not run
// again); past the window the same request is a new one, stored beside the first, and the
// call keeps both replies' appointments.
TEST_P(IntakeStore, OnceReplaysWithinTheRetryWindowOnly) {
  const Appointment a = book(at("2026-12-01T09:00:00Z"), "+4915112345678", "call_w");
  const Appointment b = book(at("2026-12-01T10:00:00Z"), "+4915112345678", "");
  intake::CallScope scope;
  scope.route.company.id = company_;
  scope.call_id = "call_w";
  scope.skeleton = skeleton("call_w");
  intake::FunctionRequest f;
  f.name = "cancel_appointment";
  f.call.call_id = "call_w";
  f.args_fingerprint = "fp";
  int runs = 0;
  auto run_at = [&](Instant now, Id appointment) {
    scope.now = now;
    std::string body;
    write([&](store::WriteTx& tx) {
      body = intake::once(tx, scope, f, [&](store::WriteTx&) {
               ++runs;
               intake::Reply r;
               r.result = "run " + std::to_string(runs);
               r.cancelled = true;
               r.appointment_id = appointment;
               return r;
             }).body;
    });
    return body;
  };
  const std::string first = run_at(now_, a.id);
  EXPECT_EQ(run_at(now_ + Seconds{30}, b.id), first);
  EXPECT_EQ(runs, 1);
  const std::string later = run_at(now_ + intake::kRetryWindow + Seconds{1}, b.id);
  EXPECT_EQ(runs, 2);
  EXPECT_NE(later, first);
  EXPECT_EQ(run_at(now_ + intake::kRetryWindow + Seconds{5}, 0), later);  // the latest replays
  EXPECT_EQ(runs, 2);
  read([&](store::ReadTx& tx) {
    EXPECT_EQ(tx.intake_reply(company_, "call_w", f.name, "fp")->seq, 2);
    auto ids = tx.call_appointments(company_, "call_w");
    EXPECT_EQ(ids, (std::vector<Id>{a.id, b.id}));
  });
}

INSTANTIATE_TEST_SUITE_P(Backends, IntakeStore, ::testing::Values("sqlite", "postgresql"));

}  // namespace
