// The S3 test server itself (lib/s3.js, versitygw from scripts/s3server.sh): what the S3 warehouse tests rely
// on, checked once here so a failure there points at icegate, not at the server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startS3 } from './lib/s3.js';

const md5b64 = (s) => crypto.createHash('md5').update(s).digest('base64');

test('s3 server: buckets made, conditional PUT, GET, SigV4 checked, ListObjectsV2, DeleteObjects, stop', async () => {
  const s3 = await startS3({ buckets: ['warehouse', 'other'] });
  try {
    assert.match(s3.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(s3.region, 'us-east-1');
    assert.deepEqual(s3.buckets, ['warehouse', 'other']);

    const list = await s3.request('GET', '');
    assert.equal(list.status, 200, list.body.toString());
    for (const b of ['warehouse', 'other']) assert.match(list.body.toString(), new RegExp(`<Name>${b}</Name>`));

    const key = 'ns/tbl/metadata/00000-a b+c.metadata.json';
    const body = '{"format-version":2}';
    const put = () => s3.request('PUT', 'warehouse', key, { body, headers: { 'If-None-Match': '*' } });
    const first = await put();
    assert.equal(first.status, 200, first.body.toString());
    const second = await put();
    assert.equal(second.status, 412, second.body.toString());
    assert.match(second.body.toString(), /<Code>PreconditionFailed<\/Code>/);

    assert.equal((await s3.getObject('warehouse', key)).toString(), body);
    assert.equal(await s3.getObject('warehouse', 'ns/tbl/missing'), null);

    // The signature is checked: a wrong secret, an unknown key and no signature at all are refused.
    const wrong = await s3.request('GET', 'warehouse', key, { secretAccessKey: s3.secretAccessKey + 'x' });
    assert.equal(wrong.status, 403);
    assert.match(wrong.body.toString(), /<Code>SignatureDoesNotMatch<\/Code>/);
    // An unknown access key: versitygw 1.8.0 answers 404 XAdminUserNotFound where AWS says 403 InvalidAccessKeyId.
    const stranger = await s3.request('GET', 'warehouse', key, { accessKeyId: 'AKNOBODY' });
    assert.ok([403, 404].includes(stranger.status), `unknown key got ${stranger.status}`);
    assert.match(stranger.body.toString(), /<Code>(XAdminUserNotFound|InvalidAccessKeyId)<\/Code>/);
    assert.equal((await fetch(`${s3.endpoint}/warehouse/ns/tbl/metadata/`)).status, 403);

    await s3.request('PUT', 'warehouse', 'ns/tbl/data/f1.parquet', { body: 'x' });
    await s3.request('PUT', 'warehouse', 'ns/other/x', { body: 'y' });
    assert.deepEqual(await s3.listObjects('warehouse', 'ns/tbl/'), ['ns/tbl/data/f1.parquet', key]);
    assert.deepEqual(await s3.listObjects('other'), []);

    // DeleteObjects (POST ?delete) wants Content-MD5 (or an x-amz-checksum-*) header.
    const del = '<Delete><Object><Key>ns/tbl/data/f1.parquet</Key></Object><Object><Key>ns/other/x</Key></Object></Delete>';
    const noMd5 = await s3.request('POST', 'warehouse', undefined, { query: { delete: '' }, body: del });
    assert.equal(noMd5.status, 400);
    const deleted = await s3.request('POST', 'warehouse', undefined,
      { query: { delete: '' }, body: del, headers: { 'Content-MD5': md5b64(del) } });
    assert.equal(deleted.status, 200, deleted.body.toString());
    assert.equal(deleted.body.toString().match(/<Deleted>/g).length, 2);
    assert.deepEqual(await s3.listObjects('warehouse'), [key]);
  } finally {
    const { code, signal } = await s3.stop(); // SIGTERM: versitygw shuts down and exits 0
    assert.equal(code, 0, `versitygw exited with ${code ?? signal}`);
  }
  assert.equal(s3.running(), false);
  assert.throws(() => process.kill(s3.proc.pid, 0), { code: 'ESRCH' }, 'versitygw process still exists');
  await assert.rejects(fetch(`${s3.endpoint}/`), 'the port still answers after stop()');
});

test('s3 server: each start has its own port, keys and dir; the old keys do not work on the new server', async () => {
  const a = await startS3();
  const b = await startS3({ buckets: [] });
  try {
    assert.notEqual(a.endpoint, b.endpoint);
    assert.notEqual(a.accessKeyId, b.accessKeyId);
    assert.notEqual(a.dir, b.dir);
    assert.deepEqual(b.buckets, []);
    const cross = await b.request('GET', '', undefined, { accessKeyId: a.accessKeyId, secretAccessKey: a.secretAccessKey });
    assert.ok([403, 404].includes(cross.status), `a's key on b got ${cross.status}`); // 404: see the test above
    assert.equal((await b.request('GET', 'warehouse', undefined, { query: { 'list-type': '2' } })).status, 404);
  } finally {
    await a.stop();
    await b.stop();
  }
});

test('s3 server: without build/s3/bin/versitygw, startS3 throws and says how to install it', () => {
  const code = "import('./lib/s3.js').then((m) => m.startS3()).then(() => process.exit(3), (e) => { console.log(e.message); process.exit(0); })";
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code],
    { cwd: path.dirname(fileURLToPath(import.meta.url)), env: { ...process.env, ICEGATE_S3_BIN: '/nonexistent/versitygw' }, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /\/nonexistent\/versitygw is missing: run scripts\/s3server\.sh/);
});
