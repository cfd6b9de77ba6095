// app/login.js: the API-key login form (POST /api/v1/session, cookie session).
import { h, mount, errorBox } from './dom.js';
import { t } from '../i18n.js';
import { api } from '../common/api.js';

export function renderLogin(main, onDone) {
  let errEl;
  let input;
  let btn;
  function draw() {
    errEl = h('div', { class: 'login-error', 'aria-live': 'assertive' });
    input = h('input', { id: 'login-key', name: 'key', type: 'password', autocomplete: 'current-password', required: true, 'data-testid': 'login-key' });
    btn = h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'login-submit' }, t('login.submit'));
    const form = h(
      'form',
      { class: 'login-form', 'data-testid': 'login', onsubmit: submit },
      h('h1', null, t('login.title')),
      h('p', null, t('login.intro')),
      h('label', { for: 'login-key' }, t('login.key')),
      input,
      errEl,
      btn,
    );
    mount(main, h('section', { class: 'page login' }, form));
    input.focus();
  }
  async function submit(ev) {
    ev.preventDefault();
    btn.disabled = true;
    mount(errEl);
    try {
      await api('/api/v1/session', { method: 'POST', body: { key: input.value.trim() }, noAuthHandler: true });
      await onDone();
    } catch (err) {
      mount(errEl, errorBox(err.status === 401 ? { title: t('login.bad'), detail: err.detail } : err, t));
      btn.disabled = false;
      input.select();
    }
  }
  draw();
  return { destroy() {}, relabel: draw };
}
