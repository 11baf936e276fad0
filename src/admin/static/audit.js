// audit.js — Settings → Audit: the audit log (GET /api/v1/audit) as a table with filters and "Load more"
// paging, and the banner that lists tokens expiring within the first expiry-warning threshold.  Data is only
// ever written with textContent.

import { api } from './api.js';
import * as fmt from './format.js';

const $ = (id) => document.getElementById(id);
const PAGE = 50;

let next = null; // the page token of the next page, null at the end

export function cell(text, cls) {
  const td = document.createElement('td');
  td.textContent = text == null ? '—' : String(text);
  if (cls) td.className = cls;
  return td;
}

// {"name":{"old":"a","new":"b"}} -> "name: a → b"; other details as key: value.
export function describe(details) {
  const parts = [];
  for (const [k, v] of Object.entries(details || {})) {
    const show = (x) => (x == null ? 'none' : typeof x === 'object' ? JSON.stringify(x) : String(x));
    if (v && typeof v === 'object' && 'old' in v && 'new' in v) parts.push(`${k}: ${show(v.old)} → ${show(v.new)}`);
    else parts.push(`${k}: ${show(v)}`);
  }
  return parts.join(', ');
}

function row(e) {
  const tr = document.createElement('tr');
  tr.className = 'audit-row';
  tr.dataset.action = e.action;
  tr.append(cell(fmt.dateTime(e.at)), cell(e.actor), cell(e.action), cell(e.target), cell(describe(e.details), 'details'),
    cell(e.clientIp));
  return tr;
}

function query() {
  const q = { pageSize: String(PAGE) };
  for (const k of ['action', 'actor', 'target']) {
    const v = $(`audit-${k}`).value.trim();
    if (v) q[k] = v;
  }
  const since = $('audit-since').value;
  if (since) q.since = `${since}T00:00:00Z`;
  return q;
}

async function load(more) {
  const q = query();
  if (more && next) q.pageToken = next;
  try {
    const r = await api.audit(q);
    const rows = r.entries.map(row);
    if (more) $('audit-body').append(...rows);
    else $('audit-body').replaceChildren(...rows);
    next = r.nextPageToken || null;
    $('audit-error').hidden = true;
  } catch (e) {
    if (e.status === 401) return;
    $('audit-error').textContent = `Could not load the audit log: ${e.message}`;
    $('audit-error').hidden = false;
  }
  $('audit-more').hidden = !next;
  $('audit-empty').hidden = $('audit-body').children.length > 0;
}

export function showAudit(isAdmin) {
  $('audit-scope').textContent = isAdmin ? '' : 'As a member you see your own actions and entries about your tokens.';
  load(false);
}

export function wireAudit() {
  $('audit-filters').addEventListener('submit', (ev) => {
    ev.preventDefault();
    load(false);
  });
  $('audit-more').addEventListener('click', () => load(true));
}

// The banner: live tokens that expire within `days` (the first of notifications.expiry_warning_days).
export function renderExpiryBanner(tokens, days, now = Date.now()) {
  const banner = $('expiry-banner');
  const soon = days > 0 ? tokens.filter((t) => t.status === 'active' && t.expiresAt
    && Date.parse(t.expiresAt) - now <= days * 86400e3) : [];
  banner.hidden = soon.length === 0;
  if (!soon.length) return;
  soon.sort((a, b) => Date.parse(a.expiresAt) - Date.parse(b.expiresAt));
  $('expiry-banner-title').textContent = soon.length === 1 ? `1 access token expires within ${days} days:`
    : `${soon.length} access tokens expire within ${days} days:`;
  $('expiry-banner-list').replaceChildren(...soon.map((t) => {
    const li = document.createElement('li');
    li.textContent = `${t.name} (${t.owner}) expires ${fmt.relative(t.expiresAt, now)}, ${fmt.dateTime(t.expiresAt)}`;
    return li;
  }));
}
