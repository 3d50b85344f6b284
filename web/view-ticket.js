// Draws the ticket view: the ticket just paid for, and the person's payments.

import { dateTime, t, won } from './i18n.js';
import { concertTitle, S } from './state.js';
import { $, shortId } from './page.js';

export function renderTicket() {
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
