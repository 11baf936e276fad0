// Browser end-to-end tests of the web console: Debian's chromium driven by playwright-core against the real
// binary. One server and one browser for the main flow (the tests run in order and build on each other), and
// small separate servers for the "rate limiter off" and "member" views. Every page is watched for console
// errors, page errors and CSP violations; the only console errors allowed are the browser's own log lines for
// API calls the test expects to fail (e.g. the 401 of a wrong password).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { Server, createToken, cli, tempDir, ADMIN_PASSWORD } from './lib/harness.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const ARTIFACTS = path.join(here, 'artifacts');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const LAUNCH = {
  executablePath: CHROMIUM,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run', '--disable-quic'],
};
const VIEWPORT = { width: 1366, height: 820 };
const DAY = 24 * 3600 * 1000;

let browser;
let srv;
let page;
let seedToken; // an admin token made with the CLI: calls the admin API directly to check what the UI did
const problems = []; // console errors, page errors and CSP violations of every page
const created = {}; // name -> {id, token}

// Console lines the browser writes for API calls this test expects to fail: "Failed to load resource: the server
// responded with a status of 401" with the resource URL as the location.
const EXPECTED_FAILURES = [
  { status: 401, path: /^\/api\/v1\/session$/ }, // boot without a session
  { status: 401, path: /^\/api\/v1\/session\/login$/ }, // wrong password
  { status: 400, path: /^\/api\/v1\/access-tokens(\/tok_\w+)?$/ }, // validation messages from the server
  { status: 409, path: /^\/api\/v1\/access-tokens$/ }, // duplicate name
];

function expectedFailure(msg) {
  const m = /^Failed to load resource: the server responded with a status of (\d+)/.exec(msg.text());
  if (!m) return false;
  let p = '';
  try { p = new URL(msg.location().url).pathname; } catch { return false; }
  return EXPECTED_FAILURES.some((e) => e.status === Number(m[1]) && e.path.test(p));
}

async function watchedPage(context, sink = problems) {
  const p = await context.newPage();
  await p.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  p.on('console', (msg) => {
    if ((msg.type() === 'error' || msg.type() === 'warning') && !expectedFailure(msg)) {
      sink.push(`console.${msg.type()}: ${msg.text()} (${msg.location().url})`);
    }
  });
  p.on('pageerror', (err) => sink.push(`pageerror: ${err.message}`));
  return p;
}

async function cspViolations(p) {
  return p.evaluate(() => window.__cspViolations || []);
}

async function login(p, url, user = 'admin', password = ADMIN_PASSWORD) {
  await p.goto(`${url}/`);
  await p.getByLabel('Username').fill(user);
  await p.getByLabel('Password').fill(password);
  await p.getByRole('button', { name: 'Log in' }).click();
  await p.locator('#app-view').waitFor({ state: 'visible' });
}

const row = (p, name) => p.locator('tr.token-row').filter({ has: p.locator('.token-name', { hasText: name }) });
const rowById = (p, id) => p.locator(`tr.token-row[data-id="${id}"]`);

// The token as the admin API sees it right now.
async function apiToken(id) {
  return srv.req('GET', `/api/v1/access-tokens/${id}`, { token: seedToken });
}

async function generate(p, { name, maxRps, expiration }) {
  await p.getByRole('button', { name: 'Generate new token' }).click();
  const dlg = p.locator('#dlg-create');
  await dlg.waitFor({ state: 'visible' });
  await dlg.getByLabel('Token name').fill(name);
  if (maxRps !== undefined) await dlg.getByLabel('Max RPS').fill(String(maxRps));
  if (expiration !== undefined) await dlg.locator('#create-exp').selectOption(expiration);
  await dlg.getByRole('button', { name: 'Generate' }).click();
}

async function readGenerated(p) {
  const dlg = p.locator('#dlg-created');
  await dlg.waitFor({ state: 'visible' });
  return dlg.getByLabel('Access token').inputValue();
}

before(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const dataDir = tempDir();
  seedToken = createToken(dataDir, 'seed-admin-token').token;
  // over-limit requests get their 429 at once (the activity chart counts them); holding is throttle.test.js's
  srv = await new Server({ dataDir, env: { ICEGATE_RATELIMITER_MAX_DELAY_MS: '0' } }).start();
  browser = await chromium.launch(LAUNCH);
  const context = await browser.newContext({ viewport: VIEWPORT });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: srv.url });
  page = await watchedPage(context);
});

after(async () => {
  if (browser) await browser.close();
  if (srv) await srv.stop();
});

test('the console is served with a strict CSP and no inline code', async () => {
  const r = await srv.req('GET', '/');
  assert.equal(r.status, 200);
  const csp = r.headers.get('content-security-policy');
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'self'/);
  assert.match(csp, /frame-ancestors 'none'$/, 'the whole policy arrives, not a truncated one');
  assert.doesNotMatch(r.text, /<script>|<script [^>]*>[^<]|style=|<style/i, 'no inline script or style');
  for (const asset of ['/app.js', '/app.css', '/api.js', '/audit.js', '/chart.js', '/format.js', '/favicon.svg']) {
    assert.equal((await srv.req('GET', asset)).status, 200, asset);
  }
});

test('login page: a wrong password says "wrong username or password"', async () => {
  await page.goto(`${srv.url}/`);
  await page.locator('#login-view').waitFor({ state: 'visible' });
  assert.equal(await page.locator('#app-view').isVisible(), false);
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password').fill('not-the-password');
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('alert').filter({ hasText: 'wrong username or password' }).waitFor();
  assert.equal(await page.locator('#app-view').isVisible(), false);
});

test('login shows the user, Logout and Settings → Access Tokens with the seed token', async () => {
  await page.getByLabel('Password').fill(ADMIN_PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.locator('#app-view').waitFor({ state: 'visible' });
  assert.equal(await page.locator('#user-name').textContent(), 'admin');
  assert.ok(await page.getByRole('button', { name: 'Logout' }).isVisible());
  assert.equal(await page.getByRole('tab', { name: 'Access Tokens' }).getAttribute('aria-selected'), 'true');
  await row(page, 'seed-admin-token').waitFor();
  // Admins see every token and an Owner column.
  const heads = await page.locator('#tokens-head th').allTextContents();
  assert.ok(heads.includes('Owner'), heads.join(','));
  assert.equal(await row(page, 'seed-admin-token').locator('.cell-owner').textContent(), 'admin');
  assert.equal(await page.locator('#rl-banner').isVisible(), false, 'no banner while the rate limiter is on');
});

test('generate: Max RPS and 7-day expiry; the value is shown once, copies, and works on /v1/config', async () => {
  const before = Date.now();
  await generate(page, { name: 'spark-etl', maxRps: 5, expiration: '7' });
  const dlg = page.locator('#dlg-created');
  await dlg.waitFor({ state: 'visible' });
  assert.ok(await dlg.getByText('Copy this token now. You will not see it again.').isVisible());
  const value = await readGenerated(page);
  assert.match(value, /^igt_[0-9A-Za-z]{38}$/);
  assert.equal(await dlg.getByLabel('Access token').getAttribute('readonly'), '');
  await page.screenshot({ path: path.join(ARTIFACTS, 'console-token-generated.png') });

  await dlg.getByRole('button', { name: 'Copy', exact: true }).click();
  await dlg.getByText(/Copied|Ctrl\+C/).waitFor();
  // The context was granted clipboard access, so the real Clipboard API path runs.
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), value, 'the clipboard holds the token');

  await dlg.getByRole('button', { name: 'Done' }).click();
  await dlg.waitFor({ state: 'hidden' });
  assert.equal(await page.locator('#created-value').inputValue(), '', 'the secret is gone from the page');

  const r = row(page, 'spark-etl');
  await r.waitFor();
  const id = await r.getAttribute('data-id');
  created['spark-etl'] = { id, token: value };
  assert.equal(await r.locator('.badge').textContent(), 'Active');
  assert.match(await r.locator('.cell-rps').textContent(), /5\/s.*burst 5/);
  assert.match(await r.locator('.cell-name').textContent(), new RegExp(value.slice(0, 8)));
  assert.match(await r.textContent(), /expires in (7 days|1 week)/);

  const ok = await srv.req('GET', '/v1/config', { token: value });
  assert.equal(ok.status, 200, ok.text);
  const t = (await apiToken(id)).json;
  assert.equal(t.maxRps, 5);
  const exp = Date.parse(t.expiresAt);
  assert.ok(exp >= before + 7 * DAY - 120000 && exp <= Date.now() + 7 * DAY + 1000, t.expiresAt);
  assert.equal(await page.locator('dialog[open]').count(), 0);
});

test('suspend in the UI: the very next request is 401; activate: 200 again', async () => {
  const { id, token } = created['spark-etl'];
  const r = rowById(page, id);
  await r.getByRole('button', { name: 'Suspend spark-etl' }).click();
  const dlg = page.locator('#dlg-suspend');
  await dlg.waitFor({ state: 'visible' });
  await dlg.getByLabel('Reason').fill('noisy client during incident 42');
  await dlg.getByRole('button', { name: 'Suspend' }).click();
  await r.locator('.badge', { hasText: 'Suspended' }).waitFor();
  const denied = await srv.req('GET', '/v1/config', { token });
  assert.equal(denied.status, 401, denied.text);
  assert.match(denied.json.error.message, /suspended/);
  assert.match(await r.textContent(), /Reason: noisy client during incident 42/);
  // The Activate button replaced Suspend and has the keyboard focus back.
  const activate = r.getByRole('button', { name: 'Activate spark-etl' });
  await activate.waitFor();
  await page.waitForFunction(() => document.activeElement && document.activeElement.dataset.action === 'activate');

  await activate.click();
  await r.locator('.badge', { hasText: 'Active' }).waitFor();
  const back = await srv.req('GET', '/v1/config', { token });
  assert.equal(back.status, 200, back.text);
  assert.equal((await apiToken(id)).json.status, 'active');
});

test('edit Max RPS: the dialog saves, the row and the API show the new value', async () => {
  const { id } = created['spark-etl'];
  const r = rowById(page, id);
  await r.getByRole('button', { name: 'Edit Max RPS spark-etl' }).click();
  const dlg = page.locator('#dlg-rps');
  await dlg.waitFor({ state: 'visible' });
  assert.equal(await dlg.getByLabel('Max RPS').inputValue(), '5');
  await dlg.getByLabel('Max RPS').fill('abc');
  await dlg.getByRole('button', { name: 'Save' }).click();
  await dlg.locator('#rps-value-error', { hasText: 'Max RPS must be a number' }).waitFor();
  await dlg.getByLabel('Max RPS').fill('2000000');
  await dlg.getByRole('button', { name: 'Save' }).click();
  await dlg.locator('#rps-value-error', { hasText: /^maxRps: must be/ }).waitFor(); // the server's 400, verbatim
  await dlg.getByLabel('Max RPS').fill('2.5');
  await dlg.getByRole('button', { name: 'Save' }).click();
  await dlg.waitFor({ state: 'hidden' });
  await r.locator('.cell-rps', { hasText: '2.5/s' }).waitFor();
  assert.match(await r.locator('.cell-rps').textContent(), /burst 3/);
  const t = (await apiToken(id)).json;
  assert.equal(t.maxRps, 2.5);
  assert.equal(t.burst, 3);
});

test('rotate asks for a grace period, shows the new secret once; the old one is refused with "rotated"', async () => {
  const { id, token: old } = created['spark-etl'];
  const r = rowById(page, id);
  await r.getByRole('button', { name: 'Rotate spark-etl' }).click();
  const dlg = page.locator('#dlg-rotate');
  await dlg.waitFor({ state: 'visible' });
  assert.match(await dlg.textContent(), /Give spark-etl/);
  assert.equal(await dlg.getByLabel('Keep the current secret working for').inputValue(), '3600', 'an hour by default');
  await dlg.getByLabel('Keep the current secret working for').selectOption('0');
  await dlg.getByRole('button', { name: 'Rotate' }).click();
  const shown = page.locator('#dlg-created');
  await shown.waitFor({ state: 'visible' });
  assert.equal(await shown.locator('#dlg-created-title').textContent(), 'Token rotated');
  assert.match(await shown.textContent(), /previous secret no longer works/);
  const fresh = await readGenerated(page);
  assert.match(fresh, /^igt_[0-9A-Za-z]{38}$/);
  assert.notEqual(fresh, old);
  // The client settings: Spark first, then PyIceberg, DuckDB, curl, each with this server's URL and the new secret.
  const tabs = shown.locator('#created-snippet-tabs [role="tab"]');
  assert.deepEqual(await tabs.allTextContents(), ['Spark', 'PyIceberg', 'DuckDB', 'curl']);
  const pre = shown.locator('#created-snippet');
  assert.match(await pre.textContent(), new RegExp(`spark\\.sql\\.catalog\\.icegate\\.header\\.X-API-Token\\s+${fresh}`));
  for (const [tab, re] of [['PyIceberg', /load_catalog\(/], ['DuckDB', /ATTACH 'warehouse' AS icegate/], ['curl', /curl -H/]]) {
    await tabs.filter({ hasText: tab }).click();
    const text = await pre.textContent();
    assert.match(text, re, tab);
    assert.ok(text.includes(fresh) && text.includes(srv.url), `${tab}: ${text}`);
  }
  assert.equal(await tabs.filter({ hasText: 'curl' }).getAttribute('aria-selected'), 'true');
  await shown.getByRole('button', { name: 'Done' }).click();
  await shown.waitFor({ state: 'hidden' });
  assert.equal(await page.locator('#created-value').inputValue(), '', 'the secret is gone from the page');
  assert.equal(await page.locator('#created-snippet').textContent(), '', 'and from the settings');
  assert.equal(await page.locator('#created-snippet-tabs [role="tab"]').count(), 0);
  assert.match(await r.locator('.cell-name').textContent(), new RegExp(fresh.slice(0, 8)), 'the row shows the new prefix');
  const refused = await srv.req('GET', '/v1/config', { token: old });
  assert.equal(refused.status, 401, refused.text);
  assert.match(refused.json.error.message, /rotated/);
  assert.equal((await srv.req('GET', '/v1/config', { token: fresh })).status, 200);
  const t = (await apiToken(id)).json;
  assert.equal(t.maxRps, 2.5, 'settings carry over (set by the Max RPS test)');
  created['spark-etl'].token = fresh;
});

test('validation: empty name, duplicate name (409) and bad Max RPS are shown next to their field', async () => {
  await page.getByRole('button', { name: 'Generate new token' }).click();
  const dlg = page.locator('#dlg-create');
  await dlg.waitFor({ state: 'visible' });
  const nameErr = dlg.locator('#create-name-error');
  const rpsErr = dlg.locator('#create-rps-error');

  // Empty name: checked in the page, nothing sent.
  await dlg.getByRole('button', { name: 'Generate' }).click();
  await nameErr.filter({ hasText: 'Token name is required.' }).waitFor();
  assert.equal(await dlg.getByLabel('Token name').getAttribute('aria-invalid'), 'true');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'create-name');

  // Duplicate name: the server's 409 message, next to the name.
  await dlg.getByLabel('Token name').fill('spark-etl');
  assert.equal(await nameErr.isVisible(), false, 'typing clears the error');
  await dlg.getByRole('button', { name: 'Generate' }).click();
  await nameErr.filter({ hasText: "name: owner 'admin' already has an access token named 'spark-etl'" }).waitFor();

  // Bad Max RPS: the basics in the page, the rest from the server's 400.
  await dlg.getByLabel('Token name').fill('rps-check');
  await dlg.getByLabel('Max RPS').fill('-3');
  await dlg.getByRole('button', { name: 'Generate' }).click();
  await rpsErr.filter({ hasText: 'Max RPS must be' }).waitFor();
  await dlg.getByLabel('Max RPS').fill('5000000');
  await dlg.getByRole('button', { name: 'Generate' }).click();
  await rpsErr.filter({ hasText: 'maxRps: must be a number from 0.001 to 1000000, or null' }).waitFor();
  assert.equal(await nameErr.isVisible(), false);

  // Custom date in the past is refused in the page.
  await dlg.getByLabel('Max RPS').fill('');
  await dlg.locator('#create-exp').selectOption('custom');
  await dlg.getByLabel('Expiration date').fill('2001-01-01');
  await dlg.getByRole('button', { name: 'Generate' }).click();
  await dlg.locator('#create-exp-error', { hasText: 'must be in the future' }).waitFor();

  // Escape cancels; nothing was created.
  await page.keyboard.press('Escape');
  await dlg.waitFor({ state: 'hidden' });
  const list = (await srv.req('GET', '/api/v1/access-tokens', { token: seedToken })).json.accessTokens;
  assert.deepEqual(list.map((t) => t.name).sort(), ['seed-admin-token', 'spark-etl']);
});

test('keyboard only: Generate new token, fill the form, generate, Done', async () => {
  await page.locator('#new-token').focus();
  await page.keyboard.press('Enter');
  await page.locator('#dlg-create').waitFor({ state: 'visible' });
  assert.equal(await page.evaluate(() => document.activeElement.id), 'create-name');
  await page.keyboard.type('keyboard-made');
  await page.keyboard.press('Tab');
  await page.keyboard.type('0.5');
  await page.keyboard.press('Enter'); // submits the form
  const value = await readGenerated(page);
  assert.match(value, /^igt_/);
  await page.keyboard.press('Tab'); // Copy
  await page.keyboard.press('Tab'); // the client settings' selected tab (Spark)
  assert.equal(await page.evaluate(() => document.activeElement.dataset.snippet), 'spark');
  await page.keyboard.press('ArrowRight'); // the next tab: PyIceberg, shown
  assert.equal(await page.evaluate(() => document.activeElement.dataset.snippet), 'pyiceberg');
  assert.match(await page.locator('#created-snippet').textContent(), /load_catalog/);
  await page.keyboard.press('Tab'); // the settings
  await page.keyboard.press('Tab'); // Copy settings
  await page.keyboard.press('Tab'); // Done
  assert.equal(await page.evaluate(() => document.activeElement.id), 'created-done');
  await page.keyboard.press('Enter');
  await page.locator('#dlg-created').waitFor({ state: 'hidden' });
  assert.equal(await page.evaluate(() => document.activeElement.id), 'new-token', 'focus returns to the button');
  const r = row(page, 'keyboard-made');
  await r.waitFor();
  created['keyboard-made'] = { id: await r.getAttribute('data-id'), token: value };
  assert.match(await r.locator('.cell-rps').textContent(), /0\.5\/s/);
  assert.match(await r.textContent(), /expires in (4 weeks|30 days|1 month)/, 'the default expiration is 30 days');
});

test('activity chart: requests and 429s appear within a poll or two', async () => {
  const { id, token } = created['spark-etl']; // 2.5 rps, burst 3
  const codes = [];
  for (let i = 0; i < 12; i++) codes.push((await srv.req('GET', '/v1/config', { token })).status);
  assert.ok(codes.includes(200) && codes.includes(429), codes.join(','));
  const r = rowById(page, id);
  const toggle = r.getByRole('button', { name: 'Activity spark-etl' });
  await toggle.click();
  assert.equal(await toggle.getAttribute('aria-expanded'), 'true');
  const chart = page.locator(`#detail-${id} .activity`);
  await chart.locator('svg.chart rect.bar-req').first().waitFor({ timeout: 10000 });
  await chart.locator('svg.chart rect.bar-lim').first().waitFor({ timeout: 10000 });
  assert.ok(await chart.locator('svg.chart line.limit-line').count() === 1, 'the Max RPS line is drawn');
  const limited = codes.filter((c) => c === 429).length;
  await chart.locator('.activity-summary', { hasText: `${limited} rejected (429)` }).waitFor();
  // Polling continues: new traffic shows up without a reload.
  const seen = Number(await chart.getAttribute('data-total-requests'));
  await srv.req('GET', '/v1/config', { token });
  await page.waitForFunction(([sel, n]) => Number(document.querySelector(sel).dataset.totalRequests) > n,
    [`#detail-${id} .activity`, seen], { timeout: 10000 });
  await page.screenshot({ path: path.join(ARTIFACTS, 'console-token-list.png'), fullPage: true });
  await toggle.click();
  await chart.waitFor({ state: 'detached' });
});

test('the chart polls every few seconds only while it is shown', async () => {
  const { id } = created['spark-etl'];
  const polls = [];
  const onRequest = (req) => { if (req.url().includes(`/access-tokens/${id}/stats`)) polls.push(Date.now()); };
  page.on('request', onRequest);
  const count = async (ms) => {
    const n = polls.length;
    await page.waitForTimeout(ms);
    return polls.length - n;
  };
  try {
    const toggle = rowById(page, id).getByRole('button', { name: 'Activity spark-etl' });
    await toggle.click();
    const shown = await count(6600);
    assert.ok(shown >= 2 && shown <= 4, `${shown} polls in 6.6 s while shown (every 2–5 s)`);
    await page.getByRole('tab', { name: 'General' }).click();
    await page.waitForTimeout(200);
    assert.equal(await count(3600), 0, 'no polls while the tab is hidden');
    await page.getByRole('tab', { name: 'Access Tokens' }).click();
    assert.ok(await count(3600) >= 1, 'polling resumes when the chart is back');
    await toggle.click();
    await page.waitForTimeout(200);
    assert.equal(await count(3600), 0, 'no polls once collapsed');
  } finally {
    page.off('request', onRequest);
  }
});

test('a name with <script> and HTML is rendered as text', async () => {
  const evil = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">';
  await generate(page, { name: evil, expiration: 'never' });
  await readGenerated(page);
  await page.getByRole('button', { name: 'Done' }).click();
  const r = row(page, 'window.__pwned=1');
  await r.waitFor();
  assert.equal(await r.locator('.token-name').textContent(), evil);
  assert.equal(await r.locator('img, script').count(), 0);
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  created.evil = { id: await r.getAttribute('data-id') };
  assert.match(await r.textContent(), /Never/);
});

test('delete asks for confirmation; then the token is gone from the list and gets 401', async () => {
  const { id, token } = created['keyboard-made'];
  const r = rowById(page, id);
  await r.getByRole('button', { name: 'Delete keyboard-made' }).click();
  const dlg = page.locator('#dlg-delete');
  await dlg.waitFor({ state: 'visible' });
  assert.match(await dlg.textContent(), /Delete keyboard-made/);
  await dlg.getByRole('button', { name: 'Cancel' }).click();
  await dlg.waitFor({ state: 'hidden' });
  assert.equal(await r.count(), 1, 'cancel keeps it');
  assert.equal((await srv.req('GET', '/v1/config', { token })).status, 200);

  await r.getByRole('button', { name: 'Delete keyboard-made' }).click();
  await dlg.getByRole('button', { name: 'Delete' }).click();
  await r.waitFor({ state: 'detached' });
  await page.locator('#notice', { hasText: 'Deleted “keyboard-made”' }).waitFor();
  const gone = await srv.req('GET', '/v1/config', { token });
  assert.equal(gone.status, 401, gone.text);
  assert.equal((await apiToken(id)).status, 404);
});

test('changes made elsewhere show up without a reload', async () => {
  const { id } = created['spark-etl'];
  const s = await srv.req('POST', `/api/v1/access-tokens/${id}/suspend`, { token: seedToken, body: {} });
  assert.equal(s.status, 200);
  await page.evaluate(() => document.dispatchEvent(new Event('visibilitychange')));
  await rowById(page, id).locator('.badge', { hasText: 'Suspended' }).waitFor();
  await srv.req('POST', `/api/v1/access-tokens/${id}/activate`, { token: seedToken });
});

test('a banner lists the tokens that expire within the first warning threshold (7 days)', async () => {
  const mk = async (name, ms) => {
    const r = await srv.req('POST', '/api/v1/access-tokens', { token: seedToken,
      body: { name, expiresAt: new Date(Date.now() + ms).toISOString() } });
    assert.equal(r.status, 201, r.text);
    return r.json;
  };
  await mk('expires-in-2-days', 2 * DAY);
  await mk('expires-in-30-days', 30 * DAY);
  await page.reload();
  await page.locator('#app-view').waitFor({ state: 'visible' });
  const banner = page.locator('#expiry-banner');
  await banner.waitFor({ state: 'visible' });
  assert.match(await banner.locator('strong').textContent(), /expire within 7 days/);
  const items = await banner.locator('li').allTextContents();
  assert.ok(items.some((t) => /^expires-in-2-days \(admin\) expires in 2 days/.test(t)), items.join(' | '));
  assert.ok(!items.some((t) => t.includes('expires-in-30-days')), items.join(' | '));
  // the one nearest to expiry comes first
  const first = items[0];
  assert.ok(items.every((t) => t === first || !/in (\d+) hours?/.test(t)), items.join(' | '));
});

test('Settings → Audit: the changes made in this console, with filters and old → new', async () => {
  await page.getByRole('tab', { name: 'Audit' }).click();
  const panel = page.locator('#panel-audit');
  await panel.waitFor({ state: 'visible' });
  const rows = panel.locator('tr.audit-row');
  await rows.first().waitFor();
  const actions = await rows.evaluateAll((trs) => trs.map((tr) => tr.dataset.action));
  for (const a of ['token.create', 'token.suspend', 'token.activate', 'token.update', 'console.login', 'console.login_failed'])
    assert.ok(actions.includes(a), `${a} missing from ${actions.join(',')}`);
  // filter by action: only Max RPS edits, which show old → new
  await panel.getByLabel('Action').selectOption('token.update');
  await panel.getByRole('button', { name: 'Apply' }).click();
  await page.waitForFunction(() => [...document.querySelectorAll('#audit-body tr')].every((tr) => tr.dataset.action === 'token.update'));
  const details = await panel.locator('tr.audit-row td.details').allTextContents();
  assert.ok(details.length >= 1);
  assert.ok(details.some((d) => /maxRps: \S+ → \S+/.test(d)), details.join(' | '));
  // filter by actor: nobody of that name, an empty table
  await panel.getByLabel('Action').selectOption('');
  await panel.getByLabel('Actor').fill('nobody-at-all');
  await panel.getByRole('button', { name: 'Apply' }).click();
  await panel.locator('#audit-empty').waitFor({ state: 'visible' });
  assert.equal(await rows.count(), 0);
  // no password in the page, though a failed login is listed
  assert.ok(!(await page.content()).includes('not-the-password'));
  await panel.getByLabel('Actor').fill('');
  await page.getByRole('tab', { name: 'Access Tokens' }).click();
});

test('Settings → Cluster: this node alone when no Redis is configured', async () => {
  await page.getByRole('tab', { name: 'Cluster' }).click();
  const panel = page.locator('#panel-cluster');
  await panel.waitFor({ state: 'visible' });
  const rows = panel.locator('tr.cluster-row');
  await rows.first().waitFor();
  assert.equal(await rows.count(), 1);
  assert.match(await rows.first().locator('td').first().textContent(), /\(this node\)$/);
  assert.match(await panel.locator('#cluster-status').textContent(), /This node alone: no Redis is configured/);
  await page.getByRole('tab', { name: 'Access Tokens' }).click();
});

test('logout returns to the login page and the session is over', async () => {
  const cookie = (await page.context().cookies()).find((c) => c.name === 'icegate_session');
  assert.ok(cookie && cookie.httpOnly, 'an HttpOnly session cookie');
  await page.getByRole('button', { name: 'Logout' }).click();
  await page.locator('#login-view').waitFor({ state: 'visible' });
  assert.equal(await page.locator('#app-view').isVisible(), false);
  await page.reload();
  await page.locator('#login-view').waitFor({ state: 'visible' });
  const stale = await srv.req('GET', '/api/v1/access-tokens', { headers: { Cookie: `icegate_session=${cookie.value}` } });
  assert.equal(stale.status, 401, 'the old cookie no longer works');
});

test('rate limiter off: a banner names features.ratelimiter.enabled and Max RPS says "not enforced"', async () => {
  const dataDir = tempDir();
  createToken(dataDir, 'limited-but-off', ['--max-rps', '3']);
  createToken(dataDir, 'unlimited');
  const off = await new Server({ dataDir, env: { ICEGATE_FEATURES_RATELIMITER_ENABLED: 'false' } }).start();
  const context = await browser.newContext({ viewport: VIEWPORT });
  try {
    const p = await watchedPage(context);
    await login(p, off.url);
    const banner = p.locator('#rl-banner');
    await banner.waitFor({ state: 'visible' });
    assert.match(await banner.textContent(), /features\.ratelimiter\.enabled/);
    const r = row(p, 'limited-but-off');
    await r.locator('.tag', { hasText: 'not enforced' }).waitFor();
    assert.match(await r.locator('.cell-rps').textContent(), /3\/s/);
    assert.equal(await row(p, 'unlimited').locator('.tag').count(), 0);
    assert.deepEqual(await cspViolations(p), []);
  } finally {
    await context.close();
    await off.stop();
  }
});

test('a member sees only their own tokens and no Owner column', async () => {
  const dataDir = tempDir();
  createToken(dataDir, 'admins-token');
  const add = cli(dataDir, ['user', 'add', 'maria', '--role', 'member', '--password-stdin'], { input: 'maria-password-1\n' });
  assert.equal(add.code, 0, add.stderr);
  createToken(dataDir, 'marias-token', ['--owner', 'maria']);
  const s2 = await new Server({ dataDir }).start();
  const context = await browser.newContext({ viewport: VIEWPORT });
  try {
    const p = await watchedPage(context);
    await login(p, s2.url, 'maria', 'maria-password-1');
    assert.equal(await p.locator('#user-role').textContent(), 'member');
    await row(p, 'marias-token').waitFor();
    assert.equal(await row(p, 'admins-token').count(), 0);
    const heads = await p.locator('#tokens-head th').allTextContents();
    assert.ok(!heads.includes('Owner'), heads.join(','));
    await generate(p, { name: 'maria-second', maxRps: 1, expiration: '90' });
    const v = await readGenerated(p);
    await p.getByRole('button', { name: 'Done' }).click();
    await row(p, 'maria-second').waitFor();
    assert.equal((await s2.req('GET', '/v1/config', { token: v })).status, 200);
    assert.deepEqual(await cspViolations(p), []);
  } finally {
    await context.close();
    await s2.stop();
  }
});

test('a member sees who suspended a token and who set its limit; what an admin imposed she cannot lift', async () => {
  const dataDir = tempDir();
  createToken(dataDir, 'admins-token');
  const add = cli(dataDir, ['user', 'add', 'maria', '--role', 'member', '--password-stdin'], { input: 'maria-password-1\n' });
  assert.equal(add.code, 0, add.stderr);
  const locked = createToken(dataDir, 'locked-by-admin', ['--owner', 'maria', '--max-rps', '5']);
  assert.equal(cli(dataDir, ['token', 'suspend', locked.id, '--reason', 'incident 7']).code, 0);
  createToken(dataDir, 'marias-own', ['--owner', 'maria']);
  const s3 = await new Server({ dataDir }).start();
  const context = await browser.newContext({ viewport: VIEWPORT });
  try {
    const p = await watchedPage(context);
    await login(p, s3.url, 'maria', 'maria-password-1');
    const r = row(p, 'locked-by-admin');
    await r.waitFor();
    assert.equal(await r.locator('.suspended-by').textContent(), 'by admin cli');
    assert.match(await r.locator('.cell-status .lock-note').textContent(), /only an admin can activate it/);
    const act = r.getByRole('button', { name: 'Activate locked-by-admin' });
    assert.equal(await act.isDisabled(), true);
    assert.match(await act.getAttribute('title'), /Suspended by an admin/);
    assert.equal(await r.locator('.rps-set-by').textContent(), 'set by admin');
    assert.equal(await r.getByRole('button', { name: 'Edit Max RPS locked-by-admin' }).isDisabled(), true);
    // Her own token: she suspends it, sees herself as the suspender, and may activate it again.
    const own = row(p, 'marias-own');
    await own.getByRole('button', { name: 'Suspend marias-own' }).click();
    await p.locator('#dlg-suspend').getByRole('button', { name: 'Suspend' }).click();
    await own.locator('.suspended-by', { hasText: 'by member maria' }).waitFor();
    assert.equal(await own.locator('.lock-note').count(), 0);
    const ownAct = own.getByRole('button', { name: 'Activate marias-own' });
    assert.equal(await ownAct.isDisabled(), false);
    await ownAct.click();
    await own.locator('.badge-active').waitFor();
    assert.deepEqual(await cspViolations(p), []);
  } finally {
    await context.close();
    await s3.stop();
  }
});

test('an ended session sends the person back to the login page with a message', async () => {
  const context = await browser.newContext({ viewport: VIEWPORT });
  const seen = [];
  try {
    const p = await watchedPage(context, seen);
    await login(p, srv.url);
    await context.clearCookies(); // as if the session expired or the server restarted
    await generate(p, { name: 'after-expiry' });
    await p.locator('#login-view').waitFor({ state: 'visible' });
    await p.getByRole('alert').filter({ hasText: 'Your session has ended. Log in again.' }).waitFor();
    assert.equal(await p.locator('dialog[open]').count(), 0, 'dialogs are closed');
    // The only thing logged is the browser's line for that 401.
    assert.equal(seen.length, 1, seen.join('\n'));
    assert.match(seen[0], /status of 401.*\/api\/v1\/access-tokens/);
    assert.equal((await srv.req('GET', '/api/v1/access-tokens', { token: seedToken })).json.accessTokens
      .some((t) => t.name === 'after-expiry'), false);
  } finally {
    await context.close();
  }
});

test('the watch catches what it should: an injected inline script is a CSP violation', async () => {
  const context = await browser.newContext({ viewport: VIEWPORT });
  const seen = [];
  try {
    const p = await watchedPage(context, seen);
    await p.goto(`${srv.url}/`);
    await p.locator('#login-view').waitFor({ state: 'visible' });
    await p.evaluate(() => {
      const s = document.createElement('script');
      s.textContent = 'window.__inline = 1';
      document.body.append(s);
    });
    await p.waitForFunction(() => window.__cspViolations.length > 0);
    assert.equal(await p.evaluate(() => window.__inline), undefined, 'the inline script did not run');
    assert.match((await cspViolations(p)).join('\n'), /script-src/);
    assert.ok(seen.some((m) => /Content Security Policy/.test(m)), seen.join('\n'));
  } finally {
    await context.close();
  }
});

test('no console errors, page errors or CSP violations on any page', async () => {
  assert.deepEqual(await cspViolations(page), []);
  assert.deepEqual(problems, []);
});

test('shadow mode: the row says so and the activity chart counts the would-be 429s as their own series', async () => {
  const c = await srv.req('POST', '/api/v1/access-tokens', { token: seedToken, body: { name: 'shadowed', maxRps: 0.5, burst: 1, rateLimitMode: 'shadow' } });
  assert.equal(c.status, 201, c.text);
  for (let i = 0; i < 5; i++) assert.equal((await srv.req('GET', '/v1/config', { token: c.json.token })).status, 200);
  const context = await browser.newContext({ viewport: VIEWPORT });
  const p = await watchedPage(context);
  try {
    await login(p, srv.url);
    const r = rowById(p, c.json.id);
    await r.waitFor();
    assert.equal(await r.locator('.tag-shadow').textContent(), 'shadow');
    await r.getByRole('button', { name: 'Activity shadowed' }).click();
    const chart = p.locator(`#detail-${c.json.id}`);
    await chart.locator('.bar-shadow').first().waitFor({ timeout: 10000 });
    await p.waitForFunction((id) => /over the limit but served/.test(document.querySelector(`#detail-${id}`)?.textContent || ''),
      c.json.id, { timeout: 10000 });
    assert.match(await chart.textContent(), /4 over the limit but served/);
  } finally {
    await context.close();
  }
});

test('access: scopes, allowed networks, namespaces and rate limit mode in Generate and in Edit access, with validation', async () => {
  const context = await browser.newContext({ viewport: VIEWPORT });
  const page = await watchedPage(context); // its own page: an earlier test logged the shared one out
  try {
    await login(page, srv.url);
    const shown = page.locator('#dlg-created');
    await page.getByRole('button', { name: 'Generate new token' }).click();
    const dlg = page.locator('#dlg-create');
    await dlg.waitFor({ state: 'visible' });
    await dlg.getByLabel('Token name').fill('dash-ro');
    assert.equal(await dlg.getByLabel(/Write the catalog/).isChecked(), true, 'read and write by default');
    assert.equal(await dlg.locator('#create-scope-admin').isChecked(), true, 'an admin\'s token gets admin by default');
    await dlg.getByLabel(/Write the catalog/).uncheck();
    await dlg.locator('#create-scope-admin').uncheck();
    await dlg.getByLabel(/Allowed networks/).fill('10.0.0.0/8, nope');
    await dlg.getByRole('button', { name: 'Generate' }).click();
    await dlg.locator('#create-cidrs-error', { hasText: /“nope” is not an IPv4 or IPv6 CIDR/ }).waitFor();
    await dlg.getByLabel(/Allowed networks/).fill('10.0.0.0/8\n127.0.0.0/8');
    await dlg.getByLabel(/Namespaces/).fill('analytics\nraw..events');
    await dlg.getByRole('button', { name: 'Generate' }).click();
    await dlg.locator('#create-ns-error', { hasText: /“raw..events” has an empty level/ }).waitFor();
    await dlg.getByLabel(/Namespaces/).fill('analytics\nraw.events');
    await dlg.getByLabel('Rate limit mode').selectOption('shadow');
    await dlg.getByRole('button', { name: 'Generate' }).click();
    const value = await readGenerated(page);
    await shown.getByRole('button', { name: 'Done' }).click();
    const r = row(page, 'dash-ro');
    await r.waitFor();
    assert.match(await r.locator('.access-line').textContent(), /read-only · from 10\.0\.0\.0\/8 \+1 · in analytics \+1/);
    const id = await r.getAttribute('data-id');
    const t = (await apiToken(id)).json;
    assert.deepEqual(t.scopes, ['catalog:read']);
    assert.deepEqual(t.allowedCidrs, ['10.0.0.0/8', '127.0.0.0/8']);
    assert.equal(t.rateLimitMode, 'shadow');
    assert.deepEqual(t.namespaces, [['analytics'], ['raw', 'events']]);
    assert.equal((await srv.req('GET', '/v1/config', { token: value })).status, 200);
    assert.equal((await srv.req('POST', '/v1/namespaces', { token: value, body: { namespace: ['ro'] } })).status, 403);
    // Edit access: give it write, drop the networks; the next request sees it.
    await r.getByRole('button', { name: 'Access dash-ro' }).click();
    const ed = page.locator('#dlg-access');
    await ed.waitFor({ state: 'visible' });
    assert.equal(await ed.getByLabel(/Write the catalog/).isChecked(), false);
    assert.equal(await ed.getByLabel(/Allowed networks/).inputValue(), '10.0.0.0/8\n127.0.0.0/8');
    assert.equal(await ed.getByLabel(/Namespaces/).inputValue(), 'analytics\nraw.events');
    await ed.getByLabel(/Read the catalog/).uncheck();
    await ed.getByRole('button', { name: 'Save' }).click();
    await ed.locator('#access-scopes-error', { hasText: 'Choose at least one scope.' }).waitFor();
    await ed.getByLabel(/Read the catalog/).check();
    await ed.getByLabel(/Write the catalog/).check();
    await ed.getByLabel(/Allowed networks/).fill('');
    await ed.getByLabel(/Namespaces/).fill('');
    await ed.getByRole('button', { name: 'Save' }).click();
    await ed.waitFor({ state: 'hidden' });
    await page.locator('#notice', { hasText: 'Access of “dash-ro” saved.' }).waitFor();
    assert.equal(await r.locator('.access-line').count(), 0, 'default access: no line');
    const after = (await apiToken(id)).json;
    assert.deepEqual(after.scopes, ['catalog:read', 'catalog:write']);
    assert.equal(after.allowedCidrs, null);
    assert.equal(after.namespaces, null);
    assert.equal((await srv.req('POST', '/v1/namespaces', { token: value, body: { namespace: ['rw'] } })).status, 200);
  } finally {
    await context.close();
  }
});

