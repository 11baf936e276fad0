-- bench/ratelimit.lua — wrk script for bench/ratelimit.sh: paces requests and counts 200s and 429s.
--
--   wrk -t2 -cC -dDs -s bench/ratelimit.lua URL -- <token> <delay_ms>
--
-- Every connection sends X-API-Token: <token> and waits <delay_ms> ms before each request, so the offered
-- rate is about C * 1000 / (delay_ms + latency). Each wrk thread has its own Lua state: counters are
-- per-thread globals, read back and summed in done() (which runs once, in the main state). The last line is
-- machine-readable:  RESULT ok=<200s> limited=<429s> other=<other statuses> requests=<n> duration_us=<us>

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   ok, limited, other = 0, 0, 0
   wrk.headers["X-API-Token"] = args[1] or "bench"
   delay_ms = tonumber(args[2] or "0") or 0
end

function delay()
   return delay_ms
end

function response(status, headers, body)
   if status == 200 then
      ok = ok + 1
   elseif status == 429 then
      limited = limited + 1
   else
      other = other + 1
   end
end

function done(summary, latency, requests)
   local o, l, x = 0, 0, 0
   for _, t in ipairs(threads) do
      o = o + t:get("ok")
      l = l + t:get("limited")
      x = x + t:get("other")
   end
   io.write(string.format("RESULT ok=%d limited=%d other=%d requests=%d duration_us=%d\n",
                          o, l, x, summary.requests, summary.duration))
end
