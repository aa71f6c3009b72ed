#pragma once
// Caches authenticated API keys (by SHA-256 of the key) with their company's country for a
// short TTL, so a request costs no store read to authenticate. Only hits are cached, and at
// most kMaxEntries (the map is cleared when full). A revoked key stays valid for up to the TTL.
// Thread-safe.
#include <chrono>
#include <functional>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>

#include "domain/model.h"

namespace appointd::http {

struct Principal {
  ApiKey key;
  std::string country;  // the company's, for phone numbers (empty for platform keys)
};

class AuthCache {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr size_t kMaxEntries = 10000;
  explicit AuthCache(std::chrono::seconds ttl) : ttl_(ttl) {}

  // The principal of a key hash: from the cache, or through `load` (then cached if found).
  std::optional<Principal> find(const std::string& hash,
                                const std::function<std::optional<Principal>()>& load);
  // The principal of a key hash when the cache has it (never loads).
  std::optional<Principal> peek(const std::string& hash);

 private:
  struct Entry {
    Principal p;
    Clock::time_point expires;
  };
  std::chrono::seconds ttl_;
  std::shared_mutex mu_;
  std::unordered_map<std::string, Entry> map_;
};

}  // namespace appointd::http
