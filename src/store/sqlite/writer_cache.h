#pragma once
// The SQLite writer's exact in-memory copies (block_index.h, catalog_cache.h), taken through
// the transaction structure together. Writer thread only.
#include "store/sqlite/block_index.h"
#include "store/sqlite/catalog_cache.h"

namespace appointd::store::sqlite {

struct WriterCache {
  BlockIndex blocks;
  CatalogCache catalog;

  void clear() {
    blocks.clear();
    catalog.clear();
  }
  void begin() {
    blocks.begin();
    catalog.begin();
  }
  void committed() {
    blocks.committed();
    catalog.committed();
  }
  void aborted() {
    blocks.aborted();
    catalog.aborted();
  }
  void savepoint() {
    blocks.savepoint();
    catalog.savepoint();
  }
  void release() {
    blocks.release();
    catalog.release();
  }
  void rollback() {
    blocks.rollback();
    catalog.rollback();
  }
};

}  // namespace appointd::store::sqlite
