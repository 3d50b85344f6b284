// A server that dies under a waiting person: the page says it cannot reach the
// server and backs off, keeps the place on screen, and carries on by itself
// when a server answers again (the place lives in Redis, not in the server).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SPARE, admin, apiJoin, apiUser, createConcert, openBrowser, shot, startSpareServer, visible, waitForText } from './helpers.mjs';

test('a person keeps the place through a server outage, told the server cannot be reached', async (t) => {
  const concert = await createConcert({ title: 'Power Cut Party', seats: 6, settings: { paused: true } });
  await apiJoin(await apiUser(), concert.id);
  const first = await startSpareServer(t);

  const { page } = await openBrowser(t);
  await page.goto(SPARE);
  await page.getByRole('button', { name: 'Sign up', exact: true }).click();
  await waitForText(page, '#identity-text', /Signed in as user/);
  await page.getByRole('button', { name: `Join the line for ${concert.title}` }).click();
  await visible(page, '#view-waiting');
  assert.equal(await waitForText(page, '#position', /^2$/), '2');

  // The server dies: the polls fail, the page says so and waits longer each time.
  first.kill('SIGKILL');
  const note = await waitForText(page, '#poll-state', /Cannot reach the server/);
  assert.match(note, /^Cannot reach the server\. Trying again in \d+ s; you keep your place\.$/);
  assert.equal(await page.locator('#poll-state').getAttribute('data-kind'), 'warn');
  assert.equal(await page.locator('#position').textContent(), '2', 'the place stays on screen');
  assert.match(await page.locator('#announcer').textContent(), /^Cannot reach the server\./);
  await visible(page, '#view-waiting');
  await shot(page, 'server-unreachable');

  // A server is back: the page carries on by itself, same place, then admitted.
  await startSpareServer(t);
  await waitForText(page, '#poll-state', /^Updated /, 60_000);
  assert.equal(await page.locator('#position').textContent(), '2');
  assert.equal(await page.locator('#announcer').textContent(), 'You are number 2 in line.');
  await admin('PUT', `/admin/v1/concerts/${concert.id}/queue`, { paused: false });
  await visible(page, '#view-admitted');
  await page.locator('#seat-map button.seat').first().waitFor();
  assert.equal(await page.locator('#seat-map button.seat').count(), 6);
});
