-- wrk script for bench/peers.sh: createTable requests (POST URL, the namespace's tables collection) with
-- names unique per run: <PREFIX>_<thread>_<n>. Counts 200 / other.
-- Usage: wrk ... -s bench/peer/create.lua URL -- TOKEN PREFIX [HEADER]   (HEADER carries TOKEN; default X-API-Token)
local threads = {}
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
  table.insert(threads, thread)
end
function init(args)
  token = args[1]
  prefix = args[2] or "c"
  header = args[3] or "X-API-Token"
  n = 0
  ok, other = 0, 0
end
function request()
  n = n + 1
  local body = string.format('{"name":"%s_%d_%d","schema":{"type":"struct","schema-id":0,"fields":[' ..
    '{"id":1,"name":"id","type":"long","required":true},{"id":2,"name":"data","type":"string","required":false}]}}',
    prefix, tid, n)
  return wrk.format("POST", wrk.path, {[header] = token, ["Content-Type"] = "application/json"}, body)
end
function response(status, headers, body)
  if status == 200 then ok = ok + 1 else other = other + 1 end
end
function done(summary, latency, requests)
  local o, x = 0, 0
  for _, t in ipairs(threads) do
    o = o + t:get("ok"); x = x + t:get("other")
  end
  io.write(string.format("CREATES ok=%d other=%d p50_ms=%.2f p99_ms=%.2f secs=%.2f\n", o, x,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.duration / 1e6))
end
