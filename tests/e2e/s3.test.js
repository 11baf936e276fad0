// S3 warehouses (DESIGN.md §7, issue 11 items 1, 2, 3 in part, 4 static, 5): icegate keeps a catalog's metadata
// on a real S3-compatible server (versitygw, started here on 127.0.0.1 with its own temp dir and keys), signed
// by libcurl; creates, commits, loads after a restart (nothing cached), a purge that removes only the table's
// own prefix (t2 is not inside t), locations outside the warehouse refused, vended credentials (static mode)
// only when asked for and never cached, the keys from a file or the environment and never in the log,
// /v1/config or an error; a wrong key or endpoint stops the start; with the store down a commit fails with a 503
// and swaps nothing, and when it is back commits go on from where they were.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Server, tempDir } from './lib/harness.js';
import { pollUntil, startWithAdmin } from './lib/helpers.js';
import { startS3 } from './lib/s3.js';

const schema = { type: 'struct', 'schema-id': 0, fields: [{ id: 1, name: 'id', required: true, type: 'long' }] };
const VEND = { 'X-Iceberg-Access-Delegation': 'vended-credentials' };

function s3Config(s3, { secretFile, mode = 'static', keyId = s3.accessKeyId, endpoint = s3.endpoint } = {}) {
  return `catalog:
  warehouses:
    - name: lake
      location: s3://lakehouse/tables
      s3:
        endpoint: ${endpoint}
        path_style: true
        timeout_ms: 3000
        access_key_id: ${keyId}
        secret_access_key_file: ${secretFile}
      credentials:
        mode: ${mode}
`;
}

function secretFile(s3) {
  const f = path.join(tempDir('icegate-s3-secret-'), 'secret');
  fs.writeFileSync(f, `${s3.secretAccessKey}\n`, { mode: 0o600 });
  return f;
}

test('a catalog on S3: create, commit, load after a restart, purge of its own prefix only, vended credentials', async () => {
  const s3 = await startS3({ buckets: ['lakehouse'] });
  const config = s3Config(s3, { secretFile: secretFile(s3) });
  let { srv, admin } = await startWithAdmin({ config });
  const req = (m, p, body, headers) => srv.req(m, p, { token: admin, body, headers });
  try {
    const cfg = await req('GET', '/v1/config?warehouse=lake');
    assert.equal(cfg.json.overrides.prefix, 'lake');
    assert.equal((await req('GET', '/v1/config?warehouse=other')).status, 404);
    assert.equal((await req('POST', '/v1/namespaces', { namespace: ['db'] })).status, 200);
    const t = await req('POST', '/v1/lake/namespaces/db/tables', { name: 't', schema });
    assert.equal(t.status, 200, t.text);
    assert.equal(t.json.metadata.location, 's3://lakehouse/tables/db/t');
    assert.match(t.json['metadata-location'], /^s3:\/\/lakehouse\/tables\/db\/t\/metadata\/00000-[0-9a-f-]{36}\.metadata\.json$/);
    assert.deepEqual(t.json.config, {}, 'no credentials unless asked for');
    assert.equal(t.json['storage-credentials'], undefined);
    const t2 = await req('POST', '/v1/namespaces/db/tables', { name: 't2', schema });
    assert.equal(t2.status, 200, t2.text);
    const c = await req('POST', '/v1/namespaces/db/tables/t', {
      requirements: [{ type: 'assert-table-uuid', uuid: t.json.metadata['table-uuid'] }],
      updates: [{ action: 'set-properties', updates: { owner: 'lake-team' } }],
    });
    assert.equal(c.status, 200, c.text);
    const keys = await s3.listObjects('lakehouse', 'tables/db/t/');
    assert.equal(keys.length, 2, JSON.stringify(keys));
    const written = JSON.parse((await s3.getObject('lakehouse', c.json['metadata-location'].slice('s3://lakehouse/'.length))).toString());
    assert.equal(written.properties.owner, 'lake-team', 'the file on S3 is the committed metadata');

    // vended credentials: static mode gives the warehouse's keys, only when asked for, never cached
    const v = await req('GET', '/v1/namespaces/db/tables/t', undefined, VEND);
    assert.equal(v.status, 200, v.text);
    const want = {
      's3.access-key-id': s3.accessKeyId, 's3.secret-access-key': s3.secretAccessKey, 's3.endpoint': s3.endpoint,
      'client.region': 'us-east-1', 's3.path-style-access': 'true',
    };
    assert.deepEqual(v.json.config, want, 'static keys do not expire: no refresh endpoint either');
    assert.deepEqual(v.json['storage-credentials'], [{ prefix: 's3://lakehouse/tables', config: want }]);
    assert.equal(v.headers.get('cache-control'), 'no-store');
    assert.equal(v.json.metadata.properties.owner, 'lake-team');
    assert.deepEqual((await req('GET', '/v1/namespaces/db/tables/t')).json.config, {}, 'the cached answer has none');
    const cr = await req('GET', '/v1/namespaces/db/tables/t/credentials');
    assert.deepEqual(cr.json, { 'storage-credentials': [{ prefix: 's3://lakehouse/tables', config: want }] });

    // a location outside the warehouse, or a traversal, is refused with nothing written
    for (const location of ['s3://other-bucket/x', 's3://lakehouse/elsewhere/x', 's3://lakehouse/tables/../x', 'file:///tmp/x']) {
      const r = await req('POST', '/v1/namespaces/db/tables', { name: 'esc', schema, location });
      assert.equal(r.status, 400, `${location}: ${r.text}`);
    }

    // a restart reads the metadata back from S3
    await srv.stop();
    srv = await new Server({ dataDir: srv.dataDir, config }).start();
    const after = await req('GET', '/v1/namespaces/db/tables/t');
    assert.equal(after.status, 200, after.text);
    assert.equal(after.json.metadata.properties.owner, 'lake-team');

    // purge: the table's own prefix, never t2's (which starts with the same letters)
    const d = await srv.req('DELETE', '/v1/namespaces/db/tables/t?purgeRequested=true', { token: admin });
    assert.equal(d.status, 204, d.text);
    await pollUntil('t purged', async () => (await s3.listObjects('lakehouse', 'tables/db/t/')).length === 0, 5000);
    assert.equal((await s3.listObjects('lakehouse', 'tables/db/t2/')).length, 1);
    assert.equal((await req('GET', '/v1/namespaces/db/tables/t2')).status, 200);

    // the secret is in no log line, not in /v1/config
    assert.ok(!srv.readLog().includes(s3.secretAccessKey), 'secret in the log');
    assert.ok(!JSON.stringify(cfg.json).includes(s3.secretAccessKey));
  } finally {
    await srv.stop();
    await s3.stop();
  }
});

test('S3 warehouse: credentials mode none vends nothing; a wrong key or endpoint stops the start, naming no secret', async () => {
  const s3 = await startS3({ buckets: ['lakehouse'] });
  try {
    const file = secretFile(s3);
    const { srv, admin } = await startWithAdmin({ config: s3Config(s3, { secretFile: file, mode: 'none' }) });
    try {
      await srv.req('POST', '/v1/namespaces', { token: admin, body: { namespace: ['n'] } });
      const t = await srv.req('POST', '/v1/namespaces/n/tables', { token: admin, body: { name: 't', schema }, headers: VEND });
      assert.equal(t.status, 200, t.text);
      assert.deepEqual(t.json.config, {});
      const cr = await srv.req('GET', '/v1/namespaces/n/tables/t/credentials', { token: admin });
      assert.deepEqual(cr.json, { 'storage-credentials': [] });
    } finally {
      await srv.stop();
    }
    for (const [what, opts] of [['a wrong key id', { keyId: 'NOPE' }], ['a dead endpoint', { endpoint: 'http://127.0.0.1:9' }]]) {
      const bad = new Server({ config: s3Config(s3, { secretFile: file, ...opts }) });
      await assert.rejects(bad.start(), /icegate exited at start/, what);
      const log = bad.readLog();
      assert.match(log, /cannot start: object storage: LIST s3:\/\/lakehouse\//, `${what}: ${log}`);
      assert.ok(!log.includes(s3.secretAccessKey), `${what}: the secret is in the log`);
    }
    const missing = new Server({ config: s3Config(s3, { secretFile: '/nonexistent/secret' }) });
    await assert.rejects(missing.start(), /icegate exited at start/);
    assert.match(missing.readLog(), /catalog\.warehouses\[0\]\.s3\.secret_access_key_file: \/nonexistent\/secret/);
  } finally {
    await s3.stop();
  }
});

test('a file warehouse beside an S3 one: each table on its own storage, credentials vended only for S3, a commit batch on both', async () => {
  const s3 = await startS3({ buckets: ['lakehouse'] });
  const local = tempDir('icegate-local-wh-');
  const lake = s3Config(s3, { secretFile: secretFile(s3) }).split('\n').slice(2).join('\n');
  const config = `catalog:\n  warehouses:\n    - name: local\n      location: file://${local}\n${lake}`;
  const { srv, admin } = await startWithAdmin({ config });
  const req = (m, p, body, headers) => srv.req(m, p, { token: admin, body, headers });
  try {
    for (const p of ['', '/lake']) {
      assert.equal((await req('POST', `/v1${p}/namespaces`, { namespace: ['db'] })).status, 200);
      const t = await req('POST', `/v1${p}/namespaces/db/tables`, { name: 't', schema }, VEND);
      assert.equal(t.status, 200, t.text);
      assert.equal(t.json.metadata.location, p ? 's3://lakehouse/tables/db/t' : `file://${local}/db/t`);
      assert.equal(Object.keys(t.json.config).length ? 'vended' : 'none', p ? 'vended' : 'none', t.text);
    }
    assert.deepEqual((await req('GET', '/v1/namespaces/db/tables/t/credentials')).json, { 'storage-credentials': [] });
    assert.equal((await req('GET', '/v1/lake/namespaces/db/tables/t/credentials')).json['storage-credentials'].length, 1);
    // commits to both at once: one batch publishes to each warehouse
    const burst = await Promise.all(Array.from({ length: 12 }, (_, i) => req('POST', `/v1${i % 2 ? '/lake' : ''}/namespaces/db/tables/t`, {
      requirements: [], updates: [{ action: 'set-properties', updates: { [`k${i}`]: 'v' } }],
    })));
    for (const r of burst) assert.equal(r.status, 200, r.text);
    assert.equal((await s3.listObjects('lakehouse', 'tables/db/t/metadata/')).length, 7, 'create + 6 commits on S3');
    assert.equal(fs.readdirSync(path.join(local, 'db/t/metadata')).length, 7, 'create + 6 commits on disk');
    const l = await req('GET', '/v1/namespaces/db/tables/t');
    assert.deepEqual(Object.keys(l.json.metadata.properties).filter((k) => /^k\d/.test(k)).length, 6);
  } finally {
    await srv.stop();
    await s3.stop();
  }
});

test('S3 down: a commit is a 503 that swaps nothing; back up, the table is where it was and commits go on', async () => {
  const s3 = await startS3({ buckets: ['lakehouse'] });
  const { srv, admin } = await startWithAdmin({ config: s3Config(s3, { secretFile: secretFile(s3), mode: 'none' }) });
  const req = (m, p, body) => srv.req(m, p, { token: admin, body });
  const commit = (k, v) => req('POST', '/v1/namespaces/db/tables/t', {
    requirements: [], updates: [{ action: 'set-properties', updates: { [k]: v } }],
  });
  try {
    await req('POST', '/v1/namespaces', { namespace: ['db'] });
    assert.equal((await req('POST', '/v1/namespaces/db/tables', { name: 't', schema })).status, 200);
    const before = (await commit('a', '1')).json['metadata-location'];
    await s3.stop();
    const down = await commit('b', '2');
    assert.equal(down.status, 503, down.text);
    assert.equal(down.json.error.type, 'ServiceUnavailableException');
    assert.match(down.json.error.message, /object storage: PUT s3:\/\/lakehouse\/tables\/db\/t\/metadata\//);
    assert.ok(!down.text.includes(s3.secretAccessKey));
    const still = await req('GET', '/v1/namespaces/db/tables/t');
    assert.equal(still.json['metadata-location'], before, 'the pointer did not move');
    assert.equal(still.json.metadata.properties.b, undefined);
    await s3.start({ again: true });
    const up = await commit('c', '3');
    assert.equal(up.status, 200, up.text);
    assert.deepEqual([up.json.metadata.properties.a, up.json.metadata.properties.b, up.json.metadata.properties.c],
      ['1', undefined, '3']);
    const keys = await s3.listObjects('lakehouse', 'tables/db/t/metadata/');
    assert.equal(keys.length, 3, `create, the first and the last commit; nothing of the failed one: ${keys}`);
  } finally {
    await srv.stop();
    await s3.stop();
  }
});

// Purge off the request path (catalog/purge.c): the drop is queued with its purge in one store transaction and
// answered at once; with S3 down the purge fails and stays queued (counted), survives a kill -9, and the next
// start deletes the files once S3 is back.
test('purge with S3 down: the drop answers at once, the purge waits in the store across a kill -9, then runs', async () => {
  const s3 = await startS3({ buckets: ['lakehouse'] });
  const config = s3Config(s3, { secretFile: secretFile(s3), mode: 'none' });
  let { srv, admin, dataDir } = await startWithAdmin({ config });
  const req = (m, p, body) => srv.req(m, p, { token: admin, body });
  try {
    await req('POST', '/v1/namespaces', { namespace: ['db'] });
    assert.equal((await req('POST', '/v1/namespaces/db/tables', { name: 't', schema })).status, 200);
    assert.equal((await req('POST', '/v1/namespaces/db/tables', { name: 'kept', schema })).status, 200);
    await s3.stop();
    const t0 = Date.now();
    const d = await req('DELETE', '/v1/namespaces/db/tables/t?purgeRequested=true');
    assert.equal(d.status, 204, d.text);
    assert.ok(Date.now() - t0 < 1000, `the drop waited for S3 (${Date.now() - t0} ms)`);
    assert.equal((await req('GET', '/v1/namespaces/db/tables/t')).status, 404);
    await pollUntil('the purge failed and was kept', () => /purge of s3:\/\/lakehouse\/tables\/db\/t failed, tried again later/.test(srv.ownLog()), 5000);
    const m = await req('GET', '/metrics');
    assert.match(m.text, /^icegate_purges_total\{result="failed"\} [1-9]/m);
    srv.kill();
    await srv.exited;
    await s3.start({ again: true });
    assert.ok((await s3.listObjects('lakehouse', 'tables/db/t/')).length > 0, 'nothing was deleted while S3 was down');
    srv = new Server({ dataDir, config });
    await srv.start();
    await pollUntil('the queued purge ran after the restart', async () => (await s3.listObjects('lakehouse', 'tables/db/t/')).length === 0, 10000);
    assert.match(srv.ownLog(), /purged s3:\/\/lakehouse\/tables\/db\/t /);
    assert.equal((await s3.listObjects('lakehouse', 'tables/db/kept/')).length, 1, 'another table was touched');
  } finally {
    await srv.stop();
    await s3.stop();
  }
});
