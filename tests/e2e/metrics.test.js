// /metrics end to end: requests counted by route template, method and exact status; series that do not grow
// with client text (1,000 table names); commits by result; build info.  Prometheus text parsed line by line.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, createToken, tempDir } from './lib/harness.js';

let srv, tok;

const schema = { type: 'struct', fields: [{ id: 1, name: 'id', type: 'long', required: true }] };

before(async () => {
  const dataDir = tempDir();
  tok = createToken(dataDir, 'metrics-e2e').token;
  srv = await new Server({ dataDir }).start();
});

after(async () => {
  await srv.stop();
});

async function scrape() {
  const r = await srv.req('GET', '/metrics', { token: tok });
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^text\/plain/);
  return r.text;
}

// The sample lines (no comments) of the exposition text.
const samples = (text) => text.split('\n').filter((l) => l && !l.startsWith('#'));

// The value of the series `name{labels}` (labels in the order the server writes them), or 0 when absent.
function value(text, name, labels) {
  const want = `${name}{${Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(',')}}`;
  const line = samples(text).find((l) => l.startsWith(`${want} `));
  return line ? Number(line.slice(want.length + 1)) : 0;
}

const reqs = (text, route, method, status) =>
  value(text, 'icegate_http_requests_total', { route, method, status: String(status) });

async function expect(method, path, status, body) {
  const r = await srv.req(method, path, { token: tok, body });
  assert.equal(r.status, status, `${method} ${path}: ${r.text}`);
  return r;
}

test('requests are counted by route template, method and exact status', async () => {
  const before0 = await scrape();
  await expect('GET', '/v1/config', 200);
  await expect('POST', '/v1/namespaces', 200, { namespace: ['m1'] });
  await expect('GET', '/v1/namespaces/m1', 200);
  await expect('GET', '/v1/namespaces/nope', 404);
  await expect('HEAD', '/v1/namespaces/m1', 204);
  await expect('GET', '/v1/namespaces/m1/tables', 200);
  await expect('GET', '/v1/namespaces/m1/tables/ghost', 404);
  await expect('PUT', '/v1/namespaces/m1/tables/ghost', 405);
  await expect('GET', '/v1/no/such/route/at/all', 404);
  await expect('GET', '/api/v1/access-tokens', 200);
  await expect('GET', '/healthz', 200);
  await expect('GET', '/index.html', 200);
  await expect('GET', '/no-such-file.js', 404);
  const after1 = await scrape();
  const delta = (route, method, status) => reqs(after1, route, method, status) - reqs(before0, route, method, status);
  const ns = '/v1/{prefix}/namespaces/{namespace}';
  assert.equal(delta('/v1/config', 'GET', 200), 1);
  assert.equal(delta('/v1/{prefix}/namespaces', 'POST', 200), 1);
  assert.equal(delta(ns, 'GET', 200), 1);
  assert.equal(delta(ns, 'GET', 404), 1, 'a missing namespace still counts under its route');
  assert.equal(delta(ns, 'HEAD', 204), 1);
  assert.equal(delta(`${ns}/tables`, 'GET', 200), 1);
  assert.equal(delta(`${ns}/tables/{table}`, 'GET', 404), 1);
  assert.equal(delta(`${ns}/tables/{table}`, 'PUT', 405), 1);
  assert.equal(delta('/api/v1/access-tokens', 'GET', 200), 1);
  assert.equal(delta('/healthz', 'GET', 200), 1);
  assert.equal(delta('/{asset}', 'GET', 200), 1);
  assert.equal(delta('unmatched', 'GET', 404), 2, 'paths no route matches are "unmatched"');
  // The earlier scrape itself was counted once it was answered.
  assert.ok(reqs(after1, '/metrics', 'GET', 200) >= 1);
  // No client text in any label: not a namespace, a table or a file name, whole or as a path segment (a token
  // id is letters and digits: "tok_…m1…" holds no such segment, and once made this check fail by chance).
  for (const l of samples(after1))
    for (const [, v] of l.matchAll(/="([^"]*)"/g))
      assert.doesNotMatch(v, /(^|[/.])(m1|ghost|nope|no-such-file|index)([/.]|$)/, l);
  // Histogram by route, with the bucket bounds and +Inf.
  const h = 'icegate_http_request_duration_seconds';
  assert.ok(value(after1, `${h}_bucket`, { route: '/v1/config', le: '+Inf' }) >= 1);
  assert.ok(value(after1, `${h}_bucket`, { route: '/v1/config', le: '0.0001' }) >= 0);
  assert.ok(value(after1, `${h}_count`, { route: '/v1/config' }) >= 1);
  assert.match(after1, /^icegate_http_requests_in_flight \d+$/m);
  assert.match(after1, /^icegate_access_tokens 1$/m);
  assert.match(after1, /^icegate_token_requests_total\{token_id="[^"]+"\} \d+$/m);
});

test('the number of series does not grow with table names', async () => {
  await expect('GET', '/v1/namespaces/m1/tables/warmup', 404);
  await scrape(); // the scrape's own series exist from here on
  const before1 = await scrape();
  const n0 = samples(before1).length;
  for (let i = 0; i < 1000; i += 50) {
    await Promise.all(Array.from({ length: 50 }, (_, j) =>
      expect('GET', `/v1/namespaces/m1/tables/t${i + j}`, 404)));
  }
  const after1 = await scrape();
  assert.equal(samples(after1).length, n0, 'series count unchanged after 1,000 table names');
  const route = '/v1/{prefix}/namespaces/{namespace}/tables/{table}';
  assert.equal(reqs(after1, route, 'GET', 404) - reqs(before1, route, 'GET', 404), 1000);
  assert.doesNotMatch(after1, /t999/);
});

test('commits are counted by result: ok, conflict, failed', async () => {
  const c = (text, result) => value(text, 'icegate_commits_total', { result });
  const m0 = await scrape();
  await expect('POST', '/v1/namespaces', 200, { namespace: ['cm'] });
  const created = await expect('POST', '/v1/namespaces/cm/tables', 200, { name: 't', schema });
  const uuid = created.json.metadata['table-uuid'];
  const path = '/v1/namespaces/cm/tables/t';
  await expect('POST', path, 200, {
    requirements: [{ type: 'assert-table-uuid', uuid }],
    updates: [{ action: 'set-properties', updates: { a: 'b' } }],
  });
  const conflict = await expect('POST', path, 409, {
    requirements: [{ type: 'assert-table-uuid', uuid: '00000000-0000-0000-0000-000000000000' }],
    updates: [{ action: 'set-properties', updates: { a: 'c' } }],
  });
  assert.equal(conflict.json.error.type, 'CommitFailedException');
  await expect('POST', path, 400, { requirements: [], updates: [{ action: 'frobnicate' }] });
  const m1 = await scrape();
  assert.equal(c(m1, 'ok') - c(m0, 'ok'), 1);
  assert.equal(c(m1, 'conflict') - c(m0, 'conflict'), 1);
  assert.equal(c(m1, 'failed') - c(m0, 'failed'), 1);
  assert.equal(reqs(m1, '/v1/{prefix}/namespaces/{namespace}/tables/{table}', 'POST', 409) -
    reqs(m0, '/v1/{prefix}/namespaces/{namespace}/tables/{table}', 'POST', 409), 1);
});

test('build info, store errors and the prefixed form of catalog routes', async () => {
  const m0 = await scrape();
  assert.match(m0, /^icegate_build_info\{version="[^"]+"\} 1$/m);
  assert.match(m0, /^icegate_store_errors_total 0$/m);
  assert.match(m0, /^# TYPE icegate_http_request_duration_seconds histogram$/m);
  const cfg = await expect('GET', '/v1/config?warehouse=warehouse', 200);
  const prefix = cfg.json.overrides.prefix;
  assert.ok(prefix);
  await expect('GET', `/v1/${encodeURIComponent(prefix)}/namespaces`, 200);
  await expect('GET', '/v1/wrong-warehouse/namespaces', 404);
  await expect('GET', '/v1', 404);
  const m1 = await scrape();
  const d = (s) => reqs(m1, '/v1/{prefix}/namespaces', 'GET', s) - reqs(m0, '/v1/{prefix}/namespaces', 'GET', s);
  assert.equal(d(200), 1, 'a prefixed request counts under the same template');
  assert.equal(d(404), 1, 'an unknown warehouse is counted under its route');
  assert.equal(reqs(m1, 'unmatched', 'GET', 404) - reqs(m0, 'unmatched', 'GET', 404), 1, '/v1 alone is no route');
  assert.equal(reqs(m1, '/v1', 'GET', 404), 0);
});
