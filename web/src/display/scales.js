// display/scales.js: the colour scales of the public displays. Each level has a word (in
// strings.js), a colour and an ink colour that keeps text on that colour above WCAG AA.

import { NOISE as NOISE_SCALE, PM25 as PM25_SCALE } from '../common/scales.js';

// The band edges come from common/scales.js, the one definition the dashboard uses too.
const edgesOf = (sc) => sc.bands.slice(0, -1).map((b) => b.max);

// Noise, LAeq dB(A): green < 55, yellow 55-65, orange 65-75, red from 75.
export const NOISE = {
  edges: edgesOf(NOISE_SCALE),
  min: 35,
  max: 95,
  colours: ['#37c978', '#f5d02f', '#ff8c2a', '#ff5a5a'],
  inks: ['#08130c', '#1a1500', '#1f0d00', '#1f0000'],
};

// European Air Quality Index (EEA bands, as also used by the French ATMO index since 2021),
// hourly concentrations in µg/m³. Levels: good, fair, moderate, poor, very poor, extremely poor.
export const AIR = {
  pm25: edgesOf(PM25_SCALE),
  pm10: [20, 40, 50, 100, 150],
  no2: [40, 90, 120, 230, 340],
  colours: ['#50f0e6', '#50ccaa', '#f0e641', '#ff5050', '#960032', '#7d2181'],
  inks: ['#04201e', '#04201a', '#1c1a00', '#1f0000', '#ffffff', '#ffffff'],
};

// Pool, share of the capacity: < 50 %, 50-85 %, 85-100 %, full.
export const POOL = {
  edges: [0.5, 0.85, 1],
  colours: ['#37c978', '#f5d02f', '#ff8c2a', '#ff5a5a'],
  inks: ['#08130c', '#1a1500', '#1f0d00', '#1f0000'],
};

// Index of the band holding v. Edges are upper bounds: exclusive for noise (55 is already
// "moderate"), inclusive for the air index (10 µg/m³ of PM2.5 is still "good"), as the
// dashboard's scales (common/scales.js) draw them.
export function band(edges, v, inclusive = false) {
  let i = 0;
  while (i < edges.length && (inclusive ? v > edges[i] : v >= edges[i])) i++;
  return i;
}

export function noiseLevel(v) {
  return NOISE_SCALE.bands.indexOf(NOISE_SCALE.band(v));
}

// Sub-index of one pollutant (0..5), or -1 when not known.
export function airSub(attr, v) {
  const e = AIR[attr];
  if (!e || typeof v !== 'number' || !Number.isFinite(v)) return -1;
  return band(e, v, true);
}

// The index is the worst sub-index of the pollutants known.
export function airLevel(values) {
  let lvl = -1;
  for (const a of ['pm25', 'pm10', 'no2']) lvl = Math.max(lvl, airSub(a, values[a]));
  return lvl;
}

export function poolLevel(occ, cap) {
  if (!cap || cap <= 0) return -1;
  return band(POOL.edges, occ / cap);
}
