// rateLimitMode shadow (DESIGN.md §8, issue 17 item 4): a token's requests over its Max RPS are served at once,
// never held, with no RateLimit headers, and counted as would-be 429s — in /metrics, in its stats (a separate
// series) — exactly as many as the same limit in enforce mode refuses; switching to enforce bites at the very
// next request.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cli } from './lib/harness.js';
import { startWithAdmin, useToken } from './lib/helpers.js';

const T = '/api/v1/access-tokens';
// the limiter on, over-limit requests refused at once (so enforce's 429s can be counted request by request)
const CONFIG = 'features:\n  ratelimiter:\n    enabled: true\nratelimiter:\n  max_delay_ms: 0\n';

test('shadow: served over the limit, counted as would-be 429s equal to what enforce refuses; enforce at once', async () => {
  const { srv, admin, dataDir } = await startWithAdmin({ config: CONFIG });
  try {
    const mk = async (name, mode) => (await srv.req('POST', T, { token: admin, body: { name, maxRps: 0.5, burst: 3, rateLimitMode: mode } })).json;
    const enf = await mk('enforced', 'enforce');
    const sh = await mk('shadowed', 'shadow');
    assert.equal(enf.rateLimitMode, 'enforce');
    assert.equal(sh.rateLimitMode, 'shadow');
    const run = async (tok) => {
      const out = [];
      for (let i = 0; i < 10; i++) out.push(await useToken(srv, tok));
      return out;
    };
    const [e, s] = [await run(enf.token), await run(sh.token)];
    const refused = e.filter((r) => r.status === 429).length;
    assert.ok(refused >= 6 && refused <= 7, `enforce: burst 3 at 0.5/s refuses 6-7 of 10: ${e.map((r) => r.status)}`);
    assert.deepEqual(s.map((r) => r.status), Array(10).fill(200), 'shadow serves every one');
    assert.ok(s.every((r) => r.headers.get('ratelimit') === null && r.headers.get('retry-after') === null), 'no limit headers');
    const st = (await srv.req('GET', `${T}/${sh.id}/stats?seconds=10`, { token: admin })).json;
    assert.equal(st.totalShadowLimited, refused, `would-be 429s equal the real ones: ${JSON.stringify(st)}`);
    assert.equal(st.shadowLimited.reduce((a, b) => a + b, 0), refused);
    assert.equal(st.totalLimited, 0, 'none refused');
    const m = await srv.req('GET', '/metrics', { token: admin });
    assert.match(m.text, new RegExp(`icegate_token_rate_shadow_limited_total\\{token_id="${sh.id}"\\} ${refused}\\n`));
    // Switch to enforce: the very next request is over the limit and refused.
    const p = await srv.req('PATCH', `${T}/${sh.id}`, { token: admin, body: { rateLimitMode: 'enforce' } });
    assert.equal(p.status, 200, p.text);
    assert.equal((await useToken(srv, sh.token)).status, 429);
    const bad = await srv.req('PATCH', `${T}/${sh.id}`, { token: admin, body: { rateLimitMode: 'observe' } });
    assert.equal(bad.status, 400);
    assert.match(bad.json.error.message, /^rateLimitMode: /);
    const c = cli(dataDir, ['token', 'update', sh.id, '--rate-limit-mode', 'shadow', '--json']);
    assert.equal(c.code, 0, c.stderr);
    assert.equal(c.json.rateLimitMode, 'shadow');
  } finally {
    await srv.stop();
  }
});
