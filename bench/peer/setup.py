#!/usr/bin/env python3
"""bench/peer/setup.py: set-up helpers for bench/peers.sh (standard library only).

  setup.py bulk-create BASE_URL TOKEN NAMESPACE COUNT THREADS MAX_SECONDS
      creates COUNT tables NAMESPACE.t<i> through THREADS keep-alive connections; stops at MAX_SECONDS;
      prints "created=N failed=N secs=S"
  setup.py sqlite-clone DB NAMESPACE TEMPLATE COUNT
      the reference's JdbcCatalog only: inserts rows NAMESPACE.t<i> (i < COUNT, those missing) into its
      iceberg_tables, copies of TEMPLATE's row (same metadata file); prints "cloned=N"
  setup.py big-commit SNAPSHOTS [TABLE_LOCATION]
      prints a commit body of SNAPSHOTS add-snapshot updates (~330 bytes each in the metadata) + set-snapshot-ref;
      the manifest lists are named under TABLE_LOCATION/metadata (default file:///warehouse/bench/big: rustberg
      refuses a snapshot whose manifest list is outside the table's location)
"""
import http.client
import json
import sys
import threading
import time
from urllib.parse import urlsplit

SCHEMA = {"type": "struct", "schema-id": 0, "fields": [
    {"id": 1, "name": "id", "type": "long", "required": True},
    {"id": 2, "name": "data", "type": "string", "required": False}]}


def bulk_create(base, token, ns, count, nthreads, max_secs):
    u = urlsplit(base)
    path = f"{u.path.rstrip('/')}/namespaces/{ns}/tables"
    headers = {"X-API-Token": token, "Content-Type": "application/json"}
    deadline = time.monotonic() + max_secs
    lock = threading.Lock()
    state = {"next": 0, "ok": 0, "bad": 0}

    def worker():
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        while time.monotonic() < deadline:
            with lock:
                i = state["next"]
                if i >= count:
                    break
                state["next"] += 1
            body = json.dumps({"name": f"t{i:05d}", "schema": SCHEMA})
            try:
                conn.request("POST", path, body, headers)
                r = conn.getresponse()
                r.read()
                good = r.status == 200
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
                good = False
            with lock:
                state["ok" if good else "bad"] += 1
        conn.close()

    t0 = time.monotonic()
    ts = [threading.Thread(target=worker) for _ in range(nthreads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print(f"created={state['ok']} failed={state['bad']} secs={time.monotonic() - t0:.1f}")


def sqlite_clone(db, ns, template, count):
    import sqlite3
    con = sqlite3.connect(db, timeout=30)
    cols = [r[1] for r in con.execute("PRAGMA table_info(iceberg_tables)")]
    sel = ", ".join("?" if c == "table_name" else c for c in cols)
    have = {r[0] for r in con.execute("SELECT table_name FROM iceberg_tables WHERE table_namespace = ?", (ns,))}
    names = [f"t{i:05d}" for i in range(count) if f"t{i:05d}" not in have]
    with con:
        con.executemany(f"INSERT INTO iceberg_tables ({', '.join(cols)}) SELECT {sel} FROM iceberg_tables "
                        "WHERE table_namespace = ? AND table_name = ?", [(n, ns, template) for n in names])
    con.close()
    print(f"cloned={len(names)}")


def big_commit(n, location="file:///warehouse/bench/big"):
    # Timestamps from now on: rustberg (iceberg-rust) refuses a snapshot older than the table's last-updated-ms.
    ups, parent, now_ms = [], None, int(time.time() * 1000)
    for i in range(1, n + 1):
        sid = 1000000000000000000 + i
        snap = {"snapshot-id": sid, "sequence-number": i, "timestamp-ms": now_ms + i,
                "manifest-list": f"{location}/metadata/snap-{sid}-1-0f4a6b5e-6a3e-4c2b-9d7c-{i:012d}.avro",
                "summary": {"operation": "append", "added-data-files": "1", "added-records": "1000"}, "schema-id": 0}
        if parent:
            snap["parent-snapshot-id"] = parent
        ups.append({"action": "add-snapshot", "snapshot": snap})
        parent = sid
    ups.append({"action": "set-snapshot-ref", "ref-name": "main", "type": "branch", "snapshot-id": parent})
    print(json.dumps({"requirements": [], "updates": ups}))


if __name__ == "__main__":
    if len(sys.argv) == 8 and sys.argv[1] == "bulk-create":
        bulk_create(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6]), float(sys.argv[7]))
    elif len(sys.argv) == 6 and sys.argv[1] == "sqlite-clone":
        sqlite_clone(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    elif len(sys.argv) in (3, 4) and sys.argv[1] == "big-commit":
        big_commit(int(sys.argv[2]), *sys.argv[3:])
    else:
        sys.exit(__doc__)
