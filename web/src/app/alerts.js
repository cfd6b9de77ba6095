// app/alerts.js: #/alerts: the alerts of the tenant (GET /api/v1/alerts, newest first) with
// filters kept in the URL (#/alerts?state=&severity=&type=&rule=&id=), acknowledge / resolve
// with an optional comment (write scope only), and the selected alert's entity on a small map
// and its series around the time it was raised (a vertical marker at raisedAt).
// Kept current by the live `alert` events (through alertBus) and a re-read every 30 s.

import { h, mount, setText, errorBox, shortId } from './dom.js';
import { L, createMap } from './map.js';
import { store } from './store.js';
import { alertBus } from './alertbus.js';
import { t, getLang } from '../i18n.js';
import { api } from '../common/api.js';
import { fmtNumber, fmtDateTime, fmtAge, toMs } from '../common/format.js';
import { UNITS, entityColor } from './domains.js';
import { timeChart, pickStep, align, stats } from './chart.js';

export const SEVERITIES = ['critical', 'high', 'medium', 'low', 'informational'];
export const STATES = ['open', 'acknowledged', 'resolved', 'all'];
const HOUR = 3600e3;
const LIMIT = 200;
const REFRESH_MS = 30000;
const MARKER = '#8c1d40';

/** Filters and selection from the hash (#/alerts?state=...); unknown values are dropped, so
** that no request is refused (a 400 is a console error). */
export function readParams(hash = window.location.hash) {
  const i = hash.indexOf('?');
  const q = new URLSearchParams(i >= 0 ? hash.slice(i + 1) : '');
  const state = q.get('state');
  const sev = q.get('severity');
  return {
    state: STATES.includes(state) ? state : 'open',
    severity: SEVERITIES.includes(sev) ? sev : '',
    type: (q.get('type') || '').slice(0, 127),
    rule: /^[A-Za-z0-9_.-]{1,63}$/.test(q.get('rule') || '') ? q.get('rule') : '',
    id: /^\d{1,20}$/.test(q.get('id') || '') ? q.get('id') : '',
  };
}

export function writeParams(p) {
  const q = new URLSearchParams();
  if (p.state !== 'open') q.set('state', p.state);
  for (const k of ['severity', 'type', 'rule', 'id']) if (p[k]) q.set(k, p[k]);
  const s = q.toString();
  const hash = `#/alerts${s ? `?${s}` : ''}`;
  // No hashchange: the view stays, only the address changes (bookmarkable, back to it later).
  if (window.location.hash !== hash) history.replaceState(null, '', hash);
}

function unitOf(e, attr) {
  const u = e && e.attrs.get(`${attr}@unitCode`);
  return u ? String(u.value) : UNITS[attr] || '';
}

function sevBadge(sev) {
  const s = SEVERITIES.includes(sev) ? sev : 'medium';
  return h('span', { class: `sev sev-${s}`, 'data-testid': 'alert-severity' }, t(`alerts.sev.${s}`));
}

function stateBadge(st) {
  return h('span', { class: `astate astate-${st}`, 'data-testid': 'alert-state' }, t(`alerts.st.${st}`, null, st));
}

function who(by) {
  return by === 'auto' ? t('alerts.auto') : by || '–';
}

export function renderAlerts(main, ctx) {
  let destroyed = false;
  let params = readParams();
  let alerts = [];
  let total = 0;
  let selected = null; // the alert object shown in the detail panel
  let rules = [];
  let loadSeq = 0;
  let chart = null;
  let miniMap = null;
  let firstLoad = true;

  const sel = (id, key, opts) => {
    const s = h('select', { id, 'data-testid': key });
    for (const [v, label] of opts) s.appendChild(h('option', { value: v }, label));
    return s;
  };
  const stateSel = sel('al-state', 'alerts-filter-state', STATES.map((s) => [s, t(`alerts.state.${s}`)]));
  const sevSel = sel('al-sev', 'alerts-filter-severity', [['', t('alerts.sev.all')], ...SEVERITIES.map((s) => [s, t(`alerts.sev.${s}`)])]);
  const typeSel = sel('al-type', 'alerts-filter-type', [['', t('alerts.type.all')]]);
  const ruleSel = sel('al-rule', 'alerts-filter-rule', [['', t('alerts.rule.all')]]);
  const refreshBtn = h('button', { type: 'button', class: 'btn', 'data-testid': 'alerts-refresh', onclick: () => load() }, t('alerts.refresh'));
  const countEl = h('p', { class: 'muted', 'aria-live': 'polite', 'data-testid': 'alerts-count' });
  const listBox = h('div', { class: 'table-wrap alerts-list' }, h('p', null, t('loading')));
  const detail = h('section', { class: 'card alert-detail', 'aria-labelledby': 'alert-detail-title', 'data-testid': 'alert-detail' });

  mount(
    main,
    h(
      'section',
      { class: 'page alerts' },
      h('div', { class: 'page-head' }, h('h1', null, t('alerts.title')), refreshBtn),
      h(
        'form',
        { class: 'alert-filters', role: 'search', 'aria-label': t('alerts.filters'), onsubmit: (ev) => ev.preventDefault() },
        h('div', null, h('label', { for: 'al-state' }, t('alerts.state')), stateSel),
        h('div', null, h('label', { for: 'al-sev' }, t('alerts.severity')), sevSel),
        h('div', null, h('label', { for: 'al-type' }, t('alerts.type')), typeSel),
        h('div', null, h('label', { for: 'al-rule' }, t('alerts.rule')), ruleSel),
      ),
      countEl,
      h('div', { class: 'alerts-body' }, listBox, detail),
    ),
  );

  function syncSelects() {
    stateSel.value = params.state;
    sevSel.value = params.severity;
    fillOptions(typeSel, 'alerts.type.all', typeOptions(), params.type);
    fillOptions(ruleSel, 'alerts.rule.all', rules.map((r) => [r.id, r.name ? `${r.name} (${r.id})` : r.id]), params.rule);
  }

  function fillOptions(s, allKey, opts, cur) {
    const have = new Set(opts.map((o) => o[0]));
    if (cur && !have.has(cur)) opts.push([cur, cur]);
    s.replaceChildren(h('option', { value: '' }, t(allKey)), ...opts.map(([v, label]) => h('option', { value: v }, label)));
    s.value = cur || '';
  }

  function typeOptions() {
    const types = new Set();
    for (const r of rules) if (r.target && r.target.type) types.add(r.target.type);
    for (const a of alerts) if (a.type) types.add(a.type);
    return [...types].sort().map((ty) => [ty, `${t(`type.${ty}`, null, ty)}${t(`type.${ty}`, null, ty) !== ty ? ` (${ty})` : ''}`]);
  }

  for (const [s, key] of [[stateSel, 'state'], [sevSel, 'severity'], [typeSel, 'type'], [ruleSel, 'rule']]) {
    s.addEventListener('change', () => {
      params = { ...params, [key]: s.value };
      writeParams(params);
      load();
    });
  }

  async function loadRules() {
    try {
      const j = await api('/api/v1/rules');
      rules = (j && j.rules) || [];
    } catch {
      rules = [];
    }
    if (!destroyed) syncSelects();
  }

  async function load() {
    const seq = ++loadSeq;
    refreshBtn.disabled = true;
    const q = { limit: LIMIT, state: params.state === 'all' ? null : params.state, severity: params.severity, type: params.type, rule: params.rule };
    let j = null;
    let err = null;
    try {
      j = await api('/api/v1/alerts', { params: q });
    } catch (e) {
      err = e;
    }
    if (destroyed || seq !== loadSeq) return;
    refreshBtn.disabled = false;
    if (err) {
      mount(listBox, errorBox(err, t));
      return;
    }
    alerts = (j && j.alerts) || [];
    total = j && typeof j.total === 'number' ? j.total : alerts.length;
    // The nav badge: this answer is the count when nothing but "active" filters it.
    if (params.state === 'open' && !params.severity && !params.type && !params.rule) alertBus.setCount(total);
    else alertBus.refresh();
    syncSelects();
    drawList();
    // Keep the panel on the selected alert (with its fresh state), or select from the URL.
    const want = selected ? selected.id : params.id;
    const found = want ? alerts.find((a) => a.id === want) : null;
    if (found) select(found, !selected || found.updatedAt !== selected.updatedAt || firstLoad);
    else if (!selected && firstLoad && alerts.length && !params.id) select(alerts[0], true);
    else if (!selected) drawEmptyDetail();
    firstLoad = false;
    window.__vigie.alerts = { total, rows: alerts.length, selected: selected ? selected.id : null };
  }

  function drawList() {
    const lg = getLang();
    const now = Date.now();
    setText(countEl, alerts.length < total ? t('alerts.countOf', { shown: fmtNumber(alerts.length, lg, 0), n: fmtNumber(total, lg, 0) }) : t(total === 1 ? 'alerts.countOne' : 'alerts.count', { n: fmtNumber(total, lg, 0) }));
    if (!alerts.length) {
      mount(listBox, h('p', { 'data-testid': 'alerts-none' }, t('alerts.none')));
      return;
    }
    const rows = alerts.map((a) => {
      const e = store.entities.get(a.entity);
      const name = e ? store.label(e) : shortId(a.entity || '');
      const raised = toMs(a.raisedAt);
      const isSel = selected && selected.id === a.id;
      const follow = [];
      if (a.acknowledgedBy || a.acknowledgedAt) follow.push(h('div', { 'data-testid': 'alert-ackby' }, t('alerts.ackBy', { who: who(a.acknowledgedBy) }), h('span', { class: 'muted' }, ` · ${fmtDateTime(a.acknowledgedAt, lg)}`)));
      if (a.state === 'resolved') follow.push(h('div', { 'data-testid': 'alert-resolvedby' }, t('alerts.resolvedBy', { who: who(a.resolvedBy) }), h('span', { class: 'muted' }, ` · ${fmtDateTime(a.resolvedAt, lg)}`)));
      if (a.comment) follow.push(h('div', { class: 'muted wrap' }, `« ${a.comment} »`));
      return h(
        'tr',
        { 'data-testid': 'alert-row', 'data-id': a.id, 'data-rule': a.rule, 'data-state': a.state, 'data-severity': a.severity, class: isSel ? 'is-selected' : null },
        h('td', null, sevBadge(a.severity)),
        h('td', null, stateBadge(a.state)),
        h('td', { class: 'wrap' }, h('a', { href: `#/entity/${encodeURIComponent(a.entity)}` }, name), h('div', { class: 'muted fine' }, t(`attr.${a.attr}`, null, a.attr || ''))),
        h('td', { class: 'wrap' }, a.message || ''),
        h('td', { class: 'nowrap' }, h('time', { datetime: a.raisedAt, title: fmtDateTime(raised, lg) }, fmtAge(raised, lg, now)), h('div', { class: 'muted fine' }, fmtDateTime(raised, lg))),
        h('td', null, follow.length ? follow : '–'),
        h(
          'td',
          null,
          h('button', { type: 'button', class: 'btn', 'aria-pressed': String(!!isSel), 'aria-label': t('alerts.showLabel', { id: a.id, name }), 'data-testid': 'alert-select', onclick: () => {
            select(a, true);
            // Keyboard and screen reader users land on what they asked for.
            const title = detail.querySelector('#alert-detail-title');
            if (title) title.focus({ preventScroll: window.innerWidth > 1350 }); // side by side above 1350 px
          } }, t('alerts.show')),
        ),
      );
    });
    mount(
      listBox,
      h(
        'table',
        { class: 'data-table', 'data-testid': 'alerts-table' },
        h('caption', { class: 'visually-hidden' }, t('alerts.caption')),
        h('thead', null, h('tr', null, ['severity', 'state', 'entity', 'message', 'raised', 'follow', 'actions'].map((k) => h('th', { scope: 'col' }, t(`alerts.col.${k}`))))),
        h('tbody', null, rows),
      ),
    );
  }

  function drawEmptyDetail() {
    destroyDetail();
    mount(detail, h('h2', { id: 'alert-detail-title' }, t('alerts.detailTitle')), h('p', { class: 'muted' }, t('alerts.pick')));
  }

  function destroyDetail() {
    if (chart) chart.destroy();
    chart = null;
    if (miniMap) miniMap.remove();
    miniMap = null;
  }

  function select(a, redraw) {
    const changed = !selected || selected.id !== a.id;
    selected = a;
    if (params.id !== a.id) {
      params = { ...params, id: a.id };
      writeParams(params);
    }
    for (const b of listBox.querySelectorAll('[data-testid="alert-select"]')) {
      const on = b.closest('tr').dataset.id === a.id;
      b.setAttribute('aria-pressed', String(on));
      b.closest('tr').classList.toggle('is-selected', on);
    }
    if (changed || redraw) drawDetail();
  }

  function drawDetail() {
    const a = selected;
    const lg = getLang();
    destroyDetail();
    const e = store.entities.get(a.entity);
    const name = e ? store.label(e) : shortId(a.entity || '');
    const unit = unitOf(e, a.attr);
    const row = (k, ...v) => [h('dt', null, t(`alerts.f.${k}`)), h('dd', null, ...v)];
    const rule = rules.find((r) => r.id === a.rule);
    const status = h('div', { 'aria-live': 'polite', 'data-testid': 'alert-action-status' });
    let actions = null;
    if (a.state !== 'resolved') {
      if (alertBus.canWrite) {
        const comment = h('textarea', { id: 'alert-comment', rows: '2', maxlength: '500', 'data-testid': 'alert-comment' });
        const act = async (what) => {
          for (const b of actions.querySelectorAll('button')) b.disabled = true;
          mount(status);
          try {
            const body = comment.value.trim() ? { comment: comment.value.trim() } : {};
            const upd = await api(`/api/v1/alerts/${encodeURIComponent(a.id)}/${what}`, { method: 'POST', body });
            if (destroyed) return;
            if (upd && upd.id) selected = upd;
            alertBus.changed({ event: what === 'ack' ? 'acknowledged' : 'resolved', alert: upd });
            await load();
            if (destroyed) return;
            drawDetail();
            const st = detail.querySelector('[data-testid="alert-action-status"]');
            if (st) mount(st, h('p', { class: 'ok-box' }, t(what === 'ack' ? 'alerts.acked' : 'alerts.resolvedOk', { id: a.id })));
          } catch (err) {
            if (destroyed) return;
            for (const b of actions.querySelectorAll('button')) b.disabled = false;
            mount(status, errorBox(err, t));
            load();
          }
        };
        actions = h(
          'form',
          { class: 'alert-actions', onsubmit: (ev) => ev.preventDefault() },
          h('label', { for: 'alert-comment' }, t('alerts.comment')),
          comment,
          h(
            'div',
            { class: 'toolbar' },
            a.state === 'open' ? h('button', { type: 'button', class: 'btn btn-primary', 'data-testid': 'alert-ack', onclick: () => act('ack') }, t('alerts.ack')) : null,
            h('button', { type: 'button', class: 'btn', 'data-testid': 'alert-resolve', onclick: () => act('resolve') }, t('alerts.resolve')),
          ),
        );
      } else {
        actions = h('p', { class: 'muted' }, t('alerts.readOnly'));
      }
    }
    // The entity's latest location (the store), else the one the server kept with the alert
    // ([lon, lat], GeoJSON order).
    let loc = e && e.loc ? e.loc : null;
    if (!loc && Array.isArray(a.location) && a.location.length >= 2 && a.location.every((x) => typeof x === 'number')) loc = { lat: a.location[1], lon: a.location[0] };
    const mapEl = h('div', { class: 'mini-map alert-map', role: 'region', 'aria-label': t('alerts.map'), 'data-testid': 'alert-map' });
    const chartEl = h('div', { class: 'chart', role: 'img', 'data-testid': 'alert-chart', 'aria-label': t('alerts.chart') });
    const caption = h('figcaption', null, t('loading'));
    mount(
      detail,
      h('h2', { id: 'alert-detail-title', tabindex: '-1' }, t('alerts.detail', { id: a.id }), ' ', sevBadge(a.severity), ' ', stateBadge(a.state)),
      h('p', { class: 'alert-message' }, a.message || ''),
      h(
        'dl',
        { class: 'alert-fields' },
        row('rule', rule && rule.name ? `${rule.name} (${a.rule})` : a.rule || '–', a.kind ? h('span', { class: 'muted' }, ` · ${t(`alerts.kind.${a.kind}`, null, a.kind)}`) : null),
        row('entity', h('a', { href: `#/entity/${encodeURIComponent(a.entity)}` }, name), h('div', { class: 'entity-id' }, a.entity)),
        row('value', `${t(`attr.${a.attr}`, null, a.attr || '')} = ${fmtNumber(a.value, lg)}${unit ? ` ${unit}` : ''}`),
        row('raisedAt', fmtDateTime(a.raisedAt, lg), h('span', { class: 'muted' }, ` (${fmtAge(toMs(a.raisedAt), lg)})`)),
        a.acknowledgedAt ? row('ack', t('alerts.ackBy', { who: who(a.acknowledgedBy) }), ` · ${fmtDateTime(a.acknowledgedAt, lg)}`) : null,
        a.state === 'resolved' ? row('resolved', t('alerts.resolvedBy', { who: who(a.resolvedBy) }), ` · ${fmtDateTime(a.resolvedAt, lg)}`) : null,
        a.comment ? row('comment', a.comment) : null,
      ),
      actions,
      status,
      h('div', { class: 'alert-where' }, h('h3', null, t('alerts.map')), loc ? mapEl : h('p', { class: 'muted', 'data-testid': 'alert-noloc' }, t('alerts.noLoc'))),
      h('h3', null, t('alerts.chart')),
      h('figure', { class: 'chart-box alert-chart-box' }, chartEl, caption),
    );
    if (loc) {
      miniMap = createMap(mapEl, ctx.config, { center: [loc.lat, loc.lon], zoom: 15 });
      miniMap.keyboard.disable();
      const mk = L.circleMarker([loc.lat, loc.lon], { radius: 10, color: MARKER, weight: 3, fillColor: e ? entityColor(e, Date.now()) : MARKER, fillOpacity: 0.95 }).addTo(miniMap);
      window.__vigie.alertMap = { id: a.id, lat: loc.lat, lon: loc.lon, marker: miniMap.hasLayer(mk) };
    }
    drawChart(a, chartEl, caption, name, unit);
  }

  async function drawChart(a, chartEl, caption, name, unit) {
    const raised = toMs(a.raisedAt);
    const now = Date.now();
    const from = raised - 12 * HOUR;
    const to = Math.min(raised + 12 * HOUR, Math.max(now, raised + HOUR / 2));
    const [step] = pickStep(from, to, 500);
    const seq = loadSeq;
    let pts = [];
    let err = null;
    if (a.attr) {
      try {
        const j = await api('/api/v1/query', { params: { id: a.entity, attr: a.attr, from: Math.round(from), to: Math.round(to), agg: 'avg', every: step } });
        const s0 = (j.series || [])[0];
        pts = s0 ? s0.points : [];
      } catch (e) {
        err = e;
      }
    }
    if (destroyed || selected !== a || !chartEl.isConnected) return;
    void seq;
    const lg = getLang();
    const label = `${name} · ${t(`attr.${a.attr}`, null, a.attr || '')}`;
    const markers = [{ ts: raised, color: MARKER, label: t('alerts.raisedMarker') }];
    if (a.resolvedAt) markers.push({ ts: toMs(a.resolvedAt), color: '#14532d', label: t('alerts.resolvedMarker') });
    chart = timeChart(chartEl, [{ label, unit, color: '#1d4f91' }], { height: 240, timeLabel: t('chart.time'), markers });
    // Empty points at both ends: the x range stays the window even where there is no data.
    const { xs, ys } = align([[[Math.round(from), null], ...pts, [Math.round(to), null]]]);
    chart.u.setScale('x', { min: from / 1000, max: to / 1000 });
    chart.setData({ xs, ys });
    chart.u.setScale('x', { min: from / 1000, max: to / 1000 });
    const st = stats(ys[0]);
    const u = unit ? ` ${unit}` : '';
    const text = [
      t('alerts.chartCaption', { name: label, from: fmtDateTime(from, lg), to: fmtDateTime(to, lg), at: fmtDateTime(raised, lg) }),
      st ? t('chart.summary', { name: label, min: fmtNumber(st.min, lg) + u, max: fmtNumber(st.max, lg) + u, mean: fmtNumber(st.mean, lg) + u, last: fmtNumber(st.last, lg) + u }) : t('chart.empty'),
    ].join(' ');
    if (err) mount(caption, errorBox(err, t));
    else setText(caption, text);
    chartEl.setAttribute('aria-label', text);
    window.__vigie.alertChart = { id: a.id, points: st ? st.n : 0, from, to, raisedAt: raised, step };
  }

  const unsub = alertBus.subscribe(({ event }) => {
    if (destroyed || !event) return; // a count refresh of our own: nothing new
    load();
  });
  const timer = setInterval(() => {
    if (!document.hidden) load();
  }, REFRESH_MS);
  const ro = new ResizeObserver(() => {
    const el = detail.querySelector('[data-testid="alert-chart"]');
    if (chart && el) chart.setSize(el.clientWidth);
  });
  ro.observe(detail);

  syncSelects();
  drawEmptyDetail();
  // Entity names and locations come from the store: wait for its first snapshot.
  const start = () => {
    if (destroyed) return;
    loadRules();
    load();
  };
  if (store.loaded) start();
  else ctx.whenLoaded().then(start, (err) => !destroyed && mount(listBox, errorBox(err, t)));

  return {
    destroy() {
      destroyed = true;
      unsub();
      clearInterval(timer);
      ro.disconnect();
      destroyDetail();
    },
  };
}
