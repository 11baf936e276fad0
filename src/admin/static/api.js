// api.js — the console's only door to the server: same-origin fetch, JSON in and out, the CSRF header on every
// non-GET call, and errors turned into ApiError with the server's message (which starts with the field name for
// validation errors, e.g. "maxRps: must be ...").

let csrfToken = '';
let onUnauthorized = () => {};

export class ApiError extends Error {
  constructor(status, message, type) {
    super(message);
    this.status = status;
    this.type = type || '';
  }
  // "maxRps: must be ..." -> "maxRps"; null when the message names no field.
  get field() {
    const m = /^([A-Za-z][A-Za-z0-9]*): /.exec(this.message);
    return m ? m[1] : null;
  }
}

export function setCsrf(token) { csrfToken = token || ''; }
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

export async function request(method, path, body, { quiet401 = false } = {}) {
  const headers = { Accept: 'application/json' };
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (method !== 'GET' && method !== 'HEAD' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch {
    throw new ApiError(0, 'cannot reach the server: check that icegate is running');
  }
  if (res.status === 204) return null;
  const text = await res.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { json = null; }
  if (!res.ok) {
    const e = json && json.error;
    const err = new ApiError(res.status, (e && e.message) || `HTTP ${res.status}`, e && e.type);
    if (res.status === 401 && !quiet401) onUnauthorized(err);
    throw err;
  }
  return json;
}

export const api = {
  session: () => request('GET', '/api/v1/session', undefined, { quiet401: true }),
  login: (username, password) => request('POST', '/api/v1/session/login', { username, password }, { quiet401: true }),
  logout: () => request('POST', '/api/v1/session/logout', undefined, { quiet401: true }),
  settings: () => request('GET', '/api/v1/settings'),
  list: () => request('GET', '/api/v1/access-tokens'),
  create: (spec) => request('POST', '/api/v1/access-tokens', spec),
  update: (id, patch) => request('PATCH', `/api/v1/access-tokens/${encodeURIComponent(id)}`, patch),
  remove: (id) => request('DELETE', `/api/v1/access-tokens/${encodeURIComponent(id)}`),
  suspend: (id, reason) =>
    request('POST', `/api/v1/access-tokens/${encodeURIComponent(id)}/suspend`, reason ? { reason } : {}),
  activate: (id) => request('POST', `/api/v1/access-tokens/${encodeURIComponent(id)}/activate`),
  audit: (query) => request('GET', `/api/v1/audit?${new URLSearchParams(query)}`),
  cluster: () => request('GET', '/api/v1/cluster'),
  rotate: (id, gracePeriod) =>
    request('POST', `/api/v1/access-tokens/${encodeURIComponent(id)}/rotate`, { gracePeriod }),
  stats: (id, seconds) =>
    request('GET', `/api/v1/access-tokens/${encodeURIComponent(id)}/stats?seconds=${seconds}`),
};
