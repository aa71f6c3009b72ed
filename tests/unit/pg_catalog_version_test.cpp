// companies.catalog_version (migration 003) against a real server: every change of a catalog row
// of a company (settings, branches, services, staff, staff_services, working_hours, time_off),
// by whatever SQL, raises that company's version and no other's; the booking path's writes and
// its staff row locks raise nothing. APPOINTD_PG_URL (set by scripts/pg_tmp.sh, as ./test.sh
// does); skipped without it.
#include <gtest/gtest.h>

#include <unistd.h>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>

#include "pg_test_db.h"
#include "store/postgres/migrate.h"
#include "store/postgres/pg.h"

using namespace appointd;
using namespace appointd::store::postgres;

namespace {

using Id = std::int64_t;

constexpr Statement kVersion{"cv_version", "SELECT catalog_version FROM companies WHERE id = $1"};
constexpr Statement kInsCompany{"cv_ins_company",
                                "INSERT INTO companies(name, timezone, country, created_at) "
                                "VALUES ($1, 'Europe/Berlin', 'DE', now()) RETURNING id"};
constexpr Statement kSettings{"cv_settings",
                              "UPDATE companies SET slot_step_minutes = $2 WHERE id = $1"};
constexpr Statement kNoopCompany{"cv_noop_company",
                                 "UPDATE companies SET name = name WHERE id = $1"};
constexpr Statement kExplicitBump{"cv_explicit_bump",
                                  "UPDATE companies SET catalog_version = catalog_version + 1 "
                                  "WHERE id = $1 RETURNING catalog_version"};
constexpr Statement kLowerVersion{"cv_lower",
                                  "UPDATE companies SET catalog_version = 0 WHERE id = $1"};

constexpr Statement kInsBranch{"cv_ins_branch",
                               "INSERT INTO branches(company_id, name, timezone, created_at) "
                               "VALUES ($1, 'B', 'Europe/Berlin', now()) RETURNING id"};
constexpr Statement kUpdBranch{"cv_upd_branch", "UPDATE branches SET phone = $2 WHERE id = $1"};
constexpr Statement kNoopBranch{"cv_noop_branch", "UPDATE branches SET name = name WHERE id = $1"};
constexpr Statement kMoveBranch{"cv_move_branch",
                                "UPDATE branches SET company_id = $2 WHERE id = $1"};
constexpr Statement kDelBranch{"cv_del_branch", "DELETE FROM branches WHERE id = $1"};

constexpr Statement kInsService{"cv_ins_service",
                                "INSERT INTO services(company_id, name, duration_minutes, "
                                "created_at) VALUES ($1, 'Cut', 30, now()) RETURNING id"};
constexpr Statement kUpdService{"cv_upd_service",
                                "UPDATE services SET duration_minutes = 45 WHERE id = $1"};
constexpr Statement kDelService{"cv_del_service", "DELETE FROM services WHERE id = $1"};

constexpr Statement kInsStaff{"cv_ins_staff",
                              "INSERT INTO staff(company_id, branch_id, name, created_at) "
                              "VALUES ($1, $2, 'S', now()) RETURNING id"};
constexpr Statement kUpdStaff{"cv_upd_staff", "UPDATE staff SET active = false WHERE id = $1"};
constexpr Statement kDelStaff{"cv_del_staff", "DELETE FROM staff WHERE id = $1"};
constexpr Statement kLockStaff{"cv_lock_staff", "SELECT id FROM staff WHERE id = $1 FOR UPDATE"};

constexpr Statement kInsStaffService{"cv_ins_ss",
                                     "INSERT INTO staff_services(staff_id, service_id) "
                                     "VALUES ($1, $2)"};
constexpr Statement kUpdStaffService{"cv_upd_ss",
                                     "UPDATE staff_services SET service_id = $3 "
                                     "WHERE staff_id = $1 AND service_id = $2"};
constexpr Statement kDelStaffService{"cv_del_ss", "DELETE FROM staff_services WHERE staff_id = $1"};

constexpr Statement kInsHours{"cv_ins_wh",
                              "INSERT INTO working_hours(staff_id, weekday, start_minute, "
                              "end_minute) VALUES ($1, 1, 540, 1020)"};
constexpr Statement kUpdHours{"cv_upd_wh",
                              "UPDATE working_hours SET end_minute = 960 WHERE staff_id = $1"};
constexpr Statement kDelHours{"cv_del_wh", "DELETE FROM working_hours WHERE staff_id = $1"};
// The staff row is gone when the working hours' triggers run: no company to bump, no error.
constexpr Statement kDelStaffAndHours{"cv_del_staff_wh",
                                      "WITH s AS (DELETE FROM staff WHERE id = $1) "
                                      "DELETE FROM working_hours WHERE staff_id = $1"};

constexpr Statement kInsTimeOff{"cv_ins_to",
                                "INSERT INTO time_off(staff_id, starts_at, ends_at) "
                                "VALUES ($1, now(), now() + interval '1 day') RETURNING id"};
constexpr Statement kUpdTimeOff{"cv_upd_to", "UPDATE time_off SET reason = 'x' WHERE id = $1"};
constexpr Statement kDelTimeOff{"cv_del_to", "DELETE FROM time_off WHERE id = $1"};

constexpr Statement kInsCustomer{"cv_ins_customer",
                                 "INSERT INTO customers(company_id, phone, created_at) "
                                 "VALUES ($1, $2, now()) RETURNING id"};
constexpr Statement kInsAppointment{
    "cv_ins_appointment",
    "INSERT INTO appointments(company_id, branch_id, customer_id, status, created_at, "
    "updated_at) VALUES ($1, $2, $3, 'booked', now(), now()) RETURNING id"};
constexpr Statement kInsSegment{
    "cv_ins_segment",
    "INSERT INTO segments(appointment_id, company_id, staff_id, service_id, starts_at, ends_at, "
    "blocked_from, blocked_until) VALUES ($1, $2, $3, $4, '2030-01-01 10:00Z', "
    "'2030-01-01 10:30Z', '2030-01-01 10:00Z', '2030-01-01 10:30Z')"};
constexpr Statement kInsHold{
    "cv_ins_hold",
    "INSERT INTO holds(company_id, staff_id, service_id, starts_at, ends_at, blocked_from, "
    "blocked_until, expires_at) VALUES ($1, $2, $3, '2030-01-02 10:00Z', '2030-01-02 10:30Z', "
    "'2030-01-02 10:00Z', '2030-01-02 10:30Z', now() + interval '5 minutes') RETURNING id"};
constexpr Statement kCancelAppointment{
    "cv_cancel_appointment",
    "UPDATE appointments SET status = 'cancelled', version = version + 1 WHERE id = $1"};
constexpr Statement kDelHold{"cv_del_hold", "DELETE FROM holds WHERE id = $1"};

std::string base_url() {
  return pgtest::pg_base_url();
}

// A database of its own per test binary run, with appointd's schema.
std::string schema_url() {
  static const std::string url = pgtest::pg_schema_url("appointd_unit_catver_");
  return url;
}

// Two companies: a_ with a branch, a service and a staff member; b_ with the same, to show that
// a change of a_'s catalog leaves b_'s version alone (and the other way round).
class PgCatalogVersion : public ::testing::Test {
 protected:
  void SetUp() override {
    if (base_url().empty()) GTEST_SKIP() << "no APPOINTD_PG_URL";
    c_ =
        std::make_unique<Connection>(schema_url(), std::vector<std::string>{"SET TIME ZONE 'UTC'"});
    a_ = id(kInsCompany, Params().add("A"));
    b_ = id(kInsCompany, Params().add("B"));
    a_branch_ = id(kInsBranch, Params().add(a_));
    b_branch_ = id(kInsBranch, Params().add(b_));
    a_service_ = id(kInsService, Params().add(a_));
    b_service_ = id(kInsService, Params().add(b_));
    a_staff_ = id(kInsStaff, Params().add(a_).add(a_branch_));
    b_staff_ = id(kInsStaff, Params().add(b_).add(b_branch_));
  }

  Id id(const Statement& s, const Params& p) {
    auto r = c_->run(s, p);
    EXPECT_EQ(r.rows(), 1) << s.name;
    return r.i64(0, 0);
  }
  long affected(const Statement& s, const Params& p) { return c_->run(s, p).affected(); }
  std::int64_t version(Id company) { return c_->run(kVersion, Params().add(company)).i64(0, 0); }

  // Runs `f` and expects `company`'s version to have gone up, and the other company's not.
  void expect_bump(Id company, const std::function<void()>& f, const std::string& what) {
    const Id other = company == a_ ? b_ : a_;
    const auto before = version(company), other_before = version(other);
    f();
    EXPECT_GT(version(company), before) << what;
    EXPECT_EQ(version(other), other_before) << what;
  }
  // Runs `f` and expects neither company's version to have moved.
  void expect_no_bump(const std::function<void()>& f, const std::string& what) {
    const auto a = version(a_), b = version(b_);
    f();
    EXPECT_EQ(version(a_), a) << what;
    EXPECT_EQ(version(b_), b) << what;
  }

  std::unique_ptr<Connection> c_;
  Id a_ = 0, b_ = 0, a_branch_ = 0, b_branch_ = 0, a_service_ = 0, b_service_ = 0, a_staff_ = 0,
     b_staff_ = 0;
};

TEST_F(PgCatalogVersion, NewCompanyStartsAtZeroAndItsCatalogRowsBumpIt) {
  const Id c = id(kInsCompany, Params().add("C"));
  EXPECT_EQ(version(c), 0);
  id(kInsBranch, Params().add(c));
  EXPECT_EQ(version(c), 1);
}

TEST_F(PgCatalogVersion, BranchesBumpTheirCompany) {
  Id br = 0;
  expect_bump(
      a_, [&] { br = id(kInsBranch, Params().add(a_)); }, "branch insert");
  expect_bump(
      a_, [&] { EXPECT_EQ(affected(kUpdBranch, Params().add(br).add("+4930")), 1); },
      "branch update");
  expect_bump(
      a_, [&] { EXPECT_EQ(affected(kDelBranch, Params().add(br)), 1); }, "branch delete");
  expect_bump(
      b_, [&] { EXPECT_EQ(affected(kUpdBranch, Params().add(b_branch_).add("+1")), 1); },
      "other company's branch update");
}

TEST_F(PgCatalogVersion, UpdateThatChangesNothingBumpsNothing) {
  expect_no_bump([&] { EXPECT_EQ(affected(kNoopBranch, Params().add(a_branch_)), 1); },
                 "branch no-op update");
  expect_no_bump([&] { EXPECT_EQ(affected(kNoopCompany, Params().add(a_)), 1); },
                 "company no-op update");
}

TEST_F(PgCatalogVersion, RowMovedBetweenCompaniesBumpsBoth) {
  const Id br = id(kInsBranch, Params().add(a_));
  const auto a = version(a_), b = version(b_);
  EXPECT_EQ(affected(kMoveBranch, Params().add(br).add(b_)), 1);
  EXPECT_GT(version(a_), a);
  EXPECT_GT(version(b_), b);
}

TEST_F(PgCatalogVersion, ServicesBumpTheirCompany) {
  Id sv = 0;
  expect_bump(
      a_, [&] { sv = id(kInsService, Params().add(a_)); }, "service insert");
  expect_bump(
      a_, [&] { EXPECT_EQ(affected(kUpdService, Params().add(sv)), 1); }, "service update");
  expect_bump(
      a_, [&] { EXPECT_EQ(affected(kDelService, Params().add(sv)), 1); }, "service delete");
}

TEST_F(PgCatalogVersion, StaffBumpsItsCompany) {
  Id st = 0;
  expect_bump(
      b_, [&] { st = id(kInsStaff, Params().add(b_).add(b_branch_)); }, "staff insert");
  expect_bump(
      b_, [&] { EXPECT_EQ(affected(kUpdStaff, Params().add(st)), 1); }, "staff update");
  expect_bump(
      b_, [&] { EXPECT_EQ(affected(kDelStaff, Params().add(st)), 1); }, "staff delete");
}

TEST_F(PgCatalogVersion, StaffServicesBumpTheCompanyOfTheStaffMember) {
  const Id sv2 = id(kInsService, Params().add(a_));
  expect_bump(
      a_, [&] { EXPECT_EQ(affected(kInsStaffService, Params().add(a_staff_).add(a_service_)), 1); },
      "staff_services insert");
  expect_bump(
      a_,
      [&] {
        EXPECT_EQ(affected(kUpdStaffService, Params().add(a_staff_).add(a_service_).add(sv2)), 1);
      },
      "staff_services update");
  expect_bump(
      a_, [&] { EXPECT_EQ(affected(kDelStaffService, Params().add(a_staff_)), 1); },
      "staff_services delete");
}

TEST_F(PgCatalogVersion, WorkingHoursBumpTheCompanyOfTheStaffMember) {
  expect_bump(
      a_, [&] { EXPECT_EQ(affected(kInsHours, Params().add(a_staff_)), 1); },
      "working_hours insert");
  expect_bump(
      a_, [&] { EXPECT_EQ(affected(kUpdHours, Params().add(a_staff_)), 1); },
      "working_hours update");
  expect_bump(
      a_, [&] { EXPECT_EQ(affected(kDelHours, Params().add(a_staff_)), 1); },
      "working_hours delete");
}

TEST_F(PgCatalogVersion, TimeOffBumpsTheCompanyOfTheStaffMember) {
  Id to = 0;
  expect_bump(
      b_, [&] { to = id(kInsTimeOff, Params().add(b_staff_)); }, "time_off insert");
  expect_bump(
      b_, [&] { EXPECT_EQ(affected(kUpdTimeOff, Params().add(to)), 1); }, "time_off update");
  expect_bump(
      b_, [&] { EXPECT_EQ(affected(kDelTimeOff, Params().add(to)), 1); }, "time_off delete");
}

TEST_F(PgCatalogVersion, ChildRowsDeletedWithTheirStaffMemberNeedNoStaffRow) {
  const Id st = id(kInsStaff, Params().add(a_).add(a_branch_));
  c_->run(kInsHours, Params().add(st));
  expect_bump(
      a_, [&] { EXPECT_EQ(affected(kDelStaffAndHours, Params().add(st)), 1); },
      "staff and its working hours deleted in one statement");
}

TEST_F(PgCatalogVersion, TruncateBumpsEveryCompany) {
  c_->run(kInsTimeOff, Params().add(a_staff_));
  const auto a = version(a_), b = version(b_);
  c_->exec("TRUNCATE time_off");
  EXPECT_GT(version(a_), a);
  EXPECT_GT(version(b_), b);
}

TEST_F(PgCatalogVersion, CompanySettingBumpsAndAnExplicitBumpGoesThrough) {
  expect_bump(
      a_, [&] { EXPECT_EQ(affected(kSettings, Params().add(a_).add(30)), 1); }, "company setting");
  const auto before = version(a_);
  EXPECT_EQ(id(kExplicitBump, Params().add(a_)), before + 1);  // not +2: no recursion
  EXPECT_EQ(version(a_), before + 1);
  // The version never goes down.
  expect_no_bump([&] { EXPECT_EQ(affected(kLowerVersion, Params().add(a_)), 1); },
                 "lowering the version");
  // A setting and an explicit bump in one UPDATE: one step.
  c_->exec("BEGIN");
  const auto v = version(a_);
  c_->exec(("UPDATE companies SET horizon_days = 30, catalog_version = catalog_version + 1 "
            "WHERE id = " +
            std::to_string(a_))
               .c_str());
  EXPECT_EQ(version(a_), v + 1);
  c_->exec("COMMIT");
}

TEST_F(PgCatalogVersion, BumpIsPartOfTheTransaction) {
  const auto before = version(a_);
  c_->exec("BEGIN");
  id(kInsBranch, Params().add(a_));
  EXPECT_GT(version(a_), before);
  c_->exec("ROLLBACK");
  EXPECT_EQ(version(a_), before);
}

TEST_F(PgCatalogVersion, TheBookingPathBumpsNothing) {
  expect_no_bump(
      [&] {
        c_->exec("BEGIN");
        EXPECT_EQ(c_->run(kLockStaff, Params().add(a_staff_)).rows(), 1);
        c_->exec("COMMIT");
      },
      "staff row locked FOR UPDATE");
  expect_no_bump(
      [&] {
        const Id cu = id(kInsCustomer, Params().add(a_).add("+49301234567"));
        const Id ap = id(kInsAppointment, Params().add(a_).add(a_branch_).add(cu));
        c_->run(kInsSegment, Params().add(ap).add(a_).add(a_staff_).add(a_service_));
        const Id ho = id(kInsHold, Params().add(a_).add(a_staff_).add(a_service_));
        EXPECT_EQ(affected(kCancelAppointment, Params().add(ap)), 1);
        EXPECT_EQ(affected(kDelHold, Params().add(ho)), 1);
      },
      "customers, appointments, segments, holds");
}

}  // namespace
