// bench/suspend.mjs — cross-node suspend latency (issue 12): three icegate nodes on one data dir; a token is
// suspended through node A's admin API, and B and C are asked back to back until they refuse it; the time from
// the suspend's answer to the first 401 on each is one sample (then the token is activated again and both
// serve it before the next trial).  Two set-ups in one run, alternating per round:
//   - redis: ratelimiter.backend redis, the change announced on Redis pub/sub (cluster/changes.c);
//   - poll:  no Redis, the nodes read the store every tokens.poll_interval_ms (100 ms, the default): the floor
//            the announcement is measured against.
// Prints p50/p99/max per set-up and the ratio of the medians.  Everything on 127.0.0.1, servers in a temp dir,
// bounded (TRIALS per round, ROUNDS rounds).  Target: p99 <= 10 ms with Redis.
//
// Usage: node bench/suspend.mjs     env: ICEGATE_BIN (bin/icegate), TRIALS (200), ROUNDS (3), REDIS_BIN
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const BIN = process.env.ICEGATE_BIN || path.join(root, 'bin/icegate');
const REDIS_BIN = process.env.REDIS_BIN || 'redis-server';
const TRIALS = Number(process.env.TRIALS || 200);
const ROUNDS = Number(process.env.ROUNDS || 3);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'icegate-bench-suspend-'));
const children = [];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
  if (!process.env.BENCH_KEEP) fs.rmSync(tmp, { recursive: true, force: true });
});

const env = { PATH: process.env.PATH, ICEGATE_ADMIN_PASSWORD: 'bench-admin-password' };
function cli(dataDir, args) {
  const r = spawnSync(BIN, [...args, '--data-dir', dataDir, '--json'], { env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`icegate ${args.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

async function node(dataDir, name, config) {
  const cfg = path.join(dataDir, `${name}.yaml`);
  fs.writeFileSync(cfg, config);
  const logPath = path.join(dataDir, `${name}.log`);
  const log = fs.openSync(logPath, 'w');
  const p = spawn(BIN, ['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--config', cfg],
    { env, stdio: ['ignore', log, log] });
  children.push(p);
  for (let i = 0; i < 300; i++) {
    const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(fs.readFileSync(logPath, 'utf8'));
    if (m) return { proc: p, url: `http://127.0.0.1:${m[1]}` };
    await sleep(20);
  }
  throw new Error(`${name} did not start: ${fs.readFileSync(logPath, 'utf8')}`);
}

const get = async (url, token) => (await fetch(`${url}/v1/config`, { headers: { 'X-API-Token': token } })).status;
async function until(url, token, status, t0) {
  while ((await get(url, token)) !== status)
    if (performance.now() - t0 > 5000) throw new Error(`${url}: not ${status} after 5 s`);
  return performance.now() - t0;
}

async function setup(kind, redisSock) {
  const dataDir = fs.mkdtempSync(path.join(tmp, `${kind}-`));
  const admin = cli(dataDir, ['token', 'create', '--name', 'admin']).token;
  const victim = cli(dataDir, ['token', 'create', '--name', 'victim']);
  const config = kind === 'redis'
    ? `ratelimiter:\n  backend: redis\n  redis:\n    url: unix:${redisSock}\n` : '';
  const nodes = [];
  for (const n of ['a', 'b', 'c']) nodes.push(await node(dataDir, n, config));
  await sleep(300);
  return { admin, victim, nodes };
}

async function trials({ admin, victim, nodes: [a, b, c] }, n) {
  const out = [];
  const post = (p) => fetch(`${a.url}/api/v1/access-tokens/${victim.id}/${p}`,
    { method: 'POST', headers: { 'X-API-Token': admin, 'Content-Type': 'application/json' }, body: '{}' });
  for (let i = 0; i < n; i++) {
    if ((await post('suspend')).status !== 200) throw new Error('suspend failed');
    const t0 = performance.now();
    out.push(...await Promise.all([until(b.url, victim.token, 401, t0), until(c.url, victim.token, 401, t0)]));
    if ((await post('activate')).status !== 200) throw new Error('activate failed');
    const t1 = performance.now();
    await Promise.all([until(b.url, victim.token, 200, t1), until(c.url, victim.token, 200, t1)]);
  }
  return out;
}

const pct = (xs, p) => [...xs].sort((x, y) => x - y)[Math.min(xs.length - 1, Math.floor(p * xs.length))];

const sock = path.join(tmp, 'redis.sock');
const redis = spawn(REDIS_BIN, ['--port', '0', '--unixsocket', sock, '--unixsocketperm', '700', '--save', '',
  '--appendonly', 'no', '--dir', tmp], { stdio: 'ignore' });
children.push(redis);
for (let i = 0; i < 100 && !fs.existsSync(sock); i++) await sleep(50);
if (!fs.existsSync(sock)) throw new Error('redis-server did not open its socket');

const setups = { redis: await setup('redis', sock), poll: await setup('poll') };
const samples = { redis: [], poll: [] };
console.log(`suspend.mjs: ${ROUNDS} rounds x ${TRIALS} trials per set-up, 2 samples (B, C) per trial, ${os.cpus().length} cores`);
for (let r = 1; r <= ROUNDS; r++) {
  for (const kind of ['redis', 'poll']) {
    const s = await trials(setups[kind], TRIALS);
    samples[kind].push(...s);
    console.log(`round ${r} ${kind.padEnd(5)} p50 ${pct(s, 0.5).toFixed(2)} ms  p99 ${pct(s, 0.99).toFixed(2)} ms  max ${Math.max(...s).toFixed(2)} ms`);
  }
}
for (const kind of ['redis', 'poll']) {
  const s = samples[kind];
  console.log(`all   ${kind.padEnd(5)} p50 ${pct(s, 0.5).toFixed(2)} ms  p99 ${pct(s, 0.99).toFixed(2)} ms  max ${Math.max(...s).toFixed(2)} ms  (${s.length} samples)`);
}
console.log(`ratio of medians poll/redis: ${(pct(samples.poll, 0.5) / pct(samples.redis, 0.5)).toFixed(1)}x`);
for (const c of children) c.kill('SIGTERM');
