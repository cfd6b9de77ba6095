// common/format.js: number, date and duration formatting with Intl, for a given language
// ('fr' | 'en'). Formatters are cached per language and options. Framework-free.

const cache = new Map();

/** Milliseconds since the epoch from a number (ms) or a date string (RFC 3339); NaN if bad. */
export function toMs(ts) {
  if (typeof ts === 'number') return ts;
  if (typeof ts === 'string') return /^\d+$/.test(ts) ? Number(ts) : Date.parse(ts);
  if (ts instanceof Date) return ts.getTime();
  return NaN;
}

function nf(lang, digits) {
  const k = `n|${lang}|${digits}`;
  let f = cache.get(k);
  if (!f) {
    f = new Intl.NumberFormat(lang, { maximumFractionDigits: digits, minimumFractionDigits: 0 });
    cache.set(k, f);
  }
  return f;
}

function df(lang, opts) {
  const k = `d|${lang}|${JSON.stringify(opts)}`;
  let f = cache.get(k);
  if (!f) {
    f = new Intl.DateTimeFormat(lang, opts);
    cache.set(k, f);
  }
  return f;
}

/** Sensible number of decimals for a value: 0 for big numbers, up to 2 for small ones. */
export function autoDigits(v) {
  const a = Math.abs(v);
  if (a >= 100) return 0;
  if (a >= 10) return 1;
  return 2;
}

/** Formats a number (digits: max fraction digits, default automatic). Non-numbers as text. */
export function fmtNumber(v, lang, digits) {
  if (v === null || v === undefined) return '–';
  if (typeof v !== 'number') return String(v);
  if (!Number.isFinite(v)) return '–';
  return nf(lang, digits === undefined ? autoDigits(v) : digits).format(v);
}

/** Formats any series value: numbers, booleans, strings, {lat, lon}. */
export function fmtValue(v, lang) {
  if (v && typeof v === 'object' && 'lat' in v) {
    return `${fmtNumber(v.lat, lang, 5)}, ${fmtNumber(v.lon, lang, 5)}`;
  }
  if (typeof v === 'boolean') return v ? '✓' : '✗';
  return fmtNumber(v, lang);
}

/** Date and time, e.g. "04/12/2026 19:20:03". */
export function fmtDateTime(ts, lang) {
  ts = toMs(ts);
  if (!Number.isFinite(ts)) return '–';
  return df(lang, { dateStyle: 'short', timeStyle: 'medium' }).format(new Date(ts));
}

/** Time of day when today, else short date and time. */
export function fmtWhen(ts, lang, now = Date.now()) {
  ts = toMs(ts);
  if (!Number.isFinite(ts)) return '–';
  const d = new Date(ts);
  if (new Date(now).toDateString() === d.toDateString()) {
    return df(lang, { timeStyle: 'medium' }).format(d);
  }
  return df(lang, { dateStyle: 'short', timeStyle: 'short' }).format(d);
}

/** Short date-time for axes and tables: "04/12 19:20". */
export function fmtShort(ts, lang) {
  ts = toMs(ts);
  if (!Number.isFinite(ts)) return '–';
  return df(lang, { day: '2-digit', month: '2-digit', hour: '2-digit', minute: '2-digit' }).format(new Date(ts));
}

/** Relative age, e.g. "il y a 5 min" / "5 min ago". */
export function fmtAge(ts, lang, now = Date.now()) {
  ts = toMs(ts);
  if (!Number.isFinite(ts)) return '–';
  const s = Math.round((ts - now) / 1000);
  const k = `r|${lang}`;
  let f = cache.get(k);
  if (!f) {
    f = new Intl.RelativeTimeFormat(lang, { numeric: 'auto', style: 'short' });
    cache.set(k, f);
  }
  const a = Math.abs(s);
  if (a < 60) return f.format(s, 'second');
  if (a < 3600) return f.format(Math.round(s / 60), 'minute');
  if (a < 86400 * 2) return f.format(Math.round(s / 3600), 'hour');
  if (a < 86400 * 60) return f.format(Math.round(s / 86400), 'day');
  if (a < 86400 * 730) return f.format(Math.round(s / (86400 * 30)), 'month');
  return f.format(Math.round(s / (86400 * 365)), 'year');
}

/** Percentage of a 0..1 fraction. */
export function fmtPercent(v, lang, digits = 0) {
  if (typeof v !== 'number' || !Number.isFinite(v)) return '–';
  const k = `p|${lang}|${digits}`;
  let f = cache.get(k);
  if (!f) {
    f = new Intl.NumberFormat(lang, { style: 'percent', maximumFractionDigits: digits });
    cache.set(k, f);
  }
  return f.format(v);
}
