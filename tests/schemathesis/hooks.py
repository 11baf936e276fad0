"""icegate's schemathesis hooks and checks, loaded through SCHEMATHESIS_HOOKS by run.sh.

Checks (named in run.sh's --checks):
  iceberg_error_body  every 4xx/5xx answer on a catalog route carries the Iceberg error JSON
                      {"error": {"message": str, "type": str, "code": <the HTTP status>}}, whatever the spec
                      documents for that status: response_schema_conformance can only check the statuses the
                      spec lists (and for views the spec lists a bare ErrorModel, see TRIAGE.md), while a
                      client parses every error body the same way (ErrorResponseParser in Iceberg's Java
                      client).  HEAD answers have no body; the OAuth2 token route answers in the OAuth2 error
                      shape (RFC 6749 5.2) the spec gives it.
  token_enforced      once per operation, a request that succeeded is sent again without X-API-Token and
                      with a well-formed token this server never issued: both must be 401
                      NotAuthorizedException.  (schemathesis's ignored_auth cannot do this here: it removes
                      the credentials the spec's security schemes declare, and icegate's X-API-Token is a
                      plain header to it.)
  example_accepted    the realistic requests this file adds (below) must succeed: 2xx (or 304).  They carry
                      X-Request-Id: st-example-<operationId>-<n>, which icegate logs with the access line.

Hooks:
  before_add_examples adds, per operation, realistic requests on the objects seed.py made (the spec's own
                      examples name objects that do not exist, so without these the success answers of most
                      operations, and their response schemas, would go unchecked).
  before_call         points the drops at seeded victims (DOOMED below), and gives each request that carries a well-formed Idempotency-Key a fresh one: the spec
                      requires a new key per operation ("MUST generate a new key for a different
                      operation"), and schemathesis would otherwise send the spec's example key on every
                      request, so that all but the first got 400 "already used for a different request".
                      The keys count up from a fixed base, so a run stays the same for the same seed.
"""
import json
import os
import re
import time
import uuid

import requests
import schemathesis

SEEDED = {}
if os.environ.get("ST_SEEDED"):
    with open(os.environ["ST_SEEDED"]) as fh:
        SEEDED = json.load(fh)

UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_key_counter = [0]


def _fresh_key():
    # A UUIDv7 layout: a fixed 48-bit time, version 7, variant 10, the counter in the random bits.
    _key_counter[0] += 1
    n = (0x0193_0000_0000 << 80) | (0x7 << 76) | (0b10 << 62) | _key_counter[0]
    return str(uuid.UUID(int=n))


# The operations that remove what they name get their own seeded victims instead of the seeded objects
# the other operations use (seed.py makes them), so seedns, seedns.seedtbl and seedns.seedview stay until the
# end of the run.  (Operation-level `parameters` in schemathesis.toml do not reach the examples phase.)
DOOMED = {
    "dropTable": ("table", "seedtbl", ["doomtbl1", "doomtbl2", "doomtbl3"]),
    "unregisterTable": ("table", "seedtbl", ["doomtbl1", "doomtbl2", "doomtbl3"]),
    "dropView": ("view", "seedview", ["doomview1", "doomview2"]),
    "dropNamespace": ("namespace", "seedns", ["doomns1", "doomns2"]),
}
_doomed_next = {}


def _operation_id(case):
    try:
        return case.operation.definition.raw.get("operationId")
    except AttributeError:
        return None


@schemathesis.hook
def before_call(context, case, kwargs):
    doom = DOOMED.get(_operation_id(case))
    if doom and case.path_parameters:
        param, protected, victims = doom
        if case.path_parameters.get(param) in (protected, "seedns\x1fsub") and not (
                param != "namespace" and case.path_parameters.get("namespace") not in ("seedns", "seedns\x1fsub")):
            n = _doomed_next.get(param, 0)
            _doomed_next[param] = n + 1
            case.path_parameters[param] = victims[n % len(victims)]
            if param != "namespace":
                case.path_parameters["namespace"] = "seedns"
    headers = case.headers
    if headers is None:
        return
    for name in list(headers.keys()):
        if name.lower() == "idempotency-key" and isinstance(headers[name], str) and UUID_RE.match(headers[name]):
            headers[name] = _fresh_key()


# ---- checks ----

def _ctype(response):
    c = response.headers.get("content-type", [""])
    return c[0] if isinstance(c, list) else c


def _error_problems(response):
    status = response.status_code
    ctype = _ctype(response)
    if not ctype.lower().startswith("application/json"):
        return [f"Content-Type {ctype!r}, want application/json"]
    try:
        body = json.loads(response.content)
    except ValueError as e:
        return [f"body is not JSON: {e}"]
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict):
        return [f"no \"error\" object: {response.content[:200]!r}"]
    problems = []
    for key, kind in (("message", str), ("type", str), ("code", int)):
        if not isinstance(err.get(key), kind) or isinstance(err.get(key), bool):
            problems.append(f"error.{key} is not a {kind.__name__}")
    if isinstance(err.get("code"), int) and err["code"] != status:
        problems.append(f"error.code {err['code']} is not the HTTP status {status}")
    return problems


@schemathesis.check
def iceberg_error_body(ctx, response, case):
    status = response.status_code
    if status < 400 or case.method.upper() == "HEAD" or case.path == "/v1/oauth/tokens":
        return None
    problems = _error_problems(response)
    if problems:
        raise AssertionError(f"{status} answer: " + "; ".join(problems))
    return None


_enforced = set()
FOREIGN_TOKEN = "igt_" + "A" * 38  # well-formed, never issued (its checksum does not match either)


@schemathesis.check
def token_enforced(ctx, response, case):
    if not 200 <= response.status_code < 300 or case.path == "/v1/oauth/tokens":
        return None
    key = (case.method.upper(), case.path)
    if key in _enforced:
        return None
    _enforced.add(key)
    for what, value in (("without X-API-Token", None), ("with a token this server never issued", FOREIGN_TOKEN)):
        req = response.request.copy()
        req.headers.pop("X-API-Token", None)
        req.headers.pop("Authorization", None)
        if value:
            req.headers["X-API-Token"] = value
        with requests.Session() as s:
            r = s.send(req, timeout=10, allow_redirects=False)
        if r.status_code != 401:
            raise AssertionError(f"the same request {what} got {r.status_code} (want 401): {r.text[:300]}")
        if case.method.upper() != "HEAD":
            try:
                err = r.json().get("error", {})
            except ValueError:
                err = {}
            if err.get("type") != "NotAuthorizedException" or err.get("code") != 401:
                raise AssertionError(f"the same request {what} got 401 with body {r.text[:300]}")
    return None


@schemathesis.check
def example_accepted(ctx, response, case):
    rid = (case.headers or {}).get("X-Request-Id", "")
    if not str(rid).startswith("st-example-"):
        return None
    if not (200 <= response.status_code < 300 or response.status_code == 304):
        raise AssertionError(f"realistic request {rid} on seeded objects got {response.status_code}: "
                             f"{response.content[:400]!r}")
    return None


# ---- realistic examples ----

SCHEMA = {
    "type": "struct",
    "schema-id": 0,
    "fields": [
        {"id": 1, "name": "id", "type": "long", "required": True},
        {"id": 2, "name": "data", "type": "string", "required": False},
    ],
}
SCHEMA2 = {
    "type": "struct",
    "schema-id": 1,
    "fields": SCHEMA["fields"] + [{"id": 3, "name": "ts", "type": "timestamptz", "required": False}],
}


def _view_version(version_id, sql):
    return {
        "version-id": version_id,
        "timestamp-ms": 1764633600000,
        "schema-id": 0,
        "summary": {"engine": "schemathesis"},
        "representations": [{"type": "sql", "sql": sql, "dialect": "spark"}],
        "default-namespace": ["seedns"],
    }


def _examples(prefix):
    ns, sub = "seedns", "seedns\x1fsub"
    p = {"prefix": prefix}
    t = {"namespace": ["seedns"], "name": "seedtbl"}
    loc = SEEDED.get("locations", {})
    return {
        "getConfig": [dict(query={"warehouse": "warehouse"})],
        "listNamespaces": [dict(), dict(query={"parent": ns}), dict(query={"pageSize": 1})],
        "createNamespace": [dict(body={"namespace": ["st_ns"], "properties": {"owner": "st"}}),
                            dict(body={"namespace": ["seedns", "st_child"]})],
        "loadNamespaceMetadata": [dict(path={"namespace": ns}), dict(path={"namespace": sub})],
        "namespaceExists": [dict(path={"namespace": ns})],
        "updateProperties": [dict(path={"namespace": ns},
                                  body={"updates": {"st.k": "v"}, "removals": ["st.absent"]})],
        "dropNamespace": [dict(path={"namespace": "dropns"})],
        "listTables": [dict(path={"namespace": ns}), dict(path={"namespace": ns}, query={"pageSize": 1})],
        "createTable": [
            dict(path={"namespace": ns}, body={
                "name": "st_created", "schema": SCHEMA,
                "partition-spec": {"spec-id": 0, "fields": [
                    {"source-id": 1, "field-id": 1000, "name": "id_bucket", "transform": "bucket[16]"}]},
                "write-order": {"order-id": 1, "fields": [
                    {"source-id": 1, "transform": "identity", "direction": "asc", "null-order": "nulls-first"}]},
                "properties": {"format-version": "2"}}),
            dict(path={"namespace": ns}, body={"name": "st_staged", "schema": SCHEMA, "stage-create": True}),
        ],
        "loadTable": [dict(path={"namespace": ns, "table": "seedtbl"}),
                      dict(path={"namespace": ns, "table": "seedtbl"}, query={"snapshots": "refs"}),
                      dict(path={"namespace": sub, "table": "seedtbl"})],
        "tableExists": [dict(path={"namespace": ns, "table": "seedtbl"})],
        "updateTable": [dict(path={"namespace": ns, "table": "seedtbl"}, body={
            "identifier": t,
            "requirements": [{"type": "assert-current-schema-id", "current-schema-id": 0}],
            "updates": [
                {"action": "set-properties", "updates": {"st.commit": "1"}},
                {"action": "add-schema", "schema": SCHEMA2},
                {"action": "set-current-schema", "schema-id": -1},
            ]})],
        "dropTable": [dict(path={"namespace": ns, "table": "droptbl"}, query={"purgeRequested": True})],
        "unregisterTable": [dict(path={"namespace": ns, "table": "unregtbl"})],
        "registerTable": [dict(path={"namespace": ns}, body={
            "name": "st_registered", "metadata-location": loc.get("regtbl", "")})] if loc.get("regtbl") else [],
        "loadCredentials": [dict(path={"namespace": ns, "table": "seedtbl"})],
        "renameTable": [dict(body={"source": {"namespace": ["seedns"], "name": "renametbl"},
                                   "destination": {"namespace": ["seedns", "sub"], "name": "renamed_tbl"}})],
        "reportMetrics": [dict(path={"namespace": ns, "table": "seedtbl"}, body={
            "report-type": "commit-report", "table-name": "seedns.seedtbl", "snapshot-id": 1,
            "sequence-number": 1, "operation": "append", "metrics": {}})],
        "commitTransaction": [dict(body={"table-changes": [
            {"identifier": t, "requirements": [], "updates": [
                {"action": "set-properties", "updates": {"st.txn": "1"}}]},
            {"identifier": {"namespace": ["seedns", "sub"], "name": "seedtbl"}, "requirements": [],
             "updates": [{"action": "remove-properties", "removals": ["k"]}]}]})],
        "listViews": [dict(path={"namespace": ns})],
        "createView": [dict(path={"namespace": ns}, body={
            "name": "st_view", "schema": SCHEMA, "view-version": _view_version(1, "select 1 as id, 'a' as data"),
            "properties": {"comment": "st"}})],
        "loadView": [dict(path={"namespace": ns, "view": "seedview"})],
        "viewExists": [dict(path={"namespace": ns, "view": "seedview"})],
        "replaceView": [dict(path={"namespace": ns, "view": "seedview"}, body={
            "identifier": {"namespace": ["seedns"], "name": "seedview"}, "requirements": [],
            "updates": [{"action": "add-view-version",
                         "view-version": _view_version(2, "select 2 as id, 'b' as data")},
                        {"action": "set-current-view-version", "view-version-id": -1}]})],
        "dropView": [dict(path={"namespace": ns, "view": "dropview"})],
        "renameView": [dict(body={"source": {"namespace": ["seedns"], "name": "renameview"},
                                  "destination": {"namespace": ["seedns"], "name": "renamed_view"}})],
        "registerView": [dict(path={"namespace": ns}, body={
            "name": "st_regview", "metadata-location": loc.get("regview", "")})] if loc.get("regview") else [],
    }


@schemathesis.hook
def before_add_examples(context, examples):
    op = context.operation
    if op is None or not SEEDED:
        return
    op_id = op.definition.raw.get("operationId") if hasattr(op, "definition") else None
    for n, ex in enumerate(_examples(SEEDED["prefix"]).get(op_id, [])):
        kwargs = {"path_parameters": {"prefix": SEEDED["prefix"], **ex.get("path", {})},
                  "headers": {"X-Request-Id": f"st-example-{op_id}-{n}"}}
        if "query" in ex:
            kwargs["query"] = ex["query"]
        if "body" in ex:
            kwargs["body"] = ex["body"]
            kwargs["media_type"] = "application/json"
        examples.append(op.Case(**kwargs))
