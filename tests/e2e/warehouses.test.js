// Several warehouses (catalog.warehouses, DESIGN.md §7, issue 11 item 1): `?warehouse=NAME` on /v1/config
// gives its prefix, and /v1/NAME/... serves that warehouse's own namespaces, tables and views, apart from the
// other warehouses' (the same names in each), with every file of a table inside its own warehouse's root.
// Without a prefix, the first warehouse. A purge, a restart, the group commit across two warehouses, a power
// cut in journal mode (files of both written back), overlapping roots and repeated names refused at start.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Server, assertError, createToken, sleep, tempDir } from './lib/harness.js';
import { pollUntil, startWithAdmin } from './lib/helpers.js';

const schema = { type: 'struct', 'schema-id': 0, fields: [{ id: 1, name: 'id', required: true, type: 'long' }] };
const fsPath = (loc) => loc.replace(/^file:(\/\/)?/, '');
const setProp = (k, v = 'v') => ({ requirements: [], updates: [{ action: 'set-properties', updates: { [k]: v } }] });

function twoWarehouses(root, extra = '') {
  return `catalog:
  warehouses:
    - name: main
      location: file://${root}/main
    - name: scratch
      location: file://${root}/scratch
${extra}`;
}

function files(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true }).filter((f) => fs.statSync(path.join(dir, f)).isFile());
}

test('two warehouses: prefixes from /v1/config, namespaces and tables of their own, files under their own root', async () => {
  const root = tempDir('icegate-wh-');
  const config = twoWarehouses(root);
  let { srv, admin } = await startWithAdmin({ config });
  const req = (m, p, body) => srv.req(m, p, { token: admin, body });
  try {
    assert.equal((await req('GET', '/v1/config')).json.overrides.prefix, undefined, 'no warehouse asked: the first, no prefix');
    assert.equal((await req('GET', '/v1/config?warehouse=main')).json.overrides.prefix, 'main');
    assert.equal((await req('GET', '/v1/config?warehouse=scratch')).json.overrides.prefix, 'scratch');
    assert.equal((await req('GET', `/v1/config?warehouse=${encodeURIComponent(`file://${root}/scratch`)}`)).json.overrides.prefix, 'scratch');
    const unknown = await req('GET', '/v1/config?warehouse=nope');
    assertError(assert, unknown, 404, /^NoSuchWarehouseException$/, /nope.*"main", "scratch"/);
    assertError(assert, await req('GET', '/v1/nope/namespaces'), 404, /^NoSuchWarehouseException$/, /nope/);

    // the same namespace name in each warehouse; one only in scratch
    assert.equal((await req('POST', '/v1/namespaces', { namespace: ['db'], properties: { in: 'main' } })).status, 200);
    assert.equal((await req('POST', '/v1/scratch/namespaces', { namespace: ['db'], properties: { in: 'scratch' } })).status, 200);
    assert.equal((await req('POST', '/v1/scratch/namespaces', { namespace: ['db', 'raw'] })).status, 200);
    assert.equal((await req('POST', '/v1/scratch/namespaces', { namespace: ['only'] })).status, 200);
    assertError(assert, await req('POST', '/v1/scratch/namespaces', { namespace: ['db'] }), 409, /^AlreadyExistsException$/, /^Namespace already exists: db$/);
    assert.deepEqual((await req('GET', '/v1/namespaces')).json.namespaces, [['db']]);
    assert.deepEqual((await req('GET', '/v1/main/namespaces')).json.namespaces, [['db']], '/v1/main is the default');
    assert.deepEqual((await req('GET', '/v1/scratch/namespaces')).json.namespaces, [['db'], ['only']]);
    assert.deepEqual((await req('GET', '/v1/scratch/namespaces?parent=db')).json.namespaces, [['db', 'raw']]);
    assert.deepEqual((await req('GET', '/v1/namespaces?parent=db')).json.namespaces, []);
    assert.deepEqual((await req('GET', '/v1/namespaces/db')).json.properties, { in: 'main' });
    assert.deepEqual((await req('GET', '/v1/scratch/namespaces/db')).json.properties, { in: 'scratch' });
    assertError(assert, await req('GET', '/v1/namespaces/only'), 404, /^NoSuchNamespaceException$/, /^Namespace does not exist: only$/);
    assert.equal((await req('HEAD', '/v1/scratch/namespaces/only')).status, 204);
    // pages of a warehouse's namespaces stay in it
    const p1 = await req('GET', '/v1/scratch/namespaces?pageSize=1');
    assert.deepEqual(p1.json.namespaces, [['db']]);
    const p2 = await req('GET', `/v1/scratch/namespaces?pageSize=1&pageToken=${p1.json['next-page-token']}`);
    assert.deepEqual(p2.json.namespaces, [['only']]);

    // a table t in each, under each root; a location in the other warehouse is refused
    const tm = await req('POST', '/v1/namespaces/db/tables', { name: 't', schema });
    const ts = await req('POST', '/v1/scratch/namespaces/db/tables', { name: 't', schema });
    assert.equal(tm.status, 200, tm.text);
    assert.equal(ts.status, 200, ts.text);
    assert.equal(tm.json.metadata.location, `file://${root}/main/db/t`);
    assert.equal(ts.json.metadata.location, `file://${root}/scratch/db/t`);
    assert.notEqual(tm.json.metadata['table-uuid'], ts.json.metadata['table-uuid']);
    const esc = await req('POST', '/v1/scratch/namespaces/db/tables', { name: 'x', schema, location: `file://${root}/main/x` });
    assertError(assert, esc, 400, /^BadRequestException$/, /outside the warehouse/);
    const moved = await req('POST', '/v1/scratch/namespaces/db/tables/t', {
      requirements: [], updates: [{ action: 'set-location', location: `file://${root}/main/db/t2` }],
    });
    assertError(assert, moved, 400, /^BadRequestException$/, /outside the warehouse/);
    const reg = await req('POST', '/v1/scratch/namespaces/only/register', { name: 'r', 'metadata-location': tm.json['metadata-location'] });
    assertError(assert, reg, 400, /^BadRequestException$/, /outside the warehouse/);

    // commits go to their own table: the group commit batches both warehouses' tables at once
    const burst = await Promise.all(Array.from({ length: 16 }, (_, i) =>
      req('POST', `/v1/${i % 2 ? 'scratch/' : ''}namespaces/db/tables/t`, setProp(`k${i}`))));
    for (const r of burst) assert.equal(r.status, 200, r.text);
    const lm = await req('GET', '/v1/namespaces/db/tables/t'), ls = await req('GET', '/v1/scratch/namespaces/db/tables/t');
    assert.deepEqual(Object.keys(lm.json.metadata.properties).filter((k) => k.startsWith('k')).sort(), ['k0', 'k10', 'k12', 'k14', 'k2', 'k4', 'k6', 'k8']);
    assert.deepEqual(Object.keys(ls.json.metadata.properties).filter((k) => k.startsWith('k')).sort(), ['k1', 'k11', 'k13', 'k15', 'k3', 'k5', 'k7', 'k9']);
    assert.ok(lm.json['metadata-location'].startsWith(`file://${root}/main/db/t/metadata/`));
    assert.ok(ls.json['metadata-location'].startsWith(`file://${root}/scratch/db/t/metadata/`));
    // a multi-table transaction in scratch, its identifiers read in scratch
    assert.equal((await req('POST', '/v1/scratch/namespaces/only/tables', { name: 'u', schema })).status, 200);
    const tx = await req('POST', '/v1/scratch/transactions/commit', {
      'table-changes': [['db', 't'], ['only', 'u']].map(([ns, name]) => ({ identifier: { namespace: [ns], name }, ...setProp('tx') })),
    });
    assert.equal(tx.status, 204, tx.text);
    assert.equal((await req('GET', '/v1/scratch/namespaces/only/tables/u')).json.metadata.properties.tx, 'v');
    assert.equal((await req('GET', '/v1/namespaces/db/tables/t')).json.metadata.properties.tx, undefined);
    const badTx = await req('POST', '/v1/transactions/commit', {
      'table-changes': [{ identifier: { namespace: ['only'], name: 'u' }, ...setProp('tx') }],
    });
    assert.equal(badTx.status, 404, 'only.u is not in the default warehouse');

    // renames stay inside a warehouse; lists show a warehouse's own
    assertError(assert, await req('POST', '/v1/tables/rename', {
      source: { namespace: ['db'], name: 't' }, destination: { namespace: ['only'], name: 't' },
    }), 404, /^NoSuchNamespaceException$/, /only/);
    assert.equal((await req('POST', '/v1/scratch/tables/rename', {
      source: { namespace: ['only'], name: 'u' }, destination: { namespace: ['db', 'raw'], name: 'u' },
    })).status, 204);
    assert.deepEqual((await req('GET', '/v1/scratch/namespaces/db%1Fraw/tables')).json.identifiers, [{ namespace: ['db', 'raw'], name: 'u' }]);
    assert.deepEqual((await req('GET', '/v1/namespaces/db/tables')).json.identifiers, [{ namespace: ['db'], name: 't' }]);

    // a view in scratch only
    const view = await req('POST', '/v1/scratch/namespaces/db/views', {
      name: 'v', schema, 'view-version': {
        'version-id': 1, 'timestamp-ms': Date.now(), 'schema-id': 0, summary: {}, 'default-namespace': ['db'],
        representations: [{ type: 'sql', sql: 'select 1', dialect: 'spark' }],
      },
    });
    assert.equal(view.status, 200, view.text);
    assert.ok(view.json.metadata.location.startsWith(`file://${root}/scratch/`));
    assert.equal((await req('GET', '/v1/namespaces/db/views/v')).status, 404);

    // a restart keeps each warehouse's own
    await srv.stop();
    srv = await new Server({ dataDir: srv.dataDir, config }).start();
    assert.deepEqual((await req('GET', '/v1/scratch/namespaces')).json.namespaces, [['db'], ['only']]);
    assert.equal((await req('GET', '/v1/scratch/namespaces/db/tables/t')).json.metadata.properties.k1, 'v');
    assert.equal((await req('GET', '/v1/namespaces/db/tables/t')).json.metadata.properties.k0, 'v');

    // a purge deletes scratch's table folder, not main's namesake
    const mainFiles = files(path.join(root, 'main/db/t'));
    assert.equal((await req('DELETE', '/v1/scratch/namespaces/db/tables/t?purgeRequested=true')).status, 204);
    await pollUntil('scratch db.t purged', async () => !fs.existsSync(path.join(root, 'scratch/db/t')), 5000);
    assert.deepEqual(files(path.join(root, 'main/db/t')), mainFiles);
    assert.equal((await req('GET', '/v1/namespaces/db/tables/t')).status, 200);
    assert.equal((await req('GET', '/v1/scratch/namespaces/db/tables/t')).status, 404);
  } finally {
    await srv.stop();
  }
});

test('two warehouses: a token limited to a namespace reaches it in each; the namespaces a token sees per warehouse', async () => {
  const root = tempDir('icegate-wh-');
  const { srv, admin } = await startWithAdmin({ config: twoWarehouses(root) });
  try {
    for (const p of ['', '/scratch']) {
      for (const ns of [['db'], ['other']]) {
        assert.equal((await srv.req('POST', `/v1${p}/namespaces`, { token: admin, body: { namespace: ns } })).status, 200);
      }
    }
    const lim = createToken(srv.dataDir, 'limited', ['--namespaces', 'db']);
    await sleep(300); // the CLI's token reaches the server within tokens.poll_interval_ms
    for (const p of ['', '/scratch']) {
      assert.equal((await srv.req('POST', `/v1${p}/namespaces/db/tables`, { token: lim.token, body: { name: 't', schema } })).status, 200);
      assert.deepEqual((await srv.req('GET', `/v1${p}/namespaces`, { token: lim.token })).json.namespaces, [['db']]);
      const r = await srv.req('GET', `/v1${p}/namespaces/other`, { token: lim.token });
      assertError(assert, r, 403, /^ForbiddenException$/, /limited to the namespaces db.*: other is outside/);
    }
  } finally {
    await srv.stop();
  }
});

test('two warehouses in journal mode: a power cut before the flush, the files of both written back', async () => {
  const root = tempDir('icegate-wh-');
  const dataDir = tempDir();
  const tok = createToken(dataDir, 'journal');
  const config = twoWarehouses(root, '  metadata_flush_ms: 600000\n'); // nothing synced by the flusher
  let srv = await new Server({ dataDir, config }).start();
  const call = (m, p, body) => srv.req(m, p, { token: tok.token, body });
  const locs = [];
  try {
    for (const p of ['', '/scratch']) {
      assert.equal((await call('POST', `/v1${p}/namespaces`, { namespace: ['db'] })).status, 200);
      const t = await call('POST', `/v1${p}/namespaces/db/tables`, { name: 't', schema });
      assert.equal(t.status, 200, t.text);
      const c = await call('POST', `/v1${p}/namespaces/db/tables/t`, setProp('p'));
      assert.equal(c.status, 200, c.text);
      locs.push(t.json['metadata-location'], c.json['metadata-location']);
    }
    const bytes = locs.map((l) => fs.readFileSync(fsPath(l)));
    srv.kill('SIGKILL');
    await srv.exited;
    for (const l of locs) fs.truncateSync(fsPath(l), 0); // what a lost write-back leaves
    fs.rmSync(path.join(root, 'scratch/db/t/metadata'), { recursive: true }); // and a lost folder
    srv = await new Server({ dataDir, config }).start();
    locs.forEach((l, i) => assert.deepEqual(fs.readFileSync(fsPath(l)), bytes[i], l));
    assert.match(srv.readLog(), /wrote again 4 metadata files/);
    assert.equal((await call('GET', '/v1/scratch/namespaces/db/tables/t')).json.metadata.properties.p, 'v');
  } finally {
    await srv.stop();
  }
});

test('catalog.warehouses: overlapping roots and a name given twice stop the start, naming both', async () => {
  const root = tempDir('icegate-wh-');
  const cases = [
    [`catalog:\n  warehouses:\n    - name: a\n      location: file://${root}/w\n    - name: b\n      location: file://${root}/w/inner\n`,
      /catalog\.warehouses: the locations of a \(file:\/\/.*\/w\) and b \(file:\/\/.*\/w\/inner\) overlap/],
    [`catalog:\n  warehouses:\n    - name: a\n      location: file://${root}/w\n    - name: b\n      location: file://${root}/w\n`,
      /the locations of a .* and b .* overlap/],
    [`catalog:\n  warehouses:\n    - name: a\n      location: file://${root}/x\n    - name: a\n      location: file://${root}/y\n`,
      /the name a is given twice/],
    [`catalog:\n  warehouses:\n    - name: a\n      location: file://${root}/x\n    - name: views\n      location: file://${root}/y\n`,
      /catalog\.warehouses\[1\]\.name: views is a word of the catalog's routes/],
  ];
  for (const [config, re] of cases) {
    const bad = new Server({ config });
    await assert.rejects(bad.start(), /icegate exited at start/);
    assert.match(bad.readLog(), re);
  }
});
