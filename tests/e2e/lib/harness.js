// Test harness: starts the real icegate binary on a free port with a temp data dir, talks HTTP to it,
// runs its CLI, and on stop checks it exited cleanly with no sanitizer report in its log.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '../../..');
export const BIN = process.env.ICEGATE_BIN || path.join(repoRoot, 'bin/icegate');
export const ADMIN_PASSWORD = 'admin-password-for-tests';

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export function tempDir(prefix = 'icegate-e2e-') {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export { sleep };

// Environment for the binary: no inherited ICEGATE_* settings, the known admin password, and sanitizer
// options that make any report fatal.
export function binEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('ICEGATE_')) env[k] = v;
  env.ICEGATE_ADMIN_PASSWORD = ADMIN_PASSWORD;
  env.ASAN_OPTIONS = 'abort_on_error=0:detect_leaks=0:halt_on_error=1';
  env.UBSAN_OPTIONS = 'print_stacktrace=1:halt_on_error=1';
  return { ...env, ...extra };
}

// Runs the CLI synchronously; returns {code, stdout, stderr, json}.
export function cli(dataDir, args, { env = {}, input } = {}) {
  const r = spawnSync(BIN, [...args, '--data-dir', dataDir], { env: binEnv(env), encoding: 'utf8', input, timeout: 30000 });
  let json;
  try { json = JSON.parse(r.stdout); } catch { json = undefined; }
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, json };
}

// Creates a token through the CLI (works with or without a running server); returns the JSON with .token.
export function createToken(dataDir, name, opts = []) {
  const r = cli(dataDir, ['token', 'create', '--name', name, ...opts, '--json']);
  if (r.code !== 0) throw new Error(`token create failed: ${r.stderr}`);
  return r.json;
}

export class Server {
  constructor({ dataDir, env = {}, args = [], config, host = '127.0.0.1' } = {}) {
    this.dataDir = dataDir || tempDir();
    this.host = host.includes(':') ? `[${host}]` : host; // '::1' → '[::1]' in URLs and --listen
    this.env = env;
    this.args = args;
    this.config = config; // YAML text written to a file and passed with --config
    this.logPath = path.join(this.dataDir, 'server.log');
  }

  async start() {
    this.port = await freePort();
    this.url = `http://${this.host}:${this.port}`;
    const args = ['serve', '--listen', `${this.host}:${this.port}`, '--data-dir', this.dataDir, ...this.args];
    if (this.config !== undefined) {
      const cfgPath = path.join(this.dataDir, 'icegate.yaml');
      fs.mkdirSync(this.dataDir, { recursive: true });
      fs.writeFileSync(cfgPath, this.config);
      args.push('--config', cfgPath);
    }
    fs.mkdirSync(this.dataDir, { recursive: true });
    this.log = fs.openSync(this.logPath, 'a');
    this.proc = spawn(BIN, args, { env: binEnv(this.env), stdio: ['ignore', this.log, this.log] });
    this.exited = new Promise((resolve) => this.proc.on('exit', (code, signal) => resolve({ code, signal })));
    const deadline = Date.now() + 15000;
    for (;;) {
      if (this.proc.exitCode !== null) throw new Error(`icegate exited at start:\n${this.readLog()}`);
      try {
        const r = await fetch(`${this.url}/healthz`);
        if (r.status === 200) return this;
      } catch { /* not listening yet */ }
      if (Date.now() > deadline) throw new Error(`icegate did not become healthy:\n${this.readLog()}`);
      await sleep(50);
    }
  }

  readLog() {
    try { return fs.readFileSync(this.logPath, 'utf8'); } catch { return ''; }
  }

  // SIGTERM, wait, and fail on an unclean exit or a sanitizer report.
  async stop() {
    if (!this.proc || this.proc.exitCode !== null) return this.checkLog();
    this.proc.kill('SIGTERM');
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 20000);
    const { code, signal } = await this.exited;
    clearTimeout(t);
    fs.closeSync(this.log);
    if (code !== 0) throw new Error(`icegate exited with ${code ?? signal}:\n${this.readLog()}`);
    return this.checkLog();
  }

  checkLog() {
    const log = this.readLog();
    if (/ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer|UndefinedBehaviorSanitizer/.test(log))
      throw new Error(`sanitizer report in server log:\n${log}`);
    return log;
  }

  // fetch relative to the server; token goes in X-API-Token unless headers say otherwise.
  async req(method, p, { token, body, headers = {} } = {}) {
    const h = { ...headers };
    if (token) h['X-API-Token'] = token;
    let b = body;
    if (body !== undefined && typeof body !== 'string') {
      b = JSON.stringify(body);
      h['Content-Type'] = 'application/json';
    }
    let r;
    try {
      r = await fetch(`${this.url}${p}`, { method, headers: h, body: b });
    } catch (e) { // undici says only "fetch failed": name the request and the socket error
      throw new Error(`${method} ${p}: ${e.message} (${e.cause?.code || e.cause?.message || e.cause})`, { cause: e });
    }
    const text = await r.text();
    let json;
    try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
    return { status: r.status, headers: r.headers, text, json };
  }
}

// Asserts an Iceberg error body.
export function assertError(assert, res, status, typeRe, msgRe) {
  assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${res.text}`);
  assert.match(res.headers.get('content-type') || '', /^application\/json/);
  assert.ok(res.json && res.json.error, `no error body: ${res.text}`);
  assert.equal(res.json.error.code, status);
  if (typeRe) assert.match(res.json.error.type, typeRe);
  if (msgRe) assert.match(res.json.error.message, msgRe);
}
