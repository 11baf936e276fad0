// The `icegate token` CLI: the whole lifecycle on the store, validation, and a running server seeing
// every CLI change within a second (and the CLI seeing the server's changes at once).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Server, cli, createToken, tempDir } from './lib/harness.js';
import { TOKEN_RE, ID_RE, RFC3339_RE, pollUntil, useToken, assert401, ms } from './lib/helpers.js';

const DAY = 86400 * 1000;

function ok(r) {
  assert.equal(r.code, 0, `exit ${r.code}: ${r.stderr}`);
  assert.ok(r.json !== undefined, `not JSON: ${r.stdout}`);
  return r.json;
}

test('CLI: create, list (filters), show, update, suspend, activate, delete --json', async () => {
  const d = tempDir();
  const before = Date.now();
  const c = ok(cli(d, ['token', 'create', '--name', 'pyiceberg', '--max-rps', '2.5', '--burst', '4', '--json']));
  assert.match(c.token, TOKEN_RE);
  assert.match(c.id, ID_RE);
  assert.equal(c.prefix, c.token.slice(0, 8));
  assert.equal(c.name, 'pyiceberg');
  assert.equal(c.owner, 'admin');
  assert.equal(c.status, 'active');
  assert.equal(c.maxRps, 2.5);
  assert.equal(c.burst, 4);
  assert.equal(c.expiresAt, null);
  assert.equal(c.rateLimitEnforced, true);
  assert.match(c.createdAt, RFC3339_RE);
  assert.ok(ms(c.createdAt) >= before - 1000 && ms(c.createdAt) <= Date.now() + 1000);

  const c2 = ok(cli(d, ['token', 'create', '--name=trino', '--expires', '30d', '--json']));
  const exp = ms(c2.expiresAt);
  assert.ok(Math.abs(exp - (Date.now() + 30 * DAY)) < 60000, `--expires 30d gave ${c2.expiresAt}`);
  assert.equal(c2.maxRps, null);
  assert.equal(c2.burst, null);
  const c3 = ok(cli(d, ['token', 'create', '--name', 'dated', '--expires', '2099-01-31T00:00:00Z', '--json']));
  assert.equal(ms(c3.expiresAt), Date.parse('2099-01-31T00:00:00Z'));
  const c4 = ok(cli(d, ['token', 'create', '--name', 'in-12h', '--expires', '12h', '--json']));
  assert.ok(Math.abs(ms(c4.expiresAt) - (Date.now() + 12 * 3600000)) < 60000, c4.expiresAt);

  const list = ok(cli(d, ['token', 'list', '--json']));
  assert.deepEqual(list.map((t) => t.id), [c.id, c2.id, c3.id, c4.id]);
  for (const t of list) assert.equal(t.token, undefined, 'list must never show a secret');
  assert.deepEqual(ok(cli(d, ['token', 'list', '--owner', 'admin', '--json'])).map((t) => t.id), [c.id, c2.id, c3.id, c4.id]);
  assert.deepEqual(ok(cli(d, ['token', 'list', '--owner', 'nobody', '--json'])), []);
  assert.deepEqual(ok(cli(d, ['token', 'list', '--status', 'suspended', '--json'])), []);
  const badStatus = cli(d, ['token', 'list', '--status', 'bogus', '--json']);
  assert.notEqual(badStatus.code, 0);
  assert.match(badStatus.stderr, /status/);

  const s = ok(cli(d, ['token', 'show', c.id, '--json']));
  assert.equal(s.token, undefined);
  const { token, ...shown } = c;
  assert.deepEqual(s, shown);

  const u = ok(cli(d, ['token', 'update', c.id, '--name', 'pyiceberg-2', '--max-rps', '0.5', '--burst', '2',
    '--expires', '7d', '--json']));
  assert.equal(u.name, 'pyiceberg-2');
  assert.equal(u.maxRps, 0.5);
  assert.equal(u.burst, 2);
  assert.ok(Math.abs(ms(u.expiresAt) - (Date.now() + 7 * DAY)) < 60000, u.expiresAt);
  assert.ok(ms(u.updatedAt) >= ms(c.updatedAt));
  assert.equal(u.createdAt, c.createdAt);
  const u2 = ok(cli(d, ['token', 'update', c.id, '--max-rps', 'none', '--burst', 'none', '--expires', 'never', '--json']));
  assert.equal(u2.maxRps, null);
  assert.equal(u2.burst, null);
  assert.equal(u2.expiresAt, null);
  assert.equal(u2.name, 'pyiceberg-2');
  assert.deepEqual(ok(cli(d, ['token', 'show', c.id, '--json'])), u2);

  const sus = ok(cli(d, ['token', 'suspend', c.id, '--reason', 'leaked in a notebook', '--json']));
  assert.equal(sus.status, 'suspended');
  assert.equal(sus.suspendReason, 'leaked in a notebook');
  assert.match(sus.suspendedAt, RFC3339_RE);
  assert.deepEqual(ok(cli(d, ['token', 'list', '--status', 'suspended', '--json'])).map((t) => t.id), [c.id]);
  assert.deepEqual(ok(cli(d, ['token', 'list', '--status', 'active', '--json'])).map((t) => t.id), [c2.id, c3.id, c4.id]);
  const act = ok(cli(d, ['token', 'activate', c.id, '--json']));
  assert.equal(act.status, 'active');
  assert.equal(act.suspendedAt, null);
  assert.equal(act.suspendReason, null);

  const del = ok(cli(d, ['token', 'delete', c.id, '--json']));
  assert.deepEqual(del, { deleted: c.id });
  for (const args of [['show', c.id], ['delete', c.id], ['suspend', c.id], ['activate', c.id], ['update', c.id, '--name', 'x']]) {
    const r = cli(d, ['token', ...args, '--json']);
    assert.equal(r.code, 3, `token ${args[0]} of a deleted token: exit ${r.code} ${r.stderr}`);
    assert.match(r.stderr, /does not exist/);
  }
  assert.deepEqual(ok(cli(d, ['token', 'list', '--json'])).map((t) => t.id), [c2.id, c3.id, c4.id]);

  // Text output: the secret once at create, never in show/list.
  const txt = cli(d, ['token', 'create', '--name', 'texty']);
  assert.equal(txt.code, 0, txt.stderr);
  const secret = txt.stdout.match(/igt_[0-9A-Za-z]{38}/)?.[0];
  assert.match(secret || '', TOKEN_RE, txt.stdout);
  const lt = cli(d, ['token', 'list']);
  assert.equal(lt.code, 0);
  assert.match(lt.stdout, /texty/);
  assert.ok(!lt.stdout.includes(secret));
});

test('CLI: bad input exits non-zero naming the option or field, and writes nothing', () => {
  const d = tempDir();
  const a = createToken(d, 'existing', ['--max-rps', '3']);
  const snap = () => ok(cli(d, ['token', 'list', '--json']));
  const before = snap();
  const bad = [
    [['create', '--name', ''], /name/],
    [['create', '--name', 'x'.repeat(101)], /name/],
    [['create', '--name', 'tab\there'], /name/],
    [['create'], /name/],
    [['create', '--name', 'existing'], /already has an access token named 'existing'/],
    [['create', '--name', 'n', '--max-rps', '0'], /--max-rps/],
    [['create', '--name', 'n', '--max-rps', '-1'], /--max-rps/],
    [['create', '--name', 'n', '--max-rps', 'abc'], /--max-rps/],
    [['create', '--name', 'n', '--max-rps', '1e9'], /maxRps|max-rps/],
    [['create', '--name', 'n', '--max-rps', '1e-12', '--burst', '3'], /maxRps|max-rps/],
    [['create', '--name', 'n', '--burst', '0'], /--burst/],
    [['create', '--name', 'n', '--burst', '1.5'], /--burst/],
    [['create', '--name', 'n', '--expires', 'yesterday'], /--expires/],
    [['create', '--name', 'n', '--expires', '-5d'], /--expires/],
    [['create', '--name', 'n', '--expires', '2001-01-01T00:00:00Z'], /expires/],
    [['create', '--name', 'n', '--owner', 'ghost'], /ghost/],
    [['create', '--name', 'n', '--colour', 'blue'], /--colour/],
    [['update', a.id, '--max-rps', '0'], /--max-rps/],
    [['update', a.id, '--burst', 'x'], /--burst/],
    [['update', a.id, '--expires', 'soon'], /--expires/],
    [['update', a.id, '--name', ''], /name/],
    [['update', a.id], /nothing to change/],
    [['show'], /needs a token ID/],
    [['suspend', a.id, '--reason', 'line\nbreak'], /reason/],
    [['frobnicate', a.id], /unknown token command/],
  ];
  for (const [args, re] of bad) {
    const r = cli(d, ['token', ...args, '--json']);
    assert.notEqual(r.code, 0, `token ${args.join(' ')} should fail: ${r.stdout}`);
    assert.match(r.stderr, re, `token ${args.join(' ')}`);
    assert.doesNotMatch(r.stdout, /igt_/);
  }
  assert.deepEqual(snap(), before);
  const show = ok(cli(d, ['token', 'show', a.id, '--json']));
  assert.equal(show.maxRps, 3);
  assert.equal(show.status, 'active');
});

test('CLI changes are seen by a running server within 1 s; server changes are seen by the CLI at once', async () => {
  const d = tempDir();
  const admin = createToken(d, 'admin-key');
  const srv = await new Server({ dataDir: d, env: { ICEGATE_RATELIMITER_MAX_DELAY_MS: '0' } }).start();
  try {
    const T = '/api/v1/access-tokens';
    const seen = {};
    // create
    const c = createToken(d, 'from-cli');
    seen.create = (await pollUntil('CLI create', async () => (await useToken(srv, c.token)).status === 200)).elapsed;
    const g = await srv.req('GET', `${T}/${c.id}`, { token: admin.token });
    assert.equal(g.status, 200, g.text);
    assert.equal(g.json.name, 'from-cli');

    // suspend → the server's requests turn 401
    ok(cli(d, ['token', 'suspend', c.id, '--reason', 'cli says stop', '--json']));
    seen.suspend = (await pollUntil('CLI suspend', async () => {
      const r = await useToken(srv, c.token);
      if (r.status === 200) return false;
      assert401(r, /suspended/);
      return true;
    })).elapsed;
    // once refused, refused for good
    for (let i = 0; i < 3; i++) assert401(await useToken(srv, c.token), /suspended/);
    const gs = await srv.req('GET', `${T}/${c.id}`, { token: admin.token });
    assert.equal(gs.json.status, 'suspended');
    assert.equal(gs.json.suspendReason, 'cli says stop');

    // activate
    ok(cli(d, ['token', 'activate', c.id, '--json']));
    seen.activate = (await pollUntil('CLI activate', async () => (await useToken(srv, c.token)).status === 200)).elapsed;
    for (let i = 0; i < 3; i++) assert.equal((await useToken(srv, c.token)).status, 200);

    // update maxRps → the server enforces it
    ok(cli(d, ['token', 'update', c.id, '--max-rps', '0.5', '--burst', '1', '--json']));
    seen.update = (await pollUntil('CLI update --max-rps', async () => (await useToken(srv, c.token)).status === 429)).elapsed;
    assert.equal((await useToken(srv, c.token)).status, 429);
    ok(cli(d, ['token', 'update', c.id, '--max-rps', 'none', '--json']));
    seen.unlimit = (await pollUntil('CLI update --max-rps none', async () => (await useToken(srv, c.token)).status === 200)).elapsed;
    for (let i = 0; i < 5; i++) assert.equal((await useToken(srv, c.token)).status, 200);

    // rename is visible in the 401 message the server gives
    ok(cli(d, ['token', 'update', c.id, '--name', 'renamed-by-cli', '--json']));
    await pollUntil('CLI rename', async () => (await srv.req('GET', `${T}/${c.id}`, { token: admin.token })).json.name === 'renamed-by-cli');
    ok(cli(d, ['token', 'suspend', c.id, '--json']));
    await pollUntil('CLI suspend after rename', async () => (await useToken(srv, c.token)).status === 401);
    assert401(await useToken(srv, c.token), /'renamed-by-cli' is suspended/);
    ok(cli(d, ['token', 'activate', c.id, '--json']));
    await pollUntil('CLI activate again', async () => (await useToken(srv, c.token)).status === 200);

    // delete → 401 unknown, API 404
    ok(cli(d, ['token', 'delete', c.id, '--json']));
    seen.delete = (await pollUntil('CLI delete', async () => {
      const r = await useToken(srv, c.token);
      if (r.status === 200) return false;
      assert401(r, /unknown/);
      return true;
    })).elapsed;
    assert.equal((await srv.req('GET', `${T}/${c.id}`, { token: admin.token })).status, 404);

    for (const [what, t] of Object.entries(seen)) assert.ok(t <= 1000, `CLI ${what} took ${t} ms to reach the server`);

    // The other way round: API changes are in the store when the API call returns.
    const api = await srv.req('POST', T, { token: admin.token, body: { name: 'from-api', maxRps: 7 } });
    assert.equal(api.status, 201);
    const shown = ok(cli(d, ['token', 'show', api.json.id, '--json']));
    assert.equal(shown.name, 'from-api');
    assert.equal(shown.maxRps, 7);
    await srv.req('POST', `${T}/${api.json.id}/suspend`, { token: admin.token, body: { reason: 'via api' } });
    const sh2 = ok(cli(d, ['token', 'show', api.json.id, '--json']));
    assert.equal(sh2.status, 'suspended');
    assert.equal(sh2.suspendReason, 'via api');
    await srv.req('DELETE', `${T}/${api.json.id}`, { token: admin.token });
    assert.equal(cli(d, ['token', 'show', api.json.id, '--json']).code, 3);
    assert.deepEqual(ok(cli(d, ['token', 'list', '--json'])).map((t) => t.id), [admin.id]);
  } finally {
    await srv.stop();
  }
});
