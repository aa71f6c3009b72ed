#include "store/postgres/pg.h"

#include <charconv>

namespace appointd::store::postgres {
namespace {

// Class 08 (connection exception) and 57P01-57P03 (shutdown, crash, cannot connect now) mean
// the session is gone or going.
bool session_lost(const std::string& state) {
  return state.rfind("08", 0) == 0 || state == "57P01" || state == "57P02" || state == "57P03";
}

std::string field(PGresult* r, int code) {
  const char* v = r ? PQresultErrorField(r, code) : nullptr;
  return v ? v : "";
}

}  // namespace

Params& Params::add_null() {
  values_.emplace_back();
  null_.push_back(true);
  return *this;
}

Params& Params::push(std::string v) {
  values_.push_back(std::move(v));
  null_.push_back(false);
  return *this;
}

Params& Params::add_ids(const std::vector<std::int64_t>& ids) {
  std::string s = "{";
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(ids[i]);
  }
  s += '}';
  return push(std::move(s));
}

std::vector<const char*> Params::pointers() const {
  std::vector<const char*> out(values_.size());
  for (size_t i = 0; i < values_.size(); ++i) out[i] = null_[i] ? nullptr : values_[i].c_str();
  return out;
}

std::int64_t Result::i64(int row, int col) const {
  const char* v = PQgetvalue(r_, row, col);
  std::int64_t out = 0;
  std::from_chars(v, v + PQgetlength(r_, row, col), out);
  return out;
}

long Result::affected() const {
  const char* n = PQcmdTuples(r_);
  return n && *n ? std::atol(n) : 0;
}

Connection::Connection(const std::string& url, const std::vector<std::string>& setup) {
  // connect_timeout first, so a value in the URL wins; without one libpq would wait as long as
  // the kernel does for an unreachable host, and requests would hang instead of failing.
  const char* keys[] = {"connect_timeout", "dbname", nullptr};
  const char* values[] = {"3", url.c_str(), nullptr};
  c_ = PQconnectdbParams(keys, values, 1);
  if (!c_ || PQstatus(c_) != CONNECTION_OK) {
    std::string msg = c_ ? PQerrorMessage(c_) : "out of memory";
    PQfinish(c_);
    c_ = nullptr;
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    throw PgError("postgresql: cannot connect: " + msg, "08001", "", true);
  }
  // Server notices (e.g. "relation already exists, skipping") are not errors: keep them off
  // stderr, whose lines are the structured log.
  PQsetNoticeProcessor(
      c_, [](void*, const char*) {}, nullptr);
  for (const auto& s : setup) exec(s.c_str());
}

Connection::~Connection() {
  PQfinish(c_);
}

bool Connection::in_transaction() const {
  return PQtransactionStatus(c_) != PQTRANS_IDLE;
}

void Connection::fail(PGresult* r, const char* what) {
  std::string state = field(r, PG_DIAG_SQLSTATE);
  std::string constraint = field(r, PG_DIAG_CONSTRAINT_NAME);
  std::string msg = r ? PQresultErrorMessage(r) : "";
  if (msg.empty()) msg = PQerrorMessage(c_);
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  PQclear(r);
  if (PQstatus(c_) != CONNECTION_OK || session_lost(state)) lost_ = true;
  throw PgError(
      std::string("postgresql: ") + what + ": " + (state.empty() ? "" : state + " ") + msg, state,
      constraint, lost_);
}

Result Connection::run(const Statement& s, const Params& p) {
  if (!prepared_.count(s.name)) {
    PGresult* r = PQprepare(c_, s.name, s.sql, 0, nullptr);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) fail(r, s.name);
    PQclear(r);
    prepared_.insert(s.name);
  }
  auto ptrs = p.pointers();
  PGresult* r = PQexecPrepared(c_, s.name, p.size(), ptrs.data(), nullptr, nullptr, 0);
  auto st = PQresultStatus(r);
  if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) fail(r, s.name);
  return Result(r);
}

void Connection::exec(const char* sql) {
  PGresult* r = PQexec(c_, sql);
  auto st = PQresultStatus(r);
  if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) fail(r, sql);
  PQclear(r);
}

}  // namespace appointd::store::postgres
