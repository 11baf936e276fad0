#!/usr/bin/env bash
# bench/abuse.sh — what a hostile or unlucky client costs (issue 10), each figure beside an idle baseline:
#   item 5:  RSS of icegate after 40 connections each announce a 16 MB body without a token (and how long
#            their 401s take), against its RSS before;
#   item 15: /healthz latency on new connections (p50/max of 20 probes) while 4 clients commit on a table
#            with ~24 MB of metadata, against idle;
#   item 10: loadTable p50/p99 at a fixed PROBE_RPS (200) on a keep-alive connection, idle and while 32
#            guessing clients (separate processes, each from its own 127.x address, admin + 7 user names of its
#            own, 10 guesses/s) flood the console login, and a control flood (the same clients and rate, each
#            request a 415 refused before any JSON or hash); 3 alternating runs, medians, and the target
#            (flood p99 within 2x idle).
#   item 6:  Slowloris: /healthz latency on new connections (p50/max of 20 probes) while 4,000 connections
#            from 16 loopback addresses (127.0.0.2-17, 250 each: under the per-address cap of 256) trickle
#            header bytes, against idle; and when the server.request_timeout deadline (5 s here) cuts them.
#            ROUNDS (3) floods, each against a fresh server; medians last.
# One icegate (default config; for item 6 server.request_timeout 5), 127.0.0.1 only (item 6's flood comes
# from 127.0.0.2-17, item 10's from 127.x addresses, which Linux routes to lo as well), bounded: every phase
# has a fixed count or duration.
#
# Usage: bench/abuse.sh     env: SECS (5), ROUNDS (3), SLOW (4000: item 6's connections, 250 per address),
#                                ITEMS ("5 15 10 6": which to run), PROBE_RPS (200: item 10's probe rate),
#                                ICEGATE_BIN (bin/icegate), BENCH_KEEP=1 keeps the temp dir.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
SECS=${SECS:-5}
ROUNDS=${ROUNDS:-3}
SLOW=${SLOW:-4000}
ITEMS=" ${ITEMS:-5 15 10 6} "
bench_init
icegate_setup abuse
ICEGATE_ADMIN_PASSWORD=bench-admin-password icegate_start "$DATA"
BASE="http://127.0.0.1:$ICEGATE_PORT"
H=(-H "X-API-Token: $TOKEN" -H "Content-Type: application/json")
curl -sf "${H[@]}" -X POST "$BASE/v1/namespaces" -d '{"namespace":["abuse"]}' >/dev/null
for t in small big; do
  curl -sf "${H[@]}" -X POST "$BASE/v1/namespaces/abuse/tables" -d "{\"name\":\"$t\",\"schema\":{\"type\":\"struct\",
    \"fields\":[{\"id\":1,\"name\":\"id\",\"type\":\"long\",\"required\":false}]}}" >/dev/null
done
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$ICEGATE_PID/status"; }

[[ $ITEMS == *" 5 "* || $ITEMS == *" 15 "* || $ITEMS == *" 10 "* ]] && ITEMS="$ITEMS" python3 - "$ICEGATE_PORT" "$TOKEN" "$ICEGATE_PID" "$SECS" <<'PY'
import json, os, socket, statistics, subprocess, sys, threading, time, urllib.request
port, token, pid, secs = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
base = f"http://127.0.0.1:{port}"

def rss_mb():
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024

def req(method, path, body=None, headers=None):
    r = urllib.request.Request(base + path, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(r, timeout=120) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()

def probe():  # /healthz on a new connection, as a load balancer's probe
    t0 = time.perf_counter()
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = b""
    while chunk := s.recv(4096):
        data += chunk
    s.close()
    assert data.startswith(b"HTTP/1.1 200"), data[:80]
    return (time.perf_counter() - t0) * 1000

def probes(n=20):
    ms = []
    for _ in range(n):
        ms.append(probe())
        time.sleep(0.05)
    return statistics.median(ms), max(ms)

items = os.environ.get("ITEMS", "5 15 10").split()
# item 5: bodies announced without a token
if "5" in items:
    before = rss_mb()
    t0 = time.perf_counter()
    socks, answers = [], []
    for _ in range(40):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"POST /v1/namespaces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 16000000\r\n\r\n" + b"x" * 65536)
        socks.append(s)
    for s in socks:
        s.settimeout(10)
        answers.append(s.recv(64)[:12])
    took = (time.perf_counter() - t0) * 1000
    after = rss_mb()
    for s in socks:
        s.close()
    print(f"item 5   40 x 16 MB bodies, no token: RSS {before:.0f} MB idle, {after:.0f} MB after; "
          f"{sum(a == b'HTTP/1.1 401' for a in answers)}/40 answered 401 in {took:.0f} ms in all")

# item 15: /healthz while commits on ~24 MB of metadata run
if "15" in items:
    blob = "x" * (1 << 20)
    for i in range(3):
        ups = {f"p{i}_{j}": blob for j in range(8)}
        st, _ = req("POST", "/v1/namespaces/abuse/tables/big", json.dumps({"requirements": [], "updates": [
            {"action": "set-properties", "updates": ups}]}).encode(),
            {"X-API-Token": token, "Content-Type": "application/json"})
        assert st == 200, st
    idle50, idlemax = probes()
    stop = threading.Event()
    commits = [0]
    def committer(k):
        n = 0
        while not stop.is_set():
            n += 1
            st, _ = req("POST", "/v1/namespaces/abuse/tables/big", json.dumps({"requirements": [], "updates": [
                {"action": "set-properties", "updates": {f"c{k}": str(n)}}]}).encode(),
                {"X-API-Token": token, "Content-Type": "application/json"})
            commits[0] += st == 200
    ths = [threading.Thread(target=committer, args=(k,)) for k in range(4)]
    for t in ths: t.start()
    time.sleep(0.5)
    busy50, busymax = probes()
    stop.set()
    for t in ths: t.join()
    print(f"item 15  /healthz on new connections: idle p50 {idle50:.1f} ms (max {idlemax:.1f}); "
          f"with 4 clients committing on 24 MB metadata p50 {busy50:.1f} ms (max {busymax:.1f}); {commits[0]} commits")

# item 10: loadTable latency at a fixed rate, idle and while a distributed guesser floods the console login
def prober(secs, out):  # one keep-alive connection, PROBE_RPS loadTables a second, each timed from its slot
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    period, lat = 1.0 / probe_rps, []
    t0 = time.perf_counter()
    for i in range(int(secs * probe_rps)):
        due = t0 + i * period
        now = time.perf_counter()
        if due > now:
            time.sleep(due - now)
        c.request("GET", "/v1/namespaces/abuse/tables/small", headers={"X-API-Token": token})
        r = c.getresponse()
        r.read()
        assert r.status == 200, r.status
        # from the slot, not the send: a request held up late still counts its wait (no coordinated omission)
        lat.append((time.perf_counter() - due) * 1000)
    out.put(lat)

def guesser(run, k, stop, out, control):  # one guessing client: its own address, its user names, ~10 guesses/s
    import http.client
    src = f"127.{run + 1}.0.{k + 2}"
    names = ["admin"] + [f"r{run}g{k}n{j}" for j in range(7)]  # admin, and 7 names of its own
    counts = {200: 0, 401: 0, 415: 0, 429: 0, 503: 0, "other": 0}
    c, i, t0 = None, 0, time.perf_counter()
    while not stop.is_set():
        due = t0 + i / guess_rps
        now = time.perf_counter()
        if due > now:
            time.sleep(due - now)
        try:
            if c is None:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=30, source_address=(src, 0))
            c.request("POST", "/api/v1/session/login", body=json.dumps(
                {"username": names[i % len(names)], "password": f"guess-{k}-{i}"}),
                headers={"Content-Type": "text/plain" if control else "application/json"})
            r = c.getresponse()
            r.read()
            counts[r.status if r.status in counts else "other"] += 1
            if r.getheader("Connection", "").lower() == "close":
                c.close()
                c = None
        except (OSError, http.client.HTTPException):
            counts["other"] += 1
            c = None
        i += 1
    out.put(counts)

def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100 * len(xs)))]

def measure(run, flood, control=False):
    import multiprocessing as mp
    ctx = mp.get_context("fork")
    stop, q, res = ctx.Event(), ctx.Queue(), ctx.Queue()
    gs = [ctx.Process(target=guesser, args=(run, k, stop, res, control)) for k in range(guessers if flood else 0)]
    for g in gs: g.start()
    if gs: time.sleep(0.2)  # the guessers are connected; their free guesses (5 per address) are the burst
    p = ctx.Process(target=prober, args=(secs, q))
    p.start()
    lat = q.get()
    p.join()
    stop.set()
    tot = {200: 0, 401: 0, 415: 0, 429: 0, 503: 0, "other": 0}
    for _ in gs:
        for key, v in res.get().items(): tot[key] += v
    for g in gs: g.join()
    time.sleep(0.5)  # hashes still queued drain before the next phase
    return statistics.median(lat), pct(lat, 99), tot

if "10" in items:
    probe_rps, guessers, guess_rps = int(os.environ.get("PROBE_RPS", "200")), 32, 10.0
    rows = []
    for run in range(3):  # alternate idle and flood; each run's guessers come from fresh addresses and names
        i50, i99, _ = measure(run, False)
        f50, f99, tot = measure(run, True)
        # control: the same 32 clients and request rate, refused at once (415, no JSON, no hash): what the
        # flood's traffic and its Python clients cost on these 2 shared cores, hashing aside
        c50, c99, _ = measure(run, True, control=True)
        rows.append((i50, i99, f50, f99, tot, c50, c99))
        print(f"item 10  run {run + 1}: idle p50 {i50:.2f} p99 {i99:.2f} ms; flood p50 {f50:.2f} p99 {f99:.2f} ms "
              f"({f99 / i99:.2f}x); control p50 {c50:.2f} p99 {c99:.2f} ms ({c99 / i99:.2f}x); guesses: "
              f"{tot[401]} hashed (401), {tot[429]} throttled (429), {tot[503]} queue full (503), {tot[200]} ok, "
              f"{tot['other']} other", flush=True)
    med = lambda j: statistics.median(r[j] for r in rows)
    mtot = lambda key: statistics.median(r[4][key] for r in rows)
    i99, f99 = med(1), med(3)
    print(f"item 10  loadTable at {probe_rps} req/s (keep-alive, timed from its slot), medians of 3 runs: "
          f"idle p50 {med(0):.2f} ms p99 {i99:.2f} ms; during a login flood (32 guessers in separate processes on "
          f"127.x.0.2-33, admin + 7 user names each, {guess_rps:.0f} guesses/s each) p50 {med(2):.2f} ms p99 {f99:.2f} ms: "
          f"p99 {f99 / i99:.2f}x idle (target: within 2x, {'met' if f99 <= 2 * i99 else 'NOT met'}); "
          f"per {secs:.1f} s flood {mtot(401):.0f} hashes ran, {mtot(429):.0f} throttled, {mtot(503):.0f} queue full; "
          f"control (same clients and rate, every request a 415 with no hash) p50 {med(5):.2f} ms p99 {med(6):.2f} ms "
          f"({med(6) / i99:.2f}x)")
PY

[[ $ITEMS == *" 6 "* ]] || exit 0
# item 6: a fresh server per round (no connection of an earlier round left), with a short deadline.
FLOOD=$BENCH_TMP/slowloris.py
cat >"$FLOOD" <<'PY'
import resource, selectors, socket, statistics, sys, threading, time
port, conns, per_addr, every_s, deadline_s = (int(a) for a in sys.argv[1:6])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)  # the flood's own descriptors, and the probes'
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, conns + 256), hard))

def probe():  # /healthz from 127.0.0.1 on a new connection, as a load balancer's probe; None: not answered
    t0 = time.perf_counter()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := s.recv(4096):
                data += chunk
    except OSError:
        return None
    return (time.perf_counter() - t0) * 1000 if data.startswith(b"HTTP/1.1 200") else None

def probes(n=20, gap=0.1):
    ms = []
    for _ in range(n):
        ms.append(probe())
        time.sleep(gap)
    return ms

idle = probes()
sel = selectors.DefaultSelector()
socks, sent_at, cut_at = [], {}, {}
line = b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
t_open = time.perf_counter()
for i in range(conns):  # non-blocking connects, each bound to its loopback source address
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    s.bind((f"127.0.0.{2 + i // per_addr}", 0))
    s.connect_ex(("127.0.0.1", port))
    socks.append(s)
    sel.register(s, selectors.EVENT_WRITE, i)
pending = conns
limit = time.perf_counter() + 30
while pending and time.perf_counter() < limit:  # connected: send the request line and one header
    for key, _ in sel.select(1):
        s, i = key.fileobj, key.data
        err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err == 0:
            try:
                s.send(line)
                sent_at[i] = time.perf_counter()
            except OSError:
                cut_at[i] = None
        else:
            cut_at[i] = None
        sel.modify(s, selectors.EVENT_READ, i)
        pending -= 1
opened = (time.perf_counter() - t_open) * 1000
refused = sum(1 for v in cut_at.values() if v is None)

flood = []
probe_thread = threading.Thread(target=lambda: flood.extend(probes(20, 0.1)))  # within the deadline
probe_thread.start()
nxt, k, stop = time.perf_counter(), 0, time.perf_counter() + deadline_s + 15
while len(cut_at) < conns and time.perf_counter() < stop:
    now = time.perf_counter()
    if now >= nxt:  # one header byte per connection every every_s seconds, spread over the interval
        nxt = now + every_s / 10
        for i in range(k, conns, 10):
            if i in sent_at and i not in cut_at:
                try:
                    socks[i].send(b"a")
                except OSError:
                    cut_at[i] = now
        k = (k + 1) % 10
    for key, _ in sel.select(max(0.0, nxt - time.perf_counter())):
        s, i = key.fileobj, key.data
        try:
            gone = s.recv(4096) == b""
        except OSError:
            gone = True
        if gone and i not in cut_at:
            cut_at[i] = time.perf_counter()
            sel.unregister(s)
probe_thread.join()
closed = [cut_at[i] - sent_at[i] for i in sent_at if cut_at.get(i) is not None]
cuts = sorted(t for t in closed if t >= deadline_s * 0.8)  # earlier: closed at once (the connection limit)
refused += len(closed) - len(cuts)
kept = sum(1 for i in sent_at if i not in cut_at)
for s in socks:
    s.close()
def q(v):
    ok = [x for x in v if x is not None]
    lost = f", {len(v) - len(ok)}/{len(v)} unanswered" if len(ok) < len(v) else ""
    return f"{statistics.median(ok):.1f} ms (max {max(ok):.1f}{lost})" if ok else f"none of {len(v)} answered"
med = lambda v: statistics.median([x for x in v if x is not None] or [-1])
mx = lambda v: max([x for x in v if x is not None] or [-1])
print(f"item 6   /healthz on new connections: idle p50 {q(idle)}; with {conns} slow connections "
      f"({-(-conns // per_addr)} addresses x {per_addr}, a header byte every {every_s} s) p50 {q(flood)}; "
      f"{len(cuts)}/{conns} cut by server.request_timeout ({deadline_s} s) "
      + (f"{min(cuts):.1f}-{max(cuts):.1f} s after their request line (median {statistics.median(cuts):.1f})"
         if cuts else "") + f"; {kept} left open at {deadline_s + 15} s; {refused} refused or closed at once; opened in {opened:.0f} ms")
print(f"RESULT {med(idle):.3f} {mx(idle):.3f} {med(flood):.3f} {mx(flood):.3f} "
      f"{len(cuts)} {statistics.median(cuts) if cuts else -1:.3f} {max(cuts) if cuts else -1:.3f} {kept}")
PY
results=()
for ((r = 1; r <= ROUNDS; r++)); do
  ICEGATE_SERVER_REQUEST_TIMEOUT=5 icegate_start "$DATA"
  out=$(timeout 120 python3 "$FLOOD" "$ICEGATE_PORT" "$SLOW" 250 1 5)
  printf '%s\n' "$out" | grep -v '^RESULT' | sed "s/^item 6  /item 6.$r/"
  results+=("$(printf '%s\n' "$out" | sed -n 's/^RESULT //p')")
  icegate_stop
done
m() { median $(for l in "${results[@]}"; do echo "$l" | cut -d' ' -f"$1"; done); }
when="none"
[ "$(m 5)" != 0.00 ] && when=$(printf 'median %.1f s after the request line (latest %.1f s)' "$(m 6)" "$(m 7)")
printf 'item 6   medians of %d rounds: /healthz idle p50 %.1f ms (max %.1f); under %d slow connections p50 %.1f ms (max %.1f); %.0f/%d cut, %s; %.0f left open\n' \
  "$ROUNDS" "$(m 1)" "$(m 2)" "$SLOW" "$(m 3)" "$(m 4)" "$(m 5)" "$SLOW" "$when" "$(m 8)"
