// Access tokens through the admin API: lifecycle, instant suspend/activate, expiry, every 401 case,
// validation (400/409 and nothing written), routes (404/405/413) and member visibility.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { cli, createToken, assertError, sleep, ADMIN_PASSWORD } from './lib/harness.js';
import {
  TOKEN_RE, ID_RE, RFC3339_RE, startWithAdmin, flipLast, foreignToken, snapshot, useToken, assert401, ms, pollUntil,
} from './lib/helpers.js';

const T = '/api/v1/access-tokens';
const RECORD_KEYS = ['allowedCidrs', 'burst', 'createdAt', 'expiresAt', 'id', 'lastUsedAt', 'lastUsedIp', 'maxRps', 'maxRpsSetBy', 'name', 'namespaces',
  'owner', 'prefix', 'previousTokenValidUntil', 'rateLimitEnforced', 'rateLimitMode', 'rotatedAt', 'scopes', 'status', 'suspendReason', 'suspendedAt',
  'suspendedBy', 'updatedAt'];

test('admin API: create, list with filters, get, patch, suspend, activate, delete', async () => {
  const { srv, admin, adminRec } = await startWithAdmin();
  try {
    const before = Date.now();
    const c = await srv.req('POST', T, { token: admin, body: { name: 'spark-etl', maxRps: 5 } });
    assert.equal(c.status, 201, c.text);
    assert.equal(c.headers.get('cache-control'), 'no-store');
    const rec = c.json;
    assert.deepEqual(Object.keys(rec).sort(), [...RECORD_KEYS, 'token'].sort());
    assert.match(rec.token, TOKEN_RE);
    assert.match(rec.id, ID_RE);
    assert.equal(rec.prefix, rec.token.slice(0, 8));
    assert.equal(rec.name, 'spark-etl');
    assert.equal(rec.owner, 'admin');
    assert.equal(rec.status, 'active');
    assert.equal(rec.maxRps, 5);
    assert.equal(rec.burst, 5); // default max(1, ceil(maxRps))
    assert.equal(rec.rateLimitEnforced, true);
    assert.equal(rec.expiresAt, null);
    assert.equal(rec.lastUsedAt, null);
    assert.equal(rec.lastUsedIp, null);
    assert.equal(rec.suspendedAt, null);
    assert.equal(rec.suspendReason, null);
    assert.match(rec.createdAt, RFC3339_RE);
    assert.ok(ms(rec.createdAt) >= before - 1000 && ms(rec.createdAt) <= Date.now() + 1000, rec.createdAt);
    assert.equal(rec.updatedAt, rec.createdAt);
    const { token: secret, ...shown } = rec;

    // The new token works at once.
    assert.equal((await useToken(srv, secret)).status, 200);

    // get: the record, never the secret
    const g = await srv.req('GET', `${T}/${rec.id}`, { token: admin });
    assert.equal(g.status, 200, g.text);
    assert.equal(g.headers.get('cache-control'), 'no-store');
    assert.equal(g.json.token, undefined);
    assert.deepEqual(Object.keys(g.json).sort(), RECORD_KEYS);
    const { lastUsedAt, lastUsedIp, ...gShown } = g.json;
    const { lastUsedAt: _a, lastUsedIp: _b, ...cShown } = shown;
    assert.deepEqual(gShown, cShown);

    // a second token, then list with filters
    const c2 = await srv.req('POST', T, { token: admin, body: { name: 'trino' } });
    assert.equal(c2.status, 201, c2.text);
    assert.equal(c2.json.maxRps, null);
    assert.equal(c2.json.burst, null);
    assert.equal(c2.json.rateLimitEnforced, false);
    assert.notEqual(c2.json.token, secret);
    const ids = async (q = '') => {
      const r = await srv.req('GET', `${T}${q}`, { token: admin });
      assert.equal(r.status, 200, r.text);
      for (const t of r.json.accessTokens) assert.equal(t.token, undefined, 'list must never show a secret');
      return r.json.accessTokens.map((t) => t.id);
    };
    assert.deepEqual(await ids(), [adminRec.id, rec.id, c2.json.id]);
    assert.deepEqual(await ids('?owner=admin'), [adminRec.id, rec.id, c2.json.id]);
    assert.deepEqual(await ids('?owner=nobody'), []);
    assert.deepEqual(await ids('?status=active'), [adminRec.id, rec.id, c2.json.id]);
    assert.deepEqual(await ids('?status=suspended'), []);
    assert.deepEqual(await ids('?status=expired'), []);
    assertError(assert, await srv.req('GET', `${T}?status=bogus`, { token: admin }), 400, /BadRequest/, /status/);

    // PATCH each field
    await sleep(5); // updatedAt has millisecond resolution
    const p = await srv.req('PATCH', `${T}/${rec.id}`, {
      token: admin, body: { name: 'spark-etl-2', maxRps: 2.5, burst: 7, expiresAt: '2099-01-31T00:00:00Z' },
    });
    assert.equal(p.status, 200, p.text);
    assert.equal(p.json.name, 'spark-etl-2');
    assert.equal(p.json.maxRps, 2.5);
    assert.equal(p.json.burst, 7);
    assert.equal(ms(p.json.expiresAt), Date.parse('2099-01-31T00:00:00Z'));
    assert.equal(p.json.createdAt, rec.createdAt);
    assert.ok(ms(p.json.updatedAt) > ms(rec.createdAt), `updatedAt ${p.json.updatedAt} not after createdAt`);
    assert.equal(p.json.token, undefined);
    const g2 = await srv.req('GET', `${T}/${rec.id}`, { token: admin });
    assert.equal(g2.json.name, 'spark-etl-2');
    assert.equal(g2.json.maxRps, 2.5);
    assert.equal(g2.json.burst, 7);
    assert.equal(ms(g2.json.expiresAt), Date.parse('2099-01-31T00:00:00Z'));
    // null clears: unlimited, no burst, no expiry
    const p2 = await srv.req('PATCH', `${T}/${rec.id}`, {
      token: admin, body: { maxRps: null, burst: null, expiresAt: null },
    });
    assert.equal(p2.status, 200, p2.text);
    assert.equal(p2.json.maxRps, null);
    assert.equal(p2.json.burst, null);
    assert.equal(p2.json.expiresAt, null);
    assert.equal(p2.json.rateLimitEnforced, false);
    assert.equal(p2.json.name, 'spark-etl-2');

    // suspend with a reason
    const s = await srv.req('POST', `${T}/${rec.id}/suspend`, { token: admin, body: { reason: 'incident 42' } });
    assert.equal(s.status, 200, s.text);
    assert.equal(s.json.status, 'suspended');
    assert.equal(s.json.suspendReason, 'incident 42');
    assert.match(s.json.suspendedAt, RFC3339_RE);
    assert401(await useToken(srv, secret), /suspended/);
    assert.deepEqual(await ids('?status=suspended'), [rec.id]);
    assert.deepEqual(await ids('?status=active'), [adminRec.id, c2.json.id]);
    const gs = await srv.req('GET', `${T}/${rec.id}`, { token: admin });
    assert.equal(gs.json.status, 'suspended');
    assert.equal(gs.json.suspendReason, 'incident 42');

    // activate
    const a = await srv.req('POST', `${T}/${rec.id}/activate`, { token: admin });
    assert.equal(a.status, 200, a.text);
    assert.equal(a.json.status, 'active');
    assert.equal(a.json.suspendedAt, null);
    assert.equal(a.json.suspendReason, null);
    assert.equal((await useToken(srv, secret)).status, 200);

    // suspend without a body is fine too
    const s2 = await srv.req('POST', `${T}/${rec.id}/suspend`, { token: admin });
    assert.equal(s2.status, 200, s2.text);
    assert.equal(s2.json.status, 'suspended');
    assert.equal(s2.json.suspendReason, null);

    // delete → 204, then 404 everywhere, and the token is unknown
    const d = await srv.req('DELETE', `${T}/${rec.id}`, { token: admin });
    assert.equal(d.status, 204, d.text);
    assert.equal(d.text, '');
    assertError(assert, await srv.req('GET', `${T}/${rec.id}`, { token: admin }), 404, /NoSuchAccessToken/, /does not exist/);
    assertError(assert, await srv.req('DELETE', `${T}/${rec.id}`, { token: admin }), 404, /NoSuchAccessToken/);
    assertError(assert, await srv.req('PATCH', `${T}/${rec.id}`, { token: admin, body: { name: 'x' } }), 404, /NoSuchAccessToken/);
    assertError(assert, await srv.req('POST', `${T}/${rec.id}/activate`, { token: admin }), 404, /NoSuchAccessToken/);
    assertError(assert, await srv.req('POST', `${T}/${rec.id}/suspend`, { token: admin }), 404, /NoSuchAccessToken/);
    assert401(await useToken(srv, secret), /unknown/);
    assert.deepEqual(await ids(), [adminRec.id, c2.json.id]);

    // A deleted token's name can be used again.
    const again = await srv.req('POST', T, { token: admin, body: { name: 'spark-etl-2' } });
    assert.equal(again.status, 201, again.text);
    assert401(await useToken(srv, secret), /unknown/);
  } finally {
    await srv.stop();
  }
});

test('suspend and activate take effect on the very next request; delete → next request 401 unknown', async () => {
  const { srv, admin } = await startWithAdmin();
  try {
    const c = await srv.req('POST', T, { token: admin, body: { name: 'flappy' } });
    assert.equal(c.status, 201, c.text);
    const { id, token } = c.json;
    const bearer = { Authorization: `Bearer ${token}` };
    for (let i = 0; i < 5; i++) {
      assert.equal((await srv.req('POST', `${T}/${id}/suspend`, { token: admin, body: { reason: `round ${i}` } })).status, 200);
      assert401(await useToken(srv, token), /access token 'flappy' is suspended/);
      assert401(await useToken(srv, null, bearer), /suspended/);
      assert.equal((await srv.req('POST', `${T}/${id}/activate`, { token: admin })).status, 200);
      assert.equal((await useToken(srv, token)).status, 200);
      assert.equal((await useToken(srv, null, bearer)).status, 200);
    }
    // A suspended token is also refused by the admin API itself.
    const adminTwo = await srv.req('POST', T, { token: admin, body: { name: 'admin-two' } });
    await srv.req('POST', `${T}/${adminTwo.json.id}/suspend`, { token: admin });
    assert401(await srv.req('GET', T, { token: adminTwo.json.token }), /suspended/);

    assert.equal((await srv.req('DELETE', `${T}/${id}`, { token: admin })).status, 204);
    assert401(await useToken(srv, token), /unknown/);
    assert401(await useToken(srv, null, bearer), /unknown/);
  } finally {
    await srv.stop();
  }
});

test('under concurrent load, no request sent after suspend returns is served, none after activate is refused', async () => {
  const { srv, admin } = await startWithAdmin({ env: { ICEGATE_SERVER_THREADS: '4' } });
  try {
    const c = await srv.req('POST', T, { token: admin, body: { name: 'hot' } });
    const { id, token } = c.json;
    // phase is what the last admin call that *returned* made the token; gen moves whenever a call starts or
    // returns, so a request whose gen is unchanged from send to answer ran entirely inside one phase.
    let phase = 'active';
    let gen = 0;
    let stop = false;
    let checked = 0;
    const bad = [];
    const worker = async () => {
      while (!stop) {
        const g = gen;
        const p = phase;
        const r = await useToken(srv, token);
        if (g !== gen || p === 'changing') continue;
        checked++;
        if (p === 'suspended' && r.status !== 401) bad.push(`served while suspended: ${r.status}`);
        if (p === 'active' && r.status !== 200) bad.push(`refused while active: ${r.status} ${r.text}`);
      }
    };
    const workers = Array.from({ length: 6 }, worker);
    for (let i = 0; i < 15; i++) {
      gen++; phase = 'changing';
      assert.equal((await srv.req('POST', `${T}/${id}/suspend`, { token: admin })).status, 200);
      gen++; phase = 'suspended';
      await sleep(3);
      gen++; phase = 'changing';
      assert.equal((await srv.req('POST', `${T}/${id}/activate`, { token: admin })).status, 200);
      gen++; phase = 'active';
      assert.equal((await srv.req('PATCH', `${T}/${id}`, { token: admin, body: { name: `hot-${i}` } })).status, 200);
      await sleep(3);
    }
    stop = true;
    await Promise.all(workers);
    assert.deepEqual(bad, []);
    assert.ok(checked >= 50, `only ${checked} requests checked`);
  } finally {
    await srv.stop();
  }
});

test('PATCH maxRps/burst applies to the very next request (429 at once, lifted at once)', async () => {
  const { srv, admin } = await startWithAdmin();
  try {
    const c = await srv.req('POST', T, { token: admin, body: { name: 'capped' } });
    const { id, token } = c.json;
    for (let i = 0; i < 5; i++) assert.equal((await useToken(srv, token)).status, 200);
    const p = await srv.req('PATCH', `${T}/${id}`, { token: admin, body: { maxRps: 0.5, burst: 1 } });
    assert.equal(p.status, 200, p.text);
    assert.equal((await useToken(srv, token)).status, 200);
    const limited = await useToken(srv, token);
    assertError(assert, limited, 429, /^TooManyRequestsException$/, /rate limit/);
    assert.ok(Number(limited.headers.get('retry-after')) >= 1, limited.headers.get('retry-after'));
    const p2 = await srv.req('PATCH', `${T}/${id}`, { token: admin, body: { maxRps: null } });
    assert.equal(p2.status, 200, p2.text);
    assert.equal((await useToken(srv, token)).status, 200);
    assert.equal((await useToken(srv, token)).status, 200);
  } finally {
    await srv.stop();
  }
});

test('expiry: 200 before expiresAt, 401 "expired" after; status expired; PATCH can extend it', async () => {
  const { srv, admin } = await startWithAdmin();
  try {
    const at = new Date(Date.now() + 2000).toISOString();
    const c = await srv.req('POST', T, { token: admin, body: { name: 'short-lived', expiresAt: at } });
    assert.equal(c.status, 201, c.text);
    assert.equal(ms(c.json.expiresAt), Date.parse(at));
    assert.equal(c.json.status, 'active');
    const { id, token } = c.json;
    assert.equal((await useToken(srv, token)).status, 200);
    // The one place a wait is fine: the clock has to pass expiresAt.
    const { value: r } = await pollUntil('expiry', async () => {
      const x = await useToken(srv, token);
      return x.status === 401 ? x : (assert.equal(x.status, 200, x.text), null);
    }, 4000, 100);
    assert.ok(Date.now() >= Date.parse(at), 'refused before expiresAt');
    assert401(r, /access token 'short-lived' expired at \d{4}-\d\d-\d\dT/);
    assert.ok(r.json.error.message.includes(new Date(Date.parse(at)).toISOString().slice(0, 19)),
      `message should say when: ${r.json.error.message}`);
    const g = await srv.req('GET', `${T}/${id}`, { token: admin });
    assert.equal(g.json.status, 'expired');
    const l = await srv.req('GET', `${T}?status=expired`, { token: admin });
    assert.deepEqual(l.json.accessTokens.map((t) => t.id), [id]);
    const p = await srv.req('PATCH', `${T}/${id}`, { token: admin, body: { expiresAt: null } });
    assert.equal(p.status, 200, p.text);
    assert.equal(p.json.status, 'active');
    assert.equal((await useToken(srv, token)).status, 200);
  } finally {
    await srv.stop();
  }
});

test('401: missing, malformed (prefix, length, checksum), unknown, suspended; Bearer works; never the query string', async () => {
  const { srv, admin } = await startWithAdmin();
  try {
    const c = await srv.req('POST', T, { token: admin, body: { name: 'reader' } });
    const tok = c.json.token;
    assert401(await srv.req('GET', '/v1/config'), /missing/);
    assert401(await srv.req('GET', '/v1/config', { headers: { 'X-API-Token': '' } }), /missing/);
    assert401(await srv.req('GET', '/v1/config', { headers: { Authorization: 'Basic YWRtaW46eA==' } }), /missing/);
    assert401(await useToken(srv, `xyz_${tok.slice(4)}`), /malformed.*igt_/);
    assert401(await useToken(srv, tok.slice(4)), /malformed/);
    assert401(await useToken(srv, `${tok}a`), /malformed.*length/);
    assert401(await useToken(srv, tok.slice(0, -1)), /malformed.*length/);
    assert401(await useToken(srv, flipLast(tok)), /malformed.*checksum/);
    assert401(await useToken(srv, `${tok.slice(0, 10)}-${tok.slice(11)}`), /malformed/);
    assert401(await useToken(srv, foreignToken()), /unknown/);
    assert401(await useToken(srv, null, { Authorization: `Bearer ${flipLast(tok)}` }), /checksum/);

    // The valid token, both headers.
    assert.equal((await useToken(srv, tok)).status, 200);
    assert.equal((await useToken(srv, null, { Authorization: `Bearer ${tok}` })).status, 200);

    // Never from the query string.
    for (const q of ['token', 'X-API-Token', 'access_token', 'api_token']) {
      assert401(await srv.req('GET', `/v1/config?${q}=${tok}`), /missing/);
      assert401(await srv.req('GET', `${T}?${q}=${tok}`), /missing/);
    }

    // Suspended, through both headers; and the admin API gives the same 401s.
    await srv.req('POST', `${T}/${c.json.id}/suspend`, { token: admin });
    assert401(await useToken(srv, tok), /suspended/);
    assert401(await useToken(srv, null, { Authorization: `Bearer ${tok}` }), /suspended/);
    assert401(await srv.req('GET', T), /missing/);
    assert401(await srv.req('GET', T, { token: flipLast(admin) }), /checksum/);
    assert401(await srv.req('GET', T, { token: foreignToken() }), /unknown/);
  } finally {
    await srv.stop();
  }
});

test('validation: every bad create/PATCH is a 400 naming the field (409 for a duplicate) and writes nothing', async () => {
  const { srv, admin } = await startWithAdmin();
  try {
    const ok = await srv.req('POST', T, { token: admin, body: { name: 'taken', maxRps: 3 } });
    assert.equal(ok.status, 201, ok.text);
    const other = await srv.req('POST', T, { token: admin, body: { name: 'other' } });
    assert.equal(other.status, 201, other.text);
    const id = ok.json.id;
    const past = new Date(Date.now() - 60000).toISOString();
    const cases = [
      [{}, /name/],
      [{ maxRps: 5 }, /name/],
      [{ name: '' }, /name/],
      [{ name: 'x'.repeat(101) }, /name/],
      [{ name: 'é'.repeat(101) }, /name/],
      [{ name: 'tab\there' }, /name/],
      [{ name: 'nl\n' }, /name/],
      [{ name: 'del\u007f' }, /name/],
      [{ name: 'c1\u0085' }, /name/],
      [{ name: 5 }, /name/],
      [{ name: null }, /name/],
      [{ name: ['a'] }, /name/],
      [{ name: 'ok', maxRps: 0 }, /maxRps/],
      [{ name: 'ok', maxRps: -1 }, /maxRps/],
      [{ name: 'ok', maxRps: '5' }, /maxRps/],
      [{ name: 'ok', maxRps: true }, /maxRps/],
      [{ name: 'ok', maxRps: 1e9 }, /maxRps/],
      [{ name: 'ok', maxRps: {} }, /maxRps/],
      // Below the limiter's resolution: 1e-12 with burst 3 once overflowed int64 nanoseconds (a UBSan crash).
      [{ name: 'ok', maxRps: 1e-12, burst: 3 }, /maxRps/],
      [{ name: 'ok', maxRps: 0.0009 }, /maxRps/],
      [{ name: 'ok', maxRps: 5e-324 }, /maxRps/],
      [{ name: 'ok', burst: 0 }, /burst/],
      [{ name: 'ok', burst: -3 }, /burst/],
      [{ name: 'ok', burst: 1.5 }, /burst/],
      [{ name: 'ok', burst: '3' }, /burst/],
      [{ name: 'ok', burst: 1e12 }, /burst/],
      [{ name: 'ok', expiresAt: past }, /expiresAt/],
      [{ name: 'ok', expiresAt: 'not a date' }, /expiresAt/],
      [{ name: 'ok', expiresAt: '2099-13-45T00:00:00Z' }, /expiresAt/],
      [{ name: 'ok', expiresAt: 4102444800 }, /expiresAt/],
      [{ name: 'ok', expiresAt: true }, /expiresAt/],
      [{ name: 'ok', color: 'blue' }, /color/],
      [{ name: 'ok', token: 'igt_mine' }, /token/],
      [{ name: 'ok', owner: 'someone' }, /owner/],
    ];
    const before = await snapshot(srv, admin);
    for (const [body, field] of cases) {
      const r = await srv.req('POST', T, { token: admin, body });
      assertError(assert, r, 400, /^BadRequestException$/, field);
      assert.ok(!('token' in (r.json || {})), r.text);
    }
    const raw = [
      ['{"name": "x"', /^malformed JSON body: unexpected end of input/],
      ['{"name": "x"} trailing', /^malformed JSON body/],
      ["{'name': 'x'}", /^malformed JSON body/],
      ['{"name": "x",}', /^malformed JSON body/],
      ['', /body is required/],
      // Valid JSON that is not an object: said so (a bare number or literal once read as "malformed: continue").
      ['[]', /^request body must be a JSON object/],
      ['"name"', /^request body must be a JSON object/],
      ['null', /^request body must be a JSON object/],
      ['42', /^request body must be a JSON object/],
      ['true', /^request body must be a JSON object/],
      // "\u0000" decodes to NUL: C would keep what is before it ("a\u0000b" was stored as "a", and the key
      // "name\u0000x" acted as "name").
      ['{"name": "a\\u0000b"}', /NUL/],
      ['{"name\\u0000x": "k"}', /NUL/],
      ['{"name": "\\u0000"}', /NUL/],
    ];
    for (const [text, re] of raw) {
      const r = await srv.req('POST', T, { token: admin, body: text, headers: { 'Content-Type': 'application/json' } });
      assertError(assert, r, 400, /^BadRequestException$/, re);
    }
    // duplicate name for the same owner
    const dup = await srv.req('POST', T, { token: admin, body: { name: 'taken' } });
    assertError(assert, dup, 409, /AlreadyExists/, /name/);
    assert.deepEqual(await snapshot(srv, admin), before, 'a refused create wrote something');

    // PATCH: the same errors, and nothing changes
    const patchCases = cases.filter(([b]) => Object.keys(b).length && !(Object.keys(b).length === 1 && b.maxRps === 5))
      .map(([b, f]) => [b.name === 'ok' ? Object.fromEntries(Object.entries(b).filter(([k]) => k !== 'name')) : b, f]);
    for (const [body, field] of patchCases) {
      const r = await srv.req('PATCH', `${T}/${id}`, { token: admin, body });
      assertError(assert, r, 400, /^BadRequestException$/, field);
    }
    // A valid field next to a bad one: nothing applied.
    assertError(assert, await srv.req('PATCH', `${T}/${id}`, { token: admin, body: { name: 'renamed', maxRps: -1 } }),
      400, /BadRequest/, /maxRps/);
    assertError(assert, await srv.req('PATCH', `${T}/${id}`, { token: admin, body: { maxRps: 9, burst: 0 } }),
      400, /BadRequest/, /burst/);
    for (const [text, re] of raw) {
      const r = await srv.req('PATCH', `${T}/${id}`, { token: admin, body: text, headers: { 'Content-Type': 'application/json' } });
      assertError(assert, r, 400, /^BadRequestException$/, re);
    }
    assertError(assert, await srv.req('PATCH', `${T}/${id}`, { token: admin, body: { name: 'other' } }), 409, /AlreadyExists/, /name/);
    // suspend: only an optional string reason
    assertError(assert, await srv.req('POST', `${T}/${id}/suspend`, { token: admin, body: { reason: 5 } }), 400, /BadRequest/, /reason/);
    assertError(assert, await srv.req('POST', `${T}/${id}/suspend`, { token: admin, body: { why: 'x' } }), 400, /BadRequest/, /why/);
    assertError(assert, await srv.req('POST', `${T}/${id}/suspend`, { token: admin, body: { reason: 'a\nb' } }), 400, /BadRequest/, /reason/);
    assertError(assert, await srv.req('POST', `${T}/${id}/suspend`, { token: admin, body: { reason: 'r'.repeat(501) } }), 400, /BadRequest/, /reason/);
    assertError(assert, await srv.req('POST', `${T}/${id}/suspend`, { token: admin, body: '{"reason":', headers: { 'Content-Type': 'application/json' } }), 400, /BadRequest/, /malformed/);
    assertError(assert, await srv.req('POST', `${T}/${id}/activate`, { token: admin, body: { x: 1 } }), 400, /BadRequest/);
    assertError(assert, await srv.req('POST', `${T}/${id}/suspend`, { token: admin, body: '{"reason": "a\\u0000b"}', headers: { 'Content-Type': 'application/json' } }), 400, /BadRequest/, /NUL/);
    // the same for users and logins: a password or user name is never cut short at a NUL
    assertError(assert, await srv.req('POST', '/api/v1/users', { token: admin, body: '{"name": "nul", "password": "long-enough\\u0000tail"}', headers: { 'Content-Type': 'application/json' } }), 400, /BadRequest/, /NUL/);
    assertError(assert, await srv.req('POST', '/api/v1/session/login', { body: `{"username": "admin\\u0000x", "password": "${ADMIN_PASSWORD}"}`, headers: { 'Content-Type': 'application/json' } }), 400, /BadRequest/, /NUL/);
    assert.deepEqual(await snapshot(srv, admin), before, 'a refused PATCH/suspend wrote something');
    assert.equal((await useToken(srv, ok.json.token)).status, 200);

    // Accepted edge values: fractional maxRps, 100 characters (also multi-byte), inner spaces, unicode.
    const half = await srv.req('POST', T, { token: admin, body: { name: 'half', maxRps: 0.5 } });
    assert.equal(half.status, 201, half.text);
    assert.equal(half.json.maxRps, 0.5);
    assert.equal(half.json.burst, 1);
    const long = await srv.req('POST', T, { token: admin, body: { name: 'é'.repeat(100) } });
    assert.equal(long.status, 201, long.text);
    assert.equal(long.json.name, 'é'.repeat(100));
    const cap = await srv.req('POST', T, { token: admin, body: { name: 'cap', maxRps: 1e6, burst: 1e6 } });
    assert.equal(cap.status, 201, cap.text);
    // The smallest rate with the largest burst: accepted, and enforced without overflow.
    const slow = await srv.req('POST', T, { token: admin, body: { name: 'slowest', maxRps: 0.001, burst: 1e6 } });
    assert.equal(slow.status, 201, slow.text);
    assert.equal(slow.json.maxRps, 0.001);
    for (let i = 0; i < 3; i++) assert.equal((await useToken(srv, slow.json.token)).status, 200);
    const one = await srv.req('POST', T, { token: admin, body: { name: 'slowest-1', maxRps: 0.001, burst: 1 } });
    assert.equal((await useToken(srv, one.json.token)).status, 200);
    const no = await useToken(srv, one.json.token);
    assert.equal(no.status, 429, no.text);
    assert.ok(Number(no.headers.get('retry-after')) >= 990, no.headers.get('retry-after'));
    // An escaped backslash followed by "u0000" is just text.
    const text = await srv.req('POST', T, { token: admin, body: '{"name": "lit\\\\u0000"}', headers: { 'Content-Type': 'application/json' } });
    assert.equal(text.status, 201, text.text);
    assert.equal(text.json.name, 'lit\\u0000');
    const uni = await srv.req('POST', T, { token: admin, body: { name: 'Spark ETL — nightly 🚀' } });
    assert.equal(uni.status, 201, uni.text);
    assert.equal(uni.json.name, 'Spark ETL — nightly 🚀');
    const got = await srv.req('GET', `${T}/${uni.json.id}`, { token: admin });
    assert.equal(got.json.name, 'Spark ETL — nightly 🚀');
    const p = await srv.req('PATCH', `${T}/${ok.json.id}`, { token: admin, body: { maxRps: 0.25 } });
    assert.equal(p.status, 200, p.text);
    assert.equal(p.json.maxRps, 0.25);
  } finally {
    await srv.stop();
  }
});

// Writes head+body on a raw connection; resolves with what came back once `until` matches or the peer closes
// (at most 3 s).
function rawExchange(port, head, body, until) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let data = '';
    const done = () => { clearTimeout(t); s.destroy(); resolve(data); };
    const t = setTimeout(done, 3000);
    s.on('data', (c) => { data += c; if (until.test(data)) done(); });
    s.on('close', done);
    s.on('error', (e) => (data ? done() : reject(e)));
    s.write(head + body);
  });
}

test('routes: unknown 404, wrong method 405 with Allow, body over the cap 413', async () => {
  const { srv, admin } = await startWithAdmin({ env: { ICEGATE_SERVER_MAX_BODY_BYTES: '2048' } });
  try {
    const c = await srv.req('POST', T, { token: admin, body: { name: 'r' } });
    const id = c.json.id;
    assertError(assert, await srv.req('GET', '/api/v1/nope', { token: admin }), 404, /NotFound/);
    assertError(assert, await srv.req('GET', `${T}/${id}/nope`, { token: admin }), 404, /NotFound/);
    assertError(assert, await srv.req('GET', `${T}/${id}/suspend/x`, { token: admin }), 404, /NotFound/);
    assertError(assert, await srv.req('GET', `${T}/tok_doesNotExist00000`, { token: admin }), 404, /NoSuchAccessToken/);
    assertError(assert, await srv.req('GET', '/v1/nope', { token: admin }), 404, /NotFound/);
    assertError(assert, await srv.req('GET', '/no/such/page'), 404, /NotFound/);
    const m = [
      ['PUT', T, 'GET, POST'], ['DELETE', T, 'GET, POST'], ['PATCH', T, 'GET, POST'],
      ['PUT', `${T}/${id}`, 'GET, PATCH, DELETE'], ['POST', `${T}/${id}`, 'GET, PATCH, DELETE'],
      ['GET', `${T}/${id}/suspend`, 'POST'], ['DELETE', `${T}/${id}/activate`, 'POST'],
    ];
    for (const [method, p, allow] of m) {
      const r = await srv.req(method, p, { token: admin, body: method === 'GET' || method === 'DELETE' ? undefined : {} });
      assertError(assert, r, 405, /MethodNotAllowed/);
      assert.equal(r.headers.get('allow'), allow, `${method} ${p}`);
    }
    assertError(assert, await srv.req('POST', '/v1/config', { token: admin, body: {} }), 405, /MethodNotAllowed/);

    const before = await snapshot(srv, admin);
    const big = { name: 'big', pad: 'x'.repeat(4096) };
    assertError(assert, await srv.req('POST', T, { token: admin, body: big }), 413, null, /2048/);
    assertError(assert, await srv.req('PATCH', `${T}/${id}`, { token: admin, body: { name: 'y'.repeat(4096) } }), 413);
    // Just under the cap still goes through to validation.
    const under = await srv.req('POST', T, { token: admin, body: { name: 'n', pad: 'x'.repeat(1900) } });
    assertError(assert, under, 400, /BadRequest/, /pad/);
    // A declared Content-Length over the cap is refused before the body is sent: no "100 Continue"
    // inviting a body that would be thrown away (it used to read all of it first), and a prompt 413.
    const head = (extra) => `POST ${T} HTTP/1.1\r\nHost: x\r\nX-API-Token: ${admin}\r\nContent-Type: application/json\r\n${extra}\r\n`;
    const t0 = Date.now();
    const early = await rawExchange(srv.port, head('Content-Length: 1000000000\r\nExpect: 100-continue\r\n'), '', /\r\n\r\n\{.*\}\}$/s);
    assert.match(early, /^HTTP\/1\.1 413 /, early);
    assert.doesNotMatch(early, /100 Continue/);
    assert.match(early, /request body larger than 2048 bytes/);
    const early2 = await rawExchange(srv.port, head('Content-Length: 5000\r\n'), '{"name": "partial', /\r\n\r\n\{.*\}\}$/s);
    assert.match(early2, /^HTTP\/1\.1 413 /, early2);
    assert.ok(Date.now() - t0 < 1500, `413 took ${Date.now() - t0} ms`);
    // Chunked (no Content-Length): counted as it arrives.
    const chunk = JSON.stringify({ name: 'chunky', pad: 'x'.repeat(4096) });
    const chunked = await rawExchange(srv.port, head('Transfer-Encoding: chunked\r\n'),
      `${chunk.length.toString(16)}\r\n${chunk}\r\n0\r\n\r\n`, /\r\n\r\n\{.*\}\}$/s);
    assert.match(chunked, /^HTTP\/1\.1 413 /, chunked);
    assert.deepEqual(await snapshot(srv, admin), before);
    // The server is fine afterwards.
    assert.equal((await useToken(srv, c.json.token)).status, 200);
  } finally {
    await srv.stop();
  }
});

test('members: see and manage only their own tokens; admins see all', async () => {
  const { srv, dataDir, admin, adminRec } = await startWithAdmin();
  try {
    const u = await srv.req('POST', '/api/v1/users', {
      token: admin, body: { name: 'alice', password: 'alice-password-1', role: 'member' },
    });
    assert.equal(u.status, 201, u.text);
    assert.deepEqual(u.json, { name: 'alice', role: 'member' });
    assertError(assert, await srv.req('POST', '/api/v1/users', {
      token: admin, body: { name: 'alice', password: 'alice-password-1', role: 'member' },
    }), 409, /AlreadyExists/);

    // The member's token is made by the CLI while the server runs.
    const aliceTok = createToken(dataDir, 'alice-key', ['--owner', 'alice']);
    assert.equal(aliceTok.owner, 'alice');
    await pollUntil('CLI-created member token', async () => (await useToken(srv, aliceTok.token)).status === 200);
    const alice = aliceTok.token;
    assert.notEqual(cli(dataDir, ['token', 'create', '--name', 'x', '--owner', 'nobody', '--json']).code, 0);

    const adminOther = await srv.req('POST', T, { token: admin, body: { name: 'shared-name' } });
    const mine = await srv.req('POST', T, { token: alice, body: { name: 'shared-name' } }); // same name, other owner
    assert.equal(mine.status, 201, mine.text);
    assert.equal(mine.json.owner, 'alice');

    const la = await srv.req('GET', T, { token: alice });
    assert.equal(la.status, 200, la.text);
    assert.deepEqual(la.json.accessTokens.map((t) => t.id), [aliceTok.id, mine.json.id]);
    assert.ok(la.json.accessTokens.every((t) => t.owner === 'alice'));
    const laOwn = await srv.req('GET', `${T}?owner=alice`, { token: alice });
    assert.deepEqual(laOwn.json.accessTokens.map((t) => t.id), [aliceTok.id, mine.json.id]);
    assertError(assert, await srv.req('GET', `${T}?owner=admin`, { token: alice }), 403, /Forbidden/);

    for (const [method, p] of [['GET', `${T}/${adminRec.id}`], ['PATCH', `${T}/${adminRec.id}`],
      ['DELETE', `${T}/${adminRec.id}`], ['POST', `${T}/${adminRec.id}/suspend`], ['POST', `${T}/${adminOther.json.id}/activate`]]) {
      const r = await srv.req(method, p, { token: alice, body: method === 'PATCH' ? { name: 'pwned' } : undefined });
      assertError(assert, r, 404, /NoSuchAccessToken/);
    }
    assertError(assert, await srv.req('POST', '/api/v1/users', {
      token: alice, body: { name: 'mallory', password: 'mallory-password', role: 'admin' },
    }), 403, /Forbidden/);
    // The admin's token is untouched and still works.
    assert.equal((await useToken(srv, admin)).status, 200);
    const ga = await srv.req('GET', `${T}/${adminRec.id}`, { token: admin });
    assert.equal(ga.json.name, 'admin-key');
    assert.equal(ga.json.status, 'active');

    // Members manage their own.
    const ps = await srv.req('POST', `${T}/${mine.json.id}/suspend`, { token: alice, body: { reason: 'mine' } });
    assert.equal(ps.status, 200, ps.text);
    assert401(await useToken(srv, mine.json.token), /suspended/);

    // The admin sees everything, and may filter by owner.
    const all = await srv.req('GET', T, { token: admin });
    assert.deepEqual(all.json.accessTokens.map((t) => t.id).sort(),
      [adminRec.id, aliceTok.id, adminOther.json.id, mine.json.id].sort());
    const onlyAlice = await srv.req('GET', `${T}?owner=alice`, { token: admin });
    assert.deepEqual(onlyAlice.json.accessTokens.map((t) => t.id), [aliceTok.id, mine.json.id]);
    const g = await srv.req('GET', `${T}/${mine.json.id}`, { token: admin });
    assert.equal(g.status, 200);
    assert.equal(g.json.owner, 'alice');
    // A second admin, made over the API, sees everything too.
    const u2 = await srv.req('POST', '/api/v1/users', { token: admin, body: { name: 'root2', password: 'root2-password', role: 'admin' } });
    assert.equal(u2.status, 201, u2.text);
    const root2 = createToken(dataDir, 'root2-key', ['--owner', 'root2']);
    await pollUntil('CLI-created admin token', async () => (await useToken(srv, root2.token)).status === 200);
    const all2 = await srv.req('GET', T, { token: root2.token });
    assert.equal(all2.json.accessTokens.length, 5);
    assert.equal((await srv.req('GET', `${T}/${mine.json.id}`, { token: root2.token })).status, 200);
    // settings says who is who
    const sa = await srv.req('GET', '/api/v1/settings', { token: alice });
    assert.equal(sa.json.user, 'alice');
    assert.equal(sa.json.role, 'member');
    const sm = await srv.req('GET', '/api/v1/settings', { token: admin });
    assert.equal(sm.json.role, 'admin');
  } finally {
    await srv.stop();
  }
});
