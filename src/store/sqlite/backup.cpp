#include "store/sqlite/backup.h"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <system_error>

#include "store/migrations.h"
#include "store/sqlite/db.h"
#include "store/sqlite/sql.h"
#include "store/store.h"

namespace appointd::store::sqlite {
namespace {

namespace fs = std::filesystem;

void fsync_path(const fs::path& p) {
  const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw StoreError("backup: cannot open " + p.string() + " to sync it");
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) throw StoreError("backup: cannot sync " + p.string());
}

// Copies all of `src` into `dst` in one step: the source's read transaction spans the whole copy,
// so the copy is one snapshot (a step-by-step copy would restart on every write of the server).
void copy_all(Connection& src, Connection& dst) {
  sqlite3_backup* b = sqlite3_backup_init(dst.raw(), "main", src.raw(), "main");
  if (!b) throw StoreError(std::string("backup: ") + sqlite3_errmsg(dst.raw()));
  int rc;
  do {
    rc = sqlite3_backup_step(b, -1);
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) sqlite3_sleep(20);
  } while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
  sqlite3_backup_finish(b);
  if (rc != SQLITE_DONE)
    throw StoreError(std::string("backup: copy failed: ") + sqlite3_errstr(rc));
}

// The checks a copy must pass before it is trusted, and what it holds.
BackupReport inspect(Connection& c) {
  {
    auto s = c.prepare(sql::kIntegrityCheck);
    if (!s.step() || s.text(0) != "ok")
      throw StoreError("backup: integrity_check failed: " + (s.is_null(0) ? "" : s.text(0)));
  }
  {
    auto s = c.prepare("PRAGMA foreign_key_check");
    if (s.step()) throw StoreError("backup: a foreign key is broken in table " + s.text(0));
  }
  BackupReport r;
  {
    auto s = c.prepare("SELECT coalesce(max(version), 0) FROM schema_migrations");
    if (!s.step()) throw StoreError("backup: no schema_migrations: not an appointd database");
    r.schema_version = static_cast<int>(s.i64(0));
  }
  int known = 0;
  for (const Migration& m : sqlite_migrations()) known = std::max(known, m.version);
  if (r.schema_version > known)
    throw StoreError("backup: schema version " + std::to_string(r.schema_version) +
                     " is newer than this binary knows (" + std::to_string(known) +
                     "): restore it with the appointd that wrote it");
  {
    auto s = c.prepare("SELECT count(*) FROM appointments");
    s.step();
    r.appointments = static_cast<long>(s.i64(0));
  }
  {
    auto s = c.prepare("PRAGMA page_count");
    s.step();
    r.pages = static_cast<long>(s.i64(0));
  }
  return r;
}

// Writes `src` into a fresh file beside `target`, checks it, syncs it and renames it into place.
BackupReport install(Connection& src, const fs::path& target) {
  const fs::path tmp = target.string() + ".part";
  std::error_code ec;
  fs::remove(tmp, ec);
  BackupReport r;
  try {
    {
      Connection dst(tmp.string(), false);
      copy_all(src, dst);
      // A self-contained file: no WAL beside it.
      dst.exec("PRAGMA journal_mode=DELETE");
      r = inspect(dst);
    }
    fsync_path(tmp);
    fs::rename(tmp, target);
    fsync_path(target.has_parent_path() ? target.parent_path() : fs::path("."));
  } catch (...) {
    fs::remove(tmp, ec);
    throw;
  }
  return r;
}

}  // namespace

BackupReport backup_database(const std::string& from, const std::string& to) {
  if (!fs::exists(from)) throw StoreError("backup: no database at " + from);
  if (fs::exists(to)) throw StoreError("backup: " + to + " exists; name a new file");
  Connection src(from, true);
  return install(src, to);
}

BackupReport restore_database(const std::string& file, const std::string& path) {
  if (!fs::exists(file)) throw StoreError("restore: no backup at " + file);
  Connection src(file, true);
  inspect(src);  // refused before anything is touched
  const fs::path target(path);
  if (target.has_parent_path()) fs::create_directories(target.parent_path());
  // Into the target itself, through its own journal: one transaction, so the old database stays
  // whole if anything fails, and its WAL is handled by SQLite. The exclusive lock is refused
  // while any other connection (a server) has the file open.
  Connection dst(path, false);
  sqlite3_busy_timeout(dst.raw(), 200);
  try {
    dst.exec("PRAGMA locking_mode=EXCLUSIVE");
    dst.exec("BEGIN EXCLUSIVE");
    dst.exec("COMMIT");
  } catch (const StoreError& e) {
    throw StoreError("restore: " + path +
                     " is in use (stop every server using it first): " + e.what());
  }
  copy_all(src, dst);
  BackupReport r = inspect(dst);
  dst.exec("PRAGMA journal_mode=WAL");  // as the server keeps it
  return r;
}

}  // namespace appointd::store::sqlite
