// Real servers for the scale-out tests: Redis (Debian's redis-server) and nginx as the load balancer in front of
// several icegate nodes.  Each runs as a child of the test process, on a temp dir of the test that started it
// (harness.js's tempDir(): removed after a pass, kept after a failure), never a system service:
//
//   const redis = await startRedis();        // redis.url: 'unix:/tmp/…/redis.sock' (TCP off: --port 0)
//   await redis.kill();  await redis.start(); // an outage, then the same socket again (empty: no persistence)
//   const lb = await startBalancer([nodeA.port, nodeB.port, nodeC.port]);  // lb.url: round robin over them
//   await lb.stop();  await redis.stop();
//
// Whatever a test started and did not stop is killed when the test process exits.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { tempDir, sleep, freePort } from './harness.js';

const REDIS_BIN = process.env.ICEGATE_REDIS_BIN || 'redis-server';
const NGINX_BIN = process.env.ICEGATE_NGINX_BIN || (fs.existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx');
const children = new Set();
process.on('exit', () => { for (const c of children) c.kill('SIGKILL'); });

function run(bin, args, logPath) {
  const log = fs.openSync(logPath, 'a');
  const proc = spawn(bin, args, { stdio: ['ignore', log, log] });
  fs.closeSync(log);
  proc.exited = new Promise((resolve) => proc.on('exit', (code, signal) => { children.delete(proc); resolve({ code, signal }); }));
  children.add(proc);
  return proc;
}

async function stopChild(proc, signal = 'SIGTERM') {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
  proc.kill(signal);
  const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
  await proc.exited;
  clearTimeout(t);
}

// One RESP command over the unix socket (the test's own view of Redis, e.g. to read a cell): the reply's
// first line.
export function redisCommand(socket, ...args) {
  return new Promise((resolve, reject) => {
    const c = net.createConnection(socket);
    let buf = '';
    c.setTimeout(2000, () => { c.destroy(); reject(new Error('redis: no answer')); });
    c.on('error', reject);
    c.on('data', (d) => {
      buf += d;
      if (buf.includes('\r\n')) { c.end(); resolve(buf); }
    });
    c.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(String(a))}\r\n${a}\r\n`).join('')}`);
  });
}

class Redis {
  constructor(dir) {
    this.dir = dir;
    this.socket = path.join(dir, 'redis.sock');
    this.url = `unix:${this.socket}`;
    this.logPath = path.join(dir, 'redis.log');
  }

  async start() {
    this.proc = run(REDIS_BIN, ['--port', '0', '--unixsocket', this.socket, '--unixsocketperm', '700',
      '--save', '', '--appendonly', 'no', '--dir', this.dir], this.logPath);
    const deadline = Date.now() + 10000;
    for (;;) {
      if (this.proc.exitCode !== null) throw new Error(`redis-server exited:\n${fs.readFileSync(this.logPath, 'utf8')}`);
      try {
        if ((await redisCommand(this.socket, 'PING')).startsWith('+PONG')) return this;
      } catch { /* not listening yet */ }
      if (Date.now() > deadline) throw new Error(`redis-server did not answer PING:\n${fs.readFileSync(this.logPath, 'utf8')}`);
      await sleep(20);
    }
  }

  command(...args) { return redisCommand(this.socket, ...args); }
  async kill() { await stopChild(this.proc, 'SIGKILL'); fs.rmSync(this.socket, { force: true }); }
  async stop() { await stopChild(this.proc); }
}

export async function startRedis() {
  return new Redis(tempDir('icegate-redis-')).start();
}

// nginx round robin over the given local ports, keep-alive both ways (BENCHMARKING.md's settings).
class Balancer {
  constructor(dir, ports) {
    this.dir = dir;
    this.ports = ports;
  }

  async start() {
    fs.mkdirSync(path.join(this.dir, 'logs'), { recursive: true });
    fs.chmodSync(this.dir, 0o755);
    for (let attempt = 0; ; attempt++) {
      this.port = await freePort();
      const conf = path.join(this.dir, 'nginx.conf');
      fs.writeFileSync(conf, `daemon off;
master_process on;
worker_processes 1;
pid ${this.dir}/nginx.pid;
error_log ${this.dir}/logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path ${this.dir}/body;
    proxy_temp_path ${this.dir}/proxy;
    fastcgi_temp_path ${this.dir}/fastcgi;
    uwsgi_temp_path ${this.dir}/uwsgi;
    scgi_temp_path ${this.dir}/scgi;
    upstream icegate {
${this.ports.map((p) => `        server 127.0.0.1:${p} max_fails=0;`).join('\n')}
        keepalive 32;
    }
    server {
        listen 127.0.0.1:${this.port};
        location / {
            proxy_pass http://icegate;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_next_upstream off;
        }
    }
}
`);
      const t = spawnSync(NGINX_BIN, ['-t', '-q', '-p', this.dir, '-e', `${this.dir}/logs/error.log`, '-c', conf]);
      if (t.status !== 0) throw new Error(`nginx rejected ${conf}: ${t.stderr}`);
      this.proc = run(NGINX_BIN, ['-p', this.dir, '-e', `${this.dir}/logs/error.log`, '-c', conf],
        path.join(this.dir, 'logs', 'stdout.log'));
      this.url = `http://127.0.0.1:${this.port}`;
      const deadline = Date.now() + 5000;
      while (Date.now() < deadline && this.proc.exitCode === null) {
        try {
          await fetch(`${this.url}/healthz`);
          return this;
        } catch { await sleep(20); }
      }
      await stopChild(this.proc);
      if (attempt === 2) throw new Error(`nginx did not start: ${fs.readFileSync(`${this.dir}/logs/error.log`, 'utf8')}`);
    }
  }

  async stop() { await stopChild(this.proc, 'SIGQUIT'); }
}


export async function startBalancer(ports) {
  return new Balancer(tempDir('icegate-lb-'), ports).start();
}

// Sends GET url with the token from `clients` loops for `ms`, and counts the answers by status.  Bounded in
// time; every request is sent inside the window.
export async function hammer(url, token, { ms, clients = 8 }) {
  const counts = {};
  const end = Date.now() + ms;
  await Promise.all(Array.from({ length: clients }, async () => {
    while (Date.now() < end) {
      let status;
      try {
        const r = await fetch(url, { headers: { 'X-API-Token': token } });
        await r.arrayBuffer();
        status = r.status;
      } catch { status = 'error'; }
      counts[status] = (counts[status] || 0) + 1;
    }
  }));
  return counts;
}
