-- Phone intake (issue 14): the agents that route calls to a company, the calls, and the replies
-- given to function calls (a retry replays the first). The calls table of 001 was never written:
-- it is replaced by one keyed per company, with what the call events report.
DROP TABLE calls;
CREATE TABLE calls (
  company_id INTEGER NOT NULL REFERENCES companies(id),
  call_id TEXT NOT NULL,
  branch_id INTEGER NOT NULL DEFAULT 0,
  agent_id TEXT NOT NULL DEFAULT '',
  from_number TEXT NOT NULL DEFAULT '',
  to_number TEXT NOT NULL DEFAULT '',
  direction TEXT NOT NULL DEFAULT '',
  started_at INTEGER,
  ended_at INTEGER,
  status TEXT NOT NULL DEFAULT '',
  disconnection_reason TEXT NOT NULL DEFAULT '',
  summary TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (company_id, call_id)
);

-- An agent answers for one company: routing by agent id is never ambiguous.
CREATE TABLE intake_agents (
  agent_id TEXT PRIMARY KEY,
  company_id INTEGER NOT NULL REFERENCES companies(id)
);
CREATE INDEX intake_agents_company ON intake_agents(company_id, agent_id);

CREATE TABLE intake_replies (
  company_id INTEGER NOT NULL,
  call_id TEXT NOT NULL,
  function TEXT NOT NULL,
  args_fingerprint TEXT NOT NULL,
  seq INTEGER NOT NULL DEFAULT 1,
  body TEXT NOT NULL,
  appointment_id INTEGER,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (company_id, call_id, function, args_fingerprint, seq)
);

-- Routing by the number dialled; a caller's upcoming appointments; a call's appointments and
-- holds.
CREATE INDEX branches_phone ON branches(phone) WHERE phone <> '';
CREATE INDEX appointments_customer ON appointments(company_id, customer_id);
CREATE INDEX appointments_call ON appointments(company_id, call_id) WHERE call_id IS NOT NULL;
CREATE INDEX holds_owner ON holds(company_id, owner) WHERE owner <> '';
