#include "intake/retell_config.h"

#include <nlohmann/json.hpp>

namespace appointd::intake {
namespace {

std::string context_of(Id company_id) {
  return "retell.api_key:company:" + std::to_string(company_id);
}

std::optional<Route> route_in(store::ReadTx& tx, Id company_id, const Branch* branch,
                              const std::optional<std::string>& dialled) {
  auto integration = tx.integration(company_id, kProviderRetell);
  if (!integration) return std::nullopt;
  auto company = tx.company(company_id);
  if (!company) return std::nullopt;
  std::optional<Branch> chosen;
  if (branch) {
    chosen = *branch;
  } else {
    auto branches = tx.branches(company_id);
    if (branches.empty()) return std::nullopt;
    chosen = branches.front();
    for (const auto& b : branches)
      if (dialled && b.phone == *dialled) chosen = b;
  }
  Route r;
  r.company = std::move(*company);
  r.branch = std::move(*chosen);
  r.settings = parse_retell_settings(integration->settings);
  r.integration = std::move(*integration);
  return r;
}

}  // namespace

std::string seal_retell_key(const sync::SecretBox& box, Id company_id, const std::string& key) {
  return box.seal(key, context_of(company_id));
}

std::optional<std::string> open_retell_key(const sync::SecretBox& box, const Integration& i) {
  return box.open(i.secrets, context_of(i.company_id));
}

std::string settings_json(const RetellSettings& s) {
  return nlohmann::json{{"language", to_string(s.language)}}.dump();
}

RetellSettings parse_retell_settings(const std::string& text) {
  RetellSettings s;
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_object() && j.contains("language") && j["language"].is_string())
    if (auto l = parse_language(j["language"].get<std::string>())) s.language = *l;
  return s;
}

std::optional<std::string> dialled_e164(const std::string& raw) {
  std::string out;
  for (char c : raw) {
    if (c == ' ' || c == '-' || c == '.' || c == '(' || c == ')') continue;
    if (c == '+' && out.empty()) {
      out += c;
      continue;
    }
    if (c < '0' || c > '9') return std::nullopt;
    out += c;
  }
  if (out.size() < 9 || out.size() > 16 || out[0] != '+' || out[1] == '0') return std::nullopt;
  return out;
}

std::optional<Route> route_call(store::ReadTx& tx, const std::string& to_number,
                                const std::string& agent_id) {
  const auto dialled = dialled_e164(to_number);
  std::vector<Branch> branches;
  if (dialled) branches = tx.branches_by_phone(*dialled, 16);
  if (branches.size() == 1)
    if (auto r = route_in(tx, branches.front().company_id, &branches.front(), dialled)) return r;
  if (agent_id.empty()) return std::nullopt;
  auto company = tx.agent_company(agent_id);
  if (!company) return std::nullopt;
  // Several companies' branches with the number dialled (one of them mistaken): the agent's
  // company's, so another company cannot take a number's calls away.
  for (const auto& b : branches)
    if (b.company_id == *company) return route_in(tx, *company, &b, dialled);
  return route_in(tx, *company, nullptr, dialled);
}

bool is_hidden_number(const std::string& from_number) {
  // What carriers put for a withheld number, as digits spelling a word on the keypad (Twilio's:
  // ANONYMOUS, RESTRICTED, BLOCKED, UNAVAILABLE, UNKNOWN).
  for (const char* word : {"+266696687", "+7378742833", "+2562533", "+8656696", "+86282452253"})
    if (from_number == word) return true;
  int digits = 0;
  for (char c : from_number) digits += c >= '0' && c <= '9';
  return digits < 3;
}

}  // namespace appointd::intake
