// catalog.credentials.mode: sts (DESIGN.md §7; issue 11 item 4, issue 16 item 5): vended credentials are an
// STS session of the table's own prefix, proven on a real S3 server that enforces session policies (SeaweedFS,
// started here on 127.0.0.1): credentials for table A read and write under A and are refused (403) under B;
// a token without catalog:write gets read-only ones; sessions are reused, not minted per load; a token that
// expires sooner than the shortest session gets none; a suspended token gets 401 on /credentials at once; the
// session token never reaches the log; STS down is a 503 for a load that asks for credentials, and nothing
// changes for one that does not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { tempDir } from './lib/harness.js';
import { startWithAdmin } from './lib/helpers.js';
import { startSeaweed } from './lib/s3.js';

const schema = { type: 'struct', 'schema-id': 0, fields: [{ id: 1, name: 'id', required: true, type: 'long' }] };
const VEND = { 'X-Iceberg-Access-Delegation': 'vended-credentials' };
const T = '/api/v1/access-tokens';

function stsConfig(s3, { stsEndpoint } = {}) {
  const f = path.join(tempDir('icegate-sts-secret-'), 'secret');
  fs.writeFileSync(f, `${s3.secretAccessKey}\n`, { mode: 0o600 });
  return `catalog:
  warehouses:
    - name: lake
      location: s3://lakehouse/tables
      s3:
        endpoint: ${s3.endpoint}
        path_style: true
        timeout_ms: 3000
        access_key_id: ${s3.accessKeyId}
        secret_access_key_file: ${f}
      credentials:
        mode: sts
  credentials:
    ttl: 900
${stsEndpoint ? `    sts:\n      endpoint: ${stsEndpoint}\n` : ''}`;
}

// A request to the S3 server signed with vended credentials (session token included).
function asVended(s3, cfg) {
  const opts = { accessKeyId: cfg['s3.access-key-id'], secretAccessKey: cfg['s3.secret-access-key'],
    headers: { 'x-amz-security-token': cfg['s3.session-token'] } };
  return {
    put: async (key) => (await s3.request('PUT', 'lakehouse', key, { ...opts, body: 'x' })).status,
    get: async (key) => (await s3.request('GET', 'lakehouse', key, opts)).status,
    list: async (prefix) => (await s3.request('GET', 'lakehouse', undefined, { ...opts, query: { 'list-type': '2', prefix } })).status,
  };
}

const keyOf = (loc) => loc.slice('s3://lakehouse/'.length);

test('sts: credentials for one table reach only its prefix, read-only without catalog:write, reused, never logged', async () => {
  const s3 = await startSeaweed({ buckets: ['lakehouse'] });
  const { srv, admin } = await startWithAdmin({ config: stsConfig(s3) });
  const req = (m, p, body, headers, token = admin) => srv.req(m, p, { token, body, headers });
  try {
    assert.equal((await req('POST', '/v1/namespaces', { namespace: ['db'] })).status, 200);
    const a = await req('POST', '/v1/namespaces/db/tables', { name: 'a', schema }, VEND);
    assert.equal(a.status, 200, a.text);
    const b = await req('POST', '/v1/namespaces/db/tables', { name: 'b', schema });
    assert.equal(b.status, 200, b.text);

    const v = await req('GET', '/v1/namespaces/db/tables/a', undefined, VEND);
    assert.equal(v.status, 200, v.text);
    assert.equal(v.headers.get('cache-control'), 'no-store');
    const [sc] = v.json['storage-credentials'];
    assert.equal(sc.prefix, 's3://lakehouse/tables/db/a', 'the credentials are for the table, not the warehouse');
    const cfg = sc.config;
    assert.deepEqual(v.json.config, cfg);
    assert.notEqual(cfg['s3.access-key-id'], s3.accessKeyId, 'a session, not the warehouse key');
    assert.ok(cfg['s3.session-token'].length > 20);
    const exp = Number(cfg['s3.session-token-expires-at-ms']);
    assert.ok(exp > Date.now() + 14 * 60e3 && exp <= Date.now() + 16 * 60e3, `expires at ${exp}: not the 15 min TTL`);
    assert.equal(cfg['s3.endpoint'], s3.endpoint);

    const inA = asVended(s3, cfg);
    const aMeta = keyOf(a.json['metadata-location']);
    assert.equal(await inA.get(aMeta), 200, "table A's own metadata file");
    assert.equal(await inA.put('tables/db/a/data/f1.parquet'), 200, 'writing data under A');
    assert.equal(await inA.list('tables/db/a/'), 200, 'listing A');
    assert.equal(await inA.get(keyOf(b.json['metadata-location'])), 403, "table B's file with A's credentials");
    assert.equal(await inA.put('tables/db/b/data/f1.parquet'), 403, 'writing under B with A');
    assert.equal(await inA.list('tables/db/b/'), 403, 'listing B with A');
    assert.equal(await inA.put('tables/db/a2/x'), 403, 'a2 is not inside a');

    // The create's answer carried a session for A too, and loads reuse it (one AssumeRole per half TTL).
    assert.equal(a.json['storage-credentials'][0].config['s3.access-key-id'], cfg['s3.access-key-id']);
    const again = await req('GET', '/v1/namespaces/db/tables/a', undefined, VEND);
    assert.equal(again.json.config['s3.access-key-id'], cfg['s3.access-key-id']);
    const fresh = await req('GET', '/v1/namespaces/db/tables/a/credentials');
    assert.equal(fresh.status, 200, fresh.text);
    assert.deepEqual(fresh.json['storage-credentials'].map((c) => c.prefix), ['s3://lakehouse/tables/db/a']);
    // Where a client refreshes the session (Iceberg's S3FileIO: the path against its catalog URI, with the
    // catalog's token as a Bearer), five minutes before it expires: that table's /credentials.
    assert.equal(cfg['client.refresh-credentials-endpoint'], '/v1/namespaces/db/tables/a/credentials');
    const refreshed = await fetch(`${srv.url}${cfg['client.refresh-credentials-endpoint']}`, { headers: { Authorization: `Bearer ${admin}` } });
    assert.equal(refreshed.status, 200);
    const rc = (await refreshed.json())['storage-credentials'];
    assert.equal(rc.length, 1);
    assert.ok(rc[0].config['s3.session-token'] && rc[0].config['s3.session-token-expires-at-ms']);
    // levels and odd names are path-encoded (%1F between levels, as the spec's routes want them)
    assert.equal((await req('POST', '/v1/namespaces', { namespace: ['db', 'raw events'] })).status, 200);
    const odd = await req('POST', '/v1/namespaces/db%1Fraw%20events/tables', { name: 't+1', schema }, VEND);
    assert.equal(odd.status, 200, odd.text);
    const oddEp = odd.json.config['client.refresh-credentials-endpoint'];
    assert.equal(oddEp, '/v1/namespaces/db%1Fraw%20events/tables/t%2B1/credentials');
    assert.equal((await fetch(`${srv.url}${oddEp}`, { headers: { Authorization: `Bearer ${admin}` } })).status, 200);
    const vb = await req('GET', '/v1/namespaces/db/tables/b', undefined, VEND);
    assert.notEqual(vb.json.config['s3.access-key-id'], cfg['s3.access-key-id'], "B's own session");
    assert.equal(await asVended(s3, vb.json.config).get(aMeta), 403);

    // A token without catalog:write: read-only credentials.
    const ro = (await req('POST', T, { name: 'reader', scopes: ['catalog:read'] })).json;
    await new Promise((r) => setTimeout(r, 300)); // the token table picks it up (tokens.poll_interval_ms)
    const rv = await req('GET', '/v1/namespaces/db/tables/a', undefined, VEND, ro.token);
    assert.equal(rv.status, 200, rv.text);
    const rIn = asVended(s3, rv.json.config);
    assert.equal(await rIn.get(aMeta), 200);
    assert.equal(await rIn.put('tables/db/a/data/f2.parquet'), 403, 'a reader may not write');

    // Suspended: 401 on /credentials at the next request.
    assert.equal((await req('POST', `${T}/${ro.id}/suspend`, { reason: 'leaked' })).status, 200);
    assert.equal((await req('GET', '/v1/namespaces/db/tables/a/credentials', undefined, undefined, ro.token)).status, 401);

    // Rotated out (no grace) and expired: 401 on /credentials at the next call, as every route.
    const rot = (await req('POST', T, { name: 'rotated' })).json;
    const dying = (await req('POST', T, { name: 'expiring', expiresAt: new Date(Date.now() + 1500).toISOString() })).json;
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await req('GET', '/v1/namespaces/db/tables/a/credentials', undefined, undefined, rot.token)).status, 200);
    assert.equal((await req('POST', `${T}/${rot.id}/rotate`, { gracePeriod: 0 })).status, 200);
    const rr = await req('GET', '/v1/namespaces/db/tables/a/credentials', undefined, undefined, rot.token);
    assert.equal(rr.status, 401, rr.text);
    assert.match(rr.json.error.message, /rotated/);
    await new Promise((r) => setTimeout(r, 1500));
    const er = await req('GET', '/v1/namespaces/db/tables/a/credentials', undefined, undefined, dying.token);
    assert.equal(er.status, 401, er.text);
    assert.match(er.json.error.message, /expired/);

    // A token that expires in 10 minutes: no 15-minute session can end in time, so none is handed out.
    const soon = (await req('POST', T, { name: 'soon', expiresAt: new Date(Date.now() + 10 * 60e3).toISOString() })).json;
    await new Promise((r) => setTimeout(r, 300));
    const sv = await req('GET', '/v1/namespaces/db/tables/a/credentials', undefined, undefined, soon.token);
    assert.equal(sv.status, 403, sv.text);
    assert.match(sv.json.error.message, /expires/);

    const log = srv.ownLog();
    for (const secret of [cfg['s3.session-token'], cfg['s3.secret-access-key'], s3.secretAccessKey])
      assert.ok(!log.includes(secret), 'a credential is in the server log');
  } finally {
    await srv.stop();
    await s3.stop();
  }
});

test('sts: an STS that does not answer is a 503 for a load that asks for credentials, nothing else changes', async () => {
  const s3 = await startSeaweed({ buckets: ['lakehouse'] });
  // STS at a port nobody listens on; S3 itself is fine.
  const { srv, admin } = await startWithAdmin({ config: stsConfig(s3, { stsEndpoint: 'http://127.0.0.1:9' }) });
  const req = (m, p, body, headers) => srv.req(m, p, { token: admin, body, headers });
  try {
    assert.equal((await req('POST', '/v1/namespaces', { namespace: ['db'] })).status, 200);
    assert.equal((await req('POST', '/v1/namespaces/db/tables', { name: 'a', schema })).status, 200);
    const v = await req('GET', '/v1/namespaces/db/tables/a', undefined, VEND);
    assert.equal(v.status, 503, v.text);
    assert.match(v.json.error.message, /cannot vend credentials: STS AssumeRole/);
    assert.equal((await req('GET', '/v1/namespaces/db/tables/a/credentials')).status, 503);
    const plain = await req('GET', '/v1/namespaces/db/tables/a');
    assert.equal(plain.status, 200, 'a load without the header does not need STS');
    assert.deepEqual(plain.json.config, {});
  } finally {
    await srv.stop();
    await s3.stop();
  }
});
