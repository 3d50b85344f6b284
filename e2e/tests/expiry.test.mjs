// A hold that runs out: the countdown reaches zero, the page says the hold
// expired, and the seat is free again in the map.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { admitted, createConcert, openBrowser, seat, shot, signUpAndJoin, visible, waitForText } from './helpers.mjs';

test('a person whose hold expires is told so', async (t) => {
  const concert = await createConcert({ title: 'Short Hold Session', seats: 8, price: 30_000, settings: { hold_ttl_seconds: 3 } });
  const { page } = await openBrowser(t);
  await signUpAndJoin(page, concert);
  await admitted(page);

  await seat(page, 4).click();
  await page.getByRole('button', { name: 'Hold 1 seat' }).click();
  await visible(page, '#reservation');
  assert.match(await page.locator('#hold-timer').textContent(), /^Held for you for 0:0[0-3]$/);
  await waitForText(page, '#seat-map button.seat[data-seat="4"]', /★/);

  await waitForText(page, '#message-text', /expired/);
  assert.equal(await page.locator('#message-text').textContent(), 'Your hold expired and the seats were released. Choose seats again.');
  assert.equal(await page.locator('#reservation').isHidden(), true);
  await waitForText(page, '#seat-map button.seat[data-seat="4"]', /^4$/);
  assert.equal(await seat(page, 4).getAttribute('data-status'), 'available');
  assert.equal(await page.locator('#charge').isDisabled(), false, 'charging is possible again');
  await shot(page, 'hold-expired');
});
