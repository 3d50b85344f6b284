// The person's turn: entering it, the dates and seat map it loads, choosing a
// date and seats, and the errors every call made during the turn can meet.
// Holding, paying and the wallet have modules of their own.

import { api } from './api.js';
import { t } from './i18n.js';
import { shownStatus, statusText } from './seats.js';
import { mySeats, S } from './state.js';
import { $, announce, clearMessage, genericError, showMessage, showView } from './page.js';
import { renderAdmitted, renderDates, renderSeats, renderWallet } from './view-admitted.js';
import { schedulePoll, tokenExpired } from './line.js';
import { restoreReservation } from './hold.js';
import { loadBalance } from './wallet.js';

const MAX_SEATS = 4;

export async function enterAdmitted() {
  showView('admitted');
  announce(t('active.announce'));
  renderAdmitted();
  await Promise.all([loadBalance(), loadSchedules()]);
  if (S.reservation) await restoreReservation();
  if (!S.scheduleId && S.schedules?.length) S.scheduleId = S.schedules[0].schedule_id;
  renderAdmitted();
  if (S.scheduleId) await loadSeats();
}

export async function loadSchedules() {
  if (!S.line) return;
  try {
    const r = await api.schedules(S.line.concert_id);
    S.schedules = r.schedules;
    for (const s of r.schedules) S.scheduleDates.set(s.schedule_id, s.starts_at);
  } catch (e) {
    genericError(e);
  }
  renderDates();
}

/** Handles the errors every admitted call can meet; false when it was another. */
export function admittedError(e) {
  if (e.code === 'token_expired' || e.code === 'token_revoked' || e.status === 401) {
    tokenExpired();
    return true;
  }
  if (e.code === 'not_admitted') {
    showMessage('err.notAdmitted', {}, { kind: 'info' });
    showView('waiting');
    schedulePoll(0);
    return true;
  }
  return false;
}

export async function loadSeats() {
  const line = S.line;
  const scheduleId = S.scheduleId;
  if (!line || !scheduleId) return;
  $('seat-map').setAttribute('aria-busy', 'true');
  try {
    const r = await api.seats(scheduleId, line.token);
    if (S.scheduleId !== scheduleId) return;
    S.seats = r.seats;
    for (const seat of S.seats) if (seat.status !== 'available') S.selected.delete(seat.seat_no);
  } catch (e) {
    if (!admittedError(e)) genericError(e);
  } finally {
    $('seat-map').removeAttribute('aria-busy');
  }
  renderSeats();
  renderWallet();
}

export function selectDate(scheduleId) {
  if (S.scheduleId === scheduleId) return;
  S.scheduleId = scheduleId;
  S.seats = [];
  S.selected.clear();
  $('seat-map').replaceChildren();
  renderDates();
  renderSeats();
  loadSeats();
}

export function toggleSeat(seat) {
  const status = shownStatus(seat, S.selected, mySeats());
  if (S.reservation) return;
  if (status === 'held' || status === 'sold' || status === 'mine') {
    showMessage('seats.taken', { seat: seat.seat_no, status: () => statusText(status) }, { kind: 'info' });
    return;
  }
  if (S.selected.has(seat.seat_no)) S.selected.delete(seat.seat_no);
  else if (S.selected.size >= MAX_SEATS) {
    showMessage('seats.max', {}, { kind: 'info' });
    return;
  } else S.selected.add(seat.seat_no);
  if (S.message?.kind === 'info') clearMessage();
  S.walletNote = null;
  renderSeats();
  renderWallet();
}
