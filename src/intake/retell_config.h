#pragma once
// A company's Retell connection: the API key that signs Retell's requests (sealed at rest like
// the Cal.com secrets), the language the agent speaks, and the agents that answer for the
// company (routing, in the intake_agents table). And where a call goes: the company and branch
// of the number dialled, or of the agent.
#include <optional>
#include <string>
#include <vector>

#include "domain/phone.h"
#include "domain/sync.h"
#include "intake/language.h"
#include "store/tx.h"
#include "sync/secret_box.h"

namespace appointd::intake {

inline constexpr const char* kProviderRetell = "retell";
inline constexpr std::size_t kMaxAgents = 50;

struct RetellSettings {
  Language language = Language::kEn;
};

// The sealed API key of an integration row, and its settings (JSON {"language": "de"}).
std::string seal_retell_key(const sync::SecretBox& box, Id company_id, const std::string& key);
// nullopt when it does not open under this box and company (wrong key file, moved row).
std::optional<std::string> open_retell_key(const sync::SecretBox& box, const Integration& i);
std::string settings_json(const RetellSettings& s);
RetellSettings parse_retell_settings(const std::string& json);  // defaults for anything missing

// Where a call belongs.
struct Route {
  Company company;
  Branch branch;
  Integration integration;  // the company's Retell integration
  RetellSettings settings;
};

// The number dialled in E.164 when it is one ("+49 30 1234567" -> "+49301234567"): a '+' and
// 8 to 15 digits once spaces, dashes, dots and brackets are dropped; nullopt otherwise.
std::optional<std::string> dialled_e164(const std::string& raw);

// The company and branch of a call: the one branch whose phone is `to_number` (E.164), else the
// company of `agent_id` and its branch with that phone (also when other companies' branches
// have it too), or its first branch. nullopt when neither names a company with a Retell
// integration.
std::optional<Route> route_call(store::ReadTx& tx, const std::string& to_number,
                                const std::string& agent_id);

// True when a caller's number is hidden: empty, not a number at all ("anonymous", "unknown",
// "private", "restricted"), or a carrier's stand-in for one ("+266696687", ANONYMOUS on a keypad).
// A number that is there but not valid is for the caller to judge.
bool is_hidden_number(const std::string& from_number);

}  // namespace appointd::intake
