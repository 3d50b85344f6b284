// The whole way through, as a person sees it: in line behind others at a low
// admission rate, the place falling, admitted, a seat chosen with the keyboard,
// the balance charged, paid, the ticket and the payment history shown.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  admin,
  admitted,
  apiJoin,
  apiUser,
  call,
  createConcert,
  openBrowser,
  seat,
  shot,
  signUpAndJoin,
  visible,
  waitForText,
} from './helpers.mjs';

/** Polls a queue token's status (as a person's app would) until it is admitted. */
async function untilActive(token) {
  for (let i = 0; i < 100; i += 1) {
    const status = await call('GET', '/api/v1/queue/status', { token });
    if (status.body.status === 'active') return;
    assert.equal(status.body.status, 'waiting');
    await new Promise((done) => setTimeout(done, 200));
  }
  assert.fail('never admitted');
}

test('a person waits in line, is admitted, picks a seat, charges, pays and sees the ticket', async (t) => {
  // Paused while the line forms, so the places are known; then one admission a second.
  const concert = await createConcert({ title: 'Spring Festival 2027', seats: 30, price: 55_000, settings: { paused: true, admit_per_second: 1 } });
  const ahead = [];
  for (let i = 0; i < 4; i += 1) {
    const user = await apiUser();
    ahead.push({ user, place: await apiJoin(user, concert.id) });
  }

  const { page } = await openBrowser(t, { viewport: { width: 960, height: 640 } });
  await signUpAndJoin(page, concert);

  await visible(page, '#view-waiting');
  assert.equal(await waitForText(page, '#position', /^5$/), '5');
  assert.equal(await page.locator('#ahead').textContent(), '4 people are ahead of you.');
  assert.equal(await page.locator('#announcer').textContent(), 'You are number 5 in line.');
  assert.equal(await page.locator('#announcer').getAttribute('aria-live'), 'polite');
  assert.match(await page.locator('#estimate').textContent(), /^Estimated wait: /);
  assert.equal(await page.getByRole('progressbar').getAttribute('value'), '0');
  assert.equal(await page.locator('#waiting-concert').textContent(), concert.title);
  await shot(page, 'waiting');

  await admin('PUT', `/admin/v1/concerts/${concert.id}/queue`, { paused: false });

  // The place falls (and is announced) before the turn comes.
  await page.waitForFunction(() => {
    const n = Number(document.querySelector('#position').textContent);
    return n > 0 && n < 5;
  });
  const announced = await page.locator('#announcer').textContent();
  assert.match(announced, /^You are (number [1-4] in line|next in line)\.$/);
  assert.ok(Number(await page.locator('#progress').getAttribute('value')) > 0, 'the progress bar moved');
  await shot(page, 'waiting-closer');

  // The first two ahead are admitted first: one buys seats 20 and 21, the other holds 10 to 12.
  const [buyer, holder] = ahead;
  await untilActive(buyer.place.token);
  assert.equal((await call('POST', `/api/v1/users/${buyer.user.user_id}/balance/charge`, { token: buyer.user.access_token, body: { amount: 200_000 } })).status, 200);
  const bought = await call('POST', '/api/v1/reservations', { token: buyer.place.token, body: { schedule_id: concert.scheduleId, seat_nos: [20, 21] } });
  assert.equal(bought.status, 201);
  assert.equal((await call('POST', '/api/v1/payments', { token: buyer.place.token, body: { reservation_id: bought.body.reservation_id, amount: bought.body.amount } })).status, 201);
  await untilActive(holder.place.token);
  assert.equal((await call('POST', '/api/v1/reservations', { token: holder.place.token, body: { schedule_id: concert.scheduleId, seat_nos: [10, 11, 12] } })).status, 201);

  await admitted(page);
  assert.equal(await page.locator('#announcer').textContent(), 'It is your turn. You can choose seats now.');
  // The map as it is now (it may have been drawn before the others were done).
  await page.getByRole('button', { name: 'Refresh seats' }).click();
  await waitForText(page, '#dates button.date', /25 of 30 seats left/);
  await waitForText(page, '#seat-map button.seat[data-seat="21"]', /✕/);
  assert.equal(await seat(page, 20).getAttribute('aria-label'), 'Seat 20, 55,000 won, sold');
  assert.equal(await seat(page, 11).getAttribute('aria-label'), 'Seat 11, 55,000 won, held by someone');
  assert.equal(await seat(page, 11).getAttribute('data-status'), 'held');
  // The price on hover, for any seat.
  await seat(page, 20).hover();
  assert.equal(await page.locator('#seat-info').textContent(), 'Seat 20: 55,000 won, sold');
  assert.equal(await seat(page, 20).getAttribute('data-tip'), '55,000 won · sold');
  await page.mouse.move(0, 0);
  assert.match(await page.locator('#admission-timer').textContent(), /^Time left to book: \d+:\d\d$/);
  const date = page.locator('#dates button.date');
  assert.equal(await date.count(), 1);
  assert.equal(await date.getAttribute('aria-pressed'), 'true');
  assert.equal(await page.locator('#seat-map button.seat').count(), 30);
  assert.equal(await page.locator('#balance').textContent(), '0 won');

  // Keyboard: into the map, two seats right, Space chooses seat 3; its price shows on focus.
  await seat(page, 1).focus();
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('ArrowRight');
  assert.equal(await page.evaluate(() => document.activeElement.dataset.seat), '3');
  assert.equal(await page.locator('#seat-info').textContent(), 'Seat 3: 55,000 won, available');
  await page.keyboard.press('Space');
  assert.equal(await seat(page, 3).getAttribute('aria-pressed'), 'true');
  assert.equal(await seat(page, 3).getAttribute('aria-label'), 'Seat 3, 55,000 won, chosen');
  assert.equal(await page.locator('#selection').textContent(), 'Chosen: seats 3, 55,000 won in all.');
  assert.match(await page.locator('#wallet-note').textContent(), /charge at least 55,000 won more/);
  await shot(page, 'seats');

  await page.getByLabel('Charge amount (won)').fill('100000');
  await page.getByRole('button', { name: 'Charge', exact: true }).click();
  await waitForText(page, '#balance', /^100,000 won$/);
  assert.equal(await page.locator('#wallet-note').textContent(), 'Charged 100,000 won. Your balance is 100,000 won.');

  await page.getByRole('button', { name: 'Hold 1 seat' }).click();
  await visible(page, '#reservation');
  assert.match(await page.locator('#res-seats').textContent(), /^Seats 3 on /);
  assert.equal(await page.locator('#res-amount').textContent(), 'To pay: 55,000 won');
  assert.match(await page.locator('#hold-timer').textContent(), /^Held for you for [45]:\d\d$/);
  await waitForText(page, '#seat-map button.seat[data-seat="3"]', /★/);
  assert.equal(await seat(page, 3).getAttribute('aria-label'), 'Seat 3, 55,000 won, held for you');
  assert.equal(await page.locator('#charge').isDisabled(), true, 'no charging while seats are held');
  await shot(page, 'held');

  await page.getByRole('button', { name: 'Pay 55,000 won' }).click();
  await visible(page, '#view-ticket');
  assert.equal(await page.locator('#ticket dd[data-field="concert"]').textContent(), concert.title);
  assert.equal(await page.locator('#ticket dd[data-field="seats"]').textContent(), '3');
  assert.equal(await page.locator('#ticket dd[data-field="amount"]').textContent(), '55,000 won');
  assert.equal(await page.locator('#ticket dd[data-field="balance"]').textContent(), '45,000 won');
  await waitForText(page, '#history', /Spring Festival 2027/);
  assert.equal(await page.locator('#history li').count(), 1);
  assert.match(await page.locator('#history li').textContent(), /^Spring Festival 2027, .+: seats 3, 55,000 won, paid /);
  await shot(page, 'ticket');

  // What the page says is what the server did: one seat of the date sold.
  const all = await admin('GET', '/admin/v1/concerts');
  const mine = (all.concerts || all).find((c) => c.concert_id === concert.id);
  assert.equal(mine.schedules[0].sold_seats, 3);

  // A reload shows the stored user, who can carry on.
  await page.reload();
  assert.match(await waitForText(page, '#identity-text', /remembers user/), /Welcome back/);
  await page.getByRole('button', { name: 'Continue as stored user' }).click();
  await waitForText(page, '#identity-text', /^Signed in as user/);
});
