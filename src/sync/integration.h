#pragma once
// A company's Cal.com connection at rest: the secrets are one JSON object sealed by the
// SecretBox under a context naming the company, so a sealed value copied to another company's
// row does not open.
#include <optional>
#include <string>

#include "domain/sync.h"
#include "sync/secret_box.h"

namespace appointd::sync {

struct CalcomSecrets {
  std::string api_key;
  std::string webhook_secret;
};

struct CalcomSettings {
  // Cal.com needs an attendee email; customers without one get <E.164 digits>@<this>.
  std::string placeholder_email_domain = "phone.invalid";
};

std::string seal_calcom_secrets(const SecretBox& box, Id company_id, const CalcomSecrets& s);
// nullopt when the value does not open under this box and company (wrong key, moved row).
std::optional<CalcomSecrets> open_calcom_secrets(const SecretBox& box, const Integration& i);

std::string settings_json(const CalcomSettings& s);
CalcomSettings parse_settings(const std::string& json);  // defaults for anything missing

// The attendee email of a customer: theirs, else <digits of phone>@<domain>.
std::string attendee_email(const std::string& email, const std::string& e164,
                           const CalcomSettings& s);

}  // namespace appointd::sync
