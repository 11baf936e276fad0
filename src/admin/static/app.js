// app.js — the icegate console: login, Settings → Access Tokens (list, generate, suspend/activate, edit Max RPS,
// delete, live activity, a banner for tokens that expire soon), Settings → Audit (audit.js), General. Plain DOM; data is only ever written with textContent or attributes, never as HTML.

import { api, ApiError, setCsrf, setUnauthorizedHandler } from './api.js';
import * as fmt from './format.js';
import { ActivityChart } from './chart.js';
import { renderExpiryBanner, showAudit, wireAudit } from './audit.js';
import { showCluster } from './cluster.js';
import { snippets } from './snippets.js';

const $ = (id) => document.getElementById(id);
const LIST_REFRESH_MS = 15000;

const state = {
  session: null, // {user, role, csrfToken, expiresAt, rateLimiterEnabled}
  settings: null, // {rateLimiterEnabled, version, ...}
  tokens: [],
  loaded: false,
  expanded: new Set(), // token ids whose activity chart is open
  charts: new Map(), // id -> ActivityChart
  current: null, // the token a dialog is acting on
  refreshTimer: null,
  noticeTimer: null,
};

// ------------------------------------------------------------------ small DOM helpers

function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

const isAdmin = () => state.session && state.session.role === 'admin';
// A member may lift only what a member imposed: an admin's suspension or Max RPS (or one from before icegate
// recorded who set it, null) is the server's 403; the console says so up front instead of offering the button.
const lockedForMe = (setBy) => !isAdmin() && setBy !== 'member';
const suspendLock = (t) => (t.status === 'suspended' && lockedForMe(t.suspendedBy && t.suspendedBy.role)
  ? (t.suspendedBy ? 'Suspended by an admin: only an admin can activate it.'
    : 'Suspended before icegate recorded by whom: only an admin can activate it.')
  : null);
const rpsLock = (t) => (t.maxRps != null && lockedForMe(t.maxRpsSetBy)
  ? (t.maxRpsSetBy ? 'Max RPS set by an admin: only an admin can change or remove it.'
    : 'Max RPS set before icegate recorded by whom: only an admin can change or remove it.')
  : null);
const rateLimiterOn = () => {
  if (state.settings && typeof state.settings.rateLimiterEnabled === 'boolean') return state.settings.rateLimiterEnabled;
  return !state.session || state.session.rateLimiterEnabled !== false;
};

function showFieldError(input, errEl, message) {
  errEl.textContent = message;
  errEl.hidden = false;
  input.setAttribute('aria-invalid', 'true');
}

function clearErrors(form) {
  for (const e of form.querySelectorAll('.field-error, .form-error')) {
    e.textContent = '';
    e.hidden = true;
  }
  for (const i of form.querySelectorAll('[aria-invalid]')) i.removeAttribute('aria-invalid');
}

function setBusy(button, busy, busyText) {
  if (busy) {
    button.dataset.label = button.textContent;
    button.textContent = busyText;
    button.disabled = true;
  } else {
    if (button.dataset.label) button.textContent = button.dataset.label;
    button.disabled = false;
  }
}

function notice(message) {
  const n = $('notice');
  n.textContent = message;
  n.hidden = false;
  clearTimeout(state.noticeTimer);
  state.noticeTimer = setTimeout(() => { n.hidden = true; }, 6000);
}

// Parses an optional positive number typed by a person; returns {value} (null when empty) or {error}.
function parseRps(text) {
  const t = text.trim();
  if (t === '') return { value: null };
  if (!/^(\d+\.?\d*|\.\d+)$/.test(t)) return { error: 'Max RPS must be a number, such as 10 or 0.5.' };
  const v = Number(t);
  if (!(v > 0)) return { error: 'Max RPS must be greater than 0. Leave it empty for unlimited.' };
  return { value: v };
}

// ------------------------------------------------------------------ views: boot, login, app

function showLogin(message) {
  stopAll();
  state.session = null;
  state.settings = null;
  state.tokens = [];
  state.loaded = false;
  setCsrf('');
  for (const d of document.querySelectorAll('dialog[open]')) d.close();
  $('boot').hidden = true;
  $('app-view').hidden = true;
  $('login-view').hidden = false;
  $('login-password').value = '';
  const err = $('login-error');
  err.textContent = message || '';
  err.hidden = !message;
  $('login-username').focus();
}

function enterApp(session) {
  state.session = session;
  setCsrf(session.csrfToken);
  $('boot').hidden = true;
  $('login-view').hidden = true;
  $('app-view').hidden = false;
  $('user-name').textContent = session.user;
  $('user-role').textContent = session.role;
  $('gen-user').textContent = session.user;
  $('gen-role').textContent = session.role;
  $('gen-expires').textContent = fmt.dateTime(session.expiresAt);
  renderGeneral();
  selectTab('tokens', false);
  renderList();
  loadSettings();
  loadList();
  clearInterval(state.refreshTimer);
  state.refreshTimer = setInterval(() => {
    if (document.visibilityState === 'visible' && !document.querySelector('dialog[open]')) loadList();
  }, LIST_REFRESH_MS);
}

function stopAll() {
  clearInterval(state.refreshTimer);
  state.refreshTimer = null;
  for (const c of state.charts.values()) c.stop();
  state.charts.clear();
  state.expanded.clear();
}

async function loadSettings() {
  try {
    state.settings = await api.settings();
  } catch (e) {
    if (e.status === 401) return;
    state.settings = null;
  }
  renderGeneral();
  renderList();
}

function renderGeneral() {
  const on = rateLimiterOn();
  $('gen-rl').textContent = on ? 'enabled: Max RPS is enforced' : 'disabled: Max RPS is stored but not enforced';
  $('gen-version').textContent = (state.settings && state.settings.version) || '—';
  $('rl-banner').hidden = on;
}

async function loadList() {
  try {
    const r = await api.list();
    state.tokens = r.accessTokens || [];
    state.loaded = true;
    $('list-error').hidden = true;
  } catch (e) {
    if (e.status === 401) return;
    $('list-error').textContent = `Could not load access tokens: ${e.message}`;
    $('list-error').hidden = false;
  }
  renderList();
}

// Replaces one token in the list with the server's new copy (or removes it) and redraws.
function upsert(token) {
  const i = state.tokens.findIndex((t) => t.id === token.id);
  if (i >= 0) state.tokens[i] = token;
  else state.tokens.push(token);
  const c = state.charts.get(token.id);
  if (c) c.setToken(token);
  renderList();
}

function forget(id) {
  state.tokens = state.tokens.filter((t) => t.id !== id);
  const c = state.charts.get(id);
  if (c) c.stop();
  state.charts.delete(id);
  state.expanded.delete(id);
  renderList();
}

// ------------------------------------------------------------------ the token table

function columns() {
  const cols = ['Name', 'Status', 'Max RPS', 'Expires', 'Last used', 'Created', 'Actions'];
  if (isAdmin()) cols.splice(1, 0, 'Owner');
  return cols;
}

function statusCell(t) {
  const label = { active: 'Active', suspended: 'Suspended', expired: 'Expired' }[t.status] || t.status;
  const td = el('td', { class: 'cell-status' }, el('span', { class: `badge badge-${t.status}`, text: label }));
  if (t.status === 'suspended') {
    const since = t.suspendedAt ? `since ${fmt.relative(t.suspendedAt)}` : '';
    td.append(el('div', { class: 'sub', text: since, title: t.suspendedAt ? fmt.dateTime(t.suspendedAt) : null }));
    if (t.suspendedBy) {
      const who = t.suspendedBy.user ? `${t.suspendedBy.role} ${t.suspendedBy.user}` : t.suspendedBy.role;
      td.append(el('div', { class: 'sub suspended-by', text: `by ${who}` }));
    }
    if (t.suspendReason) {
      td.append(el('div', { class: 'sub reason', text: `Reason: ${t.suspendReason}`, title: t.suspendReason }));
    }
    const lock = suspendLock(t);
    if (lock) td.append(el('div', { class: 'sub lock-note', text: lock }));
  }
  return td;
}

function rpsCell(t) {
  const td = el('td', { class: 'cell-rps' });
  if (t.maxRps == null) {
    td.append(el('span', { class: 'muted', text: 'Unlimited' }));
    return td;
  }
  td.append(el('span', { class: 'rps-value', text: `${fmt.num(t.maxRps)}/s` }));
  td.append(el('div', { class: 'sub', text: `burst ${fmt.num(t.burst)}` }));
  if (t.maxRpsSetBy) td.append(el('div', { class: 'sub rps-set-by', text: `set by ${t.maxRpsSetBy}` }));
  if (rpsLock(t)) td.append(el('div', { class: 'sub lock-note', text: 'only an admin can change it', title: rpsLock(t) }));
  if (t.rateLimitMode === 'shadow') {
    td.append(el('span', {
      class: 'tag tag-shadow', text: 'shadow',
      title: 'rateLimitMode shadow: requests over this limit are served and counted, not refused',
    }));
  }
  if (!rateLimiterOn()) {
    td.append(el('span', {
      class: 'tag tag-warn', text: 'not enforced',
      title: 'features.ratelimiter.enabled is false: this limit is stored but not applied',
    }));
  }
  return td;
}

function timeCell(iso, { never = 'Never', relative = true, sub } = {}) {
  const td = el('td');
  if (!iso) {
    td.append(el('span', { class: 'muted', text: never }));
    return td;
  }
  const main = relative ? fmt.relative(iso) : fmt.date(iso);
  td.append(el('time', { datetime: iso, title: fmt.dateTime(iso), text: main }));
  if (sub) td.append(el('div', { class: 'sub', text: sub }));
  return td;
}

function expiresCell(t) {
  if (!t.expiresAt) return timeCell(null);
  const td = el('td');
  td.append(el('time', { datetime: t.expiresAt, title: fmt.dateTime(t.expiresAt), text: fmt.date(t.expiresAt) }));
  const rel = fmt.relative(t.expiresAt);
  const past = Date.parse(t.expiresAt) <= Date.now();
  td.append(el('div', { class: past ? 'sub sub-bad' : 'sub', text: past ? `expired ${rel}` : `expires ${rel}` }));
  return td;
}

function actionButton(action, label, t, cls = 'btn btn-small btn-ghost', extra = {}) {
  return el('button', {
    type: 'button', class: cls, text: label, dataset: { action, id: t.id },
    'aria-label': `${label} ${t.name}`, ...extra,
  });
}

function tokenRow(t, ncols) {
  const open = state.expanded.has(t.id);
  const nameTd = el('td', { class: 'cell-name' },
    el('div', { class: 'token-name', text: t.name, title: t.name }),
    el('div', { class: 'sub mono', text: `${t.prefix}…` }));
  const line = accessLine(t);
  if (line) nameTd.append(el('div', { class: 'sub access-line', text: line, title: (t.scopes || []).join(', ') }));
  const tds = [nameTd];
  if (isAdmin()) tds.push(el('td', { class: 'cell-owner', text: t.owner }));
  tds.push(statusCell(t), rpsCell(t), expiresCell(t),
    timeCell(t.lastUsedAt, { sub: t.lastUsedIp ? `from ${t.lastUsedIp}` : undefined }),
    timeCell(t.createdAt, { relative: false }));
  const actions = el('div', { class: 'actions' },
    actionButton('activity', 'Activity', t, open ? 'btn btn-small btn-ghost is-on' : 'btn btn-small btn-ghost', {
      'aria-expanded': open ? 'true' : 'false', 'aria-controls': `detail-${t.id}`,
    }),
    actionButton('edit-rps', 'Edit Max RPS', t, undefined, { disabled: !!rpsLock(t), title: rpsLock(t) }),
    t.status === 'suspended'
      ? actionButton('activate', 'Activate', t, 'btn btn-small btn-ghost btn-ok',
        { disabled: !!suspendLock(t), title: suspendLock(t) })
      : actionButton('suspend', 'Suspend', t, 'btn btn-small btn-ghost btn-warn-text'),
    actionButton('access', 'Access', t, 'btn btn-small btn-ghost'),
    actionButton('rotate', 'Rotate', t, 'btn btn-small btn-ghost'),
    actionButton('delete', 'Delete', t, 'btn btn-small btn-ghost btn-danger-text'));
  tds.push(el('td', { class: 'cell-actions' }, actions));
  const rows = [el('tr', { class: `token-row${open ? ' is-open' : ''}`, dataset: { id: t.id } }, ...tds)];
  if (open) {
    let chart = state.charts.get(t.id);
    if (!chart) {
      chart = new ActivityChart(t);
      state.charts.set(t.id, chart);
    }
    rows.push(el('tr', { class: 'detail-row', id: `detail-${t.id}`, dataset: { id: t.id } },
      el('td', { colspan: ncols }, chart.el)));
  }
  return rows;
}

function renderList() {
  if (!state.session) return;
  // Remember what had the focus so a redraw does not throw a keyboard user back to the top.
  const f = document.activeElement;
  const focus = f && f.dataset && f.dataset.action && f.dataset.id ? { action: f.dataset.action, id: f.dataset.id } : null;

  const cols = columns();
  $('tokens-head').replaceChildren(...cols.map((c) =>
    el('th', { scope: 'col', class: c === 'Actions' ? 'th-actions' : null }, c === 'Actions' ? el('span', { class: 'sr-only', text: c }) : c)));
  const body = $('tokens-body');
  const sorted = [...state.tokens].sort((a, b) => (b.createdAt || '').localeCompare(a.createdAt || ''));
  const rows = [];
  if (!state.loaded) {
    rows.push(el('tr', {}, el('td', { colspan: cols.length, class: 'loading', text: 'Loading access tokens…' })));
  }
  for (const t of sorted) rows.push(...tokenRow(t, cols.length));
  body.replaceChildren(...rows);
  for (const id of state.expanded) {
    const c = state.charts.get(id);
    if (c) c.start();
  }
  $('tokens-empty').hidden = !state.loaded || state.tokens.length > 0;
  const days = state.settings && typeof state.settings.expiryWarningDays === 'number' ? state.settings.expiryWarningDays : 0;
  renderExpiryBanner(state.tokens, days);
  $('tokens-table').classList.toggle('is-empty', state.loaded && state.tokens.length === 0);

  // Charts of tokens that are gone stop polling.
  for (const [id, c] of state.charts) {
    if (!state.tokens.some((t) => t.id === id)) {
      c.stop();
      state.charts.delete(id);
      state.expanded.delete(id);
    }
  }
  if (focus) refocus(focus);
}

function refocus({ action, id }) {
  const swap = { suspend: 'activate', activate: 'suspend' };
  const sel = (a) => `#tokens-body button[data-action="${a}"][data-id="${CSS.escape(id)}"]`;
  const b = document.querySelector(sel(action)) || (swap[action] && document.querySelector(sel(swap[action])));
  if (b) b.focus();
  else $('new-token').focus();
}

// ------------------------------------------------------------------ dialogs

let returnFocus = null;

function openDialog(dlg, focusEl) {
  const a = document.activeElement;
  returnFocus = a && a.dataset && a.dataset.action ? { action: a.dataset.action, id: a.dataset.id } : a;
  dlg.showModal();
  if (focusEl) focusEl.focus();
}

function restoreFocus() {
  const r = returnFocus;
  returnFocus = null;
  if (!r) return;
  if (r instanceof Element) {
    if (r.isConnected) r.focus();
  } else {
    refocus(r);
  }
}

function wireDialogs() {
  for (const dlg of document.querySelectorAll('dialog')) {
    for (const b of dlg.querySelectorAll('[data-close]')) b.addEventListener('click', () => dlg.close());
    dlg.addEventListener('close', () => {
      const form = dlg.querySelector('form');
      if (form) {
        form.reset();
        clearErrors(form);
      }
      if (dlg.id === 'dlg-created') { // the secret leaves the page
        $('created-value').value = '';
        showSnippets(null);
      }
      if (!dlg.dataset.keepFocus) restoreFocus();
      delete dlg.dataset.keepFocus;
    });
  }
}

// ---- Generate new token

function expirationChoice() {
  const v = $('create-exp').value;
  if (v === 'never') return { at: null };
  if (v === 'custom') {
    const d = fmt.endOfLocalDate($('create-date').value);
    if (!d) return { error: 'Pick an expiration date, or choose another option.' };
    if (d.getTime() <= Date.now()) return { error: 'The expiration date must be in the future.' };
    return { at: d };
  }
  return { at: fmt.daysFromNow(Number(v)) };
}

function updateExpirationHint() {
  const custom = $('create-exp').value === 'custom';
  $('create-date-wrap').hidden = !custom;
  $('create-date').min = fmt.ymd(new Date());
  if (custom && !$('create-date').value) $('create-date').value = fmt.ymd(fmt.daysFromNow(30));
  const c = expirationChoice();
  const hint = $('create-exp-hint');
  hint.classList.remove('hint-warn');
  if (c.error) hint.textContent = '';
  else if (!c.at) {
    hint.textContent = 'This token never expires. Consider an expiration for tokens handed to other systems.';
    hint.classList.add('hint-warn');
  } else if (custom) {
    const last = new Date(c.at.getTime() - 1);
    hint.textContent = `The token will work through ${fmt.date(last.toISOString())} and expire at midnight (your local time).`;
  } else hint.textContent = `The token will expire on ${fmt.dateTime(c.at.toISOString())}.`;
}

function openCreate() {
  const form = $('create-form');
  form.reset();
  clearErrors(form);
  updateExpirationHint();
  fillAccess('create', null);
  openDialog($('dlg-create'), $('create-name'));
}

const accessFields = (p) => ({
  scopes: [`${p}-scope-read`, `${p}-scopes-error`],
  allowedCidrs: [`${p}-cidrs`, `${p}-cidrs-error`],
  namespaces: [`${p}-ns`, `${p}-ns-error`],
  rateLimitMode: [`${p}-mode`, `${p}-mode-error`],
});
const CREATE_FIELDS = {
  name: ['create-name', 'create-name-error'],
  maxRps: ['create-rps', 'create-rps-error'],
  burst: ['create-rps', 'create-rps-error'],
  expiresAt: ['create-exp', 'create-exp-error'],
  ...accessFields('create'),
};
const SCOPES = ['read', 'write', 'admin'];

// The access fields (scopes, allowed networks, rate limit mode) of the Generate and the Edit access dialogs, one
// builder for both: ids are prefixed ('create-…', 'access-…').
function buildAccessFields(slot) {
  const p = slot.dataset.prefix;
  const check = (s, label, hint, extra = '') => el('label', { class: `check${extra}` },
    el('input', { id: `${p}-scope-${s}`, type: 'checkbox', value: s === 'admin' ? 'admin' : `catalog:${s}` }),
    ` ${label} `, el('span', { class: 'hint-inline', text: hint }));
  const field = (id, label, input, hint) => el('div', { class: 'field' },
    el('label', { for: `${p}-${id}` }, label), input,
    el('p', { id: `${p}-${id}-hint`, class: 'hint', text: hint }),
    el('p', { id: `${p}-${id}-error`, class: 'field-error', hidden: true }));
  const mode = el('select', { id: `${p}-mode`, 'aria-describedby': `${p}-mode-hint ${p}-mode-error` },
    el('option', { value: 'enforce', text: 'Enforce: refuse over Max RPS (429)' }),
    el('option', { value: 'shadow', text: 'Shadow: serve over Max RPS, count would-be 429s' }));
  slot.replaceWith(
    el('fieldset', { class: 'field access-fields' }, el('legend', { text: 'Scopes' }),
      check('read', 'Read the catalog', '(list, load, metrics reports)'),
      check('write', 'Write the catalog', '(create, commit, drop, rename)'),
      check('admin', 'Admin', "(other users' tokens, users, /metrics)", ' admin-only'),
      el('p', { id: `${p}-scopes-error`, class: 'field-error', hidden: true })),
    field('cidrs', 'Allowed networks (optional)',
      el('textarea', { id: `${p}-cidrs`, rows: '2', spellcheck: 'false', class: 'mono',
        'aria-describedby': `${p}-cidrs-hint ${p}-cidrs-error` }),
      'IPv4 or IPv6 CIDRs, one per line or comma-separated, e.g. 10.0.0.0/8. Empty means from anywhere.'),
    field('ns', 'Namespaces (optional)',
      el('textarea', { id: `${p}-ns`, rows: '2', spellcheck: 'false', class: 'mono',
        'aria-describedby': `${p}-ns-hint ${p}-ns-error` }),
      'One per line, levels joined by dots (analytics, raw.events): the token reaches those and what is below them. ' +
      'Empty means every namespace.'),
    field('mode', 'Rate limit mode', mode, 'Shadow lets you size a limit before enforcing it.'));
}

// The access fields of a dialog (prefix 'create' or 'access'): filled from a token, or the defaults.
function fillAccess(p, t) {
  const has = t ? new Set(t.scopes || []) : new Set(['catalog:read', 'catalog:write', ...(isAdmin() ? ['admin'] : [])]);
  for (const s of SCOPES) $(`${p}-scope-${s}`).checked = has.has($(`${p}-scope-${s}`).value);
  for (const e of document.querySelectorAll(`#${p === 'create' ? 'dlg-create' : 'dlg-access'} .admin-only`)) e.hidden = !isAdmin();
  $(`${p}-cidrs`).value = t && t.allowedCidrs ? t.allowedCidrs.join('\n') : '';
  $(`${p}-ns`).value = t && t.namespaces ? nsText(t.namespaces) : '';
  $(`${p}-mode`).value = t && t.rateLimitMode === 'shadow' ? 'shadow' : 'enforce';
}

// Namespaces as the field shows them: one per line, levels joined by dots; as JSON when a level has a dot.
function nsText(list) {
  return list.some((ns) => ns.some((l) => l.includes('.'))) ? JSON.stringify(list) : list.map((ns) => ns.join('.')).join('\n');
}

// The namespaces field: null (every namespace), a list of level arrays, or {error}.
function parseNs(text) {
  const s = text.trim();
  if (!s) return null;
  if (s.startsWith('[')) {
    try {
      const v = JSON.parse(s);
      if (Array.isArray(v) && v.every((ns) => Array.isArray(ns) && ns.length && ns.every((l) => typeof l === 'string' && l))) return v;
    } catch { /* shown below */ }
    return { error: 'Write namespaces one per line (raw.events), or as JSON: [["raw","events"]].' };
  }
  const list = s.split(/[\s,]+/).filter(Boolean).map((line) => line.split('.'));
  const bad = list.find((ns) => ns.some((l) => !l));
  if (bad) return { error: `“${bad.join('.')}” has an empty level: write levels joined by single dots, e.g. raw.events.` };
  return list;
}

// What the access fields say: {scopes, allowedCidrs (null: anywhere), namespaces (null: all), rateLimitMode}, or
// an error shown.
function readAccess(p) {
  const scopes = SCOPES.map((s) => $(`${p}-scope-${s}`)).filter((c) => c.checked).map((c) => c.value);
  if (!scopes.length) {
    showFieldError($(`${p}-scope-read`), $(`${p}-scopes-error`), 'Choose at least one scope.');
    return null;
  }
  const cidrs = $(`${p}-cidrs`).value.split(/[\s,]+/).filter(Boolean);
  const bad = cidrs.find((c) => !/^[0-9a-fA-F:.]+(\/\d{1,3})?$/.test(c));
  if (bad) {
    showFieldError($(`${p}-cidrs`), $(`${p}-cidrs-error`), `“${bad}” is not an IPv4 or IPv6 CIDR (e.g. 10.0.0.0/8).`);
    return null;
  }
  const namespaces = parseNs($(`${p}-ns`).value);
  if (namespaces && namespaces.error) {
    showFieldError($(`${p}-ns`), $(`${p}-ns-error`), namespaces.error);
    return null;
  }
  return { scopes, allowedCidrs: cidrs.length ? cidrs : null, namespaces, rateLimitMode: $(`${p}-mode`).value };
}

// A short line for the row when a token is narrower than its owner's default.
function accessLine(t) {
  const parts = [];
  const sc = t.scopes || [];
  if (!sc.includes('catalog:write')) parts.push(sc.includes('catalog:read') ? 'read-only' : 'no catalog access');
  if (t.allowedCidrs) parts.push(`from ${t.allowedCidrs[0]}${t.allowedCidrs.length > 1 ? ` +${t.allowedCidrs.length - 1}` : ''}`);
  if (t.namespaces) parts.push(`in ${t.namespaces[0].join('.')}${t.namespaces.length > 1 ? ` +${t.namespaces.length - 1}` : ''}`);
  return parts.join(' · ');
}

// Shows an API error next to the field its message names, or at the bottom of the form.
function showApiError(e, fields, formErrId) {
  const f = e instanceof ApiError && e.field && fields[e.field];
  if (f && (e.status === 400 || e.status === 409)) {
    showFieldError($(f[0]), $(f[1]), e.message);
    $(f[0]).focus();
  } else {
    $(formErrId).textContent = e.message;
    $(formErrId).hidden = false;
  }
}

async function submitCreate(ev) {
  ev.preventDefault();
  const form = $('create-form');
  clearErrors(form);
  const name = $('create-name').value.trim();
  const rps = parseRps($('create-rps').value);
  const exp = expirationChoice();
  let first = null;
  if (!name) {
    showFieldError($('create-name'), $('create-name-error'), 'Token name is required.');
    first = first || $('create-name');
  }
  if (rps.error) {
    showFieldError($('create-rps'), $('create-rps-error'), rps.error);
    first = first || $('create-rps');
  }
  if (exp.error) {
    const input = $('create-exp').value === 'custom' ? $('create-date') : $('create-exp');
    showFieldError(input, $('create-exp-error'), exp.error);
    first = first || input;
  }
  if (first) {
    first.focus();
    return;
  }
  const access = readAccess('create');
  if (!access) return;
  const spec = { name, scopes: access.scopes };
  if (access.allowedCidrs) spec.allowedCidrs = access.allowedCidrs;
  if (access.namespaces) spec.namespaces = access.namespaces;
  if (access.rateLimitMode === 'shadow') spec.rateLimitMode = 'shadow';
  if (rps.value !== null) spec.maxRps = rps.value;
  if (exp.at) spec.expiresAt = exp.at.toISOString();
  const btn = $('create-submit');
  setBusy(btn, true, 'Generating…');
  let created;
  try {
    created = await api.create(spec);
  } catch (e) {
    showApiError(e, CREATE_FIELDS, 'create-error');
    return;
  } finally {
    setBusy(btn, false);
  }
  const secret = created.token;
  delete created.token;
  upsert(created);
  $('dlg-create').dataset.keepFocus = '1';
  const back = returnFocus;
  $('dlg-create').close();
  returnFocus = back;
  showCreated(created, secret);
}

function showCreated(t, secret, rotated = false) {
  $('dlg-created-title').textContent = rotated ? 'Token rotated' : 'Token generated';
  const expires = t.expiresAt ? `; it expires on ${fmt.dateTime(t.expiresAt)}` : '';
  const grace = rotated && t.previousTokenValidUntil && Date.parse(t.previousTokenValidUntil) > Date.now()
    ? ` The previous secret works until ${fmt.dateTime(t.previousTokenValidUntil)}.`
    : rotated ? ' The previous secret no longer works.' : '';
  $('created-name-line').textContent = `“${t.name}” was ${rotated ? 'given a new secret' : 'created'}${expires}.${grace}`;
  $('created-value').value = secret;
  $('created-copy-status').textContent = '';
  showSnippets(secret);
  $('dlg-created').showModal();
  $('created-value').focus();
  $('created-value').select();
}

// The show-once dialog's client settings, one tab per engine; they hold the secret, so they go with it.
let shownSnippets = [];
function showSnippets(secret) {
  const warehouse = (state.settings && state.settings.warehouse) || 'warehouse';
  shownSnippets = secret ? snippets({ url: location.origin, token: secret, warehouse }) : [];
  const tabs = $('created-snippet-tabs');
  tabs.textContent = '';
  for (const sn of shownSnippets) {
    tabs.append(el('button', {
      type: 'button', class: 'btn btn-ghost', role: 'tab', text: sn.title, dataset: { snippet: sn.id },
      'aria-controls': 'created-snippet',
    }));
  }
  selectSnippet(shownSnippets.length ? shownSnippets[0].id : null);
}

function selectSnippet(id) {
  const sn = shownSnippets.find((x) => x.id === id);
  for (const b of $('created-snippet-tabs').querySelectorAll('button')) { // one tab stop; arrows move (ARIA tabs)
    b.setAttribute('aria-selected', b.dataset.snippet === id ? 'true' : 'false');
    b.tabIndex = b.dataset.snippet === id ? 0 : -1;
  }
  $('created-snippet').textContent = sn ? sn.text : '';
  $('created-snippet').dataset.snippet = sn ? sn.id : '';
  $('created-snippet-hint').textContent = sn ? sn.hint : '';
}

async function copySnippet() {
  const text = $('created-snippet').textContent;
  try {
    if (!navigator.clipboard || !window.isSecureContext) throw new Error('no clipboard API');
    await navigator.clipboard.writeText(text);
    $('created-copy-status').textContent = 'Settings copied to the clipboard.';
  } catch {
    const range = document.createRange();
    range.selectNodeContents($('created-snippet'));
    const sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
    $('created-copy-status').textContent = 'The settings are selected: press Ctrl+C (⌘C on a Mac) to copy them.';
  }
}

async function copySecret() {
  const input = $('created-value');
  const status = $('created-copy-status');
  try {
    if (!navigator.clipboard || !window.isSecureContext) throw new Error('no clipboard API');
    await navigator.clipboard.writeText(input.value);
    status.textContent = 'Copied to the clipboard.';
    return;
  } catch {
    // Fall back to selecting the text: execCommand works in more places, and a person can press Ctrl+C.
  }
  input.focus();
  input.select();
  let ok = false;
  try { ok = document.execCommand('copy'); } catch { ok = false; }
  status.textContent = ok ? 'Copied to the clipboard.' : 'The token is selected: press Ctrl+C (⌘C on a Mac) to copy it.';
}

// ---- Suspend / activate

function openSuspend(t) {
  state.current = t;
  $('suspend-text').textContent = '';
  $('suspend-text').append('Suspend ', el('strong', { text: t.name }),
    '? Every request with this token is refused (401) from the next one, until you activate it again. No restart is needed.');
  openDialog($('dlg-suspend'), $('suspend-reason'));
}

async function submitSuspend(ev) {
  ev.preventDefault();
  const t = state.current;
  clearErrors($('suspend-form'));
  const btn = $('suspend-submit');
  setBusy(btn, true, 'Suspending…');
  try {
    const updated = await api.suspend(t.id, $('suspend-reason').value.trim());
    upsert(updated);
    $('dlg-suspend').close();
    notice(`Suspended “${t.name}”.`);
  } catch (e) {
    if (e.status === 404) { forget(t.id); $('dlg-suspend').close(); notice(e.message); return; }
    showApiError(e, { reason: ['suspend-reason', 'suspend-reason-error'] }, 'suspend-error');
  } finally {
    setBusy(btn, false);
  }
}

async function activate(t, button) {
  button.disabled = true;
  try {
    const updated = await api.activate(t.id);
    upsert(updated);
    notice(`Activated “${t.name}”.`);
  } catch (e) {
    button.disabled = false;
    if (e.status === 404) forget(t.id);
    notice(`Could not activate “${t.name}”: ${e.message}`);
  }
}

// ---- Edit Max RPS

function openRps(t) {
  state.current = t;
  const form = $('rps-form');
  form.reset();
  clearErrors(form);
  $('rps-text').textContent = `Token “${t.name}” (${t.prefix}…). The new limit applies from the next request.`;
  $('rps-value').value = t.maxRps == null ? '' : String(t.maxRps);
  $('rps-burst').value = t.burst == null ? '' : String(t.burst);
  $('rps-burst').dataset.initial = $('rps-burst').value;
  openDialog($('dlg-rps'), $('rps-value'));
  $('rps-value').select();
}

async function submitRps(ev) {
  ev.preventDefault();
  const t = state.current;
  const form = $('rps-form');
  clearErrors(form);
  const rps = parseRps($('rps-value').value);
  const burstText = $('rps-burst').value.trim();
  let first = null;
  if (rps.error) {
    showFieldError($('rps-value'), $('rps-value-error'), rps.error);
    first = $('rps-value');
  }
  if (burstText !== '' && !/^[1-9]\d*$/.test(burstText)) {
    showFieldError($('rps-burst'), $('rps-burst-error'), 'Burst must be a whole number of at least 1.');
    first = first || $('rps-burst');
  }
  if (first) {
    first.focus();
    return;
  }
  const patch = { maxRps: rps.value };
  if (burstText !== $('rps-burst').dataset.initial) patch.burst = burstText === '' ? null : Number(burstText);
  const btn = $('rps-submit');
  setBusy(btn, true, 'Saving…');
  try {
    const updated = await api.update(t.id, patch);
    upsert(updated);
    $('dlg-rps').close();
    notice(updated.maxRps == null ? `“${t.name}” is now unlimited.`
      : `“${t.name}” is now limited to ${fmt.num(updated.maxRps)}/s (burst ${fmt.num(updated.burst)}).`);
  } catch (e) {
    if (e.status === 404) { forget(t.id); $('dlg-rps').close(); notice(e.message); return; }
    showApiError(e, {
      maxRps: ['rps-value', 'rps-value-error'], burst: ['rps-burst', 'rps-burst-error'],
    }, 'rps-error');
  } finally {
    setBusy(btn, false);
  }
}

// ---- Access (scopes, allowed networks, rate limit mode)

function openAccess(t) {
  state.current = t;
  clearErrors($('access-form'));
  $('access-text').textContent = `Token “${t.name}” (${t.prefix}…). Changes apply from its next request.`;
  fillAccess('access', t);
  openDialog($('dlg-access'), $('access-scope-read'));
}

async function submitAccess(ev) {
  ev.preventDefault();
  const t = state.current;
  clearErrors($('access-form'));
  const access = readAccess('access');
  if (!access) return;
  const btn = $('access-submit');
  setBusy(btn, true, 'Saving…');
  try {
    const updated = await api.update(t.id, access);
    upsert(updated);
    $('dlg-access').close();
    notice(`Access of “${t.name}” saved.`);
  } catch (e) {
    if (e.status === 404) { forget(t.id); $('dlg-access').close(); notice(e.message); return; }
    showApiError(e, accessFields('access'), 'access-error');
  } finally {
    setBusy(btn, false);
  }
}

// ---- Rotate

function openRotate(t) {
  state.current = t;
  $('rotate-text').textContent = '';
  $('rotate-text').append('Give ', el('strong', { text: t.name }), ' ', el('span', { class: 'mono', text: `(${t.prefix}…)` }),
    ' a new secret?');
  clearErrors($('rotate-form'));
  $('rotate-grace').value = '3600';
  openDialog($('dlg-rotate'), $('rotate-grace'));
}

async function submitRotate(ev) {
  ev.preventDefault();
  const t = state.current;
  clearErrors($('rotate-form'));
  const btn = $('rotate-submit');
  setBusy(btn, true, 'Rotating…');
  let rotated;
  try {
    rotated = await api.rotate(t.id, Number($('rotate-grace').value));
  } catch (e) {
    if (e.status === 404) { forget(t.id); $('dlg-rotate').close(); notice(e.message); return; }
    showApiError(e, { gracePeriod: ['rotate-grace', 'rotate-grace-error'] }, 'rotate-error');
    return;
  } finally {
    setBusy(btn, false);
  }
  const secret = rotated.token;
  delete rotated.token;
  upsert(rotated);
  $('dlg-rotate').dataset.keepFocus = '1';
  const back = returnFocus;
  $('dlg-rotate').close();
  returnFocus = back;
  showCreated(rotated, secret, true);
}

// ---- Delete

function openDelete(t) {
  state.current = t;
  $('delete-text').textContent = '';
  $('delete-text').append('Delete ', el('strong', { text: t.name }), ' ', el('span', { class: 'mono', text: `(${t.prefix}…)` }), '?');
  openDialog($('dlg-delete'), $('dlg-delete').querySelector('[data-close]')); // a stray Enter cancels
}

async function submitDelete(ev) {
  ev.preventDefault();
  const t = state.current;
  const btn = $('delete-submit');
  setBusy(btn, true, 'Deleting…');
  try {
    await api.remove(t.id);
  } catch (e) {
    if (e.status !== 404) {
      $('delete-error').textContent = e.message;
      $('delete-error').hidden = false;
      return;
    }
  } finally {
    setBusy(btn, false);
  }
  forget(t.id);
  returnFocus = null;
  $('dlg-delete').close();
  $('new-token').focus();
  notice(`Deleted “${t.name}”.`);
}

// ------------------------------------------------------------------ tabs

const TABS = ['tokens', 'audit', 'cluster', 'general'];

function selectTab(which, focus = true) {
  if (which === 'audit') showAudit(isAdmin());
  if (which === 'cluster') showCluster(isAdmin());
  for (const name of TABS) {
    const on = name === which;
    const tab = $(`tab-${name}`);
    tab.setAttribute('aria-selected', on ? 'true' : 'false');
    tab.tabIndex = on ? 0 : -1;
    $(`panel-${name}`).hidden = !on;
    if (on && focus) tab.focus();
  }
}

// ------------------------------------------------------------------ wiring

function wire() {
  setUnauthorizedHandler(() => {
    if (state.session) showLogin('Your session has ended. Log in again.');
  });

  $('login-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const u = $('login-username').value.trim();
    const p = $('login-password').value;
    const err = $('login-error');
    err.hidden = true;
    if (!u || !p) {
      err.textContent = 'Enter your username and password.';
      err.hidden = false;
      (u ? $('login-password') : $('login-username')).focus();
      return;
    }
    const btn = $('login-submit');
    setBusy(btn, true, 'Logging in…');
    try {
      enterApp(await api.login(u, p));
      $('login-password').value = '';
      $('main').focus();
    } catch (e) {
      err.textContent = e.message;
      err.hidden = false;
      $('login-password').select();
    } finally {
      setBusy(btn, false);
    }
  });

  $('logout').addEventListener('click', async () => {
    try { await api.logout(); } catch { /* the session is gone either way */ }
    showLogin();
  });

  TABS.forEach((name, i) => {
    $(`tab-${name}`).addEventListener('click', () => selectTab(name));
    $(`tab-${name}`).addEventListener('keydown', (ev) => {
      if (ev.key === 'ArrowRight' || ev.key === 'ArrowLeft') {
        ev.preventDefault();
        const step = ev.key === 'ArrowRight' ? 1 : TABS.length - 1;
        selectTab(TABS[(i + step) % TABS.length]);
      }
    });
  });
  wireAudit();

  for (const slot of document.querySelectorAll('.access-slot')) buildAccessFields(slot);
  $('new-token').addEventListener('click', openCreate);
  $('create-exp').addEventListener('change', updateExpirationHint);
  $('create-date').addEventListener('change', updateExpirationHint);
  $('create-form').addEventListener('submit', submitCreate);
  $('created-copy').addEventListener('click', copySecret);
  $('created-snippet-copy').addEventListener('click', copySnippet);
  $('created-snippet-tabs').addEventListener('click', (ev) => {
    const b = ev.target.closest('button[data-snippet]');
    if (b) selectSnippet(b.dataset.snippet);
  });
  $('created-snippet-tabs').addEventListener('keydown', (ev) => {
    if (ev.key !== 'ArrowRight' && ev.key !== 'ArrowLeft') return;
    ev.preventDefault();
    const ids = shownSnippets.map((x) => x.id);
    const at = ids.indexOf($('created-snippet').dataset.snippet);
    const next = ids[(at + (ev.key === 'ArrowRight' ? 1 : ids.length - 1)) % ids.length];
    selectSnippet(next);
    $('created-snippet-tabs').querySelector(`button[data-snippet="${next}"]`).focus();
  });
  $('created-value').addEventListener('focus', () => $('created-value').select());
  $('created-done').addEventListener('click', () => {
    $('created-value').value = ''; // at once: the dialog's close event comes a task later
    showSnippets(null);
    $('dlg-created').close();
  });
  $('suspend-form').addEventListener('submit', submitSuspend);
  $('rps-form').addEventListener('submit', submitRps);
  $('delete-form').addEventListener('submit', submitDelete);
  $('rotate-form').addEventListener('submit', submitRotate);
  $('access-form').addEventListener('submit', submitAccess);
  // Typing into a field clears its error.
  for (const f of document.querySelectorAll('dialog input, dialog select, dialog textarea')) {
    f.addEventListener('input', () => {
      if (f.getAttribute('aria-invalid') !== 'true') return;
      f.removeAttribute('aria-invalid');
      const errId = (f.getAttribute('aria-describedby') || '').split(' ').find((x) => x.endsWith('-error'));
      if (errId) $(errId).hidden = true;
    });
  }
  wireDialogs();

  $('tokens-body').addEventListener('click', (ev) => {
    const b = ev.target.closest('button[data-action]');
    if (!b) return;
    const t = state.tokens.find((x) => x.id === b.dataset.id);
    if (!t) return;
    switch (b.dataset.action) {
      case 'activity':
        if (state.expanded.has(t.id)) {
          state.expanded.delete(t.id);
          const c = state.charts.get(t.id);
          if (c) c.stop();
          state.charts.delete(t.id);
        } else {
          state.expanded.add(t.id);
        }
        renderList();
        break;
      case 'edit-rps': openRps(t); break;
      case 'suspend': openSuspend(t); break;
      case 'activate': activate(t, b); break;
      case 'rotate': openRotate(t); break;
      case 'access': openAccess(t); break;
      case 'delete': openDelete(t); break;
      default: break;
    }
  });

  let resizeTimer = null;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => { for (const c of state.charts.values()) c.draw(); }, 150);
  });

  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible' && state.session) loadList();
  });
}

async function boot() {
  wire();
  try {
    enterApp(await api.session());
  } catch (e) {
    showLogin(e.status === 401 || e.status === 403 ? '' : e.message);
  }
}

boot();
