// Scheduling over the real SQLite store: rule codes, alternatives under working hours, holds,
// and availability of a branch in another zone than the company.
#include "booking/availability.h"
#include "booking/holds.h"
#include "booking/schedule.h"
#include "store_fixture.h"

using namespace appointd;
using namespace appointd::testing;

namespace {

class SchedulingTest : public StoreTest {
 protected:
  void hours(Id staff, std::vector<WorkingHours> h) {
    store_->write_sync([&](store::WriteTx& tx) {
      ASSERT_TRUE(booking::set_working_hours(tx, {company_, staff, std::move(h)}).ok());
    });
  }
  Result<Appointment> book_at(Id staff, const char* start, Instant now,
                              std::optional<Id> hold = std::nullopt) {
    booking::Book b;
    b.company_id = company_;
    b.customer = booking::CustomerInput{"+49301234567", "X", ""};
    b.segments = {{staff, cut_, at(start), std::nullopt}};
    b.now = now;
    b.hold_id = hold;
    std::optional<Result<Appointment>> r;
    store_->write_sync([&](store::WriteTx& tx) {
      r = booking::attempt(tx, [&] { return booking::book(tx, b); });
    });
    return *r;
  }
  Result<Hold> hold(Id staff, const char* start, int ttl, Instant now, Id company = 0) {
    std::optional<Result<Hold>> r;
    store_->write_sync([&](store::WriteTx& tx) {
      booking::CreateHold c{company ? company : company_, staff, cut_, at(start), ttl, "", now};
      r = booking::attempt(tx, [&] { return booking::create_hold(tx, c); });
    });
    return *r;
  }
  template <class T>
  static ErrorCode code(const Result<T>& r) {
    return r.ok() ? ErrorCode::kForbidden : r.error().code;  // kForbidden: "it was booked"
  }
};

// Minutes of a local "HH:MM".
int hm(int h, int m = 0) {
  return h * 60 + m;
}

}  // namespace

TEST_F(SchedulingTest, RulesRefuseWithTheirOwnCodes) {
  // Tuesday 2026-12-01 and Saturday 2026-11-28 (today), 09:00-12:00 Berlin = 08:00Z-11:00Z.
  hours(staff_[0], {{1, hm(9), hm(12)}, {5, hm(9), hm(12)}});
  store_->write_sync([&](store::WriteTx& tx) {
    ASSERT_TRUE(booking::update_settings(tx, {company_, std::nullopt, 120, std::nullopt}).ok());
    ASSERT_TRUE(booking::add_time_off(tx, {company_,
                                           staff_[0],
                                           {at("2026-12-01T09:00:00Z"), at("2026-12-01T10:00:00Z")},
                                           "dentist"})
                    .ok());
  });
  EXPECT_EQ(code(book_at(staff_[0], "2026-12-01T07:30:00Z", now_)),
            ErrorCode::kOutsideWorkingHours);
  EXPECT_EQ(code(book_at(staff_[0], "2026-12-01T10:45:00Z", now_)),  // ends after 12:00
            ErrorCode::kOutsideWorkingHours);
  auto off = book_at(staff_[0], "2026-12-01T09:15:00Z", now_);
  EXPECT_EQ(code(off), ErrorCode::kStaffTimeOff);
  EXPECT_EQ(off.error().extra["segment_index"], 0);
  EXPECT_EQ(code(book_at(staff_[0], "2026-11-28T08:30:00Z", now_)), ErrorCode::kTooSoon);
  EXPECT_EQ(code(book_at(staff_[0], "2027-06-01T08:00:00Z", now_)), ErrorCode::kBeyondHorizon);
  EXPECT_TRUE(book_at(staff_[0], "2026-12-01T08:00:00Z", now_).ok());
  EXPECT_TRUE(book_at(staff_[0], "2026-11-28T10:00:00Z", now_).ok());  // 2 h notice is met
  // Staff without working hours stay bookable at any hour and beyond the horizon
  // (compatibility), but not before now + notice: nobody books the past.
  EXPECT_TRUE(book_at(staff_[1], "2027-06-01T03:00:00Z", now_).ok());
  EXPECT_EQ(code(book_at(staff_[1], "2026-11-28T08:05:00Z", now_)), ErrorCode::kTooSoon);
  EXPECT_EQ(code(book_at(staff_[1], "2026-11-27T08:05:00Z", now_)), ErrorCode::kTooSoon);
  EXPECT_TRUE(book_at(staff_[1], "2026-11-28T10:05:00Z", now_).ok());
  // Removing all hours makes a staff member unscheduled again.
  hours(staff_[0], {});
  EXPECT_TRUE(book_at(staff_[0], "2026-12-01T20:00:00Z", now_).ok());
}

TEST_F(SchedulingTest, AlternativesRespectWorkingHours) {
  hours(staff_[0], {{1, hm(9), hm(10, 30)}});  // Tuesday 08:00Z-09:30Z
  ASSERT_TRUE(book_at(staff_[0], "2026-12-01T08:00:00Z", now_).ok());
  auto r = book_at(staff_[0], "2026-12-01T08:00:00Z", now_);
  ASSERT_EQ(code(r), ErrorCode::kSlotUnavailable);
  std::vector<std::string> got;
  const auto details = r.error().details();
  for (const auto& a : details["alternatives"])
    got.push_back(std::to_string(a["staff_id"].get<Id>() - staff_[0]) + "@" +
                  a["start"].get<std::string>().substr(11, 5));
  // Same staff on the grid of the working hours (08:45, 09:00: the 10-minute buffer after the
  // booking keeps 08:15 and 08:30 out, 09:15 would end after 10:30 local); the two other
  // (unscheduled) staff at the requested time.
  EXPECT_EQ(got, (std::vector<std::string>{"0@08:45", "1@08:00", "0@09:00", "2@08:00"}));
}

TEST_F(SchedulingTest, HoldBlocksOthersUntilConvertedOrExpired) {
  auto h = hold(staff_[2], "2026-12-02T10:00:00Z", 120, now_);
  ASSERT_TRUE(h.ok()) << h.error().detail;
  EXPECT_EQ(h->expires_at, now_ + Seconds{120});
  // Someone else: the slot is taken by a hold.
  auto other = book_at(staff_[2], "2026-12-02T10:00:00Z", now_);
  ASSERT_EQ(code(other), ErrorCode::kSlotUnavailable);
  EXPECT_EQ(other.error().details()["conflicts"][0]["kind"], "hold");
  EXPECT_EQ(code(hold(staff_[2], "2026-12-02T10:15:00Z", 60, now_)), ErrorCode::kSlotUnavailable);
  // Wrong start for the hold; then the holder converts it.
  EXPECT_EQ(code(book_at(staff_[2], "2026-12-02T10:30:00Z", now_, h->id)),
            ErrorCode::kHoldMismatch);
  auto mine = book_at(staff_[2], "2026-12-02T10:00:00Z", now_, h->id);
  ASSERT_TRUE(mine.ok()) << mine.error().detail;
  store_->read([&](store::ReadTx& tx) { EXPECT_FALSE(tx.hold(company_, h->id)); });
  EXPECT_EQ(code(book_at(staff_[2], "2026-12-02T10:00:00Z", now_, h->id)), ErrorCode::kNotFound);

  // An expired hold blocks nothing, and cannot be converted.
  auto e = hold(staff_[2], "2026-12-03T10:00:00Z", 60, now_);
  ASSERT_TRUE(e.ok());
  const Instant later = now_ + Seconds{61};
  EXPECT_EQ(code(book_at(staff_[2], "2026-12-03T10:00:00Z", later, e->id)),
            ErrorCode::kHoldExpired);
  EXPECT_TRUE(book_at(staff_[2], "2026-12-03T10:00:00Z", later).ok());
  // Released holds free their slot at once.
  auto r = hold(staff_[1], "2026-12-03T12:00:00Z", 900, now_);
  ASSERT_TRUE(r.ok());
  store_->write_sync([&](store::WriteTx& tx) {
    EXPECT_TRUE(booking::release_hold(tx, company_, r->id).ok());
    EXPECT_FALSE(booking::release_hold(tx, company_, r->id).ok());
  });
  EXPECT_TRUE(book_at(staff_[1], "2026-12-03T12:00:00Z", now_).ok());
}

TEST_F(SchedulingTest, HoldOfAnotherCompanyIsNotFound) {
  Id other_hold = 0;
  store_->write_sync([&](store::WriteTx& tx) {
    Id co = booking::create_company(tx, {"Other", "Europe/Berlin", "DE", now_})->company.id;
    Id br = booking::create_branch(tx, {co, "B", std::nullopt, "", now_})->id;
    Id sv = booking::create_service(tx, {co, "Cut", 30, 0, 0, now_})->id;
    Id st = booking::create_staff(tx, {co, br, "S", "", {sv}, now_})->id;
    other_hold =
        booking::create_hold(tx, {co, st, sv, at("2026-12-02T10:00:00Z"), 120, "", now_})->id;
  });
  ASSERT_GT(other_hold, 0);
  EXPECT_EQ(code(book_at(staff_[0], "2026-12-02T10:00:00Z", now_, other_hold)),
            ErrorCode::kNotFound);
}

TEST_F(SchedulingTest, HeldAlternativesDoNotOverlapAndBlockOthers) {
  ASSERT_TRUE(book_at(staff_[0], "2026-12-01T09:00:00Z", now_).ok());
  booking::Book b;
  b.company_id = company_;
  b.customer = booking::CustomerInput{"+49301234568", "Y", ""};
  b.segments = {{staff_[0], cut_, at("2026-12-01T09:00:00Z"), std::nullopt}};
  b.now = now_;
  b.disjoint_alternatives = true;
  nlohmann::json alts;
  int held = 0;
  store_->write_sync([&](store::WriteTx& tx) {
    auto r = booking::attempt(tx, [&] { return booking::book(tx, b); });
    ASSERT_FALSE(r.ok());
    held =
        booking::hold_alternatives(tx, company_, r.error().slot->alternatives, 120, "caller", now_);
    alts = r.error().details()["alternatives"];
  });
  ASSERT_EQ(alts.size(), 5u);
  EXPECT_EQ(held, 5);
  for (const auto& a : alts) {
    ASSERT_TRUE(a.contains("hold_id")) << a.dump();
    // Nobody else can book it; the holder can.
    Id staff = a["staff_id"].get<Id>();
    const std::string start = a["start"].get<std::string>();
    EXPECT_EQ(code(book_at(staff, start.c_str(), now_)), ErrorCode::kSlotUnavailable);
    EXPECT_TRUE(book_at(staff, start.c_str(), now_, a["hold_id"].get<Id>()).ok()) << a.dump();
  }
}

TEST_F(SchedulingTest, BranchInAnotherZoneThanTheCompany) {
  Id staff = 0;
  store_->write_sync([&](store::WriteTx& tx) {
    Id br = booking::create_branch(tx, {company_, "NY", "America/New_York", "", now_})->id;
    staff = booking::create_staff(tx, {company_, br, "N", "", {cut_}, now_})->id;
    // Tuesday 09:00-10:00 New York (EST, -05:00) = 14:00Z-15:00Z; the company is in Berlin.
    ASSERT_TRUE(booking::set_working_hours(tx, {company_, staff, {{1, hm(9), hm(10)}}}).ok());
  });
  std::optional<Result<booking::Availability>> r;
  store_->read([&](store::ReadTx& tx) {
    r = booking::availability(tx, {company_,
                                   cut_,
                                   staff,
                                   {at("2026-12-01T00:00:00Z"), at("2026-12-02T00:00:00Z")},
                                   now_,
                                   {}});
  });
  ASSERT_TRUE(r->ok()) << r->error().detail;
  ASSERT_EQ(r->value().staff.size(), 1u);
  const auto& s = r->value().staff[0];
  std::vector<std::string> got;
  for (Instant t : s.starts) got.push_back(format_local(t, *s.zone));
  EXPECT_EQ(got, (std::vector<std::string>{"2026-12-01T09:00:00-05:00", "2026-12-01T09:15:00-05:00",
                                           "2026-12-01T09:30:00-05:00"}));
  EXPECT_EQ(format_rfc3339(s.starts[0]), "2026-12-01T14:00:00Z");
  // Booking follows the same zone: 09:00 Berlin (08:00Z) is outside New York working hours.
  EXPECT_EQ(code(book_at(staff, "2026-12-01T08:00:00Z", now_)), ErrorCode::kOutsideWorkingHours);
  EXPECT_TRUE(book_at(staff, "2026-12-01T14:00:00Z", now_).ok());
}

TEST_F(SchedulingTest, AvailabilityListsAllStaffOfTheServiceAndHonoursBookings) {
  hours(staff_[0], {{1, hm(9), hm(10)}});                              // 08:00Z-09:00Z
  hours(staff_[1], {{1, hm(9), hm(10, 30)}});                          // 08:00Z-09:30Z
  ASSERT_TRUE(book_at(staff_[1], "2026-12-01T08:00:00Z", now_).ok());  // blocks 08:00-08:40
  std::optional<Result<booking::Availability>> r;
  store_->read([&](store::ReadTx& tx) {
    r = booking::availability(tx, {company_,
                                   cut_,
                                   std::nullopt,
                                   {at("2026-12-01T00:00:00Z"), at("2026-12-02T00:00:00Z")},
                                   now_,
                                   {}});
  });
  ASSERT_TRUE(r->ok());
  const auto& staff = r->value().staff;
  ASSERT_EQ(staff.size(), 3u);
  auto hhmm = [](const std::vector<Instant>& v) {
    std::vector<std::string> out;
    for (Instant t : v) out.push_back(format_rfc3339(t).substr(11, 5));
    return out;
  };
  EXPECT_EQ(hhmm(staff[0].starts), (std::vector<std::string>{"08:00", "08:15", "08:30"}));
  EXPECT_EQ(hhmm(staff[1].starts), (std::vector<std::string>{"08:45", "09:00"}));
  EXPECT_FALSE(staff[2].scheduled);
  EXPECT_TRUE(staff[2].starts.empty());
  // A window over 31 days is refused.
  store_->read([&](store::ReadTx& tx) {
    r = booking::availability(tx, {company_,
                                   cut_,
                                   std::nullopt,
                                   {at("2026-12-01T00:00:00Z"), at("2027-01-02T00:00:00Z")},
                                   now_,
                                   {}});
  });
  EXPECT_FALSE(r->ok());
}
