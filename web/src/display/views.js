// display/views.js: the four public views (noise, air, pool, city), drawn once and then updated
// in place as values arrive. Colour is never the only cue: every level also has its word.

import { h, s, setText } from './dom.js';
import { NOISE, AIR, POOL, noiseLevel, airSub, airLevel, poolLevel } from './scales.js';
import { ageText, timeText } from './strings.js';
import { Trend } from './trend.js';

export const STALE_MS = 30 * 60 * 1000;

// What each view streams, and the main attribute of a type (city tiles).
const VIEW_ATTRS = {
  noise: ['LAeq', 'LAmax'],
  air: ['pm25', 'pm10', 'no2'],
  pool: ['occupancy'],
};
const TYPE_MAIN = {
  NoiseLevelObserved: 'LAeq',
  AirQualityObserved: 'pm25',
  SwimmingPool: 'occupancy',
  SportsCentre: 'occupancy',
  WeatherObserved: 'temperature',
};
const TYPE_VIEW = {
  NoiseLevelObserved: 'noise',
  AirQualityObserved: 'air',
  SwimmingPool: 'pool',
  SportsCentre: 'pool',
  WeatherObserved: 'weather',
};
const UNITS = {
  LAeq: 'dB(A)',
  LAmax: 'dB(A)',
  pm25: 'µg/m³',
  pm10: 'µg/m³',
  no2: 'µg/m³',
  temperature: '°C',
  humidity: '%',
  windSpeed: 'm/s',
};

// Attributes to ask the live stream for ([] = all).
export function streamAttrs(view, types) {
  if (VIEW_ATTRS[view]) return VIEW_ATTRS[view];
  const out = new Set();
  for (const t of types) {
    const v = TYPE_VIEW[t];
    if (!v) return [];
    for (const a of VIEW_ATTRS[v] || [TYPE_MAIN[t]]) out.add(a);
  }
  return [...out];
}

function num(v) {
  return typeof v === 'number' && Number.isFinite(v);
}

function fmt(t, v, digits = 0) {
  if (!num(v)) return '–';
  return v.toLocaleString(t.locale, { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

// The main attribute of an entity: the known one for its type, else (imported data such as the
// daily noise levels laeq_T) a close one, else its first numeric one.
function mainAttr(ent) {
  const m = TYPE_MAIN[ent.type];
  if (m && ent.vals[m]) return m;
  if (m) {
    const low = m.toLowerCase();
    for (const a of Object.keys(ent.vals)) if (a.toLowerCase() === `${low}_t` && num(ent.vals[a].v)) return a;
  }
  for (const [a, x] of Object.entries(ent.vals)) if (num(x.v)) return a;
  return m || '';
}

// --- shared pieces -------------------------------------------------------------------------

function badgeSet(el, word, colour, ink, level) {
  setText(el, word || '');
  el.hidden = !word;
  el.style.background = colour || '';
  el.style.color = ink || '';
  el.dataset.level = level == null ? '' : String(level);
}

function footer(t) {
  const when = h('span', { class: 'when' });
  const stale = h('span', { class: 'stale-tag', hidden: true, text: t.stale });
  const state = h('span', {
    class: 'state',
    'data-testid': 'display-state',
    'data-state': 'connecting',
    text: t.connecting,
  });
  const el = h('footer', { class: 'foot' }, when, stale, state);
  return { el, when, stale, state };
}

function setFooterState(f, t, st) {
  f.state.dataset.state = st;
  setText(f.state, st === 'live' ? t.live : t.connecting);
}

// "Mesure de 19:12 · il y a 1 min"
function whenText(t, ts, now) {
  return `${t.measuredAt} ${timeText(t, ts, now)} · ${ageText(t, now - ts)}`;
}

// A scale bar: segments [from, to, colour, label] over [min, max], and a marker.
function scaleBar(segs, min, max) {
  const bar = h('div', { class: 'scale-bar' });
  for (const [a, b, colour, label] of segs) {
    bar.append(
      h('span', { class: 'scale-seg', style: `flex:${b - a} 1 0;background:${colour}` }, h('span', { class: 'scale-lab' }, label))
    );
  }
  const mark = h('span', { class: 'scale-mark', hidden: true });
  bar.append(mark);
  const el = h('div', { class: 'scale', 'aria-hidden': 'true' }, bar);
  return {
    el,
    set(v) {
      if (!num(v)) {
        mark.hidden = true;
        return;
      }
      mark.hidden = false;
      const x = Math.min(1, Math.max(0, (v - min) / (max - min)));
      mark.style.left = `${(x * 100).toFixed(2)}%`;
    },
  };
}

// Shrink a row (.main) as a whole when its content is wider than the row: sets --fit.
function fit(main) {
  main.style.setProperty('--fit', '1');
  const avail = main.clientWidth;
  if (!avail) return;
  const kids = [...main.children].filter((k) => k.offsetParent !== null && !k.classList.contains('sr-only'));
  const gap = parseFloat(getComputedStyle(main).columnGap) || 0;
  let need = 0;
  for (const k of kids) need += k.scrollWidth;
  need += gap * Math.max(0, kids.length - 1);
  if (getComputedStyle(main).flexDirection === 'column') need = Math.max(...kids.map((k) => k.scrollWidth), 0);
  if (need > avail) main.style.setProperty('--fit', String(Math.max(0.3, (avail / need) * 0.97).toFixed(3)));
}

function lower(t, w) {
  return t.locale === 'fr-FR' || t.locale === 'en-GB' ? w.toLowerCase() : w;
}

// --- single-entity views ---------------------------------------------------------------------

function noiseMain(ctx) {
  const { t } = ctx;
  const value = h('span', { class: 'value', 'data-testid': 'display-value', text: '–' });
  const figure = h('div', { class: 'figure', 'aria-hidden': 'true' }, value, h('span', { class: 'unit', text: 'dB(A)' }));
  const badge = h('p', { class: 'badge', 'aria-hidden': 'true', hidden: true });
  const max = h('p', { class: 'sub', 'aria-hidden': 'true' });
  const say = h('p', { class: 'sr-only' });
  const main = h('section', { class: 'main', 'aria-live': 'polite', 'aria-atomic': 'true' }, say, figure, h('div', { class: 'side' }, badge, max));
  const e = NOISE.edges;
  const scale = scaleBar(
    [
      [NOISE.min, e[0], NOISE.colours[0], `< ${e[0]}`],
      [e[0], e[1], NOISE.colours[1], `${e[0]}–${e[1]}`],
      [e[1], e[2], NOISE.colours[2], `${e[1]}–${e[2]}`],
      [e[2], NOISE.max, NOISE.colours[3], `> ${e[2]}`],
    ],
    NOISE.min,
    NOISE.max
  );
  const svg = s('svg', { viewBox: '0 0 1000 100', preserveAspectRatio: 'none', class: 'trend-svg' });
  const trendEl = h('div', { class: 'trend', 'aria-hidden': 'true', hidden: true }, h('span', { class: 'trend-lab', text: t.trend }), svg);
  let trend = null;
  return {
    parts: [main, scale.el, trendEl],
    attr: 'LAeq',
    update(ent, now) {
      const x = ent.vals.LAeq || ent.vals.laeq_T;
      if (!x || !num(x.v)) return null;
      if (!trend) trend = new Trend(`${ent.id}.LAeq`);
      trend.add(x.ts, x.v, now);
      const lvl = noiseLevel(x.v);
      setText(value, fmt(t, x.v));
      badgeSet(badge, t.noise[lvl], NOISE.colours[lvl], NOISE.inks[lvl], lvl);
      const mx = ent.vals.LAmax;
      setText(max, mx && num(mx.v) ? `LAmax ${fmt(t, mx.v)} dB(A)` : '');
      scale.set(x.v);
      setText(say, t.say.noise(ent.label, fmt(t, x.v), lower(t, t.noise[lvl]), timeText(t, x.ts, now)));
      trendEl.hidden = !trend.draw(svg, now, 50, 75);
      return { ts: x.ts, v: x.v };
    },
    redraw(now) {
      if (trend) trendEl.hidden = !trend.draw(svg, now, 50, 75);
    },
    seed(ent, points, now) {
      if (!trend) trend = new Trend(`${ent.id}.LAeq`);
      trend.merge(points, now);
      trendEl.hidden = !trend.draw(svg, now, 50, 75);
    },
  };
}

function airMain(ctx) {
  const { t } = ctx;
  const names = { pm25: 'PM2.5', pm10: 'PM10', no2: 'NO₂' };
  const cards = {};
  const list = h('div', { class: 'pollutants', 'aria-hidden': 'true' });
  for (const a of ['pm25', 'pm10', 'no2']) {
    const value = h('span', { class: 'value', text: '–' });
    if (a === 'pm25') value.setAttribute('data-testid', 'display-value');
    const word = h('span', { class: 'pol-word' });
    const el = h(
      'div',
      { class: `pol pol-${a}` },
      h('span', { class: 'pol-name', text: names[a] }),
      h('span', { class: 'pol-figure' }, value, h('span', { class: 'unit', text: 'µg/m³' })),
      word
    );
    cards[a] = { el, value, word };
    list.append(el);
  }
  const badge = h('p', { class: 'badge', hidden: true });
  const index = h('div', { class: 'air-index', 'aria-hidden': 'true' }, h('span', { class: 'air-index-lab', text: t.airIndex }), badge);
  const say = h('p', { class: 'sr-only' });
  const main = h('section', { class: 'main air-main', 'aria-live': 'polite', 'aria-atomic': 'true' }, say, index, list);
  const scale = h(
    'div',
    { class: 'scale air-scale', 'aria-hidden': 'true' },
    h(
      'div',
      { class: 'scale-bar' },
      t.air.map((w, i) => h('span', { class: 'scale-seg', style: `flex:1 1 0;background:${AIR.colours[i]};color:${AIR.inks[i]}` }, h('span', { class: 'scale-lab in', text: w })))
    )
  );
  return {
    parts: [main, scale],
    attr: 'pm25',
    update(ent) {
      const vals = {};
      let ts = 0;
      for (const a of ['pm25', 'pm10', 'no2']) {
        const x = ent.vals[a];
        const c = cards[a];
        if (!x || !num(x.v)) {
          c.el.hidden = true;
          continue;
        }
        c.el.hidden = false;
        vals[a] = x.v;
        ts = Math.max(ts, x.ts);
        const sub = airSub(a, x.v);
        setText(c.value, fmt(t, x.v));
        setText(c.word, t.air[sub]);
        c.el.style.setProperty('--band', AIR.colours[sub]);
        c.el.dataset.level = String(sub);
      }
      const lvl = airLevel(vals);
      if (lvl < 0) return null;
      badgeSet(badge, t.air[lvl], AIR.colours[lvl], AIR.inks[lvl], lvl);
      for (const [i, seg] of [...scale.querySelectorAll('.scale-seg')].entries()) seg.classList.toggle('on', i === lvl);
      setText(say, t.say.air(ent.label, lower(t, t.air[lvl]), fmt(t, vals.pm25), fmt(t, vals.pm10), fmt(t, vals.no2), timeText(t, ts, Date.now())));
      return { ts, v: num(vals.pm25) ? vals.pm25 : null };
    },
    redraw() {},
  };
}

function poolMain(ctx) {
  const { t, p } = ctx;
  const cap = p.capacity;
  const value = h('span', { class: 'value', 'data-testid': 'display-value', text: '–' });
  const figure = h('div', { class: 'figure', 'aria-hidden': 'true' }, value, h('span', { class: 'unit', text: cap ? t.people : t.peopleNow }));
  const badge = h('p', { class: 'badge', 'aria-hidden': 'true', hidden: true });
  const free = h('p', { class: 'free', 'aria-hidden': 'true', hidden: !cap });
  const say = h('p', { class: 'sr-only' });
  const main = h('section', { class: 'main', 'aria-live': 'polite', 'aria-atomic': 'true' }, say, figure, h('div', { class: 'side' }, badge, free));
  const fill = h('span', { class: 'gauge-fill' });
  const gauge = h(
    'div',
    { class: 'gauge', 'aria-hidden': 'true', hidden: !cap },
    h('span', { class: 'gauge-track' }, fill),
    h('span', { class: 'gauge-lab', text: cap ? t.ofCapacity(fmt(t, cap)) : '' })
  );
  const svg = s('svg', { viewBox: '0 0 1000 100', preserveAspectRatio: 'none', class: 'trend-svg' });
  const trendEl = h('div', { class: 'trend', 'aria-hidden': 'true', hidden: true }, h('span', { class: 'trend-lab', text: t.trend }), svg);
  let trend = null;
  return {
    parts: [main, gauge, trendEl],
    attr: 'occupancy',
    update(ent, now) {
      const x = ent.vals.occupancy;
      if (!x || !num(x.v)) return null;
      if (!trend) trend = new Trend(`${ent.id}.occupancy`);
      trend.add(x.ts, x.v, now);
      setText(value, fmt(t, x.v));
      let left = null;
      if (cap) {
        left = Math.max(0, Math.round(cap - x.v));
        const lvl = poolLevel(x.v, cap);
        badgeSet(badge, t.pool[lvl], POOL.colours[lvl], POOL.inks[lvl], lvl);
        setText(free, `${fmt(t, left)} ${left === 1 ? t.freePlace : t.freePlaces}`);
        fill.style.width = `${Math.min(100, (x.v / cap) * 100).toFixed(1)}%`;
        fill.style.background = POOL.colours[lvl];
      }
      setText(say, t.say.pool(ent.label, fmt(t, x.v), left == null ? null : fmt(t, left), timeText(t, x.ts, now)));
      trendEl.hidden = !trend.draw(svg, now, 0, cap || null);
      return { ts: x.ts, v: x.v };
    },
    redraw(now) {
      if (trend) trendEl.hidden = !trend.draw(svg, now, 0, cap || null);
    },
    seed(ent, points, now) {
      if (!trend) trend = new Trend(`${ent.id}.occupancy`);
      trend.merge(points, now);
      trendEl.hidden = !trend.draw(svg, now, 0, cap || null);
    },
  };
}

const MAINS = { noise: noiseMain, air: airMain, pool: poolMain };
const LABELS = { noise: 'noiseLabel', air: 'airLabel', pool: 'poolLabel', weather: 'weatherLabel' };

function message(title, hint, testid) {
  return h(
    'div',
    { class: 'message', role: 'status', 'data-testid': testid },
    h('p', { class: 'message-title', text: title }),
    hint ? h('p', { class: 'message-hint', text: hint }) : null
  );
}

// One entity, full page or embedded.
export function singleView(root, ctx) {
  const { t, p } = ctx;
  const id = p.ids[0];
  const label = h('p', { class: 'label', text: t[LABELS[p.view]] });
  const name = h('h1', { class: 'name', 'data-testid': 'display-name', text: p.title || '' });
  const head = h('header', { class: 'head' }, label, name);
  const main = MAINS[p.view](ctx);
  const body = h('div', { class: 'body' }, ...main.parts);
  const wait = message(t.waiting, '', 'display-waiting');
  const foot = footer(t);
  const page = h('main', { class: `d d-${p.view}` }, head, wait, body, foot.el);
  body.hidden = true;
  root.replaceChildren(page);
  let shown = null;
  window.addEventListener('resize', () => {
    const m = page.querySelector('.main');
    if (m && shown) fit(m);
  });

  function tick(now) {
    if (!shown) return;
    setText(foot.when, whenText(t, shown.ts, now));
    const stale = now - shown.ts > STALE_MS;
    page.classList.toggle('is-stale', stale);
    foot.stale.hidden = !stale;
    main.redraw(now);
  }

  return {
    update(ent, now) {
      if (ent.id !== id) return;
      if (ent.pub === false) {
        page.replaceChildren(head, message(t.notPublic, t.notPublicHint, 'display-error'));
        page.classList.add('is-error');
        setText(name, p.title || ent.slug);
        ctx.report({ error: 'not-public' });
        return;
      }
      setText(name, ent.label);
      document.title = `${ent.label} · Vigie`;
      const r = main.update(ent, now);
      if (!r) return;
      wait.hidden = true;
      body.hidden = false;
      shown = r;
      const m = page.querySelector('.main');
      if (m) fit(m);
      ctx.report({ value: r.v, ts: r.ts });
      tick(now);
    },
    tick,
    state(st) {
      setFooterState(foot, t, st);
    },
    // The attribute whose last hour is drawn, if any, and its history.
    trendAttr: main.seed ? main.attr : '',
    seed(ent, points, now) {
      if (main.seed) main.seed(ent, points, now);
    },
  };
}

// --- city: a grid of tiles -------------------------------------------------------------------

function tileWord(t, view, attr, v, p) {
  if (view === 'noise' && /^laeq/i.test(attr)) {
    const l = noiseLevel(v);
    return [t.noise[l], NOISE.colours[l], NOISE.inks[l]];
  }
  if (view === 'pool' && p.capacity) {
    const l = poolLevel(v, p.capacity);
    return [t.pool[l], POOL.colours[l], POOL.inks[l]];
  }
  return null;
}

export function cityView(root, ctx) {
  const { t, p } = ctx;
  const n = Math.max(1, p.ids.length);
  const cols = n <= 3 ? n : n <= 4 ? 2 : n <= 9 ? 3 : 4;
  const rows = Math.ceil(n / cols);
  const title = h('h1', { class: 'city-title', text: p.title || t.cityLabel });
  const grid = h('div', { class: 'grid', style: `--cols:${cols};--rows:${rows}` });
  const say = h('p', { class: 'sr-only', 'aria-live': 'polite' });
  const foot = footer(t);
  const page = h('main', { class: 'd d-city' }, h('header', { class: 'head' }, title), say, grid, foot.el);
  root.replaceChildren(page);
  const tiles = new Map();
  for (const id of p.ids) {
    const name = h('p', { class: 'tile-name', 'data-testid': 'display-name', text: id.split(':').pop() });
    const kind = h('p', { class: 'tile-kind' });
    const value = h('span', { class: 'value', 'data-testid': 'display-value', text: '–' });
    const unit = h('span', { class: 'unit' });
    const badge = h('span', { class: 'badge', hidden: true });
    const when = h('p', { class: 'tile-when' });
    const el = h('section', { class: 'tile', 'data-testid': 'display-tile', 'data-id': id }, kind, name, h('p', { class: 'tile-figure' }, value, unit), badge, when);
    grid.append(el);
    tiles.set(id, { el, name, kind, value, unit, badge, when, shown: null });
  }
  if (!p.ids.length) grid.append(message(t.noId, t.noIdHint, 'display-error'));

  function tick(now) {
    let stale = false;
    for (const x of tiles.values()) {
      if (!x.shown) continue;
      const st = now - x.shown.ts > STALE_MS;
      setText(x.when, `${timeText(t, x.shown.ts, now)} · ${ageText(t, now - x.shown.ts)}${st ? ` · ${t.stale}` : ''}`);
      x.el.classList.toggle('is-stale', st);
      stale = stale || st;
    }
    foot.stale.hidden = !stale;
    const last = [...tiles.values()].filter((x) => x.shown).sort((a, b) => b.shown.ts - a.shown.ts)[0];
    setText(foot.when, last ? whenText(t, last.shown.ts, now) : '');
  }

  return {
    update(ent, now) {
      const x = tiles.get(ent.id);
      if (!x) return;
      const view = TYPE_VIEW[ent.type] || '';
      setText(x.kind, t[LABELS[view]] || ent.type);
      setText(x.name, ent.label);
      if (ent.pub === false) {
        x.el.classList.add('is-error');
        setText(x.value, '');
        setText(x.unit, '');
        setText(x.when, t.notPublic);
        return;
      }
      let attr = mainAttr(ent);
      let word = null;
      let ts = 0;
      let v = null;
      if (view === 'air') {
        const vals = {};
        for (const a of ['pm25', 'pm10', 'no2']) {
          if (ent.vals[a] && num(ent.vals[a].v)) {
            vals[a] = ent.vals[a].v;
            ts = Math.max(ts, ent.vals[a].ts);
          }
        }
        const l = airLevel(vals);
        if (l >= 0) word = [t.air[l], AIR.colours[l], AIR.inks[l]];
        attr = 'pm25';
      }
      const m = ent.vals[attr];
      if (!m || !num(m.v)) return;
      v = m.v;
      ts = Math.max(ts, m.ts);
      word = word || tileWord(t, view, attr, v, p);
      setText(x.value, fmt(t, v, attr === 'temperature' ? 1 : 0));
      setText(x.unit, view === 'air' ? 'µg/m³ PM2.5' : view === 'pool' ? t.people : view === 'noise' ? 'dB(A)' : UNITS[attr] || attr);
      if (word) badgeSet(x.badge, word[0], word[1], word[2], 0);
      x.el.style.setProperty('--band', word ? word[1] : 'transparent');
      x.shown = { ts, v };
      const parts = [];
      for (const y of tiles.values()) {
        if (y.shown) parts.push(`${y.name.textContent}${t.locale === 'fr-FR' ? ' :' : ':'} ${y.value.textContent} ${y.unit.textContent}${y.badge.hidden ? '' : `, ${y.badge.textContent}`}.`);
      }
      setText(say, parts.join(' '));
      ctx.report({ value: v, ts });
      tick(now);
    },
    tick,
    state(st) {
      setFooterState(foot, t, st);
    },
  };
}

export function errorView(root, ctx, title, hint) {
  const page = h('main', { class: 'd d-error is-error' }, message(title, hint, 'display-error'));
  root.replaceChildren(page);
  return { update() {}, tick() {}, state() {} };
}
