// The phone intake's pure parts: Retell's bodies decoded (and refused), the arguments'
// fingerprint, call events merged in any order, replies rendered within Retell's limit, the
// number dialled as E.164 and hidden callers.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "intake/calls.h"
#include "intake/reply.h"
#include "intake/retell_config.h"
#include "intake/retell_wire.h"

using namespace appointd;
using namespace appointd::intake;
using nlohmann::json;

namespace {

json call_body(json call, json args = json::object()) {
  return {{"name", "book_appointment"}, {"call", std::move(call)}, {"args", std::move(args)}};
}

}  // namespace

TEST(IntakeWire, FunctionCallDecodes) {
  auto r = decode_function(call_body({{"call_id", "call_1"},
                                      {"agent_id", "agent_1"},
                                      {"from_number", "+4915112345678"},
                                      {"to_number", "+49301234567"},
                                      {"direction", "inbound"},
                                      {"transcript", "ignored"}},
                                     {{"service", "Haircut"}}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->name, "book_appointment");
  EXPECT_EQ(r->call.call_id, "call_1");
  EXPECT_EQ(r->call.to_number, "+49301234567");
  EXPECT_EQ(r->args["service"], "Haircut");
  EXPECT_EQ(r->args_fingerprint.size(), 64u);
}

TEST(IntakeWire, FingerprintIgnoresKeyOrderButNotValues) {
  auto a =
      decode_function(json::parse(R"({"name":"f","call":{"call_id":"c"},"args":{"a":1,"b":"x"}})"));
  auto b =
      decode_function(json::parse(R"({"args":{"b":"x","a":1},"call":{"call_id":"c"},"name":"f"})"));
  auto c =
      decode_function(json::parse(R"({"name":"f","call":{"call_id":"c"},"args":{"a":2,"b":"x"}})"));
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(a->args_fingerprint, b->args_fingerprint);
  EXPECT_NE(a->args_fingerprint, c->args_fingerprint);
}

TEST(IntakeWire, MissingOrMistypedFieldsAreMalformed) {
  EXPECT_FALSE(decode_function(json::parse(R"({"call":{"call_id":"c"}})")).ok());  // no name
  EXPECT_FALSE(decode_function(json::parse(R"({"name":"f"})")).ok());              // no call
  EXPECT_FALSE(decode_function(json::parse(R"({"name":"f","call":{}})")).ok());    // no call_id
  EXPECT_FALSE(
      decode_function(json::parse(R"({"name":"f","call":{"call_id":"c"},"args":[1]})")).ok());
  EXPECT_FALSE(decode_function(json::parse(R"({"name":"f","call":{"call_id":7}})")).ok());  // type
  const std::string long_id(kMaxField + 1, 'x');
  EXPECT_FALSE(decode_function(call_body({{"call_id", long_id}})).ok());
  auto e = decode_function(json::parse(R"({"name":"f"})"));
  EXPECT_EQ(e.error().code, ErrorCode::kMalformed);
  EXPECT_EQ(e.error().extra["errors"][0]["field"], "call");
  EXPECT_FALSE(decode_inbound(json::parse(R"({"event":"call_inbound"})")).ok());
  EXPECT_FALSE(decode_event(json::parse(R"({"event":"call_ended","call":{"call_id":"c",
      "start_timestamp":"yesterday"}})"))
                   .ok());
}

TEST(IntakeWire, InboundAndEventsDecode) {
  auto in = decode_inbound(json::parse(
      R"({"event":"call_inbound","call_inbound":{"agent_id":"a","from_number":"+1","to_number":"+2"}})"));
  ASSERT_TRUE(in.ok());
  EXPECT_EQ(in->agent_id, "a");
  EXPECT_EQ(in->to_number, "+2");
  auto ev = decode_event(json::parse(R"({"event":"call_analyzed","call":{"call_id":"c",
      "start_timestamp":1765000000000,"end_timestamp":1765000090000,
      "call_analysis":{"call_summary":"Booked a haircut."}}})"));
  ASSERT_TRUE(ev.ok());
  EXPECT_EQ(*ev->call.start_ms, 1765000000000);
  EXPECT_EQ(ev->call.summary, "Booked a haircut.");
}

TEST(IntakeCalls, EventsMergeInAnyOrderAndStatusNeverGoesBack) {
  Call stored;
  stored.company_id = 1;
  stored.call_id = "c";
  stored.status = "ongoing";
  CallEvent started{"call_started", {}};
  started.call.call_id = "c";
  started.call.start_ms = 1765000000000;
  started.call.from_number = "+4915112345678";
  CallEvent ended{"call_ended", {}};
  ended.call.call_id = "c";
  ended.call.call_status = "ended";
  ended.call.end_ms = 1765000090000;
  ended.call.disconnection_reason = "user_hangup";
  CallEvent analyzed{"call_analyzed", {}};
  analyzed.call.summary = "Booked.";
  const Instant now = from_unix(1765000100);

  // ended, then a late started: still ended, with both times.
  Call a = merge_event(merge_event(stored, ended, now), started, now);
  EXPECT_EQ(a.status, "ended");
  EXPECT_EQ(to_unix(*a.started_at), 1765000000);
  EXPECT_EQ(to_unix(*a.ended_at), 1765000090);
  EXPECT_EQ(a.from_number, "+4915112345678");
  EXPECT_EQ(a.disconnection_reason, "user_hangup");
  // In order, then analysed: the summary is added and nothing else lost.
  Call b = merge_event(merge_event(merge_event(stored, started, now), ended, now), analyzed, now);
  EXPECT_EQ(b.status, "ended");
  EXPECT_EQ(b.summary, "Booked.");
  EXPECT_EQ(to_unix(*b.started_at), 1765000000);
  // A duplicate delivery changes nothing.
  Call c = merge_event(b, analyzed, now);
  EXPECT_EQ(c.summary, b.summary);
  EXPECT_EQ(c.status, b.status);
  EXPECT_TRUE(is_call_event("call_ended"));
  EXPECT_FALSE(is_call_event("transcript_updated"));
}

TEST(IntakeReplyRender, LeavesOutWhatDoesNotApply) {
  Reply r;
  r.result = "Hello.";
  json j = json::parse(render(r));
  EXPECT_EQ(j, json({{"result", "Hello."}}));
  r.booked = true;
  r.appointment_id = 7;
  r.start = from_unix(1765200600);
  r.local_time = "Tuesday, December 8, 2:30 PM";
  r.alternatives.push_back({from_unix(1765202400), "x", 3, "Anna", 9});
  j = json::parse(render(r));
  EXPECT_EQ(j["booked"], true);
  EXPECT_EQ(j["appointment_id"], 7);
  EXPECT_EQ(j["start"], "2025-12-08T13:30:00Z");
  EXPECT_EQ(j["alternatives"][0]["hold_id"], 9);
  EXPECT_EQ(j["alternatives"][0]["staff_name"], "Anna");
  EXPECT_FALSE(j.contains("error"));
}

TEST(IntakeReplyRender, StaysUnderRetellsLimit) {
  Reply r;
  r.result = "Many.";
  for (int i = 0; i < 2000; ++i)
    r.appointments.push_back({i + 1, from_unix(1765200600), std::string(40, 'x'), "Cut", "Anna"});
  const std::string text = render(r);
  EXPECT_LE(text.size(), kMaxReplyChars);
  json j = json::parse(text);
  EXPECT_GT(j["appointments"].size(), 10u);
  Reply huge;
  huge.result = std::string(40000, 'y');
  EXPECT_LE(render(huge).size(), kMaxReplyChars);
}

TEST(IntakeReplyFill, ReplacesNumberedPlaceholders) {
  EXPECT_EQ(fill("{0} and {1}, {0}", {"a", "b"}), "a and b, a");
  EXPECT_EQ(fill("no {9} arg", {"a"}), "no  arg");
  EXPECT_EQ(fill("{x} stays", {}), "{x} stays");
}

TEST(IntakeRouting, DialledNumbersAreE164) {
  EXPECT_EQ(dialled_e164("+49 30 1234567"), "+49301234567");
  EXPECT_EQ(dialled_e164("+1 (415) 555-0100"), "+14155550100");
  EXPECT_FALSE(dialled_e164("030 1234567"));  // not international
  EXPECT_FALSE(dialled_e164("+0301234567"));
  EXPECT_FALSE(dialled_e164("+49abc"));
  EXPECT_FALSE(dialled_e164(""));
  EXPECT_TRUE(is_hidden_number(""));
  EXPECT_TRUE(is_hidden_number("anonymous"));
  EXPECT_TRUE(is_hidden_number("Unknown"));
  EXPECT_TRUE(is_hidden_number("+266696687"));
  EXPECT_FALSE(is_hidden_number("+4915112345678"));
}

TEST(IntakeSettings, LanguageRoundTripsAndDefaults) {
  RetellSettings de{Language::kDe};
  EXPECT_EQ(parse_retell_settings(settings_json(de)).language, Language::kDe);
  EXPECT_EQ(parse_retell_settings("{}").language, Language::kEn);
  EXPECT_EQ(parse_retell_settings("not json").language, Language::kEn);
}
