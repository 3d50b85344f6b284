// Paying with too little money: nothing is taken, the page says how much the
// balance is (from the 402 body) and offers a way back into the line.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { admin, admitted, createConcert, openBrowser, seat, shot, signUpAndJoin, visible, waitForText } from './helpers.mjs';

test('a person with too little balance is told so, with the balance', async (t) => {
  const concert = await createConcert({ title: 'Budget Blues', seats: 10, price: 120_000 });
  const { page } = await openBrowser(t);
  await signUpAndJoin(page, concert);
  await admitted(page);

  await page.getByLabel('Charge amount (won)').fill('30000');
  await page.getByRole('button', { name: 'Charge', exact: true }).click();
  await waitForText(page, '#balance', /^30,000 won$/);
  await seat(page, 2).click();
  assert.equal(await page.locator('#wallet-note').textContent(), 'The seats you chose cost 120,000 won: charge at least 90,000 won more before you pay.');
  await page.getByRole('button', { name: 'Hold 1 seat' }).click();
  await visible(page, '#reservation');
  assert.equal(
    await page.locator('#res-note').textContent(),
    'Your balance of 30,000 won does not cover this. Paying now would fail and end your turn: release the seats, charge, then hold them again.',
  );
  await page.getByRole('button', { name: 'Pay 120,000 won' }).click();

  await page.getByRole('alert').waitFor();
  assert.equal(
    await page.locator('#message-text').textContent(),
    'Your balance of 30,000 won does not cover 120,000 won. Nothing was charged and the seats were released. Charge your balance and join the line again.',
  );
  assert.equal(await page.locator('#message').getAttribute('data-code'), 'err.insufficient');
  await visible(page, '#view-start');
  assert.equal(await page.getByRole('button', { name: 'Join the line again' }).isVisible(), true);
  await shot(page, 'insufficient-balance');

  // Nothing was sold and the seat is free again.
  const all = await admin('GET', '/admin/v1/concerts');
  const mine = (all.concerts || all).find((c) => c.concert_id === concert.id);
  assert.equal(mine.schedules[0].sold_seats, 0);
  assert.equal(mine.schedules[0].held_seats, 0);

  // The way back: a new place in line, admitted again, the balance still 30,000.
  await page.getByRole('button', { name: 'Join the line again' }).click();
  await admitted(page);
  await waitForText(page, '#balance', /^30,000 won$/);
  assert.equal(await seat(page, 2).getAttribute('data-status'), 'available');
});
