#pragma once
// The PostgreSQL store (DESIGN.md "The write path", PostgreSQL): several appointd instances on
// one database. Each write runs in its own READ COMMITTED transaction on a pooled connection,
// on one of a few store threads (the caller never blocks), and is retried from scratch on the
// errors of retry.h with capped exponential backoff and full jitter; `done` is called after
// COMMIT. When retries run out, or the database cannot be reached, the write fails with
// StoreUnavailable. Reads run on the calling thread in a REPEATABLE READ READ ONLY transaction.
#include <memory>
#include <string>

#include "store/store.h"

namespace appointd::store::postgres {

// Connects to `url`, applies pending migrations under an advisory lock (instances starting
// together wait for each other), and starts the write threads. Throws StoreError when the
// database cannot be reached or a migration fails.
std::unique_ptr<Store> open_postgres_store(const Options& opts, const std::string& url);

}  // namespace appointd::store::postgres
