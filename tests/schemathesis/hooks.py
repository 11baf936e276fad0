"""icegate's own schemathesis check, loaded through SCHEMATHESIS_HOOKS by run.sh.

iceberg_error_body: every 4xx/5xx answer on a catalog route carries the Iceberg error JSON
{"error": {"message": str, "type": str, "code": <the HTTP status>}}, whatever the spec documents for that
status: response_schema_conformance can only check the statuses the spec lists (and for views the spec lists
a bare ErrorModel, see TRIAGE.md), while a client parses every error body the same way
(ErrorHandlers/ErrorResponseParser in Iceberg's Java client).  HEAD answers have no body; the OAuth2 token
route answers in the OAuth2 error shape (RFC 6749 5.2) the spec gives it.
"""
import json

import schemathesis


@schemathesis.check
def iceberg_error_body(ctx, response, case):
    status = response.status_code
    if status < 400 or case.method.upper() == "HEAD" or case.path == "/v1/oauth/tokens":
        return None
    ctype = response.headers.get("content-type", [""])
    ctype = ctype[0] if isinstance(ctype, list) else ctype
    if not ctype.lower().startswith("application/json"):
        raise AssertionError(f"{status} answer with Content-Type {ctype!r}, want application/json")
    try:
        body = json.loads(response.content)
    except ValueError as e:
        raise AssertionError(f"{status} answer is not JSON: {e}") from None
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict):
        raise AssertionError(f"{status} answer has no \"error\" object: {response.content[:200]!r}")
    problems = []
    for key, kind in (("message", str), ("type", str), ("code", int)):
        if not isinstance(err.get(key), kind) or isinstance(err.get(key), bool):
            problems.append(f"error.{key} is not a {kind.__name__}")
    if isinstance(err.get("code"), int) and err["code"] != status:
        problems.append(f"error.code {err['code']} is not the HTTP status {status}")
    if problems:
        raise AssertionError(f"{status} answer: " + "; ".join(problems))
    return None
