// app/sources.js: #/sources: declared sources (GET /api/v1/sources) and the last 100
// quarantined rows (GET /api/v1/quarantine?limit=100), with a refresh button.
import { h, mount, errorBox } from './dom.js';
import { t, getLang } from '../i18n.js';
import { api } from '../common/api.js';
import { fmtNumber, fmtDateTime, fmtAge } from '../common/format.js';

export function renderSources(main) {
  let destroyed = false;
  const srcBox = h('div', { class: 'table-wrap' }, t('loading'));
  const qBox = h('div', { class: 'table-wrap' }, t('loading'));
  const qTotal = h('p', { class: 'muted' });
  const refresh = h('button', { type: 'button', class: 'btn', 'data-testid': 'sources-refresh', onclick: () => load() }, t('sources.refresh'));
  mount(
    main,
    h(
      'section',
      { class: 'page sources' },
      h('div', { class: 'page-head' }, h('h1', null, t('sources.title')), refresh),
      h('h2', null, t('nav.sources')),
      srcBox,
      h('h2', null, t('quarantine.title')),
      qTotal,
      qBox,
    ),
  );

  const yes = (b) => (b === undefined || b === null ? '–' : b ? t('sources.yes') : t('sources.no'));

  async function load() {
    const lang = getLang();
    refresh.disabled = true;
    const [s, q] = await Promise.allSettled([api('/api/v1/sources'), api('/api/v1/quarantine', { params: { limit: 100 } })]);
    refresh.disabled = false;
    if (destroyed) return;
    if (s.status === 'rejected') mount(srcBox, errorBox(s.reason, t));
    else {
      const list = s.value.sources || [];
      if (!list.length) mount(srcBox, h('p', { class: 'muted' }, t('sources.none')));
      else {
        const num = (v) => h('td', { class: 'num' }, fmtNumber(v, lang, 0));
        mount(
          srcBox,
          h(
            'table',
            { class: 'data-table', 'data-testid': 'sources-table' },
            h(
              'thead',
              null,
              h(
                'tr',
                null,
                ['sources.name', 'sources.kind', 'sources.received', 'sources.stored', 'sources.quarantined', 'sources.errors', 'sources.lastSeen', 'sources.stale', 'sources.connected', 'sources.lastError'].map((k) =>
                  h('th', { scope: 'col' }, t(k)),
                ),
              ),
            ),
            h(
              'tbody',
              null,
              list.map((x) =>
                h(
                  'tr',
                  { class: x.stale ? 'is-stale' : null },
                  h('th', { scope: 'row' }, x.name),
                  h('td', null, x.kind),
                  num(x.received),
                  num(x.stored),
                  num(x.quarantined),
                  num(x.errors),
                  h('td', { title: x.last_seen ? fmtDateTime(x.last_seen, lang) : null }, x.last_seen ? fmtAge(x.last_seen, lang) : '–'),
                  h('td', null, x.stale ? h('span', { class: 'badge badge-warn' }, t('sources.yes')) : yes(x.stale)),
                  h('td', null, x.kind === 'mqtt' ? yes(x.connected) : '–'),
                  h('td', { class: 'wrap' }, x.last_error ? `${x.last_error}${x.last_error_at ? ` (${fmtDateTime(x.last_error_at, lang)})` : ''}` : '–'),
                ),
              ),
            ),
          ),
        );
      }
    }
    if (q.status === 'rejected') {
      mount(qBox, errorBox(q.reason, t));
      mount(qTotal);
    } else {
      const items = q.value.items || [];
      mount(qTotal, t('quarantine.total', { n: fmtNumber(q.value.total || 0, lang, 0) }));
      if (!items.length) mount(qBox, h('p', { class: 'muted' }, t('quarantine.none')));
      else
        mount(
          qBox,
          h(
            'table',
            { class: 'data-table', 'data-testid': 'quarantine-table' },
            h('thead', null, h('tr', null, ['quarantine.time', 'quarantine.source', 'quarantine.reason', 'quarantine.raw'].map((k) => h('th', { scope: 'col' }, t(k))))),
            h(
              'tbody',
              null,
              items.map((x) =>
                h(
                  'tr',
                  null,
                  h('td', { class: 'nowrap' }, fmtDateTime(x.received, lang)),
                  h('td', null, x.source),
                  h('td', { class: 'wrap' }, x.reason),
                  h('td', null, h('code', { class: 'raw' }, x.raw)),
                ),
              ),
            ),
          ),
        );
    }
  }
  load();
  return {
    destroy() {
      destroyed = true;
    },
  };
}
