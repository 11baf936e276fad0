// Hardening item 6, Slowloris: server.connection_timeout counts idle time only, so a client that sends a byte
// before each timeout would keep a connection for ever.  server.request_timeout is a deadline over the whole
// request — the request line, the headers and the body — enforced by a sweeper that cuts the connection; the
// server's own time (a handler running, a request held to its rate-limit slot, a keep-alive connection
// between requests) never counts against it.  The times asserted are bounds with a wide margin, never exact.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import test from 'node:test';

import { BIN, Server, binEnv, createToken, sleep, tempDir } from './lib/harness.js';

const SHORT = 'server:\n  connection_timeout: 2\n  request_timeout: 3\n';

// Connects, writes `first`, then one byte of `trickle` every `everyMs` (never idle long enough for the idle
// timeout); resolves with the ms until the server closed the connection, or `giveUpMs` if it never did.
function trickle(port, first, trickleText, everyMs, giveUpMs) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const s = net.connect(port, '127.0.0.1', () => s.write(first));
    let i = 0, data = '';
    const tick = setInterval(() => { if (!s.destroyed) s.write(trickleText[i++ % trickleText.length]); }, everyMs);
    const stop = setTimeout(() => { s.destroy(); finish(giveUpMs); }, giveUpMs);
    let done = false;
    const finish = (ms) => {
      if (done) return;
      done = true;
      clearInterval(tick);
      clearTimeout(stop);
      resolve({ ms, data });
    };
    s.on('data', (d) => { data += d; });
    s.on('close', () => finish(Date.now() - t0));
    s.on('error', () => {});
  });
}

test('server.request_timeout covers the headers: a client trickling header bytes is cut, not kept', async () => {
  const srv = await new Server({ config: SHORT }).start();
  try {
    // A byte every 0.5 s, against an idle timeout of 2 s: only a deadline over the whole request stops these.
    const [headers, requestLine] = await Promise.all([
      trickle(srv.port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n', 'X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaa', 500, 20000),
      trickle(srv.port, '', 'GET /healthz?aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 500, 20000),
    ]);
    // The headers are due 3 s after the request line; the request line 2 s (idle) + 3 s after the connect.
    assert.ok(headers.ms >= 2000 && headers.ms < 9000, `headers trickle closed after ${headers.ms} ms`);
    assert.ok(requestLine.ms >= 4000 && requestLine.ms < 12000, `request-line trickle closed after ${requestLine.ms} ms`);
    assert.equal(headers.data, '', 'cut without an answer');
    assert.equal((await srv.req('GET', '/healthz')).status, 200);
    await sleep(1300); // the warn line is written at most once a second
    const log = srv.ownLog();
    assert.match(log, /longer than server\.request_timeout \(3 s\) to send a request: closed/);
    assert.match(log, /the last from 127\.0\.0\.0\/24 \(loopback\)/);
  } finally {
    await srv.stop();
  }
});

test('a body that stops arriving is cut at the deadline, without waiting for another byte or the idle timeout', async () => {
  const srv = await new Server({ config: 'server:\n  connection_timeout: 60\n  request_timeout: 1\n' }).start();
  try {
    const t0 = Date.now();
    const ms = await new Promise((resolve) => {
      const s = net.connect(srv.port, '127.0.0.1',
        () => s.write('POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789'));
      const stop = setTimeout(() => { s.destroy(); resolve(20000); }, 20000);
      s.on('close', () => { clearTimeout(stop); resolve(Date.now() - t0); });
      s.on('error', () => {});
    });
    assert.ok(ms >= 800 && ms < 6000, `a stalled body was cut after ${ms} ms (idle timeout 60 s)`);
    await sleep(1300);
    assert.match(srv.ownLog(), /longer than server\.request_timeout \(1 s\) to send a request: closed \(0 before the request line, 0 in the headers, 1 in the body\)/);
  } finally {
    await srv.stop();
  }
});

test('a keep-alive connection is never cut for its age: idle less than connection_timeout, then a request, again and again', async () => {
  const srv = await new Server({ config: SHORT }).start();
  const s = net.connect(srv.port, '127.0.0.1');
  try {
    await new Promise((resolve) => s.on('connect', resolve));
    let buf = '';
    s.on('data', (d) => { buf += d; });
    let closed = false;
    s.on('close', () => { closed = true; });
    // 5 requests 1.5 s apart: 7.5 s on one connection, well past request_timeout (3 s) and connection_timeout
    for (let i = 0; i < 5; i++) {
      await sleep(1500);
      assert.ok(!closed, `the connection was closed before request ${i + 1}`);
      s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
      for (let j = 0; j < 100 && (buf.match(/HTTP\/1\.1 200 /g) || []).length <= i; j++) await sleep(20);
      assert.equal((buf.match(/HTTP\/1\.1 200 /g) || []).length, i + 1, `request ${i + 1} answered: ${buf}`);
    }
    assert.ok(!/longer than server\.request_timeout/.test(srv.ownLog()));
  } finally {
    s.destroy();
    await srv.stop();
  }
});

test('a request held to its rate-limit slot longer than request_timeout is served, not cut', async () => {
  const dataDir = tempDir();
  const tok = createToken(dataDir, 'slow', ['--max-rps', '0.4', '--burst', '1']); // a slot every 2.5 s
  const srv = await new Server({ dataDir,
    config: 'server:\n  request_timeout: 1\n  connection_timeout: 10\nratelimiter:\n  max_delay_ms: 5000\n' }).start();
  try {
    const get = () => fetch(`${srv.url}/v1/config`, { headers: { 'X-API-Token': tok.token } });
    assert.equal((await get()).status, 200);
    const t0 = Date.now();
    const held = await get();
    const ms = Date.now() - t0;
    assert.equal(held.status, 200, await held.text());
    assert.ok(ms >= 1500, `held ${ms} ms: longer than request_timeout (1 s)`);
    await sleep(1300);
    assert.ok(!/longer than server\.request_timeout/.test(srv.ownLog()));
  } finally {
    await srv.stop();
  }
});

// The default server.max_connections (4096) needs more descriptors than the usual soft limit of 1024.
test('RLIMIT_NOFILE: raised to fit server.max_connections, or the connections capped below it with a warning', async () => {
  // Runs `serve` after the shell command `limit`, under `prefix`; resolves with its output up to the listening line.
  const serve = (prefix, limit) => new Promise((resolve) => {
    const script = `${limit}; exec "$0" serve --listen 127.0.0.1:0 --data-dir "$1"`;
    const argv = [...prefix, 'sh', '-c', script, BIN, tempDir()];
    const p = spawn(argv[0], argv.slice(1), { env: binEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const grab = (d) => {
      out += d;
      if (/listening on/.test(out)) p.kill('SIGTERM');
    };
    p.stdout.on('data', grab);
    p.stderr.on('data', grab);
    const t = setTimeout(() => p.kill('SIGKILL'), 15000);
    p.on('exit', () => { clearTimeout(t); resolve(out); });
  });
  // A soft limit of 300 under a higher hard one: raised, silently.
  const raised = await serve([], 'ulimit -Sn 300');
  assert.match(raised, /listening on/);
  assert.doesNotMatch(raised, /RLIMIT_NOFILE/);
  // A hard limit of 300 that cannot be raised (root keeps the power to raise it unless CAP_SYS_RESOURCE goes).
  const noCaps = process.getuid() === 0 ? ['setpriv', '--inh-caps=-all', '--bounding-set=-all'] : [];
  const capped = await serve(noCaps, 'ulimit -n 300');
  assert.match(capped, /server\.max_connections is 4096 but the open-file limit \(RLIMIT_NOFILE\) is 300 and cannot be raised: serving at most \d+ connections/);
  assert.match(capped, /listening on/);
});
