// What every end-to-end test needs: the lineup server e2e/run.sh started, its
// admin and public API (for setting the scene), and a fresh headless Chromium.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const BASE = process.env.E2E_BASE_URL || 'https://localhost:9560';
const ADMIN_TOKEN = process.env.E2E_ADMIN_TOKEN;
const SHOTS = process.env.E2E_SCREENSHOTS || path.resolve('e2e/screenshots');

assert.ok(ADMIN_TOKEN, 'E2E_ADMIN_TOKEN is set: run the tests through e2e/run.sh');

// The server's certificate is self-signed for localhost; only this agent trusts it.
const agent = new https.Agent({ rejectUnauthorized: false, keepAlive: true });

/** One API call; resolves to {status, body} whatever the status. */
export function call(method, path, { token, body } = {}) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const request = https.request(
      new URL(path, BASE),
      {
        method,
        agent,
        headers: {
          ...(token ? { Authorization: `Bearer ${token}` } : {}),
          ...(data ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) } : {}),
        },
      },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode, headers: response.headers, body: text ? JSON.parse(text) : null }));
      },
    );
    request.on('error', reject);
    request.setTimeout(15_000, () => request.destroy(new Error(`${method} ${path} timed out`)));
    if (data) request.write(data);
    request.end();
  });
}

export async function admin(method, path, body) {
  const response = await call(method, path, { token: ADMIN_TOKEN, body });
  assert.ok(response.status < 300, `${method} ${path} answered ${response.status}: ${JSON.stringify(response.body)}`);
  return response.body;
}

let concerts = 0;

/**
 * A concert of one date a week away with `seats` seats at `price` won each,
 * on sale now, with the queue settings given (e.g. {admit_per_second: 1}).
 */
export async function createConcert({ title, seats = 20, price = 50_000, settings = {} } = {}) {
  concerts += 1;
  const name = title || `E2E concert ${process.pid}-${concerts}`;
  const startsAt = new Date(Date.now() + 7 * 24 * 3600 * 1000).toISOString();
  const created = await admin('POST', '/admin/v1/concerts', {
    title: name,
    venue: 'Olympic Hall, Seoul',
    opens_at: new Date(Date.now() - 60_000).toISOString(),
    schedules: [{ starts_at: startsAt, seats: Array.from({ length: seats }, (_, i) => ({ seat_no: i + 1, price })) }],
  });
  if (Object.keys(settings).length) await admin('PUT', `/admin/v1/concerts/${created.concert_id}/queue`, settings);
  return { id: created.concert_id, title: name, scheduleId: created.schedules[0].schedule_id };
}

/** A person who uses the API directly (to stand in line ahead of the browser). */
export async function apiUser() {
  const response = await call('POST', '/api/v1/users', { body: {} });
  assert.equal(response.status, 201);
  return response.body;
}

export async function apiJoin(user, concertId) {
  const response = await call('POST', `/api/v1/concerts/${concertId}/queue`, { token: user.access_token });
  assert.ok([200, 201].includes(response.status), JSON.stringify(response.body));
  return response.body;
}

/**
 * A fresh Chromium with a user data dir of its own (so its localStorage is
 * empty), closed and removed when the test ends.
 */
export async function openBrowser(t, { locale = 'en-US', viewport = { width: 1100, height: 900 } } = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'lineup-e2e-'));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    ignoreHTTPSErrors: true,
    locale,
    viewport,
  });
  t.after(async () => {
    await context.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const page = context.pages()[0] || (await context.newPage());
  const problems = [];
  page.on('pageerror', (error) => problems.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error' && !/Failed to load resource/.test(message.text())) problems.push(message.text());
  });
  t.after(() => assert.deepEqual(problems, [], 'the page logged no script errors'));
  page.setDefaultTimeout(30_000);
  return { context, page };
}

export async function shot(page, name) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

/** Waits until the element's text matches `pattern`, then returns the text. */
export async function waitForText(page, selector, pattern, timeout = 30_000) {
  await page.waitForFunction(
    ([sel, source, flags]) => {
      const el = document.querySelector(sel);
      return !!el && new RegExp(source, flags).test(el.textContent);
    },
    [selector, pattern.source, pattern.flags],
    { timeout },
  );
  return page.locator(selector).textContent();
}

export async function visible(page, selector, timeout = 30_000) {
  await page.locator(selector).waitFor({ state: 'visible', timeout });
}

/** Signs up in the page and joins the concert's line from the list. */
export async function signUpAndJoin(page, concert) {
  await page.goto(BASE);
  await page.getByRole('button', { name: 'Sign up', exact: true }).click();
  await waitForText(page, '#identity-text', /Signed in as user/);
  await page.getByRole('button', { name: `Join the line for ${concert.title}` }).click();
}

/** Waits for the seat map of the admitted view. */
export async function admitted(page) {
  await visible(page, '#view-admitted');
  await page.locator('#seat-map button.seat').first().waitFor();
}

export function seat(page, no) {
  return page.locator(`#seat-map button.seat[data-seat="${no}"]`);
}

const SPARE_PORT = Number(process.env.E2E_SPARE_PORT || 9562);
export const SPARE = `https://localhost:${SPARE_PORT}`;

function spareReady() {
  return new Promise((resolve) => {
    const request = https.get(`${SPARE}/readyz`, { rejectUnauthorized: false }, (response) => {
      response.resume();
      resolve(response.statusCode === 200);
    });
    request.on('error', () => resolve(false));
    request.setTimeout(1000, () => request.destroy());
  });
}

/**
 * A second lineup server like the suite's (same database, Redis prefix and
 * keys, from the settings e2e/run.sh exports) at SPARE, with `env` changed;
 * killed when the test ends. For tests that kill a server or need other limits.
 * Make the test's concerts first: a server lists the concerts it loaded at start
 * (and rereads its catalog every 10 s).
 */
export async function startSpareServer(t, env = {}) {
  assert.ok(process.env.E2E_BINARY, 'E2E_BINARY is set by e2e/run.sh');
  const child = spawn(process.env.E2E_BINARY, ['serve', '--listen', `127.0.0.1:${SPARE_PORT}`, '--no-metrics'], {
    env: { ...process.env, ...env },
    stdio: 'ignore',
  });
  t.after(() => child.kill('SIGKILL'));
  for (let i = 0; i < 150; i += 1) {
    if (await spareReady()) return child;
    if (child.exitCode != null) break;
    await new Promise((done) => setTimeout(done, 100));
  }
  assert.fail('the spare server did not come up');
}
