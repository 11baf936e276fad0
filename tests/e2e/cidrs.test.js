// allowedCidrs (DESIGN.md §8, issue 17 item 3): a token limited to CIDRs gets 403 naming the address from
// anywhere else; the client address is the peer unless the peer is in server.trusted_proxies, then
// X-Forwarded-For walked from the right past trusted hops; a forged X-Forwarded-For from an untrusted peer
// changes nothing; IPv4 and IPv6; PATCH applies at the very next request; the CLI sets it too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cli } from './lib/harness.js';
import { startWithAdmin, useToken } from './lib/helpers.js';

const T = '/api/v1/access-tokens';
const xff = (token, v) => ({ headers: { 'X-API-Token': token, 'X-Forwarded-For': v } });

test('no trusted proxies: the peer is the client; a forged X-Forwarded-For is ignored; 403 names the address', async () => {
  const { srv, admin, dataDir } = await startWithAdmin();
  try {
    const far = (await srv.req('POST', T, { token: admin, body: { name: 'far', allowedCidrs: ['10.0.0.0/8', '2001:db8::/32'] } })).json;
    assert.deepEqual(far.allowedCidrs, ['10.0.0.0/8', '2001:db8::/32']);
    const r = await useToken(srv, far.token);
    assert.equal(r.status, 403, r.text);
    assert.equal(r.json.error.type, 'ForbiddenException');
    assert.match(r.json.error.message, /access token 'far' is not allowed from 127\.0\.0\.1/);
    const forged = await srv.req('GET', '/v1/config', xff(far.token, '10.1.2.3'));
    assert.equal(forged.status, 403, 'X-Forwarded-For from an untrusted peer is not read');
    // A body request is refused before its body is read, and nothing is written.
    const post = await srv.req('POST', '/v1/namespaces', { token: far.token, body: { namespace: ['nope'] } });
    assert.equal(post.status, 403);
    assert.equal((await srv.req('GET', '/v1/namespaces/nope', { token: admin })).status, 404);
    // local: allowed; host bits cleared in what is stored
    const near = (await srv.req('POST', T, { token: admin, body: { name: 'near', allowedCidrs: ['127.1.2.3/8'] } })).json;
    assert.deepEqual(near.allowedCidrs, ['127.0.0.0/8']);
    assert.equal((await useToken(srv, near.token)).status, 200);
    // PATCH: the very next request
    const p = await srv.req('PATCH', `${T}/${near.id}`, { token: admin, body: { allowedCidrs: ['192.168.0.0/16'] } });
    assert.equal(p.status, 200, p.text);
    assert.equal((await useToken(srv, near.token)).status, 403);
    assert.equal((await srv.req('PATCH', `${T}/${near.id}`, { token: admin, body: { allowedCidrs: null } })).json.allowedCidrs, null);
    assert.equal((await useToken(srv, near.token)).status, 200, 'null: from anywhere again');
    // validation: 400 naming the field
    for (const allowedCidrs of [[], ['10.0.0.0/33'], ['nope'], '10.0.0.0/8', [10], Array.from({ length: 17 }, (_, i) => `10.${i}.0.0/16`)]) {
      const b = await srv.req('POST', T, { token: admin, body: { name: 'bad', allowedCidrs } });
      assert.equal(b.status, 400, `${JSON.stringify(allowedCidrs)}: ${b.text}`);
      assert.match(b.json.error.message, /^allowedCidrs: /);
    }
    // CLI
    const c = cli(dataDir, ['token', 'create', '--name', 'cli-cidr', '--allowed-cidrs', '10.0.0.0/8,::1', '--json']);
    assert.equal(c.code, 0, c.stderr);
    assert.deepEqual(c.json.allowedCidrs, ['10.0.0.0/8', '::1/128']);
    assert.equal(cli(dataDir, ['token', 'update', c.json.id, '--allowed-cidrs', 'none', '--json']).json.allowedCidrs, null);
    assert.notEqual(cli(dataDir, ['token', 'update', c.json.id, '--allowed-cidrs', '10.0.0.0/99']).code, 0);
  } finally {
    await srv.stop();
  }
});

test('behind a trusted proxy: X-Forwarded-For walked from the right past trusted hops, IPv4 and IPv6', async () => {
  const { srv, admin } = await startWithAdmin({ config: 'server:\n  trusted_proxies: [127.0.0.1/32, 10.9.0.0/16]\n' });
  try {
    const t = (await srv.req('POST', T, { token: admin, body: { name: 'office', allowedCidrs: ['203.0.113.0/24', '2001:db8::/32'] } })).json;
    const cases = [
      ['203.0.113.7', 200], // the client as the proxy saw it
      ['198.51.100.1', 403], // someone else
      ['203.0.113.7, 10.9.1.1', 200], // via a second trusted proxy: skipped
      ['198.51.100.1, 203.0.113.7', 200], // whatever the client claimed left of its real address does not count
      ['203.0.113.7, 198.51.100.1', 403], // the first untrusted from the right is the client
      ['2001:db8::5', 200],
      ['2001:db9::5', 403],
      ['not-an-address', 403],
    ];
    for (const [v, want] of cases) {
      const r = await srv.req('GET', '/v1/config', xff(t.token, v));
      assert.equal(r.status, want, `X-Forwarded-For: ${v}: ${r.text}`);
    }
    const r = await srv.req('GET', '/v1/config', xff(t.token, '198.51.100.1'));
    assert.match(r.json.error.message, /not allowed from 198\.51\.100\.1/);
    assert.equal((await useToken(srv, t.token)).status, 403, 'no header: the proxy itself is the client');
    assert.equal((await useToken(srv, admin)).status, 200, 'a token without allowedCidrs is not affected');
  } finally {
    await srv.stop();
  }
});

test('a token limited to networks cannot mint a token free of them, nor change networks; other changes are fine', async () => {
  const { srv, admin } = await startWithAdmin();
  try {
    const lim = (await srv.req('POST', T, { token: admin, body: { name: 'ci-runner', allowedCidrs: ['127.0.0.0/8'] } })).json;
    const mint = await srv.req('POST', T, { token: lim.token, body: { name: 'escape' } });
    assert.equal(mint.status, 403, mint.text);
    assert.match(mint.json.error.message, /^allowedCidrs: a token limited to networks/);
    const widen = await srv.req('PATCH', `${T}/${lim.id}`, { token: lim.token, body: { allowedCidrs: null } });
    assert.equal(widen.status, 403, widen.text);
    const rename = await srv.req('PATCH', `${T}/${lim.id}`, { token: lim.token, body: { name: 'ci-runner-2' } });
    assert.equal(rename.status, 200, rename.text);
    assert.deepEqual(rename.json.allowedCidrs, ['127.0.0.0/8']);
    const list = (await srv.req('GET', T, { token: admin })).json.accessTokens.map((t) => t.name);
    assert.ok(!list.includes('escape'), 'nothing minted');
    // the admin (no allowedCidrs) may change them
    assert.equal((await srv.req('PATCH', `${T}/${lim.id}`, { token: admin, body: { allowedCidrs: null } })).status, 200);
  } finally {
    await srv.stop();
  }
});
