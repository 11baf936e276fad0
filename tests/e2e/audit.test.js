// The audit log (DESIGN.md §8): every token and user change and every console login (success or failure)
// is in GET /api/v1/audit with actor, target, what changed (old -> new for a PATCH) and the client address,
// never a secret or a password; filters and paging; members see only their own; retention deletes old entries.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import test from 'node:test';

import { ADMIN_PASSWORD, Server, assertError, cli, createToken, tempDir, onPostgres } from './lib/harness.js';
import { pollUntil } from './lib/helpers.js';

const T = '/api/v1/access-tokens';
const A = '/api/v1/audit';
const MEL_PW = 'mel-password-1';

async function setup(config) {
  const dataDir = tempDir();
  const admin = createToken(dataDir, 'admin-key');
  const srv = await new Server({ dataDir, config }).start();
  return { dataDir, srv, admin: admin.token, adminRec: admin };
}

async function audit(srv, auth, query = '') {
  const r = await srv.req('GET', `${A}${query}`, auth);
  assert.equal(r.status, 200, r.text);
  return r.json;
}

test('token changes by API and CLI are audited: actor, token, address, old -> new; never the secret', async () => {
  const { dataDir, srv, admin, adminRec } = await setup();
  const c = await srv.req('POST', T, { token: admin, body: { name: 'spark', maxRps: 5 } });
  assert.equal(c.status, 201, c.text);
  const id = c.json.id;
  const p = await srv.req('PATCH', `${T}/${id}`, { token: admin, body: { name: 'spark-2', maxRps: 10 } });
  assert.equal(p.status, 200, p.text);
  assert.equal((await srv.req('POST', `${T}/${id}/suspend`, { token: admin, body: { reason: 'leak' } })).status, 200);
  assert.equal((await srv.req('POST', `${T}/${id}/activate`, { token: admin })).status, 200);
  assert.equal(cli(dataDir, ['token', 'suspend', id, '--reason', 'from the cli']).code, 0);
  assert.equal((await srv.req('DELETE', `${T}/${id}`, { token: admin })).status, 204);

  const { entries, nextPageToken } = await audit(srv, { token: admin }, `?target=${id}`);
  assert.equal(nextPageToken, null);
  assert.deepEqual(entries.map((e) => e.action),
    ['token.delete', 'token.suspend', 'token.activate', 'token.suspend', 'token.update', 'token.create']);
  for (const e of entries) {
    assert.deepEqual(Object.keys(e).sort(), ['action', 'actor', 'actorTokenId', 'at', 'clientIp', 'details', 'id', 'target']);
    assert.equal(e.target, id);
    assert.ok(Date.parse(e.at) > Date.now() - 60000, e.at);
  }
  const byApi = entries.filter((e) => e.actor === 'admin');
  assert.equal(byApi.length, 5);
  for (const e of byApi) {
    assert.equal(e.actorTokenId, adminRec.id);
    assert.equal(e.clientIp, '127.0.0.1');
  }
  const byCli = entries[1];
  assert.equal(byCli.actor, 'cli');
  assert.equal(byCli.actorTokenId, null);
  assert.equal(byCli.clientIp, null);
  assert.deepEqual(byCli.details.suspendReason, { old: null, new: 'from the cli' });
  const patch = entries[4];
  // only what moved (the burst stays the default, the expiry null)
  assert.deepEqual(patch.details, { name: { old: 'spark', new: 'spark-2' }, maxRps: { old: 5, new: 10 } });
  assert.deepEqual(entries[5].details, { name: 'spark', owner: 'admin', maxRps: 5, burst: null, expiresAt: null, scopes: ['catalog:read', 'catalog:write', 'admin'], allowedCidrs: null, namespaces: null });
  assert.deepEqual(entries[3].details.status, { old: 'active', new: 'suspended' });
  // The CLI reads the same log from the store.
  const c1 = cli(dataDir, ['audit', '--target', id, '--action', 'token.suspend', '--json']);
  assert.equal(c1.code, 0, c1.stderr);
  assert.deepEqual(c1.json.map((e) => e.actor), ['cli', 'admin']);
  const c2 = cli(dataDir, ['audit', '--actor', 'cli']);
  assert.equal(c2.code, 0, c2.stderr);
  // the CLI's two changes: the suspend above and the create of the admin's own token (harness setup)
  const lines = c2.stdout.trim().split('\n').slice(1);
  assert.deepEqual(lines.map((l) => l.split(/ +/)[2]), ['token.suspend', 'token.create']);
  assert.ok(lines.every((l) => l.split(/ +/)[1] === 'cli'));
  assert.equal(cli(dataDir, ['audit', '--since', 'soon']).code, 2);
  // No secret anywhere in the log (the created token's value, its random part).
  const all = JSON.stringify(await audit(srv, { token: admin }, '?pageSize=1000'));
  assert.ok(!all.includes(c.json.token) && !all.includes(c.json.token.slice(4, 36)), 'a token secret is in the audit log');
  assert.ok(!all.includes(admin.slice(4, 36)));
});

test('console logins are audited, success and failure, with the address and never the password', async () => {
  const { srv, admin } = await setup();
  const bad = await srv.req('POST', '/api/v1/session/login', { body: { username: 'admin', password: 'wrong-password-7' } });
  assert.equal(bad.status, 401);
  const ok = await srv.req('POST', '/api/v1/session/login', { body: { username: 'admin', password: ADMIN_PASSWORD } });
  assert.equal(ok.status, 200, ok.text);
  const nobody = await srv.req('POST', '/api/v1/session/login', { body: { username: 'nobody', password: 'guess-123456' } });
  assert.equal(nobody.status, 401);
  const log = await audit(srv, { token: admin }, '?pageSize=1000');
  const logins = log.entries.filter((e) => e.action.startsWith('console.'));
  assert.deepEqual(logins.map((e) => [e.action, e.actor, e.details.result]), [
    ['console.login_failed', 'nobody', 'failure'],
    ['console.login', 'admin', 'success'],
    ['console.login_failed', 'admin', 'failure'],
  ]);
  for (const e of logins) assert.equal(e.clientIp, '127.0.0.1');
  const text = JSON.stringify(log);
  for (const pw of ['wrong-password-7', ADMIN_PASSWORD, 'guess-123456']) assert.ok(!text.includes(pw), 'a password is in the audit log');
  // A console session reads the log too (it is what Settings → Audit uses).
  const session = { Cookie: ok.headers.get('set-cookie').split(';')[0], 'X-CSRF-Token': ok.json.csrfToken };
  assert.equal((await audit(srv, { headers: session }, '?action=console.login')).entries.length, 1);
});

test('filters, paging, members see only their own, bad parameters are 400', async () => {
  const { dataDir, srv, admin } = await setup();
  const u = await srv.req('POST', '/api/v1/users', { token: admin, body: { name: 'mel', password: MEL_PW, role: 'member' } });
  assert.equal(u.status, 201, u.text);
  const mel = createToken(dataDir, 'mel-key', ['--owner', 'mel']).token;
  await pollUntil('the server sees the CLI-made token', async () => (await srv.req('GET', '/api/v1/settings', { token: mel })).status === 200);
  const ids = [];
  for (let i = 0; i < 5; i++) {
    const r = await srv.req('POST', T, { token: admin, body: { name: `t${i}` } });
    ids.push(r.json.id);
  }
  const own = await srv.req('POST', T, { token: mel, body: { name: 'mel-own' } });
  assert.equal(own.status, 201, own.text);

  // user.create is audited with its role; the password is not there
  const users = await audit(srv, { token: admin }, '?action=user.create');
  const melUser = users.entries.find((e) => e.target === 'mel');
  assert.deepEqual(melUser.details, { role: 'member' });
  assert.equal(melUser.actor, 'admin');
  assert.ok(!JSON.stringify(users).includes(MEL_PW));

  // actor and action filters, since
  const byMel = await audit(srv, { token: admin }, '?actor=mel');
  assert.deepEqual(byMel.entries.map((e) => e.target), [own.json.id]);
  const future = new Date(Date.now() + 3600e3).toISOString();
  assert.equal((await audit(srv, { token: admin }, `?since=${future}`)).entries.length, 0);

  // pages of 2, newest first, no entry twice, the last page says so
  const seen = [];
  let q = '?action=token.create&pageSize=2';
  for (let page = 0; page < 10; page++) {
    const r = await audit(srv, { token: admin }, q);
    assert.ok(r.entries.length <= 2);
    seen.push(...r.entries.map((e) => e.target));
    if (!r.nextPageToken) break;
    q = `?action=token.create&pageSize=2&pageToken=${r.nextPageToken}`;
  }
  assert.equal(seen.length, new Set(seen).size);
  for (const id of ids) assert.ok(seen.includes(id), `${id} missing from the pages`);
  assert.deepEqual(seen.slice(0, 5), [own.json.id, ...ids.slice().reverse()].slice(0, 5));

  // mel sees her token's entries (the CLI's create of it, her own create) and her account, nothing of admin's
  const m = await audit(srv, { token: mel }, '?pageSize=1000');
  assert.ok(m.entries.length >= 3, JSON.stringify(m.entries));
  for (const e of m.entries) assert.ok(e.actor === 'mel' || e.target === 'mel' || e.target === own.json.id
    || e.details.owner === 'mel', JSON.stringify(e));
  assert.ok(!m.entries.some((e) => ids.includes(e.target)));
  assert.equal((await audit(srv, { token: mel }, `?target=${ids[0]}`)).entries.length, 0);

  for (const bad of ['?pageSize=0', '?pageSize=1001', '?pageToken=abc', '?since=yesterday', `?actor=${'x'.repeat(100)}`])
    assertError(assert, await srv.req('GET', `${A}${bad}`, { token: admin }), 400, /BadRequestException/);
  assertError(assert, await srv.req('POST', A, { token: admin, body: {} }), 405);
  assert.equal((await srv.req('GET', A)).status, 401);
});

test('entries older than audit.retention_days are deleted (at start, then hourly)', { skip: onPostgres && 'SQLite only: writes rows into icegate.db with sqlite3' }, async () => {
  const { dataDir, srv, admin } = await setup('audit:\n  retention_days: 30\n');
  const r = await srv.req('POST', T, { token: admin, body: { name: 'recent' } });
  assert.equal(r.status, 201);
  await srv.stop();
  // Two entries from long ago, written as an older icegate would have.
  const db = path.join(dataDir, 'icegate.db');
  const old = Date.now() - 40 * 86400e3, kept = Date.now() - 20 * 86400e3;
  const sql = `INSERT INTO audit(at, actor, action, target, details) VALUES(${old}, 'admin', 'token.create', 'tok_old', '{}'),`
    + ` (${kept}, 'admin', 'token.create', 'tok_kept', '{}');`;
  const s = spawnSync('sqlite3', [db, sql], { encoding: 'utf8' });
  assert.equal(s.status, 0, s.stderr);
  const srv2 = await new Server({ dataDir, config: 'audit:\n  retention_days: 30\n' }).start();
  let targets = [];
  for (let i = 0; i < 50; i++) { // the notifier prunes right after start
    targets = (await audit(srv2, { token: admin }, '?pageSize=1000')).entries.map((e) => e.target);
    if (!targets.includes('tok_old')) break;
    await new Promise((res) => setTimeout(res, 100));
  }
  assert.ok(!targets.includes('tok_old'), 'the 40-day-old entry is still there');
  assert.ok(targets.includes('tok_kept'));
  assert.ok(targets.includes(r.json.id));
});
