// display.js: the public display pages, /display/<view> (noise, air, pool, city), for wall
// screens, street panels and, with embed=1, the iframes of the embeddable widget (widget.js).
// Public data only: GET /api/v1/public/latest, then the live stream GET /api/v1/live?public=1.
// Tests read window.__vigieDisplay = {updates, lastValue, state, ...}.

import './display/display.css';
import { readParams, idType } from './display/params.js';
import { strings } from './display/strings.js';
import { Feed } from './display/feed.js';
import { singleView, cityView, errorView, streamAttrs } from './display/views.js';

const p = readParams(window.location);
const t = strings(p.lang);
const root = document.getElementById('display') || document.body;
const html = document.documentElement;
html.lang = p.lang;
html.classList.add(`theme-${p.theme}`);
if (p.embed) html.classList.add('embed');

const info = {
  updates: 0,
  lastValue: null,
  lastTs: null,
  state: 'connecting',
  view: p.view,
  ids: p.ids,
  error: null,
};
window.__vigieDisplay = info;

const ctx = {
  p,
  t,
  report(r) {
    if (r.error) {
      info.error = r.error;
      return;
    }
    info.updates++;
    info.lastValue = r.value;
    info.lastTs = r.ts;
  },
};

// Entities by full id: {id, type, slug, label, pub: null|true|false, vals: {attr: {ts, v}}}.
const ents = new Map();
function entity(id) {
  let e = ents.get(id);
  if (!e) {
    const slug = id.split(':').pop();
    e = { id, type: idType(id), slug, label: (p.view !== 'city' && p.title) || slug, pub: null, vals: {} };
    ents.set(id, e);
  }
  return e;
}

// City tiles given as bare slugs ("nation-03", no type): find the public entity of that slug.
async function resolveSlugs() {
  if (!p.ids.some((id) => !id.startsWith('urn:'))) return;
  let series = [];
  try {
    const r = await fetch('/api/v1/public/latest', { headers: { Accept: 'application/json' } });
    if (r.ok) series = (await r.json()).series || [];
  } catch {
    return;
  }
  const order = ['NoiseLevelObserved', 'AirQualityObserved', 'SwimmingPool', 'WeatherObserved'];
  p.ids = p.ids.map((id) => {
    if (id.startsWith('urn:')) return id;
    const found = series
      .filter((x) => x.id.endsWith(`:${id}`))
      .sort((a, b) => (order.indexOf(a.type) + 99) % 99 - (order.indexOf(b.type) + 99) % 99)[0];
    return found ? found.id : id;
  });
  info.ids = p.ids;
}

function now() {
  return feed ? feed.now() : Date.now();
}

let view;
let feed = null;
let seeded = false;

// The last hour of the trend line, once, when the entity is known to be public
// (GET /api/v1/public/query: public series only, like public/latest).
async function seedTrend(e) {
  if (seeded || !view.trendAttr) return;
  seeded = true;
  const q = new URLSearchParams({ id: e.id, attr: view.trendAttr, from: String(Math.round(now() - 3600 * 1000)) });
  try {
    const r = await fetch(`/api/v1/public/query?${q}`, { headers: { Accept: 'application/json' }, cache: 'no-store' });
    if (!r.ok) return;
    const j = await r.json();
    const s = (j.series || []).find((x) => x.id === e.id && x.attr === view.trendAttr);
    if (s && Array.isArray(s.points)) view.seed(e, s.points, now());
  } catch {
    /* no history: the line fills in as values arrive */
  }
}

async function main() {
  if (!p.known) {
    view = errorView(root, ctx, t.badView, t.badViewHint);
    return;
  }
  if (!p.ids.length) {
    view = errorView(root, ctx, t.noId, t.noIdHint);
    return;
  }
  if (p.view === 'city') await resolveSlugs();
  document.title = `${p.title || t[`${p.view}Label`] || t.cityLabel} · Vigie`;
  view = p.view === 'city' ? cityView(root, ctx) : singleView(root, ctx);
  view.state('connecting');
  const types = [...new Set(p.ids.map(idType))];
  feed = new Feed({
    ids: p.ids,
    attrs: streamAttrs(p.view, types),
    heartbeat: p.heartbeat,
    refresh: p.refresh,
    onLatest(id, series) {
      const e = entity(id);
      const mine = series.filter((x) => x.id === id && x.attr !== 'location');
      if (!mine.length) {
        e.pub = false;
        view.update(e, now());
        return;
      }
      e.pub = true;
      const s0 = mine[0];
      e.type = s0.type || e.type;
      const name = s0.tags && s0.tags.name;
      if (name && !(p.view !== 'city' && p.title)) e.label = name;
      for (const x of mine) {
        const old = e.vals[x.attr];
        if (!old || x.ts >= old.ts) e.vals[x.attr] = { ts: x.ts, v: x.value };
      }
      view.update(e, now());
      seedTrend(e);
    },
    onValue(id, type, attr, ts, value) {
      const e = ents.get(id);
      if (!e || e.pub === false) return;
      const old = e.vals[attr];
      if (old && ts < old.ts) return;
      e.vals[attr] = { ts, v: value };
      if (type) e.type = type;
      view.update(e, now());
    },
    onState(st) {
      info.state = st;
      view.state(st);
    },
  });
  feed.start();
  setInterval(() => view.tick(now()), 5000);
}

main();
