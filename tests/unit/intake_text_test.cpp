// What the phone agent says and understands (src/intake/language.h, src/intake/when.h): spoken
// dates, times, durations and lists in German and English; folding and matching of names; the
// starts, days and parts of the day a caller's agent passes; and how a few starts are picked.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "domain/time.h"
#include "domain/zone.h"
#include "intake/language.h"
#include "intake/when.h"

using appointd::Instant;
using appointd::intake::edit_distance;
using appointd::intake::fold_name;
using appointd::intake::Language;
using appointd::intake::match_name;
using appointd::intake::NameMatch;
using appointd::intake::PartOfDay;
using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

namespace {

const Language kDe = Language::kDe;
const Language kEn = Language::kEn;

date::local_days day(int y, unsigned m, unsigned d) {
  return date::local_days{date::year{y} / date::month{m} / date::day{d}};
}

date::local_seconds at(int y, unsigned m, unsigned d, int h, int mi, int s = 0) {
  return date::local_seconds{day(y, m, d)} + hours{h} + minutes{mi} + seconds{s};
}

Instant utc(const char* rfc3339) {
  return *appointd::parse_rfc3339(rfc3339);
}

const appointd::Zone& berlin() {
  return *appointd::find_zone("Europe/Berlin");
}

// --- language ---

TEST(IntakeLanguage, ParsesAndNamesLanguages) {
  EXPECT_EQ(appointd::intake::parse_language("de"), kDe);
  EXPECT_EQ(appointd::intake::parse_language("en"), kEn);
  for (const char* bad : {"", "DE", "En", "de-DE", "fr", "de "})
    EXPECT_FALSE(appointd::intake::parse_language(bad)) << bad;
  EXPECT_STREQ(appointd::intake::to_string(kDe), "de");
  EXPECT_STREQ(appointd::intake::to_string(kEn), "en");
}

TEST(IntakeLanguageSpoken, DateTime) {
  using appointd::intake::spoken_date_time;
  EXPECT_EQ(spoken_date_time(kDe, at(2026, 12, 8, 14, 30)), "Dienstag, 8. Dezember, 14:30");
  EXPECT_EQ(spoken_date_time(kEn, at(2026, 12, 8, 14, 30)), "Tuesday, December 8, 2:30 PM");
  EXPECT_EQ(spoken_date_time(kDe, at(2026, 3, 1, 9, 5, 59)), "Sonntag, 1. M\u00e4rz, 9:05");
  EXPECT_EQ(spoken_date_time(kEn, at(2026, 3, 1, 0, 0)), "Sunday, March 1, 12 AM");
}

TEST(IntakeLanguageSpoken, Date) {
  using appointd::intake::spoken_date;
  EXPECT_EQ(spoken_date(kDe, day(2026, 12, 8)), "Dienstag, 8. Dezember");
  EXPECT_EQ(spoken_date(kDe, day(2026, 12, 8), true), "Dienstag, 8. Dezember 2026");
  EXPECT_EQ(spoken_date(kEn, day(2026, 12, 8)), "Tuesday, December 8");
  EXPECT_EQ(spoken_date(kEn, day(2026, 12, 8), true), "Tuesday, December 8, 2026");
}

TEST(IntakeLanguageSpoken, EveryWeekdayAndMonth) {
  using appointd::intake::spoken_date;
  const char* de_days[] = {"Montag",  "Dienstag", "Mittwoch", "Donnerstag",
                           "Freitag", "Samstag",  "Sonntag"};
  const char* en_days[] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                           "Friday", "Saturday", "Sunday"};
  for (unsigned i = 0; i < 7; ++i) {  // 2026-12-07 is a Monday
    EXPECT_EQ(spoken_date(kDe, day(2026, 12, 7 + i)),
              std::string(de_days[i]) + ", " + std::to_string(7 + i) + ". Dezember");
    EXPECT_EQ(spoken_date(kEn, day(2026, 12, 7 + i)),
              std::string(en_days[i]) + ", December " + std::to_string(7 + i));
  }
  const char* de_months[] = {"Januar", "Februar", "M\u00e4rz", "April",   "Mai",      "Juni",
                             "Juli",   "August",  "September", "Oktober", "November", "Dezember"};
  const char* en_months[] = {"January", "February", "March",     "April",   "May",      "June",
                             "July",    "August",   "September", "October", "November", "December"};
  for (unsigned m = 1; m <= 12; ++m) {
    EXPECT_TRUE(spoken_date(kDe, day(2027, m, 15), true)
                    .ends_with(std::string(", 15. ") + de_months[m - 1] + " 2027"))
        << m;
    EXPECT_TRUE(spoken_date(kEn, day(2027, m, 15), true)
                    .ends_with(std::string(", ") + en_months[m - 1] + " 15, 2027"))
        << m;
  }
}

TEST(IntakeLanguageSpoken, TimeEnglish) {
  using appointd::intake::spoken_time;
  EXPECT_EQ(spoken_time(kEn, at(2026, 12, 8, 14, 30)), "2:30 PM");
  EXPECT_EQ(spoken_time(kEn, at(2026, 12, 8, 14, 0)), "2 PM");
  EXPECT_EQ(spoken_time(kEn, at(2026, 12, 8, 14, 5)), "2:05 PM");
  EXPECT_EQ(spoken_time(kEn, at(2026, 12, 8, 12, 0)), "12 PM");
  EXPECT_EQ(spoken_time(kEn, at(2026, 12, 8, 12, 45)), "12:45 PM");
  EXPECT_EQ(spoken_time(kEn, at(2026, 12, 8, 0, 0)), "12 AM");
  EXPECT_EQ(spoken_time(kEn, at(2026, 12, 8, 0, 30)), "12:30 AM");
  EXPECT_EQ(spoken_time(kEn, at(2026, 12, 8, 9, 0)), "9 AM");
  EXPECT_EQ(spoken_time(kEn, at(2026, 12, 8, 11, 59)), "11:59 AM");
  EXPECT_EQ(spoken_time(kEn, at(2026, 12, 8, 23, 59, 59)), "11:59 PM");
}

TEST(IntakeLanguageSpoken, TimeGerman) {
  using appointd::intake::spoken_time;
  EXPECT_EQ(spoken_time(kDe, at(2026, 12, 8, 14, 30)), "14:30");
  EXPECT_EQ(spoken_time(kDe, at(2026, 12, 8, 14, 0)), "14:00");
  EXPECT_EQ(spoken_time(kDe, at(2026, 12, 8, 14, 5)), "14:05");
  EXPECT_EQ(spoken_time(kDe, at(2026, 12, 8, 9, 5)), "9:05");
  EXPECT_EQ(spoken_time(kDe, at(2026, 12, 8, 0, 0)), "0:00");
  EXPECT_EQ(spoken_time(kDe, at(2026, 12, 8, 23, 59, 30)), "23:59");
}

TEST(IntakeLanguageSpoken, Duration) {
  using appointd::intake::spoken_duration;
  EXPECT_EQ(spoken_duration(kDe, 30), "30 Minuten");
  EXPECT_EQ(spoken_duration(kDe, 60), "1 Stunde");
  EXPECT_EQ(spoken_duration(kDe, 90), "90 Minuten");
  EXPECT_EQ(spoken_duration(kDe, 120), "2 Stunden");
  EXPECT_EQ(spoken_duration(kEn, 30), "30 minutes");
  EXPECT_EQ(spoken_duration(kEn, 60), "1 hour");
  EXPECT_EQ(spoken_duration(kEn, 90), "90 minutes");
  EXPECT_EQ(spoken_duration(kEn, 120), "2 hours");
  EXPECT_EQ(spoken_duration(kDe, 1), "1 Minute");
  EXPECT_EQ(spoken_duration(kEn, 1), "1 minute");
  EXPECT_EQ(spoken_duration(kEn, 45), "45 minutes");
  EXPECT_EQ(spoken_duration(kEn, 180), "3 hours");
}

TEST(IntakeLanguageSpoken, List) {
  using appointd::intake::spoken_list;
  using V = std::vector<std::string>;
  for (bool alt : {false, true}) {
    EXPECT_EQ(spoken_list(kDe, V{}, alt), "");
    EXPECT_EQ(spoken_list(kEn, V{}, alt), "");
    EXPECT_EQ(spoken_list(kDe, V{"a"}, alt), "a");
    EXPECT_EQ(spoken_list(kEn, V{"a"}, alt), "a");
  }
  EXPECT_EQ(spoken_list(kDe, V{"a", "b"}), "a und b");
  EXPECT_EQ(spoken_list(kEn, V{"a", "b"}), "a and b");
  EXPECT_EQ(spoken_list(kDe, V{"a", "b", "c"}), "a, b und c");
  EXPECT_EQ(spoken_list(kEn, V{"a", "b", "c"}), "a, b and c");
  EXPECT_EQ(spoken_list(kDe, V{"a", "b"}, true), "a oder b");
  EXPECT_EQ(spoken_list(kEn, V{"a", "b"}, true), "a or b");
  EXPECT_EQ(spoken_list(kDe, V{"a", "b", "c"}, true), "a, b oder c");
  EXPECT_EQ(spoken_list(kEn, V{"a", "b", "c"}, true), "a, b or c");
  EXPECT_EQ(spoken_list(kEn, V{"9 AM", "10 AM", "2 PM", "4 PM"}), "9 AM, 10 AM, 2 PM and 4 PM");
}

// --- names ---

TEST(IntakeLanguageFold, AccentsAndTranscriptions) {
  EXPECT_EQ(fold_name("F\u00e4rben"), "farben");
  EXPECT_EQ(fold_name("Faerben"), "farben");
  EXPECT_EQ(fold_name("Farben"), "farben");
  EXPECT_EQ(fold_name("F\u00c4RBEN"), "farben");
  EXPECT_EQ(fold_name("Fa\u0308rben"), "farben");  // decomposed: a + combining diaeresis
  EXPECT_EQ(fold_name("M\u00fcller"), "muller");
  EXPECT_EQ(fold_name("Mueller"), "muller");
  EXPECT_EQ(fold_name("G\u00f6tz"), fold_name("Goetz"));
  EXPECT_EQ(fold_name("Zo\u00eb"), "zo");
  EXPECT_EQ(fold_name("Zoe"), "zo");
  EXPECT_EQ(fold_name("Stra\u00dfe"), "strasse");
  EXPECT_EQ(fold_name("Ren\u00e9 Fran\u00e7ois"), "rene francois");
  EXPECT_EQ(
      fold_name(
          "\u00c0\u00c1\u00c2\u00c3\u00c5 \u00cc\u00cd\u00ce\u00cf \u00d1 \u00d8 \u00dd\u00ff"),
      "aaaaa iiii n o yy");
  EXPECT_EQ(fold_name("\u00e6 \u0153 \u00c6 \u0152"), "a o a o");  // ae, oe, then folded
  EXPECT_EQ(fold_name("\u010cape\u010d \u0141ukasz \u015amig\u0142y \u017dane\u0165a"),
            "capec lukasz smigly zaneta");
  EXPECT_EQ(fold_name("\u0130stanbul \u011e\u0131da"), "istanbul gida");
}

TEST(IntakeLanguageFold, SeparatorsCaseAndInvalidBytes) {
  EXPECT_EQ(fold_name("  Herren-Schnitt (kurz)!! "), "herren schnitt kurz");
  EXPECT_EQ(fold_name("Anna\u00a0Schmidt"), "anna schmidt");    // no-break space
  EXPECT_EQ(fold_name("Anna \u2013 Schmidt"), "anna schmidt");  // en dash
  EXPECT_EQ(fold_name("O\u2019Brien"), "o brien");              // typographic apostrophe
  EXPECT_EQ(fold_name("2 x 3 \u00d7 4"), "2 x 3 4");
  EXPECT_EQ(fold_name("Raum 12B"), "raum 12b");
  EXPECT_EQ(fold_name(""), "");
  EXPECT_EQ(fold_name(" ?! -- "), "");
  EXPECT_EQ(fold_name("Fa\xffr\xc3"
                      "ben"),
            "farben");  // a stray byte, a truncated sequence
  EXPECT_EQ(fold_name("\xc0\xaf"
                      "a"),
            "a");  // overlong
  EXPECT_EQ(fold_name("a\xed\xa0\x80"
                      "b"),
            "ab");                                                               // surrogate
  EXPECT_EQ(fold_name("\u0410\u043d\u043d\u0430"), "\u0410\u043d\u043d\u0430");  // kept as is
}

TEST(IntakeLanguageFold, FoldingTwiceChangesNothing) {
  for (const char* s : {"F\u00e4rben", "Faerben", "Aee Ooe", "Queen", "\u0152uvre", "Zo\u00eb",
                        "Herren-Schnitt", "Stra\u00dfe"})
    EXPECT_EQ(fold_name(fold_name(s)), fold_name(s)) << s;
}

TEST(IntakeLanguageFold, EditDistance) {
  EXPECT_EQ(edit_distance("kitten", "sitting", 10), 3);
  EXPECT_EQ(edit_distance("kitten", "sitting", 3), 3);
  EXPECT_EQ(edit_distance("kitten", "sitting", 2), 3);
  EXPECT_EQ(edit_distance("kitten", "sitting", 0), 1);
  EXPECT_EQ(edit_distance("", "abc", 5), 3);
  EXPECT_EQ(edit_distance("abc", "", 1), 2);
  EXPECT_EQ(edit_distance("abc", "abc", 0), 0);
  EXPECT_EQ(edit_distance("abc", "abd", 0), 1);
  EXPECT_EQ(edit_distance("ab", "ba", 5), 2);
  EXPECT_EQ(edit_distance("a", "abcdefgh", 3), 4);
}

void expect_found(const NameMatch& m, std::size_t i) {
  EXPECT_EQ(m.found, i);
  EXPECT_TRUE(m.ambiguous.empty());
  EXPECT_FALSE(m.suggestion);
}

void expect_ambiguous(const NameMatch& m, const std::vector<std::size_t>& which) {
  EXPECT_FALSE(m.found);
  EXPECT_EQ(m.ambiguous, which);
  EXPECT_FALSE(m.suggestion);
}

void expect_suggestion(const NameMatch& m, std::size_t i) {
  EXPECT_FALSE(m.found);
  EXPECT_TRUE(m.ambiguous.empty());
  EXPECT_EQ(m.suggestion, i);
}

void expect_nothing(const NameMatch& m) {
  EXPECT_FALSE(m.found);
  EXPECT_TRUE(m.ambiguous.empty());
  EXPECT_FALSE(m.suggestion);
}

const std::vector<std::string> kServices = {"Herrenschnitt", "Damenschnitt", "F\u00e4rben",
                                            "Waschen & F\u00f6hnen"};
const std::vector<std::string> kStaff = {"Anna Schmidt", "Anna Meier", "Bernd M\u00fcller",
                                         "Zo\u00eb Weber"};

TEST(IntakeLanguageMatch, Exact) {
  expect_found(match_name("damenschnitt", kServices), 1);
  expect_found(match_name("  Waschen!! ", {"Waschen", "Waschen und Legen"}), 0);
  expect_found(match_name("waschen foehnen", kServices), 3);
  // Exact beats a word that starts another candidate.
  expect_found(match_name("Anna", {"Annabell", "Anna"}), 1);
  expect_found(match_name("bernd muller", kStaff), 2);
}

TEST(IntakeLanguageMatch, WordPrefix) {
  expect_found(match_name("herren", kServices), 0);
  expect_found(match_name("Schmidt", kStaff), 0);
  expect_found(match_name("schmidt anna", kStaff), 0);  // any order
  expect_found(match_name("a schm", kStaff), 0);
  expect_found(match_name("Bernd", kStaff), 2);
  expect_found(match_name("Wasch", kServices), 3);
}

TEST(IntakeLanguageMatch, Ambiguous) {
  expect_ambiguous(match_name("Anna", kStaff), {0, 1});
  expect_ambiguous(match_name("anna", {"Annabell", "Anna Meier", "Bernd"}), {0, 1});
  // Two candidates that fold alike are no exact match of one: they are both meant.
  expect_ambiguous(match_name("Farben", {"F\u00e4rben", "Massage", "Faerben"}), {0, 2});
}

TEST(IntakeLanguageMatch, Substring) {
  expect_found(match_name("schnitt", {"Herrenschnitt", "F\u00e4rben"}), 0);
  expect_ambiguous(match_name("schnitt", kServices), {0, 1});
  expect_found(match_name("ohnen", kServices), 3);  // inside "fohnen"
}

TEST(IntakeLanguageMatch, Suggestion) {
  expect_suggestion(match_name("Herenschnit", kServices), 0);
  expect_suggestion(match_name("Mens hiarcut", {"Colour", "Men's haircut"}), 1);
  expect_suggestion(match_name("Damenschitt", kServices), 1);
  expect_suggestion(match_name("Schmit", kStaff), 0);          // one word of the candidate
  expect_suggestion(match_name("bitte Bernt", kStaff), 2);     // one word of the query
  expect_suggestion(match_name("Ana", {"Anna", "Bernd"}), 0);  // max(1, 3 / 3) = 1
  expect_suggestion(match_name("tom", {"Tim", "Tam"}), 0);     // a tie: the lower index
  // The nearest wins, measured against a candidate's words too.
  expect_suggestion(match_name("Schmitt", {"Schmied", "Anna Schmidt"}), 1);
}

TEST(IntakeLanguageMatch, NothingNear) {
  expect_nothing(match_name("Massage", kServices));
  expect_nothing(match_name("Herrnschnttt", {"Damenschnitt"}));
  expect_nothing(match_name("xy", {"Anna"}));
  expect_nothing(match_name("anna", {}));
  expect_nothing(match_name("a", {"", "!!"}));  // candidates that fold to nothing
}

TEST(IntakeLanguageMatch, EmptyQuery) {
  expect_nothing(match_name("", kServices));
  expect_nothing(match_name("  ?! ", kServices));
  expect_nothing(match_name("\xff", kServices));
}

TEST(IntakeLanguageMatch, AccentsAndTranscriptions) {
  for (const char* q : {"F\u00e4rben", "Farben", "Faerben", "FAERBEN", "f\u00e4rben!"})
    expect_found(match_name(q, kServices), 2);
  expect_found(match_name("F\u00e4rben", {"Schneiden", "Faerben"}), 1);
  expect_found(match_name("Mueller", kStaff), 2);
  expect_found(match_name("Zoe", {"Zo\u00eb", "Zora"}), 0);
  expect_found(match_name("Zoe Weber", kStaff), 3);
  expect_found(match_name("zo\u00eb", kStaff), 3);
}

// --- when ---

TEST(IntakeWhen, ParseStartRfc3339) {
  EXPECT_EQ(appointd::intake::parse_start("2026-12-08T13:30:00Z", berlin()),
            utc("2026-12-08T13:30:00Z"));
  EXPECT_EQ(appointd::intake::parse_start("2026-12-08T14:30:00+01:00", berlin()),
            utc("2026-12-08T13:30:00Z"));
  EXPECT_EQ(appointd::intake::parse_start("2026-12-08T08:30:00-05:00", berlin()),
            utc("2026-12-08T13:30:00Z"));
  EXPECT_EQ(appointd::intake::parse_start("2026-12-08T13:30:00.75Z", berlin()),
            utc("2026-12-08T13:30:00Z"));
  EXPECT_FALSE(appointd::intake::parse_start("2026-12-08T13:30+01:00", berlin()));
  EXPECT_FALSE(appointd::intake::parse_start("1969-12-31T23:59:59Z", berlin()));
}

TEST(IntakeWhen, ParseStartLocal) {
  EXPECT_EQ(appointd::intake::parse_start("2026-12-08T14:30", berlin()),
            utc("2026-12-08T13:30:00Z"));
  EXPECT_EQ(appointd::intake::parse_start("2026-12-08 14:30", berlin()),
            utc("2026-12-08T13:30:00Z"));
  EXPECT_EQ(appointd::intake::parse_start("2026-07-01T09:00:15", berlin()),
            utc("2026-07-01T07:00:15Z"));
  EXPECT_EQ(appointd::intake::parse_start("2026-07-01 09:00:15", berlin()),
            utc("2026-07-01T07:00:15Z"));
  EXPECT_EQ(appointd::intake::parse_start("2024-02-29T00:00", berlin()),
            utc("2024-02-28T23:00:00Z"));
  EXPECT_EQ(appointd::intake::parse_start("2026-12-08T23:59:59", *appointd::find_zone("UTC")),
            utc("2026-12-08T23:59:59Z"));
}

TEST(IntakeWhen, ParseStartInvalid) {
  for (const char* bad :
       {"", "garbage", "2026-12-08", "2026-02-30T10:00", "2026-02-29T10:00", "2026-12-08T24:00",
        "2026-12-08T10:60", "2026-12-08T10:00:60", "2026-12-08t10:00", "2026-12-08  10:00",
        "2026-12-8T10:00", "2026-12-08T1:00", "2026-12-08T10:00:00.5", "2026-12-08T10",
        "2026-13-01T10:00", "2026-12-08T10:00 ", " 2026-12-08T10:00", "1969-12-31T23:59"})
    EXPECT_FALSE(appointd::intake::parse_start(bad, berlin())) << bad;
}

TEST(IntakeWhen, ParseStartDaylightSaving) {
  // 2026-03-29 02:00 CET becomes 03:00 CEST: 02:30 does not exist; it is the transition.
  EXPECT_EQ(appointd::intake::parse_start("2026-03-29T02:30", berlin()),
            utc("2026-03-29T01:00:00Z"));
  EXPECT_EQ(appointd::intake::parse_start("2026-03-29T01:59:59", berlin()),
            utc("2026-03-29T00:59:59Z"));
  EXPECT_EQ(appointd::intake::parse_start("2026-03-29T03:00", berlin()),
            utc("2026-03-29T01:00:00Z"));
  // 2026-10-25 03:00 CEST becomes 02:00 CET: 02:30 happens twice; the first one counts.
  EXPECT_EQ(appointd::intake::parse_start("2026-10-25T02:30", berlin()),
            utc("2026-10-25T00:30:00Z"));
  EXPECT_EQ(appointd::intake::parse_start("2026-10-25T03:00", berlin()),
            utc("2026-10-25T02:00:00Z"));
}

TEST(IntakeWhen, ParseLocalDate) {
  using appointd::intake::parse_local_date;
  EXPECT_EQ(parse_local_date("2026-12-08"), day(2026, 12, 8));
  EXPECT_EQ(parse_local_date("2024-02-29"), day(2024, 2, 29));
  for (const char* bad :
       {"", "2026-02-29", "2026-02-30", "2026-13-01", "2026-00-10", "2026-12-00", "2026-12-8",
        "2026/12/08", "2026-12-08T10:00", " 2026-12-08", "20261208", "garbage!!!"})
    EXPECT_FALSE(parse_local_date(bad)) << bad;
}

TEST(IntakeWhen, ParseBound) {
  using appointd::intake::parse_bound;
  EXPECT_EQ(parse_bound("2026-12-08", berlin(), false), utc("2026-12-07T23:00:00Z"));
  EXPECT_EQ(parse_bound("2026-12-08", berlin(), true), utc("2026-12-08T23:00:00Z"));
  EXPECT_EQ(parse_bound("2026-12-31", berlin(), true), utc("2026-12-31T23:00:00Z"));
  // The day of the spring-forward has 23 hours.
  EXPECT_EQ(parse_bound("2026-03-29", berlin(), false), utc("2026-03-28T23:00:00Z"));
  EXPECT_EQ(parse_bound("2026-03-29", berlin(), true), utc("2026-03-29T22:00:00Z"));
  // A date-time is taken as is, for either end.
  EXPECT_EQ(parse_bound("2026-12-08T14:30", berlin(), true), utc("2026-12-08T13:30:00Z"));
  EXPECT_EQ(parse_bound("2026-12-08 14:30", berlin(), false), utc("2026-12-08T13:30:00Z"));
  EXPECT_EQ(parse_bound("2026-12-08T14:30:00Z", berlin(), true), utc("2026-12-08T14:30:00Z"));
  for (const char* bad : {"", "2026-02-30", "2026-12-8", "garbage", "2026-12-08T24:00"}) {
    EXPECT_FALSE(parse_bound(bad, berlin(), false)) << bad;
    EXPECT_FALSE(parse_bound(bad, berlin(), true)) << bad;
  }
}

TEST(IntakeWhen, PartOfDay) {
  using appointd::intake::in_part_of_day;
  using appointd::intake::parse_part_of_day;
  EXPECT_EQ(parse_part_of_day("morning"), PartOfDay::kMorning);
  EXPECT_EQ(parse_part_of_day("afternoon"), PartOfDay::kAfternoon);
  EXPECT_EQ(parse_part_of_day("evening"), PartOfDay::kEvening);
  for (const char* bad : {"", "Morning", "night", "evening ", "morgens"})
    EXPECT_FALSE(parse_part_of_day(bad)) << bad;

  struct Case {
    int h, m, s;
    PartOfDay part;
  };
  for (const Case& c :
       {Case{0, 0, 0, PartOfDay::kMorning}, Case{11, 59, 0, PartOfDay::kMorning},
        Case{11, 59, 59, PartOfDay::kMorning}, Case{12, 0, 0, PartOfDay::kAfternoon},
        Case{16, 59, 0, PartOfDay::kAfternoon}, Case{16, 59, 59, PartOfDay::kAfternoon},
        Case{17, 0, 0, PartOfDay::kEvening}, Case{23, 59, 59, PartOfDay::kEvening}}) {
    const auto t = at(2026, 12, 8, c.h, c.m, c.s);
    for (PartOfDay p : {PartOfDay::kMorning, PartOfDay::kAfternoon, PartOfDay::kEvening})
      EXPECT_EQ(in_part_of_day(p, t), p == c.part) << c.h << ":" << c.m << ":" << c.s;
  }
}

// Starts every `step` minutes from 09:00 UTC on 2026-12-08, `n` of them.
std::vector<Instant> every(int step, int n) {
  std::vector<Instant> out;
  for (int i = 0; i < n; ++i) out.push_back(utc("2026-12-08T09:00:00Z") + minutes{step * i});
  return out;
}

std::vector<Instant> at_minutes(const std::vector<int>& after_nine) {
  std::vector<Instant> out;
  for (int m : after_nine) out.push_back(utc("2026-12-08T09:00:00Z") + minutes{m});
  return out;
}

TEST(IntakeWhenSpread, FewStarts) {
  using appointd::intake::spread;
  EXPECT_TRUE(spread({}, 3).empty());
  EXPECT_TRUE(spread({}, 0).empty());
  EXPECT_TRUE(spread(every(30, 5), 0).empty());
  EXPECT_EQ(spread(every(30, 1), 3), every(30, 1));
  EXPECT_EQ(spread(every(30, 1), 1), every(30, 1));
  EXPECT_EQ(spread(every(30, 3), 3), every(30, 3));
  EXPECT_EQ(spread(every(30, 2), 5), every(30, 2));
}

TEST(IntakeWhenSpread, OneIsTheFirst) {
  EXPECT_EQ(appointd::intake::spread(every(15, 20), 1), every(15, 1));
}

TEST(IntakeWhenSpread, Evenly) {
  using appointd::intake::spread;
  // 09:00..15:00 every 30 minutes: parts of 90 and of 120 minutes.
  EXPECT_EQ(spread(every(30, 13), 4), at_minutes({0, 90, 180, 270}));
  EXPECT_EQ(spread(every(30, 13), 3), at_minutes({0, 120, 240}));
  EXPECT_EQ(spread(every(30, 13), 2), at_minutes({0, 180}));
  // 8 hours every 5 minutes in 5 parts of 96 minutes: the first start of each part.
  EXPECT_EQ(spread(every(5, 97), 5), at_minutes({0, 100, 195, 290, 385}));
}

TEST(IntakeWhenSpread, ManyEvenly) {
  const auto starts = every(5, 12 * 24);  // a whole day
  const auto picked = appointd::intake::spread(starts, 8);
  ASSERT_EQ(picked.size(), 8u);
  for (std::size_t i = 0; i < picked.size(); ++i) {
    // Parts of 179:22.5; each pick is the first 5-minute start in its part.
    const auto part_start = utc("2026-12-08T09:00:00Z") + seconds{(24 * 3600 - 300) * i / 8};
    EXPECT_GE(picked[i], part_start) << i;
    EXPECT_LT(picked[i], part_start + minutes{5}) << i;
  }
  EXPECT_EQ(appointd::intake::spread(starts, 8), picked);  // deterministic
}

TEST(IntakeWhenSpread, ClusteredStartsFillFarthest) {
  using appointd::intake::spread;
  // A morning cluster and one late start: the middle parts are empty, so the rest come from the
  // starts farthest from those taken.
  EXPECT_EQ(spread(at_minutes({0, 15, 30, 45, 60, 420}), 3), at_minutes({0, 60, 420}));
  EXPECT_EQ(spread(at_minutes({0, 15, 30, 45, 60, 420}), 4), at_minutes({0, 30, 60, 420}));
  // Two clusters: their ends are taken first, a tie going to the earlier start.
  EXPECT_EQ(spread(at_minutes({0, 15, 30, 360, 375, 390}), 4), at_minutes({0, 30, 360, 390}));
  EXPECT_EQ(spread(at_minutes({0, 15, 30, 360, 375, 390}), 5), at_minutes({0, 15, 30, 360, 390}));
}

TEST(IntakeWhenSpread, ResultIsAscendingSubset) {
  const auto starts = at_minutes({0, 1, 2, 3, 100, 101, 500, 501, 502, 900, 1400, 1401});
  for (std::size_t k = 0; k <= starts.size() + 1; ++k) {
    const auto picked = appointd::intake::spread(starts, k);
    EXPECT_EQ(picked.size(), std::min(k, starts.size())) << k;
    EXPECT_TRUE(std::is_sorted(picked.begin(), picked.end())) << k;
    EXPECT_EQ(std::adjacent_find(picked.begin(), picked.end()), picked.end()) << k;
    EXPECT_TRUE(std::includes(starts.begin(), starts.end(), picked.begin(), picked.end())) << k;
    if (k > 0) {
      EXPECT_EQ(picked.front(), starts.front()) << k;
    }
  }
}

}  // namespace
