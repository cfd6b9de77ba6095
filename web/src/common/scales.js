// common/scales.js: colour scales for Vigie's values, framework-free.
//
// A scale is {id, unit, bands: [{max, color, key}], color(v), band(v)}: a value v falls in the
// first band with v <= max (or v < max when band.open is set). `key` names the band for i18n
// ('good', 'fair', ...). Colours are chosen to stay distinguishable on a light background
// (markers get a dark outline) and are reused by the map, the legend, the heat strips.
//
// Also: STALE (grey), NEUTRAL (blue) and a sequential ramp(t) for heat maps (0..1).

export const STALE = '#8a9199';
export const NEUTRAL = '#3867a8';
export const NODATA = '#e3e6ea';

const GREEN = '#1e8f4e';
const LIME = '#8cc63f';
const YELLOW = '#f2c631';
const ORANGE = '#f0842c';
const RED = '#d7301f';
const DARKRED = '#8c1d40';
const PURPLE = '#5e2a84';

function scale(id, unit, bands) {
  return {
    id,
    unit,
    bands,
    band(v) {
      if (typeof v !== 'number' || !Number.isFinite(v)) return null;
      for (const b of bands) {
        if (b.open ? v < b.max : v <= b.max) return b;
      }
      return bands[bands.length - 1];
    },
    color(v) {
      const b = this.band(v);
      return b ? b.color : NODATA;
    },
  };
}

/** Noise LAeq in dB(A): <55 green, 55-65 yellow, 65-75 orange, from 75 red (upper bounds
** exclusive). The public displays take their edges from here too. */
export const NOISE = scale('noise', 'dB(A)', [
  { max: 55, open: true, color: GREEN, key: 'quiet', label: '< 55' },
  { max: 65, open: true, color: YELLOW, key: 'moderate', label: '55–65' },
  { max: 75, open: true, color: ORANGE, key: 'loud', label: '65–75' },
  { max: Infinity, color: RED, key: 'veryLoud', label: '≥ 75' },
]);

/** PM2.5 in µg/m³, European Air Quality Index bands. */
export const PM25 = scale('pm25', 'µg/m³', [
  { max: 10, color: GREEN, key: 'good', label: '≤ 10' },
  { max: 20, color: LIME, key: 'fair', label: '≤ 20' },
  { max: 25, color: YELLOW, key: 'moderate', label: '≤ 25' },
  { max: 50, color: ORANGE, key: 'poor', label: '≤ 50' },
  { max: 75, color: RED, key: 'veryPoor', label: '≤ 75' },
  { max: Infinity, color: PURPLE, key: 'extremelyPoor', label: '> 75' },
]);

/** Waste container filling level, fraction 0..1. */
export const FILLING = scale('filling', '%', [
  { max: 0.5, open: true, color: GREEN, key: 'low', label: '< 50 %' },
  { max: 0.75, open: true, color: YELLOW, key: 'half', label: '50–75 %' },
  { max: 0.9, open: true, color: ORANGE, key: 'high', label: '75–90 %' },
  { max: Infinity, color: RED, key: 'full', label: '≥ 90 %' },
]);

/** Heating plant supply temperature in °C: below 30 is a burner fault. */
export const HEATING = scale('heating', '°C', [
  { max: 30, open: true, color: RED, key: 'fault', label: '< 30 °C' },
  { max: Infinity, color: GREEN, key: 'ok', label: '≥ 30 °C' },
]);

/** Pool occupancy (people). */
export const POOL = scale('pool', '', [
  { max: 0, color: NEUTRAL, key: 'closed', label: '0' },
  { max: 100, open: true, color: GREEN, key: 'low', label: '< 100' },
  { max: 200, open: true, color: YELLOW, key: 'busy', label: '100–200' },
  { max: Infinity, color: ORANGE, key: 'crowded', label: '≥ 200' },
]);

/** Elevator status strings. */
export const ELEVATOR = {
  id: 'elevator',
  bands: [
    { value: 'working', color: GREEN, key: 'working', label: 'working' },
    { value: 'maintenance', color: YELLOW, key: 'maintenance', label: 'maintenance' },
    { value: 'fault', color: RED, key: 'fault', label: 'fault' },
  ],
  band(v) {
    return this.bands.find((b) => b.value === v) || null;
  },
  color(v) {
    const b = this.band(v);
    return b ? b.color : NODATA;
  },
};

/** Dark red accent, exported for alarms. */
export const ALARM = DARKRED;

// Sequential ramp for heat strips (light yellow -> orange -> dark purple), t in 0..1.
const RAMP = [
  [255, 247, 188],
  [254, 196, 79],
  [236, 112, 20],
  [204, 76, 2],
  [140, 45, 4],
  [73, 0, 106],
];

/** Colour of t in [0, 1] on the sequential ramp, as 'rgb(r,g,b)'. */
export function ramp(t) {
  if (typeof t !== 'number' || !Number.isFinite(t)) return NODATA;
  const x = Math.min(1, Math.max(0, t)) * (RAMP.length - 1);
  const i = Math.min(RAMP.length - 2, Math.floor(x));
  const f = x - i;
  const a = RAMP[i];
  const b = RAMP[i + 1];
  const c = (k) => Math.round(a[k] + (b[k] - a[k]) * f);
  return `rgb(${c(0)},${c(1)},${c(2)})`;
}

/** Relative luminance check: true when black text reads better than white on colour css. */
export function prefersDarkText(css) {
  const m = /^#([0-9a-f]{6})$/i.exec(css) || null;
  let r;
  let g;
  let b;
  if (m) {
    const n = parseInt(m[1], 16);
    r = n >> 16;
    g = (n >> 8) & 255;
    b = n & 255;
  } else {
    const p = /rgb\((\d+),(\d+),(\d+)\)/.exec(css);
    if (!p) return true;
    [r, g, b] = [+p[1], +p[2], +p[3]];
  }
  const lin = (c) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  const L = 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
  return L > 0.179;
}
