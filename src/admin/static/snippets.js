// snippets.js — ready-to-paste client settings for a new or rotated token: Spark, PyIceberg, DuckDB and curl,
// with this server's URL, its warehouse and the token filled in.  Pure (no DOM): the console's show-once dialog
// renders these, and tests/engines/test_snippets.py runs each one, as shown, with its engine.

const q = (s) => String(s).replace(/\\/g, '\\\\').replace(/'/g, "''"); // inside '...' in SQL
const py = (s) => JSON.stringify(String(s)); // a Python string literal (JSON's escapes are Python's)

export function snippets({ url, token, warehouse }) {
  const c = 'spark.sql.catalog.icegate';
  const spark = [
    ['spark.sql.extensions', 'org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions'],
    [c, 'org.apache.iceberg.spark.SparkCatalog'],
    [`${c}.type`, 'rest'],
    [`${c}.uri`, url],
    [`${c}.warehouse`, warehouse],
    [`${c}.header.X-API-Token`, token],
  ];
  const width = Math.max(...spark.map(([k]) => k.length)) + 2;
  return [
    {
      id: 'spark',
      title: 'Spark',
      hint: 'spark-defaults.conf — or each line as --conf key=value to spark-sql, pyspark or spark-submit, with the iceberg-spark-runtime jar; then SHOW NAMESPACES IN icegate',
      text: spark.map(([k, v]) => k.padEnd(width) + v).join('\n'),
    },
    {
      id: 'pyiceberg',
      title: 'PyIceberg',
      hint: 'Python, pip install pyiceberg',
      text: [
        'from pyiceberg.catalog import load_catalog',
        '',
        'catalog = load_catalog(',
        '    "icegate",',
        '    type="rest",',
        `    uri=${py(url)},`,
        `    warehouse=${py(warehouse)},`,
        `    **{"header.X-API-Token": ${py(token)}},`,
        ')',
        'print(catalog.list_namespaces())',
      ].join('\n'),
    },
    {
      id: 'duckdb',
      title: 'DuckDB',
      hint: 'SQL; the iceberg extension loads itself',
      text: [
        `CREATE SECRET icegate_token (TYPE iceberg, TOKEN '${q(token)}');`,
        `ATTACH '${q(warehouse)}' AS icegate (TYPE iceberg, ENDPOINT '${q(url)}', SECRET icegate_token);`,
        'SHOW ALL TABLES;',
      ].join('\n'),
    },
    {
      id: 'curl',
      title: 'curl',
      hint: 'any HTTP client: the X-API-Token header',
      text: `curl -H 'X-API-Token: ${token}' ${url}/v1/config`,
    },
  ];
}
