// The server process: restart keeps tokens and last use, SIGTERM drains a request in flight and exits 0,
// bad configuration stops start-up naming the key, console sessions and CSRF at the API level.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Server, serveSync, cli, createToken, tempDir, sleep, assertError, ADMIN_PASSWORD } from './lib/harness.js';
import { startWithAdmin, useToken, assert401, pollUntil, ms, RFC3339_RE } from './lib/helpers.js';

const T = '/api/v1/access-tokens';

test('restart keeps tokens, suspensions and last use; lastUsedAt/lastUsedIp show up at once and reach the store within 1 s', async () => {
  const { srv, dataDir, admin, adminRec } = await startWithAdmin();
  let srv2;
  try {
    const a = await srv.req('POST', T, { token: admin, body: { name: 'keeper', maxRps: 50 } });
    assert.equal(a.status, 201, a.text);
    const b = createToken(dataDir, 'to-suspend');
    const idle = await srv.req('POST', T, { token: admin, body: { name: 'never-used' } });
    await pollUntil('CLI token', async () => (await useToken(srv, b.token)).status === 200);
    const t0 = Date.now();
    assert.equal((await useToken(srv, a.json.token)).status, 200);
    const t1 = Date.now();

    // The API shows last use at once (from memory)...
    const g = await srv.req('GET', `${T}/${a.json.id}`, { token: admin });
    assert.match(g.json.lastUsedAt || '', RFC3339_RE, g.text);
    assert.ok(ms(g.json.lastUsedAt) >= t0 - 1000 && ms(g.json.lastUsedAt) <= t1 + 50, `${g.json.lastUsedAt} not in [${t0}, ${t1}]`);
    assert.equal(g.json.lastUsedIp, '127.0.0.1');
    const l = await srv.req('GET', T, { token: admin });
    const inList = l.json.accessTokens.find((t) => t.id === a.json.id);
    assert.equal(inList.lastUsedAt, g.json.lastUsedAt);
    assert.equal(inList.lastUsedIp, '127.0.0.1');
    assert.equal(l.json.accessTokens.find((t) => t.id === idle.json.id).lastUsedAt, null);
    // ...and the store has it within a second (batched flush), as the CLI shows.  The flush came after the
    // last CLI read that missed it began, so that start bounds the staleness (whatever a CLI run costs).
    let lastMiss = t1;
    await pollUntil('last use flushed to the store', () => {
      const started = Date.now();
      const r = cli(dataDir, ['token', 'show', a.json.id, '--json']);
      if (r.json?.lastUsedAt === g.json.lastUsedAt && r.json?.lastUsedIp === '127.0.0.1') return true;
      assert.equal(r.json?.lastUsedAt, null, r.stdout);
      lastMiss = started;
      return false;
    }, 3000, 20);
    assert.ok(lastMiss - t1 <= 1200, `the store still lacked the last use ${lastMiss - t1} ms after it`);

    const s = await srv.req('POST', `${T}/${b.id}/suspend`, { token: admin, body: { reason: 'kept across restarts' } });
    assert.equal(s.status, 200);
    // A last use right before the stop is flushed by the stop itself.
    await sleep(20);
    const t2 = Date.now();
    assert.equal((await useToken(srv, idle.json.token)).status, 200);
    const lastIdle = (await srv.req('GET', `${T}/${idle.json.id}`, { token: admin })).json.lastUsedAt;
    assert.ok(ms(lastIdle) >= t2 - 1000, lastIdle);
    await srv.stop();

    srv2 = await new Server({ dataDir }).start();
    assert.equal((await useToken(srv2, a.json.token)).status, 200);
    assert.equal((await useToken(srv2, null, { Authorization: `Bearer ${admin}` })).status, 200);
    assert401(await useToken(srv2, b.token), /suspended/);
    const gb = await srv2.req('GET', `${T}/${b.id}`, { token: admin });
    assert.equal(gb.json.status, 'suspended');
    assert.equal(gb.json.suspendReason, 'kept across restarts');
    const gi = await srv2.req('GET', `${T}/${idle.json.id}`, { token: admin });
    assert.equal(gi.json.lastUsedAt, lastIdle, 'last use just before the stop was lost');
    assert.equal(gi.json.lastUsedIp, '127.0.0.1');
    const ga = await srv2.req('GET', `${T}/${a.json.id}`, { token: admin });
    assert.ok(ms(ga.json.lastUsedAt) >= ms(g.json.lastUsedAt));
    assert.equal(ga.json.maxRps, 50);
    assert.equal(ga.json.name, 'keeper');
    const ids = (await srv2.req('GET', T, { token: admin })).json.accessTokens.map((t) => t.id).sort();
    assert.deepEqual(ids, [adminRec.id, a.json.id, b.id, idle.json.id].sort());
    // activate after the restart works on the very next request
    await srv2.req('POST', `${T}/${b.id}/activate`, { token: admin });
    assert.equal((await useToken(srv2, b.token)).status, 200);
  } finally {
    if (srv.proc.exitCode === null) await srv.stop();
    if (srv2) await srv2.stop();
  }
});

test('IPv6: serves on [::1] and records lastUsedIp as "::1" (RFC 5952), also in the store', async (t) => {
  const probe = net.createServer();
  const v6 = await new Promise((resolve) => { probe.once('error', () => resolve(false)); probe.listen(0, '::1', () => probe.close(() => resolve(true))); });
  if (!v6) { t.skip('no IPv6 loopback here'); return; }
  const dataDir = tempDir();
  const admin = createToken(dataDir, 'admin-key');
  const srv = await new Server({ dataDir, host: '::1' }).start();
  try {
    assert.equal((await useToken(srv, admin.token)).status, 200);
    const g = await srv.req('GET', `${T}/${admin.id}`, { token: admin.token });
    assert.equal(g.json.lastUsedIp, '::1'); // was "0:0:0:0:0:0:0:1"
  } finally {
    await srv.stop();
  }
  assert.equal(cli(dataDir, ['token', 'show', admin.id, '--json']).json.lastUsedIp, '::1');
});

// Sends the head and part of a body, returns {sock, response: Promise<string>}.
function slowRequest(port, method, p, headers, bodyPart) {
  const sock = net.connect(port, '127.0.0.1');
  let data = '';
  const response = new Promise((resolve, reject) => {
    sock.on('data', (c) => { data += c; });
    sock.on('end', () => resolve(data));
    sock.on('close', () => resolve(data));
    sock.on('error', reject);
  });
  const head = [`${method} ${p} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close',
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), '', ''].join('\r\n');
  sock.write(head + bodyPart);
  return { sock, response };
}

// Resolves with 'connected' or the socket error code, within 2 s.
function tryConnect(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    const t = setTimeout(() => { s.destroy(); resolve('timeout'); }, 2000);
    s.on('connect', () => { clearTimeout(t); s.destroy(); resolve('connected'); });
    s.on('error', (e) => { clearTimeout(t); resolve(e.code); });
  });
}

test('SIGTERM: new connections are refused at once, a request in flight finishes, exit 0 with "stopped cleanly"', async () => {
  const { srv, dataDir, admin } = await startWithAdmin();
  const body = JSON.stringify({ name: 'made-during-shutdown' });
  const half = Math.floor(body.length / 2);
  const { sock, response } = slowRequest(srv.port, 'POST', T,
    { 'X-API-Token': admin, 'Content-Type': 'application/json', 'Content-Length': body.length }, body.slice(0, half));
  try {
    await sleep(200); // the server has the head and half the body
    srv.proc.kill('SIGTERM');
    await pollUntil('SIGTERM logged', () => /received SIGTERM/.test(srv.readLog()), 3000);
    await sleep(200);
    assert.equal(srv.proc.exitCode, null, `exited with a request in flight:\n${srv.readLog()}`);
    // Refused, not accepted into a backlog nobody serves (that hung clients until exit) and not served
    // (MHD_quiesce_daemon needs MHD_USE_ITC in thread-pool mode, and the listening socket it returns must be closed).
    assert.equal(await tryConnect(srv.port), 'ECONNREFUSED');
    assert.doesNotMatch(srv.readLog(), /MHD_quiesce_daemon|requires MHD_USE_ITC/);
    sock.write(body.slice(half));
    const raw = await response;
    assert.match(raw, /^HTTP\/1\.1 201 /, raw);
    const json = JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4));
    assert.equal(json.name, 'made-during-shutdown');
    const { code, signal } = await srv.exited;
    assert.equal(code, 0, `exit ${code ?? signal}:\n${srv.readLog()}`);
  } finally {
    sock.destroy();
  }
  const log = await srv.stop(); // checks the log for sanitizer reports
  assert.match(log, /stopped cleanly/);
  assert.doesNotMatch(log, /still in flight/);
  // the request answered during shutdown was committed
  const listed = cli(dataDir, ['token', 'list', '--json']).json.map((t) => t.name);
  assert.ok(listed.includes('made-during-shutdown'), listed.join(','));
});

test('SIGTERM when idle: exit 0 promptly with "stopped cleanly"', async () => {
  const { srv, admin } = await startWithAdmin();
  assert.equal((await useToken(srv, admin)).status, 200);
  const t0 = Date.now();
  const log = await srv.stop();
  assert.ok(Date.now() - t0 < 3000, `stop took ${Date.now() - t0} ms`);
  assert.match(log, /received SIGTERM/);
  assert.match(log, /stopped cleanly/);
});

test('bad configuration stops start-up with a message naming the key', () => {
  const cases = [
    [{ ICEGATE_NO_SUCH_KEY: '1' }, [], /ICEGATE_NO_SUCH_KEY/],
    [{ ICEGATE_SERVER_THREADS: '0' }, [], /server\.threads/],
    [{ ICEGATE_SERVER_THREADS: 'many' }, [], /server\.threads/],
    [{ ICEGATE_FEATURES_RATELIMITER_ENABLED: 'maybe' }, [], /features\.ratelimiter\.enabled/],
    [{ ICEGATE_SERVER_MAX_BODY_BYTES: '-5' }, [], /server\.max_body_bytes/],
    [{}, ['--listen', 'nonsense'], /server\.listen/],
  ];
  const yamlCases = [
    ['server: {threads: 0}\n', /server\.threads/],
    ['server:\n  threads: 0\n', /server\.threads/],
    ['server:\n  thread: 4\n', /server\.thread\b/],
    ['no_such_key: 1\n', /no_such_key/],
    ['features:\n  ratelimiter:\n    enabled: perhaps\n', /features\.ratelimiter\.enabled/],
    ['server: [1, 2]\n', /server/],
  ];
  for (const [yaml, re] of yamlCases) {
    const dir = tempDir();
    const f = path.join(dir, 'icegate.yaml');
    fs.writeFileSync(f, yaml);
    cases.push([{}, ['--config', f], re]);
  }
  for (const [env, args, re] of cases) {
    const r = serveSync({ env, args });
    const what = `${JSON.stringify(env)} ${args.join(' ')}`;
    assert.ok(r.status !== null, `${what}: still running after 10 s (started despite the bad config)`);
    assert.notEqual(r.status, 0, `${what}: exit 0`);
    assert.match(r.stderr, re, `${what}: stderr does not name the key:\n${r.stderr}`);
    assert.doesNotMatch(r.stderr, /listening on/, what);
  }
  // The token CLI refuses the same way.
  const bad = cli(tempDir(), ['token', 'list', '--json'], { env: { ICEGATE_NO_SUCH_KEY: '1' } });
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /ICEGATE_NO_SUCH_KEY/);
});

test('a good YAML config is honoured; env overrides the file, flags override both', async () => {
  // file: threads 5 and an unusable listen address; env: threads 3; flag (from the harness): --listen
  const srv = new Server({
    config: 'server:\n  max_body_bytes: 2048\n  threads: 5\n  listen: 127.0.0.1:1\n',
    env: { ICEGATE_SERVER_THREADS: '3' },
  });
  const admin = createToken(srv.dataDir, 'admin-key');
  await srv.start();
  try {
    // (the "listening" line is written just after the socket opens: wait for it)
    const { value: line } = await pollUntil('listening line', () => srv.readLog().match(/listening on .*/)?.[0], 3000);
    assert.match(line, /\b3 threads\b/);
    assertError(assert, await srv.req('POST', T, { token: admin.token, body: { name: 'x', pad: 'p'.repeat(4096) } }), 413);
    assert.equal((await srv.req('POST', T, { token: admin.token, body: { name: 'fits' } })).status, 201);
  } finally {
    await srv.stop();
  }
});

function cookieOf(res) {
  const sc = res.headers.getSetCookie ? res.headers.getSetCookie() : [res.headers.get('set-cookie')];
  return sc.find((c) => c && c.startsWith('icegate_session='));
}

test('console session: HttpOnly SameSite=Strict cookie, CSRF on writes, logout ends it', async () => {
  const { srv, admin } = await startWithAdmin();
  try {
    const names = async () => (await srv.req('GET', T, { token: admin })).json.accessTokens.map((t) => t.name).sort();
    const wrong = await srv.req('POST', '/api/v1/session/login', { body: { username: 'admin', password: 'not-the-password' } });
    assert401(wrong, /wrong username or password/);
    assert.equal(cookieOf(wrong), undefined);
    assert401(await srv.req('POST', '/api/v1/session/login', { body: { username: 'ghost', password: ADMIN_PASSWORD } }), /wrong username or password/);
    assertError(assert, await srv.req('POST', '/api/v1/session/login', { body: { username: 'admin' } }), 400, /BadRequest/);
    assertError(assert, await srv.req('GET', '/api/v1/session/login'), 405);

    const login = await srv.req('POST', '/api/v1/session/login', { body: { username: 'admin', password: ADMIN_PASSWORD } });
    assert.equal(login.status, 200, login.text);
    const setCookie = cookieOf(login);
    assert.ok(setCookie, `no session cookie: ${[...login.headers]}`);
    const attrs = setCookie.split(';').map((s) => s.trim());
    assert.ok(attrs.includes('HttpOnly'), setCookie);
    assert.ok(attrs.includes('SameSite=Strict'), setCookie);
    assert.ok(attrs.includes('Path=/'), setCookie);
    assert.ok(!attrs.includes('Secure'), 'Secure on plain http would lose the cookie');
    assert.ok(attrs.includes('Max-Age=28800'), setCookie); // console.session_ttl default: 8 h
    const cookie = attrs[0];
    assert.match(cookie, /^icegate_session=[0-9A-Za-z]{32,}$/);
    const csrf = login.json.csrfToken;
    assert.match(csrf, /^[0-9A-Za-z]{32,}$/);
    assert.equal(login.json.user, 'admin');
    assert.equal(login.json.role, 'admin');
    assert.ok(!login.text.includes(cookie.split('=')[1]), 'the session id must stay in the HttpOnly cookie');

    const withCookie = (extra = {}) => ({ Cookie: cookie, ...extra });
    const s = await srv.req('GET', '/api/v1/session', { headers: withCookie() });
    assert.equal(s.status, 200, s.text);
    assert.equal(s.json.user, 'admin');
    assert.equal(s.json.csrfToken, csrf);

    const list = await srv.req('GET', T, { headers: withCookie() });
    assert.equal(list.status, 200, list.text);
    assert.deepEqual(list.json.accessTokens.map((t) => t.name), ['admin-key']);

    const before = await names();
    assertError(assert, await srv.req('POST', T, { headers: withCookie(), body: { name: 'no-csrf' } }), 403, /Forbidden/, /missing CSRF/);
    assertError(assert, await srv.req('POST', T, { headers: withCookie({ 'X-CSRF-Token': 'x'.repeat(43) }), body: { name: 'bad-csrf' } }), 403, /Forbidden/, /bad CSRF/);
    assertError(assert, await srv.req('POST', T, { headers: withCookie({ 'X-CSRF-Token': '' }), body: { name: 'empty-csrf' } }), 403, /Forbidden/);
    assertError(assert, await srv.req('POST', T, { headers: withCookie({ 'X-CSRF-Token': csrf.slice(0, -1) }), body: { name: 'short-csrf' } }), 403, /Forbidden/);
    assert.deepEqual(await names(), before, 'a request refused for CSRF wrote something');

    const c = await srv.req('POST', T, { headers: withCookie({ 'X-CSRF-Token': csrf }), body: { name: 'from-console' } });
    assert.equal(c.status, 201, c.text);
    assert.equal(c.json.owner, 'admin');
    assert.equal((await useToken(srv, c.json.token)).status, 200);
    // the other writes need the CSRF token too
    assertError(assert, await srv.req('POST', `${T}/${c.json.id}/suspend`, { headers: withCookie() }), 403);
    assertError(assert, await srv.req('PATCH', `${T}/${c.json.id}`, { headers: withCookie(), body: { name: 'x' } }), 403);
    assertError(assert, await srv.req('DELETE', `${T}/${c.json.id}`, { headers: withCookie() }), 403);
    assert.equal((await useToken(srv, c.json.token)).status, 200);
    const sus = await srv.req('POST', `${T}/${c.json.id}/suspend`, { headers: withCookie({ 'X-CSRF-Token': csrf }) });
    assert.equal(sus.status, 200, sus.text);
    assert401(await useToken(srv, c.json.token), /suspended/);
    const del = await srv.req('DELETE', `${T}/${c.json.id}`, { headers: withCookie({ 'X-CSRF-Token': csrf }) });
    assert.equal(del.status, 204, del.text);

    // logout needs the CSRF token as well, then the session is gone
    assertError(assert, await srv.req('POST', '/api/v1/session/logout', { headers: withCookie() }), 403);
    const out = await srv.req('POST', '/api/v1/session/logout', { headers: withCookie({ 'X-CSRF-Token': csrf }) });
    assert.equal(out.status, 204, out.text);
    assert.match(cookieOf(out) || '', /^icegate_session=;.*Max-Age=0/);
    // (every 401 carries WWW-Authenticate: Bearer, the session ones too: these routes also take tokens)
    assert401(await srv.req('GET', T, { headers: withCookie() }), /session expired or logged out/);
    assert401(await srv.req('POST', T, { headers: withCookie({ 'X-CSRF-Token': csrf }), body: { name: 'after-logout' } }), /session/);
    assert401(await srv.req('GET', '/api/v1/session', { headers: withCookie() }), /session/);
    assert.deepEqual(await names(), before);

    // no session and no token
    assert401(await srv.req('GET', T), /missing/);
    assert401(await srv.req('GET', '/api/v1/session'), /not logged in/);
    assert401(await srv.req('POST', T, { body: { name: 'anon' }, headers: { 'X-CSRF-Token': csrf } }), /missing/);
    // a stale cookie next to a valid token: the token decides
    assert.equal((await srv.req('GET', T, { headers: withCookie({ 'X-API-Token': admin }) })).status, 200);
    // behind a TLS-terminating proxy the cookie is Secure
    const tls = await srv.req('POST', '/api/v1/session/login', {
      body: { username: 'admin', password: ADMIN_PASSWORD }, headers: { 'X-Forwarded-Proto': 'https' },
    });
    assert.equal(tls.status, 200);
    assert.ok(cookieOf(tls).split(';').map((x) => x.trim()).includes('Secure'), cookieOf(tls));
    // the session never opens the catalog: /v1 takes access tokens only
    const again = await srv.req('POST', '/api/v1/session/login', { body: { username: 'admin', password: ADMIN_PASSWORD } });
    const cookie2 = cookieOf(again).split(';')[0];
    assert401(await srv.req('GET', '/v1/config', { headers: { Cookie: cookie2 } }), /missing/);
    assert.notEqual(cookie2, cookie);
    assert.notEqual(again.json.csrfToken, csrf);
    // the old CSRF token does not work with the new session
    assertError(assert, await srv.req('POST', T, { headers: { Cookie: cookie2, 'X-CSRF-Token': csrf }, body: { name: 'old-csrf' } }), 403);
  } finally {
    await srv.stop();
  }
});

test('console session of a member sees only their own tokens', async () => {
  const { srv, admin } = await startWithAdmin();
  try {
    const u = await srv.req('POST', '/api/v1/users', { token: admin, body: { name: 'bob', password: 'bob-password-1', role: 'member' } });
    assert.equal(u.status, 201, u.text);
    const login = await srv.req('POST', '/api/v1/session/login', { body: { username: 'bob', password: 'bob-password-1' } });
    assert.equal(login.status, 200, login.text);
    assert.equal(login.json.role, 'member');
    const headers = { Cookie: cookieOf(login).split(';')[0], 'X-CSRF-Token': login.json.csrfToken };
    const c = await srv.req('POST', T, { headers, body: { name: 'bobs' } });
    assert.equal(c.status, 201, c.text);
    assert.equal(c.json.owner, 'bob');
    const l = await srv.req('GET', T, { headers });
    assert.deepEqual(l.json.accessTokens.map((t) => t.name), ['bobs']);
    assertError(assert, await srv.req('GET', `${T}?owner=admin`, { headers }), 403, /Forbidden/);
    const adminList = await srv.req('GET', T, { token: admin });
    assert.deepEqual(adminList.json.accessTokens.map((t) => t.name).sort(), ['admin-key', 'bobs']);
    assertError(assert, await srv.req('POST', '/api/v1/users', { headers, body: { name: 'eve', password: 'eve-password-1' } }), 403);
  } finally {
    await srv.stop();
  }
});
