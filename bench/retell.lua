-- wrk script: POST /v1/retell/functions with the signed requests of RETELL_REQUESTS (one per
-- line, "signature<TAB>body", bench/retell_setup.py), each sent once, in order, split among the
-- threads. Counts answers that booked, that offered times (alternatives, or check_availability's
-- free starts), and others that are not a 200 with a result sentence.
local file = os.getenv("RETELL_REQUESTS")
local nthreads = tonumber(os.getenv("RETELL_THREADS") or "2")  -- wrk -t: each thread a share
-- RETELL_PACE_MS: each connection waits this long between its requests (a caller's agent
-- talking between function calls); 0 (default): back to back, the server saturated.
local pace = tonumber(os.getenv("RETELL_PACE_MS") or "0")
local threads = {}
function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  reqs = {}
  local n = nthreads
  local i = 0
  for line in io.lines(file) do
    if i % n == id then
      local tab = line:find("\t", 1, true)
      local sig, body = line:sub(1, tab - 1), line:sub(tab + 1)
      reqs[#reqs + 1] = wrk.format("POST", "/v1/retell/functions",
        {["Content-Type"] = "application/json", ["X-Retell-Signature"] = sig}, body)
    end
    i = i + 1
  end
  next_req, booked, offered, other, exhausted = 1, 0, 0, 0, 0
end

function request()
  if next_req > #reqs then
    exhausted = 1
    next_req = 1  -- wrapped: these would be replays; the run is too long for the file
  end
  local r = reqs[next_req]
  next_req = next_req + 1
  return r
end

if pace > 0 then
  function delay()
    return pace
  end
end

function response(status, headers, body)
  if status ~= 200 or not body:find('"result"', 1, true) then other = other + 1
  elseif body:find('"booked":true', 1, true) then booked = booked + 1
  elseif body:find('"alternatives"', 1, true) then offered = offered + 1 end
end

function done(summary, latency, requests)
  local b, o, x, e = 0, 0, 0, 0
  for _, t in ipairs(threads) do
    b = b + t:get("booked"); o = o + t:get("offered"); x = x + t:get("other")
    e = math.max(e, t:get("exhausted"))
  end
  local secs = summary.duration / 1e6
  io.write(string.format("RESULT requests=%d rps=%.0f booked=%d offered=%d other=%d exhausted=%d p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
    summary.requests, summary.requests / secs, b, o, x, e, latency:percentile(50) / 1000,
    latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
