// chart.js — a token's live activity: requests/s and 429s/s over the last few minutes, drawn as an inline SVG
// built with DOM calls (no innerHTML, no style attributes: classes and SVG presentation attributes only),
// refreshed by polling the stats endpoint while the chart is on screen.

import { api } from './api.js';
import { num } from './format.js';

const SVG = 'http://www.w3.org/2000/svg';
export const WINDOW_SECONDS = 180;
export const POLL_MS = 3000;

const H = 150, PL = 40, PR = 12, PT = 10, PB = 22;

function svg(tag, attrs = {}, parent) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (parent) parent.appendChild(el);
  return el;
}

function h(tag, cls, text) {
  const el = document.createElement(tag);
  if (cls) el.className = cls;
  if (text !== undefined) el.textContent = text;
  return el;
}

// 1, 2, 5, 10, 20, 50, ... at or above x.
function niceCeil(x) {
  if (x <= 1) return 1;
  const p = 10 ** Math.floor(Math.log10(x));
  for (const m of [1, 2, 5, 10]) if (m * p >= x) return m * p;
  return 10 * p;
}

export class ActivityChart {
  constructor(token) {
    this.token = token;
    this.timer = null;
    this.inflight = false;
    this.stats = null;
    this.error = '';

    this.el = h('div', 'activity');
    this.el.dataset.tokenId = token.id;
    const head = h('div', 'activity-head');
    const title = h('h3', 'activity-title', `Activity — last ${WINDOW_SECONDS / 60} minutes`);
    const legend = h('ul', 'legend');
    const li1 = h('li', 'legend-item');
    li1.append(h('span', 'swatch swatch-req'), document.createTextNode('requests/s'));
    const li2 = h('li', 'legend-item');
    li2.append(h('span', 'swatch swatch-lim'), document.createTextNode('rejected 429/s'));
    const li3 = h('li', 'legend-item');
    li3.append(h('span', 'swatch swatch-limit'), document.createTextNode('Max RPS'));
    legend.append(li1, li2, li3);
    head.append(title, legend);
    this.summary = h('p', 'activity-summary', 'Loading…'); // not aria-live: it changes every few seconds
    this.svg = svg('svg', {
      viewBox: `0 0 720 ${H}`, class: 'chart', role: 'img',
      'aria-label': `Requests per second for ${token.name}`,
    });
    this.el.append(head, this.svg, this.summary);
    this.draw();
  }

  setToken(token) {
    this.token = token;
    this.draw();
  }

  start() {
    if (this.timer) return;
    this.draw();
    this.poll();
    this.timer = setInterval(() => this.poll(), POLL_MS);
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
  }

  async poll() {
    // Poll only while the chart is on screen: attached, not in a hidden panel, and the page visible.
    if (this.inflight || document.visibilityState === 'hidden') return;
    if (!this.el.isConnected || this.el.offsetParent === null) return;
    this.inflight = true;
    try {
      this.stats = await api.stats(this.token.id, WINDOW_SECONDS);
      this.error = '';
    } catch (e) {
      if (e.status === 404) this.stop();
      this.error = e.message;
    } finally {
      this.inflight = false;
    }
    this.draw();
  }

  draw() {
    const s = this.stats;
    this.svg.replaceChildren();
    // Draw in the chart's real pixel width so text and bars are not stretched.
    const W = Math.max(320, Math.round(this.svg.getBoundingClientRect().width) || 720);
    this.svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
    const n = WINDOW_SECONDS;
    const req = s ? s.requests : new Array(n).fill(0);
    const lim = s ? s.limited : new Array(n).fill(0);
    // A shadow-mode token's would-be 429s: served, drawn as their own series (hatched) on top of the allowed part.
    const shw = s && s.shadowLimited ? s.shadowLimited : new Array(n).fill(0);
    const maxRps = this.token.maxRps;
    let peak = 0, sumReq = 0, sumLim = 0, sumShadow = 0;
    for (let i = 0; i < req.length; i++) {
      peak = Math.max(peak, req[i]);
      sumReq += req[i];
      sumLim += lim[i] || 0;
      sumShadow += shw[i] || 0;
    }
    let ymax = niceCeil(Math.max(peak, 1));
    const showLimit = maxRps != null && maxRps <= ymax * 2;
    if (showLimit) ymax = niceCeil(Math.max(ymax, maxRps * 1.15));

    const pw = W - PL - PR, ph = H - PT - PB;
    const y = (v) => PT + ph - (v / ymax) * ph;
    svg('title', {}, this.svg).textContent =
      `${this.token.name}: ${sumReq} requests and ${sumLim} rejected (429) in the last ${n / 60} minutes`;

    // Grid and y labels.
    for (const f of [0, 0.5, 1]) {
      const v = ymax * f;
      const yy = y(v);
      svg('line', { x1: PL, x2: W - PR, y1: yy, y2: yy, class: f === 0 ? 'axis' : 'grid' }, this.svg);
      const t = svg('text', { x: PL - 6, y: yy + 4, 'text-anchor': 'end', class: 'tick' }, this.svg);
      t.textContent = num(v);
    }
    // x labels: minutes ago.
    for (let m = 0; m <= n / 60; m++) {
      const xx = PL + pw - (m * 60 / n) * pw;
      const t = svg('text', {
        x: xx, y: H - 6, class: 'tick',
        'text-anchor': m === 0 ? 'end' : m === n / 60 ? 'start' : 'middle',
      }, this.svg);
      t.textContent = m === 0 ? 'now' : `−${m} min`;
    }
    // Bars: allowed requests from the axis up, the rejected part on top of them.
    const bw = pw / n;
    const bars = svg('g', { class: 'bars' }, this.svg);
    for (let i = 0; i < req.length; i++) {
      const r = req[i], l = Math.min(lim[i] || 0, r);
      if (!r) continue;
      const x = PL + i * bw + 0.3;
      const w = Math.max(bw - 0.6, 0.8);
      const ok = r - l;
      if (ok > 0) {
        const top = y(ok);
        svg('rect', { x, y: top, width: w, height: Math.max(PT + ph - top, 1), class: 'bar-req' }, bars);
      }
      if (l > 0) {
        const top = y(r);
        svg('rect', { x, y: top, width: w, height: Math.max(y(ok) - top, 1), class: 'bar-lim' }, bars);
      }
      const sv = Math.min(shw[i] || 0, ok);
      if (sv > 0) {
        const top = y(ok);
        svg('rect', { x, y: top, width: w, height: Math.max(y(ok - sv) - top, 1), class: 'bar-shadow' }, bars);
      }
    }
    if (showLimit) {
      const yy = y(maxRps);
      svg('line', { x1: PL, x2: W - PR, y1: yy, y2: yy, class: 'limit-line' }, this.svg);
    }

    if (this.error) {
      this.summary.textContent = `Could not load activity: ${this.error}`;
    } else if (s) {
      const last = req.length ? req[req.length - 1] : 0;
      const parts = [
        `${num(sumReq)} requests, ${num(sumLim)} rejected (429) in the last ${n / 60} minutes`,
        `peak ${num(peak)}/s`,
        `now ${num(last)}/s`,
        `since start: ${num(s.totalRequests)} requests, ${num(s.totalLimited)} rejected`,
      ];
      if (this.token.rateLimitMode === 'shadow' || s.totalShadowLimited) {
        parts.splice(1, 0, `${num(sumShadow)} over the limit but served (shadow mode: would be 429)`);
      }
      this.summary.textContent = parts.join(' · ');
      this.el.dataset.totalRequests = String(s.totalRequests);
      this.el.dataset.totalLimited = String(s.totalLimited);
      this.el.dataset.totalShadowLimited = String(s.totalShadowLimited || 0);
    }
  }
}
