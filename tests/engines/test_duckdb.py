"""DuckDB 1.5.5 with its iceberg/httpfs/avro extensions (LOADed offline from the pip wheels) against icegate."""
import pytest

from conftest import duckdb_connect, pyiceberg_catalog


def attach(con, srv, tok, alias="ice", auth="secret", stage=None, extra=""):
    opts = [f"ENDPOINT '{srv.uri}'"]
    if auth == "secret":
        con.execute(f"CREATE OR REPLACE SECRET {alias}_s (TYPE iceberg, TOKEN '{tok}')")
        opts.append(f"SECRET {alias}_s")
    else:  # the product's header; extra headers are taken from ATTACH only with AUTHORIZATION_TYPE 'none'
        opts += ["AUTHORIZATION_TYPE 'none'", f"EXTRA_HTTP_HEADERS MAP {{'X-API-Token': '{tok}'}}"]
    if stage is not None:
        opts.append(f"STAGE_CREATE_TABLES {'true' if stage else 'false'}")
    if extra:
        opts.append(extra)
    con.execute(f"ATTACH 'warehouse' AS {alias} (TYPE iceberg, {', '.join(opts)})")


def snapshot_ids(con, table):
    return [r[0] for r in con.execute(
        f"SELECT snapshot_id FROM iceberg_snapshots({table}) ORDER BY sequence_number").fetchall()]


@pytest.mark.parametrize("auth", ["secret", "header"])
def test_attach_auth_forms_read_write(server, token, duck, ns, auth):
    attach(duck, server, token, auth=auth, stage=False)
    duck.execute(f"CREATE SCHEMA ice.{ns}")
    duck.execute(f"CREATE TABLE ice.{ns}.t (id BIGINT, cat VARCHAR, n INTEGER)")
    duck.execute(f"INSERT INTO ice.{ns}.t VALUES (1,'a',10),(2,'b',20),(3,'c',30)")
    assert duck.execute(f"SELECT * FROM ice.{ns}.t ORDER BY id").fetchall() == [
        (1, "a", 10), (2, "b", 20), (3, "c", 30)]
    # a second, fresh connection reads the same rows through the catalog
    other = duckdb_connect()
    attach(other, server, token, auth=auth)
    assert other.execute(f"SELECT sum(n), count(*) FROM ice.{ns}.t").fetchone() == (60, 3)
    other.close()


def test_attach_wrong_token_fails(server, duck):
    with pytest.raises(Exception) as e:
        attach(duck, server, "igt_" + "y" * 38, auth="secret")
        duck.execute("SELECT * FROM (SHOW ALL TABLES)").fetchall()
    assert "401" in str(e.value) or "Unauthorized" in str(e.value) or "NotAuthorized" in str(e.value), e.value


def _crud(duck, ns):
    duck.execute(f"CREATE TABLE ice.{ns}.crud (id BIGINT, cat VARCHAR, n INTEGER)")
    duck.execute(f"INSERT INTO ice.{ns}.crud SELECT i, chr(97 + (i % 3)::INT), i * 10 FROM range(0, 30) t(i)")
    assert duck.execute(f"SELECT count(*), sum(n) FROM ice.{ns}.crud").fetchone() == (30, 4350)
    duck.execute(f"DELETE FROM ice.{ns}.crud WHERE cat = 'a'")
    duck.execute(f"UPDATE ice.{ns}.crud SET n = -n WHERE id < 5")
    expect = sorted((i, chr(97 + i % 3), (-(i * 10) if i < 5 else i * 10)) for i in range(30) if i % 3 != 0)
    assert duck.execute(f"SELECT * FROM ice.{ns}.crud ORDER BY id").fetchall() == expect
    return expect


def test_create_table_default_staged(server, token, duck, ns):
    """DuckDB's default CREATE TABLE is a staged create whose commit puts set-current-schema last."""
    attach(duck, server, token)
    duck.execute(f"CREATE SCHEMA ice.{ns}")
    _crud(duck, ns)


def test_create_table_default_staged_partitioned(server, token, duck, ns):
    attach(duck, server, token)
    duck.execute(f"CREATE SCHEMA ice.{ns}")
    duck.execute(f"CREATE TABLE ice.{ns}.p (id BIGINT, cat VARCHAR) PARTITIONED BY (cat)")
    duck.execute(f"INSERT INTO ice.{ns}.p VALUES (1,'a'),(2,'b'),(3,'a')")
    assert duck.execute(f"SELECT cat, count(*) FROM ice.{ns}.p GROUP BY cat ORDER BY cat").fetchall() == [
        ("a", 2), ("b", 1)]


def test_create_insert_select_delete_update_not_staged(server, token, duck, ns):
    attach(duck, server, token, stage=False)
    duck.execute(f"CREATE SCHEMA ice.{ns}")
    expect = _crud(duck, ns)
    # PyIceberg reads what DuckDB wrote (positional deletes included)
    t = pyiceberg_catalog(server, token).load_table(f"{ns}.crud")
    got = sorted((r["id"], r["cat"], r["n"]) for r in t.scan().to_arrow().to_pylist())
    assert got == expect


def test_time_travel_at_version(server, token, duck, ns):
    attach(duck, server, token, stage=False)
    duck.execute(f"CREATE SCHEMA ice.{ns}")
    duck.execute(f"CREATE TABLE ice.{ns}.tt (id BIGINT, v VARCHAR)")
    duck.execute(f"INSERT INTO ice.{ns}.tt VALUES (1,'one'),(2,'two')")
    duck.execute(f"INSERT INTO ice.{ns}.tt VALUES (3,'three')")
    duck.execute(f"DELETE FROM ice.{ns}.tt WHERE id = 1")
    snaps = snapshot_ids(duck, f"ice.{ns}.tt")
    assert len(snaps) == 3
    # the ids the server stored are the ones PyIceberg sees (64-bit, exact)
    t = pyiceberg_catalog(server, token).load_table(f"{ns}.tt")
    assert [s.snapshot_id for s in t.snapshots()] == snaps
    at = lambda sid: duck.execute(f"SELECT * FROM ice.{ns}.tt AT (VERSION => {sid}) ORDER BY id").fetchall()
    assert at(snaps[0]) == [(1, "one"), (2, "two")]
    assert at(snaps[1]) == [(1, "one"), (2, "two"), (3, "three")]
    assert at(snaps[2]) == [(2, "two"), (3, "three")]
    assert duck.execute(f"SELECT * FROM ice.{ns}.tt ORDER BY id").fetchall() == [(2, "two"), (3, "three")]


def test_multi_statement_transaction(server, token, duck, ns):
    attach(duck, server, token, stage=False)
    duck.execute(f"CREATE SCHEMA ice.{ns}")
    duck.execute(f"CREATE TABLE ice.{ns}.mt (id BIGINT)")
    duck.execute("BEGIN")
    duck.execute(f"INSERT INTO ice.{ns}.mt VALUES (1),(2)")
    duck.execute(f"INSERT INTO ice.{ns}.mt VALUES (3)")
    duck.execute("COMMIT")
    duck.execute("BEGIN")
    duck.execute(f"INSERT INTO ice.{ns}.mt VALUES (4)")
    duck.execute("ROLLBACK")
    assert duck.execute(f"SELECT id FROM ice.{ns}.mt ORDER BY id").fetchall() == [(1,), (2,), (3,)]
    t = pyiceberg_catalog(server, token).load_table(f"{ns}.mt")
    assert sorted(t.scan().to_arrow().column("id").to_pylist()) == [1, 2, 3]


@pytest.mark.parametrize("purge", [False, True])
def test_drop_table(server, token, duck, ns, purge):
    import os
    import time
    from conftest import purged_files, warehouse_files
    attach(duck, server, token, stage=False, extra=f"PURGE_REQUESTED {'true' if purge else 'false'}")
    duck.execute(f"CREATE SCHEMA ice.{ns}")
    duck.execute(f"CREATE TABLE ice.{ns}.d (id BIGINT)")
    duck.execute(f"INSERT INTO ice.{ns}.d VALUES (1)")
    cat = pyiceberg_catalog(server, token)
    path, files = warehouse_files(server, cat.load_table(f"{ns}.d").location())
    assert any(f.endswith(".parquet") for f in files)
    duck.execute(f"DROP TABLE ice.{ns}.d")
    assert cat.list_tables(ns) == []
    if purge:
        left = purged_files(server, "file://" + path)
    else:
        time.sleep(0.3)  # what a purge would have had time to delete by now
        left = warehouse_files(server, "file://" + path)[1] if os.path.exists(path) else []
    if purge:
        assert left == [], f"PURGE_REQUESTED true left files: {left}"
    else:
        assert sorted(left) == sorted(files), "a drop without purge keeps the files"
