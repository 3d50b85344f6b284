// The place in line: joining, polling the status (backing off on errors), the
// answer of each poll moving the page between views, leaving, and forgetting
// the line when it ends.

import { api, retryDelayMs } from './api.js';
import { t } from './i18n.js';
import { S, save, STORE } from './state.js';
import { announce, clearMessage, genericError, showMessage, showView } from './page.js';
import { renderConcerts } from './view-start.js';
import { renderPollNote, renderWaiting } from './view-waiting.js';
import { renderTimers } from './view-admitted.js';
import { renderAll } from './views.js';
import { enterAdmitted } from './admitted.js';
import { signInExpired } from './identity.js';
import { sendBackIfAsked } from './return.js';

function rememberLine(ticket) {
  const first = S.line?.concert_id === ticket.concert_id ? S.line.first_position : 0;
  S.line = { concert_id: ticket.concert_id, token: ticket.token, first_position: Math.max(first || 0, ticket.position) };
  save(STORE.line, S.line);
}

/** Forgets the line, the admission and any hold, and stops polling. */
export function endLine() {
  clearTimeout(S.pollTimer);
  S.pollTimer = null;
  S.line = null;
  S.ticket = null;
  S.admissionDeadline = null;
  S.schedules = null;
  S.scheduleId = null;
  S.seats = [];
  S.selected.clear();
  S.reservation = null;
  S.payKey = null;
  S.pollNote = null;
  S.pollFailures = 0;
  S.lastAnnounced = null;
  save(STORE.line, null);
  save(STORE.reservation, null);
}

export function tokenExpired() {
  const concertId = S.line?.concert_id;
  endLine();
  showView('start');
  showMessage('err.tokenExpired', {}, { action: concertId ? 'rejoin' : null, concertId });
  renderAll();
}

export async function joinLine(concertId) {
  if (!S.user || S.busy) return;
  clearMessage();
  S.busy = true;
  renderConcerts();
  try {
    const ticket = await api.join(concertId, S.user.access_token);
    if (S.line && S.line.concert_id !== concertId) endLine();
    rememberLine(ticket);
    onTicket(ticket);
    schedulePoll(ticket.poll_after_ms);
  } catch (e) {
    if (e.status === 401) signInExpired();
    else if (e.code === 'sale_closed') showMessage('err.saleClosed');
    else if (e.code === 'queue_full') showMessage('err.queueFull', { n: e.retryAfterSeconds ?? 5 }, { kind: 'warn', action: 'rejoin', concertId });
    else genericError(e);
  } finally {
    S.busy = false;
    renderConcerts();
  }
}

function onTicket(ticket) {
  S.ticket = ticket;
  switch (ticket.status) {
    case 'waiting':
    case 'sold_out':
      // Sold out keeps the place: seats may come back when holds end.
      if (ticket.status === 'sold_out' && S.reservation) break; // what is held may still be paid
      showView('waiting');
      renderWaiting();
      break;
    case 'active': {
      sendBackIfAsked(ticket);
      S.admissionDeadline = Date.now() + ticket.active_remaining_seconds * 1000;
      if (S.view !== 'admitted') enterAdmitted();
      else renderTimers();
      break;
    }
    default:
      tokenExpired();
  }
}

export function schedulePoll(ms) {
  clearTimeout(S.pollTimer);
  const delay = Math.min(60_000, Math.max(500, Number(ms) || 1000));
  S.pollTimer = setTimeout(poll, delay);
}

/** Asks where the person stands, then again after poll_after_ms, backing off on errors. */
export async function poll() {
  S.pollTimer = null;
  const line = S.line;
  if (!line) return;
  try {
    const ticket = await api.status(line.token);
    if (S.line !== line) return;
    // Back after failures: say where the person stands again.
    if (S.pollFailures > 0) S.lastAnnounced = null;
    S.pollFailures = 0;
    S.pollNote = { key: 'wait.updated', at: new Date() };
    onTicket(ticket);
    renderPollNote();
    if (S.line === line) schedulePoll(ticket.poll_after_ms);
  } catch (e) {
    if (S.line !== line) return;
    if (e.status === 401 || e.status === 403) {
      tokenExpired();
      return;
    }
    S.pollFailures += 1;
    const delay = retryDelayMs(e, S.pollFailures);
    S.pollNote = { key: e.busy ? 'err.busy' : 'err.offline', vars: { n: Math.ceil(delay / 1000) }, kind: 'warn' };
    renderPollNote();
    if (S.pollFailures === 1) announce(t(S.pollNote.key, S.pollNote.vars));
    schedulePoll(delay);
  }
}

export async function leaveLine() {
  const line = S.line;
  if (!line) return;
  try {
    await api.leave(line.token);
  } catch (e) {
    if (e.busy || e.transient) {
      genericError(e);
      return;
    }
  }
  endLine();
  showView('start');
  renderAll();
}
