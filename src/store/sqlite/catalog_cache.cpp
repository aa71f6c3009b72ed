#include "store/sqlite/catalog_cache.h"

namespace appointd::store::sqlite {

void CatalogCache::changed() {
  clear();
  if (!levels_.empty()) levels_.back() = true;
}

void CatalogCache::clear() {
  companies.clear();
  staff.clear();
  services.clear();
  staff_for_service.clear();
  schedules.clear();
  entries_ = 0;
}

void CatalogCache::begin() {
  levels_.assign(1, false);
}

void CatalogCache::committed() {
  levels_.clear();
}

void CatalogCache::aborted() {
  clear();
  levels_.clear();
}

void CatalogCache::savepoint() {
  levels_.push_back(false);
}

void CatalogCache::release() {
  if (levels_.size() < 2) return;
  const bool wrote = levels_.back();
  levels_.pop_back();
  if (wrote) levels_.back() = true;
}

void CatalogCache::rollback() {
  if (levels_.empty()) return;
  if (levels_.back()) clear();
  levels_.pop_back();
}

}  // namespace appointd::store::sqlite
