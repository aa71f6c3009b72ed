#include <gtest/gtest.h>

#include "http/router.h"
#include "obs/metrics.h"

using namespace appointd;

TEST(Router, MatchesPatternsAndTellsMethodFromPath) {
  http::Router<int> r;
  r.add("GET", "/v1/appointments/{id}", 1);
  r.add("POST", "/v1/appointments/{id}/cancel", 2);
  auto m = r.match("GET", "/v1/appointments/42");
  ASSERT_TRUE(m.target);
  EXPECT_EQ(*m.target, 1);
  EXPECT_EQ(m.params.at("id"), "42");
  auto wrong = r.match("DELETE", "/v1/appointments/42");
  EXPECT_FALSE(wrong.target);
  EXPECT_TRUE(wrong.path_known);
  auto none = r.match("GET", "/v1/nothing");
  EXPECT_FALSE(none.target);
  EXPECT_FALSE(none.path_known);
}

TEST(Router, DecodesSegmentsOnlyAfterSplitting) {
  http::Router<int> r;
  r.add("GET", "/v1/staff", 1);
  r.add("GET", "/v1/appointments/{id}", 2);
  r.add("POST", "/v1/appointments/{id}/cancel", 3);
  std::string path;
  std::map<std::string, std::string, std::less<>> q;
  ASSERT_TRUE(http::parse_target("/v1%2Fstaff", path, q));
  EXPECT_EQ(path, "/v1%2Fstaff");  // left encoded: the router splits first
  EXPECT_FALSE(r.match("GET", path).target);
  // An encoded slash stays inside its segment and cannot make a capture either.
  auto m = r.match("POST", "/v1/appointments/1%2Fcancel");
  EXPECT_FALSE(m.target);
  EXPECT_FALSE(m.path_known);
  auto ok = r.match("GET", "/v1/appointments/4%32");  // "%32" is "2"
  ASSERT_TRUE(ok.target);
  EXPECT_EQ(ok.params.at("id"), "42");
}

TEST(Router, RefusesARepeatedQueryParameter) {
  std::string path;
  std::map<std::string, std::string, std::less<>> q;
  EXPECT_FALSE(http::parse_target("/v1/appointments?staff_id=1&staff_id=2", path, q));
}

TEST(Router, ParsesTargets) {
  std::string path;
  std::map<std::string, std::string, std::less<>> q;
  ASSERT_TRUE(http::parse_target("/v1/customers?phone=%2B49+30&x=1&empty", path, q));
  EXPECT_EQ(path, "/v1/customers");
  EXPECT_EQ(q.at("phone"), "+49 30");
  EXPECT_EQ(q.at("x"), "1");
  EXPECT_EQ(q.at("empty"), "");
  EXPECT_FALSE(http::parse_target("/v1/a%zz", path, q));
  EXPECT_FALSE(http::parse_target("/v1/a%2", path, q));
}

TEST(Metrics, RendersPrometheusText) {
  obs::Registry r;
  r.counter("x_total", "help", {{"route", "/a\"b"}}).inc(3);
  auto& h = r.histogram("lat_seconds", "h", {0.1, 1}, {{"r", "a"}});
  h.observe(0.05);
  h.observe(0.5);
  h.observe(5);
  std::string s = r.render();
  EXPECT_NE(s.find("# TYPE x_total counter"), std::string::npos);
  EXPECT_NE(s.find("x_total{route=\"/a\\\"b\"} 3"), std::string::npos);
  EXPECT_NE(s.find("lat_seconds_bucket{r=\"a\",le=\"0.1\"} 1"), std::string::npos);
  EXPECT_NE(s.find("lat_seconds_bucket{r=\"a\",le=\"1\"} 2"), std::string::npos);
  EXPECT_NE(s.find("lat_seconds_bucket{r=\"a\",le=\"+Inf\"} 3"), std::string::npos);
  EXPECT_NE(s.find("lat_seconds_count{r=\"a\"} 3"), std::string::npos);
}

TEST(Router, ParsesPositiveIds) {
  EXPECT_EQ(http::parse_positive_id("42").value_or(-1), 42);
  EXPECT_EQ(http::parse_positive_id("999999999999999999").value_or(-1), 999999999999999999);
  for (const char* s : {"", "0", "-1", "1x", "+1", "9999999999999999999", " 1"})
    EXPECT_FALSE(http::parse_positive_id(s).has_value()) << s;
}
