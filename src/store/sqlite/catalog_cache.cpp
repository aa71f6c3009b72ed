#include "store/sqlite/catalog_cache.h"

namespace appointd::store::sqlite {

void CatalogCache::changed() {
  clear();
  log_.note(true);
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
  log_.begin();
}

void CatalogCache::committed() {
  log_.clear();
}

void CatalogCache::aborted() {
  clear();
  log_.clear();
}

void CatalogCache::savepoint() {
  log_.push();
}

void CatalogCache::release() {
  log_.release();
}

void CatalogCache::rollback() {
  if (!log_.pop().empty()) clear();
}

}  // namespace appointd::store::sqlite
