// Shared helpers for the token, CLI, secrets and server e2e tests (built on harness.js).
import assert from 'node:assert/strict';
import { Server, createToken, tempDir, sleep } from './harness.js';

export const TOKEN_RE = /^igt_[0-9A-Za-z]{38}$/;
export const ID_RE = /^tok_[0-9A-Za-z]{16}$/;
export const RFC3339_RE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;
export const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

// A data dir with an admin token made by the CLI, and a server on it.
export async function startWithAdmin({ env = {}, config, args } = {}) {
  const dataDir = tempDir();
  const admin = createToken(dataDir, 'admin-key');
  const srv = await new Server({ dataDir, env, config, args }).start();
  return { srv, dataDir, admin: admin.token, adminRec: admin };
}

// Same token with its last character changed: wrong checksum, everything else well-formed.
export function flipLast(tok) {
  const last = tok[tok.length - 1];
  const repl = BASE62[(BASE62.indexOf(last) + 1) % BASE62.length];
  return tok.slice(0, -1) + repl;
}

// A well-formed token that this server never issued (made by the CLI in another data dir).
export function foreignToken() {
  return createToken(tempDir(), 'elsewhere').token;
}

// The 32-character random part of a token.
export const randomPart = (tok) => tok.slice(4, 36);

// Polls fn() until it returns truthy or `ms` pass; returns {value, elapsed}. Fails the test on timeout.
export async function pollUntil(what, fn, ms = 1500, step = 20) {
  const t0 = Date.now();
  for (;;) {
    const value = await fn();
    if (value) return { value, elapsed: Date.now() - t0 };
    if (Date.now() - t0 > ms) assert.fail(`${what}: not seen within ${ms} ms`);
    await sleep(step);
  }
}

// The token list as the admin sees it, minus the fields every authenticated request moves
// (lastUsedAt/lastUsedIp of the admin's own token).
export async function snapshot(srv, admin) {
  const r = await srv.req('GET', '/api/v1/access-tokens', { token: admin });
  assert.equal(r.status, 200, r.text);
  return r.json.accessTokens.map(({ lastUsedAt, lastUsedIp, ...rest }) => rest);
}

export async function useToken(srv, token, headers) {
  return srv.req('GET', '/v1/config', headers ? { headers } : { token });
}

export function assert401(res, msgRe) {
  assert.equal(res.status, 401, `expected 401, got ${res.status}: ${res.text}`);
  assert.match(res.headers.get('www-authenticate') || '', /^Bearer\b/);
  assert.match(res.headers.get('content-type') || '', /^application\/json/);
  assert.equal(res.json?.error?.code, 401, res.text);
  assert.equal(res.json.error.type, 'NotAuthorizedException');
  if (msgRe) assert.match(res.json.error.message, msgRe);
}

// Milliseconds of an RFC 3339 time (or null).
export const ms = (s) => (s == null ? null : Date.parse(s));
