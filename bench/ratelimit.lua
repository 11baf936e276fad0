-- bench/ratelimit.lua — wrk script for bench/ratelimit.sh: paces requests and counts 200s and 429s.
--
--   wrk -t2 -cC -dDs -s bench/ratelimit.lua URL -- <token> <delay_ms> [<etag>]
--
-- Every connection sends X-API-Token: <token> and waits <delay_ms> ms before each request, so the offered
-- rate is about C * 1000 / (delay_ms + latency). Each wrk thread has its own Lua state: counters are
-- per-thread globals, read back and summed in done() (which runs once, in the main state). The last line is
-- machine-readable:
--   RESULT ok=<200s> limited=<429s> other=<other statuses> requests=<n> duration_us=<us> not_modified=<304s>
--          commits=<n>
--
-- With <etag>, the mixed-cost row (ratelimiter.costs): URL is .../v1/namespaces/NS/tables and every connection
-- cycles through three kinds of request, one after another:
--   n % 4 == 0  POST URL/c                        an updateTable commit (class commit)
--   n % 4 == 1  GET  URL/t                        a loadTable answered 200 (class read)
--   else        GET  URL/t  If-None-Match: etag   a loadTable answered 304 (read, refunded to not_modified)
-- A response does not say which request it answers when a thread drives several connections, so the kind is
-- told from the response: a 304 is a conditional load; a 200 carrying t's ETag (t never changes) a load, counted
-- in ok; any other 200 a commit (its ETag is c's).

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   ok, limited, other, nm, commits, n = 0, 0, 0, 0, 0, 0
   token = args[1] or "bench"
   wrk.headers["X-API-Token"] = token
   delay_ms = tonumber(args[2] or "0") or 0
   etag = args[3]
   plain = wrk.format()
end

function delay()
   return delay_ms
end

function request()
   if not etag then
      return plain
   end
   n = n + 1
   local k = n % 4
   if k == 0 then
      local body = string.format('{"requirements":[],"updates":[{"action":"set-properties","updates":{"k":"%d"}}]}', n)
      -- a headers table replaces wrk.headers (it is not merged): the token goes in each
      return wrk.format("POST", wrk.path .. "/c", {["X-API-Token"] = token, ["Content-Type"] = "application/json"}, body)
   elseif k == 1 then
      return wrk.format("GET", wrk.path .. "/t")
   end
   return wrk.format("GET", wrk.path .. "/t", {["X-API-Token"] = token, ["If-None-Match"] = etag})
end

function response(status, headers, body)
   if status == 200 and etag and headers["ETag"] ~= etag then
      commits = commits + 1
   elseif status == 200 then
      ok = ok + 1
   elseif status == 304 then
      nm = nm + 1
   elseif status == 429 then
      limited = limited + 1
   else
      other = other + 1
   end
end

function done(summary, latency, requests)
   local o, l, x, m, c = 0, 0, 0, 0, 0
   for _, t in ipairs(threads) do
      o = o + t:get("ok")
      l = l + t:get("limited")
      x = x + t:get("other")
      m = m + t:get("nm")
      c = c + t:get("commits")
   end
   io.write(string.format("RESULT ok=%d limited=%d other=%d requests=%d duration_us=%d not_modified=%d commits=%d\n",
                          o, l, x, summary.requests, summary.duration, m, c))
end
