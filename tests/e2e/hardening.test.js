// Hardening (issue 10), the items landed so far: /metrics for admins only; login takes JSON from this origin
// only and its answer is never cached; console sessions are capped per user; a FIFO in the warehouse cannot
// block a worker; framing a proxy could read another way is refused; one metadata size cap on both paths;
// integers outside int64 are refused, never clamped; libmicrohttpd's messages go through the logger; the
// credentials of a request with a body are checked before the body is read; connections per client address
// are capped, and a body must arrive within server.request_timeout; console password guessing is throttled;
// long commits never take every worker.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import test from 'node:test';

import { ADMIN_PASSWORD, Server, assertError, createToken, sleep, tempDir } from './lib/harness.js';

async function withMember(fn) {
  const dataDir = tempDir();
  const admin = createToken(dataDir, 'admin-key');
  const srv = await new Server({ dataDir }).start();
  try {
    const u = await srv.req('POST', '/api/v1/users', { token: admin.token, body: { name: 'mel', password: 'mel-password-1', role: 'member' } });
    assert.equal(u.status, 201, u.text);
    const member = createToken(dataDir, 'mel-key', ['--owner', 'mel']);
    await sleep(400); // the server picks up the CLI's change within tokens.poll_interval_ms (100 ms)
    await fn({ srv, admin, member, dataDir });
  } finally {
    await srv.stop();
  }
}

test('/metrics lists every token: an admin token reads it, a member token gets 403', async () => {
  await withMember(async ({ srv, admin, member }) => {
    assert.equal((await srv.req('GET', '/metrics', { token: admin.token })).status, 200);
    assertError(assert, await srv.req('GET', '/metrics', { token: member.token }), 403, /Forbidden/, /admin/);
    assertError(assert, await srv.req('GET', '/metrics'), 401);
  });
});

test('login: JSON only (a cross-site text/plain form cannot log a browser in), same origin only, never cached', async () => {
  const srv = await new Server().start();
  try {
    const creds = JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD });
    const plain = await srv.req('POST', '/api/v1/session/login', { body: creds, headers: { 'Content-Type': 'text/plain' } });
    assertError(assert, plain, 415, /BadRequest/, /application\/json/);
    assert.equal(plain.headers.get('set-cookie'), null);
    const foreign = await srv.req('POST', '/api/v1/session/login',
      { body: creds, headers: { 'Content-Type': 'application/json', Origin: 'https://evil.example' } });
    assertError(assert, foreign, 403, /Forbidden/, /cross-origin/);
    assert.equal(foreign.headers.get('set-cookie'), null);
    const same = await srv.req('POST', '/api/v1/session/login',
      { body: creds, headers: { 'Content-Type': 'application/json; charset=utf-8', Origin: srv.url } });
    assert.equal(same.status, 200, same.text);
    assert.equal(same.headers.get('cache-control'), 'no-store');
    const who = await srv.req('GET', '/api/v1/session', { headers: { Cookie: same.headers.get('set-cookie').split(';')[0] } });
    assert.equal(who.status, 200);
    assert.ok(who.json.csrfToken);
    assert.equal(who.headers.get('cache-control'), 'no-store');
  } finally {
    await srv.stop();
  }
});

test('console sessions are capped per user: 20 logins of a member log out only that member\'s oldest', async () => {
  await withMember(async ({ srv }) => {
    const login = async (username, password) => {
      const r = await srv.req('POST', '/api/v1/session/login', { body: { username, password } });
      assert.equal(r.status, 200, r.text);
      return r.headers.get('set-cookie').split(';')[0];
    };
    const adminCookie = await login('admin', ADMIN_PASSWORD);
    const mel = [];
    for (let i = 0; i < 20; i++) mel.push(await login('mel', 'mel-password-1'));
    const alive = async (cookie) => (await srv.req('GET', '/api/v1/session', { headers: { Cookie: cookie } })).status;
    assert.equal(await alive(adminCookie), 200, 'the admin stays logged in');
    assert.equal(await alive(mel[19]), 200);
    assert.equal(await alive(mel[4]), 200, 'the newest 16 of the member live');
    assert.equal(await alive(mel[0]), 401, "the member's oldest ended");
  });
});

test('register with a metadata location that is a FIFO: 400 at once, the worker is not blocked', async () => {
  const dataDir = tempDir();
  const tok = createToken(dataDir, 'fifo');
  const srv = await new Server({ dataDir }).start();
  try {
    assert.equal((await srv.req('POST', '/v1/namespaces', { token: tok.token, body: { namespace: ['f'] } })).status, 200);
    const fifo = path.join(dataDir, 'warehouse', 'f', 'pipe.metadata.json');
    execFileSync('mkdir', ['-p', path.dirname(fifo)]);
    execFileSync('mkfifo', [fifo]);
    const t0 = Date.now();
    const r = await srv.req('POST', '/v1/namespaces/f/register',
      { token: tok.token, body: { name: 'p', 'metadata-location': `file://${fifo}` } });
    assertError(assert, r, 400, /BadRequest/, /not a regular file/);
    assert.ok(Date.now() - t0 < 2000, `took ${Date.now() - t0} ms`);
    assert.equal((await srv.req('GET', '/healthz')).status, 200);
  } finally {
    await srv.stop();
  }
});

// Sends raw bytes and returns what came back before the server closed (or 3 s passed).
function raw(port, text) {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1', () => sock.write(text));
    let out = '';
    sock.on('data', (d) => { out += d; });
    const done = () => resolve(out);
    sock.on('end', done);
    sock.on('error', done);
    setTimeout(() => { sock.destroy(); done(); }, 3000);
  });
}

test('framing: conflicting Content-Length, an unknown Transfer-Encoding, TE with CL, HTTP/1.1 without Host: one clear 400', async () => {
  const srv = await new Server().start();
  try {
    const cases = [
      ['POST /v1/config HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 10\r\n\r\nhello', /conflicting Content-Length/],
      ['POST /v1/config HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nhello', /only chunked/],
      ['POST /v1/config HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n5\r\nhello\r\n0\r\n\r\n', /both Transfer-Encoding and Content-Length/],
      ['GET /healthz HTTP/1.1\r\n\r\n', /needs a Host header/],
    ];
    for (const [req, re] of cases) {
      const t0 = Date.now();
      const out = await raw(srv.port, req);
      assert.ok(Date.now() - t0 < 2500, `no prompt answer to ${JSON.stringify(req)}`);
      assert.equal((out.match(/^HTTP\/1\.1 /gm) || []).length, 1, `one status line: ${out}`);
      assert.match(out, /^HTTP\/1\.1 400 /);
      const body = JSON.parse(out.slice(out.indexOf('\r\n\r\n') + 4));
      assert.equal(body.error.type, 'BadRequestException');
      assert.match(body.error.message, re);
    }
    // Agreeing duplicates and HTTP/1.0 without Host are fine.
    assert.match(await raw(srv.port, 'GET /healthz HTTP/1.0\r\n\r\n'), /^HTTP\/1\.1 200 /);
    assert.match(await raw(srv.port, 'POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}'), /^HTTP\/1\.1 405 /);
  } finally {
    await srv.stop();
  }
});

test('a commit whose metadata would exceed catalog.max_metadata_bytes is a 400 naming the limit, nothing written', async () => {
  const dataDir = tempDir();
  const tok = createToken(dataDir, 'cap');
  const srv = await new Server({ dataDir, config: 'catalog:\n  max_metadata_bytes: 8K\n' }).start();
  try {
    const call = (method, p, body) => srv.req(method, p, { token: tok.token, body });
    assert.equal((await call('POST', '/v1/namespaces', { namespace: ['cap'] })).status, 200);
    const schema = { type: 'struct', fields: [{ id: 1, name: 'id', type: 'long', required: true }] };
    const t = await call('POST', '/v1/namespaces/cap/tables', { name: 't', schema });
    assert.equal(t.status, 200, t.text);
    const metaDir = new URL(`${t.json.metadata.location}/metadata`);
    const files = () => fs.readdirSync(metaDir).length;
    const before = files();
    const big = { requirements: [], updates: [{ action: 'set-properties', updates: { blob: 'x'.repeat(10000) } }] };
    const r = await call('POST', '/v1/namespaces/cap/tables/t', big);
    assertError(assert, r, 400, /BadRequest/, /catalog\.max_metadata_bytes \(8192\)/);
    assert.equal(files(), before, 'no file written');
    const small = { requirements: [], updates: [{ action: 'set-properties', updates: { k: 'v' } }] };
    assert.equal((await call('POST', '/v1/namespaces/cap/tables/t', small)).status, 200);
    const load = await call('GET', '/v1/namespaces/cap/tables/t');
    assert.equal(load.status, 200);
    assert.equal(load.json.metadata.properties.k, 'v');
    assert.equal(load.json.metadata.properties.blob, undefined);
  } finally {
    await srv.stop();
  }
});

test('an integer outside int64 is a 400 naming the field, never clamped; INT64_MAX itself is kept exactly', async () => {
  const dataDir = tempDir();
  const tok = createToken(dataDir, 'ids');
  const srv = await new Server({ dataDir }).start();
  try {
    const call = (method, p, body) => srv.req(method, p, { token: tok.token, body });
    assert.equal((await call('POST', '/v1/namespaces', { namespace: ['ids'] })).status, 200);
    const schema = { type: 'struct', fields: [{ id: 1, name: 'id', type: 'long', required: true }] };
    assert.equal((await call('POST', '/v1/namespaces/ids/tables', { name: 't', schema })).status, 200);
    const snap = (id, ts) => `{"requirements":[],"updates":[{"action":"add-snapshot","snapshot":{"snapshot-id":${id},` +
      `"sequence-number":1,"timestamp-ms":${ts},"manifest-list":"file:///tmp/ml.avro","summary":{"operation":"append"},"schema-id":0}}]}`;
    const headers = { 'Content-Type': 'application/json' };
    const r1 = await srv.req('POST', '/v1/namespaces/ids/tables/t', { token: tok.token, body: snap('9223372036854775808', 1), headers });
    assertError(assert, r1, 400, /BadRequest/, /'snapshot-id'.*64-bit/);
    const r2 = await srv.req('POST', '/v1/namespaces/ids/tables/t', { token: tok.token, body: snap('1', '99999999999999999999'), headers });
    assertError(assert, r2, 400, /BadRequest/, /'timestamp-ms'.*64-bit/);
    const ok = await srv.req('POST', '/v1/namespaces/ids/tables/t', { token: tok.token, body: snap('9223372036854775807', 1), headers });
    assert.equal(ok.status, 200, ok.text);
    const load = await call('GET', '/v1/namespaces/ids/tables/t');
    assert.match(load.text, /"snapshot-id":9223372036854775807[,}]/);
  } finally {
    await srv.stop();
  }
});

test("libmicrohttpd's own messages go through the logger, at most 10 a second", async () => {
  const srv = await new Server().start();
  const t0 = Date.now();
  for (let i = 0; i < 60; i++) {
    await new Promise((resolve) => {
      const s = net.connect(srv.port, '127.0.0.1', () => {
        // a public route, whose body is read (a catalog route without a token is refused before its body)
        s.write('POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc');
        setTimeout(() => { s.destroy(); resolve(); }, 5);
      });
      s.on('error', resolve);
    });
  }
  const secs = (Date.now() - t0) / 1000;
  await sleep(200);
  const log = await srv.stop();
  const lines = log.split('\n').filter(Boolean);
  const mhd = lines.filter((l) => / warn  http: /.test(l));
  assert.ok(mhd.length > 0, `no libmicrohttpd message logged:\n${log}`);
  assert.ok(mhd.length <= 10 * (Math.ceil(secs) + 1), `${mhd.length} lines in ${secs} s`);
  const raw = lines.filter((l) => !/^\d{4}-\d\d-\d\dT/.test(l) && !l.startsWith('{'));
  assert.deepEqual(raw, [], 'every line has a timestamp and a level');
});

// Item 5: the credentials of a request with a body are checked before any of the body is read.
test('a body is never read for a request without valid credentials: the 401 comes after the headers', async () => {
  const dataDir = tempDir();
  const tok = createToken(dataDir, 'valid');
  const srv = await new Server({ dataDir }).start();
  try {
    const t0 = Date.now();
    // 16 MB announced, not one byte of it sent: the answer must not wait for the body
    for (const [auth, why] of [['', /missing access token/], ['X-API-Token: igt_nope\r\n', /malformed/],
      ['Cookie: icegate_session=forged\r\n', /session|access token/]]) {
      const out = await raw(srv.port, `POST /v1/namespaces HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\n` +
        'Content-Length: 16000000\r\n\r\n');
      assert.match(out, /^HTTP\/1\.1 401 /, out);
      assert.match(out, why);
    }
    for (const p of ['/api/v1/access-tokens', '/v1/transactions/commit']) {
      const out = await raw(srv.port, `POST ${p} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n`);
      assert.match(out, /^HTTP\/1\.1 401 /, `${p}: ${out}`);
    }
    assert.ok(Date.now() - t0 < 2500, 'answered at the headers, not after a timeout');
    // with a valid token the body is read and served as before, and the request is counted once (2: it and
    // the /metrics request that reads the count)
    const ok = await srv.req('POST', '/v1/namespaces', { token: tok.token, body: { namespace: ['fine'] } });
    assert.equal(ok.status, 200, ok.text);
    const m = await srv.req('GET', '/metrics', { token: tok.token });
    assert.match(m.text, new RegExp(`icegate_token_requests_total\\{token_id="${tok.id}"\\} 2\\n`));
  } finally {
    await srv.stop();
  }
});

// Item 6 (in part): a cap on connections per client address, and a deadline for a request's body.
test('server.max_connections_per_ip: connections past the cap from one address are refused; others go on', async () => {
  const srv = await new Server({ config: 'server:\n  max_connections_per_ip: 4\n' }).start();
  const held = [];
  try {
    for (let i = 0; i < 4; i++) {
      const s = net.connect(srv.port, '127.0.0.1');
      await new Promise((resolve) => s.on('connect', resolve));
      held.push(s);
    }
    const refused = await raw(srv.port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.equal(refused, '', `a 5th connection from 127.0.0.1 was served: ${refused}`);
    for (const s of held) s.destroy();
    await sleep(200);
    const ok = await raw(srv.port, 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.match(ok, /^HTTP\/1\.1 200 /);
  } finally {
    for (const s of held) s.destroy();
    await srv.stop();
  }
});

test('server.request_timeout: a body trickled in a byte at a time is cut off at the deadline', async () => {
  const srv = await new Server({ config: 'server:\n  request_timeout: 1\n  connection_timeout: 60\n' }).start();
  try {
    const t0 = Date.now();
    const closedAfter = await new Promise((resolve) => {
      const s = net.connect(srv.port, '127.0.0.1', () => s.write('POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n'));
      const tick = setInterval(() => s.write('x'), 200); // never idle: the idle timeout alone never fires
      const stop = setTimeout(() => { s.destroy(); }, 8000);
      const done = () => { clearInterval(tick); clearTimeout(stop); resolve(Date.now() - t0); };
      s.on('close', done);
      s.on('error', () => {});
    });
    assert.ok(closedAfter >= 900 && closedAfter < 4000, `closed after ${closedAfter} ms`);
    assert.equal((await srv.req('GET', '/healthz')).status, 200);
    await sleep(300);
    assert.match(srv.ownLog(), /longer than server\.request_timeout \(1 s\)/);
  } finally {
    await srv.stop();
  }
});

// Item 10 (in part): password guessing on the console login is throttled per user name and per address.
test('login brute force: after 5 failures each guess waits longer (429 + Retry-After), failures are logged', async () => {
  const srv = await new Server({ env: { ICEGATE_ADMIN_PASSWORD: ADMIN_PASSWORD } }).start();
  try {
    const login = (username, password) => srv.req('POST', '/api/v1/session/login', { body: { username, password } });
    for (let i = 0; i < 5; i++) assert.equal((await login('admin', `guess-${i}`)).status, 401);
    // the 6th failure blocks for 1 s: the right password is refused too until then, without being checked
    assert.equal((await login('admin', 'guess-5')).status, 401);
    const blocked = await login('admin', ADMIN_PASSWORD);
    assertError(assert, blocked, 429, /TooManyRequests/, /too many failed logins/);
    assert.ok(Number(blocked.headers.get('retry-after')) >= 1);
    await sleep(1100);
    const ok = await login('admin', ADMIN_PASSWORD);
    assert.equal(ok.status, 200, ok.text);
    // the success cleared the count: a typo now costs nothing
    assert.equal((await login('admin', 'typo')).status, 401);
    assert.equal((await login('admin', ADMIN_PASSWORD)).status, 200);
    await sleep(300);
    const log = srv.ownLog();
    assert.match(log, /warn  console: failed login for user 'admin' \(6 in a row\): refused for the next 1 s/);
    assert.ok(!/guess-/.test(log), 'a password never reaches the log');
  } finally {
    await srv.stop();
  }
});

// Item 15: long commits never occupy every worker; /healthz is answered while they run.
test('/healthz answers while commits on big metadata run: mutations pass a gate of server.threads slots', async () => {
  const dataDir = tempDir();
  const tok = createToken(dataDir, 'big');
  // one worker for mutations, and the pool's extra one for everything else
  const srv = await new Server({ dataDir, config: 'server:\n  threads: 1\n  max_body_bytes: 16M\n' }).start();
  try {
    const headers = { 'Content-Type': 'application/json' };
    await srv.req('POST', '/v1/namespaces', { token: tok.token, body: { namespace: ['big'] } });
    await srv.req('POST', '/v1/namespaces/big/tables', { token: tok.token,
      body: { name: 't', schema: { type: 'struct', fields: [{ id: 1, name: 'id', type: 'long', required: false }] } } });
    const blob = 'x'.repeat(1 << 20);
    for (let i = 0; i < 3; i++) { // ~24 MB of properties: every later commit parses and writes all of it
      const updates = {};
      for (let j = 0; j < 8; j++) updates[`p${i}_${j}`] = blob;
      const r = await srv.req('POST', '/v1/namespaces/big/tables/t', { token: tok.token, headers,
        body: JSON.stringify({ requirements: [], updates: [{ action: 'set-properties', updates }] }) });
      assert.equal(r.status, 200, r.text.slice(0, 200));
    }
    const commit = (n) => srv.req('POST', '/v1/namespaces/big/tables/t', { token: tok.token, headers,
      body: JSON.stringify({ requirements: [], updates: [{ action: 'set-properties', updates: { n: String(n) } }] }),
      headers: { ...headers, 'X-Request-Id': `commit-${n}` } });
    const commits = [commit(1), commit(2)];
    await sleep(30); // both sent: one runs, one waits at the gate
    // a new connection, as a probe opens one (a kept-alive one belongs to the worker that accepted it)
    const health = raw(srv.port, 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: probe\r\nConnection: close\r\n\r\n');
    const [c1, c2, h] = await Promise.all([...commits, health]);
    assert.deepEqual([c1.status, c2.status], [200, 200]);
    assert.match(h, /^HTTP\/1\.1 200 /);
    // The order on the server's own clock (the access line is written when the response is queued): the
    // probe was answered before either commit finished, not after the first one freed the only worker.
    await sleep(300);
    const at = (id) => {
      const line = srv.ownLog().split('\n').find((l) => l.includes(`requestId=${id}`));
      assert.ok(line, `no access line for ${id}`);
      return Date.parse(line.split(' ')[0]);
    };
    assert.ok(at('probe') < Math.min(at('commit-1'), at('commit-2')),
      `healthz at ${at('probe')}, commits at ${at('commit-1')} and ${at('commit-2')}`);
  } finally {
    await srv.stop();
  }
});
