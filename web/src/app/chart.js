// app/chart.js: uPlot wrappers (time series charts and sparklines) and query helpers.
import uPlot from 'uplot';
import { getLang } from '../i18n.js';
import { fmtNumber } from '../common/format.js';

export const PALETTE = ['#1d4f91', '#c2410c', '#15803d', '#7c3aed', '#be185d', '#0e7490', '#a16207', '#374151'];

/** Query steps, smallest first: [label, ms]. */
export const STEPS = [
  ['10s', 10e3],
  ['30s', 30e3],
  ['1m', 60e3],
  ['5m', 300e3],
  ['15m', 900e3],
  ['30m', 1800e3],
  ['1h', 3600e3],
  ['3h', 3 * 3600e3],
  ['6h', 6 * 3600e3],
  ['12h', 12 * 3600e3],
  ['1d', 86400e3],
];

/** Smallest step giving at most maxPoints buckets over [from, to). */
export function pickStep(from, to, maxPoints = 1000) {
  const span = Math.max(1, to - from);
  for (const s of STEPS) if (span / s[1] <= maxPoints) return s;
  return STEPS[STEPS.length - 1];
}

/** Aligns [{points: [[ts, v], ...]}] on the union of timestamps: {xs (ms), ys: [[v|null]]}. */
export function align(seriesPoints) {
  const set = new Set();
  for (const pts of seriesPoints) for (const p of pts) set.add(p[0]);
  const xs = [...set].sort((a, b) => a - b);
  const idx = new Map(xs.map((x, i) => [x, i]));
  const ys = seriesPoints.map((pts) => {
    const a = new Array(xs.length).fill(null);
    for (const [ts, v] of pts) a[idx.get(ts)] = typeof v === 'number' && Number.isFinite(v) ? v : null;
    return a;
  });
  return { xs, ys };
}

const dtfCache = new Map();
function dtf(opts) {
  const k = getLang() + JSON.stringify(opts);
  let f = dtfCache.get(k);
  if (!f) {
    f = new Intl.DateTimeFormat(getLang(), opts);
    dtfCache.set(k, f);
  }
  return f;
}

function axisDates(u, splits) {
  const min = u.scales.x.min;
  const max = u.scales.x.max;
  const span = (max - min) * 1000;
  let opts;
  if (span <= 36 * 3600e3) opts = { hour: '2-digit', minute: '2-digit' };
  else if (span <= 10 * 86400e3) {
    // Days at midnight, hours elsewhere.
    return splits.map((s) => {
      const d = new Date(s * 1000);
      if (d.getHours() === 0 && d.getMinutes() === 0) return dtf({ weekday: 'short', day: 'numeric' }).format(d);
      return dtf({ hour: '2-digit', minute: '2-digit' }).format(d);
    });
  } else opts = { day: '2-digit', month: '2-digit' };
  return splits.map((s) => dtf(opts).format(new Date(s * 1000)));
}

/**
 * Time chart. series: [{label, color, unit, dash?: [on, off], width?}]. opts: {height,
 * onSelect(fromMs, toMs), onPan(deltaMs), bands: [{series: [upperIdx, lowerIdx], fill}] (indexes
 * in `series`, from 0: the area between two series, e.g. a forecast interval), markers:
 * [{ts (ms), color, label}] (vertical lines, e.g. when an alert was raised)}.
 * Returns {u, setData({xs, ys}), setSize(w), destroy()}.
 */
export function timeChart(el, series, opts = {}) {
  const lang = getLang();
  const width = Math.max(280, el.clientWidth || 600);
  const o = {
    width,
    height: opts.height || 320,
    scales: { x: { time: true } },
    cursor: { drag: { x: true, y: false, setScale: false } },
    select: { show: true },
    legend: { show: true, live: true },
    series: [
      { label: opts.timeLabel || 'Time', value: (u, v) => (v == null ? '–' : dtf({ dateStyle: 'short', timeStyle: 'short' }).format(new Date(v * 1000))) },
      ...series.map((s) => ({
        label: s.unit ? `${s.label} (${s.unit})` : s.label,
        stroke: s.color,
        width: s.width || 2,
        dash: s.dash || undefined,
        spanGaps: false,
        points: { show: false },
        value: (u, v) => (v == null ? '–' : fmtNumber(v, lang)),
      })),
    ],
    axes: [
      { values: axisDates, space: 70, stroke: '#4d5866', grid: { stroke: '#e3e7ec' }, ticks: { stroke: '#cfd6de' } },
      { values: (u, sp) => sp.map((v) => fmtNumber(v, lang)), stroke: '#4d5866', grid: { stroke: '#e3e7ec' }, ticks: { stroke: '#cfd6de' }, size: 56 },
    ],
    bands: (opts.bands || []).map((b) => ({ series: [b.series[0] + 1, b.series[1] + 1], fill: b.fill })),
    hooks: {
      draw: [
        (u) => {
          for (const m of opts.markers || []) {
            const x = u.valToPos(m.ts / 1000, 'x', true);
            if (!Number.isFinite(x) || x < u.bbox.left - 1 || x > u.bbox.left + u.bbox.width + 1) continue;
            const c = u.ctx;
            c.save();
            c.strokeStyle = m.color || '#8c1d40';
            c.lineWidth = 2 * uPlot.pxRatio;
            c.setLineDash([4 * uPlot.pxRatio, 3 * uPlot.pxRatio]);
            c.beginPath();
            c.moveTo(x, u.bbox.top);
            c.lineTo(x, u.bbox.top + u.bbox.height);
            c.stroke();
            if (m.label) {
              c.setLineDash([]);
              c.fillStyle = m.color || '#8c1d40';
              c.font = `${12 * uPlot.pxRatio}px system-ui, sans-serif`;
              const w = c.measureText(m.label).width;
              const right = x + 4 * uPlot.pxRatio + w <= u.bbox.left + u.bbox.width;
              c.textAlign = right ? 'left' : 'right';
              c.fillText(m.label, right ? x + 4 * uPlot.pxRatio : x - 4 * uPlot.pxRatio, u.bbox.top + 14 * uPlot.pxRatio);
            }
            c.restore();
          }
        },
      ],
      setSelect: [
        (u) => {
          if (u.select.width < 5 || !opts.onSelect) return;
          const a = u.posToVal(u.select.left, 'x') * 1000;
          const b = u.posToVal(u.select.left + u.select.width, 'x') * 1000;
          u.setSelect({ left: 0, width: 0, top: 0, height: 0 }, false);
          opts.onSelect(Math.round(a), Math.round(b));
        },
      ],
    },
  };
  const u = new uPlot(o, [[], ...series.map(() => [])], el);
  // Shift + drag pans (capture phase, before uPlot starts a selection).
  let panStart = null;
  const over = u.over;
  const down = (ev) => {
    if (!ev.shiftKey || !opts.onPan) return;
    ev.stopPropagation();
    ev.preventDefault();
    panStart = { x: ev.clientX, min: u.scales.x.min, max: u.scales.x.max };
    over.style.cursor = 'grabbing';
  };
  const up = (ev) => {
    if (!panStart) return;
    const dx = ev.clientX - panStart.x;
    const perPx = ((panStart.max - panStart.min) * 1000) / over.clientWidth;
    panStart = null;
    over.style.cursor = '';
    if (Math.abs(dx) > 3) opts.onPan(-dx * perPx);
  };
  over.addEventListener('mousedown', down, true);
  window.addEventListener('mouseup', up);
  return {
    u,
    setData({ xs, ys }) {
      u.setData([xs.map((x) => x / 1000), ...ys]);
    },
    setSize(w) {
      u.setSize({ width: Math.max(280, w), height: o.height });
    },
    destroy() {
      window.removeEventListener('mouseup', up);
      u.destroy();
    },
  };
}

/** Sparkline (no axes, no cursor). */
export function sparkline(el, color, xs, ys, opts = {}) {
  const u = new uPlot(
    {
      width: opts.width || 210,
      height: opts.height || 48,
      scales: { x: { time: true }, y: opts.yRange ? { range: opts.yRange } : {} },
      cursor: { show: false },
      select: { show: false },
      legend: { show: false },
      axes: [{ show: false }, { show: false }],
      series: [{}, { stroke: color, width: 1.5, fill: `${color}22`, points: { show: false }, spanGaps: false }],
    },
    [xs.map((x) => x / 1000), ys],
    el,
  );
  return u;
}

/** min, max, mean, last of an array with nulls. */
export function stats(a) {
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  let n = 0;
  let last = null;
  for (const v of a) {
    if (v === null || v === undefined) continue;
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
    n++;
    last = v;
  }
  if (!n) return null;
  return { min, max, mean: sum / n, last, n };
}
