// Token lifecycle (DESIGN.md §8): expiry in band (X-API-Token-Expiration on every response to a token that
// expires, refusals included), GET /api/v1/whoami, and rotation with a grace period: a new secret shown once,
// the old one working until previousTokenValidUntil and then 401 "rotated", the limit cell and usage shared,
// a second rotation ending the first old secret at once; across a restart and from the CLI too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cli, sleep, Server, noteSecrets } from './lib/harness.js';
import { TOKEN_RE, startWithAdmin, useToken, assert401, ms, pollUntil } from './lib/helpers.js';

const T = '/api/v1/access-tokens';
const EXP = 'x-api-token-expiration';
// The limiter on, and a request over the limit refused at once (not held to its slot).
const LIMITS = 'features:\n  ratelimiter:\n    enabled: true\nratelimiter:\n  max_delay_ms: 0\n';

test('expiry in band: the header on 200s, 429s and 401s of a token that expires, never on one that does not', async () => {
  const { srv, admin } = await startWithAdmin({ config: LIMITS });
  try {
    const at = new Date(Date.now() + 3000);
    const c = await srv.req('POST', T, { token: admin, body: { name: 'expiring', expiresAt: at.toISOString(), maxRps: 1, burst: 1 } });
    assert.equal(c.status, 201, c.text);
    const { token } = c.json;
    const ok = await useToken(srv, token);
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ms(ok.headers.get(EXP)), at.getTime(), ok.headers.get(EXP));
    assert.equal(ok.headers.get(EXP), c.json.expiresAt);
    const limited = await useToken(srv, token); // burst 1: the second request at once is over the limit
    assert.equal(limited.status, 429, limited.text);
    assert.equal(ms(limited.headers.get(EXP)), at.getTime());
    // A body request (refused or not before the body is read): exactly one header.
    const post = await srv.req('POST', '/v1/namespaces', { token, body: { namespace: ['n1'] } });
    assert.equal(post.headers.get(EXP), c.json.expiresAt, `one header, got ${post.headers.get(EXP)}`);
    const admins = await srv.req('GET', '/api/v1/whoami', { token });
    assert.equal(admins.headers.get(EXP), c.json.expiresAt);
    const never = await useToken(srv, admin);
    assert.equal(never.status, 200);
    assert.equal(never.headers.get(EXP), null, 'a token without expiry gets no header');
    const { value: r } = await pollUntil('expiry', async () => {
      const x = await useToken(srv, token);
      return x.status === 401 ? x : null;
    }, 6000, 100);
    assert401(r, /expired/);
    assert.equal(r.headers.get(EXP), c.json.expiresAt, 'the 401 for an expired token carries it too');
  } finally {
    await srv.stop();
  }
});

test('whoami: any valid token gets its own record, no secret; a session or no token does not', async () => {
  const { srv, admin } = await startWithAdmin();
  try {
    const c = await srv.req('POST', T, { token: admin, body: { name: 'who' } });
    const w = await srv.req('GET', '/api/v1/whoami', { token: c.json.token });
    assert.equal(w.status, 200, w.text);
    assert.equal(w.json.id, c.json.id);
    assert.equal(w.json.name, 'who');
    assert.equal(w.json.owner, 'admin');
    assert.equal(w.json.token, undefined, 'never the secret');
    assert.ok(!w.text.includes(c.json.token));
    assert.equal((await srv.req('GET', '/api/v1/whoami', { token: admin })).json.name, 'admin-key');
    assert401(await srv.req('GET', '/api/v1/whoami'), /missing/);
    assert.equal((await srv.req('POST', '/api/v1/whoami', { token: admin })).status, 405);
  } finally {
    await srv.stop();
  }
});

test('rotation: new secret shown once, old one works through the grace then 401 "rotated"; same id, limit and usage', async () => {
  const { srv, admin } = await startWithAdmin({ config: LIMITS });
  try {
    const c = await srv.req('POST', T, { token: admin, body: { name: 'etl', maxRps: 2, burst: 4 } });
    const { id, token: old } = c.json;
    assert.equal((await useToken(srv, old)).status, 200);
    const before = Date.now();
    const r = await srv.req('POST', `${T}/${id}/rotate`, { token: admin, body: { gracePeriod: 2 } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('cache-control'), 'no-store');
    assert.match(r.json.token, TOKEN_RE);
    assert.notEqual(r.json.token, old);
    assert.equal(r.json.id, id);
    assert.equal(r.json.name, 'etl');
    assert.equal(r.json.maxRps, 2);
    assert.equal(r.json.prefix, r.json.token.slice(0, 8));
    const until = ms(r.json.previousTokenValidUntil);
    assert.ok(until >= before + 2000 - 50 && until <= Date.now() + 2000 + 50, r.json.previousTokenValidUntil);
    assert.ok(ms(r.json.rotatedAt) >= before - 50);
    const fresh = r.json.token;
    const g = await srv.req('GET', `${T}/${id}`, { token: admin });
    assert.equal(g.json.token, undefined, 'shown once: GET has no secret');
    assert.equal(g.json.previousTokenValidUntil, r.json.previousTokenValidUntil);
    // One limit for both secrets: burst 4 at 2/s, already 1 used (the first request, ~ refilled); 8 requests
    // alternating old and new at once: at most 4 or 5 pass, never 8.
    const both = [];
    for (let i = 0; i < 8; i++) both.push((await useToken(srv, i % 2 ? fresh : old)).status);
    const passed = both.filter((s) => s === 200).length;
    assert.ok(passed >= 3 && passed <= 5, `one shared cell: ${both}`);
    assert.ok(both.includes(429));
    // Requests through the old secret count on the same token.
    const st = await srv.req('GET', `${T}/${id}/stats?seconds=10`, { token: admin });
    assert.ok(st.json.totalRequests >= 9, st.text);
    // After the grace: old refused, saying it was rotated (never "unknown"); new works.
    const { value: x } = await pollUntil('grace end', async () => {
      const y = await useToken(srv, old);
      return y.status === 401 ? y : null;
    }, 5000, 100);
    assert.ok(Date.now() >= until - 20, 'refused before the grace ended');
    assert401(x, /access token 'etl' was rotated at .*previous secret/);
    await sleep(600); // the new secret's cell refills
    assert.equal((await useToken(srv, fresh)).status, 200);
  } finally {
    await srv.stop();
  }
});

test('rotation: grace 0 ends the old secret at once; a second rotation in the grace ends the first old secret', async () => {
  const started = await startWithAdmin();
  const { admin, dataDir } = started;
  let srv = started.srv;
  try {
    const c = await srv.req('POST', T, { token: admin, body: { name: 'job' } });
    const { id, token: s1 } = c.json;
    const r0 = await srv.req('POST', `${T}/${id}/rotate`, { token: admin, body: { gracePeriod: 0 } });
    assert.equal(r0.status, 200, r0.text);
    assert401(await useToken(srv, s1), /rotated/);
    const s2 = r0.json.token;
    assert.equal((await useToken(srv, s2)).status, 200);
    const r1 = await srv.req('POST', `${T}/${id}/rotate`, { token: admin }); // default grace: an hour
    assert.equal(r1.status, 200, r1.text);
    const hour = ms(r1.json.previousTokenValidUntil) - ms(r1.json.rotatedAt);
    assert.ok(Math.abs(hour - 3600 * 1000) < 1000, `default grace 3600 s, got ${hour} ms`);
    const s3 = r1.json.token;
    assert.equal((await useToken(srv, s2)).status, 200, 's2 is in its grace');
    assert.equal((await useToken(srv, s3)).status, 200);
    const r2 = await srv.req('POST', `${T}/${id}/rotate`, { token: admin, body: { gracePeriod: 600 } });
    const s4 = r2.json.token;
    assert401(await useToken(srv, s2), /rotated/); // ended at once by the second rotation
    assert.equal((await useToken(srv, s3)).status, 200, 's3 is the previous secret now');
    assert.equal((await useToken(srv, s4)).status, 200);
    // Suspend bites on the old secret too; activate lifts it for both.
    await srv.req('POST', `${T}/${id}/suspend`, { token: admin });
    assert401(await useToken(srv, s3), /suspended/);
    assert401(await useToken(srv, s4), /suspended/);
    await srv.req('POST', `${T}/${id}/activate`, { token: admin });
    assert.equal((await useToken(srv, s3)).status, 200);
    // A restart keeps the current and the previous secret as they were.
    await srv.stop();
    srv = await new Server({ dataDir }).start();
    assert.equal((await useToken(srv, s3)).status, 200);
    assert.equal((await useToken(srv, s4)).status, 200);
    assert.equal((await srv.req('GET', `${T}`, { token: admin })).json.accessTokens.length, 2, 'an old secret is not a token');
    // Delete: both secrets stop.
    assert.equal((await srv.req('DELETE', `${T}/${id}`, { token: admin })).status, 204);
    assert401(await useToken(srv, s4), /unknown/);
    assert401(await useToken(srv, s3), /unknown/);
    // Bad bodies: 400 naming the field, nothing changed.
    const c2 = await srv.req('POST', T, { token: admin, body: { name: 'job2' } });
    for (const body of [{ gracePeriod: -1 }, { gracePeriod: 1.5 }, { gracePeriod: '60' }, { gracePeriod: 31 * 86400 }, { grace: 1 }, [1]]) {
      const b = await srv.req('POST', `${T}/${c2.json.id}/rotate`, { token: admin, body });
      assert.equal(b.status, 400, `${JSON.stringify(body)}: ${b.text}`);
    }
    assert.equal((await useToken(srv, c2.json.token)).status, 200);
    assert.equal((await srv.req('GET', `${T}/${c2.json.id}`, { token: admin })).json.rotatedAt, null);
    assert.equal((await srv.req('GET', `${T}/${c2.json.id}/rotate`, { token: admin })).status, 405);
  } finally {
    await srv.stop();
  }
});

test('rotation from the CLI reaches a running server (another process) at its next poll', async () => {
  const { srv, admin, dataDir } = await startWithAdmin();
  try {
    const c = await srv.req('POST', T, { token: admin, body: { name: 'cli-rot' } });
    const { id, token: old } = c.json;
    const out = cli(dataDir, ['token', 'rotate', id, '--grace', '0']);
    assert.equal(out.code, 0, out.stderr);
    noteSecrets(out.stdout); // the server's log is checked for every secret seen
    const fresh = out.stdout.match(/igt_[0-9A-Za-z]{38}/)?.[0];
    assert.ok(fresh, out.stdout);
    const { value: y } = await pollUntil('CLI rotation seen', async () => {
      const z = await useToken(srv, fresh);
      return z.status === 200 ? z : null;
    }, 5000, 50);
    assert.equal(y.status, 200);
    assert401(await useToken(srv, old), /rotated/);
    const out2 = cli(dataDir, ['token', 'rotate', id, '--grace', '1h']);
    assert.equal(out2.code, 0, out2.stderr);
    const g = await srv.req('GET', `${T}/${id}`, { token: admin });
    const grace = ms(g.json.previousTokenValidUntil) - ms(g.json.rotatedAt);
    assert.ok(Math.abs(grace - 3600 * 1000) < 1000, `--grace 1h, got ${grace}`);
    const bad = cli(dataDir, ['token', 'rotate', id, '--grace', 'soon']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /grace/);
  } finally {
    await srv.stop();
  }
});

test('rotation under load: clients switching from the old to the new secret during the grace see no 401', async () => {
  const { srv, admin } = await startWithAdmin();
  try {
    const c = await srv.req('POST', T, { token: admin, body: { name: 'busy' } });
    const { id } = c.json;
    let current = c.json.token;
    const old = current;
    let stop = false;
    const seen = [];
    // 4 clients in a loop, each using whichever secret it was last handed.
    const clients = Array.from({ length: 4 }, async () => {
      while (!stop) {
        const tok = current;
        const r = await useToken(srv, tok);
        seen.push({ status: r.status, old: tok === old, at: Date.now(), text: r.text });
      }
    });
    await sleep(300);
    const r = await srv.req('POST', `${T}/${id}/rotate`, { token: admin, body: { gracePeriod: 2 } });
    assert.equal(r.status, 200, r.text);
    const until = ms(r.json.previousTokenValidUntil);
    await sleep(500); // clients still on the old secret meanwhile
    current = r.json.token; // the clients switch
    await sleep(500);
    stop = true;
    await Promise.all(clients);
    const bad = seen.filter((x) => x.status !== 200);
    assert.deepEqual(bad, [], 'no refusal during the rotation');
    assert.ok(seen.filter((x) => x.old).length > 20 && seen.filter((x) => !x.old).length > 20, 'both secrets in use');
    await sleep(Math.max(0, until - Date.now() + 50));
    assert401(await useToken(srv, old), /rotated/); // its next request after the grace
    assert.equal((await useToken(srv, current)).status, 200);
  } finally {
    await srv.stop();
  }
});

test('settings name the warehouse the console snippets fill in, and /v1/config accepts that name', async () => {
  const dir = (await import('node:fs')).mkdtempSync('/tmp/icegate-lake-');
  const { srv, admin } = await startWithAdmin({ config: `catalog:\n  warehouse: ${dir}/lake\n` });
  try {
    const s = await srv.req('GET', '/api/v1/settings', { token: admin });
    assert.equal(s.json.warehouse, 'lake');
    const c = await srv.req('GET', '/v1/config?warehouse=lake', { token: admin });
    assert.equal(c.status, 200, c.text);
  } finally {
    await srv.stop();
    (await import('node:fs')).rmSync(dir, { recursive: true, force: true });
  }
});

test('storage access follows the token: /credentials answers a live token, 401 once it is suspended, expired or rotated out', async () => {
  const { srv, admin } = await startWithAdmin();
  try {
    assert.equal((await srv.req('POST', '/v1/namespaces', { token: admin, body: { namespace: ['cred'] } })).status, 200);
    const schema = { type: 'struct', 'schema-id': 0, fields: [{ id: 1, name: 'id', type: 'long', required: true }] };
    assert.equal((await srv.req('POST', '/v1/namespaces/cred/tables', { token: admin, body: { name: 't', schema } })).status, 200);
    const path = '/v1/namespaces/cred/tables/t/credentials';
    const c = (await srv.req('POST', T, { token: admin, body: { name: 'reader', expiresAt: new Date(Date.now() + 1500).toISOString() } })).json;
    const ok = await srv.req('GET', path, { token: c.token });
    assert.equal(ok.status, 200, ok.text);
    // rotated out (grace 0)
    const r = (await srv.req('POST', `${T}/${c.id}/rotate`, { token: admin, body: { gracePeriod: 0 } })).json;
    assert401(await srv.req('GET', path, { token: c.token }), /rotated/);
    assert.equal((await srv.req('GET', path, { token: r.token })).status, 200);
    // suspended
    await srv.req('POST', `${T}/${c.id}/suspend`, { token: admin });
    assert401(await srv.req('GET', path, { token: r.token }), /suspended/);
    await srv.req('POST', `${T}/${c.id}/activate`, { token: admin });
    // expired
    const { value: x } = await pollUntil('expiry', async () => {
      const y = await srv.req('GET', path, { token: r.token });
      return y.status === 401 ? y : null;
    }, 5000, 100);
    assert401(x, /expired/);
  } finally {
    await srv.stop();
  }
});
