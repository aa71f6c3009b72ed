#include "store/postgres/pg.h"

#include <algorithm>
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
  return !queue_.empty() || PQtransactionStatus(c_) != PQTRANS_IDLE;
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
  queue_.push_back({&s, nullptr, p, true, false});
  auto out = send_queue();
  return std::move(out.back());
}

void Connection::want(const Statement& s, Params p) {
  queue_.push_back({&s, nullptr, std::move(p), true, false});
}

std::vector<Result> Connection::run_all(
    std::span<const std::pair<const Statement*, Params>> batch) {
  for (const auto& [st, p] : batch) queue_.push_back({st, nullptr, p, true, false});
  return send_queue();
}

void Connection::defer(const Statement& s, Params p) {
  queue_.push_back({&s, nullptr, std::move(p), false, false});
}

void Connection::defer(const char* sql, bool elidable) {
  queue_.push_back({nullptr, sql, {}, false, elidable});
}

bool Connection::fuse(const Statement& last, const Statement& fused, const Params& more) {
  if (queue_.empty() || queue_.back().st != &last || queue_.back().want) return false;
  queue_.back().st = &fused;
  queue_.back().params.append(more);
  return true;
}

void Connection::flush() {
  send_queue();
}

void Connection::commit() {
  std::erase_if(queue_, [](const Item& i) { return i.elidable; });
  defer("COMMIT");
  send_queue();
}

void Connection::rollback_quietly() {
  queue_.clear();
  if (!ok() || PQtransactionStatus(c_) == PQTRANS_IDLE) return;
  PQclear(PQexec(c_, "ROLLBACK"));
}

std::vector<Result> Connection::send_queue() {
  std::vector<Item> q;
  q.swap(queue_);
  std::vector<Result> out;
  if (q.empty()) return out;
  ++round_trips_;
  out.reserve(q.size());
  // What was sent, in order: each item, preceded by its Parse when it is not prepared yet.
  struct Sent {
    const Item* item;
    bool prepare;
  };
  std::vector<Sent> sent;
  sent.reserve(q.size() + 2);
  std::vector<const char*> preparing;  // names whose Parse is in this pipeline
  auto broken = [&](const char* what) {
    // The pipeline is in an unknown state: the session is of no further use.
    lost_ = true;
    fail(nullptr, what);
  };
  if (PQenterPipelineMode(c_) != 1) broken("pipeline");
  for (const auto& it : q) {
    if (it.st) {
      const char* name = it.st->name;
      if (!prepared_.count(name) &&
          std::find(preparing.begin(), preparing.end(), name) == preparing.end()) {
        if (!PQsendPrepare(c_, name, it.st->sql, 0, nullptr)) broken(name);
        preparing.push_back(name);
        sent.push_back({&it, true});
      }
      auto ptrs = it.params.pointers();
      if (!PQsendQueryPrepared(c_, name, it.params.size(), ptrs.data(), nullptr, nullptr, 0))
        broken(name);
    } else if (!PQsendQueryParams(c_, it.text, 0, nullptr, nullptr, nullptr, nullptr, 0)) {
      broken(it.text);
    }
    sent.push_back({&it, false});
  }
  if (!PQpipelineSync(c_)) broken("sync");

  // One result and a null per item; PGRES_PIPELINE_ABORTED for those after a failed one; then
  // the sync. The first error is kept and thrown once the pipeline is drained.
  PGresult* error = nullptr;
  const char* error_what = "";
  // A statement answered after the first error means the server did not skip it: the error was
  // the client's (libpq), and what followed it, COMMIT included, may have run.
  bool went_on = false;
  for (const auto& s : sent) {
    const char* what = s.item->st ? s.item->st->name : s.item->text;
    PGresult* r = PQgetResult(c_);
    if (!r) {
      if (error) PQclear(error);
      broken(what);
    }
    const auto st = PQresultStatus(r);
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
      went_on |= error != nullptr;
      if (s.prepare)
        prepared_.insert(what);
      else if (s.item->want && !error)
        out.emplace_back(r), r = nullptr;
      PQclear(r);
    } else if (st == PGRES_PIPELINE_ABORTED || error) {
      PQclear(r);
    } else {
      error = r;
      error_what = what;
    }
    if (PQstatus(c_) != CONNECTION_OK) {
      lost_ = true;
      if (error) fail(error, error_what);
      fail(nullptr, what);
    }
    while (PGresult* extra = PQgetResult(c_)) PQclear(extra);  // the null that ends the item
  }
  PGresult* sync = PQgetResult(c_);
  const bool synced = sync && PQresultStatus(sync) == PGRES_PIPELINE_SYNC;
  PQclear(sync);
  if (!synced || PQexitPipelineMode(c_) != 1) {
    lost_ = true;
    if (error) fail(error, error_what);
    fail(nullptr, "sync");
  }
  if (error && went_on) {
    // Report it as a lost session: not retried when COMMIT travelled in this round trip (the
    // outcome is unknown), retried otherwise (the server rolls the open transaction back when
    // the session closes).
    PQclear(error);
    broken(error_what);
  }
  if (error) fail(error, error_what);
  // Every wanted statement answered with rows (the callers index them).
  const auto wanted = std::count_if(q.begin(), q.end(), [](const Item& i) { return i.want; });
  if (out.size() != static_cast<size_t>(wanted)) broken("pipeline");
  return out;
}

void Connection::exec(const char* sql) {
  if (!queue_.empty()) send_queue();
  ++round_trips_;
  PGresult* r = PQexec(c_, sql);
  auto st = PQresultStatus(r);
  if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) fail(r, sql);
  PQclear(r);
}

}  // namespace appointd::store::postgres
