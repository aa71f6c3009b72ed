#pragma once
// Backups of the embedded store, with SQLite's online backup API (DESIGN.md I5: a backup holds
// every booking acknowledged before it began). PostgreSQL's are pg_dump and point-in-time
// recovery (docs/operations.md).
#include <string>

namespace appointd::store::sqlite {

struct BackupReport {
  long pages = 0;         // database pages copied
  long appointments = 0;  // appointments in the copy
  int schema_version = 0;
};

// Copies the database at `from` into a new file `to` (refused when it exists), as one snapshot
// taken inside a read transaction: every write committed before the copy began is in it, and
// none that committed later; a running server keeps serving and writing meanwhile (WAL). The
// copy is written beside `to` and renamed into place once complete and synced. Throws StoreError.
BackupReport backup_database(const std::string& from, const std::string& to);

// Checks the backup `file` (integrity_check, foreign_key_check, a schema this binary knows) and
// installs it at `path` (created when missing) with the backup API, in one transaction of the
// target: the old database stays whole if anything fails. Refused (StoreError), with `path`
// untouched, when the check fails or another connection has `path` open: a running server's
// in-memory copies would no longer match the file, so stop every server using it first.
BackupReport restore_database(const std::string& file, const std::string& path);

}  // namespace appointd::store::sqlite
