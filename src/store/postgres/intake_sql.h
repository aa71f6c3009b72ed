#pragma once
// SQL of the phone intake (issue 14, migration 008) for PostgreSQL, named like sql.h's
// statements (names start with "intake_"). Instants go in as Unix seconds (to_timestamp) and
// come out as timestamptz in binary (Result::i64 gives Unix seconds).
#include "store/postgres/pg.h"

namespace appointd::store::postgres::sql {

inline constexpr Statement kBranchesByPhone{
    "intake_branches_by_phone",
    "SELECT id, company_id, name, timezone, phone, created_at FROM branches "
    "WHERE phone = $1 AND phone <> '' ORDER BY id LIMIT $2"};
inline constexpr Statement kAgentCompany{
    "intake_agent_company", "SELECT company_id FROM intake_agents WHERE agent_id = $1"};
inline constexpr Statement kAgents{
    "intake_agents", "SELECT agent_id FROM intake_agents WHERE company_id = $1 ORDER BY agent_id"};
inline constexpr Statement kDeleteAgents{"intake_delete_agents",
                                         "DELETE FROM intake_agents WHERE company_id = $1"};
inline constexpr Statement kInsertAgent{
    "intake_insert_agent", "INSERT INTO intake_agents(agent_id, company_id) VALUES ($1, $2)"};

inline constexpr Statement kIntakeReply{
    "intake_reply",
    "SELECT company_id, call_id, function, args_fingerprint, seq, body, "
    "COALESCE(appointment_id, 0), created_at FROM intake_replies "
    "WHERE company_id = $1 AND call_id = $2 AND function = $3 AND args_fingerprint = $4 "
    "ORDER BY seq DESC LIMIT 1"};
// A concurrent duplicate violates intake_replies_pkey: the store runs the write again
// (retry.cpp), and the second run replays the reply stored by the first.
inline constexpr Statement kInsertIntakeReply{
    "intake_insert_reply",
    "INSERT INTO intake_replies(company_id, call_id, function, args_fingerprint, seq, body, "
    "appointment_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, to_timestamp($8::bigint))"};
inline constexpr const char* kIntakeReplyConstraint = "intake_replies_pkey";
// Two companies naming one agent at once: the loser is retried, and then sees it taken.
inline constexpr const char* kIntakeAgentConstraint = "intake_agents_pkey";

#define APPOINTD_CALL_COLS                                                                    \
  "SELECT company_id, call_id, branch_id, agent_id, from_number, to_number, direction, "      \
  "started_at, ended_at, status, disconnection_reason, summary, created_at, updated_at FROM " \
  "calls "
inline constexpr Statement kCall{"intake_call",
                                 APPOINTD_CALL_COLS "WHERE company_id = $1 AND call_id = $2"};
inline constexpr Statement kCallForUpdate{"intake_call_for_update", APPOINTD_CALL_COLS
                                          "WHERE company_id = $1 AND call_id = $2 FOR UPDATE"};
#undef APPOINTD_CALL_COLS
inline constexpr Statement kInsertCall{
    "intake_insert_call",
    "INSERT INTO calls(company_id, call_id, branch_id, agent_id, from_number, to_number, "
    "direction, started_at, ended_at, status, disconnection_reason, summary, created_at, "
    "updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, to_timestamp($8::bigint), "
    "to_timestamp($9::bigint), $10, $11, $12, to_timestamp($13::bigint), "
    "to_timestamp($14::bigint)) ON CONFLICT (company_id, call_id) DO NOTHING"};
inline constexpr Statement kUpdateCall{
    "intake_update_call",
    "UPDATE calls SET branch_id = $3, agent_id = $4, from_number = $5, to_number = $6, "
    "direction = $7, started_at = to_timestamp($8::bigint), ended_at = to_timestamp($9::bigint), "
    "status = $10, disconnection_reason = $11, summary = $12, "
    "updated_at = to_timestamp($13::bigint) WHERE company_id = $1 AND call_id = $2"};

inline constexpr Statement kCallAppointments{
    "intake_call_appointments",
    "SELECT id FROM appointments WHERE company_id = $1 AND call_id = $2 "
    "UNION SELECT appointment_id FROM intake_replies "
    "WHERE company_id = $1 AND call_id = $2 AND appointment_id IS NOT NULL ORDER BY 1"};

// The first segment's start decides "upcoming"; a booked appointment's segments are all active.
inline constexpr Statement kUpcomingAppointments{
    "intake_upcoming_appointments",
    "SELECT a.id FROM appointments a JOIN segments s ON s.appointment_id = a.id "
    "WHERE a.company_id = $1 AND a.customer_id = $2 AND a.status = 'booked' "
    "GROUP BY a.id HAVING min(s.starts_at) > to_timestamp($3::bigint) "
    "ORDER BY min(s.starts_at), a.id LIMIT $4"};

inline constexpr Statement kHoldsOfOwner{
    "intake_holds_of_owner",
    "SELECT id, company_id, staff_id, service_id, starts_at, ends_at, blocked_from, "
    "blocked_until, expires_at, owner FROM holds WHERE company_id = $1 AND owner = $2 "
    "AND owner <> '' AND expires_at > to_timestamp($3::bigint) ORDER BY id"};

}  // namespace appointd::store::postgres::sql
