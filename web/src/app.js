// app.js: Vigie's operations dashboard (served at /). Plain ES modules bundled by esbuild.
// Views by URL hash: #/ overview, #/entity/<id>, #/domain/<kind>, #/sources, #/alerts?filters
// (docs/web.md).
// Tests and benchmarks read window.__vigie = {updates, lastUpdateAt, lagMs, ...}.

// Every style sheet is imported here, so that it lands in app.css: esbuild writes the CSS of
// code-split chunks to files of their own that nothing would load.
import 'leaflet/dist/leaflet.css';
import 'leaflet.markercluster/dist/MarkerCluster.css';
import 'uplot/dist/uPlot.min.css';
import './app/style.css';
import { t, getLang, setLang, onLangChange } from './i18n.js';
import { api, onUnauthorized } from './common/api.js';
import { Live } from './common/live.js';
import { h, mount, errorBox } from './app/dom.js';
import { store } from './app/store.js';
import { renderOverview } from './app/overview.js';
import { alertBus } from './app/alertbus.js';
// The other views (and uPlot with them) load on first use: the overview's first render does
// not wait for their code.
const lazyViews = {
  entity: () => import('./app/entity.js').then((m) => m.renderEntity),
  domain: () => import('./app/domainview.js').then((m) => m.renderDomain),
  sources: () => import('./app/sources.js').then((m) => m.renderSources),
  alerts: () => import('./app/alerts.js').then((m) => m.renderAlerts),
};
let showSeq = 0;
import { renderLogin } from './app/login.js';

performance.mark('vigie:script'); // every module above is evaluated
const main = document.getElementById('main');
const nav = document.getElementById('app-nav');
const langBtn = document.getElementById('lang-switch');
const liveEl = document.getElementById('live-status');
const logoutBtn = document.getElementById('logout');
const skip = document.getElementById('skip-link');

const ctx = {
  config: { auth: false, authenticated: false, tiles: null, tilesAttribution: '', publicTypes: [] },
  firstLoad: null,
  whenLoaded() {
    return this.firstLoad || new Promise(() => {});
  },
};
let live = null;
let view = null;
let liveState = 'connecting';
let started = false;

window.__vigie = {
  get updates() {
    return store.stats.updates;
  },
  get lastUpdateAt() {
    return store.stats.lastUpdateAt;
  },
  get lagMs() {
    return store.stats.lagMs;
  },
  get entities() {
    return store.entities.size;
  },
  get liveState() {
    return liveState;
  },
  get loaded() {
    return store.loaded;
  },
  get firstRenderMs() {
    return store.firstRenderAt || null;
  },
};

const NAV = [
  ['#/', 'nav.overview'],
  ['#/domain/noise', 'nav.noise'],
  ['#/domain/air', 'nav.air'],
  ['#/domain/mobility', 'nav.mobility'],
  ['#/domain/energy', 'nav.energy'],
  ['#/domain/waste', 'nav.waste'],
  ['#/domain/sport', 'nav.sport'],
  ['#/sources', 'nav.sources'],
  ['#/alerts', 'nav.alerts'], // only when the server announces the feature
];
let alertTimer = 0;

/** The nav entry's badge: the number of open (or acknowledged) alerts. */
function alertBadge() {
  const n = alertBus.openCount;
  if (n === null) return null;
  return h(
    'span',
    { class: `nav-badge${n > 0 ? ' has-alerts' : ''}`, 'data-testid': 'nav-alert-count' },
    h('span', { 'aria-hidden': 'true' }, String(n)),
    h('span', { class: 'visually-hidden' }, ` (${t('nav.alertsOpen', { n })})`),
  );
}

function renderHeader() {
  document.documentElement.lang = getLang();
  document.title = t('app.title');
  skip.textContent = t('app.skip');
  nav.setAttribute('aria-label', t('nav.label'));
  const cur = currentHash();
  mount(
    nav,
    h(
      'ul',
      null,
      NAV.filter(([href]) => href !== '#/alerts' || alertBus.enabled).map(([href, key]) => {
        const active = href === '#/' ? cur === '#/' : cur.startsWith(href);
        const badge = href === '#/alerts' ? alertBadge() : null;
        return h('li', null, h('a', { href, 'aria-current': active ? 'page' : null, 'data-testid': href === '#/alerts' ? 'nav-alerts' : null }, t(key), badge ? ' ' : null, badge));
      }),
    ),
  );
  const other = getLang() === 'fr' ? 'en' : 'fr';
  langBtn.textContent = t('lang.switch'); // the other language's name, in that language
  langBtn.setAttribute('lang', other);
  langBtn.title = t('lang.switchLabel');
  langBtn.dataset.lang = getLang();
  logoutBtn.textContent = t('login.logout');
  renderLive();
}

function renderLive() {
  liveEl.dataset.state = liveState;
  liveEl.textContent = t(`live.${liveState}`);
  liveEl.title = t('live.label');
}

function currentHash() {
  const hsh = window.location.hash || '#/';
  return hsh === '#' ? '#/' : hsh;
}

function route() {
  const hsh = currentHash();
  let m;
  if (hsh === '#/' || hsh === '#') return { name: 'overview' };
  if ((m = /^#\/entity\/(.+)$/.exec(hsh))) {
    let id = m[1];
    try {
      id = decodeURIComponent(id);
    } catch {
      // keep as is
    }
    return { name: 'entity', id };
  }
  if ((m = /^#\/domain\/([^/?]+)/.exec(hsh))) return { name: 'domain', kind: decodeURIComponent(m[1]) };
  if (hsh.startsWith('#/sources')) return { name: 'sources' };
  if (/^#\/alerts(\?|$)/.test(hsh) && alertBus.enabled) return { name: 'alerts' };
  return { name: 'notfound' };
}

function show() {
  if (view && view.destroy) view.destroy();
  view = null;
  renderHeader();
  const r = route();
  const seq = ++showSeq;
  if (r.name === 'overview') view = renderOverview(main, ctx);
  else if (lazyViews[r.name]) {
    lazyViews[r.name]().then((render) => {
      if (seq !== showSeq) return; // the route changed meanwhile
      view = r.name === 'entity' ? render(main, ctx, r.id) : r.name === 'domain' ? render(main, ctx, r.kind) : render(main, ctx);
    }, (err) => {
      if (seq === showSeq) mount(main, h('section', { class: 'page' }, errorBox({ title: t('error.load'), detail: String(err) }, t)));
    });
  } else mount(main, h('section', { class: 'page' }, h('h1', null, t('notfound')), h('a', { href: '#/' }, t('entity.back'))));
}

function loadLatest() {
  const p = store.load();
  if (!ctx.firstLoad) ctx.firstLoad = p;
  return p;
}

function startData() {
  if (started) return;
  started = true;
  // First snapshot at once (first render); the stream's "hello" then asks for a re-read so
  // nothing falls between snapshot and subscription: when the snapshot was requested before
  // the hello, that re-read runs once the first render is done.
  let loadStartedAt = performance.now();
  loadLatest().catch(() => {});
  live = new Live({
    heartbeat: 15,
    onHello() {
      const helloAt = performance.now();
      const again = () => {
        loadStartedAt = performance.now();
        return loadLatest().catch(() => {});
      };
      if (store.loading || loadStartedAt < helloAt) {
        const p = store.loading || Promise.resolve();
        p.finally(() => setTimeout(again, store.firstRenderAt ? 300 : 1500));
      } else again();
    },
    onUpdates(rows) {
      store.apply(rows);
    },
    onReset() {
      loadLatest().catch(() => {});
      alertBus.changed(null);
    },
    onAlert(ev) {
      alertBus.changed(ev);
    },
    onState(s) {
      liveState = s;
      renderLive();
    },
  });
  live.start();
  if (alertBus.enabled) {
    alertBus.refresh();
    // The badge besides the live events (a fallback while the server has none).
    alertTimer = setInterval(() => alertBus.refresh(), 60000);
  }
}

function stopData() {
  if (live) live.stop();
  live = null;
  clearInterval(alertTimer);
  started = false;
  ctx.firstLoad = null;
}

function showLogin() {
  stopData();
  liveState = 'offline';
  renderLive();
  if (view && view.destroy) view.destroy();
  view = renderLogin(main, async () => {
    await boot();
  });
}

async function boot() {
  renderHeader();
  try {
    const c = await api('/api/v1/ui/config', { noAuthHandler: true });
    ctx.config = { ...ctx.config, ...c };
    alertBus.setConfig(ctx.config);
  } catch (err) {
    if (err.status && err.status !== 404) {
      mount(main, h('section', { class: 'page' }, errorBox(err, t), h('button', { type: 'button', class: 'btn', onclick: () => boot() }, t('error.retry'))));
      return;
    }
    // No ui/config on this server (older build): assume auth off.
  }
  logoutBtn.hidden = !(ctx.config.auth && ctx.config.authenticated);
  if (ctx.config.auth && !ctx.config.authenticated) {
    showLogin();
    return;
  }
  startData();
  show();
}

onUnauthorized(() => {
  ctx.config.authenticated = false;
  logoutBtn.hidden = true;
  showLogin();
});

langBtn.addEventListener('click', () => setLang(getLang() === 'fr' ? 'en' : 'fr'));
onLangChange(() => {
  if (started) show();
  else if (view && view.relabel) view.relabel();
  else renderHeader();
});
logoutBtn.addEventListener('click', async () => {
  try {
    await api('/api/v1/session', { method: 'DELETE', noAuthHandler: true });
  } catch {
    // already gone
  }
  ctx.config.authenticated = false;
  logoutBtn.hidden = true;
  showLogin();
});
window.addEventListener('hashchange', () => {
  if (!started) return;
  show();
  main.focus({ preventScroll: true });
});
skip.addEventListener('click', (ev) => {
  ev.preventDefault();
  main.focus();
});

alertBus.subscribe(() => {
  // Only the badge: the views listen for themselves.
  const b = nav.querySelector('[data-testid="nav-alerts"]');
  if (!b) return;
  const old = b.querySelector('.nav-badge');
  const fresh = alertBadge();
  if (old && fresh) old.replaceWith(fresh);
  else if (fresh) b.append(' ', fresh);
});

boot();
