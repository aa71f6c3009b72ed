-- Phone intake (issue 14): the agents that route calls to a company, the calls, and the replies
-- given to function calls (a retry replays the first). The calls table of 001 was never written:
-- it is replaced by one keyed per company, with what the call events report.
DROP TABLE calls;
CREATE TABLE calls (
  company_id bigint NOT NULL REFERENCES companies(id),
  call_id text NOT NULL,
  branch_id bigint NOT NULL DEFAULT 0,
  agent_id text NOT NULL DEFAULT '',
  from_number text NOT NULL DEFAULT '',
  to_number text NOT NULL DEFAULT '',
  direction text NOT NULL DEFAULT '',
  started_at timestamptz,
  ended_at timestamptz,
  status text NOT NULL DEFAULT '',
  disconnection_reason text NOT NULL DEFAULT '',
  summary text NOT NULL DEFAULT '',
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  PRIMARY KEY (company_id, call_id)
);

-- An agent answers for one company: routing by agent id is never ambiguous.
CREATE TABLE intake_agents (
  agent_id text PRIMARY KEY,
  company_id bigint NOT NULL REFERENCES companies(id)
);
CREATE INDEX intake_agents_company ON intake_agents(company_id, agent_id);

-- A concurrent duplicate that loses the race on the primary key is retried (store/postgres
-- retry.cpp) and then replays the stored reply.
CREATE TABLE intake_replies (
  company_id bigint NOT NULL,
  call_id text NOT NULL,
  function text NOT NULL,
  args_fingerprint text NOT NULL,
  seq integer NOT NULL DEFAULT 1,
  body text NOT NULL,
  appointment_id bigint,
  created_at timestamptz NOT NULL,
  CONSTRAINT intake_replies_pkey
    PRIMARY KEY (company_id, call_id, function, args_fingerprint, seq)
);

-- Routing by the number dialled; a caller's upcoming appointments; a call's appointments and
-- holds.
CREATE INDEX branches_phone ON branches(phone) WHERE phone <> '';
CREATE INDEX appointments_customer ON appointments(company_id, customer_id);
CREATE INDEX appointments_call ON appointments(company_id, call_id) WHERE call_id IS NOT NULL;
CREATE INDEX holds_owner ON holds(company_id, owner) WHERE owner <> '';
