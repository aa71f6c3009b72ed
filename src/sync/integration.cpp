#include "sync/integration.h"

#include <nlohmann/json.hpp>

namespace appointd::sync {
namespace {
std::string context_of(Id company_id) {
  return "calcom.secrets:company:" + std::to_string(company_id);
}
}  // namespace

std::string seal_calcom_secrets(const SecretBox& box, Id company_id, const CalcomSecrets& s) {
  nlohmann::json j{{"api_key", s.api_key}, {"webhook_secret", s.webhook_secret}};
  return box.seal(j.dump(), context_of(company_id));
}

std::optional<CalcomSecrets> open_calcom_secrets(const SecretBox& box, const Integration& i) {
  auto plain = box.open(i.secrets, context_of(i.company_id));
  if (!plain) return std::nullopt;
  auto j = nlohmann::json::parse(*plain, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  return CalcomSecrets{j.value("api_key", ""), j.value("webhook_secret", "")};
}

std::string settings_json(const CalcomSettings& s) {
  return nlohmann::json{{"placeholder_email_domain", s.placeholder_email_domain}}.dump();
}

CalcomSettings parse_settings(const std::string& json) {
  CalcomSettings s;
  auto j = nlohmann::json::parse(json, nullptr, false);
  if (j.is_object() && j.contains("placeholder_email_domain") &&
      j["placeholder_email_domain"].is_string())
    s.placeholder_email_domain = j["placeholder_email_domain"].get<std::string>();
  return s;
}

std::string attendee_email(const std::string& email, const std::string& e164,
                           const CalcomSettings& s) {
  if (!email.empty()) return email;
  std::string digits;
  for (char c : e164)
    if (c >= '0' && c <= '9') digits += c;
  if (digits.empty()) digits = "unknown";
  return digits + "@" + s.placeholder_email_domain;
}

}  // namespace appointd::sync
