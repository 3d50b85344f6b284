// A real 429 from lineup's per-user join limit. The test's own server refills a
// person's joins once every 100 s (one in a burst), so the page's join is
// refused every time, not only when a race is lost: the page says the server
// is busy and when to try again, and the person can still try.

import assert from 'node:assert/strict';
import https from 'node:https';
import { test } from 'node:test';
import { SPARE, createConcert, openBrowser, shot, startSpareServer, visible, waitForText } from './helpers.mjs';

function join(concertId, token) {
  return new Promise((resolve, reject) => {
    const request = https.request(
      `${SPARE}/api/v1/concerts/${concertId}/queue`,
      { method: 'POST', rejectUnauthorized: false, headers: { Authorization: `Bearer ${token}` } },
      (response) => {
        response.resume();
        resolve({ status: response.statusCode, retryAfter: response.headers['retry-after'] });
      },
    );
    request.on('error', reject);
    request.end();
  });
}

test('a person who is rate limited is told the server is busy and when to try again', async (t) => {
  const elsewhere = await createConcert({ title: 'Somewhere Else', seats: 5, settings: { paused: true } });
  const concert = await createConcert({ title: 'Busy Night', seats: 5, settings: { paused: true } });
  // Started after the concerts exist, so its catalog lists them from the start.
  await startSpareServer(t, { LINEUP_LIMIT_USER_RATE: '0.01', LINEUP_LIMIT_USER_BURST: '1' });
  const { page } = await openBrowser(t);
  await page.goto(SPARE);
  await page.getByRole('button', { name: 'Sign up', exact: true }).click();
  await waitForText(page, '#identity-text', /Signed in as user/);
  const user = await page.evaluate(() => JSON.parse(localStorage.getItem('lineup.user')));

  // The person's one join of the next 100 s goes elsewhere (as from another tab).
  assert.equal((await join(elsewhere.id, user.access_token)).status, 201);

  await page.getByRole('button', { name: `Join the line for ${concert.title}` }).click();
  await waitForText(page, '#message-text', /busy/);
  const text = await page.locator('#message-text').textContent();
  const match = text.match(/^The server is busy\. Try again in (\d+) s\.$/);
  assert.ok(match, text);
  assert.ok(Number(match[1]) >= 60, `the wait comes from Retry-After: ${text}`);
  assert.equal(await page.locator('#message').getAttribute('data-kind'), 'warn');
  await visible(page, '#view-start');
  assert.equal(await page.getByRole('button', { name: `Join the line for ${concert.title}` }).isEnabled(), true, 'the person can try again');
  await shot(page, 'server-busy');

  // The server agrees: the same person is still refused, with a Retry-After.
  const again = await join(concert.id, user.access_token);
  assert.equal(again.status, 429);
  assert.ok(Number(again.retryAfter) >= 60);
});
