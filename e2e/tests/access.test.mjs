// Usable by everyone: Korean from the browser's language with a switch to
// English, a narrow phone screen without sideways scrolling, keyboard only
// with a visible focus ring, and the place in line kept across a reload.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BASE, admin, apiJoin, apiUser, createConcert, openBrowser, seat, shot, visible, waitForText } from './helpers.mjs';

const PHONE = { width: 360, height: 740 };

async function fitsTheScreen(page) {
  return page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
}

test('Korean on a phone, by keyboard, with a switch to English', async (t) => {
  const concert = await createConcert({ title: '한강 여름 콘서트', seats: 40, price: 77_000, settings: { paused: true } });
  await apiJoin(await apiUser(), concert.id);
  const { page } = await openBrowser(t, { locale: 'ko-KR', viewport: PHONE });

  await page.goto(BASE);
  assert.equal(await page.locator('html').getAttribute('lang'), 'ko');
  assert.equal(await page.locator('#start-title').textContent(), '판매 중인 공연');
  await waitForText(page, '#concerts', /한강 여름 콘서트/);
  assert.ok(await fitsTheScreen(page), 'the start page fits 360 px');

  // Keyboard only: Tab to "가입하기" and press Enter; the focus ring is visible.
  const signUp = page.getByRole('button', { name: '가입하기' });
  for (let i = 0; i < 10 && !(await signUp.evaluate((el) => el === document.activeElement)); i += 1) await page.keyboard.press('Tab');
  assert.ok(await signUp.evaluate((el) => el === document.activeElement), 'the sign-up button is reachable by Tab');
  const ring = await signUp.evaluate((el) => getComputedStyle(el).outlineStyle + ' ' + getComputedStyle(el).outlineWidth);
  assert.equal(ring, 'solid 3px');
  await page.keyboard.press('Enter');
  await waitForText(page, '#identity-text', /이용 중입니다/);
  const join = page.getByRole('button', { name: '한강 여름 콘서트 대기열 들어가기' });
  await join.focus();
  await page.keyboard.press('Enter');

  await visible(page, '#view-waiting');
  assert.equal(await waitForText(page, '#position', /^2$/), '2');
  assert.equal(await page.locator('#ahead').textContent(), '앞에 1명이 있습니다.');
  assert.equal(await page.locator('#announcer').textContent(), '대기 순서 2번입니다.');
  assert.ok(await fitsTheScreen(page), 'the waiting view fits 360 px');
  await shot(page, 'phone-waiting-ko');

  // The switch: English now, and after a reload too, in the same place in line.
  assert.equal(await page.getByRole('button', { name: '영어로 보기' }).getAttribute('lang'), 'en');
  await page.getByRole('button', { name: '영어로 보기' }).click();
  assert.equal(await page.getByRole('button', { name: 'Show the page in Korean' }).getAttribute('lang'), 'ko');
  assert.equal(await page.locator('html').getAttribute('lang'), 'en');
  assert.equal(await page.locator('#waiting-title').textContent(), 'You are in line');
  assert.equal(await page.locator('#ahead').textContent(), '1 person is ahead of you.');
  await page.reload();
  await visible(page, '#view-waiting');
  assert.equal(await waitForText(page, '#position', /^2$/), '2');
  assert.equal(await page.locator('#waiting-title').textContent(), 'You are in line');

  await admin('PUT', `/admin/v1/concerts/${concert.id}/queue`, { paused: false });
  await visible(page, '#view-admitted');
  await seat(page, 1).waitFor();
  assert.ok(await fitsTheScreen(page), 'the seat map fits 360 px');
  // Down one row moves by the row's width, whatever the screen.
  await seat(page, 1).focus();
  await page.keyboard.press('ArrowDown');
  const below = Number(await page.evaluate(() => document.activeElement.dataset.seat));
  assert.ok(below > 2 && below <= 10, `ArrowDown went to seat ${below}`);
  await page.keyboard.press('Enter');
  assert.equal(await seat(page, below).getAttribute('aria-pressed'), 'true');
  assert.equal(await page.locator('#seat-info').textContent(), `Seat ${below}: 77,000 won, chosen`);
  await shot(page, 'phone-seats');

  // Four seats at most: a fifth is refused with the reason.
  for (const no of [30, 31, 32]) await seat(page, no).click();
  await seat(page, 33).click();
  assert.equal(await page.locator('#message-text').textContent(), 'You can hold up to 4 seats at once.');
  assert.equal(await page.locator('#seat-map button.seat[aria-pressed="true"]').count(), 4);
  assert.equal(await seat(page, 33).getAttribute('aria-pressed'), 'false');
  assert.equal(await page.getByRole('button', { name: 'Hold 4 seats' }).isEnabled(), true);

  // Back to Korean: the map's labels follow.
  await page.getByRole('button', { name: 'Show the page in Korean' }).click();
  assert.equal(await seat(page, below).getAttribute('aria-label'), `${below}번 좌석, 77,000원, 선택함`);
  assert.equal(await page.getByRole('button', { name: '4석 선점하기' }).isVisible(), true);
});

test('a person evicted from the line is told the place expired, and can join again', async (t) => {
  const concert = await createConcert({ title: 'Evening of Evictions', seats: 5, settings: { paused: true } });
  const { page } = await openBrowser(t);
  await page.goto(BASE);
  await page.getByRole('button', { name: 'Sign up', exact: true }).click();
  await waitForText(page, '#identity-text', /Signed in as user/);
  await page.getByRole('button', { name: `Join the line for ${concert.title}` }).click();
  await waitForText(page, '#position', /^1$/);
  const user = await page.evaluate(() => JSON.parse(localStorage.getItem('lineup.user')).user_id);

  await admin('DELETE', `/admin/v1/concerts/${concert.id}/queue/users/${user}`);
  await waitForText(page, '#message-text', /expired/);
  assert.equal(await page.locator('#message-text').textContent(), 'Your place in line has expired. Join the line again to get a new place.');
  await visible(page, '#view-start');
  await shot(page, 'token-expired');

  await page.getByRole('button', { name: 'Join the line again' }).click();
  await visible(page, '#view-waiting');
  assert.equal(await waitForText(page, '#position', /^1$/), '1');
});
