// Start-up refusals that protect a running deployment: a port another icegate already listens on, and
// a store that is not up yet, a driver that does not exist.  Also the OAuth2 error shape of /v1/oauth/tokens.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import test from 'node:test';

import { BIN, Server, binEnv, tempDir, sleep } from './lib/harness.js';

// Runs `icegate serve` until it exits (it must, within 10 s) and returns {status, stderr}.
function serveMustExit(args, env = {}) {
  const d = tempDir();
  const r = spawnSync(BIN, ['serve', '--data-dir', d, ...args], { env: binEnv(env), encoding: 'utf8', timeout: 10000 });
  fs.rmSync(d, { recursive: true, force: true });
  return { status: r.status, signal: r.signal, stderr: r.stderr };
}

function writeConfig(yaml) {
  const f = path.join(tempDir(), 'icegate.yaml');
  fs.writeFileSync(f, yaml);
  return f;
}

test('a second icegate on a busy port stops with "address already in use" (no SO_REUSEPORT by default)', async () => {
  const first = await new Server().start();
  try {
    const r = serveMustExit(['--listen', `127.0.0.1:${first.port}`]);
    assert.equal(r.signal, null, `second server still running (killed by ${r.signal}): it shared the port`);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${first.port}: Address already in use`));
    assert.match(r.stderr, /server\.reuse_port/);
    // Opting in on the second process alone changes nothing: the first did not share its port.
    const r2 = serveMustExit(['--listen', `127.0.0.1:${first.port}`, '--config', writeConfig('server:\n  reuse_port: true\n')]);
    assert.equal(r2.status, 1, r2.stderr);
    assert.match(r2.stderr, /Address already in use/);
    // The first server is untouched.
    const h = await first.req('GET', '/healthz');
    assert.equal(h.status, 200);
  } finally {
    await first.stop();
  }
});

test('server.reuse_port: true on both lets two processes share a port', async () => {
  const cfgFile = writeConfig('server:\n  reuse_port: true\n');
  const a = await new Server({ args: ['--config', cfgFile] }).start();
  const d = tempDir();
  const b = spawn(BIN, ['serve', '--listen', `127.0.0.1:${a.port}`, '--data-dir', d, '--config', cfgFile],
    { env: binEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    let log = '';
    const exited = new Promise((resolve) => b.on('exit', (code) => resolve(code)));
    const listening = new Promise((resolve, reject) => {
      b.stderr.on('data', (c) => { log += c; if (/listening on http:\/\/127\.0\.0\.1:\d+/.test(log)) resolve(); });
      exited.then((code) => reject(new Error(`second server exited with ${code}: ${log}`)));
      setTimeout(() => reject(new Error(`second server did not start: ${log}`)), 10000);
    });
    await listening;
    assert.match(log, new RegExp(`listening on http://127\\.0\\.0\\.1:${a.port} `));
    b.kill('SIGTERM');
    assert.equal(await exited, 0, log);
  } finally {
    if (b.exitCode === null) b.kill('SIGKILL');
    fs.rmSync(d, { recursive: true, force: true });
    await a.stop();
  }
});

test('a PostgreSQL that is not up yet is waited for (nodes start in any order), never naming its password', async () => {
  const env = { ICEGATE_STORAGE_DRIVER: 'postgres',
    ICEGATE_STORAGE_POSTGRES_DSN: 'host=127.0.0.1 port=1 dbname=x user=u password=pg-secret-Xq7' };
  const d = tempDir();
  const p = spawn(BIN, ['serve', '--data-dir', d, '--listen', '127.0.0.1:0'], { env: binEnv(env), stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  p.stderr.on('data', (b) => { stderr += b; });
  const exited = new Promise((resolve) => p.on('exit', (code) => resolve(code)));
  for (let i = 0; i < 100 && !/trying again every second/.test(stderr); i++) await sleep(50);
  assert.match(stderr, /warn +store: cannot connect to PostgreSQL: .*; trying again every second for up to 60 s/);
  assert.equal(p.exitCode, null, 'still waiting, not exited');
  p.kill('SIGTERM'); // a stop ends the wait at once
  assert.equal(await exited, 1, stderr);
  assert.match(stderr, /received SIGTERM while waiting for the store: stopping/);
  assert.ok(!stderr.includes('pg-secret-Xq7'), stderr);
  // a driver that does not exist is a configuration error (exit 2) naming the key
  const bad = serveMustExit(['--listen', '127.0.0.1:0'], { ICEGATE_STORAGE_DRIVER: 'mysql' });
  assert.equal(bad.status, 2, bad.stderr);
  assert.match(bad.stderr, /storage\.driver/);
});

test('/v1/oauth/tokens answers the OAuth2 error shape telling how to send an access token', async () => {
  const srv = await new Server().start();
  try {
    const r = await srv.req('POST', '/v1/oauth/tokens', {
      body: 'grant_type=client_credentials&client_id=a&client_secret=b',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(r.status, 400);
    assert.match(r.headers.get('content-type'), /^application\/json/);
    assert.equal(r.json.error, 'unsupported_grant_type');
    assert.match(r.json.error_description, /token=<value>/);
    assert.match(r.json.error_description, /header\.X-API-Token=<value>/);
    assert.equal(Object.keys(r.json).sort().join(','), 'error,error_description');
  } finally {
    await srv.stop();
  }
});
