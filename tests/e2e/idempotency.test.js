// Idempotency-Key on catalog mutations (Iceberg REST spec, components/parameters/idempotency-key).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Server, createToken, tempDir, assertError, cli } from './lib/harness.js';

const schema = { type: 'struct', 'schema-id': 0, fields: [{ id: 1, name: 'id', type: 'long', required: true }] };

test('a retried mutation with the same Idempotency-Key is answered from the first response, with no second effect', async () => {
  const dataDir = tempDir();
  const { token } = createToken(dataDir, 'idem');
  assert.equal(cli(dataDir, ['user', 'add', 'bob', '--password-stdin'], { input: 'bob-password-1\n' }).code, 0);
  const other = createToken(dataDir, 'bobs', ['--owner', 'bob']); // another caller
  const srv = await new Server({ dataDir }).start();
  try {
    const key = randomUUID();
    const h = { 'Idempotency-Key': key };
    const first = await srv.req('POST', '/v1/namespaces', { token, body: { namespace: ['db'] }, headers: h });
    assert.equal(first.status, 200);
    assert.equal(first.headers.get('idempotent-replayed'), null);
    // The retry: same answer, marked as a replay, and not a 409 AlreadyExists.
    const again = await srv.req('POST', '/v1/namespaces', { token, body: { namespace: ['db'] }, headers: h });
    assert.equal(again.status, 200);
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    assert.deepEqual(again.json, first.json);
    // Without the key the same request is a new operation: 409.
    assertError(assert, await srv.req('POST', '/v1/namespaces', { token, body: { namespace: ['db'] } }), 409, /AlreadyExists/);

    // A commit retried with its key is applied once: one snapshot, not two.
    assert.equal((await srv.req('POST', '/v1/namespaces/db/tables', { token, body: { name: 't', schema } })).status, 200);
    const commit = {
      requirements: [],
      updates: [
        { action: 'add-snapshot', snapshot: { 'snapshot-id': 1, 'sequence-number': 1, 'timestamp-ms': 1700000000000, 'manifest-list': 'file:///x/m.avro', summary: { operation: 'append' } } },
        { action: 'set-snapshot-ref', 'ref-name': 'main', type: 'branch', 'snapshot-id': 1 },
      ],
    };
    const ck = { 'Idempotency-Key': randomUUID() };
    const c1 = await srv.req('POST', '/v1/namespaces/db/tables/t', { token, body: commit, headers: ck });
    assert.equal(c1.status, 200, c1.text);
    const c2 = await srv.req('POST', '/v1/namespaces/db/tables/t', { token, body: commit, headers: ck });
    assert.equal(c2.status, 200, c2.text);
    assert.equal(c2.headers.get('idempotent-replayed'), 'true');
    const loaded = await srv.req('GET', '/v1/namespaces/db/tables/t', { token });
    assert.equal(loaded.json.metadata.snapshots.length, 1);
    assert.equal(loaded.json['metadata-location'], c1.json['metadata-location']);

    // A final 4xx is replayed too (deterministic terminal error).
    const nk = { 'Idempotency-Key': randomUUID() };
    assertError(assert, await srv.req('DELETE', '/v1/namespaces/nope', { token, headers: nk }), 404, /NoSuchNamespace/);
    const n2 = await srv.req('DELETE', '/v1/namespaces/nope', { token, headers: nk });
    assert.equal(n2.status, 404);
    assert.equal(n2.headers.get('idempotent-replayed'), 'true');

    // The key belongs to its request and its caller.
    assertError(assert, await srv.req('POST', '/v1/namespaces', { token, body: { namespace: ['db2'] }, headers: { 'Idempotency-Key': ck['Idempotency-Key'] } }), 400, /BadRequest/, /different request/);
    assertError(assert, await srv.req('POST', '/v1/namespaces', { token: other.token, body: { namespace: ['db'] }, headers: h }), 400, /BadRequest/, /different request/);
    assertError(assert, await srv.req('POST', '/v1/namespaces', { token, body: { namespace: ['db3'] }, headers: { 'Idempotency-Key': 'not-a-uuid' } }), 400, /BadRequest/, /UUID/);
    assert.equal((await srv.req('GET', '/v1/namespaces/db2', { token })).status, 404, 'a refused key changes nothing');
  } finally {
    await srv.stop();
  }
});

test('a replay survives a restart (keys are stored with the catalog)', async () => {
  const dataDir = tempDir();
  const { token } = createToken(dataDir, 'idem');
  let srv = await new Server({ dataDir }).start();
  const h = { 'Idempotency-Key': randomUUID() };
  try {
    assert.equal((await srv.req('POST', '/v1/namespaces', { token, body: { namespace: ['keep'] }, headers: h })).status, 200);
  } finally {
    await srv.stop();
  }
  srv = await new Server({ dataDir }).start();
  try {
    const r = await srv.req('POST', '/v1/namespaces', { token, body: { namespace: ['keep'] }, headers: h });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('idempotent-replayed'), 'true');
  } finally {
    await srv.stop();
  }
});
