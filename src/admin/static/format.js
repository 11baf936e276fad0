// format.js — dates, relative times and numbers for people.

const rtf = new Intl.RelativeTimeFormat('en', { numeric: 'always' });
const dateFmt = new Intl.DateTimeFormat('en', { year: 'numeric', month: 'short', day: 'numeric' });
const dateTimeFmt = new Intl.DateTimeFormat('en', {
  year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit',
});
const numFmt = new Intl.NumberFormat('en', { maximumFractionDigits: 3 });

// Rounded, so that "7 days from now" still reads "in 7 days" a few seconds later.
const STEPS = [
  [45 * 60, 'minute', 60], [22 * 3600, 'hour', 3600], [60 * 86400, 'day', 86400],
  [365 * 86400, 'month', 30 * 86400], [Infinity, 'year', 365 * 86400],
];

// "3 minutes ago", "in 7 days", "just now".
export function relative(iso, now = Date.now()) {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '';
  const diff = (t - now) / 1000;
  const abs = Math.abs(diff);
  if (abs < 45) return 'just now';
  for (const [below, unit, secs] of STEPS) {
    if (abs < below) return rtf.format(Math.sign(diff) * Math.max(1, Math.round(abs / secs)), unit);
  }
  return '';
}

export const date = (iso) => dateFmt.format(new Date(iso));
export const dateTime = (iso) => dateTimeFmt.format(new Date(iso));
export const num = (n) => numFmt.format(n);

// A Date n days from now, kept to the minute so the hint and the request agree.
export function daysFromNow(n, now = Date.now()) {
  const d = new Date(now + n * 24 * 3600 * 1000);
  d.setSeconds(0, 0);
  return d;
}

// "2027-01-31" (local calendar date) -> the moment that date ends locally, i.e. the next local midnight.
export function endOfLocalDate(ymd) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(ymd || '');
  if (!m) return null;
  const d = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]) + 1, 0, 0, 0, 0);
  return Number.isNaN(d.getTime()) ? null : d;
}

// A local calendar date as "YYYY-MM-DD" (for <input type="date"> min/value).
export function ymd(d) {
  const p = (x) => String(x).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}
