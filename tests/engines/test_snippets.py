"""The console's ready-to-paste client settings (src/admin/static/snippets.js, shown once with a new or rotated
token) run, exactly as the console shows them, in their engines: PyIceberg executes the Python, DuckDB the SQL,
Spark takes the spark-defaults.conf lines as its catalog's configuration. Each then works through icegate with
the token the snippet carries: a namespace one engine creates through its snippet's catalog is seen by the
server."""
import json
import os
import shutil
import subprocess

import pytest

from conftest import ROOT, duckdb_connect

SNIPPETS = os.path.join(ROOT, "src", "admin", "static", "snippets.js")


def snippets(url, token, warehouse="warehouse"):
    node = shutil.which("node")
    if not node:
        pytest.fail("node not found on PATH (the console's snippets are JavaScript)")
    code = ("import { snippets } from " + json.dumps("file://" + SNIPPETS) + ";"
            "const a = JSON.parse(process.argv[1]);"
            "process.stdout.write(JSON.stringify(snippets(a)));")
    r = subprocess.run([node, "--input-type=module", "-e", code, json.dumps(
        {"url": url, "token": token, "warehouse": warehouse})], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return {s["id"]: s for s in json.loads(r.stdout)}


@pytest.fixture
def fresh_token(server, ns):
    """A token of its own: the snippets carry it, and the server must see requests made with exactly it."""
    return server.token(f"snippet-{ns}")["token"]


def namespaces(server, token):
    st, _, text = server.request("GET", "/v1/namespaces", token=token)
    assert st == 200, text
    return [n[0] for n in json.loads(text)["namespaces"]]


def test_snippets_fill_in_url_warehouse_and_token(server, fresh_token):
    # every snippet names this server and carries the token; the curl one works as it stands

    s = snippets(server.uri, fresh_token)
    assert set(s) == {"spark", "pyiceberg", "duckdb", "curl"}
    for sn in s.values():
        assert fresh_token in sn["text"], sn["id"]
        assert server.uri in sn["text"], sn["id"]
    assert "warehouse" in s["pyiceberg"]["text"] and "warehouse" in s["duckdb"]["text"]


def test_pyiceberg_snippet_runs(server, fresh_token, ns, capsys):
    text = snippets(server.uri, fresh_token)["pyiceberg"]["text"]
    scope = {}
    exec(compile(text, "pyiceberg-snippet", "exec"), scope)  # as pasted: it prints the namespaces
    assert "[" in capsys.readouterr().out
    scope["catalog"].create_namespace(ns)
    assert ns in namespaces(server, fresh_token)


def test_duckdb_snippet_runs(server, fresh_token, ns):
    text = snippets(server.uri, fresh_token)["duckdb"]["text"]
    con = duckdb_connect()  # the extensions LOADed offline from the wheels; the snippet needs nothing else
    try:
        for stmt in [x.strip() for x in text.split(";") if x.strip()]:
            con.execute(stmt).fetchall()
        con.execute(f"CREATE SCHEMA icegate.{ns}")
        con.execute(f"CREATE TABLE icegate.{ns}.t (id BIGINT)")
        con.execute(f"INSERT INTO icegate.{ns}.t VALUES (1), (2)")
        assert con.execute(f"SELECT count(*) FROM icegate.{ns}.t").fetchone() == (2,)
    finally:
        con.close()
    assert ns in namespaces(server, fresh_token)


@pytest.mark.spark
def test_spark_snippet_runs(spark, server, fresh_token, ns):
    text = snippets(server.uri, fresh_token)["spark"]["text"]
    conf = dict(line.split(None, 1) for line in text.splitlines() if line.strip() and not line.startswith("#"))
    # spark.sql.extensions is a static setting: the shared session was started with the same value.
    assert conf.pop("spark.sql.extensions") == spark.conf.get("spark.sql.extensions")
    assert all(k.startswith("spark.sql.catalog.icegate") for k in conf), conf
    for k, v in conf.items():  # a catalog is configured at its first use: these apply to a running session
        spark.conf.set(k, v)
    spark.conf.set("spark.sql.catalog.icegate.cache-enabled", "false")
    spark.sql(f"CREATE NAMESPACE icegate.{ns}")
    assert (ns,) in [tuple(r) for r in spark.sql("SHOW NAMESPACES IN icegate").collect()]
    assert ns in namespaces(server, fresh_token)
    st, _, text = server.request("GET", "/api/v1/whoami", token=fresh_token)
    assert st == 200 and json.loads(text)["name"] == f"snippet-{ns}", text
