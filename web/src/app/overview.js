// app/overview.js: the overview (#/): KPI tiles per domain and the city map, both rendered
// from the single GET /api/v1/latest snapshot held by the store, kept live by the stream.
// Trends (one cheap hourly query per tile) are fetched after the first render.

import { h, mount, setText, errorBox } from './dom.js';
import { L, createMap } from './map.js';
import { store } from './store.js';
import { t, getLang } from '../i18n.js';
import { api } from '../common/api.js';
import { fmtNumber, fmtValue, fmtWhen, fmtPercent } from '../common/format.js';
import { NOISE, PM25, FILLING, HEATING, POOL, ELEVATOR, STALE, NEUTRAL } from '../common/scales.js';
import { KPIS, DOMAINS, UNITS, entityColor, isStale } from './domains.js';
import { alertBus } from './alertbus.js';

// Filters survive view changes (not page reloads).
const filters = { kinds: null, type: '', district: '' };
let alertsState = { checked: false, available: false, count: 0, byKind: null };

function passes(e, ignoreKind) {
  if (!ignoreKind && filters.kinds && !filters.kinds.has(e.tags.kind || 'other')) return false;
  if (filters.type && e.type !== filters.type) return false;
  if (filters.district && e.tags.district !== filters.district) return false;
  return true;
}

function kpiEntities(k) {
  const out = [];
  for (const e of store.byType.get(k.type) || []) {
    if (!k.attrs.some((a) => e.attrs.has(a))) continue;
    if (!passes(e, true)) continue;
    out.push(e);
  }
  return out;
}

/** Headline of a KPI from the latest values: {value, n, stale}. */
function kpiValue(k, now) {
  const ents = kpiEntities(k);
  let n = 0;
  let stale = 0;
  let acc = 0;
  let cnt = 0;
  for (const e of ents) {
    n++;
    if (isStale(e, now)) {
      stale++;
      continue;
    }
    let s = 0;
    let got = false;
    for (const a of k.attrs) {
      const v = e.attrs.get(a);
      if (!v || typeof v.value !== 'number' || !Number.isFinite(v.value)) continue;
      if (k.max !== undefined && v.value > k.max) continue; // sensor outliers (999.9)
      s += v.value;
      got = true;
    }
    if (!got) continue;
    acc += s;
    cnt++;
  }
  let value = null;
  if (cnt) value = k.how === 'mean' ? acc / cnt : acc;
  if (value !== null && k.scale) value *= k.scale;
  return { value, n, stale };
}

function popupContent(e) {
  const lang = getLang();
  const rows = [];
  for (const [a, v] of e.attrs) {
    if (a === 'location' || a.includes('@')) continue;
    rows.push([a, v]);
    if (rows.length >= 8) break;
  }
  rows.sort((x, y) => (x[0] === e.main ? -1 : y[0] === e.main ? 1 : 0));
  const unit = (a) => {
    const u = e.attrs.get(`${a}@unitCode`);
    return u ? String(u.value) : UNITS[a] || '';
  };
  const stale = isStale(e, Date.now());
  return h(
    'div',
    { class: 'popup' },
    h('div', { class: 'popup-title' }, store.label(e)),
    h('div', { class: 'popup-sub' }, `${t(`type.${e.type}`, null, e.type)}${e.tags.district ? ` · ${e.tags.district}` : ''}`),
    h(
      'table',
      { class: 'popup-table' },
      h(
        'tbody',
        null,
        rows.map(([a, v]) =>
          h(
            'tr',
            null,
            h('th', { scope: 'row' }, t(`attr.${a}`, null, a)),
            h('td', null, `${a === 'fillingLevel' ? fmtPercent(v.value, lang) : fmtValue(v.value, lang)} ${a === 'fillingLevel' ? '' : unit(a)}`),
          ),
        ),
      ),
    ),
    h('div', { class: 'popup-time' + (stale ? ' is-stale' : '') }, `${stale ? `${t('map.stale')} · ` : ''}${fmtWhen(e.lastTs, lang)}`),
    h('a', { href: `#/entity/${encodeURIComponent(e.id)}`, class: 'popup-link' }, t('map.details')),
  );
}

function legendSection(title, bands) {
  return h(
    'div',
    { class: 'legend-sec' },
    h('div', { class: 'legend-title' }, title),
    h(
      'ul',
      null,
      bands.map((b) => h('li', null, h('span', { class: 'swatch', style: { background: b.color }, 'aria-hidden': 'true' }), b.text)),
    ),
  );
}

function legend() {
  const sc = (s, prefix) => s.bands.map((b) => ({ color: b.color, text: `${b.label} · ${t(`${prefix}.${b.key}`)}` }));
  return h(
    'details',
    { class: 'legend', open: window.innerWidth > 900 },
    h('summary', null, t('legend.title')),
    legendSection(`${t('attr.LAeq')} (dB(A))`, sc(NOISE, 'band.noise')),
    legendSection(`${t('attr.pm25')} (µg/m³)`, sc(PM25, 'band.pm25')),
    legendSection(t('attr.fillingLevel'), sc(FILLING, 'band.filling')),
    legendSection(t('attr.supplyTemperature'), sc(HEATING, 'band.heating')),
    legendSection(t('legend.elevator'), ELEVATOR.bands.map((b) => ({ color: b.color, text: t(`band.elevator.${b.key}`) }))),
    legendSection(t('legend.pool'), sc(POOL, 'band.pool')),
    legendSection(t('legend.other'), [
      { color: NEUTRAL, text: t('legend.neutral') },
      { color: STALE, text: t('legend.stale') },
    ]),
    h('p', { class: 'legend-note' }, t('legend.schematic')),
  );
}

export function renderOverview(main, ctx) {
  const lang = getLang();
  const now0 = Date.now();
  let destroyed = false;
  const tiles = new Map(); // domain -> {el, value, meta, trend}
  const kpiRow = h('div', { class: 'kpis', role: 'list', 'aria-label': t('kpi.label') });
  for (const k of KPIS) {
    const value = h('span', { class: 'kpi-value', 'data-testid': 'kpi-value' }, '–');
    const unit = h('span', { class: 'kpi-unit' }, k.unit);
    const trend = h('div', { class: 'kpi-trend' }, '');
    const meta = h('div', { class: 'kpi-meta' }, '');
    const el = h(
      'a',
      { class: `kpi kpi-${k.domain}`, role: 'listitem', href: `#/domain/${k.kind}`, 'data-testid': `kpi-${k.domain}` },
      h('div', { class: 'kpi-title' }, t(`kpi.${k.domain}.title`)),
      h('div', { class: 'kpi-sub' }, t(`kpi.${k.domain}.sub`)),
      h('div', { class: 'kpi-figure' }, value, ' ', unit),
      trend,
      meta,
    );
    tiles.set(k.domain, { k, el, value, trend, meta });
    kpiRow.appendChild(el);
  }
  const alertTile = h('a', { class: 'kpi kpi-alerts', role: 'listitem', href: '#/alerts', 'data-testid': 'kpi-alerts', hidden: true });
  kpiRow.appendChild(alertTile);

  // Filters.
  const kindBox = h('fieldset', { class: 'filter-kinds' }, h('legend', null, t('filter.domain')));
  const typeSel = h('select', { id: 'f-type' });
  const distSel = h('select', { id: 'f-district' });
  const search = h('input', { id: 'f-search', type: 'search', list: 'f-search-list', placeholder: t('filter.searchPh'), autocomplete: 'off' });
  const searchList = h('datalist', { id: 'f-search-list' });
  const countEl = h('p', { class: 'filter-count', 'aria-live': 'polite' });
  const aside = h(
    'aside',
    { class: 'filters', 'aria-label': t('filter.label') },
    h('h2', { class: 'visually-hidden' }, t('filter.label')),
    kindBox,
    h('label', { for: 'f-type' }, t('filter.type')),
    typeSel,
    h('label', { for: 'f-district' }, t('filter.district')),
    distSel,
    h(
      'form',
      {
        class: 'search-form',
        onsubmit: (ev) => {
          ev.preventDefault();
          const id = resolveSearch(search.value);
          if (id) location.hash = `#/entity/${encodeURIComponent(id)}`;
        },
      },
      h('label', { for: 'f-search' }, t('filter.search')),
      search,
      searchList,
    ),
    countEl,
    legend(),
  );
  const mapEl = h('div', { class: 'map', id: 'map', 'data-testid': 'map', role: 'region', 'aria-label': t('map.label') });
  const errEl = h('div', { class: 'ov-error' });
  mount(
    main,
    h(
      'section',
      { class: 'overview', 'aria-labelledby': 'ov-title' },
      h('h1', { id: 'ov-title', class: 'visually-hidden' }, t('nav.overview')),
      errEl,
      kpiRow,
      h('div', { class: 'ov-body' }, aside, h('div', { class: 'map-wrap' }, mapEl)),
    ),
  );

  const map = createMap(mapEl, ctx.config);
  const renderer = L.canvas({ padding: 0.2 }); // a smaller canvas to allocate and clear
  const cluster = L.markerClusterGroup({
    disableClusteringAtZoom: 16,
    chunkedLoading: false, // one pass: ~1,700 markers cluster faster than the frames chunks cost
    showCoverageOnHover: false,
    spiderfyOnMaxZoom: false,
    maxClusterRadius: 45,
    iconCreateFunction(c) {
      const n = c.getChildCount();
      const size = n < 10 ? 30 : n < 100 ? 36 : 44;
      return L.divIcon({ html: `<span>${n}</span>`, className: 'cluster', iconSize: [size, size] });
    },
  });
  cluster.addTo(map);
  cluster.on('click', (ev) => {
    const r = ev.layer && ev.layer.vigie;
    if (r) L.popup({ maxWidth: 320 }).setLatLng(ev.layer.getLatLng()).setContent(popupContent(r.e)).openOn(map);
  });
  const markers = new Map(); // id -> {m, color, shown, lat, lon}

  function markerFor(e, now) {
    const color = entityColor(e, now);
    const m = L.circleMarker([e.loc.lat, e.loc.lon], {
      renderer,
      radius: e.type === 'HeatingPlant' ? 5 : 7,
      color: '#1f2933',
      weight: 1,
      fillColor: color,
      fillOpacity: 0.92,
    });
    const r = { m, color, shown: false, lat: e.loc.lat, lon: e.loc.lon, e };
    m.vigie = r; // the popup is made on click (below), not bound to each of ~2,000 markers
    return r;
  }

  function syncAll() {
    const now = Date.now();
    const add = [];
    const remove = [];
    for (const e of store.entities.values()) {
      if (!e.loc) continue;
      let r = markers.get(e.id);
      if (!r) {
        r = markerFor(e, now);
        markers.set(e.id, r);
      } else {
        r.e = e;
        const c = entityColor(e, now);
        if (c !== r.color) {
          r.color = c;
          r.m.setStyle({ fillColor: c });
        }
        if (r.lat !== e.loc.lat || r.lon !== e.loc.lon) {
          if (r.shown) remove.push(r.m);
          r.shown = false;
          r.lat = e.loc.lat;
          r.lon = e.loc.lon;
          r.m.setLatLng([r.lat, r.lon]);
        }
      }
      const want = passes(e, false);
      if (want && !r.shown) add.push(r.m);
      if (!want && r.shown) remove.push(r.m);
      r.shown = want;
    }
    for (const [id, r] of markers) {
      if (!store.entities.has(id) && r.shown) {
        remove.push(r.m);
        markers.delete(id);
      }
    }
    if (remove.length) cluster.removeLayers(remove);
    if (add.length) cluster.addLayers(add);
    let shown = 0;
    for (const r of markers.values()) if (r.shown) shown++;
    setText(countEl, t('filter.count', { n: fmtNumber(shown, getLang(), 0), total: fmtNumber(markers.size, getLang(), 0) }));
  }

  function syncDirty(ids) {
    const now = Date.now();
    const moved = [];
    const added = [];
    for (const id of ids) {
      const e = store.entities.get(id);
      if (!e || !e.loc) continue;
      let r = markers.get(id);
      if (!r) {
        r = markerFor(e, now);
        markers.set(id, r);
        r.shown = passes(e, false);
        if (r.shown) added.push(r.m);
        continue;
      }
      const c = entityColor(e, now);
      if (c !== r.color) {
        r.color = c;
        r.m.setStyle({ fillColor: c });
      }
      if (r.lat !== e.loc.lat || r.lon !== e.loc.lon) {
        r.lat = e.loc.lat;
        r.lon = e.loc.lon;
        if (r.shown) {
          moved.push(r);
        } else {
          r.m.setLatLng([r.lat, r.lon]);
        }
      }
    }
    if (moved.length) {
      cluster.removeLayers(moved.map((r) => r.m));
      for (const r of moved) r.m.setLatLng([r.lat, r.lon]);
      cluster.addLayers(moved.map((r) => r.m));
    }
    if (added.length) cluster.addLayers(added);
  }

  // Filters UI (options from the data).
  function buildFilterOptions() {
    const kinds = new Map();
    const types = new Map();
    const districts = new Map();
    for (const e of store.entities.values()) {
      const k = e.tags.kind || 'other';
      kinds.set(k, (kinds.get(k) || 0) + 1);
      types.set(e.type, (types.get(e.type) || 0) + 1);
      if (e.tags.district) districts.set(e.tags.district, (districts.get(e.tags.district) || 0) + 1);
    }
    const lg = getLang();
    const order = (k) => {
      const i = DOMAINS.indexOf(k);
      return i < 0 ? 99 : i;
    };
    const kindList = [...kinds.keys()].sort((a, b) => order(a) - order(b) || a.localeCompare(b));
    kindBox.replaceChildren(h('legend', null, t('filter.domain')));
    for (const k of kindList) {
      const id = `f-kind-${k}`;
      const cb = h('input', { type: 'checkbox', id, value: k });
      cb.checked = !filters.kinds || filters.kinds.has(k);
      cb.addEventListener('change', () => {
        const set = new Set();
        for (const x of kindBox.querySelectorAll('input:checked')) set.add(x.value);
        filters.kinds = set.size === kindList.length ? null : set;
        applyFilters();
      });
      kindBox.appendChild(h('div', { class: 'check' }, cb, h('label', { for: id }, `${t(`domain.${k}`, null, k)} (${fmtNumber(kinds.get(k), lg, 0)})`)));
    }
    typeSel.replaceChildren(h('option', { value: '' }, t('filter.allTypes')));
    for (const ty of [...types.keys()].sort()) {
      typeSel.appendChild(h('option', { value: ty, selected: ty === filters.type }, `${t(`type.${ty}`, null, ty)} (${fmtNumber(types.get(ty), lg, 0)})`));
    }
    distSel.replaceChildren(h('option', { value: '' }, t('filter.allDistricts')));
    for (const d of [...districts.keys()].sort()) {
      distSel.appendChild(h('option', { value: d, selected: d === filters.district }, `${d} (${fmtNumber(districts.get(d), lg, 0)})`));
    }
    searchList.replaceChildren();
    listFilled = false;
  }
  // The search suggestions (one option per entity) are built on first focus, not at render.
  let listFilled = false;
  search.addEventListener('focus', () => {
    if (listFilled) return;
    listFilled = true;
    searchList.replaceChildren(
      ...[...store.entities.values()].slice(0, 5000).map((e) => h('option', { value: e.tags.name ? `${e.tags.name} — ${e.id}` : e.id })),
    );
  });
  typeSel.addEventListener('change', () => {
    filters.type = typeSel.value;
    applyFilters();
  });
  distSel.addEventListener('change', () => {
    filters.district = distSel.value;
    applyFilters();
    loadTrends();
  });

  function resolveSearch(s) {
    s = s.trim();
    if (!s) return null;
    const i = s.lastIndexOf(' — ');
    const id = i >= 0 ? s.slice(i + 3) : s;
    if (store.entities.has(id)) return id;
    const low = s.toLowerCase();
    for (const e of store.entities.values()) {
      if (e.id.toLowerCase().includes(low) || (e.tags.name && e.tags.name.toLowerCase().includes(low))) return e.id;
    }
    return null;
  }

  function applyFilters() {
    syncAll();
    renderTiles();
  }

  // KPI tiles.
  const trends = new Map(); // domain -> {now, yesterday}
  function renderTiles() {
    const now = Date.now();
    const lg = getLang();
    for (const { k, el, value, meta, trend } of tiles.values()) {
      el.hidden = !!(filters.kinds && !filters.kinds.has(k.kind));
      const r = kpiValue(k, now);
      setText(value, r.value === null ? '–' : fmtNumber(r.value, lg, k.digits));
      let m = t('kpi.entities', { n: fmtNumber(r.n, lg, 0) });
      if (r.stale) m += ` · ${t('kpi.stale', { n: fmtNumber(r.stale, lg, 0) })}`;
      if (alertsState.available && alertsState.byKind) {
        const a = alertsState.byKind.get(k.kind) || 0;
        m += ` · ${t('kpi.alerts', { n: fmtNumber(a, lg, 0) })}`;
      }
      setText(meta, m);
      el.classList.toggle('has-stale', r.stale > 0);
      const tr = trends.get(k.domain);
      if (tr && tr.now !== null && tr.yesterday !== null && tr.yesterday !== 0) {
        const pct = (tr.now - tr.yesterday) / Math.abs(tr.yesterday);
        const arrow = pct > 0.005 ? '▲' : pct < -0.005 ? '▼' : '■';
        const pctText = Math.abs(pct) < 0.005 ? '±0 %' : `${pct > 0 ? '+' : ''}${fmtPercent(pct, lg, Math.abs(pct) < 0.1 ? 1 : 0)}`;
        setText(trend, `${arrow} ${pctText} ${t('kpi.vsYesterday')}`);
        trend.title = t('kpi.trendTitle', {
          now: fmtNumber(tr.now * (k.scale || 1), lg, k.digits),
          y: fmtNumber(tr.yesterday * (k.scale || 1), lg, k.digits),
        });
        trend.dataset.dir = pct > 0.005 ? 'up' : pct < -0.005 ? 'down' : 'flat';
      } else if (tr) {
        setText(trend, t('kpi.noTrend'));
      } else {
        setText(trend, ' ');
      }
    }
    if (alertsState.available) {
      alertTile.hidden = false;
      mount(
        alertTile,
        h('div', { class: 'kpi-title' }, t('kpi.alertsTitle')),
        h('div', { class: 'kpi-figure' }, h('span', { class: 'kpi-value', 'data-testid': 'kpi-value' }, fmtNumber(alertsState.count, lg, 0))),
        h('div', { class: 'kpi-meta' }, t('kpi.alertsOpen')),
      );
      alertTile.classList.toggle('has-alerts', alertsState.count > 0);
    }
  }

  async function loadTrends() {
    const hour = 3600e3;
    const last = Math.floor(Date.now() / hour) * hour - hour; // last complete hour
    const from = last - 24 * hour;
    await Promise.all(
      KPIS.map(async (k) => {
        try {
          const params = { type: k.type, agg: k.agg, every: '1h', from, to: last + hour };
          if (k.attrs.length === 1) params.attr = k.attrs[0];
          if (filters.district) params.where = `district:${filters.district}`;
          const j = await api('/api/v1/query', { params });
          if (destroyed) return;
          const at = (ts) => {
            let acc = 0;
            let n = 0;
            for (const s of j.series || []) {
              if (!k.attrs.includes(s.attr)) continue;
              for (const [pts, v] of s.points) {
                if (pts === ts && typeof v === 'number' && Number.isFinite(v) && (k.max === undefined || v <= k.max)) {
                  acc += v;
                  n++;
                }
              }
            }
            if (!n) return null;
            if (k.how === 'mean') return acc / n;
            return acc;
          };
          trends.set(k.domain, { now: at(last), yesterday: at(from) });
        } catch (e) {
          if (e.name !== 'AbortError') trends.set(k.domain, { now: null, yesterday: null });
        }
      }),
    );
    if (!destroyed) renderTiles();
  }

  async function loadAlerts() {
    // Read at every visit and on every alert change (alertBus), not once per page load.
    alertsState.checked = true;
    // Probe GET /api/v1/alerts only when the server says it has them: a 404 would be logged as
    // a console error by browsers. (ui/config `alerts: true` or `features: ["alerts"]`.)
    const c = ctx.config || {};
    if (!(c.alerts || (Array.isArray(c.features) && c.features.includes('alerts')))) return;
    try {
      const j = await api('/api/v1/alerts', { params: { state: 'open' } });
      const items = (j && (j.alerts || j.items)) || [];
      alertsState.available = true;
      alertsState.count = typeof j.total === 'number' ? j.total : items.length;
      const byKind = new Map();
      for (const a of items) {
        // An alert's `kind` is its rule's (threshold, stale...): the domain is the entity's.
        const e = store.entities.get(a.entity);
        const kind = (e && e.tags.kind) || (a.tags && a.tags.kind);
        if (kind) byKind.set(kind, (byKind.get(kind) || 0) + 1);
      }
      alertsState.byKind = byKind.size ? byKind : null;
    } catch {
      alertsState.available = false; // 404: the alerts feature is not there
    }
  }

  let builtOptions = false;
  let lastTiles = 0;
  let tileTimer = 0;
  function onData(dirty) {
    if (destroyed || !store.loaded) return;
    if (!dirty || !builtOptions) {
      performance.mark('vigie:ov-start');
      buildFilterOptions();
      performance.mark('vigie:ov-options');
      builtOptions = true;
      renderTiles();
      performance.mark('vigie:ov-tiles');
      syncAll();
      performance.mark('vigie:ov-markers');
      if (!store.firstRenderAt) store.firstRenderAt = Math.round(performance.now());
      lastTiles = Date.now();
      return;
    }
    syncDirty(dirty);
    // Tiles at most twice a second.
    const since = Date.now() - lastTiles;
    if (since > 500) {
      lastTiles = Date.now();
      renderTiles();
    } else if (!tileTimer) {
      tileTimer = setTimeout(() => {
        tileTimer = 0;
        lastTiles = Date.now();
        if (!destroyed) renderTiles();
      }, 500 - since);
    }
  }
  const unsub = store.subscribe(onData);
  const unsubAlerts = alertBus.subscribe(({ event }) => {
    if (destroyed || !event || !store.loaded) return;
    loadAlerts().then(() => !destroyed && renderTiles());
  });
  // Staleness changes with time alone: recolour every 30 s.
  const staleTimer = setInterval(() => {
    if (store.loaded) {
      syncAll();
      renderTiles();
    }
  }, 30000);

  if (store.loaded) onData(null);
  ctx.whenLoaded().then(
    () => {
      if (destroyed) return;
      setTimeout(() => {
        if (destroyed) return;
        loadTrends();
        loadAlerts().then(() => !destroyed && renderTiles());
      }, 50);
    },
    (err) => {
      if (!destroyed) mount(errEl, errorBox(err, t));
    },
  );
  void now0;
  void lang;

  return {
    destroy() {
      destroyed = true;
      unsub();
      unsubAlerts();
      clearInterval(staleTimer);
      clearTimeout(tileTimer);
      map.remove();
    },
  };
}
