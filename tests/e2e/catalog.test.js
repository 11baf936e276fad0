// The Iceberg REST Catalog end to end: the real binary, driven by iceberg-js and by plain fetch for what
// iceberg-js lacks, every JSON response validated against the OpenAPI spec's component schemas.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { IcebergRestCatalog, IcebergError } from 'iceberg-js';
import { Server, createToken, tempDir, assertError } from './lib/harness.js';
import { pollUntil } from './lib/helpers.js';
import { call, validatingFetch, validate } from './lib/spec.js';

const fsPath = (loc) => loc.replace(/^file:\/\//, '');
const schema1 = {
  type: 'struct',
  fields: [
    { id: 1, name: 'id', type: 'long', required: true },
    { id: 2, name: 'data', type: 'string', required: false },
  ],
};

let srv, tok, dataDir, cat, seen;

function client(opts = {}) {
  return new IcebergRestCatalog({
    baseUrl: srv.url,
    auth: { type: 'header', name: 'X-API-Token', value: tok },
    fetch: validatingFetch(seen),
    ...opts,
  });
}

// A snapshot JSON text (kept as text so 64-bit ids are never rounded by JSON.parse).
function snapshotUpdate(id, parent, seq, ts = Date.now()) {
  return `{"action":"add-snapshot","snapshot":{"snapshot-id":${id},` +
    (parent !== null ? `"parent-snapshot-id":${parent},` : '') +
    `"sequence-number":${seq},"timestamp-ms":${ts},"manifest-list":"file:///tmp/none/snap-${id}.avro",` +
    `"summary":{"operation":"append"},"schema-id":0}}`;
}

before(async () => {
  dataDir = tempDir();
  tok = createToken(dataDir, 'catalog-e2e').token;
  srv = await new Server({ dataDir }).start();
  seen = { count: 0 };
  cat = client();
});

after(async () => {
  await srv.stop();
  assert.ok(seen.count > 20, `iceberg-js responses validated: ${seen.count}`);
});

describe('config', () => {
  test('defaults, overrides and the exact endpoint list', async () => {
    const r = await call(srv, tok, 'GET', '/v1/config', { status: 200, schema: 'CatalogConfig' });
    assert.deepEqual(r.json.overrides, {});
    assert.ok(r.json.endpoints.includes('POST /v1/{prefix}/transactions/commit'));
    assert.ok(r.json.endpoints.includes('POST /v1/{prefix}/namespaces/{namespace}/register-view'));
    assert.equal(r.json['idempotency-key-lifetime'], 'PT30M', 'Idempotency-Key is honoured and advertised');
    for (const ep of r.json.endpoints) assert.match(ep, /^(GET|HEAD|POST|DELETE) \/v1\/\{prefix\}\//);
  });

  test('a known warehouse (by name or URI) gives a prefix; an unknown one is 404', async () => {
    const byName = await call(srv, tok, 'GET', '/v1/config?warehouse=warehouse', { status: 200 });
    assert.equal(byName.json.overrides.prefix, 'warehouse');
    const uri = encodeURIComponent(srv.wh.root);
    const byUri = await call(srv, tok, 'GET', `/v1/config?warehouse=${uri}`, { status: 200 });
    assert.equal(byUri.json.overrides.prefix, 'warehouse');
    const unknown = await call(srv, tok, 'GET', '/v1/config?warehouse=elsewhere', { status: 404 });
    assert.equal(unknown.json.error.type, 'NoSuchWarehouseException');
    assertError(assert, await srv.req('GET', '/v1/other/namespaces', { token: tok }), 404, /NoSuchWarehouse/);
  });

  test('iceberg-js with a warehouse uses the prefix route', async () => {
    const wcat = client({ warehouse: 'warehouse' });
    await wcat.createNamespace({ namespace: ['via_prefix'] });
    assert.ok(await cat.namespaceExists({ namespace: ['via_prefix'] }));
    assert.ok(await wcat.namespaceExists({ namespace: ['via_prefix'] }));
    await wcat.dropNamespace({ namespace: ['via_prefix'] });
    assert.equal(await cat.namespaceExists({ namespace: ['via_prefix'] }), false);
  });
});

describe('configured warehouse', () => {
  test('catalog.warehouse names the root, the prefix and where tables go', async () => {
    const dir = tempDir();
    const lake = path.join(tempDir('icegate-lake-'), 'deep', 'lake'); // created at start
    const t = createToken(dir, 'lake').token;
    const s2 = await new Server({ dataDir: dir, env: { ICEGATE_CATALOG_WAREHOUSE: `file://${lake}` } }).start();
    try {
      const cfg = await call(s2, t, 'GET', '/v1/config?warehouse=lake', { status: 200 });
      assert.equal(cfg.json.overrides.prefix, 'lake');
      await call(s2, t, 'GET', '/v1/config?warehouse=warehouse', { status: 404 });
      const lcat = new IcebergRestCatalog({ baseUrl: s2.url, warehouse: 'lake', fetch: validatingFetch(seen),
        auth: { type: 'bearer', token: t } });
      await lcat.createNamespace({ namespace: ['l'] });
      const m = await lcat.createTable({ namespace: ['l'] }, { name: 't', schema: schema1 });
      assert.equal(m.location, `file://${lake}/l/t`);
      assert.equal(fs.readdirSync(path.join(lake, 'l', 't', 'metadata')).length, 1);
      await call(s2, t, 'GET', '/v1/lake/namespaces/l/tables/t', { status: 200 });
      await call(s2, t, 'GET', '/v1/warehouse/namespaces/l/tables/t', { status: 404 });
    } finally {
      await s2.stop();
    }
  });
});

describe('namespaces', () => {
  test('lifecycle through iceberg-js', async () => {
    const created = await cat.createNamespace({ namespace: ['sales'] }, { properties: { owner: 'ana', tier: 'gold' } });
    assert.deepEqual(created, { namespace: ['sales'], properties: { owner: 'ana', tier: 'gold' } });
    assert.equal(await cat.namespaceExists({ namespace: ['sales'] }), true);
    assert.equal(await cat.namespaceExists({ namespace: ['nope'] }), false);
    assert.deepEqual((await cat.loadNamespaceMetadata({ namespace: ['sales'] })).properties, { owner: 'ana', tier: 'gold' });
    await assert.rejects(cat.createNamespace({ namespace: ['sales'] }), (e) => e instanceof IcebergError && e.status === 409 &&
      e.icebergType === 'AlreadyExistsException');
    const upd = await cat.updateNamespaceProperties({ namespace: ['sales'] },
      { removals: ['tier', 'ghost'], updates: { owner: 'bo', region: 'eu' } });
    assert.deepEqual(upd.removed, ['tier']);
    assert.deepEqual(upd.missing, ['ghost']);
    assert.deepEqual([...upd.updated].sort(), ['owner', 'region']);
    assert.deepEqual((await cat.loadNamespaceMetadata({ namespace: ['sales'] })).properties, { owner: 'bo', region: 'eu' });
    const both = await call(srv, tok, 'POST', '/v1/namespaces/sales/properties',
      { body: { removals: ['owner'], updates: { owner: 'x' } }, status: 422 });
    assert.equal(both.json.error.type, 'UnprocessableEntityException');
    await cat.dropNamespace({ namespace: ['sales'] });
    await assert.rejects(cat.loadNamespaceMetadata({ namespace: ['sales'] }), (e) => e.status === 404 &&
      e.icebergType === 'NoSuchNamespaceException');
    await assert.rejects(cat.dropNamespace({ namespace: ['sales'] }), (e) => e.status === 404);
  });

  test('multi-level namespaces, parents and odd characters', async () => {
    await cat.createNamespace({ namespace: ['acct'] });
    await cat.createNamespace({ namespace: ['acct', 'tax'] });
    await cat.createNamespace({ namespace: ['acct', 'tax', 'paid.2024'] });
    await cat.createNamespace({ namespace: ['acct', 'ünï cödé/x'] });
    await assert.rejects(cat.createNamespace({ namespace: ['missing', 'child'] }), (e) => e.status === 404);
    const top = await cat.listNamespaces();
    assert.ok(top.namespaces.some((n) => n.namespace.join('|') === 'acct'));
    assert.ok(!top.namespaces.some((n) => n.namespace.length > 1), 'only top level without parent');
    const kids = await cat.listNamespaces({ parent: { namespace: ['acct'] } });
    assert.deepEqual(kids.namespaces.map((n) => n.namespace), [['acct', 'tax'], ['acct', 'ünï cödé/x']]);
    const grand = await cat.listNamespaces({ parent: { namespace: ['acct', 'tax'] } });
    assert.deepEqual(grand.namespaces.map((n) => n.namespace), [['acct', 'tax', 'paid.2024']]);
    assert.ok(await cat.namespaceExists({ namespace: ['acct', 'ünï cödé/x'] }));
    // a parent with a space and a plus travels form-encoded in the query ('+' = space, '%2B' = '+')
    await cat.createNamespace({ namespace: ['my ns+1'] });
    await cat.createNamespace({ namespace: ['my ns+1', 'kid'] });
    const spaced = await cat.listNamespaces({ parent: { namespace: ['my ns+1'] } });
    assert.deepEqual(spaced.namespaces.map((n) => n.namespace), [['my ns+1', 'kid']]);
    await cat.dropNamespace({ namespace: ['my ns+1', 'kid'] });
    await cat.dropNamespace({ namespace: ['my ns+1'] });
    // A table in an odd namespace lands inside the warehouse, the '/' made harmless.
    const m = await cat.createTable({ namespace: ['acct', 'ünï cödé/x'] }, { name: 'odd', schema: schema1 });
    assert.ok(m.location.startsWith(`${srv.wh.root}/acct/`), m.location);
    assert.ok(await srv.wh.exists(m.location));
    await assert.rejects(cat.dropNamespace({ namespace: ['acct'] }), (e) => e.status === 409 &&
      e.icebergType === 'NamespaceNotEmptyException');
    await cat.dropTable({ namespace: ['acct', 'ünï cödé/x'], name: 'odd' }, { purge: true });
    await cat.dropNamespace({ namespace: ['acct', 'ünï cödé/x'] });
    await cat.dropNamespace({ namespace: ['acct', 'tax', 'paid.2024'] });
    await cat.dropNamespace({ namespace: ['acct', 'tax'] });
    await cat.dropNamespace({ namespace: ['acct'] });
  });

  test('invalid identifiers are 400', async () => {
    await call(srv, tok, 'POST', '/v1/namespaces', { body: { namespace: [] }, status: 400 });
    await call(srv, tok, 'POST', '/v1/namespaces', { body: { namespace: ['a\u0001b'] }, status: 400 });
    await call(srv, tok, 'POST', '/v1/namespaces', { body: { namespace: ['ok', ''] }, status: 400 });
    await call(srv, tok, 'POST', '/v1/namespaces', { body: { namespace: ['x'.repeat(300)] }, status: 400 });
    await call(srv, tok, 'POST', '/v1/namespaces', { body: { namespace: 'flat' }, status: 400 });
    await call(srv, tok, 'POST', '/v1/namespaces', { body: { namespace: ['p'], properties: { a: 1 } }, status: 400 });
    await call(srv, tok, 'GET', '/v1/namespaces/%ZZ', { status: 400 });
    await call(srv, tok, 'GET', '/v1/namespaces/a%00b', { status: 400 });
  });

  test('pagination: all without pageToken, pages with it', async () => {
    await cat.createNamespace({ namespace: ['pg'] });
    const names = [];
    for (let i = 0; i < 23; i++) {
      names.push(`n${String(i).padStart(2, '0')}`);
      await cat.createNamespace({ namespace: ['pg', names[i]] });
    }
    const all = await call(srv, tok, 'GET', '/v1/namespaces?parent=pg', { status: 200 });
    assert.equal(all.json.namespaces.length, 23);
    assert.equal(all.json['next-page-token'], null);
    const got = [];
    let token = '';
    let pages = 0;
    for (;;) {
      const page = await cat.listNamespaces({ parent: { namespace: ['pg'] }, pageSize: 10, pageToken: token });
      got.push(...page.namespaces.map((n) => n.namespace[1]));
      pages++;
      assert.ok(page.namespaces.length <= 10);
      if (!page.nextPageToken) break;
      token = page.nextPageToken;
    }
    assert.equal(pages, 3);
    assert.deepEqual(got, names);
    // tables paginate the same way
    for (let i = 0; i < 5; i++) await cat.createTable({ namespace: ['pg'] }, { name: `t${i}`, schema: schema1 });
    const p1 = await cat.listTables({ namespace: ['pg'] }, { pageSize: 2, pageToken: '' });
    assert.deepEqual(p1.identifiers.map((t) => t.name), ['t0', 't1']);
    const p2 = await cat.listTables({ namespace: ['pg'] }, { pageSize: 2, pageToken: p1.nextPageToken });
    assert.deepEqual(p2.identifiers.map((t) => t.name), ['t2', 't3']);
    const p3 = await cat.listTables({ namespace: ['pg'] }, { pageSize: 2, pageToken: p2.nextPageToken });
    assert.deepEqual(p3.identifiers.map((t) => t.name), ['t4']);
    assert.equal(p3.nextPageToken, undefined);
    assert.equal((await cat.listTables({ namespace: ['pg'] })).identifiers.length, 5);
    await call(srv, tok, 'GET', '/v1/namespaces/pg/tables?pageToken=zz', { status: 400 });
    await call(srv, tok, 'GET', '/v1/namespaces/pg/tables?pageToken=&pageSize=0', { status: 400 });
  });
});

describe('tables', () => {
  before(async () => {
    await cat.createNamespace({ namespace: ['db'] });
  });

  test('create, load, exists, list, and table/view names clash', async () => {
    const m = await cat.createTable({ namespace: ['db'] }, { name: 'events', schema: schema1, properties: { k: 'v' } });
    assert.equal(m['format-version'], 2);
    assert.equal(m.location, `${srv.wh.root}/db/events`);
    assert.equal(m.properties.k, 'v');
    assert.equal(m['last-partition-id'], 999);
    const loaded = await cat.loadTable({ namespace: ['db'], name: 'events' });
    assert.equal(loaded['table-uuid'], m['table-uuid']);
    assert.equal(await cat.tableExists({ namespace: ['db'], name: 'events' }), true);
    assert.equal(await cat.tableExists({ namespace: ['db'], name: 'ghost' }), false);
    assert.ok((await cat.listTables({ namespace: ['db'] })).identifiers.some((t) => t.name === 'events'));
    await assert.rejects(cat.createTable({ namespace: ['db'] }, { name: 'events', schema: schema1 }),
      (e) => e.status === 409 && e.icebergType === 'AlreadyExistsException');
    await assert.rejects(cat.createTable({ namespace: ['nowhere'] }, { name: 'x', schema: schema1 }),
      (e) => e.status === 404 && e.icebergType === 'NoSuchNamespaceException');
    await assert.rejects(cat.loadTable({ namespace: ['db'], name: 'ghost' }),
      (e) => e.status === 404 && e.icebergType === 'NoSuchTableException');
    const view = await call(srv, tok, 'POST', '/v1/namespaces/db/views', { body: viewRequest('events'), status: 409 });
    assert.equal(view.json.error.type, 'AlreadyExistsException');
    const res = await call(srv, tok, 'GET', '/v1/namespaces/db/tables/events/credentials', { status: 200 });
    assert.deepEqual(res.json, { 'storage-credentials': [] });
    await call(srv, tok, 'POST', '/v1/namespaces/db/tables/events/metrics',
      { body: { 'report-type': 'scan-report' }, status: 204 });
    // a report for a table not created yet (a staged create's scan) is taken; its namespace must exist
    await call(srv, tok, 'POST', '/v1/namespaces/db/tables/ghost/metrics', { body: { 'report-type': 'commit-report' }, status: 204 });
    await call(srv, tok, 'POST', '/v1/namespaces/db/tables/events/metrics', { body: {}, status: 400 }); // no report-type
    await call(srv, tok, 'POST', '/v1/namespaces/nons/tables/ghost/metrics', { body: {}, status: 404 });
  });

  test('schema evolution through commits', async () => {
    const id = { namespace: ['db'], name: 'evolve' };
    await cat.createTable({ namespace: ['db'] }, { name: 'evolve', schema: schema1 });
    const r = await cat.updateTable(id, {
      requirements: [{ type: 'assert-current-schema-id', 'current-schema-id': 0 }],
      updates: [
        { action: 'add-schema', schema: { type: 'struct', fields: [...schema1.fields,
          { id: 3, name: 'ts', type: 'timestamptz', required: false }] } },
        { action: 'set-current-schema', 'schema-id': -1 },
        { action: 'set-properties', updates: { 'commit.retry.num-retries': '5' } },
      ],
    });
    assert.equal(r.metadata['current-schema-id'], 1);
    assert.equal(r.metadata['last-column-id'], 3);
    assert.equal(r.metadata.schemas.length, 2);
    assert.match(r['metadata-location'], /\/metadata\/00001-[0-9a-f-]{36}\.metadata\.json$/);
    assert.equal(r.metadata['metadata-log'].length, 1);
    // the same requirement again no longer holds
    await assert.rejects(cat.updateTable(id, {
      requirements: [{ type: 'assert-current-schema-id', 'current-schema-id': 0 }],
      updates: [{ action: 'remove-properties', removals: ['commit.retry.num-retries'] }],
    }), (e) => e.status === 409 && e.icebergType === 'CommitFailedException');
    const after = await cat.loadTable(id);
    assert.equal(after.properties['commit.retry.num-retries'], '5');
    assert.equal(after['current-schema-id'], 1);
    // unknown update → 400, nothing changes
    await call(srv, tok, 'POST', '/v1/namespaces/db/tables/evolve',
      { body: { requirements: [], updates: [{ action: 'frobnicate' }] }, status: 400 });
    assert.equal((await cat.loadTable(id))['metadata-log'].length, 1);
  });

  test('snapshots, refs, 64-bit ids, snapshots=refs, metadata files on disk', async () => {
    await cat.createTable({ namespace: ['db'] }, { name: 'snaps', schema: schema1 });
    const big = '9007199254740993'; // 2^53 + 1: would round through a double
    const body = `{"requirements":[{"type":"assert-ref-snapshot-id","ref":"main","snapshot-id":null}],` +
      `"updates":[${snapshotUpdate(big, null, 1)},` +
      `{"action":"set-snapshot-ref","ref-name":"main","type":"branch","snapshot-id":${big}}]}`;
    const c1 = await call(srv, tok, 'POST', '/v1/namespaces/db/tables/snaps', { body, status: 200 });
    assert.match(c1.text, new RegExp(`"current-snapshot-id":${big}[,}]`));
    const body2 = `{"requirements":[{"type":"assert-ref-snapshot-id","ref":"main","snapshot-id":${big}}],` +
      `"updates":[${snapshotUpdate(12345, big, 2)},` +
      `{"action":"set-snapshot-ref","ref-name":"main","type":"branch","snapshot-id":12345},` +
      `{"action":"set-snapshot-ref","ref-name":"v1","type":"tag","snapshot-id":${big}}]}`;
    await call(srv, tok, 'POST', '/v1/namespaces/db/tables/snaps', { body: body2, status: 200 });
    // a third snapshot not referenced by any ref once main moves back
    const body3 = `{"requirements":[{"type":"assert-ref-snapshot-id","ref":"main","snapshot-id":12345}],` +
      `"updates":[${snapshotUpdate(777, 12345, 3)},` +
      `{"action":"set-snapshot-ref","ref-name":"dev","type":"branch","snapshot-id":777}]}`;
    await call(srv, tok, 'POST', '/v1/namespaces/db/tables/snaps', { body: body3, status: 200 });
    const all = await call(srv, tok, 'GET', '/v1/namespaces/db/tables/snaps', { status: 200 });
    assert.equal(all.json.metadata.snapshots.length, 3);
    assert.ok(all.text.includes(`"snapshot-id":${big}`), 'exact 64-bit id in the response text');
    assert.deepEqual(Object.keys(all.json.metadata.refs).sort(), ['dev', 'main', 'v1']);
    // drop the dev branch: snapshot 777 is then unreferenced
    await cat.updateTable({ namespace: ['db'], name: 'snaps' }, {
      requirements: [], updates: [{ action: 'remove-snapshot-ref', 'ref-name': 'dev' }] });
    const refs = await call(srv, tok, 'GET', '/v1/namespaces/db/tables/snaps?snapshots=refs', { status: 200 });
    assert.equal(refs.json.metadata.snapshots.length, 2);
    assert.notEqual(refs.headers.get('etag'), (await srv.req('GET', '/v1/namespaces/db/tables/snaps',
      { token: tok })).headers.get('etag'), 'refs and all have different ETags');
    await call(srv, tok, 'GET', '/v1/namespaces/db/tables/snaps?snapshots=some', { status: 400 });
    // every metadata-log entry and the current file exist; no temp files linger
    const meta = refs.json.metadata;
    assert.equal(meta['metadata-log'].length, 4);
    for (const e of meta['metadata-log']) assert.ok(await srv.wh.exists(e['metadata-file']), e['metadata-file']);
    assert.ok(await srv.wh.exists(refs.json['metadata-location']));
    const files = await srv.wh.list(`${meta.location}/metadata`);
    assert.equal(files.length, 5);
    assert.ok(files.every((f) => /^\d{5}-[0-9a-f-]{36}\.metadata\.json$/.test(f)), files.join(','));
    // the file on disk is the metadata the catalog serves
    const disk = JSON.parse((await srv.wh.read(refs.json['metadata-location'])).toString('utf8'));
    validate('TableMetadata', disk);
    assert.equal(disk['table-uuid'], meta['table-uuid']);
  });

  test('ETag and If-None-Match: 304 while unchanged, 200 after a commit', async () => {
    const id = { namespace: ['db'], name: 'etag' };
    await cat.createTable({ namespace: ['db'] }, { name: 'etag', schema: schema1 });
    const first = await cat.loadTableResult(id);
    assert.ok(first.etag);
    assert.equal(await cat.loadTable(id, { ifNoneMatch: first.etag }), null);
    const raw = await srv.req('GET', '/v1/namespaces/db/tables/etag', { token: tok, headers: { 'If-None-Match': first.etag } });
    assert.equal(raw.status, 304);
    assert.equal(raw.text, '');
    await cat.updateTable(id, { requirements: [], updates: [{ action: 'set-properties', updates: { a: 'b' } }] });
    const second = await cat.loadTableResult(id, { ifNoneMatch: first.etag });
    assert.ok(second && second.etag && second.etag !== first.etag);
    assert.equal(second.metadata.properties.a, 'b');
    // loads are served from the cache keyed by metadata location: the file is not read again
    const file = second['metadata-location'], bytes = await srv.wh.read(file);
    await srv.wh.remove(file);
    try {
      const cached = await cat.loadTableResult(id);
      assert.equal(cached.etag, second.etag);
      assert.deepEqual(cached.metadata, second.metadata);
    } finally {
      await srv.wh.write(file, bytes);
    }
  });

  test('rename, drop without and with purge, register', async () => {
    await cat.createNamespace({ namespace: ['db2'] });
    const m = await cat.createTable({ namespace: ['db'] }, { name: 'mover', schema: schema1 });
    await cat.renameTable({ source: { namespace: ['db'], name: 'mover' }, destination: { namespace: ['db2'], name: 'moved' } });
    assert.equal(await cat.tableExists({ namespace: ['db'], name: 'mover' }), false);
    const moved = await cat.loadTableResult({ namespace: ['db2'], name: 'moved' });
    assert.equal(moved.metadata['table-uuid'], m['table-uuid']);
    await assert.rejects(cat.renameTable({ source: { namespace: ['db'], name: 'mover' },
      destination: { namespace: ['db2'], name: 'x' } }), (e) => e.status === 404);
    await assert.rejects(cat.renameTable({ source: { namespace: ['db2'], name: 'moved' },
      destination: { namespace: ['nowhere'], name: 'x' } }), (e) => e.status === 404 && e.icebergType === 'NoSuchNamespaceException');
    // a new table under the old name does not share the old directory
    const again = await cat.createTable({ namespace: ['db'] }, { name: 'mover', schema: schema1 });
    assert.notEqual(again.location, m.location);
    // drop without purge keeps the files; register brings the table back from them
    await cat.dropTable({ namespace: ['db2'], name: 'moved' });
    assert.ok(await srv.wh.exists(moved['metadata-location']));
    const reg = await cat.registerTableResult({ namespace: ['db2'] },
      { name: 'back', 'metadata-location': moved['metadata-location'] });
    assert.equal(reg.metadata['table-uuid'], m['table-uuid']);
    assert.equal(reg['metadata-location'], moved['metadata-location']);
    await assert.rejects(cat.registerTable({ namespace: ['db2'] }, { name: 'back', 'metadata-location': moved['metadata-location'] }),
      (e) => e.status === 409);
    await call(srv, tok, 'POST', '/v1/namespaces/db2/register',
      { body: { name: 'x', 'metadata-location': `${srv.wh.root}/db/nothing.json` }, status: 400 });
    // purge removes the directory, data files included
    await srv.wh.write(`${m.location}/data/part-00000.parquet`, 'PAR1');
    await cat.dropTable({ namespace: ['db2'], name: 'back' }, { purge: true });
    await pollUntil('the purged table directory is gone', async () => !(await srv.wh.exists(m.location)), 5000);
    assert.ok(await srv.wh.exists(again.location), 'the other table is untouched');
    await assert.rejects(cat.dropTable({ namespace: ['db2'], name: 'back' }), (e) => e.status === 404);
    // unregister keeps files and returns the last metadata
    const un = await call(srv, tok, 'POST', '/v1/namespaces/db/tables/mover/unregister', { status: 200 });
    assert.equal(un.json.metadata['table-uuid'], again['table-uuid']);
    assert.equal(await cat.tableExists({ namespace: ['db'], name: 'mover' }), false);
    assert.ok(await srv.wh.exists(un.json['metadata-location']));
  });

  test('a location equal to, inside or above a live table\'s is refused, naming it (DESIGN.md §6)', async () => {
    const outer = await cat.createTable({ namespace: ['db'] }, { name: 'outer', schema: schema1 });
    const cases = [[outer.location, /db\.outer/], [`${outer.location}/nested`, /db\.outer/], [outer.location.replace(/\/outer$/, ''), /db\./]];
    for (const [location, named] of cases) {
      const r = await call(srv, tok, 'POST', '/v1/namespaces/db/tables',
        { body: { name: 'inner', schema: schema1, location }, status: 409 });
      assert.equal(r.json.error.type, 'AlreadyExistsException');
      assert.match(r.json.error.message, /overlaps table .* at .*catalog\.allow_location_overlap/);
      assert.match(r.json.error.message, named);
    }
    assert.equal(await cat.tableExists({ namespace: ['db'], name: 'inner' }), false);
    // a neighbour whose name only starts the same is not inside
    const next = await cat.createTable({ namespace: ['db'] }, { name: 'inner', schema: schema1, location: `${outer.location}2` });
    assert.equal(next.location, `${outer.location}2`);
    await cat.dropTable({ namespace: ['db'], name: 'inner' }, { purge: true });
    await cat.dropTable({ namespace: ['db'], name: 'outer' }, { purge: true });
    await pollUntil('the outer table purged', async () => !(await srv.wh.exists(outer.location)), 5000);
  });

  test('stage-create then assert-create commit', async () => {
    const staged = await call(srv, tok, 'POST', '/v1/namespaces/db/tables',
      { body: { name: 'ctas', schema: schema1, 'stage-create': true }, status: 200 });
    assert.equal(staged.json['metadata-location'], undefined);
    assert.equal(await cat.tableExists({ namespace: ['db'], name: 'ctas' }), false);
    const m = staged.json.metadata;
    const commit = {
      requirements: [{ type: 'assert-create' }],
      updates: [
        { action: 'assign-uuid', uuid: m['table-uuid'] },
        { action: 'upgrade-format-version', 'format-version': 2 },
        { action: 'add-schema', schema: m.schemas[0] },
        { action: 'set-current-schema', 'schema-id': -1 },
        { action: 'add-spec', spec: { 'spec-id': 0, fields: [] } },
        { action: 'set-default-spec', 'spec-id': -1 },
        { action: 'add-sort-order', 'sort-order': { 'order-id': 0, fields: [] } },
        { action: 'set-default-sort-order', 'sort-order-id': -1 },
        { action: 'set-location', location: m.location },
        { action: 'set-properties', updates: { created: 'by-ctas' } },
      ],
    };
    const done = await call(srv, tok, 'POST', '/v1/namespaces/db/tables/ctas', { body: commit, status: 200 });
    assert.equal(done.json.metadata['table-uuid'], m['table-uuid']);
    assert.equal((await cat.loadTable({ namespace: ['db'], name: 'ctas' })).properties.created, 'by-ctas');
    const twice = await call(srv, tok, 'POST', '/v1/namespaces/db/tables/ctas', { body: commit, status: 409 });
    assert.equal(twice.json.error.type, 'CommitFailedException');
    // a commit to a missing table without assert-create is 404
    await call(srv, tok, 'POST', '/v1/namespaces/db/tables/ghost', { body: { requirements: [], updates: [] }, status: 404 });
  });

  test('multi-table transaction: all or nothing', async () => {
    await cat.createTable({ namespace: ['db'] }, { name: 'tx_a', schema: schema1 });
    await cat.createTable({ namespace: ['db'] }, { name: 'tx_b', schema: schema1 });
    const change = (name, req) => ({
      identifier: { namespace: ['db'], name },
      requirements: req,
      updates: [{ action: 'set-properties', updates: { tx: '1' } }],
    });
    const bad = await call(srv, tok, 'POST', '/v1/transactions/commit', {
      body: { 'table-changes': [change('tx_a', []), change('tx_b', [{ type: 'assert-current-schema-id', 'current-schema-id': 7 }])] },
      status: 409,
    });
    assert.equal(bad.json.error.type, 'CommitFailedException');
    assert.equal((await cat.loadTable({ namespace: ['db'], name: 'tx_a' })).properties.tx, undefined, 'nothing applied');
    const ghost = await call(srv, tok, 'POST', '/v1/transactions/commit',
      { body: { 'table-changes': [change('tx_a', []), change('ghost', [])] }, status: 404 });
    assert.equal(ghost.json.error.type, 'NoSuchTableException');
    await call(srv, tok, 'POST', '/v1/transactions/commit',
      { body: { 'table-changes': [change('tx_a', []), change('tx_b', [])] }, status: 204 });
    assert.equal((await cat.loadTable({ namespace: ['db'], name: 'tx_a' })).properties.tx, '1');
    assert.equal((await cat.loadTable({ namespace: ['db'], name: 'tx_b' })).properties.tx, '1');
    await call(srv, tok, 'POST', '/v1/transactions/commit',
      { body: { 'table-changes': [change('tx_a', []), change('tx_a', [])] }, status: 400 });
    await call(srv, tok, 'POST', '/v1/transactions/commit', { body: { 'table-changes': [{ requirements: [], updates: [] }] }, status: 400 });
  });

  // symbolic links and file:// spellings: the file warehouse's own (s3.test.js has S3's outside locations)
  test('locations stay inside the warehouse', { skip: process.env.E2E_WAREHOUSE === 's3' && 'file warehouse only' }, async () => {
    const outside = tempDir('icegate-outside-');
    const cases = [`file://${outside}/t`, '/etc/x', 's3://bucket/t', `file://${dataDir}/warehouse/../escape`,
      `file://${dataDir}/warehouse`, `file://${dataDir}/warehouse/./db/t`, `file://${dataDir}/warehouse2/t`];
    for (const location of cases) {
      const r = await call(srv, tok, 'POST', '/v1/namespaces/db/tables', { body: { name: 'esc', schema: schema1, location }, status: 400 });
      assert.match(r.json.error.message, /location/);
    }
    // a symlink planted inside the warehouse does not lead out of it
    fs.symlinkSync(outside, path.join(dataDir, 'warehouse', 'link'));
    const viaLink = await call(srv, tok, 'POST', '/v1/namespaces/db/tables',
      { body: { name: 'esc', schema: schema1, location: `file://${dataDir}/warehouse/link/t` }, status: 400 });
    assert.match(viaLink.json.error.message, /symbolic link/);
    assert.deepEqual(fs.readdirSync(outside), []);
    fs.writeFileSync(path.join(outside, 'm.metadata.json'), '{}');
    await call(srv, tok, 'POST', '/v1/namespaces/db/register',
      { body: { name: 'esc', 'metadata-location': `file://${dataDir}/warehouse/link/m.metadata.json` }, status: 400 });
    // set-location to outside is refused and leaves the table as it was
    await cat.createTable({ namespace: ['db'] }, { name: 'stay', schema: schema1 });
    await call(srv, tok, 'POST', '/v1/namespaces/db/tables/stay',
      { body: { requirements: [], updates: [{ action: 'set-location', location: `file://${outside}` }] }, status: 400 });
    assert.equal((await cat.loadTable({ namespace: ['db'], name: 'stay' }))['metadata-log'].length, 0);
    // tables named with dots stay inside too (a URL cannot even carry '..' as a segment)
    for (const name of ['...', '.hidden']) {
      const dots = await cat.createTable({ namespace: ['db'] }, { name, schema: schema1 });
      assert.ok(fsPath(dots.location).startsWith(`${dataDir}/warehouse/db/%2E`), dots.location);
      await cat.dropTable({ namespace: ['db'], name }, { purge: true });
      await pollUntil(`${name} purged`, () => !fs.existsSync(fsPath(dots.location)), 5000);
    }
    assert.ok(fs.existsSync(path.join(dataDir, 'warehouse', 'db', 'stay')), 'siblings survive');
  });
});

function viewRequest(name, sql = 'select 1 as x') {
  return {
    name,
    schema: { type: 'struct', 'schema-id': 0, fields: [{ id: 1, name: 'x', type: 'int', required: false }] },
    'view-version': {
      'version-id': 1, 'timestamp-ms': Date.now(), 'schema-id': 0, summary: { engine: 'e2e' },
      representations: [{ type: 'sql', sql, dialect: 'spark' }], 'default-namespace': ['vw'],
    },
    properties: { comment: 'test view' },
  };
}

describe('views', () => {
  before(async () => {
    await cat.createNamespace({ namespace: ['vw'] });
  });

  test('create, load, list, exists, replace, rename, drop, register', async () => {
    const c = await call(srv, tok, 'POST', '/v1/namespaces/vw/views', { body: viewRequest('v1'), status: 200 });
    assert.equal(c.json.metadata['current-version-id'], 1);
    assert.ok(await srv.wh.exists(c.json['metadata-location']));
    await call(srv, tok, 'POST', '/v1/namespaces/vw/views', { body: viewRequest('v1'), status: 409 });
    const l = await call(srv, tok, 'GET', '/v1/namespaces/vw/views/v1', { status: 200 });
    assert.equal(l.json.metadata['view-uuid'], c.json.metadata['view-uuid']);
    const etag = l.headers.get('etag');
    assert.equal((await srv.req('GET', '/v1/namespaces/vw/views/v1', { token: tok, headers: { 'If-None-Match': etag } })).status, 304);
    assert.equal((await srv.req('HEAD', '/v1/namespaces/vw/views/v1', { token: tok })).status, 204);
    assert.equal((await srv.req('HEAD', '/v1/namespaces/vw/views/nope', { token: tok })).status, 404);
    const list = await call(srv, tok, 'GET', '/v1/namespaces/vw/views', { status: 200 });
    assert.deepEqual(list.json.identifiers, [{ namespace: ['vw'], name: 'v1' }]);
    assert.deepEqual((await cat.listTables({ namespace: ['vw'] })).identifiers, [], 'views are not tables');
    await call(srv, tok, 'GET', '/v1/namespaces/vw/tables/v1', { status: 404 });
    const rep = await call(srv, tok, 'POST', '/v1/namespaces/vw/views/v1', {
      body: {
        requirements: [{ type: 'assert-view-uuid', uuid: c.json.metadata['view-uuid'] }],
        updates: [
          { action: 'add-view-version', 'view-version': { ...viewRequest('v1', 'select 2 as x')['view-version'], 'version-id': 2 } },
          { action: 'set-current-view-version', 'view-version-id': -1 },
        ],
      },
      status: 200,
    });
    assert.equal(rep.json.metadata['current-version-id'], 2);
    assert.notEqual(rep.json['metadata-location'], c.json['metadata-location']);
    await call(srv, tok, 'POST', '/v1/namespaces/vw/views/v1', {
      body: { requirements: [{ type: 'assert-view-uuid', uuid: '00000000-0000-0000-0000-000000000000' }], updates: [] },
      status: 409,
    });
    await call(srv, tok, 'POST', '/v1/views/rename',
      { body: { source: { namespace: ['vw'], name: 'v1' }, destination: { namespace: ['vw'], name: 'v2' } }, status: 204 });
    await call(srv, tok, 'GET', '/v1/namespaces/vw/views/v1', { status: 404 });
    await call(srv, tok, 'POST', '/v1/tables/rename',
      { body: { source: { namespace: ['vw'], name: 'v2' }, destination: { namespace: ['vw'], name: 'v3' } }, status: 404 });
    // a live view's files are its own: registering them as a second view is refused, after a drop it works
    const twin = await call(srv, tok, 'POST', '/v1/namespaces/vw/register-view',
      { body: { name: 'again', 'metadata-location': rep.json['metadata-location'] }, status: 409 });
    assert.match(twin.json.error.message, /overlaps view vw\.v2 at /);
    await call(srv, tok, 'DELETE', '/v1/namespaces/vw/views/v2', { status: 204 });
    await call(srv, tok, 'DELETE', '/v1/namespaces/vw/views/v2', { status: 404 });
    const reg = await call(srv, tok, 'POST', '/v1/namespaces/vw/register-view',
      { body: { name: 'again', 'metadata-location': rep.json['metadata-location'] }, status: 200 });
    assert.equal(reg.json.metadata['current-version-id'], 2);
    await call(srv, tok, 'DELETE', '/v1/namespaces/vw/views/again', { status: 204 });
  });
});

describe('HTTP errors', () => {
  test('unknown routes 404, wrong methods 405, malformed JSON 400, all Iceberg errors', async () => {
    assertError(assert, await call(srv, tok, 'GET', '/v1/nothing/here/at/all'), 404, /NotFound/);
    assertError(assert, await call(srv, tok, 'GET', '/v1/namespaces/db/tables/events/plan'), 404);
    assertError(assert, await call(srv, tok, 'GET', '/v1/namespaces/a/b/c/d/e/f/g/h/i'), 404);
    const m = await call(srv, tok, 'PUT', '/v1/namespaces', { status: 405 });
    assert.match(m.headers.get('allow'), /GET, POST/);
    await call(srv, tok, 'PATCH', '/v1/namespaces/db', { status: 405 });
    await call(srv, tok, 'GET', '/v1/tables/rename', { status: 405 });
    await call(srv, tok, 'POST', '/v1/config', { status: 405 });
    for (const body of ['{"namespace":', 'not json', '[]', '{"namespace":["a"]} trailing']) {
      const r = await call(srv, tok, 'POST', '/v1/namespaces', { body, headers: { 'Content-Type': 'application/json' }, status: 400 });
      assert.equal(r.json.error.type, 'BadRequestException');
    }
    await call(srv, tok, 'POST', '/v1/namespaces/db/tables', { body: { name: 'x' }, status: 400 });
    await call(srv, tok, 'POST', '/v1/namespaces/db/tables/events', { body: { updates: [] }, status: 400 });
    await call(srv, tok, 'DELETE', '/v1/namespaces/db/tables/events?purgeRequested=maybe', { status: 400 });
    assertError(assert, await srv.req('GET', '/v1/namespaces'), 401, /NotAuthorized/);
  });

  test('garbage paths get a clear 4xx and the server keeps serving', async () => {
    const paths = ['/v1/namespaces/%', '/v1/namespaces/%1', '/v1/namespaces/%1F', '/v1//namespaces',
      '/v1/namespaces//tables', '/v1/namespaces/db/tables/', `/v1/namespaces/${'x'.repeat(5000)}`,
      `/v1/namespaces/${'a%1F'.repeat(40)}a`, '/v1/namespaces/db/tables/%C3%28', '/v1/warehouse/warehouse/namespaces',
      '/v1/namespaces/db/views/v/extra', '/v1/' + 'a/'.repeat(30)];
    for (const p of paths) {
      for (const method of ['GET', 'HEAD', 'POST', 'DELETE']) {
        const r = await srv.req(method, p, { token: tok, body: method === 'POST' ? {} : undefined });
        assert.ok(r.status >= 400 && r.status < 500, `${method} ${p.slice(0, 60)}: ${r.status} ${r.text}`);
        if (method !== 'HEAD') validate('IcebergErrorResponse', r.json);
      }
    }
    assert.equal((await srv.req('GET', '/healthz')).status, 200);
  });
});
