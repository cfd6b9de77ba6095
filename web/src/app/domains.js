// app/domains.js: what the dashboard knows about entity types and domains (tag `kind`):
// main attribute, colour scale, usual cadence (for staleness), KPI tiles.

import { NOISE, PM25, FILLING, HEATING, POOL, ELEVATOR, STALE, NEUTRAL } from '../common/scales.js';

/** Usual reporting period (s) per type; staleness = older than min(2 h, 3 x cadence). */
export const CADENCE_S = {
  NoiseLevelObserved: 60,
  AirQualityObserved: 60,
  TrafficFlowObserved: 300,
  Building: 900,
  HeatingPlant: 900,
  WasteContainer: 3600,
  Elevator: 300,
  SwimmingPool: 900,
  WeatherObserved: 600,
};
export const STALE_MAX_MS = 2 * 3600 * 1000;

/** Candidate main attributes per type, first present wins. */
const MAIN = {
  NoiseLevelObserved: ['LAeq', 'laeq_T'],
  AirQualityObserved: ['pm25', 'pm10', 'no2', 'o3'],
  TrafficFlowObserved: ['pedestrians', 'intensity'],
  Building: ['electricityConsumption', 'temperature'],
  HeatingPlant: ['supplyTemperature'],
  WasteContainer: ['fillingLevel'],
  Vehicle: ['pm25', 'cargoWeight', 'speed'],
  Elevator: ['status'],
  SwimmingPool: ['occupancy'],
  WeatherObserved: ['temperature'],
};

/** Colour scale of an attribute (of a type), or null. */
export function scaleFor(type, attr) {
  if (attr === 'LAeq' || attr === 'laeq_T' || attr === 'LAmax') return NOISE;
  if (attr === 'pm25') return PM25;
  if (attr === 'fillingLevel') return FILLING;
  if (attr === 'supplyTemperature') return HEATING;
  if (type === 'Elevator' && attr === 'status') return ELEVATOR;
  if (type === 'SwimmingPool' && attr === 'occupancy') return POOL;
  return null;
}

export function mainAttr(e) {
  const c = MAIN[e.type] || [];
  for (const a of c) if (e.attrs.has(a)) return a;
  for (const a of e.attrs.keys()) if (a !== 'location' && !a.includes('@')) return a;
  return null;
}

export function staleAfterMs(type) {
  const c = CADENCE_S[type];
  return c ? Math.min(STALE_MAX_MS, 3 * c * 1000) : STALE_MAX_MS;
}

export function isStale(e, now) {
  return !e.lastTs || now - e.lastTs > staleAfterMs(e.type);
}

/** Marker colour of an entity now. */
export function entityColor(e, now) {
  if (isStale(e, now)) return STALE;
  const a = e.main;
  if (!a) return NEUTRAL;
  const s = scaleFor(e.type, a);
  const v = e.attrs.get(a);
  if (!s || !v) return NEUTRAL;
  return s.color(v.value);
}

/** Domains in display order (tag kind), with their colour for chips. */
export const DOMAINS = ['noise', 'air', 'mobility', 'energy', 'waste', 'sport', 'weather'];

/** Main (type, attr) of a domain view, with alternatives. */
export const DOMAIN_VIEW = {
  noise: [['NoiseLevelObserved', 'LAeq'], ['NoiseLevelObserved', 'LAmax']],
  air: [['AirQualityObserved', 'pm25'], ['AirQualityObserved', 'pm10'], ['AirQualityObserved', 'no2'], ['Vehicle', 'pm25']],
  mobility: [['TrafficFlowObserved', 'pedestrians'], ['TrafficFlowObserved', 'bikes'], ['TrafficFlowObserved', 'cars'], ['Elevator', 'faults']],
  energy: [['Building', 'electricityConsumption'], ['Building', 'gasConsumption'], ['Building', 'waterConsumption'], ['Building', 'temperature'], ['HeatingPlant', 'supplyTemperature']],
  waste: [['WasteContainer', 'fillingLevel'], ['Vehicle', 'cargoWeight']],
  sport: [['SwimmingPool', 'occupancy']],
  weather: [['WeatherObserved', 'temperature'], ['WeatherObserved', 'humidity'], ['WeatherObserved', 'windSpeed'], ['WeatherObserved', 'precipitation']],
};

/** Default units when the data has no "<attr>@unitCode" series. */
export const UNITS = {
  LAeq: 'dB(A)',
  LAmax: 'dB(A)',
  laeq_T: 'dB(A)',
  pm25: 'µg/m³',
  pm10: 'µg/m³',
  no2: 'µg/m³',
  o3: 'µg/m³',
  no: 'µg/m³',
  nox: 'µg/m³',
  so2: 'µg/m³',
  h2s: 'µg/m³',
  electricityConsumption: 'kWh',
  gasConsumption: 'kWh',
  waterConsumption: 'm³',
  temperature: '°C',
  supplyTemperature: '°C',
  co2: 'ppm',
  humidity: '%',
  speed: 'km/h',
  cargoWeight: 'kg',
  windSpeed: 'm/s',
  precipitation: 'mm',
  intensity: 'veh/h',
};

/**
 * KPI tiles. select(e) picks the entities; value(list) computes the headline from the latest
 * values; trend: {type, attr(s), agg} for the hourly query.
 */
export const KPIS = [
  { domain: 'noise', kind: 'noise', type: 'NoiseLevelObserved', attrs: ['LAeq'], agg: 'avg', how: 'mean', unit: 'dB(A)', digits: 1 },
  { domain: 'air', kind: 'air', type: 'AirQualityObserved', attrs: ['pm25'], agg: 'avg', how: 'mean', unit: 'µg/m³', digits: 1, max: 500 },
  { domain: 'mobility', kind: 'mobility', type: 'TrafficFlowObserved', attrs: ['pedestrians', 'bikes'], agg: 'sum', how: 'sum', unit: '', digits: 0 },
  { domain: 'energy', kind: 'energy', type: 'Building', attrs: ['electricityConsumption'], agg: 'sum', how: 'sum', unit: 'kWh', digits: 0 },
  { domain: 'water', kind: 'energy', type: 'Building', attrs: ['waterConsumption'], agg: 'sum', how: 'sum', unit: 'm³', digits: 2 },
  { domain: 'waste', kind: 'waste', type: 'WasteContainer', attrs: ['fillingLevel'], agg: 'avg', how: 'mean', unit: '%', digits: 0, scale: 100 },
  { domain: 'sport', kind: 'sport', type: 'SwimmingPool', attrs: ['occupancy'], agg: 'avg', how: 'sum', unit: '', digits: 0 },
];
