// Per-route cost (ratelimiter.costs, DESIGN.md §8): a request takes its route class's cost from its token's
// limit — commits at 5, reads at 0.1, a loadTable answered 304 at not_modified — with the headers and 429s of §4.
// Every limited token here refills at 0.001/s (one unit per 1000 s), so nothing refills during a test and the
// counts are exact.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, createToken, tempDir, serveSync } from './lib/harness.js';

const COSTS = 'ratelimiter:\n  max_delay_ms: 0\n  costs: {read: 0.1, write: 1, commit: 5, not_modified: 0.01}\n';
const schema = { type: 'struct', fields: [{ id: 1, name: 'id', type: 'long', required: true }] };
const TABLE = '/v1/namespaces/db/tables/t';
const commitBody = (v) => ({ requirements: [], updates: [{ action: 'set-properties', updates: { v: String(v) } }] });

// Made before the server starts (one made later reaches it at its next poll): name -> [burst, more flags].
const TOKENS = {
  committer: [10], small: [3], reader: [10], writer: [10], reporter: [1], poller: [2], 'poller-stale': [1],
  'shadow-committer': [10, '--rate-limit-mode', 'shadow'],
};
let srv, dataDir, admin;
const made = {};
const limited = (name) => made[name].token;

before(async () => {
  dataDir = tempDir();
  admin = createToken(dataDir, 'admin').token; // unlimited: sets the catalog up
  for (const [name, [burst, ...extra]] of Object.entries(TOKENS))
    made[name] = createToken(dataDir, name, ['--max-rps', '0.001', '--burst', String(burst), ...extra]);
  srv = await new Server({ dataDir, config: COSTS }).start();
  assert.equal((await srv.req('POST', '/v1/namespaces', { token: admin, body: { namespace: ['db'] } })).status, 200);
  const t = await srv.req('POST', '/v1/namespaces/db/tables', { token: admin, body: { name: 't', schema } });
  assert.equal(t.status, 200, t.text);
});

after(async () => {
  await srv?.stop();
});

// Sends n requests one after another; returns their statuses and the last response.
async function run(n, method, path, opts) {
  const statuses = [];
  let last;
  for (let i = 0; i < n; i++) {
    last = await srv.req(method, path, typeof opts === 'function' ? opts(i) : opts);
    statuses.push(last.status);
  }
  return { statuses, last };
}
const count = (statuses, s) => statuses.filter((x) => x === s).length;

test('commit cost 5 with burst 10: 2 updateTable commits, then 429 for commits and transactions alike', async () => {
  const tok = limited('committer');
  const first = await srv.req('POST', TABLE, { token: tok, body: commitBody(1) });
  assert.equal(first.status, 200, first.text);
  assert.equal(first.headers.get('ratelimit'), '"token";r=5;t=0', 'remaining counts requests of cost 1');
  assert.equal(first.headers.get('ratelimit-policy'), '"token";q=10;w=10000');
  const second = await srv.req('POST', TABLE, { token: tok, body: commitBody(2) });
  assert.equal(second.status, 200, second.text);
  assert.match(second.headers.get('ratelimit'), /^"token";r=0;t=[1-9]\d*$/);
  const third = await srv.req('POST', TABLE, { token: tok, body: commitBody(3) });
  assert.equal(third.status, 429, third.text);
  assert.equal(third.json.error.type, 'TooManyRequestsException');
  assert.equal(third.json.error.message,
    "rate limit exceeded for access token 'committer': 0.001 requests per second (this request costs 5)");
  // Retry-After: until 5 units are free again, 5000 s at 0.001/s (not the 1000 s one unit takes)
  const retry = Number(third.headers.get('retry-after'));
  assert.ok(retry > 4990 && retry <= 5000, `Retry-After ${retry}`);
  const tx = await srv.req('POST', '/v1/transactions/commit', {
    token: tok,
    body: { 'table-changes': [{ identifier: { namespace: ['db'], name: 't' }, ...commitBody(4) }] },
  });
  assert.equal(tx.status, 429, tx.text);
  assert.match(tx.json.error.message, /\(this request costs 5\)$/);
  // the commits that passed were applied, the refused one was not
  const t = await srv.req('GET', TABLE, { token: admin });
  assert.equal(t.json.metadata.properties.v, '2');
});

test('a commit of cost 5 passes on a fresh token with burst 3 (a cost above the burst is the burst)', async () => {
  const tok = limited('small');
  assert.equal((await srv.req('POST', TABLE, { token: tok, body: commitBody(5) })).status, 200);
  const r = await srv.req('POST', TABLE, { token: tok, body: commitBody(6) });
  assert.equal(r.status, 429);
  assert.match(r.headers.get('ratelimit'), /^"token";r=0;t=\d+$/);
});

test('reads at 0.1 go 10x further than writes at 1 on the same burst', async () => {
  const reader = limited('reader');
  const reads = await run(103, 'GET', TABLE, { token: reader });
  assert.deepEqual(reads.statuses, [...Array(100).fill(200), 429, 429, 429]);
  assert.match(reads.last.json.error.message, /\(this request costs 0\.1\)$/);
  assert.equal(reads.last.headers.get('ratelimit'), '"token";r=0;t=100');
  // a write (namespace properties) costs 1: ten of them
  const writer = limited('writer');
  const writes = await run(12, 'POST', '/v1/namespaces/db/properties',
    (i) => ({ token: writer, body: { removals: [], updates: { [`k${i}`]: 'v' } } }));
  assert.deepEqual(writes.statuses, [...Array(10).fill(200), 429, 429]);
  // a metrics report is a read: 0.1
  const reporter = limited('reporter');
  const reports = await run(11, 'POST', `${TABLE}/metrics`, { token: reporter, body: { 'report-type': 'scan-report' } });
  assert.deepEqual(reports.statuses, [...Array(10).fill(204), 429]);
});

test('a loadTable answered 304 costs not_modified (0.01), charged a read (0.1) up front', async () => {
  const etag = (await srv.req('GET', TABLE, { token: admin })).headers.get('etag');
  assert.ok(etag);
  const tok = limited('poller');
  // 2 units: conditional loads pass while a read's 0.1 is free, each costing 0.01 in the end, so
  // 1 + (2 - 0.1) / 0.01 = 191 of them
  const polls = await run(193, 'GET', TABLE, { token: tok, headers: { 'If-None-Match': etag } });
  assert.equal(count(polls.statuses, 304), 191, `304s: ${count(polls.statuses, 304)}`);
  assert.deepEqual(polls.statuses.slice(191), [429, 429]);
  // without the refund the same token would have had 20; with it, what is left is below one read
  assert.equal((await srv.req('GET', TABLE, { token: tok })).status, 429);
  // a conditional load whose ETag is stale is a full read (200): no refund
  const fresh = limited('poller-stale');
  const stale = await run(11, 'GET', TABLE, { token: fresh, headers: { 'If-None-Match': '"stale"' } });
  assert.deepEqual(stale.statuses, [...Array(10).fill(200), 429]);
});

test('shadow mode counts would-be 429s at the request\'s cost', async () => {
  const tok = made['shadow-committer'];
  const commits = await run(3, 'POST', TABLE, (i) => ({ token: tok.token, body: commitBody(10 + i) }));
  assert.deepEqual(commits.statuses, [200, 200, 200], 'shadow serves every one');
  const st = (await srv.req('GET', `/api/v1/access-tokens/${tok.id}/stats?seconds=60`, { token: admin })).json;
  assert.equal(st.totalShadowLimited, 1, `the third commit (cost 5) would have been refused: ${JSON.stringify(st)}`);
});

test('ratelimiter.costs: a bad value stops the start, naming the key', () => {
  const bad = serveSync({ env: { ICEGATE_RATELIMITER_COSTS_COMMIT: '0.001' } });
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /config key ratelimiter\.costs\.commit \(env ICEGATE_RATELIMITER_COSTS_COMMIT\): "0\.001" is not a cost/);
  const over = serveSync({ env: { ICEGATE_RATELIMITER_COSTS_NOT_MODIFIED: '2' } });
  assert.notEqual(over.status, 0);
  assert.match(over.stderr, /config key ratelimiter\.costs\.not_modified: must not exceed ratelimiter\.costs\.read/);
});

// Held requests (ratelimiter.max_delay_ms): a costly request is held to where its cost is free, and a held read
// answered 304 still gets its refund when it comes back.
test('held requests: a commit waits for 5 units, held 304s are refunded', async () => {
  const dir = tempDir();
  const adm = createToken(dir, 'admin').token;
  const committer = createToken(dir, 'held-committer', ['--max-rps', '10', '--burst', '10']).token;
  const poller = createToken(dir, 'held-poller', ['--max-rps', '1', '--burst', '1']).token;
  const held = await new Server({
    dataDir: dir,
    config: 'ratelimiter:\n  max_delay_ms: 1000\n  costs: {read: 1, commit: 5, not_modified: 0.1}\n',
  }).start();
  try {
    assert.equal((await held.req('POST', '/v1/namespaces', { token: adm, body: { namespace: ['db'] } })).status, 200);
    assert.equal((await held.req('POST', '/v1/namespaces/db/tables', { token: adm, body: { name: 't', schema } })).status, 200);
    for (let i = 0; i < 2; i++) assert.equal((await held.req('POST', TABLE, { token: committer, body: commitBody(i) })).status, 200);
    const t0 = Date.now();
    const third = await held.req('POST', TABLE, { token: committer, body: commitBody(3) });
    const waited = Date.now() - t0;
    assert.equal(third.status, 200, third.text);
    assert.ok(waited >= 400 && waited < 1000, `the third commit waits for 5 units at 10/s (~500 ms): ${waited} ms`);
    // 1 per second, burst 1: each conditional load needs a whole read free and gives 0.9 back when it is a
    // 304, so 5 of them take ~0.4 s; without the refund each would wait ~1 s for its slot.
    const etag = (await held.req('GET', TABLE, { token: adm })).headers.get('etag');
    const t1 = Date.now();
    for (let i = 0; i < 5; i++)
      assert.equal((await held.req('GET', TABLE, { token: poller, headers: { 'If-None-Match': etag } })).status, 304);
    const took = Date.now() - t1;
    assert.ok(took < 1500, `5 held 304s took ${took} ms`);
  } finally {
    await held.stop();
  }
});
