// Test harness: starts the real icegate binary on a port the kernel picks (`--listen 127.0.0.1:0`, the real
// port read from its "listening on" log line) with a temp data dir, talks HTTP to it, runs its CLI, and on stop
// checks it exited cleanly with no sanitizer report in its log.
//
// Temp dirs and servers belong to the test that made them (or, when made outside any test — in before/after
// hooks or at module level — to the test file).  After a passing test its servers are stopped (with the usual
// exit and sanitizer checks) and its temp dirs removed; after a failing one its servers are killed and its
// dirs kept, their paths printed, for a look at the data dir and server.log.  The file's own dirs go when the
// file's process exits, and only if every test in it passed.
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeEach, afterEach } from 'node:test';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '../../..');
export const BIN = process.env.ICEGATE_BIN || path.join(repoRoot, 'bin/icegate');
export const ADMIN_PASSWORD = 'admin-password-for-tests';
const testFile = path.basename(process.argv[1] || 'e2e');

// ---- what a test leaves behind ----

const fileScope = { name: `${testFile} (outside any test)`, dirs: [], servers: [] };
let scope = fileScope;

// One line for scripts/test.sh's summary: appended to $ICEGATE_E2E_REPORT when it is set (`<kind> <rest>`).
export function report(kind, text) {
  const file = process.env.ICEGATE_E2E_REPORT;
  if (file) fs.appendFileSync(file, `${kind} ${text}\n`);
}

function keep(s, why) {
  const dirs = s.dirs.filter((d) => fs.existsSync(d));
  if (!dirs.length) return;
  process.stderr.write(`# ${why}: temp dirs kept for inspection (server.log is in the data dir):\n` +
    dirs.map((d) => `#   ${d}\n`).join(''));
  for (const d of dirs) report('kept', `${d} ${testFile}: ${s.name}`);
}

function removeDirs(s) {
  for (const d of s.dirs) fs.rmSync(d, { recursive: true, force: true });
  s.dirs.length = 0;
}

beforeEach((t) => {
  // A test that ended without afterEach (one skipped from inside) hands what it made to the file.
  if (scope !== fileScope) {
    fileScope.dirs.push(...scope.dirs);
    fileScope.servers.push(...scope.servers);
  }
  scope = { name: t.name, dirs: [], servers: [] };
});

afterEach(async (t) => {
  const s = scope;
  scope = fileScope;
  const running = s.servers.filter((srv) => srv.running());
  if (!t.passed) {
    for (const srv of running) {
      srv.kill();
      await srv.exited;
    }
    keep(s, `test "${s.name}" failed`);
    return;
  }
  try {
    for (const srv of running) await srv.stop(); // a test that left its server running still gets the checks
  } catch (e) {
    keep(s, `test "${s.name}" left a server that did not stop cleanly`);
    throw e;
  }
  removeDirs(s);
});

process.on('exit', (code) => {
  for (const s of new Set([fileScope, scope])) {
    for (const srv of s.servers) if (srv.running()) srv.kill();
    if (code === 0) removeDirs(s);
    else keep(s, `${testFile} failed (exit ${code})`);
  }
});

// A fresh temp dir, owned by the current test (or by the file outside any test).
export function tempDir(prefix = 'icegate-e2e-') {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  scope.dirs.push(d);
  return d;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export { sleep };

// A port the kernel just handed out and released (for servers that want an explicit one: versitygw, nginx;
// a race is retried by the caller).
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

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

// E2E_STORE=postgres (scripts/test.sh's PostgreSQL pass; ICEGATE_E2E_PG_HOST: the socket dir of the
// server scripts/pgserver.sh started): every data dir gets a database of its own, made on first use, and every
// server and CLI call on that data dir is pointed at it, so tests that share a data dir share a store as they
// do on SQLite.  Elsewhere nothing (the store is the data dir's icegate.db).
export const onPostgres = process.env.E2E_STORE === 'postgres';
const pgDatabases = new Set();
export function storeEnv(dataDir) {
  if (!onPostgres || !dataDir) return {};
  const host = process.env.ICEGATE_E2E_PG_HOST;
  if (!host) throw new Error('E2E_STORE=postgres needs ICEGATE_E2E_PG_HOST (scripts/test.sh sets it)');
  const db = `e2e_${crypto.createHash('sha256').update(path.resolve(dataDir)).digest('hex').slice(0, 20)}`;
  if (!pgDatabases.has(db)) {
    const r = spawnSync('psql', ['-h', host, '-U', 'icegate', '-d', 'icegate', '-X', '-q', '-v', 'ON_ERROR_STOP=1',
      '-c', `CREATE DATABASE ${db}`], { encoding: 'utf8' });
    if (r.status !== 0 && !/already exists/.test(r.stderr)) throw new Error(`psql CREATE DATABASE ${db}: ${r.stderr}`);
    pgDatabases.add(db);
  }
  return { ICEGATE_STORAGE_DRIVER: 'postgres', ICEGATE_STORAGE_POSTGRES_DSN: `host=${host} dbname=${db} user=icegate` };
}

// Runs the CLI synchronously; returns {code, stdout, stderr, json}.
export function cli(dataDir, args, { env = {}, input } = {}) {
  const r = spawnSync(BIN, [...args, '--data-dir', dataDir],
    { env: binEnv({ ...storeEnv(dataDir), ...env }), encoding: 'utf8', input, timeout: 30000 });
  let json;
  try { json = JSON.parse(r.stdout); } catch { json = undefined; }
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, json };
}

// Every token secret this test process has seen (CLI output, API responses): no server log may contain one.
// Server.checkLog greps each log for all of them, so the whole e2e run's logs are checked (DESIGN.md §9).
export const seenSecrets = new Set();
const SECRET_RE = /igt_[0-9A-Za-z]{38}/g;
export function noteSecrets(text) {
  for (const m of String(text || '').matchAll(SECRET_RE)) seenSecrets.add(m[0]);
}

// Creates a token through the CLI (works with or without a running server); returns the JSON with .token.
export function createToken(dataDir, name, opts = []) {
  const r = cli(dataDir, ['token', 'create', '--name', name, ...opts, '--json']);
  if (r.code !== 0) throw new Error(`token create failed: ${r.stderr}`);
  noteSecrets(r.stdout);
  return r.json;
}

// `serve` run to completion, for start-ups that must fail: the same listen address and fresh data dir as a
// Server, stdio captured; returns spawnSync's result ({status, stdout, stderr}; status null if it was still
// running after `timeout` ms and got killed).
export function serveSync({ env = {}, args = [], timeout = 10000 } = {}) {
  const argv = ['serve', '--listen', '127.0.0.1:0', '--data-dir', tempDir(), ...args];
  return spawnSync(BIN, argv, { env: binEnv(env), encoding: 'utf8', timeout });
}

// The line src/server.c logs once the socket is open: "icegate <version> listening on http://<host>:<port> (...".
const LISTENING_RE = /icegate \S+ listening on http:\/\/(\S+):(\d+) \(/;

export class Server {
  // name: several servers on one data dir (the nodes of a cluster test) each need their own log and config.
  constructor({ dataDir, env = {}, args = [], config, host = '127.0.0.1', name = 'server' } = {}) {
    this.dataDir = dataDir || tempDir();
    this.host = host.includes(':') ? `[${host}]` : host; // '::1' → '[::1]' in URLs and --listen
    this.env = env;
    this.args = args;
    this.config = config; // YAML text written to a file and passed with --config
    this.name = name;
    this.logPath = path.join(this.dataDir, `${name}.log`);
  }

  // Starts `serve --listen <host>:0`, learns the port from the log, then waits for /healthz.
  async start() {
    const args = ['serve', '--listen', `${this.host}:0`, '--data-dir', this.dataDir, ...this.args];
    fs.mkdirSync(this.dataDir, { recursive: true });
    const config = process.env.E2E_WAREHOUSE === 's3' ? await this.onS3(this.config) : this.config;
    if (config !== undefined) {
      const cfgPath = path.join(this.dataDir, this.name === 'server' ? 'icegate.yaml' : `${this.name}.yaml`);
      fs.writeFileSync(cfgPath, config);
      args.push('--config', cfgPath);
    }
    // The log is appended to across restarts on one data dir: only what this process writes counts.
    this.logStart = fs.existsSync(this.logPath) ? fs.statSync(this.logPath).size : 0;
    this.log = fs.openSync(this.logPath, 'a');
    this.proc = spawn(BIN, args, { env: binEnv({ ...storeEnv(this.dataDir), ...this.env }), stdio: ['ignore', this.log, this.log] });
    this.exited = new Promise((resolve) => this.proc.on('exit', (code, signal) => resolve({ code, signal })));
    scope.servers.push(this);
    const deadline = Date.now() + 15000;
    for (;;) {
      if (this.proc.exitCode !== null || this.proc.signalCode !== null) {
        this.closeLog();
        throw new Error(`icegate exited at start:\n${this.readLog()}`);
      }
      if (this.port === undefined) {
        const m = LISTENING_RE.exec(this.ownLog());
        if (m) {
          this.port = Number(m[2]);
          if (!(this.port > 0)) throw new Error(`icegate reported port ${m[2]}:\n${this.readLog()}`);
          this.url = `http://${this.host}:${this.port}`;
        }
      }
      if (this.url) {
        try {
          const r = await fetch(`${this.url}/healthz`);
          if (r.status === 200) return this;
        } catch { /* not answering yet */ }
      }
      if (Date.now() > deadline) {
        throw new Error(`icegate did not ${this.url ? 'become healthy' : 'log its port'}:\n${this.readLog()}`);
      }
      await sleep(20);
    }
  }

  // E2E_WAREHOUSE=s3 (scripts/test.sh's second catalog pass): the config with its default warehouse moved to
  // S3 — the shared versitygw of this process, a prefix of its own per data dir (the same across restarts),
  // named `warehouse` as the file default is.  A config that names its own warehouse stays as it is.
  async onS3(config = '') {
    if (/warehouse/.test(config) || /^catalog:\s*\{/m.test(config) || this.env.ICEGATE_CATALOG_WAREHOUSE) {
      return config || undefined;
    }
    const { suiteS3 } = await import('./s3.js');
    const s3 = await suiteS3();
    this.s3 = s3;
    this.s3Prefix = path.basename(this.dataDir);
    const wh = `  warehouses:\n    - name: warehouse\n      location: s3://suite/${this.s3Prefix}\n      s3:\n` +
      `        endpoint: ${s3.endpoint}\n        path_style: true\n        access_key_id: ${s3.accessKeyId}\n` +
      `        secret_access_key: ${s3.secretAccessKey}\n`;
    if (/^catalog:[ \t]*$/m.test(config)) return config.replace(/^catalog:[ \t]*$/m, `catalog:\n${wh.replace(/\n$/, '')}`);
    return `${config}${config && !config.endsWith('\n') ? '\n' : ''}catalog:\n${wh}`;
  }

  // The default warehouse's files, whichever storage it is on (E2E_WAREHOUSE), by location: what a test checks
  // and what it does to them out of band.  A folder "exists" when something is inside it.
  get wh() {
    const s3 = this.s3, root = s3 ? `s3://suite/${this.s3Prefix}` : `file://${this.dataDir}/warehouse`;
    const local = (loc) => loc.replace(/^file:(\/\/)?/, '');
    const key = (loc) => loc.replace(/^s3:\/\/suite\//, '');
    if (!s3) {
      return {
        root, s3: false,
        exists: async (loc) => fs.existsSync(local(loc)),
        read: async (loc) => fs.readFileSync(local(loc)),
        list: async (loc) => fs.readdirSync(local(loc)),
        tree: async (loc) => (fs.existsSync(local(loc)) ? fs.readdirSync(local(loc), { recursive: true }) : [])
          .filter((f) => fs.statSync(path.join(local(loc), f)).isFile()),
        write: async (loc, body) => {
          fs.mkdirSync(path.dirname(local(loc)), { recursive: true });
          fs.writeFileSync(local(loc), body);
        },
        remove: async (loc) => fs.rmSync(local(loc)),
      };
    }
    return {
      root, s3: true,
      exists: async (loc) => (await s3.getObject('suite', key(loc))) !== null ||
        (await s3.listObjects('suite', `${key(loc)}/`)).length > 0,
      read: async (loc) => s3.getObject('suite', key(loc)),
      list: async (loc) => (await s3.listObjects('suite', `${key(loc)}/`)).map((k) => k.slice(key(loc).length + 1))
        .filter((k) => !k.includes('/')),
      tree: async (loc) => (await s3.listObjects('suite', `${key(loc)}/`)).map((k) => k.slice(key(loc).length + 1)),
      write: async (loc, body) => {
        const r = await s3.request('PUT', 'suite', key(loc), { body: Buffer.from(body) });
        if (r.status !== 200) throw new Error(`PUT ${loc}: ${r.status}`);
      },
      remove: async (loc) => {
        const r = await s3.request('DELETE', 'suite', key(loc));
        if (r.status !== 204 && r.status !== 200) throw new Error(`DELETE ${loc}: ${r.status}`);
      },
    };
  }

  readLog() {
    try { return fs.readFileSync(this.logPath, 'utf8'); } catch { return ''; }
  }

  // The part of the log this process wrote.
  ownLog() {
    try { return fs.readFileSync(this.logPath).subarray(this.logStart).toString('utf8'); } catch { return ''; }
  }

  running() {
    return !!this.proc && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  closeLog() {
    if (this.log !== undefined) fs.closeSync(this.log);
    this.log = undefined;
  }

  // For a failed test: no checks, just make sure nothing outlives it.
  kill() {
    if (this.running()) this.proc.kill('SIGKILL');
    this.closeLog();
  }

  // SIGTERM, wait, and fail on an unclean exit or a sanitizer report.
  async stop() {
    if (!this.running()) {
      this.closeLog();
      return this.checkLog();
    }
    this.proc.kill('SIGTERM');
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 20000);
    const { code, signal } = await this.exited;
    clearTimeout(t);
    this.closeLog();
    if (code !== 0) throw new Error(`icegate exited with ${code ?? signal}:\n${this.readLog()}`);
    return this.checkLog();
  }

  checkLog() {
    const log = this.readLog();
    if (/ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer|UndefinedBehaviorSanitizer/.test(log))
      throw new Error(`sanitizer report in server log:\n${log}`);
    for (const s of seenSecrets)
      if (log.includes(s)) throw new Error(`a token secret (${s.slice(0, 8)}...) is in the server log ${this.logPath}`);
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
    noteSecrets(text);
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
