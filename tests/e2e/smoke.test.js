// The smallest end-to-end check: start, authenticate, stop cleanly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Server, createToken, tempDir, assertError } from './lib/harness.js';

test('serve: /healthz without a token, /v1/config with one, clean SIGTERM', async () => {
  const dataDir = tempDir();
  const tok = createToken(dataDir, 'smoke');
  const srv = await new Server({ dataDir }).start();
  try {
    assert.equal((await srv.req('GET', '/healthz')).status, 200);
    const ok = await srv.req('GET', '/v1/config', { token: tok.token });
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.json.defaults, {});
    assert.deepEqual(ok.json.overrides, {});
    assertError(assert, await srv.req('GET', '/v1/config'), 401, /NotAuthorized/, /missing/);
  } finally {
    await srv.stop();
  }
});
