// The public API of lineup (README's API table), and what its errors mean to
// the page. Nothing here touches the DOM.

/** An answer other than 2xx, or no answer at all (status 0). */
export class ApiError extends Error {
  constructor(status, body, retryAfterSeconds) {
    super(body?.error?.message || (status ? `HTTP ${status}` : 'network error'));
    this.status = status;
    this.code = body?.error?.code || (status ? `http_${status}` : 'network');
    this.body = body || {};
    this.retryAfterSeconds = retryAfterSeconds;
  }

  /** 429 or 503: the server asks to come back later (Retry-After says when). */
  get busy() {
    return this.status === 429 || this.status === 503;
  }

  /** No answer, or a 5xx that is not a deliberate "come back later". */
  get transient() {
    return this.status === 0 || (this.status >= 500 && !this.busy);
  }
}

async function call(method, path, { token, body, idempotent } = {}) {
  const headers = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (idempotent) headers['Idempotency-Key'] = idempotent;
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
    });
  } catch {
    throw new ApiError(0, null, null);
  }
  const text = await response.text();
  let json = null;
  if (text) {
    try {
      json = JSON.parse(text);
    } catch {
      json = null;
    }
  }
  if (!response.ok) {
    const retry = Number.parseInt(response.headers.get('Retry-After') || '', 10);
    throw new ApiError(response.status, json, Number.isFinite(retry) && retry >= 0 ? retry : null);
  }
  return json;
}

/** A fresh key for one charge or payment, reused if the same attempt is retried. */
export function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}

export const api = {
  signUp: () => call('POST', '/api/v1/users', { body: {} }),
  concerts: () => call('GET', '/api/v1/concerts'),
  schedules: (concertId) => call('GET', `/api/v1/concerts/${encodeURIComponent(concertId)}/schedules`),
  join: (concertId, accessToken) =>
    call('POST', `/api/v1/concerts/${encodeURIComponent(concertId)}/queue`, { token: accessToken }),
  status: (queueToken) => call('GET', '/api/v1/queue/status', { token: queueToken }),
  leave: (queueToken) => call('DELETE', '/api/v1/queue', { token: queueToken }),
  admission: (queueToken, returnTo) =>
    call('POST', '/api/v1/queue/admission', { token: queueToken, body: returnTo ? { return_to: returnTo } : {} }),
  seats: (scheduleId, queueToken) =>
    call('GET', `/api/v1/schedules/${encodeURIComponent(scheduleId)}/seats`, { token: queueToken }),
  hold: (scheduleId, seatNos, queueToken) =>
    call('POST', '/api/v1/reservations', { token: queueToken, body: { schedule_id: scheduleId, seat_nos: seatNos } }),
  reservation: (id, queueToken) => call('GET', `/api/v1/reservations/${encodeURIComponent(id)}`, { token: queueToken }),
  release: (id, queueToken) => call('DELETE', `/api/v1/reservations/${encodeURIComponent(id)}`, { token: queueToken }),
  balance: (userId, accessToken) =>
    call('GET', `/api/v1/users/${encodeURIComponent(userId)}/balance`, { token: accessToken }),
  charge: (userId, amount, accessToken, key) =>
    call('POST', `/api/v1/users/${encodeURIComponent(userId)}/balance/charge`, {
      token: accessToken,
      body: { amount },
      idempotent: key,
    }),
  pay: (reservationId, amount, queueToken, key) =>
    call('POST', '/api/v1/payments', {
      token: queueToken,
      body: { reservation_id: reservationId, amount },
      idempotent: key,
    }),
  payments: (userId, accessToken) =>
    call('GET', `/api/v1/users/${encodeURIComponent(userId)}/payments`, { token: accessToken }),
};

/**
 * How long to wait before asking again after the `failures`-th error in a row:
 * the server's Retry-After when it gave one, else 1 s doubling up to 30 s; with
 * up to a second of jitter so a crowd that failed together does not return together.
 */
export function retryDelayMs(error, failures) {
  const exponential = Math.min(30_000, 1000 * 2 ** Math.max(0, failures - 1));
  const asked = error?.retryAfterSeconds != null ? error.retryAfterSeconds * 1000 : 0;
  return Math.max(asked, exponential) + Math.floor(Math.random() * 1000);
}
