// app/domainview.js: #/domain/<kind>: every entity of a domain as small multiples (sparkline of
// the last 24 h, 15 min averages, ONE query by type + attr) and a heat strip (rows = entities,
// columns = hours over 7 days, ONE query), for the domain's main measurement (selectable).

import { h, mount, setText, errorBox } from './dom.js';
import { store } from './store.js';
import { t, getLang } from '../i18n.js';
import { api } from '../common/api.js';
import { fmtNumber, fmtValue, fmtShort, fmtPercent } from '../common/format.js';
import { ramp, NODATA } from '../common/scales.js';
import { DOMAIN_VIEW, UNITS, scaleFor, isStale } from './domains.js';
import { sparkline, PALETTE } from './chart.js';

const HOUR = 3600e3;
const MAX_SMALL = 60;
const MAX_ROWS = 120;
const choice = {}; // kind -> "type|attr" (kept across visits)

export function renderDomain(main, ctx, kind) {
  let destroyed = false;
  const sel = h('select', { id: 'dv-attr' });
  const smallBox = h('div', { class: 'smalls', 'data-testid': 'small-multiples' });
  const heatBox = h('div', { class: 'heat', 'data-testid': 'heat-strip' });
  const noteSmall = h('p', { class: 'muted' });
  const noteHeat = h('p', { class: 'muted' });
  const title = t(`domain.${kind}`, null, kind);
  mount(
    main,
    h(
      'section',
      { class: 'page domain' },
      h('div', { class: 'page-head' }, h('h1', null, t('domainview.title', { name: title })), h('div', null, h('label', { for: 'dv-attr' }, `${t('domainview.attr')} `), sel)),
      h('h2', null, t('domainview.small')),
      noteSmall,
      smallBox,
      h('h2', null, t('domainview.heat')),
      noteHeat,
      heatBox,
    ),
  );
  const nowEls = new Map(); // id -> element with current value
  let cur = null; // [type, attr]
  let plots = [];

  function options() {
    const present = new Set();
    for (const e of store.entities.values()) {
      if ((e.tags.kind || 'other') !== kind) continue;
      for (const a of e.attrs.keys()) present.add(`${e.type}|${a}`);
    }
    const opts = (DOMAIN_VIEW[kind] || []).filter(([ty, a]) => present.has(`${ty}|${a}`));
    if (!opts.length) {
      // Unknown domain: every numeric type|attr present.
      for (const k of present) {
        const [ty, a] = k.split('|');
        if (a !== 'location' && !a.includes('@')) opts.push([ty, a]);
      }
    }
    return opts;
  }

  function entitiesOf(type, attr) {
    const list = [];
    for (const e of store.entities.values()) {
      if (e.type === type && (e.tags.kind || 'other') === kind && e.attrs.has(attr)) list.push(e);
    }
    list.sort((a, b) => store.label(a).localeCompare(store.label(b), getLang(), { numeric: true }));
    return list;
  }

  const fmt = (attr, v, lg) => (attr === 'fillingLevel' && typeof v === 'number' ? fmtPercent(v, lg) : fmtValue(v, lg));

  async function draw() {
    const lg = getLang();
    const [type, attr] = cur;
    const unit = attr === 'fillingLevel' ? '' : UNITS[attr] || '';
    const ents = entitiesOf(type, attr);
    for (const p of plots) p.destroy();
    plots = [];
    nowEls.clear();
    if (!ents.length) {
      mount(smallBox, h('p', null, t('domainview.none')));
      mount(heatBox);
      return;
    }
    const now = Date.now();
    const to = Math.ceil(now / HOUR) * HOUR;
    mount(smallBox, h('p', null, t('loading')));
    mount(heatBox, h('p', null, t('loading')));
    const [day, week] = await Promise.allSettled([
      api('/api/v1/query', { params: { type, attr, agg: 'avg', every: '15m', from: now - 24 * HOUR, to: now + 60e3 } }),
      api('/api/v1/query', { params: { type, attr, agg: 'avg', every: '1h', from: to - 7 * 24 * HOUR, to } }),
    ]);
    if (destroyed || cur[0] !== type || cur[1] !== attr) return;
    // Small multiples.
    const small = ents.slice(0, MAX_SMALL);
    setText(noteSmall, ents.length > MAX_SMALL ? t('domainview.limited', { n: MAX_SMALL, total: fmtNumber(ents.length, lg, 0) }) : '');
    if (day.status === 'rejected') mount(smallBox, errorBox(day.reason, t));
    else {
      const byId = new Map((day.value.series || []).map((s) => [s.id, s.points]));
      mount(smallBox);
      const scale = scaleFor(type, attr);
      for (const e of small) {
        const v = e.attrs.get(attr);
        const nowEl = h('span', { class: 'now' }, `${fmt(attr, v && v.value, lg)} ${unit}`);
        nowEls.set(e.id, nowEl);
        const plotEl = h('div', { 'aria-hidden': 'true' });
        const stale = isStale(e, now);
        smallBox.appendChild(
          h(
            'div',
            { class: 'small' },
            h('a', { href: `#/entity/${encodeURIComponent(e.id)}` }, store.label(e)),
            h('div', null, nowEl, stale ? h('span', { class: 'badge badge-stale' }, ` ${t('entity.stale')}`) : null),
            plotEl,
          ),
        );
        const pts = (byId.get(e.id) || []).filter((p) => typeof p[1] === 'number');
        const color = scale && v && typeof v.value === 'number' && !stale ? darken(scale.color(v.value)) : PALETTE[0];
        plots.push(sparkline(plotEl, color, pts.map((p) => p[0]), pts.map((p) => p[1]), { width: 210, height: 46 }));
      }
    }
    // Heat strip.
    if (week.status === 'rejected') {
      mount(heatBox, errorBox(week.reason, t));
      return;
    }
    const rows = ents.slice(0, MAX_ROWS);
    setText(noteHeat, ents.length > MAX_ROWS ? t('domainview.limited', { n: MAX_ROWS, total: fmtNumber(ents.length, lg, 0) }) : '');
    const byId = new Map((week.value.series || []).map((s) => [s.id, s.points]));
    const cols = [];
    for (let x = to - 7 * 24 * HOUR; x < to; x += HOUR) cols.push(x);
    const vals = [];
    for (const e of rows) for (const p of byId.get(e.id) || []) if (typeof p[1] === 'number') vals.push(p[1]);
    vals.sort((a, b) => a - b);
    const lo = vals.length ? vals[Math.floor(vals.length * 0.02)] : 0;
    const hi = vals.length ? vals[Math.min(vals.length - 1, Math.floor(vals.length * 0.98))] : 1;
    const scale = scaleFor(type, attr);
    const colour = (v) => (typeof v !== 'number' ? NODATA : scale && scale.bands[0].max !== undefined ? scale.color(v) : ramp(hi > lo ? (v - lo) / (hi - lo) : 0.5));
    const head = h('tr', null, h('th', { scope: 'col' }, t('domainview.rows')));
    // One header cell per day (colspan 24).
    // One header cell per local day.
    const dayFmt = new Intl.DateTimeFormat(lg, { weekday: 'short', day: 'numeric', month: 'numeric' });
    for (let i = 0; i < cols.length; ) {
      const key = new Date(cols[i]).toDateString();
      let j = i;
      while (j < cols.length && new Date(cols[j]).toDateString() === key) j++;
      head.appendChild(h('th', { scope: 'colgroup', colspan: j - i }, j - i >= 6 ? dayFmt.format(new Date(cols[i])) : ''));
      i = j;
    }
    const body = h('tbody');
    for (const e of rows) {
      const m = new Map((byId.get(e.id) || []).map((p) => [p[0], p[1]]));
      const name = store.label(e);
      const tr = h('tr', null, h('th', { scope: 'row', title: e.id }, h('a', { href: `#/entity/${encodeURIComponent(e.id)}` }, name)));
      for (const c of cols) {
        const v = m.get(c);
        const td = document.createElement('td');
        td.style.background = colour(v);
        td.title = t('domainview.heatCell', { name, time: fmtShort(c, lg), v: typeof v === 'number' ? `${fmt(attr, v, lg)} ${unit}` : '–' });
        tr.appendChild(td);
      }
      body.appendChild(tr);
    }
    let legend;
    if (scale && scale.bands[0].max !== undefined) {
      legend = h(
        'div',
        { class: 'heat-legend' },
        h('strong', null, `${t('domainview.legend')} :`),
        scale.bands.map((b) => h('span', null, h('span', { class: 'swatch', style: { background: b.color, display: 'inline-block', verticalAlign: 'middle', borderRadius: '2px' } }), ` ${b.label}`)),
        h('span', null, h('span', { class: 'swatch', style: { background: NODATA, display: 'inline-block', verticalAlign: 'middle', borderRadius: '2px' } }), ' –'),
      );
    } else {
      const stops = [0, 0.2, 0.4, 0.6, 0.8, 1].map((x) => ramp(x)).join(',');
      legend = h(
        'div',
        { class: 'heat-legend' },
        h('strong', null, `${t('domainview.legend')} :`),
        `${fmt(attr, lo, lg)} ${unit}`,
        h('span', { class: 'heat-ramp', style: { background: `linear-gradient(to right, ${stops})` }, 'aria-hidden': 'true' }),
        `${fmt(attr, hi, lg)} ${unit}`,
      );
    }
    mount(
      heatBox,
      legend,
      h('table', { 'aria-label': t('domainview.heat') }, h('thead', null, head), body),
    );
  }

  function init() {
    const opts = options();
    mount(sel, ...opts.map(([ty, a]) => h('option', { value: `${ty}|${a}` }, `${t(`attr.${a}`, null, a)} · ${t(`type.${ty}`, null, ty)}`)));
    if (!opts.length) {
      mount(smallBox, h('p', null, t('domainview.none')));
      return;
    }
    const want = choice[kind] && opts.some(([ty, a]) => `${ty}|${a}` === choice[kind]) ? choice[kind] : `${opts[0][0]}|${opts[0][1]}`;
    sel.value = want;
    cur = want.split('|');
    draw();
  }
  sel.addEventListener('change', () => {
    choice[kind] = sel.value;
    cur = sel.value.split('|');
    draw();
  });

  let ready = false;
  const unsub = store.subscribe((dirty) => {
    if (destroyed) return;
    if (!ready) {
      if (store.loaded) {
        ready = true;
        init();
      }
      return;
    }
    if (!cur) return;
    const lg = getLang();
    const ids = dirty || nowEls.keys();
    for (const id of ids) {
      const el = nowEls.get(id);
      if (!el) continue;
      const e = store.entities.get(id);
      const v = e && e.attrs.get(cur[1]);
      if (v) setText(el, `${fmt(cur[1], v.value, lg)} ${cur[1] === 'fillingLevel' ? '' : UNITS[cur[1]] || ''}`);
    }
  });
  if (store.loaded) {
    ready = true;
    init();
  } else ctx.whenLoaded().catch((err) => !destroyed && mount(smallBox, errorBox(err, t)));

  return {
    destroy() {
      destroyed = true;
      unsub();
      for (const p of plots) p.destroy();
    },
  };
}

// Band colours are light (yellow): darken for a line on white.
function darken(hex) {
  const n = parseInt(hex.slice(1), 16);
  const f = 0.75;
  const r = Math.round((n >> 16) * f);
  const g = Math.round(((n >> 8) & 255) * f);
  const b = Math.round((n & 255) * f);
  return `#${((1 << 24) | (r << 16) | (g << 8) | b).toString(16).slice(1)}`;
}
