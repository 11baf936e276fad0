// Group commit (catalog/group.c): commits that arrive together share their syncs, yet each is checked against
// the version before it, answered with its own version, and acknowledged only once durable — a kill -9 in the
// middle of a burst loses no acknowledged commit.
import assert from 'node:assert/strict';
import test from 'node:test';

import { Server, createToken, sleep, tempDir } from './lib/harness.js';

const schema = { type: 'struct', fields: [{ id: 1, name: 'id', type: 'long', required: true }] };

async function withTable(fn, { name = 't', dataDir = tempDir() } = {}) {
  const tok = createToken(dataDir, 'group');
  const srv = await new Server({ dataDir }).start();
  const call = (method, p, body) => srv.req(method, `/v1/namespaces${p}`, { token: tok.token, body });
  try {
    assert.equal((await call('POST', '', { namespace: ['db'] })).status, 200);
    const t = await call('POST', '/db/tables', { name, schema });
    assert.equal(t.status, 200, t.text);
    await fn({ srv, call, tok, dataDir });
  } finally {
    await srv.stop();
  }
}

function metric(text, name) {
  const m = new RegExp(`^${name} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

async function batches(srv, dataDir) {
  const admin = createToken(dataDir, `admin-${Math.random()}`);
  await sleep(300); // the CLI's token reaches the server within tokens.poll_interval_ms
  const r = await srv.req('GET', '/metrics', { token: admin.token });
  assert.equal(r.status, 200, r.text);
  return { batches: metric(r.text, 'icegate_commit_batches_total'), commits: metric(r.text, 'icegate_commit_batched_total') };
}

test('a burst of commits on one table shares syncs, and each answer is its own version', async () => {
  await withTable(async ({ srv, call, dataDir }) => {
    const N = 32;
    const before = await batches(srv, dataDir);
    const rs = await Promise.all(Array.from({ length: N }, (_, i) =>
      call('POST', '/db/tables/t', { requirements: [], updates: [{ action: 'set-properties', updates: { [`k${i}`]: `${i}` } }] })));
    for (const r of rs) assert.equal(r.status, 200, r.text);
    const locs = rs.map((r) => r.json['metadata-location']);
    assert.equal(new Set(locs).size, N, 'each commit has its own metadata file');
    rs.forEach((r, i) => assert.equal(r.json.metadata.properties[`k${i}`], `${i}`, 'the answer shows the commit itself'));
    const after = await batches(srv, dataDir);
    assert.equal(after.commits - before.commits, N);
    assert.ok(after.batches - before.batches < N, `${N} commits took ${after.batches - before.batches} batches: none shared a sync`);
    // The table's history is one chain through every acknowledged version, each file on disk.
    const cur = await call('GET', '/db/tables/t');
    for (let i = 0; i < N; i++) assert.equal(cur.json.metadata.properties[`k${i}`], `${i}`);
    const log = cur.json.metadata['metadata-log'].map((e) => e['metadata-file']);
    const chain = [...log, cur.json['metadata-location']];
    for (const l of locs) assert.ok(chain.includes(l), `${l} is not in the table's history`);
    for (const l of chain) assert.ok(await srv.wh.exists(l), `${l} is missing`);
    // Every answer's version is the next of the one before it in the chain.
    for (const r of rs) {
      const at = chain.indexOf(r.json['metadata-location']);
      const prev = r.json.metadata['metadata-log'].at(-1)?.['metadata-file'];
      assert.equal(prev, chain[at - 1]);
    }
  });
});

test('commits in one batch are checked against the version before them: one of 16 racers wins', async () => {
  await withTable(async ({ call }) => {
    const rs = await Promise.all(Array.from({ length: 16 }, (_, i) => call('POST', '/db/tables/t', {
      requirements: [{ type: 'assert-current-schema-id', 'current-schema-id': 0 }],
      updates: [
        { action: 'add-schema', schema: { type: 'struct', fields: [...schema.fields, { id: 2, name: `c${i}`, type: 'string', required: false }] } },
        { action: 'set-current-schema', 'schema-id': -1 },
      ],
    })));
    const won = rs.filter((r) => r.status === 200);
    assert.equal(won.length, 1, rs.map((r) => r.status).join(','));
    for (const r of rs.filter((x) => x.status !== 200)) {
      assert.equal(r.status, 409, r.text);
      assert.equal(r.json.error.type, 'CommitFailedException');
    }
    const cur = await call('GET', '/db/tables/t');
    assert.equal(cur.json.metadata.schemas.length, 2);
    assert.equal(cur.json['metadata-location'], won[0].json['metadata-location']);
  });
});

test('view commits group too: every version added by a burst is in the view', async () => {
  await withTable(async ({ call }) => {
    const version = (id, sql) => ({
      'version-id': id, 'timestamp-ms': Date.now(), 'schema-id': 0, summary: { engine: 'test' },
      representations: [{ type: 'sql', sql, dialect: 'spark' }], 'default-namespace': ['db'],
    });
    const v = await call('POST', '/db/views', { name: 'v', schema, 'view-version': version(1, 'select 1'), properties: {} });
    assert.equal(v.status, 200, v.text);
    const rs = await Promise.all(Array.from({ length: 8 }, (_, i) => call('POST', '/db/views/v', {
      requirements: [{ type: 'assert-view-uuid', uuid: v.json.metadata['view-uuid'] }],
      updates: [{ action: 'add-view-version', 'view-version': version(2, `select ${i + 2}`) }, { action: 'set-current-view-version', 'view-version-id': -1 }],
    })));
    for (const r of rs) assert.equal(r.status, 200, r.text);
    const cur = await call('GET', '/db/views/v');
    assert.equal(cur.json.metadata.versions.length, 9);
  }, { name: 'unused' });
});

// kill -9 while a burst is in flight, restart: every commit answered 200 is in the table, every file there.
test('kill -9 in the middle of a burst loses no acknowledged commit (5 rounds)', async () => {
  const dataDir = tempDir();
  const tok = createToken(dataDir, 'crash');
  let srv = await new Server({ dataDir }).start();
  const call = (s, method, p, body) => s.req(method, `/v1/namespaces${p}`, { token: tok.token, body }).catch((e) => ({ status: 0, error: e }));
  assert.equal((await call(srv, 'POST', '', { namespace: ['db'] })).status, 200);
  assert.equal((await call(srv, 'POST', '/db/tables', { name: 't', schema, properties: { 'write.metadata.previous-versions-max': '10000' } })).status, 200);
  const acked = [];
  try {
    for (let round = 0; round < 5; round++) {
      const s = srv;
      const burst = Array.from({ length: 60 }, (_, i) => call(s, 'POST', '/db/tables/t',
        { requirements: [], updates: [{ action: 'set-properties', updates: { [`r${round}k${i}`]: 'v' } }] })
        .then((r) => { if (r.status === 200) acked.push({ key: `r${round}k${i}`, loc: r.json['metadata-location'] }); return r; }));
      await sleep(5 + round * 7);
      s.kill();
      await s.exited;
      await Promise.all(burst);
      srv = await new Server({ dataDir }).start();
      const cur = await call(srv, 'GET', '/db/tables/t');
      assert.equal(cur.status, 200, cur.text);
      for (const a of acked) {
        assert.equal(cur.json.metadata.properties[a.key], 'v', `acknowledged commit ${a.key} lost after kill -9`);
        assert.ok(await srv.wh.exists(a.loc), `${a.loc} of an acknowledged commit is missing`);
      }
    }
    assert.ok(acked.length > 0, 'no commit was acknowledged before a kill');
  } finally {
    await srv.stop();
  }
});

test('SIGTERM with commits queued: every request is answered, the server exits cleanly', async () => {
  await withTable(async ({ srv, call }) => {
    const burst = Array.from({ length: 40 }, (_, i) => call('POST', '/db/tables/t',
      { requirements: [], updates: [{ action: 'set-properties', updates: { [`k${i}`]: 'v' } }] }).catch((e) => ({ status: 0, e })));
    await sleep(5);
    srv.proc.kill('SIGTERM');
    const rs = await Promise.all(burst);
    for (const r of rs) assert.ok([200, 503, 0].includes(r.status), `status ${r.status}`);
    const { code } = await srv.exited;
    assert.equal(code, 0);
  });
});
