// Per-token Max RPS on the Iceberg REST Catalog routes (issue 3, DESIGN.md section 4).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Server, createToken, tempDir, cli, sleep } from './lib/harness.js';

// These tests pin the limiter's admission, so nothing is held: a request over the limit is a 429 at once.
// Holding requests to their slot (ratelimiter.max_delay_ms, on by default) is tested in throttle.test.js.
const NO_HOLD = 'ratelimiter:\n  max_delay_ms: 0\n';

// Sends requests back to back from `concurrency` workers for `ms`, counting statuses; keeps one 429 sample.
async function hammer(srv, token, ms, concurrency = 8, path = '/v1/config') {
  const counts = {};
  let sample429;
  const end = Date.now() + ms;
  async function worker() {
    while (Date.now() < end) {
      const r = await fetch(`${srv.url}${path}`, { headers: { 'X-API-Token': token } });
      const body = await r.text();
      counts[r.status] = (counts[r.status] || 0) + 1;
      if (r.status === 429 && !sample429) sample429 = { headers: r.headers, body };
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { counts, sample429 };
}

test('maxRps 5 for 3 s admits 5*3 + burst, the rest are complete 429s', async () => {
  const dataDir = tempDir();
  const tok = createToken(dataDir, 'limited', ['--max-rps', '5']);
  assert.equal(tok.burst, 5);
  const srv = await new Server({ dataDir, config: NO_HOLD }).start();
  try {
    const t0 = Date.now();
    const { counts, sample429 } = await hammer(srv, tok.token, 3000);
    const secs = (Date.now() - t0) / 1000;
    // burst + rate * elapsed, +-1 for the edges.  The server's window can only be shorter than the client's,
    // so the upper bound is strict; the lower bound allows the client's own scheduling at the edges.
    const expected = 5 + 5 * secs;
    assert.ok(counts[200] <= Math.floor(expected) + 1, `admitted ${counts[200]} > ${expected.toFixed(1)} + 1 (${JSON.stringify(counts)})`);
    assert.ok(counts[200] >= Math.floor(expected) - 1, `admitted ${counts[200]} < ${expected.toFixed(1)} - 1 (${JSON.stringify(counts)})`);
    assert.ok(counts[429] > 50, `too few 429s to mean anything: ${JSON.stringify(counts)}`);
    assert.deepEqual(Object.keys(counts).sort(), ['200', '429']);
    // The 429 itself: JSON Iceberg error, Retry-After, IETF RateLimit fields.
    const h = sample429.headers;
    assert.match(h.get('content-type'), /^application\/json/);
    assert.deepEqual(JSON.parse(sample429.body), {
      error: {
        message: "rate limit exceeded for access token 'limited': 5 requests per second",
        type: 'TooManyRequestsException',
        code: 429,
      },
    });
    assert.ok(Number(h.get('retry-after')) >= 1, `Retry-After ${h.get('retry-after')}`);
    assert.equal(h.get('ratelimit-policy'), '"token";q=5;w=1');
    assert.match(h.get('ratelimit'), /^"token";r=0;t=[1-9]\d*$/);
    // Allowed responses carry RateLimit too.
    await sleep(1100);
    const ok = await srv.req('GET', '/v1/config', { token: tok.token });
    assert.equal(ok.status, 200);
    assert.match(ok.headers.get('ratelimit'), /^"token";r=\d+;t=\d+$/);
    // Every 429 is counted per token id in /metrics.
    const m = await srv.req('GET', '/metrics', { token: tok.token });
    const line = m.text.split('\n').find((l) => l.startsWith(`icegate_token_rate_limited_total{token_id="${tok.id}"}`));
    assert.ok(line, m.text);
    assert.equal(Number(line.split(' ')[1]), counts[429]);
  } finally {
    await srv.stop();
  }
});

test('the admin API is not limited by the token\'s Max RPS', async () => {
  const dataDir = tempDir();
  const tok = createToken(dataDir, 'admin-limited', ['--max-rps', '1']);
  const srv = await new Server({ dataDir, config: NO_HOLD }).start();
  try {
    for (let i = 0; i < 10; i++) assert.equal((await srv.req('GET', '/api/v1/access-tokens', { token: tok.token })).status, 200);
    assert.equal((await srv.req('GET', '/v1/config', { token: tok.token })).status, 200);
    assert.equal((await srv.req('GET', '/v1/config', { token: tok.token })).status, 429);
  } finally {
    await srv.stop();
  }
});

test('PATCH maxRps applies to the very next request; null makes the token unlimited', async () => {
  const dataDir = tempDir();
  const admin = createToken(dataDir, 'admin');
  const tok = createToken(dataDir, 'client', ['--max-rps', '1']);
  const srv = await new Server({ dataDir, config: NO_HOLD }).start();
  try {
    assert.equal((await srv.req('GET', '/v1/config', { token: tok.token })).status, 200);
    assert.equal((await srv.req('GET', '/v1/config', { token: tok.token })).status, 429);
    const p = await srv.req('PATCH', `/api/v1/access-tokens/${tok.id}`, { token: admin.token, body: { maxRps: 50 } });
    assert.equal(p.status, 200);
    assert.equal(p.json.maxRps, 50);
    assert.equal(p.json.burst, 50);
    // The new rate applies at once: the exhausted bucket now refills at 50/s (it keeps its fullness, so
    // raising a limit neither blocks the client for the old window nor hands out a bonus burst).
    const t0 = Date.now();
    const { counts } = await hammer(srv, tok.token, 1000, 4);
    const secs = (Date.now() - t0) / 1000;
    assert.ok(counts[200] >= Math.floor(0.8 * 50 * secs), `only ${counts[200]} admitted in ${secs}s at 50/s`);
    assert.ok(counts[200] <= Math.ceil(50 * secs) + 1, `${counts[200]} admitted in ${secs}s at 50/s`);
    const r = await srv.req('GET', '/v1/config', { token: tok.token });
    assert.equal(r.headers.get('ratelimit-policy'), '"token";q=50;w=1');
    // Lower it to 0.5/s, burst 1: at most one more passes now.
    await srv.req('PATCH', `/api/v1/access-tokens/${tok.id}`, { token: admin.token, body: { maxRps: 0.5, burst: 1 } });
    const after = [];
    for (let i = 0; i < 5; i++) after.push((await srv.req('GET', '/v1/config', { token: tok.token })).status);
    assert.ok(after.filter((s) => s === 200).length <= 1, JSON.stringify(after));
    assert.equal(after[after.length - 1], 429);
    // null: unlimited, no RateLimit headers.
    await srv.req('PATCH', `/api/v1/access-tokens/${tok.id}`, { token: admin.token, body: { maxRps: null, burst: null } });
    for (let i = 0; i < 30; i++) {
      const x = await srv.req('GET', '/v1/config', { token: tok.token });
      assert.equal(x.status, 200);
      assert.equal(x.headers.get('ratelimit'), null);
    }
    // Suspension wins over everything.
    await srv.req('POST', `/api/v1/access-tokens/${tok.id}/suspend`, { token: admin.token });
    assert.equal((await srv.req('GET', '/v1/config', { token: tok.token })).status, 401);
  } finally {
    await srv.stop();
  }
});

test('two tokens are independent: a hammered token does not slow or limit another', async () => {
  const dataDir = tempDir();
  const noisy = createToken(dataDir, 'noisy', ['--max-rps', '2']);
  const quiet = createToken(dataDir, 'quiet', ['--max-rps', '100']);
  const srv = await new Server({ dataDir, config: NO_HOLD }).start();
  try {
    const noise = hammer(srv, noisy.token, 1500, 6);
    const quietStatuses = [];
    const end = Date.now() + 1000;
    while (Date.now() < end) {
      quietStatuses.push((await srv.req('GET', '/v1/config', { token: quiet.token })).status);
      await sleep(20); // ~50/s, under its 100/s
    }
    const { counts } = await noise;
    assert.ok(quietStatuses.length > 10, `only ${quietStatuses.length} requests from the quiet client`);
    assert.ok(quietStatuses.every((s) => s === 200), JSON.stringify(quietStatuses));
    assert.ok(counts[429] > 10, JSON.stringify(counts));
  } finally {
    await srv.stop();
  }
});

test('features.ratelimiter.enabled=false: nothing limited, and every surface says Max RPS is not enforced', async () => {
  const dataDir = tempDir();
  const tok = createToken(dataDir, 'stored-only', ['--max-rps', '1']);
  let srv = await new Server({ dataDir, config: NO_HOLD + 'features:\n  ratelimiter:\n    enabled: false\n' }).start();
  try {
    for (let i = 0; i < 20; i++) {
      const r = await srv.req('GET', '/v1/config', { token: tok.token });
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('ratelimit'), null);
    }
    const got = await srv.req('GET', `/api/v1/access-tokens/${tok.id}`, { token: tok.token });
    assert.equal(got.json.maxRps, 1);
    assert.equal(got.json.rateLimitEnforced, false);
    const settings = await srv.req('GET', '/api/v1/settings', { token: tok.token });
    assert.equal(settings.json.rateLimiterEnabled, false);
  } finally {
    const log = await srv.stop();
    assert.match(log, /Max RPS is stored but not enforced/);
  }
  const shown = cli(dataDir, ['token', 'show', tok.id], { env: { ICEGATE_FEATURES_RATELIMITER_ENABLED: 'false' } });
  assert.match(shown.stdout, /not enforced/);
  const listed = cli(dataDir, ['token', 'list'], { env: { ICEGATE_FEATURES_RATELIMITER_ENABLED: 'false' } });
  assert.match(listed.stdout, /not enforced/);
  // Back on: the same stored limit bites again after a restart.
  srv = await new Server({ dataDir, config: NO_HOLD }).start();
  try {
    assert.equal((await srv.req('GET', '/v1/config', { token: tok.token })).status, 200);
    assert.equal((await srv.req('GET', '/v1/config', { token: tok.token })).status, 429);
    const got = await srv.req('GET', `/api/v1/access-tokens/${tok.id}`, { token: tok.token });
    assert.equal(got.json.rateLimitEnforced, true);
  } finally {
    await srv.stop();
  }
});

test('fractional and very high rates', async () => {
  const dataDir = tempDir();
  const slow = createToken(dataDir, 'slow', ['--max-rps', '0.5']);
  const fast = createToken(dataDir, 'fast', ['--max-rps', '100000']);
  const srv = await new Server({ dataDir, config: NO_HOLD }).start();
  try {
    assert.equal((await srv.req('GET', '/v1/config', { token: slow.token })).status, 200);
    const r = await srv.req('GET', '/v1/config', { token: slow.token });
    assert.equal(r.status, 429);
    assert.equal(r.headers.get('retry-after'), '2');
    assert.equal(r.json.error.message, "rate limit exceeded for access token 'slow': 0.5 requests per second");
    const { counts } = await hammer(srv, fast.token, 500, 8);
    assert.deepEqual(Object.keys(counts), ['200']);
  } finally {
    await srv.stop();
  }
});
