"""Least privilege (DESIGN.md §8) seen from real engines: a PyIceberg job on a catalog:read token reads a table and
fails cleanly on an append (ForbiddenError from the 403, nothing committed); DuckDB on the same token reads and is
refused on INSERT; a Spark job on a token limited to one namespace works inside it and gets a clear error outside
(a sibling whose name only starts the same is outside too)."""
import json
import time

import pyarrow as pa
import pytest
from pyiceberg.exceptions import ForbiddenError

from conftest import cli, duckdb_connect, pyiceberg_catalog, spark_add_catalog


def cli_token(server, name, *opts):
    """A token made with the CLI, once the running server accepts it; its record."""
    rec = json.loads(cli(server.data_dir, ["token", "create", "--name", name, *opts, "--json"],
                         config=server.config_path).stdout)
    deadline = time.time() + 10
    while time.time() < deadline:  # the running server picks CLI changes up at its next poll
        if server.request("GET", "/v1/config", token=rec["token"])[0] == 200:
            return rec
        time.sleep(0.05)
    raise RuntimeError(f"server never accepted the token {name}")


def read_only_token(server, name):
    rec = cli_token(server, name, "--scopes", "catalog:read")
    assert rec["scopes"] == ["catalog:read"], rec
    return rec["token"]


def test_pyiceberg_read_only_token_reads_and_is_refused_on_append(server, pyi, ns):
    pyi.create_namespace(ns)
    rows = pa.table({"id": pa.array([1, 2, 3], pa.int64()), "v": pa.array(["a", "b", "c"])})
    t = pyi.create_table(f"{ns}.t", schema=rows.schema)
    t.append(rows)
    before = pyi.load_table(f"{ns}.t")

    ro = pyiceberg_catalog(server, read_only_token(server, f"ro-{ns}"))
    tr = ro.load_table(f"{ns}.t")
    assert sorted(tr.scan().to_arrow()["id"].to_pylist()) == [1, 2, 3]
    assert ns in [n[0] for n in ro.list_namespaces()]
    with pytest.raises(ForbiddenError, match="lacks the scope catalog:write"):
        tr.append(rows)
    with pytest.raises(ForbiddenError):
        ro.create_table(f"{ns}.other", schema=rows.schema)
    with pytest.raises(ForbiddenError):
        ro.drop_table(f"{ns}.t")
    after = pyi.load_table(f"{ns}.t")  # nothing committed: same metadata, same snapshot, same rows
    assert after.metadata_location == before.metadata_location
    assert after.current_snapshot().snapshot_id == before.current_snapshot().snapshot_id
    assert sorted(after.scan().to_arrow()["id"].to_pylist()) == [1, 2, 3]
    assert not pyi.table_exists(f"{ns}.other")


def test_duckdb_read_only_token_reads_and_is_refused_on_insert(server, pyi, ns):
    pyi.create_namespace(ns)
    rows = pa.table({"id": pa.array([7, 8], pa.int64())})
    pyi.create_table(f"{ns}.d", schema=rows.schema).append(rows)
    tok = read_only_token(server, f"ro-duck-{ns}")
    con = duckdb_connect()
    try:
        con.execute(f"CREATE SECRET ro_s (TYPE iceberg, TOKEN '{tok}')")
        con.execute(f"ATTACH 'warehouse' AS ro (TYPE iceberg, ENDPOINT '{server.uri}', SECRET ro_s)")
        assert con.execute(f"SELECT sum(id) FROM ro.{ns}.d").fetchone() == (15,)
        with pytest.raises(Exception, match="(?i)forbidden|403|lacks the scope"):
            con.execute(f"INSERT INTO ro.{ns}.d VALUES (9)")
    finally:
        con.close()
    assert sorted(pyi.load_table(f"{ns}.d").scan().to_arrow()["id"].to_pylist()) == [7, 8]


def test_spark_namespace_restricted_token_works_inside_and_is_refused_outside(server, spark, pyi, ns):
    inside, outside = ns, f"{ns}_other"  # the sibling starts with the same letters: compared level by level
    pyi.create_namespace(inside)
    pyi.create_namespace(outside)
    rows = pa.table({"id": pa.array([1, 2], pa.int64())})
    pyi.create_table(f"{outside}.secret", schema=rows.schema).append(rows)
    rec = cli_token(server, f"ns-{ns}", "--namespaces", inside)
    assert rec["namespaces"] == [[inside]], rec
    spark_add_catalog(spark, "nsl", server, rec["token"])

    spark.sql(f"CREATE TABLE nsl.{inside}.events (id bigint, v string) USING iceberg")
    spark.sql(f"INSERT INTO nsl.{inside}.events VALUES (1, 'a'), (2, 'b')")
    spark.sql(f"CREATE NAMESPACE nsl.{inside}.daily")
    spark.sql(f"CREATE TABLE nsl.{inside}.daily.t USING iceberg AS SELECT * FROM nsl.{inside}.events")
    assert sorted(r.id for r in spark.sql(f"SELECT id FROM nsl.{inside}.daily.t").collect()) == [1, 2]
    shown = [r[0] for r in spark.sql("SHOW NAMESPACES IN nsl").collect()]
    assert inside in shown and outside not in shown, shown

    # Spark's CREATE TABLE asks tableExists first, a HEAD: a 403 without a body, so no message to show there
    said = r"ForbiddenException: .*limited to the namespaces .*is outside them"
    for stmt, want in ((f"SELECT * FROM nsl.{outside}.secret", said),
                       (f"INSERT INTO nsl.{outside}.secret VALUES (3)", said),
                       (f"CREATE TABLE nsl.{outside}.planted (id bigint) USING iceberg", r"ForbiddenException"),
                       (f"ALTER TABLE nsl.{inside}.events RENAME TO nsl.{outside}.moved", said)):
        with pytest.raises(Exception, match=want) as e:
            spark.sql(stmt).collect()
        assert "NoSuchTable" not in str(e.value), stmt
    # nothing written outside, nothing moved
    assert sorted(pyi.load_table(f"{outside}.secret").scan().to_arrow()["id"].to_pylist()) == [1, 2]
    assert not pyi.table_exists(f"{outside}.planted") and not pyi.table_exists(f"{outside}.moved")
    assert pyi.table_exists(f"{inside}.events")
