#pragma once
// SQL of the phone intake (issue 14, migration 006) for SQLite; instants are unix seconds.
namespace appointd::store::sqlite::sql {

inline constexpr const char* kBranchesByPhone =
    "SELECT id, company_id, name, timezone, phone, created_at FROM branches "
    "WHERE phone = ?1 AND phone <> '' ORDER BY id LIMIT ?2";
inline constexpr const char* kAgentCompany =
    "SELECT company_id FROM intake_agents WHERE agent_id = ?1";
inline constexpr const char* kAgents =
    "SELECT agent_id FROM intake_agents WHERE company_id = ?1 ORDER BY agent_id";
inline constexpr const char* kDeleteAgents = "DELETE FROM intake_agents WHERE company_id = ?1";
inline constexpr const char* kInsertAgent =
    "INSERT INTO intake_agents(agent_id, company_id) VALUES (?1, ?2)";

inline constexpr const char* kIntakeReply =
    "SELECT company_id, call_id, function, args_fingerprint, seq, body, "
    "COALESCE(appointment_id, 0), created_at FROM intake_replies "
    "WHERE company_id = ?1 AND call_id = ?2 AND function = ?3 AND args_fingerprint = ?4 "
    "ORDER BY seq DESC LIMIT 1";
inline constexpr const char* kInsertIntakeReply =
    "INSERT INTO intake_replies(company_id, call_id, function, args_fingerprint, seq, body, "
    "appointment_id, created_at) VALUES (?1,?2,?3,?4,?5,?6,?7,?8)";

#define APPOINTD_CALL_COLS                                                                    \
  "SELECT company_id, call_id, branch_id, agent_id, from_number, to_number, direction, "      \
  "started_at, ended_at, status, disconnection_reason, summary, created_at, updated_at FROM " \
  "calls "
inline constexpr const char* kCall = APPOINTD_CALL_COLS "WHERE company_id = ?1 AND call_id = ?2";
#undef APPOINTD_CALL_COLS
inline constexpr const char* kInsertCall =
    "INSERT INTO calls(company_id, call_id, branch_id, agent_id, from_number, to_number, "
    "direction, started_at, ended_at, status, disconnection_reason, summary, created_at, "
    "updated_at) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14) "
    "ON CONFLICT (company_id, call_id) DO NOTHING";
inline constexpr const char* kUpdateCall =
    "UPDATE calls SET branch_id = ?3, agent_id = ?4, from_number = ?5, to_number = ?6, "
    "direction = ?7, started_at = ?8, ended_at = ?9, status = ?10, disconnection_reason = ?11, "
    "summary = ?12, updated_at = ?14 WHERE company_id = ?1 AND call_id = ?2";

inline constexpr const char* kCallAppointments =
    "SELECT id FROM appointments WHERE company_id = ?1 AND call_id = ?2 "
    "UNION SELECT appointment_id FROM intake_replies "
    "WHERE company_id = ?1 AND call_id = ?2 AND appointment_id IS NOT NULL ORDER BY 1";

// The first segment's start decides "upcoming"; a booked appointment's segments are all active.
inline constexpr const char* kUpcomingAppointments =
    "SELECT a.id FROM appointments a JOIN segments s ON s.appointment_id = a.id "
    "WHERE a.company_id = ?1 AND a.customer_id = ?2 AND a.status = 'booked' "
    "GROUP BY a.id HAVING min(s.starts_at) > ?3 ORDER BY min(s.starts_at), a.id LIMIT ?4";

inline constexpr const char* kHoldsOfOwner =
    "SELECT id, company_id, staff_id, service_id, starts_at, ends_at, blocked_from, "
    "blocked_until, expires_at, owner FROM holds "
    "WHERE company_id = ?1 AND owner = ?2 AND owner <> '' AND expires_at > ?3 ORDER BY id";

}  // namespace appointd::store::sqlite::sql
