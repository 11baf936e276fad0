"""One table, three engines: Spark creates it, PyIceberg appends, DuckDB updates and deletes, all three read the
same rows; and PyIceberg and Spark appending to one table at the same time lose nothing."""
import threading

import pyarrow as pa
import pytest

from conftest import metric_sum, pyiceberg_catalog
from test_duckdb import attach

pytestmark = pytest.mark.spark

ARROW = pa.schema([("id", pa.int64()), ("cat", pa.string()), ("n", pa.int32())])


def read_all(spark, duck, pyi, ns, name):
    sp = sorted(tuple(r) for r in spark.sql(f"SELECT id, cat, n FROM ice.{ns}.{name}").collect())
    dk = sorted(duck.execute(f"SELECT id, cat, n FROM ice.{ns}.{name}").fetchall())
    pi = sorted((r["id"], r["cat"], r["n"]) for r in pyi.load_table(f"{ns}.{name}").scan().to_arrow().to_pylist())
    return sp, dk, pi


def test_spark_creates_pyiceberg_appends_duckdb_updates_all_read(spark, duck, server, token, ns):
    spark.sql(f"CREATE NAMESPACE ice.{ns}")
    spark.sql(f"""CREATE TABLE ice.{ns}.x (id BIGINT, cat STRING, n INT) USING iceberg
                  TBLPROPERTIES ('format-version' = '2')""")
    spark.sql(f"INSERT INTO ice.{ns}.x VALUES (1, 'a', 10), (2, 'b', 20), (3, 'a', 30)")

    pyi = pyiceberg_catalog(server, token)
    pyi.load_table(f"{ns}.x").append(pa.Table.from_pylist(
        [{"id": 4, "cat": "b", "n": 40}, {"id": 5, "cat": "c", "n": 50}, {"id": 6, "cat": "a", "n": 60}],
        schema=ARROW))

    attach(duck, server, token, stage=False)
    duck.execute(f"UPDATE ice.{ns}.x SET n = n * 100 WHERE id IN (2, 5)")
    duck.execute(f"DELETE FROM ice.{ns}.x WHERE id = 3")

    expect = [(1, "a", 10), (2, "b", 2000), (4, "b", 40), (5, "c", 5000), (6, "a", 60)]
    sp, dk, pi = read_all(spark, duck, pyi, ns, "x")
    assert sp == expect, "Spark"
    assert dk == expect, "DuckDB"
    assert pi == expect, "PyIceberg"

    # and Spark writes on top of DuckDB's delete files
    spark.sql(f"UPDATE ice.{ns}.x SET n = 0 WHERE cat = 'a'")
    expect = [(1, "a", 0), (2, "b", 2000), (4, "b", 40), (5, "c", 5000), (6, "a", 0)]
    assert list(read_all(spark, duck, pyi, ns, "x")) == [expect, expect, expect]


def test_concurrent_appends_pyiceberg_and_spark(spark, server, token, admin_token, ns):
    rounds, per = 8, 5
    spark.sql(f"CREATE NAMESPACE ice.{ns}")
    spark.sql(f"""CREATE TABLE ice.{ns}.c (id BIGINT, cat STRING, n INT) USING iceberg
                  TBLPROPERTIES ('commit.retry.num-retries' = '30', 'commit.retry.min-wait-ms' = '20',
                                 'commit.retry.max-wait-ms' = '500')""")
    before = metric_sum(server.metrics(admin_token), "icegate_commits_total", result="conflict")
    errors = []
    start = threading.Barrier(2)

    def spark_job():
        try:
            start.wait()
            for r in range(rounds):
                vals = ", ".join(f"({1000 + r * per + i}, 's', {r})" for i in range(per))
                spark.sql(f"INSERT INTO ice.{ns}.c VALUES {vals}")
        except Exception as e:  # reported below
            errors.append(("spark", e))

    def pyiceberg_job():
        try:
            cat = pyiceberg_catalog(server, token)
            start.wait()
            for r in range(rounds):
                t = cat.load_table(f"{ns}.c")
                t.append(pa.Table.from_pylist(
                    [{"id": 2000 + r * per + i, "cat": "p", "n": r} for i in range(per)], schema=ARROW))
        except Exception as e:
            errors.append(("pyiceberg", e))

    threads = [threading.Thread(target=spark_job), threading.Thread(target=pyiceberg_job)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=300)
    assert not any(th.is_alive() for th in threads), "a job hung"
    assert not errors, errors

    ids = sorted(r[0] for r in spark.sql(f"SELECT id FROM ice.{ns}.c").collect())
    expect = sorted([1000 + i for i in range(rounds * per)] + [2000 + i for i in range(rounds * per)])
    assert ids == expect, f"lost or duplicated rows: {len(ids)} of {len(expect)}"
    t = pyiceberg_catalog(server, token).load_table(f"{ns}.c")
    assert t.scan().to_arrow().num_rows == 2 * rounds * per
    assert len([s for s in t.snapshots()]) == 2 * rounds
    conflicts = metric_sum(server.metrics(admin_token), "icegate_commits_total", result="conflict") - before
    print(f"concurrent appends: {conflicts:.0f} commits answered 409 and retried by the clients")


def test_spark_partitioned_table_read_by_duckdb_and_pyiceberg(spark, duck, server, token, ns):
    spark.sql(f"CREATE NAMESPACE ice.{ns}")
    spark.sql(f"""CREATE TABLE ice.{ns}.ev (id BIGINT, cat STRING, ts TIMESTAMP, n INT) USING iceberg
                  PARTITIONED BY (cat, days(ts))""")
    spark.sql(f"""INSERT INTO ice.{ns}.ev VALUES
        (1, 'a', TIMESTAMP '2026-01-01 10:00:00', 10), (2, 'b', TIMESTAMP '2026-01-01 11:00:00', 20),
        (3, 'a', TIMESTAMP '2026-01-02 12:00:00', 30), (4, 'c', TIMESTAMP '2026-01-03 13:00:00', 40)""")
    spark.sql(f"DELETE FROM ice.{ns}.ev WHERE id = 2")
    expect = [(1, "a", 10), (3, "a", 30), (4, "c", 40)]
    attach(duck, server, token)
    assert duck.execute(f"SELECT id, cat, n FROM ice.{ns}.ev ORDER BY id").fetchall() == expect
    assert duck.execute(f"SELECT id FROM ice.{ns}.ev WHERE ts >= TIMESTAMPTZ '2026-01-02 00:00:00+00' "
                        "ORDER BY id").fetchall() == [(3,), (4,)]
    pyi = pyiceberg_catalog(server, token)
    got = sorted((r["id"], r["cat"], r["n"]) for r in pyi.load_table(f"{ns}.ev").scan().to_arrow().to_pylist())
    assert got == expect
