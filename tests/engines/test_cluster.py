"""PyIceberg through a load balancer (issue 12): three icegate nodes on one store, Redis for the shared limiter
and the change stream (Debian's redis-server on a unix socket in a temp dir), nginx round robin in front.  The
client knows only the balancer; each of its requests may land on another node.  Nothing is lost and every node
sees the same table."""
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request

import pyarrow as pa
import pytest

from conftest import Server, pyiceberg_catalog

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
REDIS = shutil.which("redis-server")


def _free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Balanced:
    """What pyiceberg_catalog needs of a server: its uri (the balancer's)."""

    def __init__(self, uri):
        self.uri = uri


@pytest.fixture
def cluster():
    if not REDIS or not os.path.exists(NGINX):
        pytest.fail("redis-server and nginx are needed (scripts/deps.sh test installs them)")
    tmp = tempfile.mkdtemp(prefix="engines-cluster-")
    os.chmod(tmp, 0o755)  # nginx workers (nobody, when run as root) reach their temp paths
    sock = os.path.join(tmp, "redis.sock")
    redis = subprocess.Popen([REDIS, "--port", "0", "--unixsocket", sock, "--unixsocketperm", "700", "--save", "",
                              "--appendonly", "no", "--dir", tmp], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    nodes, lb = [], None
    try:
        for _ in range(100):
            if os.path.exists(sock):
                break
            time.sleep(0.05)
        config = f"ratelimiter:\n  backend: redis\n  redis:\n    url: unix:{sock}\n"
        first = Server(config, "node0")
        nodes.append(first.start())
        for i in (1, 2):
            nodes.append(Server(config, f"node{i}", data_dir=first.data_dir).start())
        port = _free_port()
        conf = os.path.join(tmp, "nginx.conf")
        upstreams = "\n".join(f"        server 127.0.0.1:{n.port} max_fails=0;" for n in nodes)
        with open(conf, "w") as f:
            f.write(f"""daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_max_body_size 64m;
    client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy; fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
    upstream icegate {{
{upstreams}
        keepalive 16;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{ proxy_pass http://icegate; proxy_http_version 1.1; proxy_set_header Connection ""; }}
    }}
}}
""")
        lb = subprocess.Popen([NGINX, "-p", tmp, "-e", f"{tmp}/nginx-error.log", "-c", conf],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        uri = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                urllib.request.urlopen(uri + "/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.05)
        yield nodes, Balanced(uri)
    finally:
        if lb:
            lb.terminate()
            lb.wait(10)
        for n in nodes:
            assert n.stop() == 0, f"{n.log_path}: unclean exit"
        redis.terminate()
        redis.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)
        if nodes:
            shutil.rmtree(nodes[0].data_dir, ignore_errors=True)


def test_pyiceberg_through_the_balancer(cluster, ns):
    nodes, lb = cluster
    tok = nodes[0].token("engines-cluster")["token"]
    time.sleep(0.3)  # the other nodes' polls (or the announcement) have it
    cat = pyiceberg_catalog(lb, tok)
    cat.create_namespace(ns)
    schema = pa.schema([("id", pa.int64()), ("name", pa.string())])
    t = cat.create_table(f"{ns}.people", schema=schema)
    batches = [pa.Table.from_pylist([{"id": i * 10 + j, "name": f"n{i}-{j}"} for j in range(10)], schema=schema)
               for i in range(6)]
    for b in batches:  # six commits, each (load, write, commit) possibly through other nodes
        cat.load_table(f"{ns}.people").append(b)
    with t.update_schema() as u:
        from pyiceberg.types import IntegerType
        u.add_column("age", IntegerType())
    back = cat.load_table(f"{ns}.people")
    assert len(back.snapshots()) == 6
    assert back.scan().to_arrow().num_rows == 60
    assert [f.name for f in back.schema().fields] == ["id", "name", "age"]
    # Every node answers the same current metadata.
    seen = set()
    for n in nodes:
        st, _, body = n.request("GET", f"/v1/namespaces/{ns}/tables/people", token=tok)
        assert st == 200
        import json
        seen.add(json.loads(body)["metadata-location"])
    assert len(seen) == 1, seen
    # The commits really were spread: at least two nodes took one.
    took = [n for n in nodes if " method=POST route=/v1/{prefix}/namespaces/{namespace}/tables/{table} status=200" in n.log()]
    assert len(took) >= 2, [n.log_path for n in nodes]
