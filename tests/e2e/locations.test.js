// Locations (DESIGN.md §6; hardening issue, item 1): a table's location never overlaps a live object's, a
// moved table keeps its old folder, a purge deletes only what no live object has, and creates, commits and
// purges at one location are ordered — so a purge can never take a live table's files, even in a race, even
// with catalog.allow_location_overlap.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import test from 'node:test';

import { Server, createToken, sleep, tempDir } from './lib/harness.js';
import { pollUntil } from './lib/helpers.js';

const schema = { type: 'struct', fields: [{ id: 1, name: 'id', type: 'long', required: true }] };
const fsPath = (loc) => loc.replace(/^file:(\/\/)?/, '');
const OVERLAP = 'catalog:\n  allow_location_overlap: true\n';

async function start(dataDir, config) {
  return new Server({ dataDir, config }).start();
}

function client(srv, tok) {
  return (method, p, body, headers) => srv.req(method, `/v1/namespaces${p}`, { token: tok.token, body, headers });
}

async function commit(call, table, updates) {
  const r = await call('POST', `/db/tables/${table}`, { requirements: [], updates });
  assert.equal(r.status, 200, r.text);
  return r.json;
}

test('a moved table keeps its old folder: no table is created there, and a purge there never deletes its files', async () => {
  const dataDir = tempDir();
  const tok = createToken(dataDir, 'loc');
  let srv = await start(dataDir);
  let call = client(srv, tok);
  try {
    assert.equal((await call('POST', '', { namespace: ['db'] })).status, 200);
    const a = await call('POST', '/db/tables', { name: 'a', schema });
    assert.equal(a.status, 200, a.text);
    const old = a.json.metadata.location;
    await commit(call, 'a', [{ action: 'set-properties', updates: { v: '1' } }]);
    fs.mkdirSync(path.join(fsPath(old), 'data'), { recursive: true });
    fs.writeFileSync(path.join(fsPath(old), 'data', 'part-0.parquet'), 'PAR1');
    const moved = await commit(call, 'a', [{ action: 'set-location', location: `${old}-moved` }]);
    assert.equal(moved.metadata.location, `${old}-moved`);
    const oldFiles = moved.metadata['metadata-log'].map((e) => fsPath(e['metadata-file']));
    assert.equal(oldFiles.length, 2);
    // The old folder is still table a's (its files are there): refused, naming it.
    const c = await call('POST', '/db/tables', { name: 'c', schema, location: old });
    assert.equal(c.status, 409, c.text);
    assert.match(c.json.error.message, /overlaps table db\.a at /);
    // Nor may another table move there.
    const b = await call('POST', '/db/tables', { name: 'b', schema });
    assert.equal(b.status, 200, b.text);
    const mv = await call('POST', '/db/tables/b', { requirements: [], updates: [{ action: 'set-location', location: `${old}/sub` }] });
    assert.equal(mv.status, 409, mv.text);
    assert.match(mv.json.error.message, /overlaps table db\.a/);
    await srv.stop();

    // With overlap allowed the create goes through, but the purge of c keeps what a has or had there.
    srv = await start(dataDir, OVERLAP);
    call = client(srv, tok);
    assert.equal((await call('POST', '/db/tables', { name: 'c', schema, location: old })).status, 200);
    assert.equal((await call('DELETE', '/db/tables/c?purgeRequested=true')).status, 204);
    assert.match(srv.ownLog(), /purge of .* skipped: it overlaps the location of table db\.a/);
    for (const f of oldFiles) assert.ok(fs.existsSync(f), `${f} was deleted`);
    assert.ok(fs.existsSync(path.join(fsPath(old), 'data', 'part-0.parquet')));
    await srv.stop();

    // After a restart (nothing cached) table a still loads, its whole metadata log on disk.
    srv = await start(dataDir);
    call = client(srv, tok);
    const again = await call('GET', '/db/tables/a');
    assert.equal(again.status, 200, again.text);
    for (const e of again.json.metadata['metadata-log']) assert.ok(fs.existsSync(fsPath(e['metadata-file'])));
    // Dropping a with purge deletes both its folders.
    assert.equal((await call('DELETE', '/db/tables/a?purgeRequested=true')).status, 204);
    await pollUntil('both folders purged', () => !fs.existsSync(fsPath(old)) && !fs.existsSync(fsPath(`${old}-moved`)), 5000);
  } finally {
    await srv.stop();
  }
});

test('default locations of nested namespaces never overlap: the inner one takes a suffix', async () => {
  const dataDir = tempDir();
  const tok = createToken(dataDir, 'loc');
  const srv = await start(dataDir);
  const call = client(srv, tok);
  try {
    assert.equal((await call('POST', '', { namespace: ['a'] })).status, 200);
    assert.equal((await call('POST', '', { namespace: ['a', 'b'] })).status, 200);
    const outer = await call('POST', '/a/tables', { name: 'b', schema }); // <warehouse>/a/b
    assert.equal(outer.status, 200, outer.text);
    const inner = await call('POST', '/a%1Fb/tables', { name: 't', schema }); // <warehouse>/a/b/t would be inside
    assert.equal(inner.status, 200, inner.text);
    const lo = outer.json.metadata.location, li = inner.json.metadata.location;
    assert.ok(!li.startsWith(`${lo}/`) && !lo.startsWith(`${li}/`), `${li} overlaps ${lo}`);
    // Purging the outer table leaves the inner one whole.
    assert.equal((await call('DELETE', '/a/tables/b?purgeRequested=true')).status, 204);
    await pollUntil('the outer table purged', () => !fs.existsSync(fsPath(lo)), 5000);
    assert.equal((await call('GET', '/a%1Fb/tables/t')).status, 200);
    assert.ok(fs.existsSync(fsPath(inner.json['metadata-location'])));
  } finally {
    await srv.stop();
  }
});

// Round after round, table i at L is dropped with purge while table i+1 is created at L (retried while L is
// taken): every create that was answered 200 must still load after a restart, and nothing answers 500.
async function race(config) {
  const dataDir = tempDir();
  const tok = createToken(dataDir, 'race');
  let srv = await start(dataDir, config);
  let call = client(srv, tok);
  const loc = `file://${dataDir}/warehouse/db/shared`;
  const statuses = {};
  const live = new Set();
  const note = (s) => { statuses[s] = (statuses[s] || 0) + 1; };
  try {
    assert.equal((await call('POST', '', { namespace: ['db'] })).status, 200);
    assert.equal((await call('POST', '/db/tables', { name: 't0', schema, location: loc })).status, 200);
    live.add('t0');
    const rounds = 40;
    for (let i = 1; i <= rounds; i++) {
      const drop = call('DELETE', `/db/tables/t${i - 1}?purgeRequested=true`).then((r) => {
        note(r.status);
        if (r.status === 204) live.delete(`t${i - 1}`);
      });
      const create = (async () => {
        for (let tries = 0; tries < 400; tries++) {
          const r = await call('POST', '/db/tables', { name: `t${i}`, schema, location: loc });
          note(r.status);
          if (r.status === 200) return live.add(`t${i}`);
          assert.equal(r.status, 409, r.text);
          await sleep(2);
        }
        assert.fail(`t${i} was never created at ${loc}`);
      })();
      await Promise.all([drop, create]);
    }
    assert.equal(statuses[500], undefined, JSON.stringify(statuses));
    await srv.stop();
    srv = await start(dataDir, config);
    call = client(srv, tok);
    for (const t of live) {
      const r = await call('GET', `/db/tables/${t}`);
      assert.equal(r.status, 200, `${t}: ${r.text}`);
      assert.ok(fs.existsSync(fsPath(r.json['metadata-location'])));
    }
    assert.ok(live.has(`t${rounds}`));
  } finally {
    await srv.stop();
  }
}

test('a create at L racing a purge of another table at L never loses the new table\'s metadata', async () => {
  await race(undefined);
});

test('... nor with catalog.allow_location_overlap: true (the purge then keeps what a live table has there)', async () => {
  await race(OVERLAP);
});

test('register: a metadata file of a live table cannot be registered as a second table', async () => {
  const dataDir = tempDir();
  const tok = createToken(dataDir, 'loc');
  const srv = await start(dataDir);
  const call = client(srv, tok);
  try {
    assert.equal((await call('POST', '', { namespace: ['db'] })).status, 200);
    const a = await call('POST', '/db/tables', { name: 'a', schema });
    assert.equal(a.status, 200);
    const r = await call('POST', '/db/register', { name: 'twin', 'metadata-location': a.json['metadata-location'] });
    assert.equal(r.status, 409, r.text);
    assert.match(r.json.error.message, /overlaps table db\.a/);
    // Overwriting the table itself with its own file is no overlap.
    const same = await call('POST', '/db/register', { name: 'a', 'metadata-location': a.json['metadata-location'], overwrite: true });
    assert.equal(same.status, 200, same.text);
  } finally {
    await srv.stop();
  }
});
