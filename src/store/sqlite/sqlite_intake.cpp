// SqliteTx: the phone intake's rows (issue 14, migration 006). Writes are serialised by the
// writer thread, so lock_call() needs no lock: one call's function calls and events already run
// one after the other.
#include "store/sqlite/intake_sql.h"
#include "store/sqlite/sqlite_tx.h"
#include "store/store.h"

namespace appointd::store::sqlite {
namespace {

std::optional<Instant> opt_instant(Stmt& s, int col) {
  if (s.is_null(col)) return std::nullopt;
  return from_unix(s.i64(col));
}

Call read_call(Stmt& s) {
  Call c;
  c.company_id = s.i64(0);
  c.call_id = s.text(1);
  c.branch_id = s.i64(2);
  c.agent_id = s.text(3);
  c.from_number = s.text(4);
  c.to_number = s.text(5);
  c.direction = s.text(6);
  c.started_at = opt_instant(s, 7);
  c.ended_at = opt_instant(s, 8);
  c.status = s.text(9);
  c.disconnection_reason = s.text(10);
  c.summary = s.text(11);
  c.created_at = from_unix(s.i64(12));
  c.updated_at = from_unix(s.i64(13));
  return c;
}

void bind_call(Stmt& s, const Call& c) {
  s.bind(1, c.company_id).bind(2, c.call_id).bind(3, c.branch_id).bind(4, c.agent_id);
  s.bind(5, c.from_number).bind(6, c.to_number).bind(7, c.direction);
  if (c.started_at)
    s.bind(8, to_unix(*c.started_at));
  else
    s.bind_null(8);
  if (c.ended_at)
    s.bind(9, to_unix(*c.ended_at));
  else
    s.bind_null(9);
  s.bind(10, c.status).bind(11, c.disconnection_reason).bind(12, c.summary);
  s.bind(13, to_unix(c.created_at)).bind(14, to_unix(c.updated_at));
}

}  // namespace

std::vector<Branch> SqliteTx::branches_by_phone(const std::string& e164, int limit) {
  auto s = c_.prepare(sql::kBranchesByPhone);
  s.bind(1, e164).bind(2, limit);
  std::vector<Branch> out;
  while (s.step())
    out.push_back({s.i64(0), s.i64(1), s.text(2), s.text(3), s.text(4), from_unix(s.i64(5))});
  return out;
}

std::optional<Id> SqliteTx::agent_company(const std::string& agent_id) {
  auto s = c_.prepare(sql::kAgentCompany);
  s.bind(1, agent_id);
  if (!s.step()) return std::nullopt;
  return s.i64(0);
}

std::vector<std::string> SqliteTx::agents(Id company_id) {
  auto s = c_.prepare(sql::kAgents);
  s.bind(1, company_id);
  std::vector<std::string> out;
  while (s.step()) out.push_back(s.text(0));
  return out;
}

std::optional<IntakeReply> SqliteTx::intake_reply(Id company_id, const std::string& call_id,
                                                  const std::string& function,
                                                  const std::string& args_fingerprint) {
  auto s = c_.prepare(sql::kIntakeReply);
  s.bind(1, company_id).bind(2, call_id).bind(3, function).bind(4, args_fingerprint);
  if (!s.step()) return std::nullopt;
  IntakeReply r;
  r.company_id = s.i64(0);
  r.call_id = s.text(1);
  r.function = s.text(2);
  r.args_fingerprint = s.text(3);
  r.seq = static_cast<int>(s.i64(4));
  r.body = s.text(5);
  r.appointment_id = s.i64(6);
  r.created_at = from_unix(s.i64(7));
  return r;
}

std::optional<Call> SqliteTx::call(Id company_id, const std::string& call_id) {
  auto s = c_.prepare(sql::kCall);
  s.bind(1, company_id).bind(2, call_id);
  if (!s.step()) return std::nullopt;
  return read_call(s);
}

std::vector<Id> SqliteTx::call_appointments(Id company_id, const std::string& call_id) {
  auto s = c_.prepare(sql::kCallAppointments);
  s.bind(1, company_id).bind(2, call_id);
  std::vector<Id> out;
  while (s.step()) out.push_back(s.i64(0));
  return out;
}

std::vector<Appointment> SqliteTx::upcoming_appointments(Id company_id, Id customer_id,
                                                         Instant after, int limit) {
  std::vector<Id> ids;
  {
    auto s = c_.prepare(sql::kUpcomingAppointments);
    s.bind(1, company_id).bind(2, customer_id).bind(3, to_unix(after)).bind(4, limit);
    while (s.step()) ids.push_back(s.i64(0));
  }
  std::vector<Appointment> out;
  for (Id id : ids)
    if (auto a = appointment(company_id, id)) out.push_back(std::move(*a));
  return out;
}

std::vector<Hold> SqliteTx::holds_of_owner(Id company_id, const std::string& owner, Instant now) {
  auto s = c_.prepare(sql::kHoldsOfOwner);
  s.bind(1, company_id).bind(2, owner).bind(3, to_unix(now));
  std::vector<Hold> out;
  while (s.step()) {
    Hold h;
    h.id = s.i64(0);
    h.company_id = s.i64(1);
    h.staff_id = s.i64(2);
    h.service_id = s.i64(3);
    h.time = {from_unix(s.i64(4)), from_unix(s.i64(5))};
    h.blocked = {from_unix(s.i64(6)), from_unix(s.i64(7))};
    h.expires_at = from_unix(s.i64(8));
    h.owner = s.text(9);
    out.push_back(std::move(h));
  }
  return out;
}

void SqliteTx::replace_agents(Id company_id, const std::vector<std::string>& agent_ids) {
  {
    auto s = c_.prepare(sql::kDeleteAgents);
    s.bind(1, company_id);
    s.exec();
  }
  for (const auto& a : agent_ids) {
    auto s = c_.prepare(sql::kInsertAgent);
    s.bind(1, a).bind(2, company_id);
    s.exec();
  }
}

void SqliteTx::insert_intake_reply(const IntakeReply& r) {
  auto s = c_.prepare(sql::kInsertIntakeReply);
  s.bind(1, r.company_id).bind(2, r.call_id).bind(3, r.function).bind(4, r.args_fingerprint);
  s.bind(5, r.seq).bind(6, r.body);
  if (r.appointment_id)
    s.bind(7, r.appointment_id);
  else
    s.bind_null(7);
  s.bind(8, to_unix(r.created_at));
  s.exec();
}

Call SqliteTx::lock_call(const Call& skeleton) {
  {
    auto s = c_.prepare(sql::kInsertCall);
    bind_call(s, skeleton);
    s.exec();
  }
  auto found = call(skeleton.company_id, skeleton.call_id);
  if (!found) throw StoreError("sqlite: the call just inserted is not there");
  return *found;
}

void SqliteTx::update_call(const Call& c) {
  auto s = c_.prepare(sql::kUpdateCall);
  bind_call(s, c);
  s.exec();
}

}  // namespace appointd::store::sqlite
