"""Seeds a fresh icegate so generated requests can hit existing objects, and records what the server serves.

Usage: seed.py BASE_URL TOKEN OUT_JSON
Creates, under the warehouse prefix from GET /v1/config?warehouse=warehouse:
  namespace  seedns            (properties owner=schemathesis)
  namespace  seedns.sub        (a two-level namespace: seedns%1Fsub in paths)
  table      seedns.seedtbl    (and seedns.sub.seedtbl)
  view       seedns.seedview
  and, for the realistic examples in hooks.py to drop, unregister, rename or register: namespace dropns,
  tables seedns.droptbl, seedns.unregtbl, seedns.renametbl, views seedns.dropview, seedns.renameview;
  and for the generated drops (schemathesis.toml's doomed_* dictionaries): namespaces doomns1, doomns2,
  tables seedns.doomtbl1..3, views seedns.doomview1, seedns.doomview2.
These names are the ones schemathesis.toml's dictionaries offer for the path parameters. OUT_JSON gets
{"prefix": ..., "endpoints": [...]} from /v1/config and the metadata locations of what it made, which triage.py compares with the operations the
config runs as "not served".
"""
import json
import sys
import time

import requests

base, token, out = sys.argv[1], sys.argv[2], sys.argv[3]
s = requests.Session()
s.headers.update({"X-API-Token": token, "Content-Type": "application/json"})

cfg = s.get(f"{base}/v1/config", params={"warehouse": "warehouse"}, timeout=10)
cfg.raise_for_status()
cfg = cfg.json()
prefix = cfg.get("overrides", {}).get("prefix")
if not prefix:
    sys.exit(f"seed: GET /v1/config?warehouse=warehouse gave no overrides.prefix: {cfg}")
root = f"{base}/v1/{prefix}"

SCHEMA = {
    "type": "struct",
    "schema-id": 0,
    "fields": [
        {"id": 1, "name": "id", "type": "long", "required": True},
        {"id": 2, "name": "data", "type": "string", "required": False},
    ],
}


def post(path, body, want=200):
    r = s.post(f"{root}{path}", data=json.dumps(body), timeout=10)
    if r.status_code != want:
        sys.exit(f"seed: POST {path} -> {r.status_code} {r.text[:500]}")
    return r.json()


locations = {}
post("/namespaces", {"namespace": ["seedns"], "properties": {"owner": "schemathesis"}})
post("/namespaces", {"namespace": ["seedns", "sub"], "properties": {}})
for name in ("dropns", "doomns1", "doomns2"):
    post("/namespaces", {"namespace": [name], "properties": {}})
for ns in ("seedns", "seedns%1Fsub"):
    post(f"/namespaces/{ns}/tables", {"name": "seedtbl", "schema": SCHEMA, "properties": {"k": "v"}})
# Objects the realistic examples in hooks.py drop, unregister or rename (one each).
for name in ("droptbl", "unregtbl", "renametbl", "doomtbl1", "doomtbl2", "doomtbl3"):
    r = post("/namespaces/seedns/tables", {"name": name, "schema": SCHEMA})
    locations[name] = r["metadata-location"]


def view(name):
    return {
        "name": name,
        "schema": SCHEMA,
        "view-version": {
            "version-id": 1,
            "timestamp-ms": int(time.time() * 1000),
            "schema-id": 0,
            "summary": {"engine": "schemathesis"},
            "representations": [{"type": "sql", "sql": "select 1 as id, 'x' as data", "dialect": "spark"}],
            "default-namespace": ["seedns"],
        },
        "properties": {},
    }


for name in ("seedview", "dropview", "renameview", "doomview1", "doomview2"):
    r = post("/namespaces/seedns/views", view(name))
    locations[name] = r["metadata-location"]
# The register examples register metadata files whose objects are gone (dropped without purge here): a live
# object's files cannot be registered a second time (locations never overlap, DESIGN.md §6).
for kind, name, body in (("tables", "regtbl", {"name": "regtbl", "schema": SCHEMA}), ("views", "regview", view("regview"))):
    locations[name] = post(f"/namespaces/seedns/{kind}", body)["metadata-location"]
    r = s.delete(f"{root}/namespaces/seedns/{kind}/{name}", timeout=10)
    if r.status_code != 204:
        sys.exit(f"seed: DELETE {kind}/{name} -> {r.status_code} {r.text[:500]}")
with open(out, "w") as f:
    json.dump({"prefix": prefix, "endpoints": cfg.get("endpoints", []), "locations": locations}, f, indent=1)
print(f"seed: prefix {prefix}; namespaces seedns, seedns.sub, dropns, doomns1-2; tables seedtbl in seedns and "
      "seedns.sub, droptbl, unregtbl, renametbl, doomtbl1-3 in seedns; views seedview, dropview, renameview, "
      "doomview1-2 in seedns; the files of dropped regtbl and regview to register")
