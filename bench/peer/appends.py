#!/usr/bin/env python3
"""bench/peer/appends.py: N PyIceberg appends of a 10-row batch to one new table through a REST catalog;
prints "appends=N secs=S rows=R". Used by bench/peers.sh when a Python with pyiceberg[pyarrow] is given
(PEER_PYTHON); each append writes a Parquet file, a manifest and a manifest list, then commits.

  appends.py URI TOKEN NAMESPACE TABLE N [HEADER]     (HEADER carries TOKEN; default X-API-Token)
"""
import sys
import time

import pyarrow as pa
from pyiceberg.catalog import load_catalog
from pyiceberg.schema import Schema
from pyiceberg.types import LongType, NestedField, StringType

uri, token, ns, name, n = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
header = sys.argv[6] if len(sys.argv) > 6 else "X-API-Token"
cat = load_catalog("peer", **{"type": "rest", "uri": uri, f"header.{header}": token})
cat.create_namespace_if_not_exists(ns)
schema = Schema(NestedField(1, "id", LongType(), required=False), NestedField(2, "data", StringType(), required=False))
table = cat.create_table(f"{ns}.{name}", schema=schema)
batch = pa.table({"id": pa.array(range(10), pa.int64()), "data": pa.array([f"row{i}" for i in range(10)])})
t0 = time.monotonic()
for _ in range(n):
    table.append(batch)
secs = time.monotonic() - t0
rows = cat.load_table(f"{ns}.{name}").scan().to_arrow().num_rows
print(f"appends={n} secs={secs:.2f} rows={rows}")
