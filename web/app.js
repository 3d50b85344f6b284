// The waiting room: sign up, pick a concert, wait in line, choose seats, pay.
// One state object; render functions draw it; API calls change it. The user,
// the place in line and an open hold are kept in localStorage, so a reload or
// a second visit carries on where the person was.

import { api, newKey, retryDelayMs } from './api.js';
import { applyStatic, clock, countdown, currentLang, dateTime, duration, number, setLang, t, won } from './i18n.js';
import { renderSeatMap, shownStatus, statusText } from './seats.js';

const MAX_SEATS = 4;
const STORE = { user: 'lineup.user', line: 'lineup.line', reservation: 'lineup.reservation' };

const $ = (id) => document.getElementById(id);

function load(key) {
  try {
    return JSON.parse(localStorage.getItem(key) || 'null');
  } catch {
    return null;
  }
}

function save(key, value) {
  if (value == null) localStorage.removeItem(key);
  else localStorage.setItem(key, JSON.stringify(value));
}

const S = {
  user: load(STORE.user), // {user_id, access_token}
  userChosen: false, // signed up or continued during this visit
  concerts: null,
  line: load(STORE.line), // {concert_id, token, first_position}
  ticket: null, // the last QueueTicket
  view: 'start',
  schedules: null,
  scheduleDates: new Map(), // schedule id -> starts_at, for tickets
  scheduleId: null,
  seats: [],
  selected: new Set(),
  reservation: load(STORE.reservation),
  payKey: null,
  chargeAttempt: null,
  balance: null,
  walletNote: null,
  message: null, // {key, vars, kind, action, concertId}
  pollTimer: null,
  pollFailures: 0,
  pollNote: null,
  admissionDeadline: null,
  checkingHold: false,
  lastAnnounced: null,
  infoSeat: null,
  payment: null,
  payments: null,
  busy: false,
};

// ---------- small helpers ----------

function shortId(id) {
  return id ? id.slice(-8) : '';
}

function concertOf(id) {
  return S.concerts?.find((c) => c.concert_id === id);
}

function concertTitle(id) {
  return concertOf(id)?.title ?? '';
}

function resolve(vars = {}) {
  return Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, typeof v === 'function' ? v() : v]));
}

function showMessage(key, vars = {}, { kind = 'error', action = null, concertId = null } = {}) {
  S.message = { key, vars, kind, action, concertId };
  renderMessage();
}

function clearMessage() {
  S.message = null;
  renderMessage();
}

function announce(text) {
  $('announcer').textContent = text;
}

function showView(name) {
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
function genericError(error) {
  if (error.busy) {
    showMessage('err.busyAction', { n: Math.ceil(retryDelayMs(error, 1) / 1000) }, { kind: 'warn' });
  } else if (error.status === 0) {
    showMessage('err.offline', { n: 1 }, { kind: 'warn' });
  } else {
    showMessage('err.generic', { message: error.message });
  }
}

// ---------- rendering ----------

function renderMessage() {
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

function renderIdentity() {
  const stored = !!S.user;
  const chosen = stored && S.userChosen;
  $('identity-text').textContent = chosen
    ? t('id.current', { id: shortId(S.user.user_id) })
    : stored
      ? t('id.stored', { id: shortId(S.user.user_id) })
      : t('id.new');
  $('continue-user').hidden = !stored || chosen;
  $('sign-up').textContent = stored ? t('id.signUpNew') : t('id.signUp');
  $('show-history').hidden = !chosen;
  $('who').textContent = chosen ? `${shortId(S.user.user_id)}${S.balance != null ? ` · ${won(S.balance)}` : ''}` : '';
}

function renderConcerts() {
  const list = $('concerts');
  const state = $('concerts-state');
  const chosen = !!S.user && S.userChosen;
  if (S.concerts == null) {
    state.textContent = t('start.loading');
    return;
  }
  state.textContent = S.concerts.length === 0 ? t('start.none') : chosen ? '' : t('id.needed');
  list.replaceChildren(
    ...S.concerts.map((c) => {
      const li = document.createElement('li');
      li.className = 'card concert';
      const title = document.createElement('h2');
      title.textContent = c.title;
      const venue = document.createElement('p');
      venue.textContent = c.venue;
      const opens = document.createElement('p');
      opens.className = 'muted';
      opens.textContent = t('concert.opens', { when: dateTime(c.opens_at) });
      const join = document.createElement('button');
      join.type = 'button';
      join.textContent = t('concert.join');
      join.setAttribute('aria-label', t('concert.joinLabel', { title: c.title }));
      join.disabled = !chosen || S.busy;
      join.addEventListener('click', () => joinLine(c.concert_id));
      li.append(title, venue, opens, join);
      return li;
    }),
  );
}

function renderWaiting() {
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

function renderPollNote() {
  const note = S.pollNote;
  const text = !note ? '' : note.key === 'wait.updated' ? t(note.key, { time: clock(note.at) }) : t(note.key, note.vars);
  for (const id of ['poll-state', 'admitted-poll-state']) {
    $(id).textContent = text;
    $(id).dataset.kind = note?.kind || '';
  }
}

function renderTimers() {
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

function renderWallet() {
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

function renderDates() {
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

function selectedTotal() {
  return S.seats.filter((s) => S.selected.has(s.seat_no)).reduce((sum, s) => sum + s.price, 0);
}

function mySeats() {
  const r = S.reservation;
  return new Set(r && r.schedule_id === S.scheduleId ? r.seat_nos : []);
}

function renderSeats() {
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

function renderReservation() {
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

function renderAdmitted() {
  if (!S.line) return;
  $('admitted-concert').textContent = concertTitle(S.line.concert_id);
  renderTimers();
  renderWallet();
  renderDates();
  renderReservation();
  renderSeats();
}

function renderTicket() {
  const p = S.payment;
  $('ticket').hidden = !p;
  if (p) {
    const rows = [
      ['ticket.concert', concertTitle(p.concert_id)],
      ['ticket.date', S.scheduleDates.has(p.schedule_id) ? dateTime(S.scheduleDates.get(p.schedule_id)) : ''],
      ['ticket.seats', p.seat_nos.join(', ')],
      ['ticket.amount', won(p.amount)],
      ['ticket.balance', won(p.balance)],
      ['ticket.id', p.payment_id],
    ].filter(([, value]) => value !== '');
    $('ticket-details').replaceChildren(
      ...rows.flatMap(([key, value]) => {
        const dt = document.createElement('dt');
        dt.textContent = t(key);
        const dd = document.createElement('dd');
        dd.textContent = value;
        dd.dataset.field = key.split('.')[1];
        return [dt, dd];
      }),
    );
  }
  const history = $('history');
  if (S.payments == null) {
    history.replaceChildren();
    return;
  }
  if (S.payments.length === 0) {
    const li = document.createElement('li');
    li.textContent = t('history.none');
    history.replaceChildren(li);
    return;
  }
  history.replaceChildren(
    ...S.payments.map((payment) => {
      const li = document.createElement('li');
      li.textContent = t('history.item', {
        title: concertTitle(payment.concert_id) || shortId(payment.concert_id),
        date: S.scheduleDates.has(payment.schedule_id) ? dateTime(S.scheduleDates.get(payment.schedule_id)) : '',
        seats: payment.seat_nos.join(', '),
        amount: won(payment.amount),
        paid: dateTime(payment.paid_at),
      }).replace(', :', ':');
      return li;
    }),
  );
}

function renderAll() {
  applyStatic();
  // The switch names the other language in that language, and says so to screen readers.
  $('lang').lang = currentLang() === 'ko' ? 'en' : 'ko';
  renderMessage();
  renderIdentity();
  renderConcerts();
  renderWaiting();
  renderPollNote();
  renderAdmitted();
  renderTicket();
}

// ---------- the line ----------

function rememberLine(ticket) {
  const first = S.line?.concert_id === ticket.concert_id ? S.line.first_position : 0;
  S.line = { concert_id: ticket.concert_id, token: ticket.token, first_position: Math.max(first || 0, ticket.position) };
  save(STORE.line, S.line);
}

/** Forgets the line, the admission and any hold, and stops polling. */
function endLine() {
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

function tokenExpired() {
  const concertId = S.line?.concert_id;
  endLine();
  showView('start');
  showMessage('err.tokenExpired', {}, { action: concertId ? 'rejoin' : null, concertId });
  renderAll();
}

function signInExpired() {
  endLine();
  S.user = null;
  S.userChosen = false;
  save(STORE.user, null);
  showView('start');
  showMessage('err.signInExpired');
  renderAll();
}

async function joinLine(concertId) {
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
      S.admissionDeadline = Date.now() + ticket.active_remaining_seconds * 1000;
      if (S.view !== 'admitted') enterAdmitted();
      else renderTimers();
      break;
    }
    default:
      tokenExpired();
  }
}

function schedulePoll(ms) {
  clearTimeout(S.pollTimer);
  const delay = Math.min(60_000, Math.max(500, Number(ms) || 1000));
  S.pollTimer = setTimeout(poll, delay);
}

/** Asks where the person stands, then again after poll_after_ms, backing off on errors. */
async function poll() {
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

async function leaveLine() {
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

// ---------- admitted ----------

async function enterAdmitted() {
  showView('admitted');
  announce(t('active.announce'));
  renderAdmitted();
  await Promise.all([loadBalance(), loadSchedules()]);
  if (S.reservation) await restoreReservation();
  if (!S.scheduleId && S.schedules?.length) S.scheduleId = S.schedules[0].schedule_id;
  renderAdmitted();
  if (S.scheduleId) await loadSeats();
}

async function restoreReservation() {
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

async function loadBalance() {
  if (!S.user) return;
  try {
    const b = await api.balance(S.user.user_id, S.user.access_token);
    S.balance = b.balance;
  } catch (e) {
    if (e.status === 401) signInExpired();
  }
  renderWallet();
}

async function loadSchedules() {
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
function admittedError(e) {
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

async function loadSeats() {
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

function selectDate(scheduleId) {
  if (S.scheduleId === scheduleId) return;
  S.scheduleId = scheduleId;
  S.seats = [];
  S.selected.clear();
  $('seat-map').replaceChildren();
  renderDates();
  renderSeats();
  loadSeats();
}

function toggleSeat(seat) {
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

async function holdSeats() {
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

async function releaseSeats() {
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
async function holdExpired() {
  S.reservation = null;
  S.payKey = null;
  save(STORE.reservation, null);
  showMessage('err.holdExpired');
  renderAdmitted();
  await Promise.all([loadSeats(), loadSchedules()]);
}

async function checkHold() {
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

async function pay() {
  const r = S.reservation;
  const line = S.line;
  if (!r || !line || S.busy) return;
  S.payKey ||= newKey();
  S.busy = true;
  renderReservation();
  try {
    for (let attempt = 0; ; attempt += 1) {
      try {
        const payment = await api.pay(r.reservation_id, r.amount, line.token, S.payKey);
        paid(payment);
        return;
      } catch (e) {
        if (e.code === 'payment_in_progress' && attempt < 10) {
          showMessage('err.paying', {}, { kind: 'info' });
          await new Promise((done) => setTimeout(done, 1000));
          continue;
        }
        throw e;
      }
    }
  } catch (e) {
    S.busy = false;
    if (e.code === 'insufficient_balance') {
      const concertId = line.concert_id;
      const balance = e.body.balance ?? S.balance ?? 0;
      const amount = e.body.amount ?? r.amount;
      S.balance = balance;
      endLine();
      showView('start');
      showMessage('err.insufficient', { balance: () => won(balance), amount: () => won(amount) }, { action: 'rejoin', concertId });
      renderAll();
    } else if (e.code === 'reservation_not_found') {
      await holdExpired();
    } else if (!admittedError(e)) {
      genericError(e);
      renderReservation();
    }
  } finally {
    S.busy = false;
  }
}

function paid(payment) {
  endLine();
  S.payment = payment;
  S.balance = payment.balance;
  clearMessage();
  showView('ticket');
  announce(t('ticket.thanks'));
  renderAll();
  loadHistory();
}

async function charge(event) {
  event.preventDefault();
  if (!S.user || S.busy) return;
  const input = $('charge-amount');
  const amount = Number.parseInt(input.value, 10);
  const min = Number(input.min);
  const max = Number(input.max);
  if (!Number.isFinite(amount) || amount < min || amount > max) {
    S.walletNote = { key: 'err.chargeRange', vars: { min: () => won(min), max: () => won(max) } };
    renderWallet();
    return;
  }
  // The same key again only when retrying the same amount after no clear answer.
  if (S.chargeAttempt?.amount !== amount) S.chargeAttempt = { amount, key: newKey() };
  S.busy = true;
  renderWallet();
  try {
    const r = await api.charge(S.user.user_id, amount, S.user.access_token, S.chargeAttempt.key);
    S.chargeAttempt = null;
    S.balance = r.balance;
    S.walletNote = { key: 'wallet.charged', vars: { amount: () => won(r.charged), balance: () => won(r.balance) } };
    announce(t('wallet.charged', { amount: won(r.charged), balance: won(r.balance) }));
  } catch (e) {
    if (!(e.busy || e.transient)) S.chargeAttempt = null;
    if (e.status === 401) signInExpired();
    else if (e.code === 'reservation_in_progress') S.walletNote = { key: 'wallet.whileHolding' };
    else if (e.code === 'invalid_amount') S.walletNote = { key: 'err.chargeRange', vars: { min: () => won(min), max: () => won(max) } };
    else genericError(e);
  } finally {
    S.busy = false;
  }
  renderWallet();
}

async function loadHistory() {
  if (!S.user) return;
  try {
    const r = await api.payments(S.user.user_id, S.user.access_token);
    S.payments = r.payments;
  } catch (e) {
    if (e.status === 401) signInExpired();
    else genericError(e);
  }
  renderTicket();
}

// ---------- identity ----------

async function signUp() {
  if (S.busy) return;
  S.busy = true;
  try {
    const user = await api.signUp();
    endLine();
    S.user = user;
    S.userChosen = true;
    S.balance = 0;
    S.payments = null;
    save(STORE.user, user);
    clearMessage();
  } catch (e) {
    genericError(e);
  } finally {
    S.busy = false;
  }
  renderAll();
}

function continueUser() {
  S.userChosen = true;
  renderAll();
  loadBalance();
}

async function loadConcerts() {
  for (let failures = 1; failures <= 8; failures += 1) {
    try {
      const r = await api.concerts();
      S.concerts = r.concerts;
      renderAll();
      return;
    } catch (e) {
      const delay = retryDelayMs(e, failures);
      $('concerts-state').textContent = t(e.busy ? 'err.busyAction' : 'err.offline', { n: Math.ceil(delay / 1000) });
      await new Promise((done) => setTimeout(done, delay));
    }
  }
}

// ---------- wiring ----------

function tick() {
  renderTimers();
  if (S.view === 'admitted' && S.line && S.admissionDeadline != null && Date.now() >= S.admissionDeadline && !S.reservation) {
    // The admission is over by our clock: ask the server now instead of waiting for the next poll.
    S.admissionDeadline = null;
    schedulePoll(0);
  }
  if (S.reservation && Date.now() >= Date.parse(S.reservation.held_until)) checkHold();
}

function wire() {
  $('lang').addEventListener('click', () => {
    setLang(currentLang() === 'ko' ? 'en' : 'ko');
    renderAll();
  });
  $('sign-up').addEventListener('click', signUp);
  $('continue-user').addEventListener('click', continueUser);
  $('show-history').addEventListener('click', () => {
    S.payment = null;
    showView('ticket');
    renderTicket();
    loadHistory();
  });
  $('leave').addEventListener('click', leaveLine);
  $('give-up').addEventListener('click', leaveLine);
  $('hold').addEventListener('click', holdSeats);
  $('refresh-seats').addEventListener('click', () => {
    loadSeats();
    loadSchedules();
  });
  $('refresh-dates').addEventListener('click', async () => {
    await loadSchedules();
    if (!S.scheduleId && S.schedules?.length) selectDate(S.schedules[0].schedule_id);
  });
  $('pay').addEventListener('click', pay);
  $('release').addEventListener('click', releaseSeats);
  $('charge-form').addEventListener('submit', charge);
  $('charge-amount').addEventListener('input', () => {
    S.walletNote = null;
    renderWallet();
  });
  $('back').addEventListener('click', () => {
    S.payment = null;
    showView('start');
    renderAll();
  });
  $('message-dismiss').addEventListener('click', clearMessage);
  $('message-action').addEventListener('click', () => {
    const m = S.message;
    clearMessage();
    if (m?.action === 'rejoin' && m.concertId) joinLine(m.concertId);
    else showView('start');
  });
  setInterval(tick, 1000);
}

function start() {
  wire();
  renderAll();
  loadConcerts();
  if (S.user && S.line) {
    // A reload while in line: carry on as the same person, in the same place.
    S.userChosen = true;
    $('position').textContent = '…';
    renderAll();
    poll();
  }
}

start();
