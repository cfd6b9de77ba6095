// display/trend.js: the last hour of one value as a small line, from the values this page has
// seen (kept in localStorage when the page may use it, so a reload does not start empty).

import { s } from './dom.js';

const HOUR = 3600 * 1000;

function store() {
  try {
    return window.localStorage; // throws in an opaque-origin frame
  } catch {
    return null;
  }
}

export class Trend {
  constructor(key) {
    this.key = `vigie.display.trend.${key}`;
    this.points = [];
    const ls = store();
    if (ls) {
      try {
        const p = JSON.parse(ls.getItem(this.key) || '[]');
        if (Array.isArray(p)) this.points = p.filter((x) => Array.isArray(x) && x.length === 2);
      } catch {
        this.points = [];
      }
    }
  }

  add(ts, v, now) {
    if (typeof v !== 'number' || !Number.isFinite(v)) return;
    const last = this.points[this.points.length - 1];
    if (last && last[0] === ts) return;
    if (last && ts < last[0]) return;
    this.points.push([ts, v]);
    this.trim(now);
    const ls = store();
    if (ls) {
      try {
        ls.setItem(this.key, JSON.stringify(this.points));
      } catch {
        /* storage full or refused: the line lives in memory only */
      }
    }
  }

  // Merge a history ([[ts, v], ...], e.g. from /api/v1/public/query) with what is there.
  merge(points, now) {
    const m = new Map(this.points);
    for (const x of points) if (Array.isArray(x) && typeof x[1] === 'number' && Number.isFinite(x[1])) m.set(x[0], x[1]);
    this.points = [...m.entries()].sort((a, b) => a[0] - b[0]);
    this.trim(now);
  }

  trim(now) {
    const from = now - HOUR;
    while (this.points.length && this.points[0][0] < from) this.points.shift();
  }

  // Draw into svg (viewBox 0 0 1000 100): the line over the last hour, min and max marks.
  draw(svg, now, lo, hi) {
    this.trim(now);
    svg.replaceChildren();
    const pts = this.points;
    if (pts.length < 2) return false;
    let min = Infinity;
    let max = -Infinity;
    for (const [, v] of pts) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    if (lo != null) min = Math.min(min, lo);
    if (hi != null) max = Math.max(max, hi);
    if (max - min < 1e-9) max = min + 1;
    const x = (t) => ((t - (now - HOUR)) / HOUR) * 1000;
    const y = (v) => 95 - ((v - min) / (max - min)) * 90;
    const d = pts.map(([t, v], i) => `${i ? 'L' : 'M'}${x(t).toFixed(1)},${y(v).toFixed(1)}`).join('');
    svg.append(s('path', { d, class: 'trend-line', fill: 'none', 'vector-effect': 'non-scaling-stroke' }));
    return true;
  }
}
