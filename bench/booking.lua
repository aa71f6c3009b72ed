-- wrk script: POST /v1/appointments for a random staff member (of STAFF_IDS) at a random
-- 15-minute start within one week (BENCH_DAYS), for one of 1,000 returning customers, or, with
-- BENCH_NEW_CUSTOMERS=1, for a phone number never seen before (as most phone callers are);
-- counts 201 and 409 apart.
-- Starts: by default any 15 minutes of BENCH_DAYS days from 2030-01-01T00:00Z (for staff without
-- working hours, to whom neither hours nor horizon apply). With BENCH_SCHEDULED=1 (staff working
-- Mon-Fri 08:00-18:00 Europe/Berlin, horizon 730 days: bench/setup_company.py --scheduled) only
-- the starts of a 30-minute service inside those hours, 08:00-17:30 local, Monday to Friday, of
-- the BENCH_DAYS days from tomorrow, so no answer is 422 outside_working_hours or beyond_horizon.
-- That needs TZ=Europe/Berlin in wrk's environment (the local time of os.time / os.date).
local key = os.getenv("BENCH_KEY")
local service = os.getenv("BENCH_SERVICE")
local staff = {}
for id in string.gmatch(os.getenv("BENCH_STAFF"), "%d+") do staff[#staff + 1] = id end
local week_start = 1893456000  -- 2030-01-01T00:00:00Z: always in the future
local new_customers = os.getenv("BENCH_NEW_CUSTOMERS") == "1"
local scheduled = os.getenv("BENCH_SCHEDULED") == "1"
local days = tonumber(os.getenv("BENCH_DAYS") or "7")
local slots = days * 24 * 4  -- unscheduled: every 15 minutes, day and night
if scheduled and os.getenv("TZ") ~= "Europe/Berlin" then
  error("BENCH_SCHEDULED=1 needs TZ=Europe/Berlin (the staff's working hours are local time)")
end

-- The starts as RFC 3339 UTC text, all of the same length.
local function all_starts()
  local out = {}
  if not scheduled then
    for i = 1, slots do out[i] = os.date("!%Y-%m-%dT%H:%M:%SZ", week_start + (i - 1) * 900) end
    return out
  end
  local today = os.date("*t")
  for d = 1, days do
    local noon = os.time({year = today.year, month = today.month, day = today.day + d, hour = 12})
    local t = os.date("*t", noon)  -- normalised: the date d days after today
    if t.wday ~= 1 and t.wday ~= 7 then  -- wday: 1 Sunday .. 7 Saturday
      for k = 0, 38 do  -- 08:00, 08:15, ..., 17:30: the 30-minute service ends by 18:00
        local at = os.time({year = t.year, month = t.month, day = t.day,
                            hour = 8 + math.floor(k / 4), min = 15 * (k % 4), sec = 0})
        out[#out + 1] = os.date("!%Y-%m-%dT%H:%M:%SZ", at)
      end
    end
  end
  return out
end

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
  phones, heads, mids = {}, {}, {}
  starts = all_starts()
  if #starts == 0 then error("no start to book: BENCH_DAYS covers no working day") end
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
    -- a first digit from the thread's id (1 or 2: the scripts run wrk -t2) and the millions of
    -- its count, then the rest of its count, so no two requests of the run share a number up
    -- to 4 million requests per thread (the RSS run of bench/booking.sh sends over a million).
    sent = sent + 1
    phone = string.format("%d%06d", id + (2 * math.floor(sent / 1000000)) % 8,
                          sent % 1000000)
  else
    phone = phones[math.random(1000)]
  end
  return heads[k] .. body_of(phone, k, starts[math.random(#starts)])
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
