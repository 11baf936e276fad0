// ratelimiter.backend: redis (issue 12): every node decides on one shared GCRA cell per token in a real Redis
// (Debian's redis-server, on a unix socket in a temp dir), so a token's Max RPS holds for the cluster, not per
// node.  Three icegate nodes on one data dir (they share the token table through SQLite) behind nginx round
// robin; Redis is killed in the middle of a run to check ratelimiter.redis.on_error.  The counts are the
// client's own (every request sent inside the window), the bounds are burst + rate x time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Server, createToken, tempDir, sleep } from './lib/harness.js';
import { startRedis, startBalancer, hammer } from './lib/cluster.js';

const config = (redis, { onError = 'local', maxDelay = 0 }) => `ratelimiter:
  backend: redis
  max_delay_ms: ${maxDelay}
  redis:
    url: ${redis.url}
    on_error: ${onError}
cluster:
  heartbeat_ms: 200
`;

async function cluster(t, redis, n, opts = {}) {
  const dataDir = tempDir();
  const admin = createToken(dataDir, 'admin').token;
  const nodes = [];
  for (let i = 0; i < n; i++) {
    const s = new Server({ dataDir, name: `node${i}`, config: config(redis, opts) });
    nodes.push(await s.start());
  }
  t.after(async () => { for (const s of nodes) if (s.running()) await s.stop(); });
  return { dataDir, admin, nodes };
}

async function metric(srv, admin, re) {
  const r = await srv.req('GET', '/metrics', { token: admin });
  assert.equal(r.status, 200);
  const m = re.exec(r.text);
  return m ? Number(m[1]) : undefined;
}

// Waits until every node has counted n live nodes (its heartbeat: 200 ms here).
async function waitNodes(nodes, admin, n) {
  for (let i = 0; i < 100; i++) {
    const seen = await Promise.all(nodes.map((s) => metric(s, admin, /^icegate_cluster_nodes (\d+)$/m)));
    if (seen.every((v) => v === n)) return;
    await sleep(50);
  }
  assert.fail(`the nodes did not all count ${n} live nodes`);
}

// Redis, three nodes counting each other, nginx in front, and a token of rps/burst every node knows, its
// bucket full.
async function behindNginx(t, rps, burst) {
  const redis = await startRedis();
  t.after(() => redis.stop());
  const { dataDir, admin, nodes } = await cluster(t, redis, 3);
  const lb = await startBalancer(nodes.map((s) => s.port));
  t.after(() => lb.stop());
  await waitNodes(nodes, admin, 3);
  const tok = createToken(dataDir, `shared-${rps}`, ['--max-rps', String(rps), '--burst', String(burst)]);
  // The nodes poll the store for new tokens every tokens.poll_interval_ms: wait until each knows it.
  for (const s of nodes)
    for (let i = 0; (await s.req('GET', '/v1/config', { token: tok.token })).status === 401 && i < 100; i++) await sleep(20);
  await sleep(Math.ceil(1000 * burst / rps) + 100); // the probes took some of the bucket: let it fill again
  return { redis, admin, nodes, lb, tok };
}

const served = (srv) => (srv.ownLog().match(/route=\/v1\/config status=200 /g) || []).length;

test('a 20 rps token through three nodes behind nginx admits 20 x 10 + burst within 2 %', async (t) => {
  const { admin, nodes, lb, tok } = await behindNginx(t, 20, 20);

  const counts = await hammer(`${lb.url}/v1/config`, tok.token, { ms: 10000, clients: 8 });
  const expected = 20 * 10 + 20;
  t.diagnostic(`admitted ${counts[200]} of ${counts[200] + counts[429]} (expected ${expected}); per node ${nodes.map(served)}`);
  assert.ok(counts[200] >= expected * 0.98 && counts[200] <= expected * 1.02,
    `admitted ${counts[200]} (429: ${counts[429]}, other: ${JSON.stringify(counts)}), expected ${expected} ± 2 %`);
  assert.ok(counts[429] > counts[200], 'the token was hammered well past its limit');
  assert.equal(Object.keys(counts).filter((k) => k !== '200' && k !== '429').length, 0, JSON.stringify(counts));
  // Every node admitted a share: the limit held across them, not on one.
  const perNode = nodes.map(served);
  for (const n of perNode) assert.ok(n >= 30, `per node admitted: ${perNode}`);
  // One script per decision: a 20 rps token takes no leases.
  assert.equal(await metric(nodes[0], admin, /^icegate_ratelimit_redis_leases_total (\d+)$/m), 0);
});

test('Redis killed mid-run: on_error local keeps the cluster within the limit, and it recovers by itself', async (t) => {
  const rps = 30, burst = 30;
  const { redis, admin, nodes, lb, tok } = await behindNginx(t, rps, burst);

  const run = hammer(`${lb.url}/v1/config`, tok.token, { ms: 9000, clients: 6 });
  await sleep(3000);
  await redis.kill();
  await sleep(1000);
  const ready = await nodes[1].req('GET', '/readyz');
  assert.equal(ready.status, 200, 'a node deciding on its fallback cells still takes traffic');
  assert.match(ready.json.ratelimiter, /Redis unreachable for \d+ ms: deciding on local cells/);
  await sleep(2000);
  await redis.start(); // empty: the cells were lost with it
  const counts = await run;

  // Before: burst + 3 s; the outage: each node at rps/3 from an empty cell; after: the shared cell again, with
  // the fallback cells' debt carried into it.  Never more than burst + rate x 9 s in all.
  const bound = burst + rps * 9;
  t.diagnostic(`admitted ${counts[200]} of ${counts[200] + counts[429]}, bound ${bound}`);
  assert.ok(counts[200] <= bound, `admitted ${counts[200]}, bound ${bound} (${JSON.stringify(counts)})`);
  assert.ok(counts[200] >= 0.75 * rps * 9, `admitted ${counts[200]}: the cluster kept serving (${JSON.stringify(counts)})`);
  assert.equal(Object.keys(counts).filter((k) => k !== '200' && k !== '429').length, 0, JSON.stringify(counts));

  for (const s of nodes) {
    assert.equal(await metric(s, admin, /^icegate_ratelimit_redis_up (\d+)$/m), 1, 'recovered without a restart');
    assert.ok(await metric(s, admin, /^icegate_ratelimit_redis_outages_total (\d+)$/m) >= 1);
    assert.ok(await metric(s, admin, /^icegate_ratelimit_redis_recoveries_total (\d+)$/m) >= 1);
    assert.ok(await metric(s, admin, /^icegate_ratelimit_redis_fallback_decisions_total\{policy="local"\} (\d+)$/m) > 0);
    const log = s.ownLog();
    assert.match(log, /warn +ratelimiter: Redis failed \(.*\): deciding on this node's cells at maxRps\/3 and burst\/3/);
    assert.match(log, /info +ratelimiter: Redis answers again after \d+ ms: deciding on the shared cells/);
  }
  assert.equal((await nodes[0].req('GET', '/readyz')).status, 200);
});

test('on_error deny: 503 SlowDownException with Retry-After while Redis is down, not ready, back when it is', async (t) => {
  const redis = await startRedis();
  t.after(() => redis.stop());
  const { dataDir, admin, nodes: [srv] } = await cluster(t, redis, 1, { onError: 'deny' });
  const tok = createToken(dataDir, 'deny', ['--max-rps', '50']).token;
  for (let i = 0; (await srv.req('GET', '/v1/config', { token: tok })).status === 401 && i < 100; i++) await sleep(20);
  assert.equal((await srv.req('GET', '/v1/config', { token: tok })).status, 200);

  await redis.kill();
  const r = await srv.req('GET', '/v1/config', { token: tok });
  assert.equal(r.status, 503);
  assert.equal(r.json.error.type, 'SlowDownException');
  assert.equal(r.headers.get('retry-after'), '1');
  assert.match(r.json.error.message, /cannot reach its Redis/);
  assert.equal((await srv.req('GET', '/readyz')).status, 503);
  // A token without a Max RPS is not rate-checked: it never needs Redis.
  assert.equal((await srv.req('GET', '/v1/config', { token: admin })).status, 200);

  await redis.start();
  let status;
  for (let i = 0; i < 100 && (status = (await srv.req('GET', '/v1/config', { token: tok })).status) !== 200; i++) await sleep(50);
  assert.equal(status, 200, 'served again once Redis answers, without a restart');
  assert.equal((await srv.req('GET', '/readyz')).status, 200);
  assert.match(srv.ownLog(), /answering 503 SlowDownException on \/v1 until it is back \(ratelimiter.redis.on_error: deny\)/);
});

test('held requests (ratelimiter.max_delay_ms) and a fast token\'s leases work with the Redis back end', async (t) => {
  const redis = await startRedis();
  t.after(() => redis.stop());
  const { dataDir, admin, nodes: [srv] } = await cluster(t, redis, 1, { maxDelay: 2000 });
  const slow = createToken(dataDir, 'held', ['--max-rps', '5', '--burst', '1']).token;
  const fast = createToken(dataDir, 'fast', ['--max-rps', '100000', '--burst', '1000']).token;
  for (let i = 0; (await srv.req('GET', '/v1/config', { token: slow })).status === 401 && i < 100; i++) await sleep(20);
  await sleep(300);

  // burst 1 at 5 rps: four at once are one now and three held to their slots 200 ms apart, all served.
  const t0 = Date.now();
  const rs = await Promise.all([0, 1, 2, 3].map(() => srv.req('GET', '/v1/config', { token: slow })));
  assert.deepEqual(rs.map((r) => r.status), [200, 200, 200, 200]);
  assert.ok(Date.now() - t0 >= 550, `four requests at 5 rps, burst 1, took only ${Date.now() - t0} ms`);

  const before = await metric(srv, admin, /^icegate_ratelimit_redis_calls_total (\d+)$/m);
  const counts = await hammer(`${srv.url}/v1/config`, fast, { ms: 1500, clients: 4 });
  const calls = (await metric(srv, admin, /^icegate_ratelimit_redis_calls_total (\d+)$/m)) - before;
  assert.equal(Object.keys(counts).join(), '200', JSON.stringify(counts));
  assert.ok(await metric(srv, admin, /^icegate_ratelimit_redis_leases_total (\d+)$/m) > 0);
  assert.ok(calls < counts[200] / 2, `${calls} Redis calls for ${counts[200]} requests: leases should serve most`);
});
