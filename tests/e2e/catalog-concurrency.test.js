// Concurrent commits: N clients append snapshots to one table at once, each guarding its commit with
// assert-ref-snapshot-id and retrying on 409 with fresh metadata.  No commit may be lost or doubled, and
// every metadata file the table's log names must exist.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { IcebergRestCatalog, IcebergError } from 'iceberg-js';
import { Server, createToken, tempDir } from './lib/harness.js';
import { call, validate, validatingFetch } from './lib/spec.js';

const CLIENTS = 8;
const COMMITS_EACH = 6;

let srv, tok, dataDir;

before(async () => {
  dataDir = tempDir();
  tok = createToken(dataDir, 'concurrency').token;
  srv = await new Server({ dataDir }).start();
});

after(async () => {
  await srv.stop();
});

// One client (its own iceberg-js instance): load, append a snapshot on top of main, commit; on 409 load
// again and retry.
async function appender(clientNo) {
  const cat = new IcebergRestCatalog({
    baseUrl: srv.url, auth: { type: 'header', name: 'X-API-Token', value: tok }, fetch: validatingFetch(),
  });
  const ident = { namespace: ['cc'], name: 'hot' };
  let ok = 0, conflicts = 0;
  const mine = [];
  while (ok < COMMITS_EACH) {
    const m = await cat.loadTable(ident);
    const parent = m.refs?.main ? m.refs.main['snapshot-id'] : null;
    const id = clientNo * 1000 + ok + 1; // < 2^53, unique per client and commit
    const seq = m['last-sequence-number'] + 1;
    try {
      const r = await cat.updateTable(ident, {
        requirements: [{ type: 'assert-ref-snapshot-id', ref: 'main', 'snapshot-id': parent }],
        updates: [
          { action: 'add-snapshot', snapshot: {
            'snapshot-id': id, ...(parent !== null ? { 'parent-snapshot-id': parent } : {}), 'sequence-number': seq,
            'timestamp-ms': Date.now(), 'manifest-list': `file:///tmp/none/${id}.avro`,
            summary: { operation: 'append', client: String(clientNo) }, 'schema-id': 0 } },
          { action: 'set-snapshot-ref', 'ref-name': 'main', type: 'branch', 'snapshot-id': id },
        ],
      });
      ok++;
      mine.push(id);
      assert.equal(r.metadata['current-snapshot-id'], id);
    } catch (e) {
      if (!(e instanceof IcebergError) || e.status !== 409) throw e;
      assert.equal(e.icebergType, 'CommitFailedException');
      conflicts++;
    }
  }
  return { ok, conflicts, mine };
}

test(`${CLIENTS} clients commit add-snapshot to one table at once`, async () => {
  const cat = new IcebergRestCatalog({
    baseUrl: srv.url, auth: { type: 'header', name: 'X-API-Token', value: tok }, fetch: validatingFetch(),
  });
  await cat.createNamespace({ namespace: ['cc'] });
  await cat.createTable({ namespace: ['cc'] }, {
    name: 'hot', schema: { type: 'struct', fields: [{ id: 1, name: 'id', type: 'long', required: true }] },
    properties: { 'write.metadata.previous-versions-max': '1000' },
  });
  const results = await Promise.all(Array.from({ length: CLIENTS }, (_, i) => appender(i + 1)));
  const total = results.reduce((s, r) => s + r.ok, 0);
  const conflicts = results.reduce((s, r) => s + r.conflicts, 0);
  assert.equal(total, CLIENTS * COMMITS_EACH);

  const final = await cat.loadTableResult({ namespace: ['cc'], name: 'hot' });
  validate('LoadTableResult', final);
  const m = final.metadata;
  assert.equal(m.snapshots.length, total, 'one snapshot per successful commit');
  assert.equal(m['last-sequence-number'], total);
  assert.equal(new Set(m.snapshots.map((s) => s['snapshot-id'])).size, total);
  for (const r of results) for (const id of r.mine) assert.ok(m.snapshots.some((s) => s['snapshot-id'] === id), `snapshot ${id} kept`);
  // The main branch is one linear chain through every snapshot.
  const byId = new Map(m.snapshots.map((s) => [s['snapshot-id'], s]));
  let chain = 0;
  for (let s = byId.get(m['current-snapshot-id']); s; s = byId.get(s['parent-snapshot-id'])) chain++;
  assert.equal(chain, total);
  // Every file in the metadata log exists; losers left no file behind.
  assert.equal(m['metadata-log'].length, total);
  for (const e of m['metadata-log']) assert.ok(await srv.wh.exists(e['metadata-file']), e['metadata-file']);
  const files = await srv.wh.list(`${m.location}/metadata`);
  assert.equal(files.length, total + 1, `${files.length} files for ${total} commits + create`);
  assert.ok(files.every((f) => f.endsWith('.metadata.json') && !f.startsWith('.')));
  test.diagnostic?.(`conflicts retried: ${conflicts}`);
});

test('concurrent creates of one name: exactly one wins, the rest get 409', async () => {
  const body = { name: 'race', schema: { type: 'struct', fields: [{ id: 1, name: 'x', type: 'int', required: false }] } };
  const rs = await Promise.all(Array.from({ length: CLIENTS }, () => call(srv, tok, 'POST', '/v1/namespaces/cc/tables', { body })));
  assert.equal(rs.filter((r) => r.status === 200).length, 1);
  assert.ok(rs.filter((r) => r.status !== 200).every((r) => r.status === 409));
  const metaFiles = (await srv.wh.tree(`${srv.wh.root}/cc`)).filter((f) => /^race[^/]*\/metadata\/[^/]+$/.test(f));
  assert.equal(metaFiles.length, 1, `only the winner's metadata file remains: ${metaFiles}`);
});
