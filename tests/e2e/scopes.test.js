// Scopes (DESIGN.md §8, issue 17 item 1): catalog:read, catalog:write, admin.  The matrix: every route the
// server advertises in GET /v1/config's endpoints (its route table) × each scope set → 403 ForbiddenException
// naming the missing scope exactly when the route needs one the token lacks, decided before the body is read
// and before anything is written; the defaults by owner role; a token cannot grant scopes it lacks; the admin
// scope gates what an admin user's token may do beyond its own tokens.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cli, createToken } from './lib/harness.js';
import { startWithAdmin, useToken, pollUntil } from './lib/helpers.js';

const T = '/api/v1/access-tokens';
const READ = 'catalog:read';
const WRITE = 'catalog:write';
const ADMIN = 'admin';

// The scope a route needs: reads are GET/HEAD and metrics reports; everything else writes.
const needs = (method, tpl) => (method === 'GET' || method === 'HEAD' || (method === 'POST' && tpl.endsWith('/metrics')) ? READ : WRITE);

function concrete(tpl) {
  return tpl.replace('/{prefix}', '').replace('{namespace}', 'scoped').replace('{table}', 't').replace('{view}', 'v');
}

test('matrix: every advertised route × scope set: 403 naming the missing scope exactly when it is missing, nothing written', async () => {
  const { srv, admin } = await startWithAdmin();
  try {
    const cfg = await srv.req('GET', '/v1/config', { token: admin });
    const endpoints = cfg.json.endpoints;
    assert.ok(endpoints.length >= 20, cfg.text);
    assert.equal((await srv.req('POST', '/v1/namespaces', { token: admin, body: { namespace: ['scoped'] } })).status, 200);
    const sets = [[READ], [WRITE], [READ, WRITE], [ADMIN], [READ, WRITE, ADMIN]];
    const tokens = {};
    for (const sc of sets) {
      const r = await srv.req('POST', T, { token: admin, body: { name: `t-${sc.join('+')}`, scopes: sc } });
      assert.equal(r.status, 201, r.text);
      assert.deepEqual(r.json.scopes, sc);
      tokens[sc.join('+')] = r.json.token;
    }
    const cells = [];
    for (const ep of [...endpoints, 'GET /v1/config']) {
      const [method, tpl] = ep.split(' ');
      const need = needs(method, tpl);
      for (const sc of sets) {
        // A body that would change something if it got that far: a 403 must come before it is read.
        const body = method === 'POST' || method === 'DELETE' ? { namespace: ['written-by-' + sc.join('')], name: 'x' } : undefined;
        const r = await srv.req(method, concrete(tpl), { token: tokens[sc.join('+')], body });
        const allowed = sc.includes(need);
        if (allowed) {
          assert.notEqual(r.status, 403, `${ep} with ${sc}: ${r.text}`);
        } else {
          assert.equal(r.status, 403, `${ep} with ${sc}: ${r.status} ${r.text}`);
          if (method !== 'HEAD') {
            assert.equal(r.json.error.type, 'ForbiddenException');
            assert.match(r.json.error.message, new RegExp(`lacks the scope ${need} for ${method} `));
          }
        }
        cells.push(`${ep} ${sc}`);
      }
    }
    assert.equal(cells.length, (endpoints.length + 1) * sets.length);
    // nothing a refused token sent was written
    const ns = await srv.req('GET', '/v1/namespaces', { token: admin });
    const names = ns.json.namespaces.map((n) => n[0]);
    assert.ok(names.includes(`written-by-${WRITE}`), `the writer's create went through: ${names}`);
    assert.deepEqual(names.filter((n) => n === `written-by-${READ}` || n === `written-by-${ADMIN}`), []);
  } finally {
    await srv.stop();
  }
});

test('defaults: an admin user\'s token gets all three, a member\'s read and write; admin scope only for admin users', async () => {
  const { srv, admin, dataDir } = await startWithAdmin();
  try {
    const a = await srv.req('POST', T, { token: admin, body: { name: 'adm' } });
    assert.deepEqual(a.json.scopes, [READ, WRITE, ADMIN]);
    assert.equal(cli(dataDir, ['user', 'add', 'mel', '--role', 'member'], { env: { ICEGATE_NEW_PASSWORD: 'mel-password-123' } }).code, 0);
    const mel = createToken(dataDir, 'mel-key', ['--owner', 'mel']);
    assert.deepEqual(mel.scopes, [READ, WRITE]);
    await pollUntil('the server sees the CLI token', async () => ((await useToken(srv, mel.token)).status === 200 ? 1 : null), 5000, 50);
    const bad = await srv.req('POST', T, { token: mel.token, body: { name: 'x', scopes: [ADMIN] } });
    assert.equal(bad.status, 400, bad.text);
    assert.match(bad.json.error.message, /scopes: admin is only for tokens of admin users/);
    for (const scopes of [[], ['catalog:delete'], 'catalog:read', [1]]) {
      const r = await srv.req('POST', T, { token: admin, body: { name: 'bad-scopes', scopes } });
      assert.equal(r.status, 400, `${JSON.stringify(scopes)}: ${r.text}`);
      assert.match(r.json.error.message, /^scopes: /);
    }
  } finally {
    await srv.stop();
  }
});

test('a token cannot grant what it lacks; admin scope gates /metrics and other owners\' tokens; PATCH scopes bites at once', async () => {
  const { srv, admin, dataDir } = await startWithAdmin();
  try {
    const ro = (await srv.req('POST', T, { token: admin, body: { name: 'ro', scopes: [READ] } })).json;
    // A read-only token minting a writer: 403, nothing made.
    const up = await srv.req('POST', T, { token: ro.token, body: { name: 'escalate', scopes: [READ, WRITE] } });
    assert.equal(up.status, 403, up.text);
    assert.match(up.json.error.message, /can only grant scopes it has/);
    const up2 = await srv.req('PATCH', `${T}/${ro.id}`, { token: ro.token, body: { scopes: [READ, WRITE] } });
    assert.equal(up2.status, 403, up2.text);
    const same = await srv.req('POST', T, { token: ro.token, body: { name: 'also-ro', scopes: [READ] } });
    assert.equal(same.status, 201, same.text);
    // An admin user's token without the admin scope acts as a member: only its own tokens, no /metrics.
    const rw = (await srv.req('POST', T, { token: admin, body: { name: 'rw', scopes: [READ, WRITE] } })).json;
    assert.equal((await srv.req('GET', '/metrics', { token: rw.token })).status, 403);
    assert.equal((await srv.req('GET', '/metrics', { token: admin })).status, 200);
    assert.equal(cli(dataDir, ['user', 'add', 'mel', '--role', 'member'], { env: { ICEGATE_NEW_PASSWORD: 'mel-password-123' } }).code, 0);
    const mel = createToken(dataDir, 'mel-key', ['--owner', 'mel']);
    await pollUntil('the server sees the CLI token', async () => ((await useToken(srv, mel.token)).status === 200 ? 1 : null), 5000, 50);
    assert.equal((await srv.req('GET', `${T}/${mel.id}`, { token: admin })).status, 200);
    assert.equal((await srv.req('GET', `${T}/${mel.id}`, { token: rw.token })).status, 404, 'not an admin without the scope');
    // PATCH scopes: the very next request sees it.
    assert.equal((await srv.req('POST', '/v1/namespaces', { token: rw.token, body: { namespace: ['w1'] } })).status, 200);
    const p = await srv.req('PATCH', `${T}/${rw.id}`, { token: admin, body: { scopes: [READ] } });
    assert.equal(p.status, 200, p.text);
    assert.deepEqual(p.json.scopes, [READ]);
    const refused = await srv.req('POST', '/v1/namespaces', { token: rw.token, body: { namespace: ['w2'] } });
    assert.equal(refused.status, 403, refused.text);
    assert.equal((await useToken(srv, rw.token)).status, 200, 'reads still work');
    // The CLI: --scopes on create and update, shown by show.
    const c = cli(dataDir, ['token', 'create', '--name', 'cli-ro', '--scopes', 'catalog:read', '--json']);
    assert.equal(c.code, 0, c.stderr);
    assert.deepEqual(c.json.scopes, [READ]);
    const u = cli(dataDir, ['token', 'update', c.json.id, '--scopes', 'catalog:read,catalog:write', '--json']);
    assert.deepEqual(u.json.scopes, [READ, WRITE]);
    assert.notEqual(cli(dataDir, ['token', 'update', c.json.id, '--scopes', 'everything']).code, 0);
  } finally {
    await srv.stop();
  }
});

test('a scopes change is audited old -> new', async () => {
  const { srv, admin } = await startWithAdmin();
  try {
    const t = (await srv.req('POST', T, { token: admin, body: { name: 'narrowed' } })).json;
    assert.equal((await srv.req('PATCH', `${T}/${t.id}`, { token: admin, body: { scopes: [READ] } })).status, 200);
    const a = await srv.req('GET', `/api/v1/audit?target=${t.id}&action=token.update`, { token: admin });
    assert.equal(a.status, 200, a.text);
    assert.deepEqual(a.json.entries[0].details.scopes, { old: [READ, WRITE, ADMIN], new: [READ] });
  } finally {
    await srv.stop();
  }
});
