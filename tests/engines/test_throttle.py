"""Max RPS with real clients, on a server of their own (the contract in DESIGN: a request over its token's limit
whose turn comes within ratelimiter.max_delay_ms (default 1000) is held and served at its turn; beyond that,
429 TooManyRequestsException with Retry-After; ratelimiter.max_held_per_token default 64)."""
import re

import pyarrow as pa
import pytest
from pyiceberg.exceptions import TooManyRequestsError
from pyiceberg.schema import Schema
from pyiceberg.types import LongType, NestedField, StringType

from conftest import DEFAULT_CONFIG, metric_sum, pyiceberg_catalog, spark_add_catalog

RPS = 5
SCHEMA = Schema(NestedField(1, "id", LongType(), required=False), NestedField(2, "v", StringType(), required=False))
ARROW = pa.schema([("id", pa.int64()), ("v", pa.string())])

HELD_RE = re.compile(r"held|delay|throttl|queued|wait", re.I)


def held_counters(metrics, token_id):
    """Per-token counters of requests held (not refused) by the limiter, whatever the server names them."""
    return {n: v for (n, ls), v in metrics.items()
            if HELD_RE.search(n) and ("token_id", token_id) in ls and not n.endswith(("_bucket", "_sum"))}


def limiter_view(srv, admin, rec):
    """What the server itself decided for this token: per-second requests and 429s, held counters."""
    st = srv.stats(admin, rec["id"])
    m = srv.metrics(admin)
    return {
        "requests": st["requests"], "limited": st["limited"],
        "totalRequests": st["totalRequests"], "totalLimited": st["totalLimited"],
        "metric_requests": metric_sum(m, "icegate_token_requests_total", token_id=rec["id"]),
        "metric_limited": metric_sum(m, "icegate_token_rate_limited_total", token_id=rec["id"]),
        "held": held_counters(m, rec["id"]),
    }


def assert_admitted_within_limit(view, rps, burst):
    # admitted in any one second of the server's own per-second series: at most rps plus the burst allowance
    admitted = [r - l for r, l in zip(view["requests"], view["limited"])]
    assert max(admitted) <= rps + burst, f"admitted per second {admitted}"
    # and over the whole job: burst + rps per second of activity
    active = [i for i, r in enumerate(view["requests"]) if r]
    span = active[-1] - active[0] + 1
    assert sum(admitted) <= burst + rps * span, (sum(admitted), span, admitted)


def pyiceberg_job(cat, ns, appends=10):
    cat.create_namespace(ns)
    t = cat.create_table(f"{ns}.thr", schema=SCHEMA)
    for i in range(appends):
        t.append(pa.Table.from_pylist([{"id": i * 10 + j, "v": f"r{i}"} for j in range(10)], schema=ARROW))
    back = cat.load_table(f"{ns}.thr").scan().to_arrow()
    return sorted(back.column("id").to_pylist())


def spark_job(spark, catalog, ns):
    spark.sql(f"CREATE NAMESPACE {catalog}.{ns}")
    spark.sql(f"CREATE TABLE {catalog}.{ns}.thr (id BIGINT, v STRING) USING iceberg")
    for i in range(3):
        spark.sql(f"INSERT INTO {catalog}.{ns}.thr VALUES " + ", ".join(f"({i * 10 + j}, 'r{i}')" for j in range(5)))
    spark.sql(f"UPDATE {catalog}.{ns}.thr SET v = 'u' WHERE id < 5")
    return sorted(tuple(r) for r in spark.sql(f"SELECT id, v FROM {catalog}.{ns}.thr").collect())


@pytest.mark.spark
def test_spark_job_on_5rps_token_completes(spark, make_server, ns):
    srv = make_server(DEFAULT_CONFIG, "throttle-spark")
    admin = srv.token("admin")["token"]
    rec = srv.token("spark-5rps", max_rps=RPS)
    spark_add_catalog(spark, "thr_spark", srv, rec["token"])
    rows = spark_job(spark, "thr_spark", ns)
    expect = sorted([(j, "u") for j in range(5)] + [(i * 10 + j, f"r{i}") for i in (1, 2) for j in range(5)])
    assert rows == expect
    view = limiter_view(srv, admin, rec)
    print("spark on 5 rps:", {k: v for k, v in view.items() if k not in ("requests", "limited")})
    # throttling happened: refused with 429 (and retried by the Java client) or held by the server
    assert view["totalLimited"] + sum(view["held"].values()) > 0, view
    assert view["metric_limited"] == view["totalLimited"]
    assert_admitted_within_limit(view, RPS, rec["burst"])


def test_pyiceberg_job_on_5rps_token_completes_held(make_server, ns):
    """PyIceberg never retries a 429: it completes only if the server holds requests instead of refusing."""
    srv = make_server(DEFAULT_CONFIG, "throttle-pyi")
    admin = srv.token("admin")["token"]
    rec = srv.token("pyi-5rps", max_rps=RPS)
    cat = pyiceberg_catalog(srv, rec["token"])
    assert pyiceberg_job(cat, ns) == list(range(100))
    view = limiter_view(srv, admin, rec)
    print("pyiceberg on 5 rps:", {k: v for k, v in view.items() if k not in ("requests", "limited")})
    assert view["totalLimited"] == 0, "no request of a completed job was refused"
    assert view["held"], "no per-token held/throttled counter in /metrics"
    assert sum(view["held"].values()) > 0, view["held"]
    assert_admitted_within_limit(view, RPS, rec["burst"])


def test_max_delay_0_pyiceberg_gets_too_many_requests(make_server, ns):
    srv = make_server(DEFAULT_CONFIG + "ratelimiter: {max_delay_ms: 0}\n", "throttle-nodelay")
    admin = srv.token("admin")["token"]
    rec = srv.token("pyi-5rps", max_rps=RPS)
    cat = pyiceberg_catalog(srv, rec["token"])
    with pytest.raises(TooManyRequestsError):
        pyiceberg_job(cat, ns)
    view = limiter_view(srv, admin, rec)
    assert view["totalLimited"] >= 1 and view["metric_limited"] == view["totalLimited"]
    assert sum(view["held"].values()) == 0, view["held"]
    # the 429 carries Retry-After and the Iceberg error body
    for _ in range(3 * RPS):
        st, headers, body = srv.request("GET", "/v1/config", token=rec["token"])
        if st == 429:
            break
    assert st == 429
    assert int({k.lower(): v for k, v in headers.items()}["retry-after"]) >= 1
    assert '"TooManyRequestsException"' in body


@pytest.mark.spark
def test_spark_and_pyiceberg_jobs_at_once_each_on_5rps(spark, make_server, ns):
    """Both jobs at the same time, each on its own 5 rps token: both complete, each token's admitted rate stays
    within its own limit."""
    import threading
    srv = make_server(DEFAULT_CONFIG, "throttle-both")
    admin = srv.token("admin")["token"]
    a = srv.token("spark-5rps", max_rps=RPS)
    b = srv.token("pyi-5rps", max_rps=RPS)
    spark_add_catalog(spark, "thr_both", srv, a["token"])
    out, errors = {}, []

    def run(name, fn):
        try:
            out[name] = fn()
        except Exception as e:
            errors.append((name, repr(e)))

    th = [threading.Thread(target=run, args=("spark", lambda: spark_job(spark, "thr_both", ns + "_s"))),
          threading.Thread(target=run, args=("pyi", lambda: pyiceberg_job(pyiceberg_catalog(srv, b["token"]),
                                                                          ns + "_p")))]
    for t in th:
        t.start()
    for t in th:
        t.join(timeout=300)
    assert not errors, errors
    assert len(out["spark"]) == 15 and out["pyi"] == list(range(100))
    for rec in (a, b):
        view = limiter_view(srv, admin, rec)
        assert_admitted_within_limit(view, RPS, rec["burst"])
    assert sum(limiter_view(srv, admin, b)["held"].values()) > 0
