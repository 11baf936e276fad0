"""PyIceberg 0.12 (pyarrow, pyiceberg-core) against icegate: every scenario reads back what it wrote."""
import datetime as dt
import os

import pyarrow as pa
import pytest
from pyiceberg.exceptions import NoSuchTableError, NoSuchViewError, UnauthorizedError
from pyiceberg.expressions import EqualTo
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.transforms import DayTransform, IdentityTransform
from pyiceberg.types import IntegerType, LongType, NestedField, StringType, TimestampType

from conftest import metric_sum, purged_files, pyiceberg_catalog, warehouse_files

SCHEMA = Schema(
    NestedField(1, "id", LongType(), required=False),
    NestedField(2, "cat", StringType(), required=False),
    NestedField(3, "ts", TimestampType(), required=False),
    NestedField(4, "n", IntegerType(), required=False),
)
ARROW = pa.schema([("id", pa.int64()), ("cat", pa.string()), ("ts", pa.timestamp("us")), ("n", pa.int32())])


def rows(start, count, cats=("a", "b", "c")):
    base = dt.datetime(2026, 1, 1)
    return pa.Table.from_pylist([
        {"id": i, "cat": cats[i % len(cats)], "ts": base + dt.timedelta(days=i % 4, hours=i), "n": i * 10}
        for i in range(start, start + count)], schema=ARROW)


def as_sorted(table, key="id"):
    return sorted(table.to_pylist(), key=lambda r: r[key])


def test_namespace_create_list_properties_drop(pyi, ns):
    pyi.create_namespace(ns, properties={"owner": "engines"})
    assert (ns,) in pyi.list_namespaces()
    assert pyi.load_namespace_properties(ns)["owner"] == "engines"
    pyi.update_namespace_properties(ns, removals={"owner"}, updates={"k": "v"})
    props = pyi.load_namespace_properties(ns)
    assert props.get("k") == "v" and "owner" not in props
    pyi.drop_namespace(ns)
    assert (ns,) not in pyi.list_namespaces()


def test_unpartitioned_append_scan(pyi, ns):
    pyi.create_namespace(ns)
    t = pyi.create_table(f"{ns}.plain", schema=SCHEMA)
    assert t.spec().is_unpartitioned()
    data = rows(0, 50)
    t.append(data)
    t.append(rows(50, 25))
    back = pyi.load_table(f"{ns}.plain").scan().to_arrow()
    assert back.num_rows == 75
    assert as_sorted(back) == as_sorted(pa.concat_tables([data, rows(50, 25)]))
    assert len(pyi.load_table(f"{ns}.plain").history()) == 2


def test_partitioned_identity_and_day(pyi, ns):
    pyi.create_namespace(ns)
    spec = PartitionSpec(
        PartitionField(source_id=2, field_id=1000, transform=IdentityTransform(), name="cat"),
        PartitionField(source_id=3, field_id=1001, transform=DayTransform(), name="ts_day"))
    t = pyi.create_table(f"{ns}.parted", schema=SCHEMA, partition_spec=spec)
    data = rows(0, 40)
    t.append(data)
    t = pyi.load_table(f"{ns}.parted")
    assert [f.name for f in t.spec().fields] == ["cat", "ts_day"]
    assert as_sorted(t.scan().to_arrow()) == as_sorted(data)
    # partition pruning reads only the matching rows
    only_b = t.scan(row_filter=EqualTo("cat", "b")).to_arrow()
    assert as_sorted(only_b) == [r for r in as_sorted(data) if r["cat"] == "b"]
    # one data file per (cat, day) partition
    files = list(t.scan().plan_files())
    assert len(files) == len({(r["cat"], r["ts"].date()) for r in data.to_pylist()})


def test_schema_evolution_add_rename_promote(pyi, ns):
    pyi.create_namespace(ns)
    t = pyi.create_table(f"{ns}.evo", schema=SCHEMA)
    t.append(rows(0, 10))
    with t.update_schema() as u:
        u.add_column("note", StringType())
        u.rename_column("n", "num")
        u.update_column("n", field_type=LongType())
    t = pyi.load_table(f"{ns}.evo")
    s = t.schema()
    assert s.find_field("num").field_type == LongType()
    assert s.find_field("num").field_id == 4
    assert s.find_field("note").field_id == 5
    new = pa.Table.from_pylist(
        [{"id": 100, "cat": "z", "ts": dt.datetime(2026, 2, 1), "num": 2**40, "note": "big"}],
        schema=pa.schema([("id", pa.int64()), ("cat", pa.string()), ("ts", pa.timestamp("us")),
                          ("num", pa.int64()), ("note", pa.string())]))
    t.append(new)
    back = as_sorted(pyi.load_table(f"{ns}.evo").scan().to_arrow())
    assert len(back) == 11
    assert back[0] == {"id": 0, "cat": "a", "ts": dt.datetime(2026, 1, 1), "num": 0, "note": None}
    assert back[-1] == {"id": 100, "cat": "z", "ts": dt.datetime(2026, 2, 1), "num": 2**40, "note": "big"}
    assert len(t.schemas()) == 2


def test_partition_evolution(pyi, ns):
    pyi.create_namespace(ns)
    t = pyi.create_table(f"{ns}.pevo", schema=SCHEMA)
    first = rows(0, 12)
    t.append(first)
    with t.update_spec() as u:
        u.add_identity("cat")
    t = pyi.load_table(f"{ns}.pevo")
    assert [f.name for f in t.spec().fields] == ["cat"] and t.spec().spec_id == 1
    second = rows(12, 12)
    t.append(second)
    t = pyi.load_table(f"{ns}.pevo")
    assert as_sorted(t.scan().to_arrow()) == as_sorted(pa.concat_tables([first, second]))
    specs = {f.spec_id for f in t.scan().plan_files() for f in [f.file]}
    assert specs == {0, 1}


def test_delete_and_overwrite_with_filters(pyi, ns):
    pyi.create_namespace(ns)
    spec = PartitionSpec(PartitionField(source_id=2, field_id=1000, transform=IdentityTransform(), name="cat"))
    t = pyi.create_table(f"{ns}.dov", schema=SCHEMA, partition_spec=spec)
    data = rows(0, 30)
    t.append(data)
    t.delete(delete_filter="cat = 'a'")
    expect = [r for r in as_sorted(data) if r["cat"] != "a"]
    assert as_sorted(pyi.load_table(f"{ns}.dov").scan().to_arrow()) == expect
    t.delete(delete_filter="n >= 200")   # a row-level filter inside partitions
    expect = [r for r in expect if r["n"] < 200]
    assert as_sorted(pyi.load_table(f"{ns}.dov").scan().to_arrow()) == expect
    repl = pa.Table.from_pylist([{"id": 1000, "cat": "b", "ts": dt.datetime(2026, 3, 1), "n": 1}], schema=ARROW)
    t = pyi.load_table(f"{ns}.dov")
    t.overwrite(repl, overwrite_filter="cat = 'b'")
    expect = [r for r in expect if r["cat"] != "b"] + repl.to_pylist()
    assert as_sorted(pyi.load_table(f"{ns}.dov").scan().to_arrow()) == sorted(expect, key=lambda r: r["id"])


def test_time_travel_by_snapshot_id(pyi, ns):
    pyi.create_namespace(ns)
    t = pyi.create_table(f"{ns}.tt", schema=SCHEMA)
    t.append(rows(0, 5))
    s1 = pyi.load_table(f"{ns}.tt").current_snapshot().snapshot_id
    t.append(rows(5, 5))
    s2 = pyi.load_table(f"{ns}.tt").current_snapshot().snapshot_id
    t.delete(delete_filter="id < 3")
    t = pyi.load_table(f"{ns}.tt")
    assert s1 != s2
    assert as_sorted(t.scan(snapshot_id=s1).to_arrow()) == as_sorted(rows(0, 5))
    assert as_sorted(t.scan(snapshot_id=s2).to_arrow()) == as_sorted(rows(0, 10))
    assert as_sorted(t.scan().to_arrow()) == as_sorted(rows(3, 7))
    # snapshot ids are 64-bit: the server must keep them exact
    assert [s.snapshot_id for s in t.snapshots()][:2] == [s1, s2]


def test_create_table_transaction(pyi, ns):
    pyi.create_namespace(ns)
    data = rows(0, 20)
    with pyi.create_table_transaction(f"{ns}.txn", schema=SCHEMA, properties={"p": "1"}) as txn:
        with txn.update_schema() as u:
            u.add_column("extra", StringType())
        txn.set_properties(q="2")
        txn.append(data)
    t = pyi.load_table(f"{ns}.txn")
    assert t.properties["p"] == "1" and t.properties["q"] == "2"
    assert t.schema().find_field("extra").field_id == 5
    back = as_sorted(t.scan().to_arrow())
    assert back == [dict(r, extra=None) for r in as_sorted(data)]


def test_rename_same_and_across_namespaces(pyi, ns):
    other = ns + "_b"
    pyi.create_namespace(ns)
    pyi.create_namespace(other)
    t = pyi.create_table(f"{ns}.orig", schema=SCHEMA)
    data = rows(0, 7)
    t.append(data)
    pyi.rename_table(f"{ns}.orig", f"{ns}.renamed")
    assert not pyi.table_exists(f"{ns}.orig")
    assert as_sorted(pyi.load_table(f"{ns}.renamed").scan().to_arrow()) == as_sorted(data)
    pyi.rename_table(f"{ns}.renamed", f"{other}.moved")
    assert pyi.list_tables(ns) == []
    assert pyi.list_tables(other) == [(other, "moved")]
    moved = pyi.load_table(f"{other}.moved")
    moved.append(rows(7, 3))
    assert as_sorted(pyi.load_table(f"{other}.moved").scan().to_arrow()) == as_sorted(rows(0, 10))


def test_drop_with_purge_removes_files(pyi, ns, server):
    pyi.create_namespace(ns)
    t = pyi.create_table(f"{ns}.gone", schema=SCHEMA)
    t.append(rows(0, 10))
    t.append(rows(10, 10))
    t = pyi.load_table(f"{ns}.gone")
    assert t.scan().to_arrow().num_rows == 20
    path, files = warehouse_files(server, t.location())
    assert path.startswith(server.warehouse_dir), (path, server.warehouse_dir)
    assert any(f.endswith(".parquet") for f in files) and any(f.endswith(".metadata.json") for f in files)
    # a plain drop keeps the files; drop the other table with purge
    keep = pyi.create_table(f"{ns}.kept", schema=SCHEMA)
    keep.append(rows(0, 2))
    kpath, kfiles = warehouse_files(server, keep.location())
    pyi.drop_table(f"{ns}.kept")
    assert all(os.path.exists(f) for f in kfiles)
    pyi.purge_table(f"{ns}.gone")
    with pytest.raises(NoSuchTableError):
        pyi.load_table(f"{ns}.gone")
    left = purged_files(server, t.location())
    assert left == [], f"purge left files: {left}"


def test_views_create_list_load_drop(pyi, ns):
    from pyiceberg.view.metadata import SQLViewRepresentation, ViewRepresentation, ViewVersion
    pyi.create_namespace(ns)
    t = pyi.create_table(f"{ns}.base", schema=SCHEMA)
    t.append(rows(0, 3))
    vschema = Schema(NestedField(1, "id", LongType(), required=False))
    version = ViewVersion(
        schema_id=0, default_namespace=(ns,), summary={"engine-name": "pyiceberg"},
        representations=[ViewRepresentation(SQLViewRepresentation(
            type="sql", sql=f"SELECT id FROM {ns}.base WHERE n > 0", dialect="spark"))])
    v = pyi.create_view(f"{ns}.v1", schema=vschema, view_version=version, properties={"comment": "c"})
    assert v is not None
    assert pyi.list_views(ns) == [(ns, "v1")]
    assert pyi.view_exists(f"{ns}.v1")
    loaded = pyi.load_view(f"{ns}.v1")
    md = loaded.metadata
    cur = [vv for vv in md.versions if vv.version_id == md.current_version_id][0]
    assert cur.representations[0].root.sql == f"SELECT id FROM {ns}.base WHERE n > 0"
    assert cur.representations[0].root.dialect == "spark"
    assert md.properties["comment"] == "c"
    # a view and a table share one namespace of names
    assert pyi.list_tables(ns) == [(ns, "base")]
    pyi.drop_view(f"{ns}.v1")
    assert pyi.list_views(ns) == []
    with pytest.raises(NoSuchViewError):
        pyi.load_view(f"{ns}.v1")


@pytest.mark.parametrize("auth", ["token", "header"])
def test_both_auth_forms(server, token, ns, auth):
    cat = pyiceberg_catalog(server, token, auth=auth)
    cat.create_namespace(ns)
    t = cat.create_table(f"{ns}.auth", schema=SCHEMA)
    t.append(rows(0, 4))
    assert as_sorted(cat.load_table(f"{ns}.auth").scan().to_arrow()) == as_sorted(rows(0, 4))


@pytest.mark.parametrize("auth", ["token", "header"])
def test_wrong_token_is_unauthorized(server, token, auth):
    bad = "igt_" + "x" * 38
    with pytest.raises(UnauthorizedError):
        cat = pyiceberg_catalog(server, bad, auth=auth)
        cat.list_namespaces()
    # a right token still works after that
    assert isinstance(pyiceberg_catalog(server, token, auth=auth).list_namespaces(), list)


def test_tags_and_branch_reads(pyi, ns):
    pyi.create_namespace(ns)
    t = pyi.create_table(f"{ns}.tags", schema=SCHEMA)
    t.append(rows(0, 3))
    s1 = pyi.load_table(f"{ns}.tags").current_snapshot().snapshot_id
    pyi.load_table(f"{ns}.tags").manage_snapshots().create_tag(s1, "v1").commit()
    t = pyi.load_table(f"{ns}.tags")
    t.append(rows(3, 3))
    t = pyi.load_table(f"{ns}.tags")
    assert t.metadata.refs["v1"].snapshot_id == s1
    assert as_sorted(t.scan(snapshot_id=t.snapshot_by_name("v1").snapshot_id).to_arrow()) == as_sorted(rows(0, 3))
    assert t.scan().to_arrow().num_rows == 6


def test_concurrent_appends_retry_409(server, token, admin_token, ns):
    """Two PyIceberg catalogs append to the same table from stale metadata: the loser gets 409 and retries."""
    a = pyiceberg_catalog(server, token)
    b = pyiceberg_catalog(server, token)
    a.create_namespace(ns)
    a.create_table(f"{ns}.race", schema=SCHEMA, properties={"commit.retry.num-retries": "10"})
    ta, tb = a.load_table(f"{ns}.race"), b.load_table(f"{ns}.race")
    ta.append(rows(0, 5))
    before = metric_sum(server.metrics(admin_token), "icegate_commits_total", result="conflict")
    tb.append(rows(5, 5))  # tb's metadata predates ta's commit: its first commit must be refused (409)
    assert metric_sum(server.metrics(admin_token), "icegate_commits_total", result="conflict") - before >= 1
    assert as_sorted(a.load_table(f"{ns}.race").scan().to_arrow()) == as_sorted(rows(0, 10))
    assert len(a.load_table(f"{ns}.race").snapshots()) == 2
