-- wrk script for bench/commits.sh: POSTs a set-properties commit to one of TABLES tables (round robin per
-- thread), counting 200 / 409 / other.  Usage: wrk ... -s bench/commits.lua URL_BASE -- TOKEN TABLES [HEADER]
-- (HEADER: the name of the header that carries TOKEN, X-API-Token by default; bench/peers.sh sends X-API-Key to rustberg)
local counts = {}
local threads = {}
function setup(thread)
  table.insert(threads, thread)
end
function init(args)
  token = args[1]
  tables = tonumber(args[2] or "1")
  header = args[3] or "X-API-Token"
  n = 0
  ok, conflict, other = 0, 0, 0
end
function request()
  n = n + 1
  local t = (n % tables)
  local body = string.format('{"requirements":[],"updates":[{"action":"set-properties","updates":{"bench.k":"%d-%d"}}]}', n, math.random(1000000))
  return wrk.format("POST", wrk.path .. "/t" .. t, {[header] = token, ["Content-Type"] = "application/json"}, body)
end
function response(status, headers, body)
  if status == 200 then ok = ok + 1 elseif status == 409 then conflict = conflict + 1 else other = other + 1 end
end
function done(summary, latency, requests)
  local o, c, x = 0, 0, 0
  for _, t in ipairs(threads) do
    o = o + t:get("ok"); c = c + t:get("conflict"); x = x + t:get("other")
  end
  io.write(string.format("COMMITS ok=%d conflict=%d other=%d p50_ms=%.2f p99_ms=%.2f secs=%.2f\n", o, c, x,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.duration / 1e6))
end
