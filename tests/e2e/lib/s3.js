// A real S3-compatible server for the tests: versitygw (Apache-2.0, pinned in scripts/s3server.sh, installed
// into build/s3/bin/versitygw by `scripts/deps.sh test`), run with its posix back end on 127.0.0.1, a free
// port, a temp dir and a random access key and secret per start.  It checks SigV4 signatures and payload
// hashes, and answers a PUT with `If-None-Match: *` on an existing key with 412.
//
//   const s3 = await startS3({ buckets: ['warehouse'] });
//   // s3.endpoint, s3.region, s3.accessKeyId, s3.secretAccessKey: what icegate's S3 warehouse is given
//   await s3.listObjects('warehouse', 'ns/tbl/')   → ['ns/tbl/metadata/00000-….metadata.json', …]
//   await s3.getObject('warehouse', key)           → Buffer, or null when there is no such key
//   await s3.request('PUT', 'warehouse', key, { body, headers })  → { status, headers, body }, signed
//   await s3.stop()
//
// The temp dir comes from harness.js's tempDir(), so it belongs to the test that made it: removed after a pass,
// kept (with versitygw's log in DIR/server.log, objects under DIR/data/<bucket>/<key>) after a failure.  A
// server started inside a test and still running at its end is stopped after it (killed if the test failed);
// one started outside any test (a before() hook) is killed when the test process exits.
//
// Pitfall: the posix back end keeps bucket ACLs and object ETags/checksums in user.* extended attributes, so
// the temp dir's filesystem must support them (ext4, xfs, btrfs, and tmpfs on Linux >= 6.6 do).
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeEach, afterEach } from 'node:test';
import { repoRoot, tempDir, sleep, freePort } from './harness.js';

export const S3_BIN = process.env.ICEGATE_S3_BIN || path.join(repoRoot, 'build/s3/bin/versitygw');
export const WEED_BIN = process.env.ICEGATE_WEED_BIN || path.join(repoRoot, 'build/s3/bin/weed');
const REGION = 'us-east-1';

// ---- who owns a running server (as in harness.js) ----

const fileServers = [];
let testServers = null; // the current test's servers, null outside any test

beforeEach(() => { testServers = []; });
afterEach(async (t) => {
  const mine = testServers || [];
  testServers = null;
  for (const s of mine) {
    if (!s.running()) continue;
    if (t.passed) await s.stop();
    else s.kill();
  }
});
process.on('exit', () => {
  for (const s of fileServers) s.kill();
});

// ---- SigV4 ----

const sha256hex = (data) => crypto.createHash('sha256').update(data).digest('hex');
const hmac = (key, data) => crypto.createHmac('sha256', key).update(data).digest();
// RFC 3986 encoding, as SigV4 wants it (encodeURIComponent leaves !'()* alone).
const uriEncode = (s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

// Signs a path-style request (headers "host", "x-amz-date", "x-amz-content-sha256" and every x-amz-* header
// the caller set) and sends it with fetch.  query: object of name → value (value '' for `?delete`).
async function signedFetch({ endpoint, accessKeyId, secretAccessKey }, method, bucket, key, opts = {}) {
  const { query = {}, headers = {}, body } = opts;
  const url = new URL(endpoint);
  const segs = [bucket, ...(key === undefined ? [] : String(key).split('/'))].filter((s, i) => i > 0 || s);
  const canonPath = '/' + segs.map(uriEncode).join('/');
  const canonQuery = Object.keys(query).sort()
    .map((k) => `${uriEncode(k)}=${uriEncode(String(query[k]))}`).join('&');
  const payload = body === undefined ? Buffer.alloc(0) : Buffer.from(body);
  const now = new Date().toISOString().replace(/[-:]|\.\d{3}/g, ''); // 20260101T000000Z
  const day = now.slice(0, 8);
  const h = {};
  for (const [k, v] of Object.entries(headers)) h[k.toLowerCase()] = String(v).trim();
  h.host = url.host;
  h['x-amz-date'] = now;
  h['x-amz-content-sha256'] = sha256hex(payload);
  const signed = Object.keys(h).filter((k) => k === 'host' || k.startsWith('x-amz-') || k === 'content-md5' ||
    k === 'content-type' || k.startsWith('if-')).sort();
  const canonReq = [method, canonPath, canonQuery, ...signed.map((k) => `${k}:${h[k]}`), '',
    signed.join(';'), h['x-amz-content-sha256']].join('\n');
  const scope = `${day}/${REGION}/s3/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', now, scope, sha256hex(canonReq)].join('\n');
  let k = hmac(`AWS4${secretAccessKey}`, day);
  for (const part of [REGION, 's3', 'aws4_request']) k = hmac(k, part);
  const sig = crypto.createHmac('sha256', k).update(toSign).digest('hex');
  h.authorization = `AWS4-HMAC-SHA256 Credential=${accessKeyId}/${scope}, SignedHeaders=${signed.join(';')}, Signature=${sig}`;
  delete h.host; // fetch sets it (to the same value)
  const target = `${url.origin}${canonPath}${canonQuery ? `?${canonQuery}` : ''}`;
  let r;
  try {
    r = await fetch(target, { method, headers: h, body: body === undefined ? undefined : payload });
  } catch (e) {
    throw new Error(`S3 ${method} ${canonPath}: ${e.message} (${e.cause?.code || e.cause?.message || e.cause})`, { cause: e });
  }
  return { status: r.status, headers: r.headers, body: Buffer.from(await r.arrayBuffer()) };
}

const xmlText = (s) => s.replace(/&#(\d+);/g, (_, n) => String.fromCharCode(Number(n)))
  .replace(/&#x([0-9a-f]+);/gi, (_, n) => String.fromCharCode(parseInt(n, 16)))
  .replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
const xmlTags = (xml, tag) => [...xml.matchAll(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, 'g'))].map((m) => m[1]);


const randomKey = (n, alphabet) => Array.from(crypto.randomBytes(n), (b) => alphabet[b % alphabet.length]).join('');

class S3Server {
  constructor({ dir, buckets }) {
    this.dir = dir;
    this.dataDir = path.join(dir, 'data');
    this.logPath = path.join(dir, 'server.log');
    this.region = REGION;
    this.buckets = buckets;
    this.accessKeyId = 'AK' + randomKey(18, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789');
    this.secretAccessKey = randomKey(40, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/');
  }

  // again: the same port, keys and data as before it was stopped (a store coming back), buckets kept.
  async start({ again = false } = {}) {
    fs.mkdirSync(this.dataDir, { recursive: true });
    for (let attempt = 1; ; attempt++) {
      if (!again) this.port = await freePort();
      this.endpoint = `http://127.0.0.1:${this.port}`;
      this.logStart = fs.existsSync(this.logPath) ? fs.statSync(this.logPath).size : 0;
      const log = fs.openSync(this.logPath, 'a');
      // Only what it needs in its environment: versitygw reads many VGW_* (and LOGFILE, WEBHOOK) variables.
      const env = { PATH: process.env.PATH || '/usr/bin:/bin', ROOT_ACCESS_KEY: this.accessKeyId,
        ROOT_SECRET_KEY: this.secretAccessKey };
      this.proc = spawn(S3_BIN, ['--port', `127.0.0.1:${this.port}`, '--region', REGION, 'posix', this.dataDir],
        { env, stdio: ['ignore', log, log] });
      fs.closeSync(log);
      this.proc.unref(); // a server left running must not keep the test process alive (the exit hook kills it)
      this.exited = new Promise((resolve) => this.proc.on('exit', (code, signal) => resolve({ code, signal })));
      fileServers.push(this); // killed at exit, whoever owns it
      if (testServers) testServers.push(this);
      if (await this.waitReady()) break;
      const log2 = this.ownLog();
      if (attempt < 5 && /address already in use/i.test(log2)) {
        if (again) await sleep(200); // the old process's socket going away
        continue;
      }
      this.kill();
      throw new Error(`versitygw did not start on ${this.endpoint}:\n${log2}`);
    }
    for (const b of again ? [] : this.buckets) {
      const r = await this.request('PUT', b);
      if (r.status !== 200) throw new Error(`CreateBucket ${b}: ${r.status} ${r.body}`);
    }
    return this;
  }

  // true once it answers HTTP (an unsigned GET / gets 403), false when it exited first.
  async waitReady() {
    const deadline = Date.now() + 15000;
    while (Date.now() < deadline) {
      if (!this.running()) return false;
      try {
        await fetch(`${this.endpoint}/`);
        return true;
      } catch { /* not listening yet */ }
      await sleep(20);
    }
    return false;
  }

  ownLog() {
    try { return fs.readFileSync(this.logPath).subarray(this.logStart).toString('utf8'); } catch { return ''; }
  }

  running() {
    return !!this.proc && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  kill() {
    if (this.running()) this.proc.kill('SIGKILL');
  }

  // SIGTERM, then SIGKILL after 10 s; resolves to { code, signal } once the process is gone.
  async stop() {
    if (!this.proc) return undefined;
    if (this.running()) {
      this.proc.kill('SIGTERM');
      const t = setTimeout(() => this.kill(), 10000);
      const res = await this.exited;
      clearTimeout(t);
      return res;
    }
    return this.exited;
  }

  // A signed request: { status, headers, body: Buffer }.  opts: { query, headers, body, secretAccessKey,
  // accessKeyId } (the last two to sign with other credentials).
  request(method, bucket, key, opts = {}) {
    const cred = { endpoint: this.endpoint, accessKeyId: opts.accessKeyId ?? this.accessKeyId,
      secretAccessKey: opts.secretAccessKey ?? this.secretAccessKey };
    return signedFetch(cred, method, bucket, key, opts);
  }

  // Every key under prefix (ListObjectsV2, all pages), in S3's (byte) order.
  async listObjects(bucket, prefix = '') {
    const keys = [];
    let token;
    for (;;) {
      const query = { 'list-type': '2', prefix };
      if (token) query['continuation-token'] = token;
      const r = await this.request('GET', bucket, undefined, { query });
      const xml = r.body.toString('utf8');
      if (r.status !== 200) throw new Error(`ListObjectsV2 ${bucket} ${prefix}: ${r.status} ${xml}`);
      for (const c of xmlTags(xml, 'Contents')) keys.push(xmlText(xmlTags(c, 'Key')[0]));
      if (!/<IsTruncated>true<\/IsTruncated>/.test(xml)) return keys;
      token = xmlText(xmlTags(xml, 'NextContinuationToken')[0] || '');
      if (!token) throw new Error(`ListObjectsV2 ${bucket}: truncated without a continuation token`);
    }
  }

  // The object's bytes, or null when there is no such key.
  async getObject(bucket, key) {
    const r = await this.request('GET', bucket, key);
    if (r.status === 404) return null;
    if (r.status !== 200) throw new Error(`GetObject ${bucket}/${key}: ${r.status} ${r.body}`);
    return r.body;
  }
}

// Starts versitygw with the buckets made (CreateBucket through the S3 API, so they carry their ACL like any
// other); returns the running server (see the top of this file for what it offers).
export async function startS3({ buckets = ['warehouse'] } = {}) {
  if (!fs.existsSync(S3_BIN)) {
    throw new Error(`${S3_BIN} is missing: run scripts/s3server.sh (scripts/deps.sh test runs it)`);
  }
  const srv = new S3Server({ dir: tempDir('icegate-s3-'), buckets: [...buckets] });
  return srv.start();
}

// SeaweedFS (`weed mini`: master, volume, filer and S3 gateway in one process, Apache-2.0, pinned in
// scripts/s3server.sh), for what versitygw lacks: STS AssumeRole with an inline session policy that the gateway
// enforces.  One identity (this.accessKeyId / this.secretAccessKey, an admin, allowed sts:AssumeRole) in an
// advanced IAM config with a random STS signing key; every port it opens is chosen here and bound to
// 127.0.0.1 (it opens about a dozen, some on fixed defaults unless each is set or turned off).  Ready in ~5 s.
// Its S3 endpoint is also its STS endpoint (POST / with Action=AssumeRole).
class SeaweedServer extends S3Server {
  async start() {
    fs.mkdirSync(this.dataDir, { recursive: true });
    const conf = path.join(this.dir, 'iam.json');
    fs.writeFileSync(conf, JSON.stringify({
      identities: [{ name: 'icegate', credentials: [{ accessKey: this.accessKeyId, secretKey: this.secretAccessKey }],
        actions: ['Admin', 'Read', 'Write', 'List', 'Tagging'] }],
      sts: { tokenDuration: '1h', maxSessionLength: '12h', issuer: 'icegate-tests',
        signingKey: crypto.randomBytes(32).toString('base64') },
      policy: { defaultEffect: 'Deny', storeType: 'memory' },
    }));
    for (let attempt = 1; ; attempt++) {
      const p = [];
      for (let i = 0; i < 10; i++) p.push(await freePort());
      this.port = p[6];
      this.endpoint = `http://127.0.0.1:${this.port}`;
      this.logStart = fs.existsSync(this.logPath) ? fs.statSync(this.logPath).size : 0;
      const log = fs.openSync(this.logPath, 'a');
      const args = ['mini', `-dir=${this.dataDir}`, '-ip=127.0.0.1', '-ip.bind=127.0.0.1',
        `-master.port=${p[0]}`, `-master.port.grpc=${p[1]}`, `-volume.port=${p[2]}`, `-volume.port.grpc=${p[3]}`,
        `-filer.port=${p[4]}`, `-filer.port.grpc=${p[5]}`, `-s3.port=${p[6]}`, `-s3.port.grpc=${p[7]}`,
        `-admin.port=${p[8]}`, `-admin.port.grpc=${p[9]}`, '-admin.port.legacy=0', '-s3.port.iceberg=0',
        '-s3.port.lance=0', '-webdav=false', `-s3.config=${conf}`, `-s3.iam.config=${conf}`, '-s3.iam.readOnly=false'];
      this.proc = spawn(WEED_BIN, args, { cwd: this.dir, env: { PATH: process.env.PATH || '/usr/bin:/bin', HOME: this.dir },
        stdio: ['ignore', log, log] });
      fs.closeSync(log);
      this.proc.unref();
      this.exited = new Promise((resolve) => this.proc.on('exit', (code, signal) => resolve({ code, signal })));
      fileServers.push(this);
      if (testServers) testServers.push(this);
      if (await this.waitStatus()) break;
      const log2 = this.ownLog();
      this.kill();
      if (attempt < 3 && /address already in use/i.test(log2)) continue;
      throw new Error(`SeaweedFS did not start on ${this.endpoint}:\n${log2.slice(-3000)}`);
    }
    for (const b of this.buckets) {
      const r = await this.request('PUT', b);
      if (r.status !== 200) throw new Error(`CreateBucket ${b}: ${r.status} ${r.body}`);
    }
    return this;
  }

  // true once GET /status answers 200 (the S3 gateway is up behind its filer), false when it exited first.
  async waitStatus() {
    const deadline = Date.now() + 60000;
    while (Date.now() < deadline) {
      if (!this.running()) return false;
      try {
        if ((await fetch(`${this.endpoint}/status`)).status === 200) return true;
      } catch { /* not listening yet */ }
      await sleep(100);
    }
    return false;
  }
}

// Starts SeaweedFS with the buckets made (names of 3 to 63 characters: it refuses shorter ones).
export async function startSeaweed({ buckets = ['warehouse'] } = {}) {
  if (!fs.existsSync(WEED_BIN)) {
    throw new Error(`${WEED_BIN} is missing: run scripts/s3server.sh (scripts/deps.sh test runs it)`);
  }
  const srv = new SeaweedServer({ dir: tempDir('icegate-weed-'), buckets: [...buckets] });
  return srv.start();
}

// The S3 server every icegate of this test process shares when the catalog suite runs on S3
// (E2E_WAREHOUSE=s3, harness.js): started at the first server's start, owned by no test, its temp dir
// removed and the process killed when the test process exits.
let suite = null;
export function suiteS3() {
  if (!suite) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'icegate-suite-s3-'));
    const srv = new S3Server({ dir, buckets: ['suite'] });
    const mine = testServers;
    testServers = null; // not the current test's: it outlives it
    suite = srv.start().finally(() => { testServers = mine; });
    process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  }
  return suite;
}
