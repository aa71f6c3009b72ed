#pragma once
// Schema migrations for PostgreSQL (migrations/postgres/NNN_name.sql, embedded at build time).
#include "store/postgres/pg.h"

namespace appointd::store::postgres {

// Applies the pending migrations in version order, each in its own transaction, holding a
// session advisory lock for the whole run: several instances starting at once queue on the
// lock, and the later ones find nothing left to do. Throws PgError on failure (the failed
// migration is rolled back; earlier ones stay applied).
void apply_migrations(Connection& c);

}  // namespace appointd::store::postgres
