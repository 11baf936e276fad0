#!/usr/bin/env bash
# bench/abuse.sh — what a hostile or unlucky client costs (issue 10), each figure beside an idle baseline:
#   item 5:  RSS of icegate after 40 connections each announce a 16 MB body without a token (and how long
#            their 401s take), against its RSS before;
#   item 15: /healthz latency on new connections (p50/max of 20 probes) while 4 clients commit on a table
#            with ~24 MB of metadata, against idle;
#   item 10: loadTable req/s (wrk -t2 -c8) while 8 clients guess the console password, against idle;
#   item 6:  Slowloris: /healthz latency on new connections (p50/max of 20 probes) while 4,000 connections
#            from 16 loopback addresses (127.0.0.2-17, 250 each: under the per-address cap of 256) trickle
#            header bytes, against idle; and when the server.request_timeout deadline (5 s here) cuts them.
#            ROUNDS (3) floods, each against a fresh server; medians last.
# One icegate (default config; for item 6 server.request_timeout 5), 127.0.0.1 only (item 6's flood comes
# from 127.0.0.2-17, which Linux routes to lo as well), bounded: every phase has a fixed count or duration.
#
# Usage: bench/abuse.sh     env: SECS (5), ROUNDS (3), SLOW (4000: item 6's connections, 250 per address),
#                                ITEMS ("5 15 10 6": which to run), ICEGATE_BIN (bin/icegate), BENCH_KEEP=1
#                                keeps the temp dir.
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

[[ $ITEMS == *" 5 "* || $ITEMS == *" 15 "* || $ITEMS == *" 10 "* ]] && python3 - "$ICEGATE_PORT" "$TOKEN" "$ICEGATE_PID" "$SECS" <<'PY'
import json, socket, statistics, subprocess, sys, threading, time, urllib.request
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

# item 5: bodies announced without a token
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

# item 10: loadTable while 8 clients guess the console password
def wrk():
    out = subprocess.run(["wrk", "-t2", "-c8", f"-d{secs}s", "-H", f"X-API-Token: {token}",
                          f"{base}/v1/namespaces/abuse/tables/small"], capture_output=True, text=True).stdout
    return float(next(l.split()[1] for l in out.splitlines() if l.startswith("Requests/sec:")))
idle = wrk()
stop.clear()
guesses, refused = [0], [0]
def guesser(k):
    while not stop.is_set():
        st, _ = req("POST", "/api/v1/session/login", json.dumps({"username": "admin", "password": f"g{k}"}).encode(),
                    {"Content-Type": "application/json"})
        guesses[0] += 1
        refused[0] += st == 429
ths = [threading.Thread(target=guesser, args=(k,)) for k in range(8)]
for t in ths: t.start()
busy = wrk()
stop.set()
for t in ths: t.join()
print(f"item 10  loadTable req/s: idle {idle:.0f}; with 8 clients guessing passwords {busy:.0f} "
      f"({busy / idle:.2f}x); {guesses[0]} guesses, {refused[0]} refused with 429 before any hashing")
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
