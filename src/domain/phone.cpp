#include "domain/phone.h"

#include <phonenumbers/phonenumberutil.h>

namespace appointd {

using i18n::phonenumbers::PhoneNumber;
using i18n::phonenumbers::PhoneNumberUtil;

std::optional<std::string> normalize_phone(std::string_view raw, std::string_view region) {
  if (raw.empty() || raw.size() > 64) return std::nullopt;
  const PhoneNumberUtil* util = PhoneNumberUtil::GetInstance();
  PhoneNumber n;
  if (util->Parse(std::string(raw), std::string(region), &n) != PhoneNumberUtil::NO_PARSING_ERROR)
    return std::nullopt;
  // An extension ("ext. 12", ";ext=12", "x12") names a line behind the number, not a caller:
  // dropping it would merge callers, keeping it breaks E.164. Refused.
  if (n.has_extension()) return std::nullopt;
  if (!util->IsValidNumber(n)) return std::nullopt;
  std::string out;
  util->Format(n, PhoneNumberUtil::E164, &out);
  return out;
}

std::optional<std::string> PhoneNormalizer::normalize(std::string_view raw,
                                                      std::string_view region) {
  std::string key;
  key.reserve(region.size() + 1 + raw.size());
  key.append(region).append(1, '|').append(raw);
  {
    std::lock_guard lock(mu_);
    auto it = memo_.find(key);
    if (it != memo_.end()) return it->second;
  }
  auto out = normalize_phone(raw, region);
  std::lock_guard lock(mu_);
  if (memo_.size() >= kMaxEntries) memo_.clear();
  memo_.emplace(std::move(key), out);
  return out;
}

bool is_known_region(std::string_view country) {
  std::set<std::string> regions;
  PhoneNumberUtil::GetInstance()->GetSupportedRegions(&regions);
  return regions.count(std::string(country)) > 0;
}

}  // namespace appointd
