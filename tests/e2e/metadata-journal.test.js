// catalog.metadata_sync: journal (catalog/pending.c): a commit's metadata bytes are made durable in the store's
// transaction and the file synced later. A power cut before that sync can leave a committed file empty, or
// missing with its folder; the next start writes each one back from the store before it serves. These tests
// play the power cut by doing to the files what a lost write-back does (kill -9 first, so nothing flushes).
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import test from 'node:test';

import { Server, createToken, sleep, tempDir } from './lib/harness.js';

const schema = { type: 'struct', fields: [{ id: 1, name: 'id', type: 'long', required: true }] };
const fsPath = (loc) => loc.replace(/^file:(\/\/)?/, '');
const sha = (p) => crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex');
const setProp = (k, v = 'v') => ({ requirements: [], updates: [{ action: 'set-properties', updates: { [k]: v } }] });

async function boot(dataDir, config) {
  const srv = await new Server({ dataDir, config }).start();
  return srv;
}

function api(srv, tok) {
  return (method, p, body) => srv.req(method, p, { token: tok.token, body });
}

async function metricValue(srv, dataDir, re) {
  const admin = createToken(dataDir, `admin-${Math.random()}`);
  await sleep(300); // the CLI's token reaches the server within tokens.poll_interval_ms
  const r = await srv.req('GET', '/metrics', { token: admin.token });
  assert.equal(r.status, 200, r.text);
  const m = re.exec(r.text);
  return m ? Number(m[1]) : NaN;
}

test('a power cut before the flush: every committed file a crash lost is written back, byte for byte', async () => {
  const dataDir = tempDir();
  const tok = createToken(dataDir, 'journal');
  const config = 'catalog:\n  metadata_flush_ms: 600000\n'; // nothing is synced by the flusher in this test
  let srv = await boot(dataDir, config);
  let call = api(srv, tok);
  const files = [];
  try {
    assert.equal((await call('POST', '/v1/namespaces', { namespace: ['db'] })).status, 200);
    for (const t of ['a', 'b']) {
      const r = await call('POST', '/v1/namespaces/db/tables', { name: t, schema });
      assert.equal(r.status, 200, r.text);
      files.push(r.json['metadata-location']);
    }
    // The group-commit path (a burst on one table) ...
    const burst = await Promise.all(Array.from({ length: 12 }, (_, i) => call('POST', '/v1/namespaces/db/tables/a', setProp(`k${i}`))));
    for (const r of burst) assert.equal(r.status, 200, r.text);
    files.push(...burst.map((r) => r.json['metadata-location']));
    // ... a multi-table transaction (the commit path) ...
    const tx = await call('POST', '/v1/transactions/commit', {
      'table-changes': ['a', 'b'].map((name) => ({ identifier: { namespace: ['db'], name }, ...setProp('tx') })),
    });
    assert.equal(tx.status, 204, tx.text);
    const last = {};
    for (const t of ['a', 'b']) {
      const r = await call('GET', `/v1/namespaces/db/tables/${t}`);
      last[t] = r.json['metadata-location'];
      files.push(last[t]);
    }
    // ... and a table created in a new namespace, whose folders are new too.
    assert.equal((await call('POST', '/v1/namespaces', { namespace: ['fresh'] })).status, 200);
    const c = await call('POST', '/v1/namespaces/fresh/tables', { name: 'c', schema });
    assert.equal(c.status, 200, c.text);
    files.push(c.json['metadata-location']);
    const sums = new Map(files.map((f) => [f, sha(fsPath(f))]));

    srv.kill();
    await srv.exited;
    // What a lost write-back leaves: the newest file of a empty, b's gone, and the whole folder of c gone.
    fs.truncateSync(fsPath(last.a), 0);
    fs.rmSync(fsPath(last.b));
    fs.rmSync(path.join(dataDir, 'warehouse', 'fresh'), { recursive: true });

    srv = await boot(dataDir, config);
    call = api(srv, tok);
    assert.match(srv.ownLog(), new RegExp(`wrote again ${files.length} metadata files`));
    for (const [f, h] of sums) assert.equal(sha(fsPath(f)), h, `${f} is not what was committed`);
    for (const t of ['db/tables/a', 'db/tables/b', 'fresh/tables/c']) {
      const r = await call('GET', `/v1/namespaces/${t}`);
      assert.equal(r.status, 200, r.text);
    }
    const a = await call('GET', '/v1/namespaces/db/tables/a');
    assert.equal(a.json.metadata.properties.tx, 'v');
    for (let i = 0; i < 12; i++) assert.equal(a.json.metadata.properties[`k${i}`], 'v');
    // Written back once, then forgotten: the next start has nothing to write.
    await srv.stop();
    srv = await boot(dataDir, config);
    assert.doesNotMatch(srv.ownLog(), /wrote again/);
  } finally {
    await srv.stop();
  }
});

test('the flusher syncs the files and forgets them; fsync mode keeps nothing pending', async () => {
  for (const [config, flushed] of [['catalog:\n  metadata_flush_ms: 20\n', true], ['catalog:\n  metadata_sync: fsync\n', false]]) {
    const dataDir = tempDir();
    const tok = createToken(dataDir, 'flush');
    let srv = await boot(dataDir, config);
    const call = api(srv, tok);
    try {
      assert.equal((await call('POST', '/v1/namespaces', { namespace: ['db'] })).status, 200);
      assert.equal((await call('POST', '/v1/namespaces/db/tables', { name: 't', schema })).status, 200);
      const r = await call('POST', '/v1/namespaces/db/tables/t', setProp('k'));
      assert.equal(r.status, 200, r.text);
      await sleep(200);
      const syncs = await metricValue(srv, dataDir, /^icegate_metadata_syncs_total\{result="ok"\} (\d+)$/m);
      if (flushed) assert.ok(syncs >= 1, `no flush in 500 ms (${syncs})`);
      else assert.equal(syncs, 0);
      srv.kill();
      await srv.exited;
      fs.truncateSync(fsPath(r.json['metadata-location']), 0); // a file synced long ago would not be lost
      srv = await boot(dataDir, config);
      assert.doesNotMatch(srv.ownLog(), /wrote again/, `${config}: something was still pending`);
    } finally {
      await srv.stop();
    }
  }
});

test('a purge with files pending: they are synced first, and no restart writes them back into the purged folder', async () => {
  const dataDir = tempDir();
  const tok = createToken(dataDir, 'purge');
  const config = 'catalog:\n  metadata_flush_ms: 600000\n';
  let srv = await boot(dataDir, config);
  const call = api(srv, tok);
  try {
    assert.equal((await call('POST', '/v1/namespaces', { namespace: ['db'] })).status, 200);
    const t = await call('POST', '/v1/namespaces/db/tables', { name: 't', schema });
    assert.equal(t.status, 200, t.text);
    assert.equal((await call('POST', '/v1/namespaces/db/tables/t', setProp('k'))).status, 200);
    const folder = path.dirname(path.dirname(fsPath(t.json['metadata-location'])));
    assert.equal((await call('DELETE', '/v1/namespaces/db/tables/t?purgeRequested=true')).status, 204);
    for (let i = 0; i < 250 && fs.existsSync(folder); i++) await sleep(20); // the purger runs after the answer
    assert.ok(!fs.existsSync(folder), 'the purge left the folder');
    srv.kill();
    await srv.exited;
    srv = await boot(dataDir, config);
    assert.ok(!fs.existsSync(folder), `a restart wrote the purged table's files back into ${folder}`);
  } finally {
    await srv.stop();
  }
});

test('write.metadata.delete-after-commit with files pending: old files go after the flush and never come back', async () => {
  const dataDir = tempDir();
  const tok = createToken(dataDir, 'cleanup');
  const config = 'catalog:\n  metadata_flush_ms: 50\n';
  let srv = await boot(dataDir, config);
  const call = api(srv, tok);
  try {
    assert.equal((await call('POST', '/v1/namespaces', { namespace: ['db'] })).status, 200);
    const t = await call('POST', '/v1/namespaces/db/tables', {
      name: 't', schema,
      properties: { 'write.metadata.delete-after-commit.enabled': 'true', 'write.metadata.previous-versions-max': '1' },
    });
    assert.equal(t.status, 200, t.text);
    const locs = [t.json['metadata-location']];
    for (let i = 0; i < 4; i++) {
      const r = await call('POST', '/v1/namespaces/db/tables/t', setProp(`k${i}`));
      assert.equal(r.status, 200, r.text);
      locs.push(r.json['metadata-location']);
    }
    const gone = locs.slice(0, -2); // the log keeps one previous version
    let left = gone;
    for (let i = 0; i < 50 && left.length; i++) {
      await sleep(20);
      left = gone.filter((l) => fs.existsSync(fsPath(l)));
    }
    assert.deepEqual(left, [], 'old metadata files were not deleted after the flush');
    srv.kill();
    await srv.exited;
    srv = await boot(dataDir, config);
    for (const l of gone) assert.ok(!fs.existsSync(fsPath(l)), `${l} came back after a restart`);
    for (const l of locs.slice(-2)) assert.ok(fs.existsSync(fsPath(l)), `${l} is missing`);
  } finally {
    await srv.stop();
  }
});
