#include "http/auth_cache.h"

#include <mutex>

namespace appointd::http {

std::optional<Principal> AuthCache::find(const std::string& hash,
                                         const std::function<std::optional<Principal>()>& load) {
  const auto now = Clock::now();
  {
    std::shared_lock lock(mu_);
    auto it = map_.find(hash);
    if (it != map_.end() && it->second.expires > now) return it->second.p;
  }
  auto p = load();
  if (!p) return std::nullopt;
  std::unique_lock lock(mu_);
  if (map_.size() >= kMaxEntries) map_.clear();
  map_[hash] = {*p, now + ttl_};
  return p;
}

std::optional<Principal> AuthCache::peek(const std::string& hash) {
  std::shared_lock lock(mu_);
  auto it = map_.find(hash);
  if (it == map_.end() || it->second.expires <= Clock::now()) return std::nullopt;
  return it->second.p;
}

}  // namespace appointd::http
