// The OpenAPI document (docs/openapi.yaml, embedded as JSON) against the router's own table:
// every route is documented with its method and path template, and nothing is documented that
// the router does not serve. Sample replies are validated against its schemas in
// tests/system/test_openapi.py.
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <utility>

#include "http/app.h"
#include "http/openapi.h"

using namespace appointd::http;

namespace {

using Operation = std::pair<std::string, std::string>;  // METHOD, path template

std::set<Operation> documented(const nlohmann::json& doc) {
  static const std::set<std::string> kMethods = {"get",   "put",  "post",   "delete",
                                                 "patch", "head", "options"};
  std::set<Operation> out;
  for (const auto& [path, item] : doc.at("paths").items())
    for (const auto& [method, op] : item.items())
      if (kMethods.count(method)) {
        std::string m = method;
        for (char& ch : m) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        out.insert({m, path});
      }
  return out;
}

std::set<Operation> routed() {
  std::set<Operation> out;
  for (const auto& d : all_routes()) out.insert({d.method, d.pattern});
  return out;
}

std::string list(const std::set<Operation>& ops) {
  std::string s;
  for (const auto& [m, p] : ops) s += "\n  " + m + " " + p;
  return s;
}

}  // namespace

TEST(OpenApi, IsOpenApi31Json) {
  const auto doc = nlohmann::json::parse(kOpenApiJson);
  EXPECT_EQ(doc.at("openapi").get<std::string>(), "3.1.0");
  EXPECT_EQ(doc.at("info").at("title").get<std::string>(), "appointd");
  EXPECT_TRUE(doc.at("components").at("schemas").is_object());
}

TEST(OpenApi, DocumentsExactlyTheRoutesOfTheRouter) {
  const auto doc = documented(nlohmann::json::parse(kOpenApiJson));
  const auto code = routed();
  std::set<Operation> undocumented, unrouted;
  for (const auto& op : code)
    if (!doc.count(op)) undocumented.insert(op);
  for (const auto& op : doc)
    if (!code.count(op)) unrouted.insert(op);
  EXPECT_TRUE(undocumented.empty()) << "routed but not in docs/openapi.yaml:" << list(undocumented);
  EXPECT_TRUE(unrouted.empty()) << "in docs/openapi.yaml but not routed:" << list(unrouted);
  EXPECT_GE(code.size(), 50u);  // the table was read at all
}

TEST(OpenApi, EveryOperationHasAUniqueIdAndItsKeyKind) {
  const auto doc = nlohmann::json::parse(kOpenApiJson);
  std::set<std::string> ids;
  std::map<Operation, std::string> access;
  for (const auto& d : all_routes()) {
    const char* kind = d.access == Access::kPublic     ? "none"
                       : d.access == Access::kSigned   ? "signed"
                       : d.access == Access::kPlatform ? "platform"
                                                       : "company";
    access[{d.method, d.pattern}] = kind;
  }
  for (const auto& [path, item] : doc.at("paths").items())
    for (const auto& [method, op] : item.items()) {
      if (!op.is_object() || !op.contains("responses")) continue;
      const std::string id = op.value("operationId", "");
      EXPECT_FALSE(id.empty()) << method << " " << path;
      EXPECT_TRUE(ids.insert(id).second) << "operationId used twice: " << id;
      std::string m = method;
      for (char& ch : m) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      const auto it = access.find({m, path});
      if (it != access.end()) {
        EXPECT_EQ(op.value("x-appointd-key", ""), it->second) << m << " " << path;
      }
    }
}
