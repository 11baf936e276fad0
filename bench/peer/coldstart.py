#!/usr/bin/env python3
"""bench/peer/coldstart.py: cold start of one server for bench/peers.sh (standard library only).

  coldstart.py LOG URL HEADER TOKEN IDLE_SECONDS -- COMMAND...

Starts COMMAND (stdout and stderr appended to LOG), polls URL (a GET on 127.0.0.1 with `HEADER: TOKEN`, a new
connection every 2 ms) until it answers 200, waits IDLE_SECONDS with no traffic, reads the process's VmRSS,
then stops it (SIGTERM, SIGKILL after 10 s). Prints "ms=M rss_kb=K": M is the time from just before the spawn
to the first 200. Gives up after 60 s (exit 1).
"""
import http.client
import os
import signal
import subprocess
import sys
import time
from urllib.parse import urlsplit


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def main():
    if len(sys.argv) < 8 or sys.argv[6] != "--":
        sys.exit(__doc__)
    log, url, header, token, idle = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5])
    cmd = sys.argv[7:]
    u = urlsplit(url)
    path = u.path + ("?" + u.query if u.query else "")
    headers = {header: token} if header and token else {}
    with open(log, "ab") as out:
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=out, stderr=out, stdin=subprocess.DEVNULL)
    ms = None
    try:
        deadline = t0 + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                sys.exit(f"coldstart: {cmd[0]} exited with {proc.returncode} before answering (see {log})")
            conn = http.client.HTTPConnection(u.hostname, u.port, timeout=2)
            try:
                conn.request("GET", path, headers=headers)
                r = conn.getresponse()
                r.read()
                if r.status == 200:
                    ms = (time.monotonic() - t0) * 1000
                    break
            except (OSError, http.client.HTTPException):
                pass
            finally:
                conn.close()
            time.sleep(0.002)
        if ms is None:
            sys.exit(f"coldstart: no 200 from {url} within 60 s (see {log})")
        time.sleep(idle)
        kb = rss_kb(proc.pid)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
    print(f"ms={ms:.1f} rss_kb={kb}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
