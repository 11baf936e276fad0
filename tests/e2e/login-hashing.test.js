// Console password hashing off the request threads (issue 10): argon2 runs on a hashing thread behind a
// bounded queue (console.login_threads, console.login_queue), the login's connection suspended meanwhile, so
// a login flood never takes the worker threads from /healthz and the catalog.  A full queue is a 503 with
// Retry-After at once; a client that leaves while its hash waits, and a stop with hashes queued, are clean.
import assert from 'node:assert/strict';
import test from 'node:test';
import { ADMIN_PASSWORD, Server, createToken, sleep, tempDir } from './lib/harness.js';

const LOGIN = '/api/v1/session/login';

const login = (srv, { password = ADMIN_PASSWORD, username = 'admin', signal } = {}) =>
  fetch(`${srv.url}${LOGIN}`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, signal,
    body: JSON.stringify({ username, password }),
  }).then(async (r) => ({ status: r.status, retryAfter: r.headers.get('retry-after'), text: await r.text() }));

async function withTable(config) {
  const dataDir = tempDir();
  const tok = createToken(dataDir, 'reader').token;
  const srv = await new Server({ dataDir, config }).start();
  const h = { 'X-API-Token': tok };
  assert.equal((await srv.req('POST', '/v1/namespaces', { token: tok, body: { namespace: ['h'] } })).status, 200);
  const t = await srv.req('POST', '/v1/namespaces/h/tables', { token: tok, body: { name: 't', schema: {
    type: 'struct', fields: [{ id: 1, name: 'id', type: 'long', required: false }] } } });
  assert.equal(t.status, 200, t.text);
  return { srv, h };
}

// Times a request and notes how many of the logins had been answered when it was.
async function timed(url, headers, answered) {
  const t0 = Date.now();
  const r = await fetch(url, { headers });
  await r.text();
  return { status: r.status, ms: Date.now() - t0, loginsDone: answered() };
}

test('while 24 logins are hashed, /healthz and loadTable are answered before the hashing is through', async () => {
  // One worker thread (two in the pool, with the mutation gate's spare): before, 24 argon2 checks on them
  // kept both busy and a probe waited behind most of the hashes.
  const { srv, h } = await withTable('server:\n  threads: 1\n');
  let done = 0;
  const n = 24;
  const logins = Array.from({ length: n }, () => login(srv).finally(() => { done++; }));
  await sleep(60); // the logins are in: queued behind the hashing thread
  const health = await timed(`${srv.url}/healthz`, {}, () => done);
  const load = await timed(`${srv.url}/v1/namespaces/h/tables/t`, h, () => done);
  const res = await Promise.all(logins);
  assert.deepEqual(res.map((r) => r.status), Array(n).fill(200), 'every login succeeds (the queue holds 32)');
  assert.equal(health.status, 200);
  assert.equal(load.status, 200);
  // Relative, not a strict time: the probes come back while most logins still wait for their hash.
  assert.ok(health.loginsDone < n / 2, `/healthz answered after ${health.loginsDone} of ${n} logins (${health.ms} ms)`);
  assert.ok(load.loginsDone < n / 2, `loadTable answered after ${load.loginsDone} of ${n} logins (${load.ms} ms)`);
  assert.ok(health.ms < 2000 && load.ms < 2000, `probes took ${health.ms} / ${load.ms} ms`);
});

test('a full hash queue: 503 with Retry-After at once, the rest checked; then logins work again', async () => {
  const srv = await new Server({ config: 'console:\n  login_threads: 1\n  login_queue: 2\n' }).start();
  const res = await Promise.all(Array.from({ length: 12 }, () => login(srv)));
  const ok = res.filter((r) => r.status === 200), full = res.filter((r) => r.status === 503);
  assert.equal(ok.length + full.length, 12, JSON.stringify(res.map((r) => r.status)));
  assert.ok(ok.length >= 2, `${ok.length} checked`);
  assert.ok(full.length >= 1, 'some were refused: the queue holds 2');
  for (const r of full) {
    assert.ok(Number(r.retryAfter) >= 1, `Retry-After ${r.retryAfter}`);
    assert.match(r.text, /ServiceUnavailable/);
    assert.match(r.text, /too many logins being checked/);
  }
  assert.equal((await login(srv)).status, 200, 'room again once the queue drained');
  // a refusal for a full queue is not a failed login: it does not count toward the throttle
  for (let i = 0; i < 5; i++) assert.equal((await login(srv, { password: 'wrong-password' })).status, 401);
  assert.equal((await login(srv)).status, 200);
});

test('clients that leave while their hashes are queued: nothing breaks, the server goes on and stops cleanly', async () => {
  const srv = await new Server({ config: 'console:\n  login_queue: 64\n' }).start();
  const ac = new AbortController();
  const gone = Array.from({ length: 20 }, (_, i) =>
    login(srv, { signal: ac.signal, password: i % 2 ? ADMIN_PASSWORD : 'not-the-password' }).catch((e) => e.name));
  await sleep(40);
  ac.abort();
  const out = await Promise.all(gone);
  assert.ok(out.some((x) => x === 'AbortError'), JSON.stringify(out));
  await sleep(800); // their hashes run and their connections resume onto closed sockets
  assert.equal((await srv.req('GET', '/healthz')).status, 200);
  assert.equal((await login(srv)).status, 200);
  await srv.stop(); // exit 0, and no sanitizer report in the log (the sanitizer build)
});

test('SIGTERM with hashes queued: every login is answered (200, or 503 when its hash never ran), then a clean exit', async () => {
  const srv = await new Server({ config: 'console:\n  login_queue: 64\n' }).start();
  const logins = Array.from({ length: 30 }, () => login(srv).catch((e) => ({ status: e.name })));
  await sleep(80);
  const t0 = Date.now();
  await srv.stop();
  const res = await Promise.all(logins);
  assert.ok(res.every((r) => r.status === 200 || r.status === 503), JSON.stringify(res.map((r) => r.status)));
  assert.ok(Date.now() - t0 < 15000, 'the stop did not hang');
});

test('POST /api/v1/users hashes on the hashing thread too: created, errors as before, and counted once in the token\'s usage', async () => {
  const dataDir = tempDir();
  const admin = createToken(dataDir, 'admin-key');
  const srv = await new Server({ dataDir }).start();
  for (const name of ['ann', 'bob', 'cat']) {
    const r = await srv.req('POST', '/api/v1/users', { token: admin.token, body: { name, password: `${name}-password-1` } });
    assert.equal(r.status, 201, r.text);
    assert.deepEqual(r.json, { name, role: 'member' });
  }
  const short = await srv.req('POST', '/api/v1/users', { token: admin.token, body: { name: 'dan', password: 'short' } });
  assert.equal(short.status, 400, short.text);
  assert.match(short.text, /password: must be 8 to 1024 characters/);
  const dup = await srv.req('POST', '/api/v1/users', { token: admin.token, body: { name: 'ann', password: 'ann-password-2' } });
  assert.equal(dup.status, 409, dup.text);
  assert.equal((await login(srv, { username: 'bob', password: 'bob-password-1' })).status, 200);
  // 5 creates and this stats request: a request back from the hashing thread is not counted a second time
  const st = await srv.req('GET', `/api/v1/access-tokens/${admin.id}/stats?seconds=60`, { token: admin.token });
  assert.equal(st.status, 200, st.text);
  assert.equal(st.json.totalRequests, 6, st.text);
});
