// PgTx: the phone intake's rows (issue 14, migration 008). One call's function calls and events
// run one after the other under its row lock (lock_call), on every instance.
#include "store/postgres/intake_sql.h"
#include "store/postgres/pg_tx.h"
#include "store/postgres/rows.h"
#include "store/postgres/sql.h"

namespace appointd::store::postgres {
namespace {

std::optional<Instant> opt_instant(const Result& r, int row, int col) {
  if (r.is_null(row, col)) return std::nullopt;
  return from_unix(r.i64(row, col));
}

Call read_call(const Result& r, int i) {
  Call c;
  c.company_id = r.i64(i, 0);
  c.call_id = r.text(i, 1);
  c.branch_id = r.i64(i, 2);
  c.agent_id = r.text(i, 3);
  c.from_number = r.text(i, 4);
  c.to_number = r.text(i, 5);
  c.direction = r.text(i, 6);
  c.started_at = opt_instant(r, i, 7);
  c.ended_at = opt_instant(r, i, 8);
  c.status = r.text(i, 9);
  c.disconnection_reason = r.text(i, 10);
  c.summary = r.text(i, 11);
  c.created_at = from_unix(r.i64(i, 12));
  c.updated_at = from_unix(r.i64(i, 13));
  return c;
}

Params& add_opt(Params& p, const std::optional<Instant>& t) {
  return t ? p.add(to_unix(*t)) : p.add_null();
}

// $1..$12 of kInsertCall and kUpdateCall.
Params call_params(const Call& c) {
  Params p;
  p.add(c.company_id).add(c.call_id).add(c.branch_id).add(c.agent_id);
  p.add(c.from_number).add(c.to_number).add(c.direction);
  add_opt(p, c.started_at);
  add_opt(p, c.ended_at);
  p.add(c.status).add(c.disconnection_reason).add(c.summary);
  return p;
}

}  // namespace

std::vector<Branch> PgTx::branches_by_phone(const std::string& e164, int limit) {
  auto r = read(sql::kBranchesByPhone, Params().add(e164).add(limit));
  std::vector<Branch> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(read_branch(r, i));
  return out;
}

std::optional<Id> PgTx::agent_company(const std::string& agent_id) {
  auto r = read(sql::kAgentCompany, Params().add(agent_id));
  if (!r.rows()) return std::nullopt;
  return r.i64(0, 0);
}

std::vector<std::string> PgTx::agents(Id company_id) {
  auto r = read(sql::kAgents, Params().add(company_id));
  std::vector<std::string> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(r.text(i, 0));
  return out;
}

std::optional<IntakeReply> PgTx::intake_reply(Id company_id, const std::string& call_id,
                                              const std::string& function,
                                              const std::string& args_fingerprint) {
  auto r = read(sql::kIntakeReply,
                Params().add(company_id).add(call_id).add(function).add(args_fingerprint));
  if (!r.rows()) return std::nullopt;
  return IntakeReply{r.i64(0, 0),
                     r.text(0, 1),
                     r.text(0, 2),
                     r.text(0, 3),
                     static_cast<int>(r.i64(0, 4)),
                     r.text(0, 5),
                     r.i64(0, 6),
                     from_unix(r.i64(0, 7))};
}

std::optional<Call> PgTx::call(Id company_id, const std::string& call_id) {
  auto r = read(sql::kCall, Params().add(company_id).add(call_id));
  if (!r.rows()) return std::nullopt;
  return read_call(r, 0);
}

std::vector<Id> PgTx::call_appointments(Id company_id, const std::string& call_id) {
  auto r = read(sql::kCallAppointments, Params().add(company_id).add(call_id));
  std::vector<Id> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(r.i64(i, 0));
  return out;
}

std::vector<Appointment> PgTx::upcoming_appointments(Id company_id, Id customer_id, Instant after,
                                                     int limit) {
  std::vector<Id> ids;
  {
    auto r = read(sql::kUpcomingAppointments,
                  Params().add(company_id).add(customer_id).add(to_unix(after)).add(limit));
    for (int i = 0; i < r.rows(); ++i) ids.push_back(r.i64(i, 0));
  }
  std::vector<Appointment> out;
  if (ids.empty()) return out;
  // Every appointment with its segments in one round trip, without locking them (a read).
  std::vector<std::pair<const Statement*, Params>> batch;
  for (Id id : ids) {
    batch.push_back({&sql::kAppointment, Params().add(company_id).add(id)});
    batch.push_back({&sql::kSegmentsOf, Params().add(id)});
  }
  auto rs = round_trip(batch);
  for (size_t k = 0; k < ids.size(); ++k)
    if (rs[2 * k].rows()) out.push_back(appointment_of(rs[2 * k], rs[2 * k + 1]));
  return out;
}

std::vector<Hold> PgTx::holds_of_owner(Id company_id, const std::string& owner, Instant now) {
  auto r = read(sql::kHoldsOfOwner, Params().add(company_id).add(owner).add(to_unix(now)));
  std::vector<Hold> out;
  for (int i = 0; i < r.rows(); ++i) {
    Hold h;
    h.id = r.i64(i, 0);
    h.company_id = r.i64(i, 1);
    h.staff_id = r.i64(i, 2);
    h.service_id = r.i64(i, 3);
    h.time = {from_unix(r.i64(i, 4)), from_unix(r.i64(i, 5))};
    h.blocked = {from_unix(r.i64(i, 6)), from_unix(r.i64(i, 7))};
    h.expires_at = from_unix(r.i64(i, 8));
    h.owner = r.text(i, 9);
    out.push_back(std::move(h));
  }
  return out;
}

void PgTx::replace_agents(Id company_id, const std::vector<std::string>& agent_ids) {
  write(sql::kDeleteAgents, Params().add(company_id));
  for (const auto& a : agent_ids) write(sql::kInsertAgent, Params().add(a).add(company_id));
}

void PgTx::insert_intake_reply(const IntakeReply& r) {
  Params p;
  p.add(r.company_id).add(r.call_id).add(r.function).add(r.args_fingerprint).add(r.seq).add(r.body);
  if (r.appointment_id)
    p.add(r.appointment_id);
  else
    p.add_null();
  p.add(to_unix(r.created_at));
  write(sql::kInsertIntakeReply, std::move(p));
}

Call PgTx::lock_call(const Call& skeleton) {
  prepare_write();  // BEGIN: the row lock lasts until the transaction ends
  Params ins = call_params(skeleton);
  ins.add(to_unix(skeleton.created_at)).add(to_unix(skeleton.updated_at));
  const std::pair<const Statement*, Params> batch[] = {
      {&sql::kInsertCall, std::move(ins)},
      {&sql::kCallForUpdate, Params().add(skeleton.company_id).add(skeleton.call_id)}};
  auto rs = round_trip(batch);
  if (!rs[1].rows()) throw StoreError("postgresql: the call just inserted is not there");
  return read_call(rs[1], 0);
}

void PgTx::update_call(const Call& c) {
  Params p = call_params(c);
  p.add(to_unix(c.updated_at));
  write(sql::kUpdateCall, std::move(p));
}

}  // namespace appointd::store::postgres
