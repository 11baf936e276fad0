"""Tables on S3 through icegate (issue 11), with a real S3 server (versitygw, installed by scripts/s3server.sh,
started here on 127.0.0.1 with its own temp dir and keys): the engines get NO S3 keys, only what icegate vends
(catalog.credentials.mode static) in the LoadTableResult; PyIceberg creates, writes, reads and evolves a table,
DuckDB reads what PyIceberg wrote, Spark (Iceberg's S3FileIO) creates, writes, updates and reads one.  The data files land under the table's own prefix in the bucket."""
import os
import secrets
import socket
import subprocess
import tempfile
import time
import urllib.request

import pyarrow as pa
import pytest
from pyiceberg.types import DoubleType

from conftest import ROOT, S3Process, duckdb_connect, pyiceberg_catalog, start_on_s3

S3_BIN = os.environ.get("ICEGATE_S3_BIN") or os.path.join(ROOT, "build", "s3", "bin", "versitygw")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class S3(S3Process):
    def __init__(self):
        if not os.path.exists(S3_BIN):
            pytest.fail(f"no S3 server at {S3_BIN}: run scripts/s3server.sh")
        self.dir = tempfile.mkdtemp(prefix="engines-s3-")
        os.makedirs(os.path.join(self.dir, "data"))
        self.port = _free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.key = "AK" + secrets.token_hex(8).upper()
        self.secret = secrets.token_hex(20)
        env = dict(os.environ, ROOT_ACCESS_KEY=self.key, ROOT_SECRET_KEY=self.secret)
        self.log = open(os.path.join(self.dir, "server.log"), "wb")
        self.proc = subprocess.Popen([S3_BIN, "--port", f"127.0.0.1:{self.port}", "posix",
                                      os.path.join(self.dir, "data")], env=env, stdout=self.log, stderr=self.log)
        deadline = time.time() + 20
        while True:
            try:
                urllib.request.urlopen(self.endpoint, timeout=1)
                break
            except urllib.error.HTTPError:
                break  # it answers (403 without a signature)
            except OSError:
                if time.time() > deadline or self.proc.poll() is not None:
                    raise RuntimeError(f"S3 server did not start; log in {self.dir}/server.log")
                time.sleep(0.05)

    def files(self, bucket, prefix):
        root = os.path.join(self.dir, "data", bucket, prefix)
        return [os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs]


@pytest.fixture(scope="module")
def s3():
    s = S3()
    assert s.curl("PUT", "lakehouse") == 200
    yield s
    s.stop()


@pytest.fixture(scope="module")
def s3_server(s3, tmp_path_factory):
    srv = start_on_s3(s3, tmp_path_factory, "static", "s3")
    yield srv
    assert srv.stop() == 0


def test_pyiceberg_and_duckdb_on_s3_with_vended_credentials_only(s3, s3_server, ns):
    tok = s3_server.token(f"s3-{ns}")["token"]
    cat = pyiceberg_catalog(s3_server, tok)  # no s3.* properties: everything comes from icegate
    cat.create_namespace(ns)
    rows = pa.table({"id": pa.array([1, 2, 3], pa.int64()), "v": pa.array(["a", "b", "c"])})
    t = cat.create_table(f"{ns}.events", schema=rows.schema)
    assert t.location() == f"s3://lakehouse/warehouse/{ns}/events"
    t.append(rows)
    with t.update_schema() as u:
        u.add_column("score", DoubleType())
    t = cat.load_table(f"{ns}.events")
    more = pa.table({"id": pa.array([4], pa.int64()), "v": pa.array(["d"]), "score": pa.array([0.5])})
    t.append(more)
    got = cat.load_table(f"{ns}.events").scan().to_arrow()
    assert sorted(got["id"].to_pylist()) == [1, 2, 3, 4]
    assert [r for r in got.to_pylist() if r["id"] == 4][0]["score"] == 0.5
    files = s3.files("lakehouse", f"warehouse/{ns}/events")
    assert any(f.startswith("data/") and f.endswith(".parquet") for f in files), files
    assert sum(f.startswith("metadata/") and f.endswith(".metadata.json") for f in files) >= 3, files

    con = duckdb_connect()
    try:
        con.execute(f"CREATE SECRET s3ice (TYPE iceberg, TOKEN '{tok}')")
        con.execute(f"ATTACH 'lake' AS lake (TYPE iceberg, ENDPOINT '{s3_server.uri}', SECRET s3ice, "
                    "ACCESS_DELEGATION_MODE 'vended_credentials')")
        assert con.execute(f"SELECT count(*), sum(id) FROM lake.{ns}.events").fetchone() == (4, 10)
    finally:
        con.close()


def test_spark_on_s3_with_vended_credentials_only(s3, s3_server, spark, ns):
    from conftest import spark_add_catalog
    tok = s3_server.token(f"s3-spark-{ns}")["token"]
    spark_add_catalog(spark, "lake", s3_server, tok)
    spark.conf.set("spark.sql.catalog.lake.header.X-Iceberg-Access-Delegation", "vended-credentials")
    spark.sql(f"CREATE NAMESPACE lake.{ns}")
    spark.sql(f"CREATE TABLE lake.{ns}.orders (id bigint, amount double) USING iceberg")
    spark.sql(f"INSERT INTO lake.{ns}.orders VALUES (1, 10.0), (2, 20.0), (3, 30.0)")
    spark.sql(f"UPDATE lake.{ns}.orders SET amount = amount * 2 WHERE id = 2")
    spark.sql(f"ALTER TABLE lake.{ns}.orders ADD COLUMN note string")
    spark.sql(f"INSERT INTO lake.{ns}.orders VALUES (4, 1.0, 'new')")
    rows = spark.sql(f"SELECT id, amount, note FROM lake.{ns}.orders ORDER BY id").collect()
    assert [(r.id, r.amount, r.note) for r in rows] == [(1, 10.0, None), (2, 40.0, None), (3, 30.0, None),
                                                        (4, 1.0, "new")]
    files = s3.files("lakehouse", f"warehouse/{ns}/orders")
    assert any(f.startswith("data/") and f.endswith(".parquet") for f in files), files
    spark.sql(f"DROP TABLE lake.{ns}.orders PURGE")
    deadline = time.time() + 10  # the purge runs after the drop's answer (catalog/purge.c)
    while s3.files("lakehouse", f"warehouse/{ns}/orders") and time.time() < deadline:
        time.sleep(0.05)
    assert s3.files("lakehouse", f"warehouse/{ns}/orders") == []


@pytest.fixture(scope="module")
def two_server(s3, tmp_path_factory):
    """icegate with two warehouses: `local` (file://, the default) first, then `lake` on S3 (static mode)."""
    secret_file = tmp_path_factory.mktemp("twokey") / "secret"
    secret_file.write_text(s3.secret + "\n")
    local = tmp_path_factory.mktemp("local-wh")
    config = f"""catalog:
  warehouses:
    - name: local
      location: file://{local}
    - name: lake
      location: s3://lakehouse/two
      s3:
        endpoint: {s3.endpoint}
        path_style: true
        access_key_id: {s3.key}
        secret_access_key_file: {secret_file}
  credentials:
    mode: static
"""
    from conftest import _start
    srv = _start(config, "two")
    srv.local_dir = str(local)
    yield srv
    assert srv.stop() == 0


def test_two_warehouses_pyiceberg_and_duckdb_pick_theirs_by_name(s3, two_server, ns):
    """The same namespace and table name in both warehouses, each engine choosing one with its `warehouse`
    setting (PyIceberg's property, DuckDB's ATTACH name): each sees only its own rows, in its own storage."""
    tok = two_server.token(f"two-{ns}")["token"]
    lake = pyiceberg_catalog(two_server, tok, warehouse="lake")
    local = pyiceberg_catalog(two_server, tok)  # no warehouse: the first, `local`
    for cat, ids in ((lake, [1, 2, 3]), (local, [10, 20])):
        cat.create_namespace(ns)
        rows = pa.table({"id": pa.array(ids, pa.int64())})
        cat.create_table(f"{ns}.events", schema=rows.schema).append(rows)
    assert lake.load_table(f"{ns}.events").location() == f"s3://lakehouse/two/{ns}/events"
    assert local.load_table(f"{ns}.events").location() == f"file://{two_server.local_dir}/{ns}/events"
    assert sorted(lake.load_table(f"{ns}.events").scan().to_arrow()["id"].to_pylist()) == [1, 2, 3]
    assert sorted(local.load_table(f"{ns}.events").scan().to_arrow()["id"].to_pylist()) == [10, 20]
    assert any(f.endswith(".parquet") for f in s3.files("lakehouse", f"two/{ns}/events")), "lake's data is on S3"
    lake.create_namespace(f"{ns}_lake_only")
    assert (f"{ns}_lake_only",) in lake.list_namespaces()
    assert (f"{ns}_lake_only",) not in local.list_namespaces()

    con = duckdb_connect()
    try:
        con.execute(f"CREATE SECRET twoice (TYPE iceberg, TOKEN '{tok}')")
        con.execute(f"ATTACH 'lake' AS lake (TYPE iceberg, ENDPOINT '{two_server.uri}', SECRET twoice, "
                    "ACCESS_DELEGATION_MODE 'vended_credentials')")
        con.execute(f"ATTACH 'local' AS loc (TYPE iceberg, ENDPOINT '{two_server.uri}', SECRET twoice, "
                    "ACCESS_DELEGATION_MODE 'none')")
        assert con.execute(f"SELECT count(*), sum(id) FROM lake.{ns}.events").fetchone() == (3, 6)
        assert con.execute(f"SELECT count(*), sum(id) FROM loc.{ns}.events").fetchone() == (2, 30)
    finally:
        con.close()


def test_two_warehouses_spark_writes_to_the_one_it_names(s3, two_server, spark, ns):
    from conftest import spark_add_catalog
    tok = two_server.token(f"two-spark-{ns}")["token"]
    spark_add_catalog(spark, "twolake", two_server, tok)
    spark.conf.set("spark.sql.catalog.twolake.warehouse", "lake")
    spark.conf.set("spark.sql.catalog.twolake.header.X-Iceberg-Access-Delegation", "vended-credentials")
    spark.sql(f"CREATE NAMESPACE twolake.{ns}")
    spark.sql(f"CREATE TABLE twolake.{ns}.orders (id bigint, amount double) USING iceberg")
    spark.sql(f"INSERT INTO twolake.{ns}.orders VALUES (1, 10.0), (2, 20.0)")
    assert spark.sql(f"SELECT sum(amount) AS s FROM twolake.{ns}.orders").collect()[0].s == 30.0
    assert any(f.endswith(".parquet") for f in s3.files("lakehouse", f"two/{ns}/orders"))
    local = pyiceberg_catalog(two_server, tok)
    assert (ns,) not in local.list_namespaces(), "the namespace is lake's, not the default warehouse's"
