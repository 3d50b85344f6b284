// The pages' logic that needs no browser: how long polling backs off, and
// that every text exists in both languages with the same placeholders.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApiError, retryDelayMs } from '../../web/api.js';
import { STRINGS, countdown, duration, setLang, t } from '../../web/i18n.js';

test('backing off: the server\'s Retry-After first, else 1 s doubling to 30 s, plus under a second of jitter', () => {
  const offline = new ApiError(0, null, null);
  for (const [failures, base] of [[1, 1000], [2, 2000], [3, 4000], [5, 16_000], [6, 30_000], [20, 30_000]]) {
    for (let i = 0; i < 50; i += 1) {
      const delay = retryDelayMs(offline, failures);
      assert.ok(delay >= base && delay < base + 1000, `failure ${failures}: ${delay} ms`);
    }
  }
  const busy = new ApiError(429, { error: { code: 'rate_limited', message: 'slow down' } }, 7);
  assert.ok(busy.busy && !busy.transient);
  const delay = retryDelayMs(busy, 1);
  assert.ok(delay >= 7000 && delay < 8000, `${delay} ms`);
  const unavailable = new ApiError(503, { error: { code: 'unavailable', message: 'later' } }, 1);
  assert.ok(unavailable.busy);
  assert.equal(unavailable.code, 'unavailable');
  assert.ok(new ApiError(502, null, null).transient);
});

test('every text exists in Korean and English with the same placeholders', () => {
  const placeholders = (text) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
  assert.deepEqual(Object.keys(STRINGS.ko).sort(), Object.keys(STRINGS.en).sort());
  for (const key of Object.keys(STRINGS.en)) {
    assert.deepEqual(placeholders(STRINGS.ko[key]), placeholders(STRINGS.en[key]), key);
  }
});

test('waits and countdowns read as people say them', () => {
  setLang('en');
  assert.equal(duration(30), 'less than a minute');
  assert.equal(duration(299), 'about 5 min');
  assert.equal(duration(3900), 'about 1 h 5 min');
  assert.equal(countdown(299), '4:59');
  assert.equal(countdown(3661), '1:01:01');
  assert.equal(t('wait.announce', { n: 12 }), 'You are number 12 in line.');
  setLang('ko');
  assert.equal(duration(299), '약 5분');
  assert.equal(t('won', { n: '50,000' }), '50,000원');
});
