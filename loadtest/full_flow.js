// The whole booking flow at a constant arrival rate: sign up, charge, join,
// wait for admission, list dates and seats, hold 1 to 4 seats, pay. One in five
// people charges too little and must get 402 and a dead token. run.sh checks
// afterwards in PostgreSQL that no seat was sold twice and every balance adds up.
//
//   RATE (people/s, default 200), DURATION (default 60s), SEATS per date (default 2000),
//   DATES (default 3): a long run wants many dates of a few thousand seats, not a
//   few huge ones (every buyer reads a date's whole seat map)
import { check, sleep } from 'k6';
import { Counter } from 'k6/metrics';
import { createConcert, get, joinAndWait, post, signUp, SYSTEM_TAGS } from './lib.js';

const RATE = Number(__ENV.RATE || 200);
const DURATION = __ENV.DURATION || '60s';
const SEATS = Number(__ENV.SEATS || 2000);
const DATES = Number(__ENV.DATES || 3);
const PRICE = 50000;
const paid = new Counter('payments_paid');
const refused = new Counter('payments_refused_402');
const unexpected = new Counter('unexpected_errors');
const soldOut = new Counter('told_sold_out');

export const options = {
  systemTags: SYSTEM_TAGS,
  insecureSkipTLSVerify: true,
  scenarios: {
    buyers: {
      executor: 'constant-arrival-rate',
      rate: RATE,
      timeUnit: '1s',
      duration: DURATION,
      preAllocatedVUs: Math.max(10, RATE * 4),
      maxVUs: Math.max(50, RATE * 5),
    },
  },
  thresholds: {
    unexpected_errors: ['count==0'],
    checks: ['rate==1'],
    payments_paid: ['count>0'],
    dropped_iterations: ['count==0'],
  },
};

export function setup() {
  // Admission keeps up with arrivals: this scenario is about the flow, not the wait.
  return createConcert(DATES, SEATS, Math.max(RATE * 2, 10), () => PRICE);
}

function unexpectedUnless(res, okStatuses, what) {
  if (!okStatuses.includes(res.status)) {
    unexpected.add(1, { what, status: String(res.status) });
    return true;
  }
  return false;
}

export default function (concert) {
  const user = signUp();
  if (!user) return unexpected.add(1, { what: 'sign up' });
  const poor = Math.random() < 0.2;
  const seatsWanted = 1 + Math.floor(Math.random() * 4);
  const charge = poor ? 1000 : PRICE * seatsWanted;
  const charged = post(`/api/v1/users/${user.user_id}/balance/charge`, user.access_token, { amount: charge }, 'charge');
  if (unexpectedUnless(charged, [200], 'charge')) return;

  const ticket = joinAndWait(user.access_token, concert.concert_id, 120);
  // Seat-aware admission: once every seat is sold or held the line reads
  // sold_out instead of admitting people to nothing; they give up.
  if (ticket && ticket.status === 'sold_out') return soldOut.add(1);
  if (!ticket || ticket.status !== 'active') return unexpected.add(1, { what: 'admission' });

  const dates = get(`/api/v1/concerts/${concert.concert_id}/schedules`, null, 'schedules');
  if (unexpectedUnless(dates, [200], 'schedules')) return;
  const bookable = dates.json().schedules;
  if (bookable.length === 0) return; // sold out: nothing to do
  const schedule = bookable[Math.floor(Math.random() * bookable.length)].schedule_id;

  for (let attempt = 0; attempt < 5; attempt++) {
    const map = get(`/api/v1/schedules/${schedule}/seats?status=available`, ticket.token, 'seats');
    if (unexpectedUnless(map, [200], 'seats')) return;
    // Only the seat numbers, picked out on k6's Go side: a stadium's map parsed
    // into objects in every VU at once is more memory than this machine has.
    const free = map.json('seats.#.seat_no') || [];
    if (free.length < seatsWanted) return;
    const start = Math.floor(Math.random() * (free.length - seatsWanted + 1));
    const pick = free.slice(start, start + seatsWanted);
    const held = post('/api/v1/reservations', ticket.token, { schedule_id: schedule, seat_nos: pick }, 'hold');
    if (held.status === 409 && held.json().error.code === 'seat_unavailable') {
      sleep(0.05);
      continue; // someone was faster: look again
    }
    if (unexpectedUnless(held, [201], 'hold')) return;
    const reservation = held.json();
    const payment = post('/api/v1/payments', ticket.token, {
      reservation_id: reservation.reservation_id,
      amount: reservation.amount,
    }, 'pay', { 'Idempotency-Key': `k6-${reservation.reservation_id}` });
    if (poor) {
      const dead = get('/api/v1/queue/status', ticket.token, 'status');
      check(payment, { 'too little balance is 402': (r) => r.status === 402 });
      check(dead, { 'the token died with the 402': (r) => r.status === 200 && r.json().status === 'expired' });
      if (payment.status === 402) refused.add(1);
      else unexpected.add(1, { what: 'pay poor', status: String(payment.status) });
    } else {
      check(payment, { 'paid': (r) => r.status === 201 });
      if (payment.status === 201) paid.add(1);
      else unexpected.add(1, { what: 'pay', status: String(payment.status) });
    }
    return;
  }
}
