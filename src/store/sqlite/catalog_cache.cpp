#include "store/sqlite/catalog_cache.h"

namespace appointd::store::sqlite {

void CatalogCache::changed() {
  clear();
  note(true);
}

void CatalogCache::clear() {
  companies.clear();
  staff.clear();
  services.clear();
  staff_for_service.clear();
  schedules.clear();
  entries_ = 0;
}

}  // namespace appointd::store::sqlite
