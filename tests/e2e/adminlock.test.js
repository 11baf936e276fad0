// Hardening item 12: a member cannot undo what an admin imposed.  A console user with role member could press
// Activate on a token an admin suspended and remove or raise a Max RPS an admin set.  Now a suspension records
// who (role and user) and a limit its setter's role (suspendedBy, maxRpsSetBy), a member lifting an admin's is
// 403 with a message saying so, a member's own stays theirs, the CLI acts as an admin ("cli"), and the record
// survives a restart.  Exercised with a member's access token and with a member's console session.
import assert from 'node:assert/strict';
import test from 'node:test';

import { Server, assertError, cli, createToken, sleep, tempDir } from './lib/harness.js';
import { assert401, useToken } from './lib/helpers.js';

const T = '/api/v1/access-tokens';
const MEL_PW = 'mel-password-1';
const LOCKED_SUSPEND = /suspended by an admin: only an admin can activate it/;
const LOCKED_RPS = /set by an admin: only an admin can change or remove it/;

// A server with an admin token (made by the CLI), a member "mel" with a token of her own, and a console
// session of hers (cookie + CSRF header), as the console sends them.
async function setup() {
  const dataDir = tempDir();
  const admin = createToken(dataDir, 'admin-key');
  const srv = await new Server({ dataDir }).start();
  const u = await srv.req('POST', '/api/v1/users', { token: admin.token, body: { name: 'mel', password: MEL_PW, role: 'member' } });
  assert.equal(u.status, 201, u.text);
  const mel = await melSession(srv);
  const own = await srv.req('POST', T, { headers: mel, body: { name: 'mel-key' } });
  assert.equal(own.status, 201, own.text);
  return { dataDir, srv, admin: admin.token, mel, melToken: own.json.token };
}

async function melSession(srv) {
  const login = await srv.req('POST', '/api/v1/session/login', { body: { username: 'mel', password: MEL_PW } });
  assert.equal(login.status, 200, login.text);
  return { Cookie: login.headers.get('set-cookie').split(';')[0], 'X-CSRF-Token': login.json.csrfToken };
}

// A token of mel's, made by mel herself (so the only thing an admin imposes on it is what the test does).
async function melsToken(srv, mel, name, extra = {}) {
  const r = await srv.req('POST', T, { headers: mel, body: { name, ...extra } });
  assert.equal(r.status, 201, r.text);
  return r.json;
}

test('a member cannot activate a token an admin suspended (403, nothing changes); the admin can', async () => {
  const { srv, admin, mel, melToken } = await setup();
  const t = await melsToken(srv, mel, 'pipeline');
  const s = await srv.req('POST', `${T}/${t.id}/suspend`, { token: admin, body: { reason: 'incident 42' } });
  assert.equal(s.status, 200, s.text);
  assert.deepEqual(s.json.suspendedBy, { role: 'admin', user: 'admin' });
  assert401(await useToken(srv, t.token), /is suspended by an admin/);

  // By console session and by the member's own access token: the same refusal.
  assertError(assert, await srv.req('POST', `${T}/${t.id}/activate`, { headers: mel }), 403, /ForbiddenException/, LOCKED_SUSPEND);
  assertError(assert, await srv.req('POST', `${T}/${t.id}/activate`, { token: melToken }), 403, /ForbiddenException/, LOCKED_SUSPEND);
  // Suspending it again would make her its suspender: refused as well.
  assertError(assert, await srv.req('POST', `${T}/${t.id}/suspend`, { headers: mel, body: { reason: 'mine now' } }), 403,
    /ForbiddenException/, /only an admin can change its suspension/);
  const g = await srv.req('GET', `${T}/${t.id}`, { headers: mel });
  assert.equal(g.json.status, 'suspended');
  assert.equal(g.json.suspendReason, 'incident 42');
  assert.deepEqual(g.json.suspendedBy, { role: 'admin', user: 'admin' });
  assert401(await useToken(srv, t.token), /suspended/);

  const a = await srv.req('POST', `${T}/${t.id}/activate`, { token: admin });
  assert.equal(a.status, 200, a.text);
  assert.equal(a.json.status, 'active');
  assert.equal(a.json.suspendedBy, null);
  assert.equal((await useToken(srv, t.token)).status, 200);
});

test('a member activates what a member suspended; an admin activates anything', async () => {
  const { srv, admin, mel } = await setup();
  const t = await melsToken(srv, mel, 'own-pause');
  const s = await srv.req('POST', `${T}/${t.id}/suspend`, { headers: mel, body: { reason: 'pausing' } });
  assert.equal(s.status, 200, s.text);
  assert.deepEqual(s.json.suspendedBy, { role: 'member', user: 'mel' });
  assert401(await useToken(srv, t.token), /'own-pause' is suspended$/); // not "by an admin"
  const a = await srv.req('POST', `${T}/${t.id}/activate`, { headers: mel });
  assert.equal(a.status, 200, a.text);
  assert.equal(a.json.status, 'active');

  // The admin may lift a member's suspension too, and an admin's re-suspend takes it over.
  await srv.req('POST', `${T}/${t.id}/suspend`, { headers: mel, body: {} });
  assert.equal((await srv.req('POST', `${T}/${t.id}/activate`, { token: admin })).status, 200);
  await srv.req('POST', `${T}/${t.id}/suspend`, { headers: mel, body: {} });
  const over = await srv.req('POST', `${T}/${t.id}/suspend`, { token: admin, body: { reason: 'taken over' } });
  assert.deepEqual(over.json.suspendedBy, { role: 'admin', user: 'admin' });
  assertError(assert, await srv.req('POST', `${T}/${t.id}/activate`, { headers: mel }), 403, /ForbiddenException/, LOCKED_SUSPEND);
});

test('a member cannot remove, raise or re-burst a Max RPS an admin set; her own limit she may', async () => {
  const { srv, admin, mel } = await setup();
  const t = await melsToken(srv, mel, 'capped');
  const set = await srv.req('PATCH', `${T}/${t.id}`, { token: admin, body: { maxRps: 2 } });
  assert.equal(set.status, 200, set.text);
  assert.equal(set.json.maxRpsSetBy, 'admin');
  for (const body of [{ maxRps: null }, { maxRps: 500 }, { burst: 1000 }, { maxRps: 1, burst: 1 }]) {
    assertError(assert, await srv.req('PATCH', `${T}/${t.id}`, { headers: mel, body }), 403, /ForbiddenException/, LOCKED_RPS);
  }
  let g = await srv.req('GET', `${T}/${t.id}`, { headers: mel });
  assert.equal(g.json.maxRps, 2);
  assert.equal(g.json.burst, 2);
  assert.equal(g.json.maxRpsSetBy, 'admin');
  // Repeating it with a rename moves nothing: allowed, the admin stays its setter.
  const rn = await srv.req('PATCH', `${T}/${t.id}`, { headers: mel, body: { name: 'capped-renamed', maxRps: 2 } });
  assert.equal(rn.status, 200, rn.text);
  assert.equal(rn.json.maxRpsSetBy, 'admin');

  // Her own limit (set at create, or after an admin removed theirs) she may raise and remove.
  const own = await melsToken(srv, mel, 'own-cap', { maxRps: 3 });
  assert.equal(own.maxRpsSetBy, 'member');
  g = await srv.req('PATCH', `${T}/${own.id}`, { headers: mel, body: { maxRps: 30 } });
  assert.equal(g.status, 200, g.text);
  g = await srv.req('PATCH', `${T}/${own.id}`, { headers: mel, body: { maxRps: null } });
  assert.equal(g.status, 200, g.text);
  assert.equal(g.json.maxRps, null);
  assert.equal(g.json.maxRpsSetBy, null);
  // The admin may change anything.
  const rm = await srv.req('PATCH', `${T}/${t.id}`, { token: admin, body: { maxRps: null } });
  assert.equal(rm.status, 200, rm.text);
  assert.equal(rm.json.maxRpsSetBy, null);
});

test('the CLI acts as an admin ("cli"); who suspended and who set the limit survive a restart', async () => {
  const { dataDir, srv, admin, mel } = await setup();
  const a = await melsToken(srv, mel, 'by-cli');
  const b = await melsToken(srv, mel, 'by-api');
  const c = await melsToken(srv, mel, 'by-mel');
  const sus = cli(dataDir, ['token', 'suspend', a.id, '--reason', 'operator says stop', '--json']);
  assert.equal(sus.code, 0, sus.stderr);
  assert.deepEqual(sus.json.suspendedBy, { role: 'admin', user: 'cli' });
  const upd = cli(dataDir, ['token', 'update', b.id, '--max-rps', '4', '--json']);
  assert.equal(upd.code, 0, upd.stderr);
  assert.equal(upd.json.maxRpsSetBy, 'admin');
  const text = cli(dataDir, ['token', 'show', a.id]);
  assert.match(text.stdout, /suspended: .* by admin cli — operator says stop/);
  assert.equal((await srv.req('POST', `${T}/${c.id}/suspend`, { headers: mel, body: {} })).status, 200);
  await sleep(400); // the server picks up the CLI's changes within tokens.poll_interval_ms (100 ms)
  assertError(assert, await srv.req('POST', `${T}/${a.id}/activate`, { headers: mel }), 403, /ForbiddenException/, LOCKED_SUSPEND);
  assertError(assert, await srv.req('PATCH', `${T}/${b.id}`, { headers: mel, body: { maxRps: null } }), 403, /ForbiddenException/, LOCKED_RPS);
  await srv.stop();

  const srv2 = await new Server({ dataDir }).start();
  const mel2 = await melSession(srv2);
  const ga = (await srv2.req('GET', `${T}/${a.id}`, { token: admin })).json;
  assert.deepEqual(ga.suspendedBy, { role: 'admin', user: 'cli' });
  assert.equal(ga.suspendReason, 'operator says stop');
  assert.equal((await srv2.req('GET', `${T}/${b.id}`, { token: admin })).json.maxRpsSetBy, 'admin');
  assert.deepEqual((await srv2.req('GET', `${T}/${c.id}`, { token: admin })).json.suspendedBy, { role: 'member', user: 'mel' });
  assert401(await useToken(srv2, a.token), /is suspended by an admin/);
  assertError(assert, await srv2.req('POST', `${T}/${a.id}/activate`, { headers: mel2 }), 403, /ForbiddenException/, LOCKED_SUSPEND);
  assertError(assert, await srv2.req('PATCH', `${T}/${b.id}`, { headers: mel2, body: { maxRps: 400 } }), 403, /ForbiddenException/, LOCKED_RPS);
  assert.equal((await srv2.req('POST', `${T}/${c.id}/activate`, { headers: mel2 })).status, 200);
  assert.equal((await srv2.req('POST', `${T}/${a.id}/activate`, { token: admin })).status, 200);
  assert.equal((await useToken(srv2, a.token)).status, 200);
  await srv2.stop();
});
