"""Spark 4.1 (pyspark) + iceberg-spark-runtime against icegate, through ONE shared SparkSession (catalog `ice`,
type=rest, header.X-API-Token)."""
import datetime as dt

import pytest

from conftest import purged_files, pyiceberg_catalog, warehouse_files

pytestmark = pytest.mark.spark


def q(spark, sql):
    return [tuple(r) for r in spark.sql(sql).collect()]


@pytest.fixture
def sns(spark, ns):
    spark.sql(f"CREATE NAMESPACE ice.{ns}")
    return ns


def make_events(spark, ns, name="ev"):
    spark.sql(f"""CREATE TABLE ice.{ns}.{name} (id BIGINT, cat STRING, ts TIMESTAMP, n INT)
                  USING iceberg PARTITIONED BY (cat, days(ts))""")
    spark.sql(f"""INSERT INTO ice.{ns}.{name} VALUES
        (1, 'a', TIMESTAMP '2026-01-01 10:00:00', 10),
        (2, 'b', TIMESTAMP '2026-01-01 11:00:00', 20),
        (3, 'a', TIMESTAMP '2026-01-02 12:00:00', 30),
        (4, 'c', TIMESTAMP '2026-01-03 13:00:00', 40)""")
    return f"ice.{ns}.{name}"


def test_namespace_create_list_drop(spark, ns):
    spark.sql(f"CREATE NAMESPACE ice.{ns} WITH PROPERTIES ('team' = 'spark')")
    assert (ns,) in q(spark, "SHOW NAMESPACES IN ice")
    props = dict(q(spark, f"DESCRIBE NAMESPACE EXTENDED ice.{ns}"))
    assert "(team,spark)" in props["Properties"], props
    spark.sql(f"DROP NAMESPACE ice.{ns}")
    assert (ns,) not in q(spark, "SHOW NAMESPACES IN ice")


def test_partitioned_insert_update_delete_merge(spark, sns, server, token):
    t = make_events(spark, sns)
    assert q(spark, f"SELECT id, cat, n FROM {t} ORDER BY id") == [
        (1, "a", 10), (2, "b", 20), (3, "a", 30), (4, "c", 40)]
    spark.sql(f"UPDATE {t} SET n = n + 1 WHERE cat = 'a'")
    spark.sql(f"DELETE FROM {t} WHERE id = 2")
    spark.sql(f"""MERGE INTO {t} AS x
        USING (SELECT * FROM VALUES (3L, 'a', TIMESTAMP '2026-01-02 12:00:00', 300),
                                    (5L, 'b', TIMESTAMP '2026-01-05 09:00:00', 50) AS s(id, cat, ts, n)) AS s
        ON x.id = s.id
        WHEN MATCHED THEN UPDATE SET x.n = s.n
        WHEN NOT MATCHED THEN INSERT *""")
    expect = [(1, "a", 11), (3, "a", 300), (4, "c", 40), (5, "b", 50)]
    assert q(spark, f"SELECT id, cat, n FROM {t} ORDER BY id") == expect
    # the partition spec and the rows as another client sees them
    pt = pyiceberg_catalog(server, token).load_table(f"{sns}.ev")
    assert [(f.name, str(f.transform)) for f in pt.spec().fields] == [("cat", "identity"), ("ts_day", "day")]
    got = sorted((r["id"], r["cat"], r["n"]) for r in pt.scan().to_arrow().to_pylist())
    assert got == expect
    assert len(pt.snapshots()) >= 4


def test_alter_add_column_and_partition_field(spark, sns):
    t = make_events(spark, sns)
    spark.sql(f"ALTER TABLE {t} ADD COLUMN note STRING")
    spark.sql(f"ALTER TABLE {t} ADD PARTITION FIELD bucket(4, id) AS id_b")
    spark.sql(f"INSERT INTO {t} VALUES (9, 'z', TIMESTAMP '2026-02-01 00:00:00', 90, 'new')")
    assert q(spark, f"SELECT id, n, note FROM {t} ORDER BY id") == [
        (1, 10, None), (2, 20, None), (3, 30, None), (4, 40, None), (9, 90, "new")]
    fields = [r[0] for r in q(spark, f"SELECT partition FROM {t}.partitions")]
    assert any(getattr(f, "id_b", None) is not None for f in fields)


def test_alter_drop_column_not_highest_id(spark, sns):
    t = make_events(spark, sns)
    spark.sql(f"ALTER TABLE {t} ADD COLUMN extra STRING")
    spark.sql(f"ALTER TABLE {t} DROP COLUMN n")  # not the highest field id
    assert q(spark, f"SELECT id, extra FROM {t} ORDER BY id") == [(1, None), (2, None), (3, None), (4, None)]
    assert "n" not in spark.table(t).columns


def test_alter_drop_column_highest_id(spark, sns):
    # With Iceberg 1.11 clients this was 400 "invalid last-column-id" (AddSchema carried
    # last-column-id = schema.highestFieldId()); the pinned 1.12.0 client passes against today's server.
    t = make_events(spark, sns)
    spark.sql(f"ALTER TABLE {t} ADD COLUMN extra STRING")
    spark.sql(f"ALTER TABLE {t} DROP COLUMN extra")  # the highest field id: client sends last-column-id lower
    assert spark.table(t).columns == ["id", "cat", "ts", "n"]
    spark.sql(f"ALTER TABLE {t} ADD COLUMN extra2 STRING")  # a fresh id, above the dropped one
    assert q(spark, f"SELECT id, n, extra2 FROM {t} ORDER BY id") == [
        (1, 10, None), (2, 20, None), (3, 30, None), (4, 40, None)]


def test_ctas_and_rtas(spark, sns):
    t = make_events(spark, sns)
    spark.sql(f"CREATE TABLE ice.{sns}.agg USING iceberg AS SELECT cat, sum(n) AS total FROM {t} GROUP BY cat")
    assert q(spark, f"SELECT * FROM ice.{sns}.agg ORDER BY cat") == [("a", 40), ("b", 20), ("c", 40)]
    spark.sql(f"""CREATE OR REPLACE TABLE ice.{sns}.agg USING iceberg PARTITIONED BY (cat)
                  AS SELECT cat, count(*) AS cnt FROM {t} GROUP BY cat""")
    assert q(spark, f"SELECT * FROM ice.{sns}.agg ORDER BY cat") == [("a", 2), ("b", 1), ("c", 1)]
    assert spark.table(f"ice.{sns}.agg").columns == ["cat", "cnt"]
    # the replaced table keeps its history: two snapshots, the second without the first as its parent
    snaps = q(spark, f"SELECT snapshot_id, parent_id FROM ice.{sns}.agg.snapshots ORDER BY committed_at")
    assert len(snaps) == 2


def test_metadata_tables_and_version_as_of(spark, sns):
    t = f"ice.{sns}.tv"
    spark.sql(f"CREATE TABLE {t} (id BIGINT, v STRING) USING iceberg")
    spark.sql(f"INSERT INTO {t} VALUES (1, 'a')")
    spark.sql(f"INSERT INTO {t} VALUES (2, 'b')")
    spark.sql(f"DELETE FROM {t} WHERE id = 1")
    snaps = q(spark, f"SELECT snapshot_id, parent_id, operation FROM {t}.snapshots ORDER BY committed_at")
    assert len(snaps) == 3
    assert [s[2] for s in snaps][:2] == ["append", "append"]
    assert snaps[1][1] == snaps[0][0] and snaps[2][1] == snaps[1][0]
    hist = q(spark, f"SELECT snapshot_id, is_current_ancestor FROM {t}.history ORDER BY made_current_at")
    assert [h[0] for h in hist] == [s[0] for s in snaps] and all(h[1] for h in hist)
    assert q(spark, f"SELECT * FROM {t} VERSION AS OF {snaps[0][0]}") == [(1, "a")]
    assert q(spark, f"SELECT * FROM {t} VERSION AS OF {snaps[1][0]} ORDER BY id") == [(1, "a"), (2, "b")]
    assert q(spark, f"SELECT * FROM {t}") == [(2, "b")]


def test_views(spark, sns, server, token):
    t = make_events(spark, sns)
    spark.sql(f"CREATE VIEW ice.{sns}.big AS SELECT id, n FROM {t} WHERE n >= 30")
    assert q(spark, f"SELECT * FROM ice.{sns}.big ORDER BY id") == [(3, 30), (4, 40)]
    assert ("big",) in [(r[1],) for r in q(spark, f"SHOW VIEWS IN ice.{sns}")]
    assert pyiceberg_catalog(server, token).list_views(sns) == [(sns, "big")]
    spark.sql(f"CREATE OR REPLACE VIEW ice.{sns}.big AS SELECT id FROM {t} WHERE n < 30")
    assert q(spark, f"SELECT * FROM ice.{sns}.big ORDER BY id") == [(1,), (2,)]
    spark.sql(f"DROP VIEW ice.{sns}.big")
    assert q(spark, f"SHOW VIEWS IN ice.{sns}") == []


def test_drop_table_purge(spark, sns, server, token):
    t = make_events(spark, sns, "gone")
    loc = pyiceberg_catalog(server, token).load_table(f"{sns}.gone").location()
    path, files = warehouse_files(server, loc)
    assert any(f.endswith(".parquet") for f in files)
    spark.sql(f"DROP TABLE {t} PURGE")
    assert q(spark, f"SHOW TABLES IN ice.{sns}") == []
    import os
    left = purged_files(server, loc)
    assert left == [], f"files left after DROP TABLE PURGE: {left}"


def test_table_name_with_space(spark, sns, server, token):
    t = f"ice.{sns}.`with space`"
    spark.sql(f"CREATE TABLE {t} (id BIGINT) USING iceberg")
    spark.sql(f"INSERT INTO {t} VALUES (1), (2)")
    assert q(spark, f"SELECT * FROM {t} ORDER BY id") == [(1,), (2,)]
    # the name the server stored is the one Spark asked for, as another client sees it
    cat = pyiceberg_catalog(server, token)
    assert cat.list_tables(sns) == [(sns, "with space")]
    assert sorted(cat.load_table((sns, "with space")).scan().to_arrow().column("id").to_pylist()) == [1, 2]
    spark.sql(f"DROP TABLE {t}")
    assert cat.list_tables(sns) == []


def test_timestamps_round_trip_to_pyiceberg(spark, sns, server, token):
    make_events(spark, sns)
    got = pyiceberg_catalog(server, token).load_table(f"{sns}.ev").scan().to_arrow().to_pylist()
    by_id = {r["id"]: r["ts"] for r in got}
    # Spark TIMESTAMP is timestamptz in Iceberg; the session runs in UTC
    assert by_id[1].replace(tzinfo=None) == dt.datetime(2026, 1, 1, 10, 0, 0)


def test_nested_namespace(spark, ns, server, token):
    spark.sql(f"CREATE NAMESPACE ice.{ns}")
    spark.sql(f"CREATE NAMESPACE ice.{ns}.sub")
    assert q(spark, f"SHOW NAMESPACES IN ice.{ns}") == [(f"{ns}.sub",)]
    spark.sql(f"CREATE TABLE ice.{ns}.sub.t (id BIGINT) USING iceberg")
    spark.sql(f"INSERT INTO ice.{ns}.sub.t VALUES (7), (8)")
    assert q(spark, f"SELECT * FROM ice.{ns}.sub.t ORDER BY id") == [(7,), (8,)]
    cat = pyiceberg_catalog(server, token)
    assert cat.list_namespaces(ns) == [(ns, "sub")]
    assert cat.list_tables((ns, "sub")) == [(ns, "sub", "t")]
    assert sorted(cat.load_table((ns, "sub", "t")).scan().to_arrow().column("id").to_pylist()) == [7, 8]


def _route_count(server, admin_token, suffix, status):
    from conftest import parse_metrics
    m = server.metrics(admin_token)
    return sum(v for (n, ls), v in m.items()
               if n == "icegate_http_requests_total" and dict(ls).get("route", "").endswith(suffix)
               and dict(ls).get("status") == str(status))


def test_ctas_metrics_report_accepted(spark, sns, server, admin_token):
    """Spark posts a scan/commit metrics report for the table inside a staged create (CTAS); the reference
    server accepts it (RESTCatalogAdapter) — a 404 there makes the driver log a warning per CTAS."""
    before_ok = _route_count(server, admin_token, "/tables/{table}/metrics", 204)
    before_404 = _route_count(server, admin_token, "/tables/{table}/metrics", 404)
    spark.sql(f"CREATE TABLE ice.{sns}.src (id BIGINT) USING iceberg")
    spark.sql(f"INSERT INTO ice.{sns}.src VALUES (1), (2), (3)")
    spark.sql(f"CREATE TABLE ice.{sns}.dst USING iceberg AS SELECT id * 2 AS d FROM ice.{sns}.src")
    assert q(spark, f"SELECT d FROM ice.{sns}.dst ORDER BY d") == [(2,), (4,), (6,)]
    assert _route_count(server, admin_token, "/tables/{table}/metrics", 404) - before_404 == 0
    assert _route_count(server, admin_token, "/tables/{table}/metrics", 204) - before_ok >= 1


def test_wrong_token_spark_catalog_fails(spark, server):
    from conftest import spark_add_catalog
    spark_add_catalog(spark, "ice_bad", server, "igt_" + "z" * 38)
    with pytest.raises(Exception) as e:
        spark.sql("SHOW NAMESPACES IN ice_bad").collect()
    assert "NotAuthorized" in str(e.value) or "401" in str(e.value), str(e.value)[:500]


class _RecordingProxy:
    """A pass-through HTTP proxy on 127.0.0.1 that records the raw request paths a client sends."""

    def __init__(self, upstream):
        import http.server
        import threading
        import urllib.request
        paths = self.paths = []

        class H(http.server.BaseHTTPRequestHandler):
            def _fwd(self):
                paths.append((self.command, self.path))
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else None
                hdrs = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length",
                                                                                   "connection")}
                req = urllib.request.Request(upstream + self.path, data=body, method=self.command, headers=hdrs)
                try:
                    r = urllib.request.urlopen(req, timeout=30)
                    st, rh, data = r.status, r.headers, r.read()
                except urllib.error.HTTPError as e:
                    st, rh, data = e.code, e.headers, e.read()
                self.send_response(st)
                for k, v in rh.items():
                    if k.lower() not in ("content-length", "connection", "transfer-encoding", "date", "server"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = do_HEAD = do_PUT = _fwd

            def log_message(self, *a):
                pass

        import urllib.error  # noqa: F401 (used in H)
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.uri = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_name_with_space_and_plus_as_sent_by_the_pinned_client(spark, ns, server, token):
    """What iceberg-spark-runtime 1.12.0 puts on the wire for ' ' and '+' in a table name, and that icegate
    stores the names as spelled either way (1.11 sent '+' for a space; a literal '+' travels as %2B)."""
    from conftest import spark_add_catalog

    class P:  # spark_add_catalog wants .uri
        pass

    proxy = _RecordingProxy(server.uri)
    try:
        p = P()
        p.uri = proxy.uri
        spark_add_catalog(spark, "ice_px", p, token)
        spark.sql(f"CREATE NAMESPACE ice_px.{ns}")
        spark.sql(f"CREATE TABLE ice_px.{ns}.`a b` (id BIGINT) USING iceberg")
        spark.sql(f"CREATE TABLE ice_px.{ns}.`c+d` (id BIGINT) USING iceberg")
        spark.sql(f"INSERT INTO ice_px.{ns}.`a b` VALUES (1)")
        spark.sql(f"INSERT INTO ice_px.{ns}.`c+d` VALUES (2)")
        assert q(spark, f"SELECT * FROM ice_px.{ns}.`a b`") == [(1,)]
        assert q(spark, f"SELECT * FROM ice_px.{ns}.`c+d`") == [(2,)]
    finally:
        proxy.close()
    table_paths = [pth for _, pth in proxy.paths if f"/namespaces/{ns}/tables/" in pth]
    names = {pth.split("/tables/")[1].split("?")[0].split("/")[0] for pth in table_paths}
    space = {n for n in names if n.startswith("a")}
    plus = {n for n in names if n.startswith("c")}
    print(f"iceberg 1.12.0 sends: space as {sorted(space)}, plus as {sorted(plus)}")
    assert space and space <= {"a%20b", "a+b"}, space
    assert plus == {"c%2Bd"}, plus
    cat = pyiceberg_catalog(server, token)
    assert sorted(cat.list_tables(ns)) == [(ns, "a b"), (ns, "c+d")]
    assert cat.load_table((ns, "c+d")).scan().to_arrow().column("id").to_pylist() == [2]
