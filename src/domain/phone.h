#pragma once
// Phone numbers are stored in E.164. Normalisation uses libphonenumber with the company's country
// as the default region, so "030 1234567", "+49 30 1234567" and "0049301234567" in a German
// company are the same customer. Thread-safe (libphonenumber's util is a read-only singleton).
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace appointd {

// Returns the E.164 form ("+49301234567"), or nullopt when the text is not a valid number for
// that region (libphonenumber IsValidNumber: right length and a range in use).
std::optional<std::string> normalize_phone(std::string_view raw, std::string_view region);

// normalize_phone with a bounded memo: libphonenumber's regex parsing costs ~10 µs, and the
// same customers call again and again. Thread-safe; the memo is cleared when it is full.
class PhoneNormalizer {
 public:
  static constexpr size_t kMaxEntries = 100000;
  std::optional<std::string> normalize(std::string_view raw, std::string_view region);

 private:
  std::mutex mu_;
  std::unordered_map<std::string, std::optional<std::string>> memo_;  // key: region + '|' + raw
};

// True when `country` is a region libphonenumber knows ("DE", "US", ...).
bool is_known_region(std::string_view country);

}  // namespace appointd
