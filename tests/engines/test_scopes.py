"""Scopes (DESIGN.md §8) seen from real engines: a PyIceberg job on a catalog:read token reads a table and fails
cleanly on an append (ForbiddenError from the 403, nothing committed); DuckDB on the same token reads and is
refused on INSERT."""
import json
import time

import pyarrow as pa
import pytest
from pyiceberg.exceptions import ForbiddenError

from conftest import cli, duckdb_connect, pyiceberg_catalog


def read_only_token(server, name):
    rec = json.loads(cli(server.data_dir, ["token", "create", "--name", name, "--scopes", "catalog:read", "--json"],
                         config=server.config_path).stdout)
    assert rec["scopes"] == ["catalog:read"], rec
    deadline = time.time() + 10
    while time.time() < deadline:  # the running server picks CLI changes up at its next poll
        if server.request("GET", "/v1/config", token=rec["token"])[0] == 200:
            return rec["token"]
        time.sleep(0.05)
    raise RuntimeError("server never accepted the read-only token")


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
