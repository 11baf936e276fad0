"""Tables on S3 with catalog.credentials.mode sts (issue 11 item 4): the engines get no S3 keys, only the STS
session icegate vends for each table (AssumeRole with a session policy of that table's prefix), from a real
S3 server that enforces session policies (SeaweedFS `weed mini`, installed by scripts/s3server.sh, started
here on 127.0.0.1 with its own temp dir, ports and keys).  PyIceberg creates, writes, evolves and reads a
table, DuckDB reads it, Spark (Iceberg's S3FileIO) creates, writes, updates and reads another; then the
session PyIceberg was handed for one table is refused on the other's files (403)."""
import base64
import json
import os
import re
import secrets
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request

import pyarrow as pa
import pytest
from pyiceberg.types import DoubleType

from conftest import ROOT, S3Process, duckdb_connect, pyiceberg_catalog, start_on_s3

WEED_BIN = os.environ.get("ICEGATE_WEED_BIN") or os.path.join(ROOT, "build", "s3", "bin", "weed")


def _free_ports(n):
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


class Seaweed(S3Process):
    """weed mini with one admin identity allowed sts:AssumeRole and every port chosen (see tests/e2e/lib/s3.js)."""

    def __init__(self):
        if not os.path.exists(WEED_BIN):
            pytest.fail(f"no SeaweedFS at {WEED_BIN}: run scripts/s3server.sh")
        self.dir = tempfile.mkdtemp(prefix="engines-weed-")
        os.makedirs(os.path.join(self.dir, "data"))
        self.key = "AK" + secrets.token_hex(8).upper()
        self.secret = secrets.token_hex(20)
        conf = os.path.join(self.dir, "iam.json")
        with open(conf, "w") as f:
            json.dump({"identities": [{"name": "icegate", "credentials": [{"accessKey": self.key, "secretKey": self.secret}],
                                       "actions": ["Admin", "Read", "Write", "List", "Tagging"]}],
                       "sts": {"tokenDuration": "1h", "maxSessionLength": "12h", "issuer": "icegate-engines",
                               "signingKey": base64.b64encode(os.urandom(32)).decode()},
                       "policy": {"defaultEffect": "Deny", "storeType": "memory"}}, f)
        p = _free_ports(10)
        self.endpoint = f"http://127.0.0.1:{p[6]}"
        args = [WEED_BIN, "mini", f"-dir={self.dir}/data", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
                f"-master.port={p[0]}", f"-master.port.grpc={p[1]}", f"-volume.port={p[2]}", f"-volume.port.grpc={p[3]}",
                f"-filer.port={p[4]}", f"-filer.port.grpc={p[5]}", f"-s3.port={p[6]}", f"-s3.port.grpc={p[7]}",
                f"-admin.port={p[8]}", f"-admin.port.grpc={p[9]}", "-admin.port.legacy=0", "-s3.port.iceberg=0",
                "-s3.port.lance=0", "-webdav=false", f"-s3.config={conf}", f"-s3.iam.config={conf}", "-s3.iam.readOnly=false"]
        self.log = open(os.path.join(self.dir, "server.log"), "wb")
        self.proc = subprocess.Popen(args, cwd=self.dir, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": self.dir},
                                     stdout=self.log, stderr=self.log)
        deadline = time.time() + 60
        while True:
            try:
                if urllib.request.urlopen(f"{self.endpoint}/status", timeout=1).status == 200:
                    break
            except OSError:
                pass
            if time.time() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"SeaweedFS did not start; log in {self.dir}/server.log")
            time.sleep(0.1)

    def keys(self, bucket, prefix):
        out = os.path.join(self.dir, "list.xml")
        assert self.curl("GET", f"{bucket}?list-type=2&prefix={urllib.parse.quote(prefix, safe='')}", out=out) == 200
        with open(out) as f:
            return [k[len(prefix):] for k in re.findall(r"<Key>([^<]*)</Key>", f.read())]


@pytest.fixture(scope="module")
def weed():
    s = Seaweed()
    assert s.curl("PUT", "lakehouse") == 200
    yield s
    s.stop()


@pytest.fixture(scope="module")
def sts_server(weed, tmp_path_factory):
    srv = start_on_s3(weed, tmp_path_factory, "sts", "sts")
    yield srv
    assert srv.stop() == 0


def test_pyiceberg_and_duckdb_with_sts_sessions_only(weed, sts_server, ns):
    tok = sts_server.token(f"sts-{ns}")["token"]
    cat = pyiceberg_catalog(sts_server, tok)  # no s3.* properties: every key comes from icegate
    cat.create_namespace(ns)
    rows = pa.table({"id": pa.array([1, 2, 3], pa.int64()), "v": pa.array(["a", "b", "c"])})
    t = cat.create_table(f"{ns}.events", schema=rows.schema)
    t.append(rows)
    with t.update_schema() as u:
        u.add_column("score", DoubleType())
    t = cat.load_table(f"{ns}.events")
    assert "s3.session-token" in t.io.properties, "PyIceberg was not handed an STS session"
    assert t.io.properties["s3.access-key-id"] != weed.key
    t.append(pa.table({"id": pa.array([4], pa.int64()), "v": pa.array(["d"]), "score": pa.array([0.5])}))
    got = cat.load_table(f"{ns}.events").scan().to_arrow()
    assert sorted(got["id"].to_pylist()) == [1, 2, 3, 4]
    files = weed.keys("lakehouse", f"warehouse/{ns}/events/")
    assert any(f.startswith("data/") and f.endswith(".parquet") for f in files), files

    con = duckdb_connect()
    try:
        con.execute(f"CREATE SECRET stsice (TYPE iceberg, TOKEN '{tok}')")
        con.execute(f"ATTACH 'lake' AS lake (TYPE iceberg, ENDPOINT '{sts_server.uri}', SECRET stsice, "
                    "ACCESS_DELEGATION_MODE 'vended_credentials')")
        assert con.execute(f"SELECT count(*), sum(id) FROM lake.{ns}.events").fetchone() == (4, 10)
    finally:
        con.close()

    # The session for events reaches events only: another table's data file is refused with it.
    other = cat.create_table(f"{ns}.other", schema=rows.schema)
    other.append(rows)
    data = [f for f in weed.keys("lakehouse", f"warehouse/{ns}/other/") if f.endswith(".parquet")]
    p = t.io.properties
    own = [f for f in files if f.endswith(".parquet")][0]
    assert weed.curl("GET", f"lakehouse/warehouse/{ns}/events/{own}", key=p["s3.access-key-id"],
                     secret=p["s3.secret-access-key"], token=p["s3.session-token"]) == 200
    assert weed.curl("GET", f"lakehouse/warehouse/{ns}/other/{data[0]}", key=p["s3.access-key-id"],
                     secret=p["s3.secret-access-key"], token=p["s3.session-token"]) == 403


def test_spark_with_sts_sessions_only(weed, sts_server, spark, ns):
    from conftest import spark_add_catalog
    tok = sts_server.token(f"sts-spark-{ns}")["token"]
    spark_add_catalog(spark, "stslake", sts_server, tok)
    spark.conf.set("spark.sql.catalog.stslake.header.X-Iceberg-Access-Delegation", "vended-credentials")
    spark.sql(f"CREATE NAMESPACE stslake.{ns}")
    spark.sql(f"CREATE TABLE stslake.{ns}.orders (id bigint, amount double) USING iceberg")
    spark.sql(f"INSERT INTO stslake.{ns}.orders VALUES (1, 10.0), (2, 20.0), (3, 30.0)")
    spark.sql(f"UPDATE stslake.{ns}.orders SET amount = amount * 2 WHERE id = 2")
    spark.sql(f"ALTER TABLE stslake.{ns}.orders ADD COLUMN note string")
    spark.sql(f"INSERT INTO stslake.{ns}.orders VALUES (4, 1.0, 'new')")
    rows = spark.sql(f"SELECT id, amount, note FROM stslake.{ns}.orders ORDER BY id").collect()
    assert [(r.id, r.amount, r.note) for r in rows] == [(1, 10.0, None), (2, 40.0, None), (3, 30.0, None),
                                                        (4, 1.0, "new")]
    files = weed.keys("lakehouse", f"warehouse/{ns}/orders/")
    assert any(f.startswith("data/") and f.endswith(".parquet") for f in files), files


@pytest.mark.skipif(os.environ.get("ENGINES_LONG") != "1",
                    reason="runs 16 minutes (a 15-minute session outlived): ENGINES_LONG=1 runs it")
def test_spark_refreshes_its_session_before_it_expires(weed, sts_server, spark, ns):
    """Spark (Iceberg's S3FileIO, VendedCredentialsProvider) asks icegate's client.refresh-credentials-endpoint
    for a new session five minutes before its own expires, with the catalog's `token` as a Bearer; a job that
    outlives the 15-minute session keeps reading and writing."""
    from conftest import metric_sum
    tok = sts_server.token(f"sts-refresh-{ns}")["token"]
    admin = sts_server.token(f"sts-refresh-admin-{ns}")["token"]
    p = "spark.sql.catalog.stsrefresh"
    for k, v in {p: "org.apache.iceberg.spark.SparkCatalog", f"{p}.type": "rest", f"{p}.uri": sts_server.uri,
                 f"{p}.token": tok, f"{p}.cache-enabled": "false",
                 f"{p}.header.X-Iceberg-Access-Delegation": "vended-credentials"}.items():
        spark.conf.set(k, v)
    route = "/v1/{prefix}/namespaces/{namespace}/tables/{table}/credentials"

    def refreshes():
        return metric_sum(sts_server.metrics(admin), "icegate_http_requests_total", route=route, status="200")

    spark.sql(f"CREATE NAMESPACE stsrefresh.{ns}")
    spark.sql(f"CREATE TABLE stsrefresh.{ns}.events (id bigint) USING iceberg")
    spark.sql(f"INSERT INTO stsrefresh.{ns}.events VALUES (1)")
    before = refreshes()
    # One table handle (one FileIO, one credentials provider) for the whole job: an open DataFrame's scans.
    df = spark.table(f"stsrefresh.{ns}.events")
    deadline = time.time() + 16 * 60  # past the session's 15 minutes
    while time.time() < deadline:
        assert df.count() >= 1
        time.sleep(30)
    spark.sql(f"INSERT INTO stsrefresh.{ns}.events VALUES (2)")
    assert sorted(r.id for r in spark.sql(f"SELECT id FROM stsrefresh.{ns}.events").collect()) == [1, 2]
    assert refreshes() > before, "Spark never asked for a new session"
