// The slot computation (domain/availability.h, domain/schedule.h): table-driven, with the
// expected starts written out, and the time-zone cases of issue 3.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "domain/availability.h"
#include "domain/schedule.h"

using namespace appointd;

namespace {

Instant at(const std::string& s) {
  return *parse_rfc3339(s);
}
const Zone& zone(const char* name) {
  return *find_zone(name);
}
Service svc(int dur, int before = 0, int after = 0) {
  return {1, 1, "s", dur, before, after, {}};
}
WorkingHours wh(int weekday, const char* from, const char* until) {
  auto m = [](const char* s) { return std::stoi(std::string(s, 2)) * 60 + std::stoi(s + 3); };
  return {weekday, m(from), m(until)};
}
std::vector<std::string> utc(const std::vector<Instant>& v) {
  std::vector<std::string> out;
  for (Instant t : v) out.push_back(format_rfc3339(t).substr(11, 5));  // "HH:MM"
  return out;
}
std::vector<std::string> local(const std::vector<Instant>& v, const Zone& z) {
  std::vector<std::string> out;
  for (Instant t : v) out.push_back(format_local(t, z));
  return out;
}
Interval iv(const std::string& from, const std::string& until) {
  return {at(from), at(until)};
}
SlotRules rules(Instant now, int step = 30, int notice = 0, int horizon = 90) {
  return slot_rules({step, notice, horizon}, now);
}

// Monday 2030-01-07 in UTC.
const std::string kDay = "2030-01-07T";
Instant day(const char* hhmm) {
  return at(kDay + hhmm + ":00Z");
}

struct SlotCase {
  const char* name;
  std::vector<WorkingHours> hours;
  Service service;
  std::vector<Interval> time_off;
  std::vector<Interval> busy;
  SlotRules rules;
  Interval window;
  std::vector<std::string> expected;  // starts, "HH:MM" UTC
};

}  // namespace

TEST(Availability, FreeStartsTable) {
  const Instant now = at("2030-01-01T00:00:00Z");
  const std::vector<WorkingHours> week = {wh(0, "09:00", "12:00"), wh(0, "13:00", "15:00")};
  const Interval all{day("00:00"), day("23:59")};
  const SlotCase cases[] = {
      {"empty day",
       week,
       svc(60),
       {},
       {},
       rules(now),
       all,
       {"09:00", "09:30", "10:00", "10:30", "11:00", "13:00", "13:30", "14:00"}},
      {"busy 10:00-10:30",
       week,
       svc(60),
       {},
       {{day("10:00"), day("10:30")}},
       rules(now),
       all,
       {"09:00", "10:30", "11:00", "13:00", "13:30", "14:00"}},
      {"buffers 10/10 around busy 10:00-10:30",
       week,
       svc(60, 10, 10),
       {},
       {{day("10:00"), day("10:30")}},
       rules(now),
       all,
       {"11:00", "13:00", "13:30", "14:00"}},
      {"time off 13:15-13:45",
       week,
       svc(60),
       {{day("13:15"), day("13:45")}},
       {},
       rules(now),
       all,
       {"09:00", "09:30", "10:00", "10:30", "11:00", "14:00"}},
      {"notice: now 09:40 + 30 min",
       week,
       svc(60),
       {},
       {},
       rules(day("09:40"), 30, 30),
       all,
       {"10:30", "11:00", "13:00", "13:30", "14:00"}},
      {"horizon: 1 day from Sunday 10:00",
       week,
       svc(60),
       {},
       {},
       rules(at("2030-01-06T10:00:00Z"), 30, 0, 1),
       all,
       {"09:00", "09:30"}},
      {"window 10:00-13:30",
       week,
       svc(60),
       {},
       {},
       rules(now),
       {day("10:00"), day("13:30")},
       {"10:00", "10:30", "11:00", "13:00"}},
      {"step 45",
       week,
       svc(60),
       {},
       {},
       rules(now, 45),
       all,
       {"09:00", "09:45", "10:30", "13:00", "13:45"}},
      {"adjacent intervals join",
       {wh(0, "09:00", "10:00"), wh(0, "10:00", "11:00")},
       svc(90),
       {},
       {},
       rules(now),
       all,
       {"09:00", "09:30"}},
      {"unscheduled: nothing listed", {}, svc(60), {}, {}, rules(now), all, {}},
      {"other weekday: nothing", {wh(1, "09:00", "17:00")}, svc(60), {}, {}, rules(now), all, {}},
      {"two busy blocks, buffer after 15",
       {wh(0, "09:00", "12:00")},
       svc(30, 0, 15),
       {},
       {{day("09:30"), day("10:00")}, {day("10:45"), day("11:00")}},
       rules(now, 15),
       all,
       {"10:00", "11:00", "11:15", "11:30"}},
  };
  for (const auto& c : cases) {
    auto cal = make_calendar(7, zone("Etc/UTC"), c.hours, c.time_off, c.busy, c.window);
    EXPECT_EQ(utc(free_starts(cal, c.service, c.window, c.rules)), c.expected) << c.name;
    // Every listed start fits; the grid points between them that are not listed do not.
    for (Instant t = c.window.from; t < c.window.until; t += Minutes{15}) {
      bool listed = false;
      for (const auto& e : c.expected) listed |= (kDay + e + ":00Z") == format_rfc3339(t);
      if (listed) {
        EXPECT_TRUE(fits(cal, place(c.service, t), c.rules)) << c.name;
      }
    }
  }
}

TEST(Availability, RuleViolationCodes) {
  const Instant now = day("08:00");
  auto cal = make_calendar(7, zone("Etc/UTC"), {wh(0, "09:00", "12:00")},
                           {{day("11:00"), day("11:30")}}, {}, {day("00:00"), day("23:00")});
  const SlotRules r = rules(now, 15, 60, 1);
  auto code = [&](const char* hhmm, int dur = 30) {
    return rule_violation(cal, place(svc(dur), day(hhmm)), r);
  };
  EXPECT_EQ(code("08:30"), ErrorCode::kTooSoon);  // before now + 60 min
  EXPECT_EQ(rule_violation(cal, place(svc(30), at("2030-01-08T09:00:00Z")), r),
            ErrorCode::kBeyondHorizon);
  EXPECT_EQ(code("09:00", 30), std::nullopt);
  EXPECT_EQ(code("11:45", 30), ErrorCode::kOutsideWorkingHours);  // ends 12:15
  EXPECT_EQ(code("10:45", 30), ErrorCode::kStaffTimeOff);
  // Unscheduled: notice and time off apply (no horizon, any hour).
  auto free = make_calendar(7, zone("Etc/UTC"), {}, {{day("11:00"), day("11:30")}}, {},
                            {day("00:00"), day("23:00")});
  EXPECT_EQ(rule_violation(free, place(svc(30), day("03:00")), r), ErrorCode::kTooSoon);
  EXPECT_EQ(rule_violation(free, place(svc(30), day("22:00")), r), std::nullopt);
  EXPECT_EQ(rule_violation(free, place(svc(30), at("2031-01-01T00:00:00Z")), r), std::nullopt);
  EXPECT_EQ(rule_violation(free, place(svc(30), day("11:10")), r), ErrorCode::kStaffTimeOff);
}

TEST(Schedule, CheckWorkingHours) {
  EXPECT_FALSE(check_working_hours({wh(0, "09:00", "12:00"), wh(0, "13:00", "17:00")}));
  EXPECT_FALSE(check_working_hours({wh(6, "00:00", "24:00")}));
  EXPECT_TRUE(check_working_hours({wh(0, "09:00", "12:00"), wh(0, "11:00", "13:00")}));
  EXPECT_TRUE(check_working_hours({wh(0, "12:00", "09:00")}));
  EXPECT_TRUE(check_working_hours({{7, 0, 60}}));
  EXPECT_TRUE(check_working_hours({{0, 0, 1441}}));
  EXPECT_FALSE(check_settings({15, 0, 90}));
  EXPECT_TRUE(check_settings({0, 0, 90}));
  EXPECT_TRUE(check_settings({15, -1, 90}));
  EXPECT_TRUE(check_settings({15, 0, 0}));
}

// Europe/Berlin, Sunday 2026-03-29: clocks jump from 02:00 CET to 03:00 CEST.
TEST(TimeZones, BerlinSpringForward) {
  const Zone& z = zone("Europe/Berlin");
  const Interval w = iv("2026-03-28T12:00:00Z", "2026-03-29T22:00:00Z");
  // 01:00-04:00 local is two real hours: 00:00Z-02:00Z.
  EXPECT_EQ(working_intervals({wh(6, "01:00", "04:00")}, z, w),
            (std::vector<Interval>{iv("2026-03-29T00:00:00Z", "2026-03-29T02:00:00Z")}));
  // An interval inside the missing hour does not exist.
  EXPECT_TRUE(working_intervals({wh(6, "02:15", "02:45")}, z, w).empty());
  auto cal = make_calendar(1, z, {wh(6, "01:00", "04:00")}, {}, {}, w);
  auto starts = free_starts(cal, svc(60), w, rules(at("2026-03-01T00:00:00Z")));
  EXPECT_EQ(local(starts, z),
            (std::vector<std::string>{"2026-03-29T01:00:00+01:00", "2026-03-29T01:30:00+01:00",
                                      "2026-03-29T03:00:00+02:00"}));
  // A normal day after the switch: 09:00 CEST is 07:00Z.
  EXPECT_EQ(working_intervals({wh(0, "09:00", "10:00")}, z,
                              iv("2026-03-30T00:00:00Z", "2026-03-30T23:00:00Z")),
            (std::vector<Interval>{iv("2026-03-30T07:00:00Z", "2026-03-30T08:00:00Z")}));
}

// Europe/Berlin, Sunday 2026-10-25: clocks go back from 03:00 CEST to 02:00 CET.
TEST(TimeZones, BerlinFallBack) {
  const Zone& z = zone("Europe/Berlin");
  const Interval w = iv("2026-10-24T12:00:00Z", "2026-10-25T22:00:00Z");
  // 01:00-04:00 local is four real hours: 23:00Z (Saturday) to 03:00Z.
  EXPECT_EQ(working_intervals({wh(6, "01:00", "04:00")}, z, w),
            (std::vector<Interval>{iv("2026-10-24T23:00:00Z", "2026-10-25T03:00:00Z")}));
  // 02:00-03:00 happens twice: both passes are working time.
  EXPECT_EQ(working_intervals({wh(6, "02:00", "03:00")}, z, w),
            (std::vector<Interval>{iv("2026-10-25T00:00:00Z", "2026-10-25T02:00:00Z")}));
  auto cal = make_calendar(1, z, {wh(6, "01:00", "04:00")}, {}, {}, w);
  auto starts = free_starts(cal, svc(60), w, rules(at("2026-10-01T00:00:00Z"), 60));
  EXPECT_EQ(local(starts, z),
            (std::vector<std::string>{"2026-10-25T01:00:00+02:00", "2026-10-25T02:00:00+02:00",
                                      "2026-10-25T02:00:00+01:00", "2026-10-25T03:00:00+01:00"}));
}

// Asia/Kolkata is UTC+05:30 all year; Australia/Adelaide is +10:30 in (southern) summer.
TEST(TimeZones, HalfHourOffsets) {
  const Zone& k = zone("Asia/Kolkata");
  const Interval w = iv("2026-12-07T00:00:00Z", "2026-12-08T00:00:00Z");  // a Monday
  auto cal = make_calendar(1, k, {wh(0, "09:00", "10:00")}, {}, {}, w);
  auto starts = free_starts(cal, svc(30), w, rules(at("2026-12-01T00:00:00Z"), 15));
  EXPECT_EQ(utc(starts), (std::vector<std::string>{"03:30", "03:45", "04:00"}));
  EXPECT_EQ(local(starts, k),
            (std::vector<std::string>{"2026-12-07T09:00:00+05:30", "2026-12-07T09:15:00+05:30",
                                      "2026-12-07T09:30:00+05:30"}));
  const Zone& a = zone("Australia/Adelaide");
  EXPECT_EQ(format_local(at("2026-12-06T22:30:00Z"), a), "2026-12-07T09:00:00+10:30");
  EXPECT_EQ(working_intervals({wh(0, "09:00", "17:00")}, a, w),
            (std::vector<Interval>{iv("2026-12-06T22:30:00Z", "2026-12-07T06:30:00Z")}));
}

TEST(TimeZones, NightShiftAcrossMidnightJoins) {
  const Zone& z = zone("Etc/UTC");
  auto v = working_intervals({wh(0, "22:00", "24:00"), wh(1, "00:00", "02:00")}, z,
                             iv("2030-01-07T00:00:00Z", "2030-01-09T00:00:00Z"));
  EXPECT_EQ(v, (std::vector<Interval>{iv("2030-01-07T22:00:00Z", "2030-01-08T02:00:00Z")}));
}

TEST(Availability, CompositeBackToBack) {
  const Zone& z = zone("Etc/UTC");
  const Interval w{day("00:00"), day("23:00")};
  auto a = make_calendar(1, z, {wh(0, "09:00", "12:00")}, {}, {}, w);
  auto b = make_calendar(2, z, {wh(0, "10:00", "12:00")}, {}, {{day("10:30"), day("11:00")}}, w);
  Service s1{11, 1, "a", 30, 0, 0, {}};
  Service s2{12, 1, "b", 30, 0, 0, {}};
  auto seqs = composite_sequences({{s1, {&a}}, {s2, {&b}}}, w, rules(day("00:00")), 3);
  std::vector<std::string> got;
  for (const auto& s : seqs)
    got.push_back(format_rfc3339(s[0].placement.time.from).substr(11, 5) + "/" +
                  format_rfc3339(s[1].placement.time.from).substr(11, 5));
  // b is busy 10:30-11:00, so A at 10:00 (B at 10:30) does not fit.
  EXPECT_EQ(got, (std::vector<std::string>{"09:30/10:00", "10:30/11:00", "11:00/11:30"}));

  // The same staff member twice: the buffer after the first service stays free.
  Service s3{13, 1, "c", 30, 0, 10, {}};
  auto same = composite_sequences({{s3, {&a}}, {s1, {&a}}}, w, rules(day("00:00")), 1);
  ASSERT_EQ(same.size(), 1u);
  EXPECT_EQ(format_rfc3339(same[0][1].placement.time.from), kDay + "09:40:00Z");

  // A choice of staff for the second step: the first that fits is taken.
  auto c = make_calendar(3, z, {wh(0, "09:00", "12:00")}, {}, {}, w);
  auto either = composite_sequences({{s1, {&a}}, {s2, {&b, &c}}}, w, rules(day("00:00")), 1);
  ASSERT_EQ(either.size(), 1u);
  EXPECT_EQ(either[0][1].staff_id, 3);
  EXPECT_EQ(format_rfc3339(either[0][0].placement.time.from), kDay + "09:00:00Z");
}
