#include "booking/catalog.h"

#include <algorithm>

#include "domain/hash.h"
#include "domain/phone.h"
#include "domain/schedule.h"
#include "domain/segments.h"
#include "domain/text.h"
#include "domain/zone.h"

namespace appointd::booking {
namespace {

std::optional<Error> check_name(const std::string& name, const char* field) {
  if (name.empty() || !fits_chars(name, 200))
    return Error::validation(std::string(field) + " must be 1 to 200 characters");
  return std::nullopt;
}

}  // namespace

std::string create_api_key(store::WriteTx& tx, Id company_id, const std::string& name,
                           Instant now) {
  std::string key = "ak_" + random_hex(24);
  ApiKey k{0, company_id, name, company_id ? KeyRole::kCompany : KeyRole::kPlatform};
  tx.insert_api_key(k, sha256_hex(key), now);
  return key;
}

Result<CreatedCompany> create_company(store::WriteTx& tx, const CreateCompany& c) {
  if (auto e = check_name(c.name, "name")) return *e;
  if (!is_valid_time_zone(c.timezone))
    return Error{ErrorCode::kInvalidTimeZone, "unknown time zone: " + c.timezone};
  if (c.country.size() != 2 || !is_known_region(c.country))
    return Error::validation("country must be an ISO 3166-1 alpha-2 code such as DE");
  if (auto e = check_settings(c.settings)) return *e;
  Company co{0, c.name, c.timezone, c.country, c.now, c.settings};
  co.id = tx.insert_company(co);
  std::string key = create_api_key(tx, co.id, "initial", c.now);
  return CreatedCompany{co, key};
}

Result<Branch> create_branch(store::WriteTx& tx, const CreateBranch& c) {
  auto co = tx.company(c.company_id);
  if (!co) return Error::not_found("company");
  if (auto e = check_name(c.name, "name")) return *e;
  Branch b{0, c.company_id, c.name, c.timezone.value_or(co->timezone), "", c.now};
  if (!is_valid_time_zone(b.timezone))
    return Error{ErrorCode::kInvalidTimeZone, "unknown time zone: " + b.timezone};
  if (!c.phone.empty()) {
    auto p = normalize_phone(c.phone, co->country);
    if (!p) return Error{ErrorCode::kInvalidPhone, "not a valid phone number: " + c.phone};
    b.phone = *p;
  }
  b.id = tx.insert_branch(b);
  return b;
}

Result<Service> create_service(store::WriteTx& tx, const CreateService& c) {
  if (auto e = check_name(c.name, "name")) return *e;
  if (auto e = check_service(c.duration_minutes, c.buffer_before_minutes, c.buffer_after_minutes))
    return *e;
  Service s{0,
            c.company_id,
            c.name,
            c.duration_minutes,
            c.buffer_before_minutes,
            c.buffer_after_minutes,
            c.now};
  s.id = tx.insert_service(s);
  return s;
}

Result<Staff> create_staff(store::WriteTx& tx, const CreateStaff& c) {
  if (auto e = check_name(c.name, "name")) return *e;
  if (!fits_chars(c.email, 200)) return Error::validation("email is longer than 200 characters");
  if (!tx.branch(c.company_id, c.branch_id)) return Error::not_found("branch");
  Staff s;
  s.company_id = c.company_id;
  s.branch_id = c.branch_id;
  s.name = c.name;
  s.email = c.email;
  s.service_ids = c.service_ids;
  std::sort(s.service_ids.begin(), s.service_ids.end());
  s.service_ids.erase(std::unique(s.service_ids.begin(), s.service_ids.end()), s.service_ids.end());
  for (Id svc : s.service_ids)
    if (!tx.service(c.company_id, svc)) return Error::not_found("service " + std::to_string(svc));
  s.created_at = c.now;
  s.id = tx.insert_staff(s);
  return s;
}

}  // namespace appointd::booking
