// app/entity.js: #/entity/<id>: all attributes (live), tags, a mini map, and a history chart
// (uPlot) with zoom (drag), pan (Shift + drag, buttons), range presets, comparison with other
// entities, CSV export of what is shown and a text alternative (summary + data table). When the
// server announces "forecast" (ui/config features), a toggle adds the next 72 h of the entity's
// first series (GET /api/v1/forecast): a dashed line and its interval as a band.

import { h, mount, setText, errorBox } from './dom.js';
import { L, createMap } from './map.js';
import { store } from './store.js';
import { t, getLang } from '../i18n.js';
import { api } from '../common/api.js';
import { fmtValue, fmtNumber, fmtDateTime, fmtAge, fmtPercent } from '../common/format.js';
import { UNITS, isStale, entityColor } from './domains.js';
import { timeChart, pickStep, align, stats, PALETTE } from './chart.js';
import { hasFeature } from './alertbus.js';

const DAY = 86400e3;
const FORECAST = { horizon: '72h', level: 0.95, color: '#7c3aed', band: 'rgba(124, 58, 237, 0.16)' };
// Last chart range per entity page visit (kept when the language changes).
let keep = { id: null, range: null, series: null, forecast: false };

function unitOf(e, attr) {
  if (!e) return UNITS[attr] || '';
  const u = e.attrs.get(`${attr}@unitCode`);
  return u ? String(u.value) : attr === 'fillingLevel' ? '' : UNITS[attr] || '';
}

function isNumericAttr(e, a) {
  const v = e.attrs.get(a);
  return a !== 'location' && !a.includes('@') && v && typeof v.value === 'number';
}

export function renderEntity(main, ctx, id) {
  let destroyed = false;
  const lang = getLang();
  const head = h('div', { class: 'entity-head' });
  const attrBody = h('tbody');
  const tagsEl = h('ul', { class: 'tags' });
  const valueCells = new Map(); // attr -> {val, time, tr}
  let miniMap = null;
  let miniMarker = null;

  // Chart state.
  const sameEntity = keep.id === id;
  let range = sameEntity && keep.range ? keep.range : null; // {from, to, preset}
  let series = sameEntity && keep.series ? keep.series : null; // [{id, attr}]
  let chart = null;
  let shown = null; // {xs, ys, labels, units, step}
  let tableOpen = false;
  let reqSeq = 0;
  const canForecast = hasFeature(ctx.config, 'forecast'); // never ask a server that has none
  let forecastOn = canForecast && sameEntity && keep.forecast;
  const forecastStatus = h('p', { class: 'muted', 'aria-live': 'polite', 'data-testid': 'forecast-status' });
  let forecastBox = null;
  if (canForecast) {
    const cb = h('input', { type: 'checkbox', id: 'forecast-toggle', 'data-testid': 'forecast-toggle' });
    cb.checked = forecastOn;
    cb.addEventListener('change', () => {
      forecastOn = cb.checked;
      load();
    });
    forecastBox = h('div', { class: 'forecast-toggle' }, cb, h('label', { for: 'forecast-toggle' }, t('chart.forecast')));
  }

  const attrPick = h('fieldset', { class: 'attr-pick' }, h('legend', null, t('chart.series')));
  const chips = h('ul', { class: 'series-list', 'aria-label': t('chart.series') });
  const chartEl = h('div', { class: 'chart', 'data-testid': 'chart', role: 'img' });
  const caption = h('figcaption', { id: 'chart-caption' });
  const statusEl = h('p', { class: 'muted', 'aria-live': 'polite' });
  const tableBox = h('div', { class: 'data-points', hidden: true });
  const presets = {};
  const presetBtn = (p, label) => {
    const b = h('button', { type: 'button', class: 'btn', 'aria-pressed': 'false', onclick: () => setPreset(p) }, label);
    presets[p] = b;
    return b;
  };
  const toggleBtn = h('button', { type: 'button', class: 'btn', 'aria-expanded': 'false', 'aria-controls': 'chart-table', onclick: toggleTable }, t('chart.showTable'));
  tableBox.id = 'chart-table';
  const cmpInput = h('input', { id: 'cmp-entity', type: 'search', list: 'cmp-list', autocomplete: 'off', placeholder: t('filter.searchPh') });
  const cmpList = h('datalist', { id: 'cmp-list' });
  const cmpAttr = h('select', { id: 'cmp-attr' });
  const cmpErr = h('span', { class: 'muted', 'aria-live': 'polite' });

  const chartCard = h(
    'section',
    { class: 'card', 'aria-labelledby': 'hist-title' },
    h('h2', { id: 'hist-title' }, t('entity.history')),
    attrPick,
    h(
      'form',
      { class: 'compare-form', onsubmit: addCompare },
      h('div', null, h('label', { for: 'cmp-entity' }, t('chart.compare')), cmpInput, cmpList),
      h('div', null, h('label', { for: 'cmp-attr' }, t('chart.compareAttr')), cmpAttr),
      h('button', { type: 'submit', class: 'btn' }, t('chart.compareAdd')),
      cmpErr,
    ),
    chips,
    h(
      'div',
      { class: 'toolbar', role: 'group', 'aria-label': t('chart.range') },
      presetBtn('24h', t('chart.24h')),
      presetBtn('7d', t('chart.7d')),
      presetBtn('30d', t('chart.30d')),
      h('span', { class: 'sep' }),
      h('button', { type: 'button', class: 'btn', onclick: () => pan(-0.5) }, t('chart.panLeft')),
      h('button', { type: 'button', class: 'btn', onclick: () => pan(0.5) }, t('chart.panRight')),
      h('button', { type: 'button', class: 'btn', onclick: zoomOut }, t('chart.zoomOut')),
      forecastBox ? h('span', { class: 'sep' }) : null,
      forecastBox,
    ),
    h('p', { class: 'muted' }, t('chart.help')),
    h('figure', { class: 'chart-box' }, chartEl, caption),
    statusEl,
    canForecast ? forecastStatus : null,
    h(
      'div',
      { class: 'toolbar' },
      h('button', { type: 'button', class: 'btn', 'data-testid': 'export-csv', onclick: exportCsv }, t('chart.export')),
      toggleBtn,
    ),
    tableBox,
  );

  mount(
    main,
    h(
      'article',
      { class: 'page entity' },
      h('p', null, h('a', { href: '#/' }, t('entity.back'))),
      head,
      h(
        'div',
        { class: 'grid-2' },
        h(
          'section',
          { class: 'card', 'aria-labelledby': 'attr-title' },
          h('h2', { id: 'attr-title' }, t('entity.attributes')),
          h(
            'div',
            { class: 'table-wrap' },
            h(
              'table',
              { class: 'data-table attr-table' },
              h('thead', null, h('tr', null, ['entity.attr', 'entity.value', 'entity.unit', 'entity.time'].map((k) => h('th', { scope: 'col' }, t(k))))),
              attrBody,
            ),
          ),
          h('h2', null, t('entity.tags')),
          tagsEl,
        ),
        chartCard,
      ),
    ),
  );

  function entity() {
    return store.entities.get(id);
  }

  function drawHead(e) {
    const now = Date.now();
    const stale = isStale(e, now);
    const mapEl = h('div', { class: 'mini-map', role: 'region', 'aria-label': t('map.label') });
    mount(
      head,
      h(
        'div',
        { class: 'meta' },
        h('h1', null, store.label(e)),
        h('p', null, h('strong', null, `${t('entity.type')} : `), t(`type.${e.type}`, null, e.type), ` (${e.type})`, e.tags.kind ? ` · ${t(`domain.${e.tags.kind}`, null, e.tags.kind)}` : '', stale ? ' · ' : '', stale ? h('span', { class: 'badge badge-stale' }, t('entity.stale')) : null),
        h('p', { class: 'entity-id' }, e.id),
      ),
      e.loc ? mapEl : null,
    );
    if (e.loc) {
      miniMap = createMap(mapEl, ctx.config, { center: [e.loc.lat, e.loc.lon], zoom: 14 });
      miniMap.keyboard.disable();
      miniMarker = L.circleMarker([e.loc.lat, e.loc.lon], { radius: 9, color: '#1f2933', weight: 2, fillColor: entityColor(e, now), fillOpacity: 0.95 }).addTo(miniMap);
    }
    mount(tagsEl, ...Object.entries(e.tags).map(([k, v]) => h('li', null, h('strong', null, `${k} `), String(v))));
  }

  function attrRows(e) {
    const lg = getLang();
    const now = Date.now();
    const names = [...e.attrs.keys()].filter((a) => !a.includes('@')).sort((a, b) => (a === e.main ? -1 : b === e.main ? 1 : a.localeCompare(b)));
    let rebuilt = false;
    for (const a of names) {
      if (!valueCells.has(a)) rebuilt = true;
    }
    if (rebuilt) {
      valueCells.clear();
      mount(attrBody);
      for (const a of names) {
        const val = h('td', { class: 'val', 'data-testid': `attr-${a}` });
        const time = h('td', { class: 'nowrap' });
        const tr = h('tr', null, h('th', { scope: 'row' }, t(`attr.${a}`, null, a), a !== t(`attr.${a}`, null, a) ? h('span', { class: 'muted' }, ` (${a})`) : null), val, h('td', null, unitOf(e, a)), time);
        valueCells.set(a, { val, time, tr });
        attrBody.appendChild(tr);
      }
    }
    for (const a of names) {
      const v = e.attrs.get(a);
      const c = valueCells.get(a);
      setText(c.val, a === 'fillingLevel' ? fmtPercent(v.value, lg) : fmtValue(v.value, lg));
      setText(c.time, fmtAge(v.ts, lg, now));
      c.time.title = fmtDateTime(v.ts, lg);
    }
    if (miniMarker && e.loc) {
      miniMarker.setLatLng([e.loc.lat, e.loc.lon]);
      miniMarker.setStyle({ fillColor: entityColor(e, now) });
    }
  }

  function drawAttrPick(e) {
    const nums = [...e.attrs.keys()].filter((a) => isNumericAttr(e, a)).sort((a, b) => (a === e.main ? -1 : b === e.main ? 1 : a.localeCompare(b)));
    mount(attrPick, h('legend', null, t('chart.series')));
    for (const a of nums) {
      const cid = `pick-${a}`;
      const cb = h('input', { type: 'checkbox', id: cid, value: a });
      cb.checked = series.some((s) => s.id === id && s.attr === a);
      cb.addEventListener('change', () => {
        if (cb.checked) series.push({ id, attr: a });
        else series = series.filter((s) => !(s.id === id && s.attr === a));
        load();
      });
      attrPick.appendChild(h('div', { class: 'check' }, cb, h('label', { for: cid }, t(`attr.${a}`, null, a))));
    }
  }

  function label(s) {
    const e = store.entities.get(s.id);
    const name = s.id === id ? '' : `${e ? store.label(e) : s.id} · `;
    return `${name}${t(`attr.${s.attr}`, null, s.attr)}`;
  }

  function drawChips() {
    mount(
      chips,
      series.map((s, i) =>
        s.id === id
          ? null
          : h(
              'li',
              { class: 'series-chip' },
              h('span', { class: 'dot', style: { background: PALETTE[i % PALETTE.length] }, 'aria-hidden': 'true' }),
              label(s),
              h(
                'button',
                {
                  type: 'button',
                  'aria-label': t('chart.remove', { name: label(s) }),
                  onclick: () => {
                    series = series.filter((x) => x !== s);
                    drawChips();
                    load();
                  },
                },
                '×',
              ),
            ),
      ),
    );
  }

  function fillCompare() {
    mount(cmpList, ...[...store.entities.values()].slice(0, 5000).map((e) => h('option', { value: e.tags.name ? `${e.tags.name} — ${e.id}` : e.id })));
  }

  function resolve(s) {
    s = s.trim();
    if (!s) return null;
    const i = s.lastIndexOf(' — ');
    const cid = i >= 0 ? s.slice(i + 3) : s;
    if (store.entities.has(cid)) return store.entities.get(cid);
    const low = s.toLowerCase();
    for (const e of store.entities.values()) {
      if (e.id.toLowerCase().includes(low) || (e.tags.name && e.tags.name.toLowerCase().includes(low))) return e;
    }
    return null;
  }

  cmpInput.addEventListener('change', () => {
    const e = resolve(cmpInput.value);
    mount(cmpAttr);
    if (!e) return;
    const nums = [...e.attrs.keys()].filter((a) => isNumericAttr(e, a));
    const cur = entity();
    const pref = cur && cur.main && nums.includes(cur.main) ? cur.main : e.main;
    for (const a of nums) cmpAttr.appendChild(h('option', { value: a, selected: a === pref }, t(`attr.${a}`, null, a)));
  });

  function addCompare(ev) {
    ev.preventDefault();
    const e = resolve(cmpInput.value);
    if (!e) {
      setText(cmpErr, t('entity.notFound', { id: cmpInput.value }));
      return;
    }
    setText(cmpErr, '');
    if (!cmpAttr.value) cmpInput.dispatchEvent(new Event('change'));
    const a = cmpAttr.value || e.main;
    if (!a) return;
    if (!series.some((s) => s.id === e.id && s.attr === a)) series.push({ id: e.id, attr: a });
    cmpInput.value = '';
    drawChips();
    load();
  }

  function setPreset(p) {
    const span = p === '24h' ? DAY : p === '30d' ? 30 * DAY : 7 * DAY;
    const to = Date.now();
    range = { from: to - span, to, preset: p };
    load();
  }

  function pan(frac) {
    const span = range.to - range.from;
    range = { from: range.from + span * frac, to: range.to + span * frac, preset: null };
    load();
  }

  function zoomOut() {
    const span = range.to - range.from;
    const mid = (range.from + range.to) / 2;
    range = { from: mid - span, to: mid + span, preset: null };
    load();
  }

  /** The forecast of the entity's first own series: {target, points: [[ts, v, lo, hi]], reason,
  ** model, level} or {error}. */
  async function loadForecast() {
    const target = series.find((x) => x.id === id);
    if (!target) return null;
    try {
      const j = await api('/api/v1/forecast', { params: { id, attr: target.attr, horizon: FORECAST.horizon, level: FORECAST.level } });
      const points = [];
      for (const p of (j && j.points) || []) {
        const ts = Date.parse(p.at);
        if (Number.isFinite(ts) && typeof p.value === 'number') points.push([ts, p.value, p.lower, p.upper]);
      }
      return { target, points, reason: (j && j.reason) || '', model: (j && j.model) || '', level: (j && j.level) || FORECAST.level };
    } catch (err) {
      return { target, points: [], error: err };
    }
  }

  async function load() {
    keep = { id, range, series, forecast: forecastOn };
    for (const [p, b] of Object.entries(presets)) b.setAttribute('aria-pressed', String(range.preset === p));
    const seq = ++reqSeq;
    const from = Math.round(range.from);
    const to = Math.round(range.to);
    const [stepLabel] = pickStep(from, to, 1000);
    setText(statusEl, t('loading'));
    const wantForecast = canForecast && forecastOn;
    const fcP = wantForecast ? loadForecast() : Promise.resolve(null);
    const results = await Promise.allSettled(
      series.map((s) => api('/api/v1/query', { params: { id: s.id, attr: s.attr, from, to, agg: 'avg', every: stepLabel } })),
    );
    const fc = await fcP;
    if (destroyed || seq !== reqSeq) return;
    const pts = [];
    let err = null;
    results.forEach((r) => {
      if (r.status === 'fulfilled') {
        const s0 = (r.value.series || [])[0];
        pts.push(s0 ? s0.points : []);
      } else {
        err = r.reason;
        pts.push([]);
      }
    });
    const { xs, ys } = align(pts);
    const labels = series.map(label);
    const units = series.map((s) => unitOf(store.entities.get(s.id), s.attr));
    shown = { xs, ys, labels, units, step: stepLabel, from, to };
    // The forecast (not in `shown`: the export and the table are the history) as three more
    // series: the line, dashed, and the band between its bounds.
    const fcPts = fc && fc.points.length ? fc.points : null;
    let draw = { xs, ys };
    const chartSeries = series.map((s, i) => ({ label: labels[i], unit: units[i], color: PALETTE[i % PALETTE.length] }));
    const bands = [];
    let xMax = to;
    if (fcPts) {
      const n = series.length;
      const fcUnit = unitOf(entity(), fc.target.attr);
      const fcName = label(fc.target);
      draw = align([...pts, fcPts.map((p) => [p[0], p[1]]), fcPts.map((p) => [p[0], p[2]]), fcPts.map((p) => [p[0], p[3]])]);
      chartSeries.push(
        { label: `${fcName} · ${t('chart.forecastLine')}`, unit: fcUnit, color: FORECAST.color, dash: [8, 5] },
        { label: t('chart.forecastLow'), unit: fcUnit, color: 'rgba(124, 58, 237, 0.55)', width: 1 },
        { label: t('chart.forecastHigh'), unit: fcUnit, color: 'rgba(124, 58, 237, 0.55)', width: 1 },
      );
      bands.push({ series: [n + 2, n + 1], fill: FORECAST.band });
      xMax = Math.max(to, fcPts[fcPts.length - 1][0]);
    }
    if (chart) chart.destroy();
    chartEl.replaceChildren();
    chart = timeChart(
      chartEl,
      chartSeries,
      {
        height: 320,
        bands,
        timeLabel: t('chart.time'),
        onSelect(a, b) {
          if (b - a < 60e3) return;
          range = { from: a, to: b, preset: null };
          load();
        },
        onPan(dms) {
          range = { from: range.from + dms, to: range.to + dms, preset: null };
          load();
        },
      },
    );
    chart.u.setScale('x', { min: from / 1000, max: xMax / 1000 });
    chart.setData(draw);
    chart.u.setScale('x', { min: from / 1000, max: xMax / 1000 });
    // What is drawn, for tests and benchmarks (times in ms).
    const nonEmpty = xs.filter((_, i) => ys.some((a) => a[i] != null));
    window.__vigie.chart = { points: ys.reduce((n, a) => n + a.filter((v) => v != null).length, 0),
      firstTs: nonEmpty.length ? nonEmpty[0] : null, lastTs: nonEmpty.length ? nonEmpty[nonEmpty.length - 1] : null, step: stepLabel };
    // Text alternative.
    const lg = getLang();
    const parts = [t('chart.caption', { from: fmtDateTime(from, lg), to: fmtDateTime(to, lg) }) + ` (${t('chart.step', { step: stepLabel })})`];
    ys.forEach((a, i) => {
      const st = stats(a);
      const u = units[i] ? ` ${units[i]}` : '';
      parts.push(
        st
          ? t('chart.summary', { name: labels[i], min: fmtNumber(st.min, lg) + u, max: fmtNumber(st.max, lg) + u, mean: fmtNumber(st.mean, lg) + u, last: fmtNumber(st.last, lg) + u })
          : `${labels[i]} : ${t('chart.empty')}`,
      );
    });
    if (wantForecast) parts.push(drawForecastStatus(fc, lg));
    else {
      setText(forecastStatus, '');
      window.__vigie.forecast = null;
    }
    setText(caption, parts.join(' '));
    chartEl.setAttribute('aria-label', parts.join(' '));
    if (err) mount(statusEl, errorBox(err, t));
    else setText(statusEl, xs.length ? '' : t('chart.empty'));
    if (tableOpen) drawTable();
  }

  /** The forecast's text (status line and caption); also window.__vigie.forecast for tests. */
  function drawForecastStatus(fc, lg) {
    if (!fc) {
      window.__vigie.forecast = { points: 0, reason: 'no series' };
      setText(forecastStatus, '');
      return '';
    }
    if (fc.error) {
      window.__vigie.forecast = { points: 0, error: String(fc.error.message || fc.error) };
      mount(forecastStatus, errorBox(fc.error, t));
      return '';
    }
    if (!fc.points.length) {
      window.__vigie.forecast = { points: 0, reason: fc.reason };
      const txt = t('chart.forecastNone', { reason: fc.reason || t('chart.forecastNoReason') });
      setText(forecastStatus, txt);
      return txt;
    }
    const u = unitOf(entity(), fc.target.attr);
    const sfx = u ? ` ${u}` : '';
    const v = stats(fc.points.map((p) => p[1]));
    const lo = stats(fc.points.map((p) => (typeof p[2] === 'number' ? p[2] : null)));
    const hi = stats(fc.points.map((p) => (typeof p[3] === 'number' ? p[3] : null)));
    const last = fc.points[fc.points.length - 1][0];
    window.__vigie.forecast = { points: fc.points.length, firstTs: fc.points[0][0], lastTs: last, bands: lo && hi ? Math.min(lo.n, hi.n) : 0, model: fc.model };
    const txt = t('chart.forecastSummary', {
      model: fc.model || '–',
      p: fmtPercent(fc.level, lg),
      name: label(fc.target),
      to: fmtDateTime(last, lg),
      min: fmtNumber(v.min, lg) + sfx,
      max: fmtNumber(v.max, lg) + sfx,
      lo: lo ? fmtNumber(lo.min, lg) + sfx : '–',
      hi: hi ? fmtNumber(hi.max, lg) + sfx : '–',
    });
    const only = series.length > 1 ? ` ${t('chart.forecastOnly', { name: label(fc.target) })}` : '';
    setText(forecastStatus, txt + only);
    return txt;
  }

  function drawTable() {
    if (!shown) return;
    const lg = getLang();
    const max = 2000;
    const rows = [];
    for (let i = 0; i < Math.min(shown.xs.length, max); i++) {
      rows.push(h('tr', null, h('th', { scope: 'row', class: 'nowrap' }, fmtDateTime(shown.xs[i], lg)), shown.ys.map((a) => h('td', { class: 'num' }, a[i] === null ? '–' : fmtNumber(a[i], lg)))));
    }
    mount(
      tableBox,
      shown.xs.length > max ? h('p', { class: 'muted' }, t('chart.tooMany', { n: fmtNumber(max, lg, 0) })) : null,
      h(
        'table',
        { class: 'data-table', 'data-testid': 'chart-table' },
        h('caption', { class: 'visually-hidden' }, caption.textContent),
        h('thead', null, h('tr', null, h('th', { scope: 'col' }, t('chart.time')), shown.labels.map((l, i) => h('th', { scope: 'col' }, shown.units[i] ? `${l} (${shown.units[i]})` : l)))),
        h('tbody', null, rows),
      ),
    );
  }

  function toggleTable() {
    tableOpen = !tableOpen;
    tableBox.hidden = !tableOpen;
    toggleBtn.setAttribute('aria-expanded', String(tableOpen));
    toggleBtn.textContent = tableOpen ? t('chart.hideTable') : t('chart.showTable');
    if (tableOpen) drawTable();
    else tableBox.replaceChildren();
  }

  function exportCsv() {
    if (!shown) return;
    const q = (s) => (/[",\n;]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
    const lines = [['time', ...shown.labels.map((l, i) => `${series[i].id} ${series[i].attr}${shown.units[i] ? ` (${shown.units[i]})` : ''}`)].map(q).join(',')];
    for (let i = 0; i < shown.xs.length; i++) {
      lines.push([new Date(shown.xs[i]).toISOString(), ...shown.ys.map((a) => (a[i] === null ? '' : String(a[i])))].join(','));
    }
    const blob = new Blob([lines.join('\n') + '\n'], { type: 'text/csv;charset=utf-8' });
    const a = h('a', { href: URL.createObjectURL(blob), download: `vigie-${id.split(':').pop()}-${new Date(shown.from).toISOString().slice(0, 16)}.csv` });
    a.click(); // a detached link: nothing is added to the page
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  }

  let ready = false;
  function init() {
    const e = entity();
    if (!e) {
      mount(main, h('section', { class: 'page' }, h('p', null, h('a', { href: '#/' }, t('entity.back'))), errorBox({ title: t('entity.notFound', { id }) }, t)));
      return;
    }
    ready = true;
    drawHead(e);
    attrRows(e);
    if (!series) series = e.main && isNumericAttr(e, e.main) ? [{ id, attr: e.main }] : [...e.attrs.keys()].filter((a) => isNumericAttr(e, a)).slice(0, 1).map((a) => ({ id, attr: a }));
    if (!range) range = { from: Date.now() - 7 * DAY, to: Date.now(), preset: '7d' };
    drawAttrPick(e);
    drawChips();
    cmpInput.addEventListener('focus', fillCompare, { once: true });
    load();
  }

  const unsub = store.subscribe((dirty) => {
    if (destroyed) return;
    if (!ready) {
      if (store.loaded) init();
      return;
    }
    if (dirty && !dirty.has(id)) return;
    const e = entity();
    if (e) attrRows(e);
  });
  const ageTimer = setInterval(() => {
    const e = entity();
    if (ready && e) attrRows(e);
  }, 15000);
  const ro = new ResizeObserver(() => {
    if (chart) chart.setSize(chartEl.clientWidth);
  });
  ro.observe(chartEl);
  if (store.loaded) init();
  else ctx.whenLoaded().catch((err) => !destroyed && mount(main, h('section', { class: 'page' }, errorBox(err, t))));
  void lang;

  return {
    destroy() {
      destroyed = true;
      unsub();
      clearInterval(ageTimer);
      ro.disconnect();
      if (chart) chart.destroy();
      if (miniMap) miniMap.remove();
    },
  };
}
