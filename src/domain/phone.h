#pragma once
// Phone numbers are stored in E.164. Normalisation uses libphonenumber with the company's country
// as the default region, so "030 1234567", "+49 30 1234567" and "0049301234567" in a German
// company are the same customer. Thread-safe (libphonenumber's util is a read-only singleton).
#include <optional>
#include <string>
#include <string_view>

namespace appointd {

// Returns the E.164 form ("+49301234567"), or nullopt when the text is not a valid number for
// that region (libphonenumber IsValidNumber: right length and a range in use).
std::optional<std::string> normalize_phone(std::string_view raw, std::string_view region);

// True when `country` is a region libphonenumber knows ("DE", "US", ...).
bool is_known_region(std::string_view country);

}  // namespace appointd
