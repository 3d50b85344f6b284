// Two people, one seat: whoever holds it first has it; the other is told it
// was taken, and their map shows it held (in text and icon, not colour only).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { admin, admitted, apiJoin, apiUser, call, createConcert, openBrowser, seat, shot, signUpAndJoin, visible, waitForText } from './helpers.mjs';

test('a second browser that picks the same seat is told it is taken', async (t) => {
  const concert = await createConcert({ title: 'Seat Race Night', seats: 12, price: 40_000 });
  const first = await openBrowser(t);
  const second = await openBrowser(t);
  await signUpAndJoin(first.page, concert);
  await signUpAndJoin(second.page, concert);
  await admitted(first.page);
  await admitted(second.page);
  assert.equal(await seat(second.page, 7).getAttribute('data-status'), 'available');

  // Both choose seat 7; the first holds it while the second's map still says available.
  await seat(first.page, 7).click();
  await seat(second.page, 7).click();
  assert.equal(await seat(second.page, 7).getAttribute('aria-pressed'), 'true');
  await first.page.getByRole('button', { name: 'Hold 1 seat' }).click();
  await waitForText(first.page, '#res-seats', /^Seats 7 on /);

  await second.page.getByRole('button', { name: 'Hold 1 seat' }).click();
  const alert = second.page.getByRole('alert');
  await alert.waitFor();
  assert.equal(await second.page.locator('#message-text').textContent(), 'Seat 7 was just taken by someone else. Choose another seat.');
  assert.equal(await second.page.locator('#reservation').isHidden(), true, 'the second person holds nothing');
  await waitForText(second.page, '#seat-map button.seat[data-seat="7"]', /◐/);
  assert.equal(await seat(second.page, 7).getAttribute('aria-label'), 'Seat 7, 40,000 won, held by someone');
  assert.equal(await seat(second.page, 7).getAttribute('aria-disabled'), 'true');
  assert.equal(await seat(second.page, 7).getAttribute('aria-pressed'), 'false');
  assert.equal(await second.page.locator('#selection').textContent(), 'No seats chosen.');
  await shot(second.page, 'seat-taken');

  // Choosing it again (from the keyboard: it is aria-disabled, still focusable) is refused at once, with the reason.
  await seat(second.page, 7).focus();
  await second.page.keyboard.press('Enter');
  assert.equal(await second.page.locator('#message-text').textContent(), 'Seat 7 is taken: it is held by someone. Choose another seat.');
  // Another seat still works.
  await seat(second.page, 8).click();
  await second.page.getByRole('button', { name: 'Hold 1 seat' }).click();
  await waitForText(second.page, '#res-seats', /^Seats 8 on /);

  // Releasing gives the seat back; leaving ends the turn.
  await second.page.getByRole('button', { name: 'Release seats' }).click();
  await waitForText(second.page, '#message-text', /^Seats released\.$/);
  await waitForText(second.page, '#seat-map button.seat[data-seat="8"]', /^8$/);
  assert.equal(await seat(second.page, 8).getAttribute('data-status'), 'available');
  const before = await admin('GET', `/admin/v1/concerts/${concert.id}/queue`);
  await second.page.getByRole('button', { name: 'Leave the line' }).click();
  await visible(second.page, '#view-start');
  const after = await admin('GET', `/admin/v1/concerts/${concert.id}/queue`);
  assert.equal(after.active, before.active - 1);
});

test('a person who joins when every seat is held or sold waits as sold out, then is let in when a seat comes back', async (t) => {
  const concert = await createConcert({ title: 'One Seat Only', seats: 1, price: 10_000 });
  // Someone else is admitted first and holds the only seat.
  const other = await apiUser();
  const place = await apiJoin(other, concert.id);
  let ticket = place;
  for (let i = 0; i < 50 && ticket.status !== 'active'; i += 1) {
    await new Promise((done) => setTimeout(done, 100));
    ticket = (await call('GET', '/api/v1/queue/status', { token: place.token })).body;
  }
  assert.equal(ticket.status, 'active');
  const hold = await call('POST', '/api/v1/reservations', { token: place.token, body: { schedule_id: concert.scheduleId, seat_nos: [1] } });
  assert.equal(hold.status, 201);

  // Seat-aware admission: nobody is let in while no seat is free; the page says
  // so and keeps the place.
  const { page } = await openBrowser(t);
  await signUpAndJoin(page, concert);
  await visible(page, '#view-waiting');
  await page.locator('#sold-out-note').waitFor();
  assert.match(await page.locator('#sold-out-note').textContent(), /^Every seat is sold or held right now\. You keep your place/);
  assert.equal(await page.locator('#position').textContent(), '1');
  assert.equal(await page.locator('#estimate').isHidden(), true);
  assert.match(await page.locator('#announcer').textContent(), /Every seat is sold or held/);
  await shot(page, 'sold-out');

  // The hold is released: admission resumes and the person is let in to the seat.
  assert.equal((await call('DELETE', `/api/v1/reservations/${hold.body.reservation_id}`, { token: place.token })).status, 204);
  await visible(page, '#view-admitted');
  await waitForText(page, '#dates button.date', /1 of 1 seats left/);
  await seat(page, 1).waitFor();
  assert.equal(await seat(page, 1).getAttribute('data-status'), 'available');
});
