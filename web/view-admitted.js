// Draws the admitted view: the admission and hold timers, the wallet, the
// dates, the seat map and the held seats. The date and seat buttons it draws
// choose through admitted.js; the other buttons are the page's own (app.js).

import { countdown, dateTime, number, t, won } from './i18n.js';
import { renderSeatMap, shownStatus, statusText } from './seats.js';
import { concertTitle, mySeats, S, selectedTotal } from './state.js';
import { $, resolve } from './page.js';
import { renderIdentity } from './view-start.js';
import { selectDate, toggleSeat } from './admitted.js';

export function renderTimers() {
  if (S.admissionDeadline != null) {
    const left = Math.max(0, (S.admissionDeadline - Date.now()) / 1000);
    $('admission-timer').textContent = t('active.timer', { time: countdown(left) });
  }
  const r = S.reservation;
  if (r) {
    const left = Math.max(0, (Date.parse(r.held_until) - Date.now()) / 1000);
    $('hold-timer').textContent = t('res.timer', { time: countdown(left) });
  }
}

export function renderWallet() {
  $('balance').textContent = S.balance == null ? '–' : won(S.balance);
  const holding = !!S.reservation;
  $('charge').disabled = holding || S.busy;
  $('charge-amount').disabled = holding;
  let note = '';
  if (holding) note = t('wallet.whileHolding');
  else if (S.walletNote) note = t(S.walletNote.key, resolve(S.walletNote.vars));
  else {
    const total = selectedTotal();
    if (total > 0 && S.balance != null && S.balance < total) {
      note = t('wallet.short', { amount: won(total), short: won(total - S.balance) });
    }
  }
  $('wallet-note').textContent = note;
  renderIdentity();
}

export function renderDates() {
  const list = $('dates');
  const schedules = S.schedules || [];
  list.replaceChildren(
    ...schedules.map((s) => {
      const li = document.createElement('li');
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'date';
      button.setAttribute('aria-pressed', String(s.schedule_id === S.scheduleId));
      button.textContent = t('dates.item', {
        date: dateTime(s.starts_at),
        available: number(s.available_seats),
        total: number(s.total_seats),
      });
      button.disabled = !!S.reservation && s.schedule_id !== S.reservation.schedule_id;
      button.addEventListener('click', () => selectDate(s.schedule_id));
      li.append(button);
      return li;
    }),
  );
  $('dates-state').textContent = S.schedules && schedules.length === 0 && !S.reservation ? t('dates.none') : '';
  $('dates-state').dataset.kind = S.schedules && schedules.length === 0 && !S.reservation ? 'sold-out' : '';
  $('refresh-dates').hidden = $('dates-state').dataset.kind !== 'sold-out';
}

export function renderSeats() {
  const section = $('seat-section');
  section.hidden = !S.scheduleId;
  if (!S.scheduleId) return;
  const schedule = S.schedules?.find((s) => s.schedule_id === S.scheduleId);
  $('seat-map').setAttribute('aria-label', t('seats.map', { date: schedule ? dateTime(schedule.starts_at) : '' }));
  renderSeatMap($('seat-map'), S.seats, {
    selected: S.selected,
    mine: mySeats(),
    onToggle: toggleSeat,
    onInfo: (seat) => {
      S.infoSeat = seat.seat_no;
      renderSeatInfo();
    },
  });
  renderSeatInfo();
  const chosen = [...S.selected].sort((a, b) => a - b);
  $('selection').textContent = chosen.length
    ? t('seats.chosen', { seats: chosen.join(', '), amount: won(selectedTotal()) })
    : t('seats.none');
  const hold = $('hold');
  hold.hidden = !!S.reservation;
  hold.disabled = chosen.length === 0 || S.busy;
  hold.textContent =
    chosen.length === 0 ? t('seats.holdNone') : chosen.length === 1 ? t('seats.holdOne') : t('seats.hold', { n: chosen.length });
}

/** The price and status of the seat last hovered or focused, as it is now. */
function renderSeatInfo() {
  const seat = S.seats.find((s) => s.seat_no === S.infoSeat);
  const status = seat && shownStatus(seat, S.selected, mySeats());
  $('seat-info').textContent = seat ? t('seats.info', { seat: seat.seat_no, price: won(seat.price), status: statusText(status) }) : '';
}

export function renderReservation() {
  const r = S.reservation;
  $('reservation').hidden = !r;
  if (!r) return;
  const date = S.scheduleDates.get(r.schedule_id);
  $('res-seats').textContent = t('res.seats', { seats: r.seat_nos.join(', '), date: date ? dateTime(date) : '' });
  $('res-amount').textContent = t('res.amount', { amount: won(r.amount) });
  $('pay').textContent = t('res.pay', { amount: won(r.amount) });
  // Paying without the money ends the turn (the API's rule): say so before the click.
  const short = S.balance != null && S.balance < r.amount;
  $('res-note').hidden = !short;
  if (short) $('res-note').textContent = t('res.short', { balance: won(S.balance) });
  $('pay').disabled = S.busy;
  $('release').disabled = S.busy;
  renderTimers();
}

export function renderAdmitted() {
  if (!S.line) return;
  $('admitted-concert').textContent = concertTitle(S.line.concert_id);
  renderTimers();
  renderWallet();
  renderDates();
  renderReservation();
  renderSeats();
}
