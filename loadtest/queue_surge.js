// A sale opens: new people arrive at a constant rate, each joins and polls its
// place as the server asks, until admitted.
//
//   RATE (arrivals/s, default 1000), DURATION (default 60s), ADMIT_RATE (default RATE)
import { check } from 'k6';
import { Trend } from 'k6/metrics';
import { createConcert, joinAndWait, signUp, SYSTEM_TAGS } from './lib.js';

const RATE = Number(__ENV.RATE || 1000);
const DURATION = __ENV.DURATION || '60s';
const ADMIT_RATE = Number(__ENV.ADMIT_RATE || RATE);
const waitedToAdmission = new Trend('waited_to_admission', true);
// The smoke run in `make test` checks the script works, not the speed of a debug build.
const P99_MS = Number(__ENV.P99_MS || 50);

export const options = {
  systemTags: SYSTEM_TAGS,
  insecureSkipTLSVerify: true,
  scenarios: {
    surge: {
      executor: 'constant-arrival-rate',
      rate: RATE,
      timeUnit: '1s',
      duration: DURATION,
      // Each arrival lives a second or more (the first poll comes after a second).
      preAllocatedVUs: Math.max(10, RATE * 2),
      maxVUs: Math.max(50, RATE * 5),
    },
  },
  thresholds: {
    http_req_failed: ['rate==0'],
    checks: ['rate==1'],
    'http_req_duration{name:join}': [`p(99)<${P99_MS}`],
    'http_req_duration{name:status}': [`p(99)<${P99_MS}`],
    dropped_iterations: ['count==0'],
  },
};

export function setup() {
  // The line alone is measured: with 1,000 seats x 100 shoppers each, seat-aware
  // admission never holds anyone back (nobody here holds a seat).
  return { concert: createConcert(1, 1000, ADMIT_RATE, undefined, { admit_seat_factor: 100 }).concert_id };
}

export default function (data) {
  const user = signUp();
  if (!user) return;
  const started = Date.now();
  const ticket = joinAndWait(user.access_token, data.concert, 120);
  check(ticket, { 'admitted': (t) => t !== null && t.status === 'active' });
  if (ticket && ticket.status === 'active') waitedToAdmission.add(Date.now() - started);
}
