// display/params.js: what a display page shows, from its path (/display/<view>) and its URL
// parameters: id, ids, type, lang, theme, title, capacity, embed, refresh, heartbeat.

export const VIEWS = ['noise', 'air', 'pool', 'city'];

// The type a view shows, used to complete a short id ("nation-03").
const VIEW_TYPE = { noise: 'NoiseLevelObserved', air: 'AirQualityObserved', pool: 'SwimmingPool' };

// Short type names accepted in ids=noise:nation-01,pool:reuilly and type=.
const TYPE_ALIAS = {
  noise: 'NoiseLevelObserved',
  air: 'AirQualityObserved',
  pool: 'SwimmingPool',
  weather: 'WeatherObserved',
};

function typeName(t) {
  if (!t) return '';
  return TYPE_ALIAS[t.toLowerCase()] || t;
}

// "urn:ngsi-ld:NoiseLevelObserved:nation-03" stays; "nation-03" becomes one with the type given
// (or the view's); "noise:nation-03" or "NoiseLevelObserved:nation-03" carry their own type.
export function fullId(raw, type) {
  const s = raw.trim();
  if (!s) return '';
  if (/^urn:/i.test(s)) return s;
  const c = s.indexOf(':');
  if (c > 0) return `urn:ngsi-ld:${typeName(s.slice(0, c))}:${s.slice(c + 1)}`;
  return type ? `urn:ngsi-ld:${type}:${s}` : s;
}

// The entity type in a full id, or ''.
export function idType(id) {
  const m = /^urn:ngsi-ld:([^:]+):/i.exec(id);
  return m ? m[1] : '';
}

function intParam(q, name, def, min, max) {
  const v = parseInt(q.get(name) || '', 10);
  if (!Number.isFinite(v)) return def;
  return Math.min(max, Math.max(min, v));
}

export function readParams(loc) {
  const q = new URLSearchParams(loc.search);
  const parts = loc.pathname.split('/').filter(Boolean);
  const view = (parts[0] === 'display' ? parts[1] : parts[parts.length - 1]) || 'city';
  const lang = (q.get('lang') || '').toLowerCase().startsWith('en') ? 'en' : 'fr';
  const theme = q.get('theme') === 'light' ? 'light' : 'dark';
  const embed = q.get('embed') === '1' || q.get('embed') === 'true';
  const type = typeName(q.get('type') || '') || VIEW_TYPE[view] || '';
  let ids = [];
  if (view === 'city') {
    const raw = (q.get('ids') || q.get('id') || '').split(',');
    ids = raw.map((s) => fullId(s, typeName(q.get('type') || ''))).filter(Boolean);
  } else {
    const raw = q.get('id') || (q.get('ids') || '').split(',')[0] || '';
    const id = fullId(raw, type);
    if (id) ids = [id];
  }
  const cap = parseInt(q.get('capacity') || '', 10);
  return {
    view,
    known: VIEWS.includes(view),
    ids: [...new Set(ids)],
    lang,
    theme,
    embed,
    title: q.get('title') || '',
    capacity: Number.isFinite(cap) && cap > 0 ? cap : 0,
    refresh: intParam(q, 'refresh', 300, 0, 86400),
    heartbeat: intParam(q, 'heartbeat', 15, 1, 60),
  };
}
