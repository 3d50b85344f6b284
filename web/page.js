// The frame every view shares: finding an element, which view is shown, the
// message box, the screen-reader announcer, and the message for an error no
// action planned a text for. Knows nothing of what a view shows.

import { retryDelayMs } from './api.js';
import { t } from './i18n.js';
import { S } from './state.js';

export const $ = (id) => document.getElementById(id);

export function shortId(id) {
  return id ? id.slice(-8) : '';
}

export function resolve(vars = {}) {
  return Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, typeof v === 'function' ? v() : v]));
}

export function showMessage(key, vars = {}, { kind = 'error', action = null, concertId = null } = {}) {
  S.message = { key, vars, kind, action, concertId };
  renderMessage();
}

export function clearMessage() {
  S.message = null;
  renderMessage();
}

export function renderMessage() {
  const box = $('message');
  const m = S.message;
  box.hidden = !m;
  if (!m) return;
  box.dataset.kind = m.kind;
  box.dataset.code = m.key;
  $('message-text').textContent = t(m.key, resolve(m.vars));
  const action = $('message-action');
  action.hidden = !m.action;
  if (m.action) action.textContent = t(m.action === 'rejoin' ? 'action.rejoin' : 'action.back');
}

export function announce(text) {
  $('announcer').textContent = text;
}

export function showView(name) {
  if (S.view === name) return;
  S.view = name;
  for (const view of ['start', 'waiting', 'admitted', 'ticket']) $(`view-${view}`).hidden = view !== name;
  const heading = document.querySelector(`#view-${name} h1`);
  if (heading) {
    heading.tabIndex = -1;
    heading.focus({ preventScroll: false });
  }
}

/** The message for an error nobody planned a text for, or a busy server. */
export function genericError(error) {
  if (error.busy) {
    showMessage('err.busyAction', { n: Math.ceil(retryDelayMs(error, 1) / 1000) }, { kind: 'warn' });
  } else if (error.status === 0) {
    showMessage('err.offline', { n: 1 }, { kind: 'warn' });
  } else {
    showMessage('err.generic', { message: error.message });
  }
}
