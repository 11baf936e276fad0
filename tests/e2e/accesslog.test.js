// The access log and request ids (DESIGN.md §9): one line per completed request, text or JSON, with the
// request id the response carries; slow requests at warn; nothing secret in it; no line lost or torn under load.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import test from 'node:test';

import { ADMIN_PASSWORD, Server, createToken, sleep, tempDir } from './lib/harness.js';

// The server's access lines, parsed: text "key=value" pairs after "access", or JSON objects with msg "access".
function accessLines(log, json) {
  const out = [];
  for (const line of log.split('\n')) {
    if (json) {
      if (!line.startsWith('{')) continue;
      const o = JSON.parse(line); // every JSON line must parse
      if (o.msg === 'access') out.push(o);
      continue;
    }
    const m = /^\S+ (\S+)\s+access (.*)$/.exec(line);
    if (!m) continue;
    const o = { level: m[1] };
    for (const kv of m[2].matchAll(/(\w+)=("(?:[^"\\]|\\.)*"|\S+)/g))
      o[kv[1]] = kv[2].startsWith('"') ? JSON.parse(kv[2]) : kv[2];
    out.push(o);
  }
  return out;
}

// Stops srv and returns its access lines.
async function linesOf(srv, json = false) {
  const log = await srv.stop();
  await sleep(0);
  return { lines: accessLines(log, json), log };
}

async function startWithToken(config) {
  const dataDir = tempDir();
  const tok = createToken(dataDir, 'log-test');
  const srv = await new Server({ dataDir, config }).start();
  return { srv, tok };
}

test('text access log: one line per request with route template, status, sizes, token id, client, request id, error type', async () => {
  const { srv, tok } = await startWithToken();
  const ok = await srv.req('GET', '/v1/config', { token: tok.token, headers: { 'X-Request-Id': 'client-req.42_A' } });
  assert.equal(ok.status, 200);
  assert.equal(ok.headers.get('x-request-id'), 'client-req.42_A', 'a well-formed X-Request-Id is kept');
  const missing = await srv.req('GET', '/v1/namespaces/nope?pageToken=igt_notasecret', { token: tok.token });
  assert.equal(missing.status, 404);
  const made = missing.headers.get('x-request-id');
  assert.match(made, /^[0-9a-f]{16}$/, 'an id is made when the client sends none');
  const unauth = await srv.req('GET', '/v1/config', { headers: { 'X-Request-Id': 'bad id with spaces' } });
  assert.equal(unauth.status, 401);
  const replaced = unauth.headers.get('x-request-id');
  assert.match(replaced, /^[0-9a-f]{16}$/, 'a malformed X-Request-Id is replaced');
  const tooLong = await srv.req('GET', '/healthz', { headers: { 'X-Request-Id': 'a'.repeat(129) } });
  assert.match(tooLong.headers.get('x-request-id'), /^[0-9a-f]{16}$/);
  const exact = await srv.req('GET', '/healthz', { headers: { 'X-Request-Id': 'b'.repeat(128) } });
  assert.equal(exact.headers.get('x-request-id'), 'b'.repeat(128));

  const { lines, log } = await linesOf(srv);
  const mine = new Set(['client-req.42_A', made, replaced, 'b'.repeat(128)]);
  assert.equal(lines.filter((l) => mine.has(l.requestId)).length, 4, log);
  const byId = Object.fromEntries(lines.map((l) => [l.requestId, l]));
  const a = byId['client-req.42_A'];
  assert.equal(a.level, 'info');
  assert.equal(a.method, 'GET');
  assert.equal(a.status, '200');
  assert.equal(a.tokenId, tok.id);
  assert.equal(a.client, '127.0.0.1');
  assert.equal(a.bytesIn, '0');
  assert.equal(a.bytesOut, String(Buffer.byteLength(ok.text)));
  assert.match(a.ms, /^\d+\.\d{3}$/);
  assert.equal(a.type, undefined);
  const m = byId[made];
  assert.equal(m.status, '404');
  assert.equal(m.type, 'NoSuchNamespaceException');
  assert.equal(m.message, undefined, 'a 4xx message is logged only at debug');
  const u = byId[replaced];
  assert.equal(u.status, '401');
  assert.equal(u.type, 'NotAuthorizedException');
  assert.equal(u.tokenId, '-');
  assert.doesNotMatch(log, /pageToken|igt_notasecret|bad id with spaces/, 'no query string and no rejected id in the log');
});

test('JSON access log: every line parses; a 429 carries its request id and type', async () => {
  const dataDir = tempDir();
  const tok = createToken(dataDir, 'json-log', ['--max-rps', '1', '--burst', '1']);
  // max_delay_ms 0: the second request is a 429 at once, not held to its slot
  const srv = await new Server({ dataDir, config: 'log:\n  format: json\nratelimiter:\n  max_delay_ms: 0\n' }).start();
  const first = await srv.req('GET', '/v1/config', { token: tok.token });
  assert.equal(first.status, 200);
  const limited = await srv.req('GET', '/v1/config', { token: tok.token, headers: { 'X-Request-Id': 'r-429' } });
  assert.equal(limited.status, 429);
  assert.equal(limited.headers.get('x-request-id'), 'r-429');
  const body = { namespace: ['a'] };
  const wrong = await srv.req('POST', '/v1/namespaces', { body }); // no token: 401 before its body is read
  assert.equal(wrong.status, 401);
  const { lines, log } = await linesOf(srv, true);
  // Every line of the log is JSON, the start-up lines included.
  for (const line of log.split('\n').filter((l) => l.startsWith('{'))) JSON.parse(line);
  assert.ok(log.split('\n').filter(Boolean).every((l) => l.startsWith('{') || !/^\d{4}-/.test(l)), 'no text lines');
  const l429 = lines.find((l) => l.requestId === 'r-429');
  assert.equal(l429.status, 429);
  assert.equal(l429.type, 'TooManyRequestsException');
  assert.equal(l429.level, 'info');
  assert.equal(l429.tokenId, tok.id);
  assert.equal(typeof l429.ms, 'number');
  const l401 = lines.find((l) => l.status === 401);
  assert.equal(l401.tokenId, null);
  assert.equal(l401.bytesIn, 0, 'refused at the headers: not one byte of the body was read');
});

test('log.access: false logs no access lines, but a slow request still gets its warn line (slow=true)', async () => {
  const { srv } = await startWithToken('log:\n  access: false\n  slow_request_ms: 5\n');
  // A console login verifies an argon2id hash: tens of milliseconds, far over 5 ms.  A health check is not.
  const login = await srv.req('POST', '/api/v1/session/login', { body: { username: 'admin', password: ADMIN_PASSWORD } });
  assert.equal(login.status, 200);
  for (let i = 0; i < 20; i++) assert.equal((await srv.req('GET', '/healthz')).status, 200);
  const { lines, log } = await linesOf(srv);
  const slow = lines.find((l) => l.requestId === login.headers.get('x-request-id'));
  assert.ok(slow, `no line for the slow login:\n${log}`);
  assert.equal(slow.level, 'warn');
  assert.equal(slow.slow, 'true');
  assert.equal(slow.status, '200');
  assert.ok(Number(slow.ms) > 5);
  for (const l of lines) assert.equal(l.slow, 'true', `a line that is not slow with log.access off: ${JSON.stringify(l)}`);
  assert.ok(lines.length < 21, 'the fast health checks are not logged');
});

test('under load no access line is lost or torn: lines = requests answered, each parses', async () => {
  const { srv, tok } = await startWithToken('log:\n  format: json\n');
  const N = 4000, C = 16;
  let sent = 0, answered = 0;
  const ids = new Set();
  await Promise.all(Array.from({ length: C }, async () => {
    while (sent < N) {
      sent++;
      const r = await fetch(`${srv.url}/v1/config`, { headers: { 'X-API-Token': tok.token } });
      await r.arrayBuffer();
      ids.add(r.headers.get('x-request-id'));
      answered++;
    }
  }));
  assert.equal(answered, N);
  assert.equal(ids.size, N, 'request ids are unique');
  const { lines } = await linesOf(srv, true);
  const config = lines.filter((l) => l.status === 200 && l.tokenId === tok.id);
  assert.equal(config.length, N);
  for (const l of config) assert.ok(ids.has(l.requestId));
});

test('a warning a request causes names its request id, like its access line', async () => {
  const { srv, tok } = await startWithToken('catalog:\n  allow_location_overlap: true\n');
  const schema = { type: 'struct', fields: [{ id: 1, name: 'id', type: 'long', required: true }] };
  const call = (method, p, body) => srv.req(method, p, { token: tok.token, body });
  assert.equal((await call('POST', '/v1/namespaces', { namespace: ['w'] })).status, 200);
  const outer = await call('POST', '/v1/namespaces/w/tables', { name: 'outer', schema });
  assert.equal(outer.status, 200, outer.text);
  const loc = outer.json.metadata.location;
  // A second table lives below the first one's location (allowed here): purging the first must skip its
  // directory, and say so.
  const inner = await call('POST', '/v1/namespaces/w/tables', { name: 'inner', schema, location: `${loc}/inner` });
  assert.equal(inner.status, 200, inner.text);
  const drop = await srv.req('DELETE', '/v1/namespaces/w/tables/outer?purgeRequested=true',
    { token: tok.token, headers: { 'X-Request-Id': 'drop-outer-1' } });
  assert.equal(drop.status, 204);
  const { log } = await linesOf(srv);
  const warning = log.split('\n').find((l) => / warn  .*purge of .* skipped/.test(l));
  assert.ok(warning, `no purge warning:\n${log}`);
  assert.match(warning, / requestId=drop-outer-1$/);
  assert.match(log, / access method=DELETE .* status=204 .* requestId=drop-outer-1\n/);
});

test('a 401 and a 429 on a catalog route are logged under that route template', async () => {
  const dataDir = tempDir();
  const tok = createToken(dataDir, 'limited', ['--max-rps', '1', '--burst', '1']);
  const srv = await new Server({ dataDir, env: { ICEGATE_RATELIMITER_MAX_DELAY_MS: '0' } }).start(); // 429 at once
  assert.equal((await srv.req('GET', '/v1/namespaces/ns1/tables/t1', { token: tok.token })).status, 404);
  const limited = await srv.req('GET', '/v1/namespaces/ns2/tables/t2', { token: tok.token });
  assert.equal(limited.status, 429);
  const anon = await srv.req('GET', '/v1/warehouse/namespaces/ns3/tables/t3');
  assert.equal(anon.status, 401);
  const { lines } = await linesOf(srv);
  const tpl = '/v1/{prefix}/namespaces/{namespace}/tables/{table}';
  const of = (res) => lines.find((l) => l.requestId === res.headers.get('x-request-id'));
  assert.equal(of(limited).route, tpl);
  assert.equal(of(limited).tokenId, tok.id);
  assert.equal(of(anon).route, tpl);
  assert.ok(!lines.some((l) => /ns\d|t\d/.test(l.route)), 'no client text in a route');
});

test('a 5xx is logged at error with its cause', async () => {
  const { srv, tok } = await startWithToken();
  const schema = { type: 'struct', fields: [{ id: 1, name: 'id', type: 'long', required: true }] };
  assert.equal((await srv.req('POST', '/v1/namespaces', { token: tok.token, body: { namespace: ['e'] } })).status, 200);
  const t = await srv.req('POST', '/v1/namespaces/e/tables', { token: tok.token, body: { name: 't', schema } });
  assert.equal(t.status, 200, t.text);
  await srv.stop();
  // The table's metadata file is damaged on disk behind the server's back: a commit cannot read it.
  fs.writeFileSync(new URL(t.json['metadata-location']), 'not json');
  const again = await new Server({ dataDir: srv.dataDir }).start();
  const commit = await again.req('POST', '/v1/namespaces/e/tables/t',
    { token: tok.token, body: { requirements: [], updates: [] }, headers: { 'X-Request-Id': 'broken-1' } });
  assert.equal(commit.status, 500, commit.text);
  const { lines } = await linesOf(again);
  const l = lines.find((x) => x.requestId === 'broken-1');
  assert.equal(l.level, 'error');
  assert.equal(l.type, 'ServiceFailureException');
  assert.ok(l.message && l.message.length > 0, 'the cause is in the line');
});
