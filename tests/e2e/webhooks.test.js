// Events and expiry warnings (DESIGN.md §8): a real HTTP receiver on 127.0.0.1 gets every event, at least
// once, with a valid X-Icegate-Signature, even when it was down while the changes happened and icegate
// restarted in between; expiry warnings once per threshold (the nearest when several are crossed), also
// across a restart; token.rate_limited at most once a minute; a webhook that hangs never slows a request.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import test from 'node:test';

import { Server, cli, createToken, sleep, tempDir } from './lib/harness.js';
import { pollUntil, useToken } from './lib/helpers.js';

const T = '/api/v1/access-tokens';
const SECRET = 'webhook-secret-for-tests';

// The receiver: records every delivery (body, headers, whether the signature checks out); `mode` is what it
// answers: 'ok' (204), 'fail' (500), 'hang' (never answers).
class Receiver {
  constructor() {
    this.got = [];
    this.mode = 'ok';
    this.sockets = new Set();
  }

  async listen(port = 0) {
    this.srv = http.createServer((req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const want = 'sha256=' + crypto.createHmac('sha256', SECRET).update(body).digest('hex');
        const sig = req.headers['x-icegate-signature'];
        if (this.mode === 'hang') return; // never answers
        if (this.mode === 'fail') { res.writeHead(500); res.end('down'); return; }
        this.got.push({ body, event: JSON.parse(body), sig, valid: sig === want, id: req.headers['x-icegate-event-id'] });
        res.writeHead(204);
        res.end();
      });
    });
    this.srv.on('connection', (s) => { this.sockets.add(s); s.on('close', () => this.sockets.delete(s)); });
    await new Promise((r) => this.srv.listen(port, '127.0.0.1', r));
    this.port = this.srv.address().port;
    return this;
  }

  async close() {
    for (const s of this.sockets) s.destroy();
    await new Promise((r) => this.srv.close(r));
  }

  events(type, tokenId) {
    return this.got.filter((g) => g.event.type === type && (!tokenId || g.event.token.id === tokenId));
  }
}

function config(dataDir, port, extra = '') {
  const key = path.join(dataDir, 'webhook.key');
  fs.writeFileSync(key, SECRET + '\n'); // the trailing newline is not part of the key
  return `notifications:\n  webhook:\n    url: http://127.0.0.1:${port}/hook\n    secret_file: ${key}\n`
    + '    max_backoff_ms: 500\n    timeout_ms: 1000\n'
    + `ratelimiter:\n  max_delay_ms: 0\n${extra}`;
}

async function setup(rcv, extra) {
  const dataDir = tempDir();
  const admin = createToken(dataDir, 'admin-key');
  const cfg = config(dataDir, rcv.port, extra);
  const srv = await new Server({ dataDir, config: cfg }).start();
  return { dataDir, cfg, srv, admin: admin.token };
}

const hours = (h) => new Date(Date.now() + h * 3600e3).toISOString();

test('every event arrives, signed, though the receiver was down and icegate restarted meanwhile', async () => {
  const rcv = await new Receiver().listen();
  const { dataDir, cfg, srv, admin } = await setup(rcv);
  const a = (await srv.req('POST', T, { token: admin, body: { name: 'a' } })).json;
  const b = (await srv.req('POST', T, { token: admin, body: { name: 'b' } })).json;
  assert.equal((await srv.req('POST', `${T}/${a.id}/suspend`, { token: admin, body: { reason: 'r1' } })).status, 200);
  await pollUntil('token.suspended delivered', () => rcv.events('token.suspended', a.id).length === 1, 10000);
  const first = rcv.events('token.suspended', a.id)[0];
  assert.ok(first.valid, `bad signature ${first.sig}`);
  assert.match(first.id, /^evt_[0-9A-Za-z]{16}$/);
  assert.equal(first.event.id, first.id);
  assert.deepEqual(Object.keys(first.event).sort(), ['at', 'details', 'id', 'token', 'type']);
  assert.deepEqual(first.event.token, { id: a.id, name: 'a', owner: 'admin', expiresAt: null });
  assert.deepEqual(first.event.details, { by: 'admin', reason: 'r1' });

  // The receiver goes away; changes by the API and the CLI; icegate restarts; more changes.
  const port = rcv.port;
  await rcv.close();
  assert.equal((await srv.req('POST', `${T}/${a.id}/activate`, { token: admin })).status, 200);
  // The CLI, given the same config, writes the events of its changes too (the server delivers them).
  const withCfg = ['--config', path.join(dataDir, 'icegate.yaml')];
  assert.equal(cli(dataDir, ['token', 'suspend', b.id, '--reason', 'cli', ...withCfg]).code, 0);
  await sleep(1500); // a few failed attempts
  await srv.stop();
  assert.equal(cli(dataDir, ['token', 'delete', a.id, ...withCfg]).code, 0);
  const srv2 = await new Server({ dataDir, config: cfg }).start();
  assert.equal((await srv2.req('POST', `${T}/${b.id}/activate`, { token: admin })).status, 200);
  assert.equal((await srv2.req('DELETE', `${T}/${b.id}`, { token: admin })).status, 204);
  await sleep(1000);
  assert.equal(rcv.got.length, 1); // nothing got through while it was down

  await rcv.listen(port);
  const want = [['token.suspended', a.id], ['token.activated', a.id], ['token.deleted', a.id],
    ['token.suspended', b.id], ['token.activated', b.id], ['token.deleted', b.id]];
  await pollUntil('every event delivered', () => want.every(([t, id]) => rcv.events(t, id).length >= 1), 15000);
  for (const g of rcv.got) assert.ok(g.valid, `bad signature on ${g.body}`);
  for (const g of rcv.got) assert.match(g.event.at, /^\d{4}-\d\d-\d\dT/);
  assert.deepEqual(rcv.events('token.suspended', b.id)[0].event.details, { by: 'cli', reason: 'cli' });
  await srv2.stop();
  await rcv.close();
});

test('a webhook that hangs or fails never slows a catalog request or a change', async () => {
  const rcv = await new Receiver().listen();
  rcv.mode = 'hang';
  const { srv, admin } = await setup(rcv);
  const t = (await srv.req('POST', T, { token: admin, body: { name: 'x' } })).json;
  for (let i = 0; i < 6; i++) {
    const t0 = Date.now();
    const r = await srv.req('POST', `${T}/${t.id}/${i % 2 ? 'activate' : 'suspend'}`, { token: admin });
    assert.equal(r.status, 200);
    assert.ok(Date.now() - t0 < 500, `a change took ${Date.now() - t0} ms with a hanging webhook`);
  }
  for (let i = 0; i < 30; i++) {
    const t0 = Date.now();
    assert.equal((await useToken(srv, admin)).status, 200);
    assert.ok(Date.now() - t0 < 200, `a catalog request took ${Date.now() - t0} ms with a hanging webhook`);
  }
  rcv.mode = 'fail';
  await sleep(1200);
  rcv.mode = 'ok';
  await pollUntil('all six delivered after the receiver recovers', () =>
    rcv.events('token.suspended', t.id).length >= 3 && rcv.events('token.activated', t.id).length >= 3, 15000);
  assert.match(srv.ownLog(), /webhook: event evt_\w+ (answered HTTP 500|not delivered)/);
  assert.ok(!srv.ownLog().includes(SECRET));
  await srv.stop();
  await rcv.close();
});

test('expiry warnings: once per threshold, the nearest when several are crossed, expired, and not again after a restart', async () => {
  const rcv = await new Receiver().listen();
  const { dataDir, cfg, srv, admin } = await setup(rcv);
  const week = (await srv.req('POST', T, { token: admin, body: { name: 'in-2-days', expiresAt: hours(48) } })).json;
  const day = (await srv.req('POST', T, { token: admin, body: { name: 'in-12-hours', expiresAt: hours(12) } })).json;
  const soon = (await srv.req('POST', T, { token: admin, body: { name: 'in-4-s', expiresAt: new Date(Date.now() + 4000).toISOString() } })).json;
  const far = (await srv.req('POST', T, { token: admin, body: { name: 'in-30-days', expiresAt: hours(720) } })).json;
  await pollUntil('warnings', () => rcv.events('token.expiring', week.id).length && rcv.events('token.expiring', day.id).length, 12000);
  const w = rcv.events('token.expiring', week.id)[0].event;
  assert.equal(w.details.thresholdDays, 7);
  assert.equal(w.token.expiresAt, week.expiresAt);
  // 12 hours left crosses 7 and 1 days at once: one event, for 1
  assert.deepEqual(rcv.events('token.expiring', day.id).map((g) => g.event.details.thresholdDays), [1]);
  await pollUntil('token.expired', () => rcv.events('token.expired', soon.id).length === 1, 15000);
  assert.equal(rcv.events('token.expiring', far.id).length, 0);

  // A later PATCH into the 1-day window gives the 1-day warning for the 2-day token.
  const p = await srv.req('PATCH', `${T}/${week.id}`, { token: admin, body: { expiresAt: hours(20) } });
  assert.equal(p.status, 200, p.text);
  await pollUntil('1-day warning after the PATCH', () => rcv.events('token.expiring', week.id).length === 2, 12000);
  assert.equal(rcv.events('token.expiring', week.id)[1].event.details.thresholdDays, 1);

  // A restart does not repeat any of them.
  await srv.stop();
  const before = rcv.got.length;
  const srv2 = await new Server({ dataDir, config: cfg }).start();
  await sleep(7000); // more than one expiry check (every 5 s)
  assert.equal(rcv.got.length, before, JSON.stringify(rcv.got.slice(before).map((g) => g.event.type)));
  for (const g of rcv.got) assert.ok(g.valid);
  await srv2.stop();
  await rcv.close();
});

test('token.rate_limited: raised off the request path, at most once a minute per token', async () => {
  const rcv = await new Receiver().listen();
  const { srv, admin } = await setup(rcv);
  const t = (await srv.req('POST', T, { token: admin, body: { name: 'slow', maxRps: 1, burst: 1 } })).json;
  let limited = 0;
  for (let i = 0; i < 5; i++) if ((await useToken(srv, t.token)).status === 429) limited++;
  assert.ok(limited >= 3, `${limited} 429s`);
  await pollUntil('token.rate_limited', () => rcv.events('token.rate_limited', t.id).length === 1, 10000);
  const e = rcv.events('token.rate_limited', t.id)[0].event;
  assert.equal(e.details.limitedRequests, limited);
  assert.ok(rcv.got.every((g) => g.valid));
  for (let i = 0; i < 5; i++) await useToken(srv, t.token);
  await sleep(3000);
  assert.equal(rcv.events('token.rate_limited', t.id).length, 1); // within the minute: no second one
  assert.equal(rcv.events('token.rate_limited').length, 1); // and none for tokens that were never limited
  await srv.stop();
  await rcv.close();
});

test('token.rotated: the event and its audit entry (the prefix old -> new, never a secret)', async () => {
  const rcv = await new Receiver().listen();
  const { srv, admin } = await setup(rcv);
  const t = (await srv.req('POST', T, { token: admin, body: { name: 'rot' } })).json;
  const r = await srv.req('POST', `${T}/${t.id}/rotate`, { token: admin, body: { gracePeriod: 60 } });
  assert.equal(r.status, 200, r.text);
  await pollUntil('token.rotated', () => rcv.events('token.rotated', t.id).length === 1, 10000);
  const e = rcv.events('token.rotated', t.id)[0];
  assert.ok(e.valid);
  assert.equal(e.event.details.by, 'admin');
  assert.equal(e.event.details.previousTokenValidUntil, r.json.previousTokenValidUntil);
  const a = await srv.req('GET', `/api/v1/audit?target=${t.id}&action=token.rotate`, { token: admin });
  assert.equal(a.json.entries.length, 1);
  assert.deepEqual(a.json.entries[0].details.prefix, { old: t.prefix, new: r.json.prefix });
  for (const s of [t.token, r.json.token]) {
    assert.ok(!a.text.includes(s.slice(4, 36)) && !e.body.includes(s.slice(4, 36)), 'a secret in the audit log or an event');
  }
  await srv.stop();
  await rcv.close();
});

// The old secret of a rotated token is a second entry in the token table sharing the token's state; the watcher
// relies on ig_token_table_walk skipping such aliases, or it would raise the event twice.
test('token.rate_limited once for a rotated token, whose old secret (in its grace) shares the limit', async () => {
  const rcv = await new Receiver().listen();
  const { srv, admin } = await setup(rcv);
  const t = (await srv.req('POST', T, { token: admin, body: { name: 'rot-slow', maxRps: 1, burst: 1 } })).json;
  const r = await srv.req('POST', `${T}/${t.id}/rotate`, { token: admin, body: { gracePeriod: 600 } });
  assert.equal(r.status, 200, r.text);
  let limited = 0;
  for (let i = 0; i < 6; i++) if ((await useToken(srv, i % 2 ? t.token : r.json.token)).status === 429) limited++;
  assert.ok(limited >= 3, `${limited} 429s`);
  await pollUntil('token.rate_limited', () => rcv.events('token.rate_limited', t.id).length >= 1, 10000);
  await sleep(2500);
  assert.equal(rcv.events('token.rate_limited', t.id).length, 1);
  await srv.stop();
  await rcv.close();
});
