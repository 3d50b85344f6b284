// Thousands of admitted people try the same few seats at the same moment:
// exactly one winner per seat.
//
//   PEOPLE (default 2000), SEATS (default 10): everyone races for seats 1..SEATS
import exec from 'k6/execution';
import { check, sleep } from 'k6';
import { Counter } from 'k6/metrics';
import { createConcert, joinAndWait, post, signUp, SYSTEM_TAGS } from './lib.js';

const PEOPLE = Number(__ENV.PEOPLE || 2000);
const SEATS = Number(__ENV.SEATS || 10);
const won = new Counter('seats_won');
const lost = new Counter('seats_lost');

export const options = {
  systemTags: SYSTEM_TAGS,
  insecureSkipTLSVerify: true,
  setupTimeout: '10m',
  scenarios: {
    race: {
      executor: 'per-vu-iterations',
      vus: PEOPLE,
      iterations: 1,
      maxDuration: '5m',
    },
  },
  thresholds: {
    // Every seat is won, and none twice (a second winner would push this past SEATS).
    seats_won: [`count==${SEATS}`],
    checks: ['rate==1'],
  },
};

// How long everyone has to get in line and admitted before the race starts.
const RACE_AFTER_SECONDS = Number(__ENV.RACE_AFTER_SECONDS || 30);

export function setup() {
  // Seat-aware admission lets at most free seats x admit_seat_factor (at most
  // 100) shop at once: seats nobody races for keep room for everyone.
  const unraced = Math.ceil(PEOPLE / 100);
  const concert = createConcert(1, SEATS + unraced, 100000, undefined, { admit_seat_factor: 100 });
  return {
    concert: concert.concert_id,
    schedule: concert.schedules[0].schedule_id,
    raceAt: Date.now() + RACE_AFTER_SECONDS * 1000,
  };
}

export default function (data) {
  // Everyone gets in line and admitted first...
  const user = signUp();
  const ticket = user && joinAndWait(user.access_token, data.concert, 240);
  check(ticket, { 'admitted': (t) => t !== null && t.status === 'active' });
  if (!ticket || ticket.status !== 'active') return;
  // ...then all race for one seat among the few, at the same moment.
  sleep(Math.max(0, data.raceAt - Date.now()) / 1000);
  const seat = 1 + (exec.vu.idInTest % SEATS);
  const held = post('/api/v1/reservations', ticket.token, { schedule_id: data.schedule, seat_nos: [seat] }, 'hold');
  check(held, { 'won or told the seat is taken': (r) => r.status === 201 || (r.status === 409 && r.json().error.code === 'seat_unavailable') });
  if (held.status === 201) won.add(1, { seat: String(seat) });
  else lost.add(1);
}
