#!/usr/bin/env bash
# bench/abuse.sh — what a hostile or unlucky client costs (issue 10), each figure beside an idle baseline:
#   item 5:  RSS of icegate after 40 connections each announce a 16 MB body without a token (and how long
#            their 401s take), against its RSS before;
#   item 15: /healthz latency on new connections (p50/max of 20 probes) while 4 clients commit on a table
#            with ~24 MB of metadata, against idle;
#   item 10: loadTable req/s (wrk -t2 -c8) while 8 clients guess the console password, against idle.
# One icegate (default config), 127.0.0.1 only, bounded: every phase has a fixed count or duration.
#
# Usage: bench/abuse.sh     env: SECS (5), ICEGATE_BIN (bin/icegate), BENCH_KEEP=1 keeps the temp dir.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
SECS=${SECS:-5}
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

python3 - "$ICEGATE_PORT" "$TOKEN" "$ICEGATE_PID" "$SECS" <<'PY'
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
