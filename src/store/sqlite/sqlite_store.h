#pragma once
// The embedded store (DESIGN.md "The write path", SQLite): one writer thread owns the only
// write connection and commits queued writes in batches (group commit: BEGIN IMMEDIATE, one
// SAVEPOINT per write, one COMMIT, then the completions); reads use a pool of read-only
// connections in WAL mode.
#include <memory>
#include <string>

#include "store/store.h"

namespace appointd::store::sqlite {

// Opens or creates the database file at `path` (its folder is created), applies pending
// migrations, and starts the writer thread. Throws StoreError.
std::unique_ptr<Store> open_sqlite_store(const Options& opts, const std::string& path);

}  // namespace appointd::store::sqlite
