#include <gtest/gtest.h>

#include <date/date.h>

#include "domain/hash.h"
#include "domain/interval.h"
#include "domain/phone.h"
#include "domain/segments.h"
#include "domain/text.h"
#include "domain/time.h"
#include "domain/zone.h"

using namespace appointd;

namespace {
Instant at(const char* s) {
  return *parse_rfc3339(s);
}
Service svc(int dur, int before, int after) {
  return {1, 1, "s", dur, before, after, {}};
}
}  // namespace

TEST(Time, ParsesUtcAndOffsets) {
  EXPECT_EQ(format_rfc3339(at("2026-12-01T09:30:00Z")), "2026-12-01T09:30:00Z");
  EXPECT_EQ(format_rfc3339(at("2026-12-01T09:30:00+01:00")), "2026-12-01T08:30:00Z");
  EXPECT_EQ(format_rfc3339(at("2026-12-01T09:30:00-05:30")), "2026-12-01T15:00:00Z");
  EXPECT_EQ(format_rfc3339(at("2026-12-01T09:30:00.999Z")), "2026-12-01T09:30:00Z");
}

TEST(Time, FormatsEveryInstantAsDateDoes) {
  // The hand-rolled formatter against date's own, over leap years, month ends and 4-digit years.
  for (std::int64_t u = -62135596800; u < 253402300800; u += 7919 * 613) {
    const Instant t{Seconds{u}};
    EXPECT_EQ(format_rfc3339(t), date::format("%Y-%m-%dT%H:%M:%SZ", t)) << u;
  }
  EXPECT_EQ(format_rfc3339(at("2028-02-29T23:59:59Z")), "2028-02-29T23:59:59Z");
  EXPECT_EQ(format_rfc3339(Instant{date::sys_days{date::year{9} / 1 / 1}}), "0009-01-01T00:00:00Z");
}

TEST(Time, AcceptsOnlyInstantsFrom1970To9000) {
  // Outside the window an instant either formats as no RFC 3339 reader accepts (year -1,
  // year 10000) or means nothing anyone books.
  for (const char* s :
       {"0000-01-01T00:00:00+23:59", "9999-12-31T23:59:59-23:59", "1969-12-31T23:59:59Z",
        "9000-01-01T00:00:00Z", "1970-01-01T00:30:00+01:00"})
    EXPECT_FALSE(parse_rfc3339(s).has_value()) << s;
  EXPECT_EQ(to_unix(at("1970-01-01T00:00:00Z")), kMinUnix);
  EXPECT_EQ(to_unix(at("8999-12-31T23:59:59Z")), kMaxUnix - 1);
  // Every accepted instant formats back to a string that parses to itself.
  for (std::int64_t u = kMinUnix; u < kMaxUnix; u += 7919 * 6131)
    EXPECT_EQ(to_unix(at(format_rfc3339(from_unix(u)).c_str())), u);
}

TEST(Text, CountsCharactersNotBytes) {
  EXPECT_EQ(utf8_length(""), 0u);
  EXPECT_EQ(utf8_length("Zoë"), 3u);
  EXPECT_EQ(utf8_length("\xF0\x9F\x98\x80x"), 2u);  // an emoji and x
  EXPECT_TRUE(fits_chars(std::string(200, 'a'), 200));
  std::string umlauts;
  for (int i = 0; i < 200; ++i) umlauts += "ä";
  EXPECT_TRUE(fits_chars(umlauts, 200));
  EXPECT_FALSE(fits_chars(umlauts + "ä", 200));
}

TEST(Time, RejectsBrokenDates) {
  for (const char* s :
       {"", "2026-12-01", "2026-12-01T09:30:00", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z",
        "2026-12-01T24:00:00Z", "2026-12-01T09:60:00Z", "2026-12-01T09:30:00+1:00",
        "2026-12-01T09:30:00Zjunk", "abcd-ef-ghTij:kl:mnZ", "2026-12-01T09:30:00.Z"})
    EXPECT_FALSE(parse_rfc3339(s).has_value()) << s;
}

TEST(Interval, HalfOpen) {
  Interval a{at("2026-01-01T09:00:00Z"), at("2026-01-01T10:00:00Z")};
  Interval b{at("2026-01-01T10:00:00Z"), at("2026-01-01T11:00:00Z")};
  Interval c{at("2026-01-01T09:59:59Z"), at("2026-01-01T10:00:01Z")};
  EXPECT_FALSE(a.overlaps(b));
  EXPECT_FALSE(b.overlaps(a));
  EXPECT_TRUE(a.overlaps(c));
  EXPECT_TRUE(c.overlaps(b));
  EXPECT_TRUE(a.overlaps(a));
  EXPECT_FALSE((Interval{a.from, a.from}).overlaps(a));  // empty overlaps nothing
}

TEST(Segments, BuffersWidenTheBlockedInterval) {
  auto s = plan_segment({7, 1, at("2026-01-01T09:00:00Z"), std::nullopt}, svc(30, 5, 10));
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->time.until, at("2026-01-01T09:30:00Z"));
  EXPECT_EQ(s->blocked.from, at("2026-01-01T08:55:00Z"));
  EXPECT_EQ(s->blocked.until, at("2026-01-01T09:40:00Z"));
  EXPECT_EQ(s->staff_id, 7);
}

TEST(Segments, ExplicitEndMustBeAfterStartAndWithinLimit) {
  auto t = at("2026-01-01T09:00:00Z");
  EXPECT_FALSE(plan_segment({1, 1, t, t}, svc(30, 0, 0)).ok());               // zero length
  EXPECT_FALSE(plan_segment({1, 1, t, t - Minutes{5}}, svc(30, 0, 0)).ok());  // end before
  EXPECT_FALSE(plan_segment({1, 1, t, t + Minutes{12 * 60 + 1}}, svc(30, 0, 0)).ok());
  auto ok = plan_segment({1, 1, t, t + Minutes{12 * 60}}, svc(30, 0, 0));
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->time.length(), Minutes{720});
}

TEST(Segments, CompositeRejectsSelfOverlapOfOneStaff) {
  auto t = at("2026-01-01T09:00:00Z");
  auto a = *plan_segment({1, 1, t, std::nullopt}, svc(30, 0, 10));
  auto b = *plan_segment({1, 1, t + Minutes{30}, std::nullopt}, svc(30, 0, 0));  // in a's buffer
  auto c = *plan_segment({2, 1, t + Minutes{30}, std::nullopt}, svc(30, 0, 0));  // other staff
  auto d = *plan_segment({1, 1, t + Minutes{40}, std::nullopt}, svc(30, 0, 0));  // after buffer
  EXPECT_TRUE(check_composite({a, b}).has_value());
  EXPECT_FALSE(check_composite({a, c}).has_value());
  EXPECT_FALSE(check_composite({a, d}).has_value());
  EXPECT_TRUE(check_composite({}).has_value());
  EXPECT_TRUE(check_composite(std::vector<Segment>(11, c)).has_value());
}

TEST(Segments, ServiceRules) {
  EXPECT_FALSE(check_service(30, 0, 10).has_value());
  EXPECT_TRUE(check_service(0, 0, 0).has_value());
  EXPECT_TRUE(check_service(721, 0, 0).has_value());
  EXPECT_TRUE(check_service(30, -1, 0).has_value());
  EXPECT_TRUE(check_service(30, 0, 241).has_value());
}

TEST(Phone, NormalisesGermanSpellingsToOneE164) {
  for (const char* p : {"+49 30 1234567", "030 1234567", "0049301234567", "+49 (30) 123-4567"})
    EXPECT_EQ(normalize_phone(p, "DE").value_or("?"), "+49301234567") << p;
  EXPECT_EQ(normalize_phone("(212) 555-0100", "US").value_or("?"), "+12125550100");
}

TEST(Phone, RejectsInvalid) {
  for (const char* p : {"", "12", "abc", "+49", "+1 555 0100", "0000000000000000000000000000"})
    EXPECT_FALSE(normalize_phone(p, "DE").has_value()) << p;
}

TEST(Phone, RejectsExtensions) {
  for (const char* p : {"+49 30 1234567 ext. 12", "+49 30 1234567;ext=12", "+49 30 1234567 x12"})
    EXPECT_FALSE(normalize_phone(p, "DE").has_value()) << p;
}

TEST(Zone, KnowsIanaZones) {
  EXPECT_TRUE(is_valid_time_zone("Europe/Berlin"));
  EXPECT_TRUE(is_valid_time_zone("Asia/Kolkata"));
  EXPECT_FALSE(is_valid_time_zone("Mars/Base"));
  EXPECT_FALSE(is_valid_time_zone(""));
}

TEST(Zone, AcceptsOnlyCanonicalNames) {
  EXPECT_TRUE(is_valid_time_zone("America/New_York"));
  EXPECT_TRUE(is_valid_time_zone("UTC"));
  for (const char* z : {"localtime", "posixrules", "US/Eastern", "Asia/Calcutta", "europe/berlin",
                        "Europe/Berlin ", "../etc/passwd"})
    EXPECT_FALSE(is_valid_time_zone(z)) << z;
}

TEST(Hash, Sha256AndConstantTimeCompare) {
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("abc", "abcd"));
  EXPECT_EQ(random_hex(16).size(), 32u);
  EXPECT_NE(random_hex(16), random_hex(16));
}
