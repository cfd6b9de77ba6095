// app/dom.js: tiny DOM helpers (no framework).

/** h('div', {class: 'x', onclick: fn, dataset: {...}}, ...children) -> Element. */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (k === 'class') el.className = v;
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k === 'style' && typeof v === 'object') Object.assign(el.style, v);
      else if (k === 'text') el.textContent = v;
      else if (v === true) el.setAttribute(k, '');
      else el.setAttribute(k, String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

/** Replaces the children of el. */
export function mount(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** Sets textContent only when it changed (cheap for live updates). */
export function setText(el, s) {
  if (el && el.textContent !== s) el.textContent = s;
}

/** Shows an error (ApiError or any Error) as an alert box. */
export function errorBox(err, t) {
  const title = (err && err.title) || t('error.generic');
  const detail = (err && (err.detail || err.message)) || '';
  return h('div', { class: 'error-box', role: 'alert' }, h('strong', null, title), detail && title !== detail ? h('p', null, detail) : null);
}

/** Short entity label: name tag, else the last part of the URN. */
export function shortId(id) {
  const i = id.lastIndexOf(':');
  return i >= 0 ? id.slice(i + 1) : id;
}
