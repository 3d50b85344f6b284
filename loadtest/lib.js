// Shared by the k6 scenarios: the base URL, TLS and the steps of the flow.
import http from 'k6/http';
import { check, fail, sleep } from 'k6';

export const BASE = __ENV.BASE_URL || 'https://localhost:8443';

// The tags k6 keeps on every sample. Each distinct set of tag values is a time
// series k6 holds until the run ends, so `url` (which carries user, concert and
// reservation ids) is left out: requests are told apart by `name` alone, and a
// scenario's memory stays flat however long it runs. Every scenario sets
// `systemTags: SYSTEM_TAGS`.
export const SYSTEM_TAGS = [
  'proto', 'status', 'method', 'name', 'group', 'check', 'error', 'error_code',
  'scenario', 'expected_response',
];
export const ADMIN_TOKEN = __ENV.ADMIN_TOKEN || 'lineup-demo-admin-token';

// Each virtual user comes from its own address, as people do. The server
// believes X-Forwarded-For only from LINEUP_TRUSTED_PROXIES (run.sh trusts
// 127.0.0.1), so per-address limits apply per simulated person.
export function clientAddress() {
  const n = __VU;
  return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
}

function headers(token, extra) {
  const h = { 'Content-Type': 'application/json', 'X-Forwarded-For': clientAddress() };
  if (token) h.Authorization = `Bearer ${token}`;
  return Object.assign(h, extra || {});
}

// `name` is required where `path` carries an id: an unnamed request would make
// a series per URL.
export function get(path, token, name) {
  return http.get(`${BASE}${path}`, { headers: headers(token), tags: { name: name || path } });
}

export function post(path, token, body, name, extra) {
  return http.post(`${BASE}${path}`, body === undefined ? null : JSON.stringify(body), {
    headers: headers(token, extra),
    tags: { name: name || path },
  });
}

// A concert opened a minute ago: `dates` dates x `seats` seats, its line
// admitting `admitPerSecond` with room for everyone; `settings` adds queue settings.
// Returns its id and its dates' ids.
export function createConcert(dates, seats, admitPerSecond, price, settings) {
  const now = Date.now();
  const schedules = [];
  for (let d = 0; d < dates; d++) {
    const list = [];
    for (let s = 1; s <= seats; s++) list.push({ seat_no: s, price: price ? price(s) : 50000 });
    schedules.push({ starts_at: new Date(now + (30 + d) * 86400e3).toISOString(), seats: list });
  }
  const created = post('/admin/v1/concerts', ADMIN_TOKEN, {
    title: `k6 ${__ENV.SCENARIO || 'load'} ${now}`,
    venue: 'k6 hall',
    opens_at: new Date(now - 60e3).toISOString(),
    schedules,
  }, 'admin create concert');
  if (created.status !== 201) fail(`create concert: ${created.status} ${created.body}`);
  const concert = created.json();
  const changed = http.put(
    `${BASE}/admin/v1/concerts/${concert.concert_id}/queue`,
    JSON.stringify({ admit_per_second: admitPerSecond, max_active: 1000000, ...settings }),
    { headers: headers(ADMIN_TOKEN), tags: { name: 'admin queue settings' } },
  );
  if (changed.status !== 200) fail(`queue settings: ${changed.status} ${changed.body}`);
  // Only the ids: k6 copies setup()'s result into every VU, and the answer
  // lists every seat (180,000 seats x 600 VUs filled 17 GB in a minute).
  return {
    concert_id: concert.concert_id,
    schedules: concert.schedules.map((s) => ({ schedule_id: s.schedule_id })),
  };
}

export function signUp() {
  const res = post('/api/v1/users', null, undefined, 'sign up');
  check(res, { 'signed up': (r) => r.status === 201 });
  return res.status === 201 ? res.json() : null;
}

// Joins, then polls as the server asks (poll_after_ms) until admitted or
// `deadlineSeconds` pass. Returns the last ticket.
export function joinAndWait(accessToken, concertId, deadlineSeconds) {
  const joined = post(`/api/v1/concerts/${concertId}/queue`, accessToken, undefined, 'join');
  check(joined, { 'joined': (r) => r.status === 201 || r.status === 200 });
  if (joined.status !== 201 && joined.status !== 200) return null;
  let ticket = joined.json();
  const deadline = Date.now() + deadlineSeconds * 1000;
  while (ticket.status === 'waiting' && Date.now() < deadline) {
    sleep(Math.max(ticket.poll_after_ms, 100) / 1000);
    const polled = get('/api/v1/queue/status', ticket.token, 'status');
    check(polled, { 'status answered': (r) => r.status === 200 });
    if (polled.status !== 200) return ticket;
    ticket = polled.json();
  }
  return ticket;
}
