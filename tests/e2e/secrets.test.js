// A token's secret is shown once, at creation, and nowhere else: not in the SQLite file (db, WAL, SHM),
// not in the server log (even at debug level), not in any list/get/metrics/error response, not in CLI output.
// User passwords likewise never appear (the store keeps argon2 hashes).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Server, cli, createToken, tempDir, ADMIN_PASSWORD, onPostgres } from './lib/harness.js';
import { flipLast, randomPart, useToken, assert401, TOKEN_RE } from './lib/helpers.js';

const T = '/api/v1/access-tokens';

function filesUnder(dir) {
  const out = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

// Reads every file under dir now (the WAL and SHM exist only while the server runs).
const readAll = (dir) => filesUnder(dir).map((p) => ({ where: p, data: fs.readFileSync(p) }));

test('secrets never appear in the database, the log, or any response after creation', { skip: onPostgres && 'SQLite only: reads the icegate.db files (on PostgreSQL the store suite checks that rows hold hashes only)' }, async () => {
  const d = tempDir();
  const admin = createToken(d, 'admin-key');
  const srv = await new Server({ dataDir: d, env: { ICEGATE_LOG_LEVEL: 'debug', ICEGATE_RATELIMITER_MAX_DELAY_MS: '0' } }).start();
  const secrets = new Map(); // name → secret
  const seen = [];           // {where, data} everything we later search
  const record = (where, r) => { seen.push({ where, data: Buffer.from(`${JSON.stringify([...r.headers])}\n${r.text}`) }); return r; };
  let stopped = false;
  try {
    secrets.set('admin-key', admin.token);
    // created through the API...
    for (const [name, body] of [['api-plain', {}], ['api-limited', { maxRps: 0.5, burst: 2 }],
      ['api-expiring', { expiresAt: '2099-01-01T00:00:00Z' }], ['api-deleted', {}]]) {
      const r = await srv.req('POST', T, { token: admin.token, body: { name, ...body } });
      assert.equal(r.status, 201, r.text);
      assert.match(r.json.token, TOKEN_RE);
      secrets.set(name, r.json.token);
    }
    // ...and through the CLI, JSON and text output, while the server runs
    const cj = createToken(d, 'cli-json');
    secrets.set('cli-json', cj.token);
    const ct = cli(d, ['token', 'create', '--name', 'cli-text']);
    assert.equal(ct.code, 0, ct.stderr);
    secrets.set('cli-text', ct.stdout.match(/igt_[0-9A-Za-z]{38}/)[0]);
    assert.equal(new Set(secrets.values()).size, secrets.size, 'secrets must differ');

    // use them: 200s (the CLI ones once the server has seen them)
    for (const [name, s] of secrets) {
      let r;
      for (let i = 0; i < 75; i++) {
        r = record(`use ${name}`, await useToken(srv, s));
        if (r.status === 200) break;
        await new Promise((res) => setTimeout(res, 20));
      }
      assert.equal(r.status, 200, `${name}: ${r.text}`);
      assert.equal(record(`bearer ${name}`, await useToken(srv, null, { Authorization: `Bearer ${s}` })).status, 200);
    }
    // wrong variants: 401 and nothing of the presented value echoed
    for (const [name, s] of secrets) {
      const variants = [flipLast(s), `${s}x`, s.slice(0, -1), `igx_${s.slice(4)}`, s.slice(4), s.toUpperCase()];
      for (const v of variants) {
        const r = record(`wrong variant of ${name}`, await useToken(srv, v));
        assert401(r);
        const rb = record(`wrong bearer variant of ${name}`, await useToken(srv, null, { Authorization: `Bearer ${v}` }));
        assert401(rb);
        record(`query string ${name}`, await srv.req('GET', `/v1/config?token=${v}`));
      }
      assert401(record(`query ${name}`, await srv.req('GET', `/v1/config?token=${s}`)), /missing/);
    }
    // rate-limited: the 429 names the token, never its value
    const lim = secrets.get('api-limited');
    const r429 = record('limited', await useToken(srv, lim)); // burst 2 spent by the two 200s above
    assert.equal(r429.status, 429, r429.text);
    assert.match(r429.json.error.message, /api-limited/);

    // suspend one, delete one, rename one (PATCH), then use them
    const list0 = record('list', await srv.req('GET', T, { token: admin.token }));
    const idOf = Object.fromEntries(list0.json.accessTokens.map((t) => [t.name, t.id]));
    record('suspend', await srv.req('POST', `${T}/${idOf['api-plain']}/suspend`, { token: admin.token, body: { reason: 'test' } }));
    assert401(record('use suspended', await useToken(srv, secrets.get('api-plain'))), /suspended/);
    record('delete', await srv.req('DELETE', `${T}/${idOf['api-deleted']}`, { token: admin.token }));
    assert401(record('use deleted', await useToken(srv, secrets.get('api-deleted'))), /unknown/);
    record('patch', await srv.req('PATCH', `${T}/${idOf['cli-json']}`, { token: admin.token, body: { name: 'cli-json-2', maxRps: 100 } }));
    record('suspend cli', await srv.req('POST', `${T}/${idOf['cli-text']}/suspend`, { token: admin.token }));
    record('activate cli', await srv.req('POST', `${T}/${idOf['cli-text']}/activate`, { token: admin.token }));

    // every list / get / filter, stats, settings, metrics, and the CLI's own views
    for (const q of ['', '?status=active', '?status=suspended', '?status=expired', '?owner=admin'])
      record(`list${q}`, await srv.req('GET', `${T}${q}`, { token: admin.token }));
    for (const id of Object.values(idOf)) {
      record(`get ${id}`, await srv.req('GET', `${T}/${id}`, { token: admin.token }));
      record(`stats ${id}`, await srv.req('GET', `${T}/${id}/stats?seconds=10`, { token: admin.token }));
    }
    record('settings', await srv.req('GET', '/api/v1/settings', { token: admin.token }));
    // passwords are secrets too: a user created over the API, logins right and wrong
    const userPw = 'carol-password-Zq81xv';
    record('user', await srv.req('POST', '/api/v1/users', { token: admin.token, body: { name: 'carol', password: userPw, role: 'member' } }));
    for (const [u, pw, want] of [['admin', ADMIN_PASSWORD, 200], ['carol', userPw, 200], ['admin', `${ADMIN_PASSWORD}x`, 401], ['nobody', userPw, 401]]) {
      const r = record(`login ${u}`, await srv.req('POST', '/api/v1/session/login', { body: { username: u, password: pw } }));
      assert.equal(r.status, want, r.text);
    }
    secrets.set('admin password', ADMIN_PASSWORD);
    secrets.set('carol password', userPw);
    const met = record('metrics', await srv.req('GET', '/metrics', { token: admin.token }));
    assert.equal(met.status, 200, met.text);
    for (const args of [['list', '--json'], ['list'], ['show', idOf['api-limited'], '--json'], ['show', idOf['api-limited']],
      ['suspend', idOf['api-expiring'], '--json'], ['activate', idOf['api-expiring']]]) {
      const r = cli(d, ['token', ...args]);
      assert.equal(r.code, 0, r.stderr);
      seen.push({ where: `cli ${args.join(' ')}`, data: Buffer.from(r.stdout + r.stderr) });
    }
    // Let the last-use flush happen, then take the database files while the server still has them open.
    await new Promise((res) => setTimeout(res, 1200));
    const live = readAll(d);
    assert.ok(live.some((f) => f.where.endsWith('icegate.db')), 'no icegate.db');
    assert.ok(live.some((f) => f.where.endsWith('icegate.db-wal')), `no WAL while running: ${live.map((f) => f.where)}`);
    seen.push(...live.map((f) => ({ where: `${f.where} (server running)`, data: f.data })));
    await srv.stop();
    stopped = true;
    seen.push(...readAll(d).map((f) => ({ where: `${f.where} (after stop)`, data: f.data })));
    const log = fs.readFileSync(path.join(d, 'server.log'));
    assert.ok(log.length > 0);

    // The search itself must be able to find things: names and prefixes are there.
    const all = Buffer.concat(seen.map((s) => s.data));
    assert.ok(all.includes('cli-json-2') && all.includes(admin.prefix), 'search corpus looks empty');

    // The whole token, its 32-character random part, and any 10 characters in a row past the displayed
    // prefix (igt_ + 4): a partial leak counts too (10 base62 characters match by chance ~1 in 8e17).
    const leaks = [];
    for (const [name, s] of secrets) {
      const needles = s.startsWith('igt_') ? [s, randomPart(s), s.slice(4)] : [s];
      if (s.startsWith('igt_')) for (let i = 8; i + 10 <= s.length; i++) needles.push(s.slice(i, i + 10));
      for (const needle of needles) {
        for (const { where, data } of seen) if (data.includes(needle)) leaks.push(`${name}: "${needle.length === 10 ? needle : `(${needle.length} chars)`}" in ${where}`);
      }
    }
    assert.deepEqual(leaks, []);
  } finally {
    if (!stopped) await srv.stop();
  }
});
