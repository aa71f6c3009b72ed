#include "store/postgres/pg.h"

#include <algorithm>
#include <cerrno>
#include <charconv>

#include <poll.h>

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

Params& Params::add_indexes(size_t n) {
  std::string s = "{";
  for (size_t k = 0; k < n; ++k) {
    if (k) s += ',';
    s += std::to_string(k);
  }
  s += '}';
  return push(std::move(s));
}

namespace {

void quote_element(std::string& s, const std::string& v) {
  s += '"';
  for (char ch : v) {
    if (ch == '"' || ch == '\\') s += '\\';
    s += ch;
  }
  s += '"';
}

}  // namespace

Params& Params::add_texts_of(const std::vector<const Params*>& ps, int i) {
  std::string s = "{";
  for (size_t k = 0; k < ps.size(); ++k) {
    if (k) s += ',';
    if (ps[k]->is_null(i))
      s += "NULL";
    else
      quote_element(s, ps[k]->value(i));
  }
  s += '}';
  return push(std::move(s));
}

Params& Params::add_numbers_of(const std::vector<const Params*>& ps, int i) {
  std::string s = "{";
  for (size_t k = 0; k < ps.size(); ++k) {
    if (k) s += ',';
    s += ps[k]->is_null(i) ? std::string("NULL") : ps[k]->value(i);
  }
  s += '}';
  return push(std::move(s));
}

Params& Params::append(const Params& o) {
  values_.insert(values_.end(), o.values_.begin(), o.values_.end());
  null_.insert(null_.end(), o.null_.begin(), o.null_.end());
  return *this;
}

std::vector<const char*> Params::pointers() const {
  std::vector<const char*> out(values_.size());
  for (size_t i = 0; i < values_.size(); ++i) out[i] = null_[i] ? nullptr : values_[i].c_str();
  return out;
}

namespace {

// Type oids of pg_type.h (stable across PostgreSQL versions).
constexpr Oid kBoolOid = 16, kInt8Oid = 20, kInt2Oid = 21, kInt4Oid = 23, kTimestampOid = 1114,
              kTimestampTzOid = 1184;
// Microseconds between 1970-01-01 and 2000-01-01, PostgreSQL's timestamp epoch.
constexpr std::int64_t kPgEpochMicros = 946684800LL * 1000000;

std::uint64_t big_endian(const char* p, int n) {
  std::uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

}  // namespace

std::int64_t Result::i64(int row, int col) const {
  const int r = at(row);
  const int c = col + col_;
  if (PQgetisnull(r_.get(), r, c)) return 0;
  const char* v = PQgetvalue(r_.get(), r, c);
  const int n = PQgetlength(r_.get(), r, c);
  if (PQfformat(r_.get(), c) == 0) {  // text (utility statements)
    std::int64_t out = 0;
    std::from_chars(v, v + n, out);
    return out;
  }
  switch (PQftype(r_.get(), c)) {
    case kBoolOid:
      return v[0] != 0;
    case kInt2Oid:
      return static_cast<std::int16_t>(big_endian(v, 2));
    case kInt4Oid:
      return static_cast<std::int32_t>(big_endian(v, 4));
    case kInt8Oid:
      return static_cast<std::int64_t>(big_endian(v, 8));
    case kTimestampOid:
    case kTimestampTzOid: {
      // Microseconds since 2000-01-01; every instant appointd stores is whole seconds.
      const auto us = static_cast<std::int64_t>(big_endian(v, 8)) + kPgEpochMicros;
      return us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000);
    }
    default:
      throw StoreError("postgresql: column " + std::to_string(c) + " is not an integer");
  }
}

long Result::affected() const {
  const char* n = PQcmdTuples(r_.get());
  return n && *n ? std::atol(n) : 0;
}

Result Result::view(std::vector<int> rows, int col) const {
  Result v;
  v.r_ = r_;
  if (mapped_)
    for (int& r : rows) r = rows_[static_cast<size_t>(r)];
  v.rows_ = std::move(rows);
  v.mapped_ = true;
  v.col_ = col_ + col;
  return v;
}

// Where the reader of an exchange is: every answer it waits for, in order (exchange()).
struct Connection::Exchange {
  std::vector<Scope> scopes;
  std::vector<const Statement*> preparing;  // their Parse first, in a scope of their own
  std::vector<ScopeResult> out;
  size_t prepared = 0;  // Parse results read
  bool prepare_synced = false;
  size_t scope = 0;            // the scope being read
  size_t item = 0;             // its next item
  bool awaiting_null = false;  // an item's result was read; the null that ends it is next
  // A statement answered after the scope's first error means the server did not skip it: the
  // error was the client's (libpq), and what followed it, COMMIT included, may have run.
  bool went_on = false;
  size_t wanted = 0;
};

Result Session::run(const Statement& s, const Params& p) {
  queue_.push_back({&s, nullptr, p, true, false});
  auto out = send_queue();
  return std::move(out.back());
}

void Session::want(const Statement& s, Params p) {
  queue_.push_back({&s, nullptr, std::move(p), true, false});
}

std::vector<Result> Session::run_all(std::span<const std::pair<const Statement*, Params>> batch) {
  for (const auto& [st, p] : batch) queue_.push_back({st, nullptr, p, true, false});
  return send_queue();
}

void Session::defer(const Statement& s, Params p) {
  queue_.push_back({&s, nullptr, std::move(p), false, false});
}

void Session::defer(const char* sql, bool elidable) {
  queue_.push_back({nullptr, sql, {}, false, elidable});
}

bool Session::fuse(const Statement& last, const Statement& fused, const Params& more) {
  if (queue_.empty() || queue_.back().st != &last || queue_.back().want) return false;
  queue_.back().st = &fused;
  queue_.back().params.append(more);
  return true;
}

void Session::flush() {
  send_queue();
}

void Session::commit() {
  std::erase_if(queue_, [](const Item& i) { return i.elidable; });
  defer("COMMIT");
  send_queue();
}

std::vector<Result> Session::send_queue() {
  std::vector<Item> q;
  q.swap(queue_);
  if (q.empty()) return {};
  ++round_trips_;
  return send(std::move(q));
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
  return !queue_.empty() || PQtransactionStatus(c_) != PQTRANS_IDLE;
}

namespace {

// The PgError of a failed result, named after what failed.
PgError error_of(PGconn* c, PGresult* r, const char* what, bool& lost) {
  std::string state = field(r, PG_DIAG_SQLSTATE);
  std::string constraint = field(r, PG_DIAG_CONSTRAINT_NAME);
  std::string msg = r ? PQresultErrorMessage(r) : "";
  if (msg.empty()) msg = PQerrorMessage(c);
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  if (PQstatus(c) != CONNECTION_OK || session_lost(state)) lost = true;
  return PgError(
      std::string("postgresql: ") + what + ": " + (state.empty() ? "" : state + " ") + msg, state,
      constraint, lost, field(r, PG_DIAG_MESSAGE_DETAIL));
}

}  // namespace

void Connection::fail(PGresult* r, const char* what) {
  PgError e = error_of(c_, r, what, lost_);
  PQclear(r);
  throw e;
}

void Connection::broken_keeping_answers() {
  lost_ = true;
  if (x_) {
    salvaged_ = std::move(x_->out);
    salvaged_.resize(std::min(salvaged_.size(), x_->scope));
  }
  x_.reset();
}

void Connection::broken(const char* what) {
  // The pipeline is in an unknown state: the session is of no further use. What was answered
  // before stays known (a transaction id read ahead of its COMMIT).
  broken_keeping_answers();
  fail(nullptr, what);
}

void Connection::rollback_quietly() {
  queue_.clear();
  if (!ok() || PQtransactionStatus(c_) == PQTRANS_IDLE) return;
  PQclear(PQexec(c_, "ROLLBACK"));
}

std::vector<Result> Connection::send(std::vector<Item> q) {
  Scope scope;
  scope.reserve(q.size());
  for (const auto& it : q) scope.push_back(&it);
  const Scope one[] = {std::move(scope)};
  auto rs = exchange(one);
  if (rs[0].error) throw std::move(*rs[0].error);
  return std::move(rs[0].rows);
}

std::vector<ScopeResult> Connection::exchange(std::span<const Scope> scopes) {
  start(scopes);
  while (!advance()) {
    pollfd p{PQsocket(c_), static_cast<short>(POLLIN | (wants_write() ? POLLOUT : 0)), 0};
    if (::poll(&p, 1, -1) < 0 && errno != EINTR) broken("poll");
  }
  return finish();
}

void Connection::set_nonblocking(bool on) {
  if (PQsetnonblocking(c_, on ? 1 : 0) != 0) broken("nonblocking");
}

int Connection::socket() const {
  return PQsocket(c_);
}

bool Connection::wants_write() const {
  return x_ && flush_pending_;
}

void Connection::start(std::span<const Scope> scopes) {
  if (x_) throw StoreError("postgresql: an exchange is already in flight");
  x_ = std::make_unique<Exchange>();
  Exchange& x = *x_;
  x.scopes.assign(scopes.begin(), scopes.end());
  x.out.resize(scopes.size());
  if (PQenterPipelineMode(c_) != 1) broken("pipeline");
  // Statements this session has not prepared yet: their Parse first, in a scope of their own,
  // so that every later scope finds them whatever happens in the others.
  for (const auto& scope : x.scopes)
    for (const Item* it : scope)
      if (it->st && !prepared_.count(it->st->name) &&
          std::find(x.preparing.begin(), x.preparing.end(), it->st) == x.preparing.end())
        x.preparing.push_back(it->st);
  for (const Statement* st : x.preparing)
    if (!PQsendPrepare(c_, st->name, st->sql, 0, nullptr)) broken(st->name);
  if (!x.preparing.empty() && !PQpipelineSync(c_)) broken("sync");
  for (const auto& scope : x.scopes) {
    x.out[static_cast<size_t>(&scope - x.scopes.data())].rows.reserve(scope.size());
    for (const Item* it : scope) {
      if (it->st) {
        auto ptrs = it->params.pointers();
        if (!PQsendQueryPrepared(c_, it->st->name, it->params.size(), ptrs.data(), nullptr, nullptr,
                                 1))
          broken(it->st->name);
      } else if (!PQsendQueryParams(c_, it->text, 0, nullptr, nullptr, nullptr, nullptr, 1)) {
        broken(it->text);
      }
    }
    if (!PQpipelineSync(c_)) broken("sync");
  }
  flush_pending_ = true;
}

bool Connection::advance() {
  if (!x_) return true;
  Exchange& x = *x_;
  if (flush_pending_) {
    const int f = PQflush(c_);
    if (f < 0) broken("flush");
    flush_pending_ = f == 1;
  }
  if (!PQconsumeInput(c_)) broken("read");
  // The session broke while reading a scope: its own error, when it had one, says why.
  auto lost = [&](const ScopeResult* res, const char* what) {
    if (res && res->error) {
      PgError e(res->error->what(), res->error->sqlstate(), res->error->constraint(), true);
      broken_keeping_answers();
      throw e;
    }
    broken(what);
  };
  auto sync = [&](PGresult* r, const ScopeResult* res) {
    const bool synced = r && PQresultStatus(r) == PGRES_PIPELINE_SYNC;
    PQclear(r);
    if (!synced) lost(res, "sync");
  };
  while (x.scope < x.scopes.size()) {
    if (PQisBusy(c_)) return false;
    PGresult* r = PQgetResult(c_);
    if (x.awaiting_null) {
      if (r) {
        PQclear(r);  // more results of the same item: none are expected, and none are kept
        continue;
      }
      x.awaiting_null = false;
      continue;
    }
    if (x.prepared < x.preparing.size()) {
      const Statement* st = x.preparing[x.prepared++];
      if (!r) broken(st->name);
      if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        // A statement that cannot be prepared is a bug; the scopes after it cannot run.
        lost_ = true;
        fail(r, st->name);
      }
      PQclear(r);
      prepared_.insert(st->name);
      x.awaiting_null = true;
      continue;
    }
    if (!x.preparing.empty() && !x.prepare_synced) {
      sync(r, nullptr);
      x.prepare_synced = true;
      continue;
    }
    const Scope& scope = x.scopes[x.scope];
    ScopeResult& res = x.out[x.scope];
    if (x.item < scope.size()) {
      // One result and a null per item; PGRES_PIPELINE_ABORTED for those after a failed one.
      const Item& it = *scope[x.item];
      const char* what = it.st ? it.st->name : it.text;
      x.wanted += it.want;
      if (!r) lost(&res, what);
      const auto st = PQresultStatus(r);
      if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
        x.went_on |= res.error.has_value();
        if (it.want && !res.error) res.rows.emplace_back(r), r = nullptr;
        PQclear(r);
      } else if (st == PGRES_PIPELINE_ABORTED || res.error) {
        PQclear(r);
      } else {
        res.error.emplace(error_of(c_, r, what, lost_));
        res.failed = x.item;
        PQclear(r);
      }
      if (PQstatus(c_) != CONNECTION_OK) lost(&res, what);
      ++x.item;
      x.awaiting_null = true;
      continue;
    }
    // Then the scope's sync.
    sync(r, &res);
    // Reported as a lost session: not retried when COMMIT travelled in this round trip (the
    // outcome is unknown), retried otherwise (the server rolls the open transaction back when
    // the session closes).
    if (x.went_on) {
      const Item& f = *scope[res.failed];
      broken(f.st ? f.st->name : f.text);
    }
    // Every wanted statement answered with rows (the callers index them).
    if (!res.error && res.rows.size() != x.wanted) broken("pipeline");
    ++x.scope;
    x.item = 0;
    x.went_on = false;
    x.wanted = 0;
  }
  if (PQexitPipelineMode(c_) != 1) broken("sync");
  return true;
}

std::vector<ScopeResult> Connection::finish() {
  std::vector<ScopeResult> out = std::move(x_->out);
  x_.reset();
  return out;
}

void Connection::exec(const char* sql) {
  if (!queue_.empty()) flush();
  ++round_trips_;
  PGresult* r = PQexec(c_, sql);
  auto st = PQresultStatus(r);
  if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) fail(r, sql);
  PQclear(r);
}

}  // namespace appointd::store::postgres
