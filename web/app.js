// The waiting room: sign up, pick a concert, wait in line, choose seats, pay.
// This module starts the page: it binds the buttons to their actions and runs
// the one-second ticker. One state object (state.js); the view-*.js modules
// draw it; the action modules (line, admitted, hold, payment, wallet,
// identity, concerts) call the API and change it.
//
// The modules import each other's functions in both directions (a view binds
// the action its button runs, and the action redraws the view). When they
// load, they only define functions, except state.js, which imports nothing and
// reads localStorage into S, and this module, which starts the page after all
// of them have loaded; so the order the browser loads them in never matters.

import { currentLang, setLang } from './i18n.js';
import { S } from './state.js';
import { $, clearMessage, showView } from './page.js';
import { renderTimers, renderWallet } from './view-admitted.js';
import { renderTicket } from './view-ticket.js';
import { renderAll } from './views.js';
import { joinLine, leaveLine, poll, schedulePoll } from './line.js';
import { loadSchedules, loadSeats, selectDate } from './admitted.js';
import { checkHold, holdSeats, releaseSeats } from './hold.js';
import { loadHistory, pay } from './payment.js';
import { charge } from './wallet.js';
import { continueUser, signUp } from './identity.js';
import { loadConcerts } from './concerts.js';

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
