// Namespace restriction (DESIGN.md §8, issue 17 item 2): a token limited to [["analytics"],["raw","events"]]
// reaches those namespaces and everything below them, level by level ("analytics2" is not inside
// "analytics"); listNamespaces shows only the way down to them and what is below them; every route on another
// namespace, a rename out of or into one, and a transaction touching one get 403 ForbiddenException naming the
// token's namespaces, with nothing written; PATCH applies at the very next request; the CLI sets them too; a
// limited token cannot mint a token or widen its own namespaces.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cli } from './lib/harness.js';
import { startWithAdmin } from './lib/helpers.js';

const T = '/api/v1/access-tokens';
const schema = { type: 'struct', 'schema-id': 0, fields: [{ id: 1, name: 'id', required: true, type: 'long' }] };
const seg = (levels) => encodeURIComponent(levels.join('\x1f'));
const change = (namespace, name) => ({
  identifier: { namespace, name },
  requirements: [],
  updates: [{ action: 'set-properties', updates: { touched: '1' } }],
});

async function setup(srv, admin) {
  for (const ns of [['analytics'], ['analytics2'], ['raw'], ['raw', 'events'], ['raw', 'other'], ['other']]) {
    const r = await srv.req('POST', '/v1/namespaces', { token: admin, body: { namespace: ns } });
    assert.equal(r.status, 200, r.text);
  }
  for (const ns of [['analytics'], ['analytics2'], ['raw', 'events'], ['other']]) {
    const r = await srv.req('POST', `/v1/namespaces/${seg(ns)}/tables`, { token: admin, body: { name: 't', schema } });
    assert.equal(r.status, 200, r.text);
  }
}

test('a token limited to namespaces: inside works, outside is 403 naming them, listings show only the way there', async () => {
  const { srv, admin } = await startWithAdmin();
  try {
    await setup(srv, admin);
    const made = await srv.req('POST', T, { token: admin, body: { name: 'analyst', namespaces: [['analytics'], ['raw', 'events'], ['analytics', 'sub']] } });
    assert.equal(made.status, 201, made.text);
    assert.deepEqual(made.json.namespaces, [['analytics'], ['raw', 'events']], 'what is below an entry is already reached');
    const tok = made.json.token;
    const get = (p) => srv.req('GET', p, { token: tok });

    // inside
    for (const ns of [['analytics'], ['raw', 'events']]) {
      assert.equal((await get(`/v1/namespaces/${seg(ns)}`)).status, 200);
      assert.equal((await get(`/v1/namespaces/${seg(ns)}/tables/t`)).status, 200);
      assert.deepEqual((await get(`/v1/namespaces/${seg(ns)}/tables`)).json.identifiers, [{ namespace: ns, name: 't' }]);
    }
    const sub = await srv.req('POST', '/v1/namespaces', { token: tok, body: { namespace: ['analytics', 'daily'] } });
    assert.equal(sub.status, 200, 'below an allowed namespace: allowed');
    const mk = await srv.req('POST', `/v1/namespaces/${seg(['analytics', 'daily'])}/tables`, { token: tok, body: { name: 'd', schema } });
    assert.equal(mk.status, 200, mk.text);

    // outside: level by level, ancestors included, existing or not
    for (const ns of [['analytics2'], ['raw'], ['raw', 'other'], ['other'], ['raw', 'eventsx'], ['nowhere']]) {
      for (const [method, path] of [['GET', ''], ['HEAD', ''], ['GET', '/tables'], ['GET', '/tables/t'], ['HEAD', '/tables/t'], ['DELETE', '/tables/t']]) {
        const r = await srv.req(method, `/v1/namespaces/${seg(ns)}${path}`, { token: tok });
        assert.equal(r.status, 403, `${method} ${ns.join('.')}${path}: ${r.status} ${r.text}`);
        if (method !== 'HEAD') {
          assert.equal(r.json.error.type, 'ForbiddenException');
          assert.match(r.json.error.message, /limited to the namespaces analytics, raw\.events/);
          assert.ok(r.json.error.message.includes(`${ns.join('.')} is outside them`), r.json.error.message);
        }
      }
      const commit = await srv.req('POST', `/v1/namespaces/${seg(ns)}/tables/t`, { token: tok, body: change(ns, 't') });
      assert.equal(commit.status, 403, commit.text);
    }
    const foreign = await srv.req('POST', '/v1/namespaces', { token: tok, body: { namespace: ['analytics2', 'x'] } });
    assert.equal(foreign.status, 403, foreign.text);
    const top = await srv.req('POST', '/v1/namespaces', { token: tok, body: { namespace: ['raw'] } });
    assert.equal(top.status, 403, 'an ancestor is not inside');

    // listings: the way down, and what is below
    assert.deepEqual((await get('/v1/namespaces')).json.namespaces, [['analytics'], ['raw']]);
    assert.deepEqual((await get('/v1/namespaces?parent=raw')).json.namespaces, [['raw', 'events']]);
    assert.deepEqual((await get('/v1/namespaces?parent=analytics')).json.namespaces, [['analytics', 'daily']]);
    assert.equal((await get('/v1/namespaces?parent=other')).status, 403);
    assert.equal((await get('/v1/namespaces?parent=analytics2')).status, 403);
    // pages hold only what it may see, and still end
    const p1 = (await get('/v1/namespaces?pageSize=1')).json;
    assert.deepEqual(p1.namespaces, [['analytics']]);
    const p2 = (await get(`/v1/namespaces?pageSize=1&pageToken=${p1['next-page-token']}`)).json;
    assert.deepEqual(p2.namespaces, [['raw']]);
    assert.equal(p2['next-page-token'], null);
    // the admin token (no namespaces) is not affected
    assert.deepEqual((await srv.req('GET', '/v1/namespaces', { token: admin })).json.namespaces,
      [['analytics'], ['analytics2'], ['other'], ['raw']]);

    // renames: out of, into, and within
    const rename = (from, to) => srv.req('POST', '/v1/tables/rename', {
      token: tok, body: { source: { namespace: from, name: 't' }, destination: { namespace: to, name: 'moved' } },
    });
    assert.equal((await rename(['analytics'], ['other'])).status, 403, 'out of');
    assert.equal((await rename(['other'], ['analytics'])).status, 403, 'into');
    assert.equal((await srv.req('GET', '/v1/namespaces/analytics/tables/t', { token: admin })).status, 200, 'nothing moved');
    assert.equal((await srv.req('GET', '/v1/namespaces/other/tables/t', { token: admin })).status, 200, 'nothing moved');
    assert.equal((await rename(['analytics'], ['raw', 'events'])).status, 204, 'between two allowed namespaces');

    // a transaction touching any other namespace is refused whole
    const tx = await srv.req('POST', '/v1/transactions/commit', {
      token: tok, body: { 'table-changes': [change(['raw', 'events'], 't'), change(['other'], 't')] },
    });
    assert.equal(tx.status, 403, tx.text);
    for (const ns of [['raw', 'events'], ['other']]) {
      const t = (await srv.req('GET', `/v1/namespaces/${seg(ns)}/tables/t`, { token: admin })).json;
      assert.equal(t.metadata.properties?.touched, undefined, `${ns.join('.')}: nothing applied`);
    }
    const ok = await srv.req('POST', '/v1/transactions/commit', {
      token: tok, body: { 'table-changes': [change(['raw', 'events'], 't'), change(['analytics', 'daily'], 'd')] },
    });
    assert.equal(ok.status, 204, ok.text);

    // an Idempotency-Key the owner's other token used elsewhere is not replayed to the limited token
    const key = '017f22e2-79b0-7cc3-98c4-dc0c0c07398f';
    const first = await srv.req('POST', `/v1/namespaces/other/tables`, {
      token: admin, headers: { 'Idempotency-Key': key }, body: { name: 'keyed', schema },
    });
    assert.equal(first.status, 200, first.text);
    const again = await srv.req('POST', `/v1/namespaces/other/tables`, {
      token: tok, headers: { 'Idempotency-Key': key }, body: { name: 'keyed', schema },
    });
    assert.equal(again.status, 400, again.text);
    assert.equal(again.headers.get('idempotent-replayed'), null, 'not a replay');

    // PATCH: the very next request
    const p = await srv.req('PATCH', `${T}/${made.json.id}`, { token: admin, body: { namespaces: [['other']] } });
    assert.equal(p.status, 200, p.text);
    assert.deepEqual(p.json.namespaces, [['other']]);
    assert.equal((await get('/v1/namespaces/analytics/tables/d')).status, 403);
    assert.equal((await get('/v1/namespaces/other/tables/t')).status, 200);
    const all = await srv.req('PATCH', `${T}/${made.json.id}`, { token: admin, body: { namespaces: null } });
    assert.equal(all.json.namespaces, null);
    assert.equal((await get('/v1/namespaces/analytics2/tables/t')).status, 200, 'null: every namespace again');
  } finally {
    await srv.stop();
  }
});

test('namespaces: validation names the field; the CLI sets them; a limited token cannot mint or widen', async () => {
  const { srv, admin, dataDir } = await startWithAdmin();
  try {
    const bad = [[], [[]], ['analytics'], [['']], [['a\x01']], [[1]], 'analytics', [['a', 'b'.repeat(256)]],
      Array.from({ length: 17 }, (_, i) => [`ns${i}`]), [Array.from({ length: 33 }, (_, i) => `l${i}`)]];
    for (const namespaces of bad) {
      const r = await srv.req('POST', T, { token: admin, body: { name: 'bad', namespaces } });
      assert.equal(r.status, 400, `${JSON.stringify(namespaces).slice(0, 80)}: ${r.text}`);
      assert.match(r.json.error.message, /^namespaces: /);
    }
    const c = cli(dataDir, ['token', 'create', '--name', 'cli-ns', '--namespaces', 'analytics,raw.events', '--json']);
    assert.equal(c.code, 0, c.stderr);
    assert.deepEqual(c.json.namespaces, [['analytics'], ['raw', 'events']]);
    const j = cli(dataDir, ['token', 'update', c.json.id, '--namespaces', '[["a.b"],["c"]]', '--json']);
    assert.equal(j.code, 0, j.stderr);
    assert.deepEqual(j.json.namespaces, [['a.b'], ['c']], 'JSON keeps a dot inside a level');
    const show = cli(dataDir, ['token', 'show', c.json.id]);
    assert.match(show.stdout, /namespaces:\s+a\.b, c/);
    assert.equal(cli(dataDir, ['token', 'update', c.json.id, '--namespaces', 'none', '--json']).json.namespaces, null);
    assert.notEqual(cli(dataDir, ['token', 'update', c.json.id, '--namespaces', 'a..b']).code, 0);

    const lim = (await srv.req('POST', T, { token: admin, body: { name: 'lim', namespaces: [['analytics']] } })).json;
    const mint = await srv.req('POST', T, { token: lim.token, body: { name: 'escape' } });
    assert.equal(mint.status, 403, mint.text);
    assert.match(mint.json.error.message, /^namespaces: a token limited to namespaces/);
    const widen = await srv.req('PATCH', `${T}/${lim.id}`, { token: lim.token, body: { namespaces: null } });
    assert.equal(widen.status, 403, widen.text);
    const rename = await srv.req('PATCH', `${T}/${lim.id}`, { token: lim.token, body: { name: 'lim-2' } });
    assert.equal(rename.status, 200, rename.text);
    assert.deepEqual(rename.json.namespaces, [['analytics']]);
    // the change is in the audit log, old -> new
    await srv.req('PATCH', `${T}/${lim.id}`, { token: admin, body: { namespaces: [['analytics'], ['raw']] } });
    const audit = (await srv.req('GET', `/api/v1/audit?target=${lim.id}`, { token: admin })).json;
    const entry = audit.entries.find((e) => e.details?.namespaces?.new);
    assert.ok(entry, JSON.stringify(audit));
    assert.deepEqual(entry.details.namespaces, { old: [['analytics']], new: [['analytics'], ['raw']] });
  } finally {
    await srv.stop();
  }
});
