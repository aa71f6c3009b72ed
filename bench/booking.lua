-- wrk script: POST /v1/appointments for a random staff member (of STAFF_IDS) at a random
-- 15-minute start within one week, for one of 1,000 returning customers, or, with
-- BENCH_NEW_CUSTOMERS=1, for a phone number never seen before (as most phone callers are);
-- counts 201 and 409 apart.
local key = os.getenv("BENCH_KEY")
local service = os.getenv("BENCH_SERVICE")
local staff = {}
for id in string.gmatch(os.getenv("BENCH_STAFF"), "%d+") do staff[#staff + 1] = id end
local week_start = 1893456000  -- 2030-01-01T00:00:00Z: always in the future
local slots = tonumber(os.getenv("BENCH_DAYS") or "7") * 24 * 4
local new_customers = os.getenv("BENCH_NEW_CUSTOMERS") == "1"

local threads = {}
function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(os.time() * 1000 + id)
  created, conflicts, others = 0, 0, 0
  wrk.method = "POST"
  wrk.headers["Authorization"] = "Bearer " .. key
  wrk.headers["Content-Type"] = "application/json"
  -- Everything that does not change between requests is built once, so that the load
  -- generator, which shares the machine with the server, spends little CPU per request: the
  -- starts, the phones, and per staff member the request head (its Content-Length is the same
  -- for every body of that staff member: phones and starts have fixed lengths).
  starts, phones, heads, mids = {}, {}, {}, {}
  for i = 1, slots do starts[i] = os.date("!%Y-%m-%dT%H:%M:%SZ", week_start + (i - 1) * 900) end
  for i = 1, 1000 do phones[i] = string.format("%07d", 1000000 + i - 1) end
  for k, s in ipairs(staff) do
    mids[k] = '","name":"Bench"},"segments":[{"staff_id":' .. s .. ',"service_id":' .. service ..
        ',"start":"'
    local sample = body_of(phones[1], k, starts[1])
    local req = wrk.format(nil, "/v1/appointments", nil, sample)
    heads[k] = req:sub(1, #req - #sample)
  end
end

function body_of(phone, k, start)
  return '{"customer":{"phone":"+4930' .. phone .. mids[k] .. start .. '"}]}'
end

local sent = 0
function request()
  local k = math.random(#staff)
  local phone
  if new_customers then
    -- 7 digits like the returning ones (the request heads' Content-Length depends on it):
    -- the thread's id, then its count, so no two requests of the run share a number.
    sent = sent + 1
    phone = string.format("%d%06d", id, sent % 1000000)
  else
    phone = phones[math.random(1000)]
  end
  return heads[k] .. body_of(phone, k, starts[math.random(slots)])
end

function response(status, headers, body)
  if status == 201 then created = created + 1
  elseif status == 409 then conflicts = conflicts + 1
  else others = others + 1 end
end

function done(summary, latency, requests)
  local c, k, o = 0, 0, 0
  for _, t in ipairs(threads) do
    c = c + t:get("created"); k = k + t:get("conflicts"); o = o + t:get("others")
  end
  local secs = summary.duration / 1e6
  io.write(string.format("RESULT requests=%d secs=%.2f rps=%.0f created=%d created_rps=%.0f conflicts=%d conflict_rps=%.0f other=%d p50_ms=%.2f p99_ms=%.2f\n",
    summary.requests, secs, summary.requests / secs, c, c / secs, k, k / secs, o,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
