// Draws the waiting view: the place in line, the progress since joining and
// the estimated wait, announcing a new place to screen readers; and the note
// saying when the place was last asked (or why it could not be), which the
// admitted view shows too.

import { clock, duration, number, t } from './i18n.js';
import { concertTitle, S, save, STORE } from './state.js';
import { $, announce } from './page.js';

export function renderWaiting() {
  const ticket = S.ticket;
  if (!ticket || !S.line) return;
  $('waiting-concert').textContent = concertTitle(S.line.concert_id);
  const pos = ticket.position;
  if (pos > 0 && pos > (S.line.first_position || 0)) {
    S.line.first_position = pos;
    save(STORE.line, S.line);
  }
  $('position').textContent = pos > 0 ? number(pos) : '–';
  $('ahead').textContent = pos > 0 ? t(pos === 1 ? 'wait.ahead.0' : pos === 2 ? 'wait.ahead.1' : 'wait.ahead.n', { n: number(pos - 1) }) : '';
  const first = S.line.first_position || 0;
  const pct = first > 0 && pos > 0 ? Math.round(((first - pos) / first) * 100) : 0;
  $('progress').value = pct;
  $('progress-text').textContent = t('wait.progress', { pct });
  // A sold-out line has no wait to estimate until seats come back.
  $('estimate').hidden = ticket.status === 'sold_out';
  const p90 = ticket.estimated_wait_seconds_p90;
  $('estimate').textContent =
    p90 != null && p90 > ticket.estimated_wait_seconds
      ? t('wait.estimateP90', { wait: duration(ticket.estimated_wait_seconds), p90: duration(p90) })
      : t('wait.estimate', { wait: duration(ticket.estimated_wait_seconds) });
  const opensIn = ticket.opens_in_seconds;
  $('opens-in').hidden = !(opensIn > 0);
  if (opensIn > 0) $('opens-in').textContent = t('wait.opens', { wait: opensIn < 60 ? t('wait.seconds', { n: opensIn }) : duration(opensIn) });
  if (pos > 0 && pos !== S.lastAnnounced) {
    S.lastAnnounced = pos;
    announce(pos === 1 ? t('wait.announceFirst') : t('wait.announce', { n: number(pos) }));
  }
  // Said after the place, so the live region ends on it.
  const soldOut = ticket.status === 'sold_out';
  if (soldOut !== !$('sold-out-note').hidden) {
    $('sold-out-note').hidden = !soldOut;
    if (soldOut) announce(t('wait.soldOut'));
  }
}

export function renderPollNote() {
  const note = S.pollNote;
  const text = !note ? '' : note.key === 'wait.updated' ? t(note.key, { time: clock(note.at) }) : t(note.key, note.vars);
  for (const id of ['poll-state', 'admitted-poll-state']) {
    $(id).textContent = text;
    $(id).dataset.kind = note?.kind || '';
  }
}
