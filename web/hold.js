// The hold on chosen seats: placing it, restoring it after a reload, releasing
// it, and noticing when it has run out. The hold is kept in localStorage.

import { api } from './api.js';
import { t } from './i18n.js';
import { S, save, STORE } from './state.js';
import { $, announce, clearMessage, genericError, showMessage } from './page.js';
import { renderAdmitted, renderReservation, renderSeats } from './view-admitted.js';
import { admittedError, loadSchedules, loadSeats } from './admitted.js';

export async function restoreReservation() {
  const r = S.reservation;
  if (!S.line || r.concert_id !== S.line.concert_id) {
    S.reservation = null;
    save(STORE.reservation, null);
    return;
  }
  try {
    S.reservation = await api.reservation(r.reservation_id, S.line.token);
    S.scheduleId = S.reservation.schedule_id;
  } catch (e) {
    if (e.status === 404 || e.status === 403) {
      S.reservation = null;
      save(STORE.reservation, null);
    }
  }
}

export async function holdSeats() {
  const line = S.line;
  if (!line || !S.scheduleId || S.selected.size === 0 || S.busy) return;
  const seatNos = [...S.selected].sort((a, b) => a - b);
  S.busy = true;
  renderSeats();
  try {
    const r = await api.hold(S.scheduleId, seatNos, line.token);
    clearMessage();
    setReservation(r);
    S.selected.clear();
    loadSchedules();
    announce(t('res.title'));
    $('reservation-title').tabIndex = -1;
    $('reservation-title').focus();
  } catch (e) {
    if (admittedError(e)) return;
    if (e.code === 'seat_unavailable') {
      const taken = e.body.seat_nos || seatNos;
      for (const no of taken) S.selected.delete(no);
      showMessage(taken.length === 1 ? 'err.seatTaken' : 'err.seatsTaken', { seats: taken.join(', ') });
      loadSchedules();
    } else if (e.code === 'reservation_exists' && e.body.reservation_id) {
      S.reservation = { reservation_id: e.body.reservation_id, concert_id: line.concert_id };
      await restoreReservation();
      if (!S.reservation) showMessage('err.reservationExists');
    } else if (e.code === 'schedule_closed') {
      showMessage('err.scheduleClosed');
      S.scheduleId = null;
      await loadSchedules();
    } else genericError(e);
  } finally {
    S.busy = false;
  }
  renderAdmitted();
  await loadSeats();
}

function setReservation(r) {
  S.reservation = r;
  S.payKey = null;
  save(STORE.reservation, r);
  renderAdmitted();
}

export async function releaseSeats() {
  const r = S.reservation;
  if (!r || !S.line || S.busy) return;
  S.busy = true;
  try {
    await api.release(r.reservation_id, S.line.token);
    showMessage('res.released', {}, { kind: 'info' });
  } catch (e) {
    S.busy = false;
    if (admittedError(e)) return;
    if (e.status !== 404) {
      genericError(e);
      renderReservation();
      return;
    }
  }
  S.busy = false;
  S.reservation = null;
  save(STORE.reservation, null);
  renderAdmitted();
  await Promise.all([loadSeats(), loadSchedules()]);
}

/** The hold ran out: say so, and show the seats as they are now. */
export async function holdExpired() {
  S.reservation = null;
  S.payKey = null;
  save(STORE.reservation, null);
  showMessage('err.holdExpired');
  renderAdmitted();
  await Promise.all([loadSeats(), loadSchedules()]);
}

export async function checkHold() {
  const r = S.reservation;
  if (!r || !S.line || S.checkingHold || S.busy) return;
  S.checkingHold = true;
  try {
    await api.reservation(r.reservation_id, S.line.token);
  } catch (e) {
    if (S.reservation === r) {
      if (e.status === 404) await holdExpired();
      else admittedError(e);
    }
  } finally {
    // Asked at most once a second (the ticker), even if the clocks disagree.
    setTimeout(() => {
      S.checkingHold = false;
    }, 1000);
  }
}
