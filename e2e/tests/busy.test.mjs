// A real 429 from lineup's per-user join limit (2 a second, bursts of 10): the
// page says the server is busy and when to try again, and the next try works.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BASE, call, createConcert, openBrowser, shot, visible, waitForText } from './helpers.mjs';

test('a person who is rate limited is told the server is busy, and gets in on a later try', async (t) => {
  const elsewhere = await createConcert({ title: 'Somewhere Else', seats: 5, settings: { paused: true } });
  const concert = await createConcert({ title: 'Busy Night', seats: 5, settings: { paused: true } });
  const { page } = await openBrowser(t);
  await page.goto(BASE);
  await page.getByRole('button', { name: 'Sign up', exact: true }).click();
  await waitForText(page, '#identity-text', /Signed in as user/);
  const user = await page.evaluate(() => JSON.parse(localStorage.getItem('lineup.user')));

  // The same person joins another line over and over until lineup says 429.
  let limited = null;
  for (let i = 0; i < 30 && !limited; i += 1) {
    const response = await call('POST', `/api/v1/concerts/${elsewhere.id}/queue`, { token: user.access_token });
    if (response.status === 429) limited = response;
  }
  assert.ok(limited, 'lineup rate-limited the joins');
  assert.ok(Number(limited.headers['retry-after']) >= 1);

  await page.getByRole('button', { name: `Join the line for ${concert.title}` }).click();
  await waitForText(page, '#message-text', /busy/);
  assert.match(await page.locator('#message-text').textContent(), /^The server is busy\. Try again in \d+ s\.$/);
  assert.equal(await page.locator('#message').getAttribute('data-kind'), 'warn');
  await visible(page, '#view-start');
  await shot(page, 'server-busy');

  // Later (the bucket refills at 2 a second) the same button gets a place.
  const waiting = page.locator('#view-waiting');
  for (let i = 0; i < 20 && !(await waiting.isVisible()); i += 1) {
    await page.waitForTimeout(1000);
    await page.getByRole('button', { name: `Join the line for ${concert.title}` }).click();
    await waiting.waitFor({ state: 'visible', timeout: 2000 }).catch(() => {});
  }
  assert.equal(await waitForText(page, '#position', /^1$/), '1');
});
