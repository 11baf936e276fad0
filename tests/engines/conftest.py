"""Real-engine rig: PyIceberg, DuckDB and Spark against the real icegate binary on 127.0.0.1.

Run through tests/engines/run.sh (after tests/engines/install.sh). Everything here is offline: the server,
its tokens (made with the CLI), the DuckDB extensions (LOADed from the pip wheels) and the Spark runtime jar
(build/engines/jars, passed by spark.jars).
"""
import glob
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BIN = os.environ.get("ICEGATE_BIN") or os.path.join(ROOT, "bin", "icegate")
JARS = os.environ.get("ENGINES_JARS") or os.path.join(ROOT, "build", "engines", "jars")
LISTENING_RE = re.compile(r"icegate \S+ listening on http://(\S+):(\d+) \(")

DEFAULT_CONFIG = "features: {ratelimiter: {enabled: true}}\n"

_servers = []


def cli(data_dir, args, config=None, check=True):
    argv = [BIN] + list(args) + ["--data-dir", data_dir]
    if config:
        argv += ["--config", config]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ICEGATE_")}
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)
    if check and r.returncode != 0:
        raise RuntimeError(f"icegate {' '.join(args)} failed ({r.returncode}): {r.stderr}{r.stdout}")
    return r


class Server:
    """One icegate process on a free port in its own temp data dir."""

    def __init__(self, config=DEFAULT_CONFIG, name="icegate", data_dir=None):
        """data_dir: another server's, for the nodes of a cluster on one store (each its own config and log)."""
        self.data_dir = data_dir or tempfile.mkdtemp(prefix=f"engines-{name}-")
        self.config_path = os.path.join(self.data_dir, f"{name}.yaml" if data_dir else "icegate.yaml")
        with open(self.config_path, "w") as f:
            f.write(config)
        self.log_path = os.path.join(self.data_dir, f"{name}.log" if data_dir else "server.log")
        self.proc = None
        self.port = None
        self.exit_code = None
        self.warehouse_dir = os.path.join(self.data_dir, "warehouse")

    @property
    def uri(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout=20):
        self._log = open(self.log_path, "w")
        # no inherited ICEGATE_* settings (icegate refuses one that is not a setting): only what a test configures
        env = {k: v for k, v in os.environ.items() if not k.startswith("ICEGATE_")}
        env["ICEGATE_ADMIN_PASSWORD"] = "engines-admin-pw-1"
        self.proc = subprocess.Popen(
            [BIN, "serve", "--listen", "127.0.0.1:0", "--data-dir", self.data_dir, "--config", self.config_path],
            stdout=self._log, stderr=subprocess.STDOUT, env=env)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"icegate exited with {self.proc.returncode} at start-up:\n{self.log()}")
            m = LISTENING_RE.search(self.log())
            if m:
                self.port = int(m.group(2))
                break
            time.sleep(0.05)
        else:
            raise RuntimeError(f"icegate did not log 'listening on' in {timeout}s:\n{self.log()}")
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(self.uri + "/healthz", timeout=2) as r:
                    if r.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError):
                pass
            time.sleep(0.05)
        raise RuntimeError(f"GET /healthz did not answer 200 in {timeout}s:\n{self.log()}")

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def token(self, name, max_rps=None, burst=None):
        """Creates an access token with the CLI; returns its JSON record (secret in ['token'])."""
        args = ["token", "create", "--name", name, "--json"]
        if max_rps is not None:
            args += ["--max-rps", str(max_rps)]
        if burst is not None:
            args += ["--burst", str(burst)]
        rec = json.loads(cli(self.data_dir, args, config=self.config_path).stdout)
        assert rec["token"].startswith("igt_"), rec
        # the running server picks CLI changes up within tokens.poll_interval_ms (100 ms): wait until it knows it
        deadline = time.time() + 10
        while time.time() < deadline:
            st, _, _ = self.request("GET", "/v1/config", token=rec["token"])
            if st in (200, 429):
                return rec
            time.sleep(0.05)
        raise RuntimeError(f"server never accepted token {rec['id']}")

    def request(self, method, path, token=None, body=None, headers=None):
        h = dict(headers or {})
        if token:
            h["X-API-Token"] = token
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        req = urllib.request.Request(self.uri + path, data=data, method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, dict(r.headers), r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read().decode()

    def metrics(self, admin_token):
        st, _, text = self.request("GET", "/metrics", token=admin_token)
        assert st == 200, (st, text)
        return parse_metrics(text)

    def stats(self, admin_token, token_id, seconds=299):
        st, _, text = self.request("GET", f"/api/v1/access-tokens/{token_id}/stats?seconds={seconds}",
                                   token=admin_token)
        assert st == 200, (st, text)
        return json.loads(text)

    def stop(self, timeout=40):
        if self.proc is None or self.exit_code is not None:
            return self.exit_code
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.exit_code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.exit_code = self.proc.wait()
        self._log.close()
        return self.exit_code

    def cleanup(self):
        shutil.rmtree(self.data_dir, ignore_errors=True)


def parse_metrics(text):
    """Prometheus text → {(name, frozenset(labels.items())): value}."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([A-Za-z_:][A-Za-z0-9_:]*)(\{(.*)\})?\s+(\S+)', line)
        if not m:
            continue
        labels = dict(re.findall(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        out[(m.group(1), frozenset(labels.items()))] = float(m.group(4))
    return out


def metric_sum(metrics, name, **labels):
    return sum(v for (n, ls), v in metrics.items()
               if n == name and all((k, str(val)) in ls for k, val in labels.items()))


def _start(config, name):
    s = Server(config, name)
    _servers.append(s)
    s.start()
    return s


@pytest.fixture(scope="session")
def server():
    """The shared server: rate limiter enabled, default config otherwise."""
    s = _start(DEFAULT_CONFIG, "main")
    yield s
    code = s.stop()
    assert code == 0, f"icegate exited with {code} on SIGTERM; log: {s.log_path}"


@pytest.fixture(scope="session")
def token(server):
    """An unlimited token (owner admin, so it can also read /metrics)."""
    return server.token("engines-main")["token"]


@pytest.fixture(scope="session")
def admin_token(server):
    return server.token("engines-admin")["token"]


@pytest.fixture
def make_server():
    """Factory for extra servers with a custom YAML config; stopped (and checked for exit 0) after the test."""
    made = []

    def make(config, name="extra"):
        s = _start(config, name)
        made.append(s)
        return s

    yield make
    for s in made:
        code = s.stop()
        assert code == 0, f"icegate exited with {code} on SIGTERM; log: {s.log_path}"


_ns_counter = itertools.count(1)


@pytest.fixture
def ns(request):
    """A namespace name unique to the test (created by the test itself, with whichever engine it tests)."""
    base = re.sub(r"[^a-z0-9]+", "_", request.node.name.lower()).strip("_")[:40]
    return f"{base}_{os.getpid() % 10000}_{next(_ns_counter)}"


# ---------------------------------------------------------------- PyIceberg

def pyiceberg_catalog(srv, tok, auth="header", **extra):
    from pyiceberg.catalog import load_catalog
    props = {"uri": srv.uri, "type": "rest"}
    if auth == "header":
        props["header.X-API-Token"] = tok
    elif auth == "token":
        props["token"] = tok
    props.update(extra)
    return load_catalog("ice", **props)


@pytest.fixture
def pyi(server, token):
    return pyiceberg_catalog(server, token)


# ---------------------------------------------------------------- DuckDB

def duckdb_connect():
    import duckdb
    import sysconfig
    site = sysconfig.get_paths()["purelib"]
    con = duckdb.connect()
    con.execute("SET autoinstall_known_extensions=false")
    con.execute("SET autoload_known_extensions=false")
    for e in ("httpfs", "avro", "iceberg"):
        paths = glob.glob(f"{site}/duckdb_extension_{e}/extensions/v*/{e}.duckdb_extension")
        assert len(paths) == 1, f"extension {e} not found under {site}: {paths}"
        con.execute(f"LOAD '{paths[0]}'")
    return con


@pytest.fixture
def duck():
    con = duckdb_connect()
    yield con
    con.close()


# ---------------------------------------------------------------- Spark

def spark_catalog_conf(name, srv, tok):
    p = f"spark.sql.catalog.{name}"
    return {
        p: "org.apache.iceberg.spark.SparkCatalog",
        f"{p}.type": "rest",
        f"{p}.uri": srv.uri,
        f"{p}.header.X-API-Token": tok,
        # no client-side table cache: other engines change the same tables between statements
        f"{p}.cache-enabled": "false",
    }


@pytest.fixture(scope="session")
def spark(server, token):
    """ONE SparkSession for every Spark test: local[2], 1g driver, no UI, the Iceberg runtime from spark.jars.
    Catalog `ice` points at the shared server; tests add catalogs for other servers with spark_add_catalog."""
    jars = sorted(glob.glob(os.path.join(JARS, "iceberg-spark-runtime*.jar")))
    if not jars:
        pytest.fail(f"no iceberg-spark-runtime jar in {JARS}: run tests/engines/install.sh")
    jars += sorted(glob.glob(os.path.join(JARS, "iceberg-aws-bundle*.jar")))  # S3FileIO, for tables on S3
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    from pyspark.sql import SparkSession
    spark_wh = tempfile.mkdtemp(prefix="engines-spark-wh-")  # unused (every table is in `ice`), but Spark wants one
    b = (SparkSession.builder.master("local[2]").appName("icegate-engines")
         .config("spark.driver.memory", "1g")
         .config("spark.ui.enabled", "false")
         .config("spark.ui.showConsoleProgress", "false")
         .config("spark.driver.host", "127.0.0.1")
         .config("spark.driver.bindAddress", "127.0.0.1")
         .config("spark.jars", ",".join(jars))
         .config("spark.sql.extensions", "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions")
         .config("spark.sql.shuffle.partitions", "2")
         .config("spark.default.parallelism", "2")
         .config("spark.sql.session.timeZone", "UTC")
         .config("spark.driver.extraJavaOptions", "-Duser.timezone=UTC")
         .config("spark.sql.warehouse.dir", spark_wh))
    for k, v in spark_catalog_conf("ice", server, token).items():
        b = b.config(k, v)
    s = b.getOrCreate()
    s.sparkContext.setLogLevel("ERROR")
    yield s
    s.stop()
    shutil.rmtree(spark_wh, ignore_errors=True)


def spark_add_catalog(spark, name, srv, tok):
    for k, v in spark_catalog_conf(name, srv, tok).items():
        spark.conf.set(k, v)


# ---------------------------------------------------------------- helpers

def warehouse_files(srv, table_location):
    """Files under a table location (a file:// URI under the server's warehouse)."""
    assert table_location.startswith("file:"), table_location
    path = re.sub(r"^file:(//)?", "", table_location)
    if not path.startswith("/"):
        path = "/" + path
    found = []
    for dp, _, fs in os.walk(path):
        found += [os.path.join(dp, f) for f in fs]
    return path, found


class S3Process:
    """An S3-compatible server a test module starts (test_s3.py: versitygw, test_sts.py: SeaweedFS): requests
    signed with its keys (or others) by curl, and its stop.  Subclasses set dir, endpoint, key, secret, proc, log."""

    def curl(self, method, path, *extra, key=None, secret=None, token=None, out=None):
        hdrs = ["-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"]
        if token:
            hdrs += ["-H", f"x-amz-security-token: {token}"]
        r = subprocess.run(["curl", "-s", "-o", out or "/dev/null", "-w", "%{http_code}", "--aws-sigv4",
                            "aws:amz:us-east-1:s3", "--user", f"{key or self.key}:{secret or self.secret}", *hdrs,
                            "-X", method, *extra, f"{self.endpoint}/{path}"], capture_output=True, text=True,
                           timeout=30)
        return int(r.stdout or 0)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def start_on_s3(s3, tmp_path_factory, mode, name):
    """icegate with one S3 warehouse, s3://lakehouse/warehouse on s3, its secret from a file, credentials.mode mode."""
    secret_file = tmp_path_factory.mktemp(f"{name}key") / "secret"
    secret_file.write_text(s3.secret + "\n")
    config = f"""catalog:
  warehouses:
    - name: lake
      location: s3://lakehouse/warehouse
      s3:
        endpoint: {s3.endpoint}
        path_style: true
        access_key_id: {s3.key}
        secret_access_key_file: {secret_file}
      credentials:
        mode: {mode}
"""
    return _start(config, name)


def purged_files(srv, table_location, timeout=10.0):
    """The files left under a dropped table's location once its purge has run: icegate deletes them after the
    drop's answer (catalog/purge.c), so this waits up to timeout for the folder to go (and returns what is left)."""
    deadline = time.time() + timeout
    while True:
        path, files = warehouse_files(srv, table_location)
        if not os.path.exists(path) or time.time() > deadline:
            return files if os.path.exists(path) else []
        time.sleep(0.05)


def pytest_sessionfinish(session, exitstatus):
    for s in _servers:
        if s.exit_code is None:
            s.stop()
    if exitstatus != 0:
        for s in _servers:
            print(f"\nengines: kept data dir {s.data_dir} (log {s.log_path})", file=sys.stderr)
    else:
        for s in _servers:
            s.cleanup()
