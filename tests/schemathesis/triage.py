"""Reads a schemathesis run (its NDJSON events) and decides it: every failed check must match a rule in
triage.toml, or the run fails.  Also fails the run on anything that is not a check failure but still a
finding: an error event (a request that got no answer: connection refused or reset, a timeout), a server
that died during the run or did not stop cleanly, a sanitizer report in its log, a run over its time cap,
a schemathesis that could not run at all, and a "not served" list in schemathesis.toml that no longer
matches the server's /v1/config endpoints.

Writes FINDINGS (markdown: one section per distinct untriaged failure, with a curl reproduction, the
status and body icegate answered, and which check failed) and prints, last, the summary line
"schemathesis: N operations, N checks passed, N failed" (failed = check failures no rule accepts, plus one
for each other problem above).
"""
import argparse
import base64
import collections
import json
import re
import shlex
import sys
import tomllib

import yaml

NEVER_ACCEPTED = {"not_a_server_error"}  # a 5xx is always a server bug: no rule may accept one

p = argparse.ArgumentParser()
p.add_argument("--events", required=True)
p.add_argument("--rules", required=True)
p.add_argument("--served", required=True)
p.add_argument("--spec", required=True)
p.add_argument("--st-rc", type=int, required=True)
p.add_argument("--st-log", required=True)
p.add_argument("--timed-out", type=int, default=0)
p.add_argument("--server-alive", type=int, required=True)
p.add_argument("--server-rc", default="")
p.add_argument("--server-log", required=True)
p.add_argument("--findings", required=True)
p.add_argument("--st-seconds", type=int, default=0)
p.add_argument("--total-seconds", type=int, default=0)
a = p.parse_args()

problems = []  # findings that are not check failures: each counts as one failure


# ---- the rules ----

class Rule:
    def __init__(self, d):
        self.id = d["id"]
        self.reason = d["reason"]
        self.check = d["check"]
        if self.check in NEVER_ACCEPTED:
            sys.exit(f"triage: rule {self.id}: {self.check} failures cannot be accepted (a 5xx is a server bug)")
        self.operation = d.get("operation")
        self.operation_re = re.compile(d["operation-regex"]) if "operation-regex" in d else None
        st = d.get("status")
        self.status = None if st is None else set(st if isinstance(st, list) else [st])
        self.body_re = re.compile(d["body-regex"], re.S) if "body-regex" in d else None
        self.message_re = re.compile(d["message-regex"], re.S) if "message-regex" in d else None
        self.url_re = re.compile(d["url-regex"]) if "url-regex" in d else None
        self.hits = 0

    def matches(self, f):
        if f["check"] != self.check:
            return False
        if self.operation is not None and f["operation"] != self.operation:
            return False
        if self.operation_re is not None and not self.operation_re.search(f["operation"]):
            return False
        if self.status is not None and f["status"] not in self.status:
            return False
        if self.body_re is not None and not self.body_re.search(f["body"]):
            return False
        if self.message_re is not None and not self.message_re.search(f["message"]):
            return False
        if self.url_re is not None and not self.url_re.search(f["url"]):
            return False
        return True


with open(a.rules, "rb") as fh:
    rules = [Rule(d) for d in tomllib.load(fh).get("accept", [])]
ids = [r.id for r in rules]
dup = {i for i in ids if ids.count(i) > 1}
if dup:
    sys.exit(f"triage: duplicate rule ids in {a.rules}: {sorted(dup)}")


# ---- the "not served" list against the server's endpoints ----

with open(a.spec) as fh:
    spec = yaml.safe_load(fh)
spec_ops = {}  # operationId -> "METHOD /path"
for path, item in spec.get("paths", {}).items():
    for method, op in item.items():
        if isinstance(op, dict) and "operationId" in op:
            spec_ops[op["operationId"]] = f"{method.upper()} {path}"
with open(a.served) as fh:
    served = set(json.load(fh)["endpoints"])
with open(a.rules, "rb") as fh:
    not_served = tomllib.load(fh).get("not-served", {})
unserved_cfg = set(not_served.get("operations", []))
unknown = unserved_cfg - set(spec_ops)
if unknown:
    sys.exit(f"triage: [not-served] in {a.rules} names operations the spec does not have: {sorted(unknown)}")
ALWAYS = {"getConfig", "getToken"}  # answered though never listed in endpoints (see TRIAGE.md)
for op_id, label in sorted(spec_ops.items()):
    if op_id in ALWAYS:
        continue
    if label in served and op_id in unserved_cfg:
        problems.append(f"{op_id} ({label}) is served now (in /v1/config endpoints) but triage.toml "
                        "[not-served] still lists it: take it out")
    if label not in served and op_id not in unserved_cfg:
        problems.append(f"{op_id} ({label}) is not in /v1/config endpoints: add it to the not-served "
                        "operations in triage.toml (or serve it)")
for e in sorted(served - set(spec_ops.values())):
    problems.append(f"/v1/config advertises {e!r}, which is no operation of the spec")

# An operation icegate does not serve gets 404 NotFoundException "no such route" (checked by
# iceberg_error_body like any error): the status and schema checks, which judge a 404 against what the
# spec documents for a served operation, are accepted for it by this rule.
if unserved_cfg:
    ops_re = "^(" + "|".join(re.escape(spec_ops[i]) for i in sorted(unserved_cfg)) + ")$"
    for check in ("status_code_conformance", "response_schema_conformance"):
        rules.append(Rule({
            "id": f"not-served ({check})",
            "reason": not_served.get("reason", "not served"),
            "check": check,
            "operation-regex": ops_re,
            "status": 404,
            "body-regex": '"message":"no such route: ',
        }))


# ---- the events ----

def b64(d):
    if d is None:
        return b""
    if isinstance(d, dict) and "$base64" in d:
        return base64.b64decode(d["$base64"])
    if isinstance(d, str):
        return d.encode()
    return json.dumps(d).encode()


def curl(req):
    method = req["method"].upper()
    args = ["curl", "-sS", "-i"]
    args += ["--head"] if method == "HEAD" else ["-X", method]
    for name, values in (req.get("headers") or {}).items():
        if name.lower() in ("user-agent", "accept-encoding", "accept", "connection", "content-length"):
            continue
        for v in values if isinstance(values, list) else [values]:
            if name.lower() == "x-api-token":
                v = "$TOKEN"
            elif v == "[Filtered]" and name.lower() == "idempotency-key":
                v = "$(cat /proc/sys/kernel/random/uuid)"
            args += ["-H", f"{name}: {v}"]
    body = b64(req.get("body"))
    if body:
        args += ["--data-binary", body.decode("utf-8", "backslashreplace")]
    args.append(req["uri"])
    out = []
    for x in args:
        if x.startswith("X-API-Token: $TOKEN"):
            out.append('"X-API-Token: $TOKEN"')
        elif "$(cat /proc" in x:
            out.append(f'"{x}"')
        else:
            out.append(shlex.quote(x))
    return " ".join(out)


operations = set()
passed = failed_checks = 0
failures = []  # dicts: operation, check, status, body, message, code, title, curl, phase
errors = []
counts = collections.Counter()
with open(a.events) as fh:
    for line in fh:
        try:
            ev = json.loads(line)
        except ValueError:
            problems.append(f"unreadable event line: {line[:200]!r}")
            continue
        (kind, body), = ev.items()
        if kind == "ScenarioFinished":
            rec = body.get("recorder") or {}
            label = rec.get("label", "?")
            cases = rec.get("cases") or {}

            def op_of(case_id):
                # The scenario's operation; a stateful scenario's label is "Stateful tests", and its steps
                # name theirs.  (The coverage phase also sends methods an operation does not have, e.g.
                # DELETE /v1/config: those count under the operation they were made from.)
                if label.split(" ", 1)[0] in ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
                    return label
                v = (cases.get(case_id) or {}).get("value") or {}
                return f"{v['method'].upper()} {v['path']}" if "method" in v and "path" in v else label
            if body.get("status") == "error":
                errors.append((label, json.dumps(body)[:1500]))
            inter = rec.get("interactions") or {}
            for case_id, checks in (rec.get("checks") or {}).items():
                if checks:
                    operations.add(op_of(case_id))
                for ch in checks:
                    counts[(ch["name"], ch["status"])] += 1
                    if ch["status"] == "success":
                        passed += 1
                        continue
                    if ch["status"] != "failure":
                        continue
                    failed_checks += 1
                    info = (ch.get("failure_info") or {}).get("failure") or {}
                    it = inter.get(case_id) or {}
                    resp = it.get("response") or {}
                    req = it.get("request") or {}
                    failures.append({
                        "operation": op_of(case_id),
                        "check": ch["name"],
                        "status": resp.get("status_code"),
                        "body": b64(resp.get("content")).decode("utf-8", "replace"),
                        "headers": resp.get("headers") or {},
                        "message": info.get("message", ""),
                        "title": info.get("title", ch["name"]),
                        "code": info.get("code", ""),
                        "curl": curl(req) if req else "(no request recorded)",
                        "url": req.get("uri", ""),
                        "phase": body.get("phase", ""),
                    })
        elif "Error" in kind:
            errors.append((kind, json.dumps(body)[:1500]))

# ---- decide ----

open_failures = []
accepted = collections.Counter()
for f in failures:
    rule = next((r for r in rules if r.matches(f)), None)
    if rule:
        rule.hits += 1
        accepted[rule.id] += 1
    else:
        open_failures.append(f)


def group_key(f):
    # One finding per operation, check, status and failure text with numbers and quoted names blurred.
    msg = re.sub(r"\d+", "N", f["message"])
    msg = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", msg)[:200]
    return (f["operation"], f["check"], f["status"], msg)


groups = collections.OrderedDict()
for f in open_failures:
    groups.setdefault(group_key(f), []).append(f)

if a.timed_out:
    problems.append("the schemathesis run hit its time cap (ST_TIMEOUT) and was stopped")
if a.st_rc not in (0, 1, 124):
    with open(a.st_log, errors="replace") as fh:
        tail = fh.read()[-3000:]
    problems.append(f"schemathesis exited {a.st_rc} (not a test outcome):\n```\n{tail}\n```")
with open(a.server_log, errors="replace") as fh:
    log = fh.read()
log_tail = "\n".join(log.splitlines()[-40:])
if not a.server_alive:
    problems.insert(0, f"CRASH: icegate was no longer running after the schemathesis run "
                       f"(exit status {a.server_rc}); server.log tail:\n```\n{log_tail}\n```")
elif a.server_rc not in ("0", ""):
    problems.append(f"icegate did not stop cleanly on SIGTERM (exit status {a.server_rc}); server.log tail:\n"
                    f"```\n{log_tail}\n```")
for pat in ("AddressSanitizer", "LeakSanitizer", "runtime error:", "ThreadSanitizer"):
    if pat in log:
        problems.append(f"server.log has a sanitizer report ({pat})")
for label, detail in errors:
    problems.append(f"request error in {label} (no usable answer: connection refused/reset or timeout?): {detail}")

# ---- write ----

with open(a.findings, "w") as out:
    out.write("# schemathesis findings (untriaged)\n\n")
    if not groups and not problems:
        out.write("None.\n")
    for p_ in problems:
        out.write(f"## {p_.splitlines()[0]}\n\n{p_}\n\n")
    for (op, check, status, _), fs in groups.items():
        f = fs[0]
        out.write(f"## {op}: {check} ({f['code']} {f['title']}), status {status}, {len(fs)} failing check(s)\n\n")
        out.write(f"Phase: {f['phase']}\n\n```\n{f['curl']}\n```\n\n")
        out.write(f"Answer: {status}\n\n```\n{f['body'][:1500]}\n```\n\n")
        out.write(f"Check message:\n\n```\n{f['message'][:1500]}\n```\n\n")

for (op, check, status, _), fs in groups.items():
    f = fs[0]
    print(f"FAIL {op}: {check} ({f['code']} {f['title']}), status {status} x{len(fs)}")
    print(f"     {f['curl'][:600]}")
    print(f"     -> {status} {f['body'][:300]}")
for p_ in problems:
    print(f"FAIL {p_}")
for r in rules:
    if r.hits:
        print(f"triaged {r.id}: {r.hits} check failure(s) accepted")
unused = [r.id for r in rules if not r.hits]
if unused:
    print(f"triage rules not needed in this run: {', '.join(unused)}")
by_check = collections.defaultdict(lambda: [0, 0])
for (name, status), n in counts.items():
    by_check[name][0 if status == "success" else 1] += n if status in ("success", "failure") else 0
print("checks: " + ", ".join(f"{k} {v[0]} passed/{v[1]} failed" for k, v in sorted(by_check.items())))
print(f"schemathesis: run took {a.st_seconds}s ({a.total_seconds}s with install, start and seed); "
      f"{len(open_failures)} check failure(s) open in {len(groups)} finding(s), {sum(accepted.values())} "
      f"accepted by triage.toml, {len(problems)} other problem(s); details in {a.findings}")
n_failed = len(open_failures) + len(problems)
print(f"schemathesis: {len(operations)} operations, {passed} checks passed, {n_failed} failed")
sys.exit(1 if n_failed else 0)
