// Paying for the held seats (one idempotency key per hold, kept across
// retries, and asked again while the server says the payment is in progress),
// the ticket it leads to, and the list of the person's payments.

import { api, newKey } from './api.js';
import { t, won } from './i18n.js';
import { S } from './state.js';
import { announce, clearMessage, genericError, showMessage, showView } from './page.js';
import { renderReservation } from './view-admitted.js';
import { renderTicket } from './view-ticket.js';
import { renderAll } from './views.js';
import { endLine } from './line.js';
import { admittedError } from './admitted.js';
import { holdExpired } from './hold.js';
import { signInExpired } from './identity.js';

export async function pay() {
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

export async function loadHistory() {
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
