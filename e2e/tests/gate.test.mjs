// lineup in front of a site it did not build: real nginx (deploy/nginx/, with
// auth_request) before a stand-in origin. Unadmitted -> sent to the line;
// admitted -> the origin answers and sees the person's id; admission ended ->
// sent to the line again; a forged, expired or other-concert cookie -> refused.
// The admission token is also verified as a backend would, with `jose` (npm)
// and with PyJWT (e2e/examples/, the examples of docs/INTEGRATION.md). Then the
// whole way in Chromium: the site, the line, back to the site.

import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { SignJWT } from 'jose';
import { admissionVerifier } from '../examples/verify-admission.mjs';
import { BASE, apiJoin, apiUser, call, createConcert, openBrowser, shot, waitForText } from './helpers.mjs';

const NGINX = process.env.E2E_NGINX;
const SHOP_PORT = Number(process.env.E2E_SHOP_PORT);
const ORIGIN_PORT = Number(process.env.E2E_ORIGIN_PORT);
const SHOP = `http://localhost:${SHOP_PORT}`;
const ISSUER = process.env.LINEUP_TOKEN_ISSUER;
const AUDIENCE = process.env.LINEUP_TOKEN_AUDIENCE;
const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');

assert.ok(NGINX && SHOP_PORT && ORIGIN_PORT, 'run through e2e/run.sh, which sets E2E_NGINX and the ports');

/** The stand-in origin: answers what it was asked and who nginx says is admitted. */
function startOrigin(t) {
  const server = http.createServer((request, response) => {
    response.setHeader('content-type', 'text/html; charset=utf-8');
    const seen = {
      path: request.url,
      user: request.headers['x-lineup-user'] ?? null,
      concert: request.headers['x-lineup-concert'] ?? null,
    };
    response.end(`<!doctype html><title>The shop</title><h1 id="shop">The shop</h1><pre id="seen">${JSON.stringify(seen)}</pre>`);
  });
  server.listen(ORIGIN_PORT, '127.0.0.1');
  t.after(() => server.close());
}

/** nginx with deploy/nginx/'s configuration for `concertId`, until the test ends. */
async function startNginx(t, concertId) {
  const dir = mkdtempSync(path.join(tmpdir(), 'lineup-nginx-'));
  const gate = execFileSync(path.join(ROOT, 'deploy/nginx/render.sh'), {
    env: {
      ...process.env,
      SHOP_LISTEN: `127.0.0.1:${SHOP_PORT}`,
      SHOP_SERVER_NAME: 'localhost',
      ORIGIN: `http://127.0.0.1:${ORIGIN_PORT}`,
      LINEUP_URL: `https://127.0.0.1:${new URL(BASE).port}`,
      LINE_URL: BASE,
      CONCERT_ID: concertId,
    },
  }).toString();
  writeFileSync(path.join(dir, 'lineup-gate.conf'), gate);
  for (const sub of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(path.join(dir, sub));
  writeFileSync(
    path.join(dir, 'nginx.conf'),
    `daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  include ${dir}/lineup-gate.conf;
}
`,
  );
  const check = spawnSync(NGINX, ['-t', '-p', dir, '-c', path.join(dir, 'nginx.conf')], { encoding: 'utf8' });
  assert.equal(check.status, 0, `nginx -t: ${check.stderr}`);
  const nginx = spawn(NGINX, ['-p', dir, '-c', path.join(dir, 'nginx.conf')], { stdio: 'ignore' });
  t.after(() => {
    nginx.kill('SIGQUIT');
    rmSync(dir, { recursive: true, force: true });
  });
  for (let i = 0; i < 100; i += 1) {
    const up = await shop('/').then(() => true, () => false);
    if (up) return;
    await new Promise((done) => setTimeout(done, 100));
  }
  assert.fail(`nginx did not come up: ${readFileSync(path.join(dir, 'error.log'), 'utf8')}`);
}

/** One request to the protected site; redirects are not followed. */
function shop(pathAndQuery, headers = {}) {
  return new Promise((resolve, reject) => {
    const request = http.get(`${SHOP}${pathAndQuery}`, { headers }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode, headers: response.headers, text }));
    });
    request.on('error', reject);
    request.setTimeout(10_000, () => request.destroy(new Error('the shop timed out')));
  });
}

const cookie = (token) => ({ cookie: `theme=dark; lineup_admission=${token}` });

function seenBy(answer) {
  return JSON.parse(answer.text.match(/<pre id="seen">(.*)<\/pre>/)[1]);
}

async function admittedPlace(concertId) {
  const user = await apiUser();
  const ticket = await apiJoin(user, concertId);
  for (let i = 0; i < 100; i += 1) {
    const status = await call('GET', '/api/v1/queue/status', { token: ticket.token });
    if (status.body.status === 'active') return { user, token: ticket.token };
    await new Promise((done) => setTimeout(done, 100));
  }
  assert.fail('never admitted');
}

async function admission(queueToken, returnTo) {
  const response = await call('POST', '/api/v1/queue/admission', { token: queueToken, body: returnTo ? { return_to: returnTo } : {} });
  assert.equal(response.status, 200, JSON.stringify(response.body));
  return response;
}

/** fetch for jose that trusts the e2e server's self-signed certificate. */
function insecureFetch(url, options) {
  return new Promise((resolve, reject) => {
    const request = https.get(url, { rejectUnauthorized: false, headers: options?.headers, signal: options?.signal }, (response) => {
      const chunks = [];
      response.on('data', (chunk) => chunks.push(chunk));
      response.on('end', () =>
        resolve(new Response(Buffer.concat(chunks), { status: response.statusCode, headers: response.headers })),
      );
    });
    request.on('error', reject);
  });
}

/** The same claims signed with the deployment's own key (as only lineup could). */
async function signedLikeLineup(claims) {
  const pem = readFileSync(process.env.LINEUP_SIGNING_KEY_FILES.split(',')[0], 'utf8');
  const jwks = (await call('GET', '/.well-known/jwks.json')).body;
  const key = createPrivateKey(pem);
  return new SignJWT(claims).setProtectedHeader({ alg: 'EdDSA', kid: jwks.keys[0].kid, typ: 'JWT' }).sign(key);
}

test('nginx sends the unadmitted to the line and lets the admitted through, until the admission ends', async (t) => {
  const concert = await createConcert({ seats: 10 });
  const other = await createConcert({ seats: 10 });
  startOrigin(t);
  await startNginx(t, concert.id);

  // Unadmitted: to the line, with the way back; a client's own X-Lineup-User changes nothing.
  const away = await shop('/concerts/7?seat=12', { 'x-lineup-user': '00000000-0000-0000-0000-000000000000' });
  assert.equal(away.status, 302);
  const wayBack = `${SHOP}/concerts/7?seat=12`;
  assert.equal(away.headers.location, `${BASE}/?concert=${concert.id}&return_to=${wayBack}`);

  // Admitted: the cookie, then the origin answers and sees who it is.
  const { user, token: queueToken } = await admittedPlace(concert.id);
  const given = await admission(queueToken, wayBack);
  assert.equal(given.body.return_to, wayBack);
  const setCookie = given.headers['set-cookie'][0];
  assert.match(setCookie, /^lineup_admission=[^;]+; Path=\/; Max-Age=\d+; Secure; HttpOnly; SameSite=Lax$/);
  const token = given.body.admission_token;
  const through = await shop('/concerts/7?seat=12', { ...cookie(token), 'x-lineup-user': 'someone-else' });
  assert.equal(through.status, 200, through.text);
  assert.deepEqual(seenBy(through), { path: '/concerts/7?seat=12', user: user.user_id, concert: concert.id });
  // A bearer admission, for API clients.
  const bearer = await shop('/api/cart', { authorization: `Bearer ${token}` });
  assert.equal(bearer.status, 200);

  // A backend verifies the admission itself: jose against lineup's key set...
  const verify = admissionVerifier({ jwksUrl: `${BASE}/.well-known/jwks.json`, issuer: ISSUER, audience: AUDIENCE, fetch: insecureFetch });
  const verified = await verify(token, concert.id);
  assert.equal(verified.userId, user.user_id);
  await assert.rejects(verify(token, other.id), /another concert/);
  await assert.rejects(verify(queueToken, concert.id), /not an admission/);
  const wrongAudience = admissionVerifier({ jwksUrl: `${BASE}/.well-known/jwks.json`, issuer: ISSUER, audience: 'https://elsewhere.example', fetch: insecureFetch });
  await assert.rejects(wrongAudience(token, concert.id), /aud/);
  // ...and PyJWT, against the keys the site's nginx passes on.
  const python = (tokenToCheck, concertId) =>
    spawnSync('/usr/bin/python3', [path.join(ROOT, 'e2e/examples/verify_admission.py'), `${SHOP}/.well-known/lineup-jwks.json`, ISSUER, AUDIENCE, concertId], {
      input: tokenToCheck,
      encoding: 'utf8',
    });
  const py = python(token, concert.id);
  assert.equal(py.status, 0, py.stderr);
  assert.equal(py.stdout.trim(), user.user_id);
  assert.equal(python(token, other.id).status, 1);

  // Forged, expired and other-concert cookies are refused: back to the line.
  const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
  const otherPlace = await admittedPlace(other.id);
  const otherAdmission = (await admission(otherPlace.token)).body.admission_token;
  for (const [why, bad] of [
    ['garbage', 'not-a-token'],
    ['tampered', `${token.split('.')[0]}.${Buffer.from(JSON.stringify({ ...claims, sub: '00000000-0000-7000-8000-000000000000' })).toString('base64url')}.${token.split('.')[2]}`],
    ['expired', await signedLikeLineup({ ...claims, exp: Math.floor(Date.now() / 1000) - 10 })],
    ['another concert', otherAdmission],
  ]) {
    const refused = await shop('/concerts/7', cookie(bad));
    assert.equal(refused.status, 302, why);
  }

  // The admission ends (the person leaves): refused again within a second or so.
  assert.equal((await call('DELETE', '/api/v1/queue', { token: queueToken })).status, 204);
  let status = 200;
  for (let i = 0; i < 40 && status === 200; i += 1) {
    status = (await shop('/concerts/7', cookie(token))).status;
    if (status === 200) await new Promise((done) => setTimeout(done, 100));
  }
  assert.equal(status, 302, 'the ended admission is refused');
});

test('in Chromium: the site sends the person to the line, and the line sends them back admitted', async (t) => {
  const concert = await createConcert({ seats: 10 });
  startOrigin(t);
  await startNginx(t, concert.id);
  const { page } = await openBrowser(t);

  await page.goto(`${SHOP}/concerts/7?seat=3`);
  assert.ok(page.url().startsWith(`${BASE}/?concert=${concert.id}&return_to=`), page.url());
  await shot(page, 'gate-1-sent-to-the-line');
  await page.getByRole('button', { name: 'Sign up', exact: true }).click();
  // Joined by itself, admitted, the cookie set, and back on the site.
  await page.waitForURL(`${SHOP}/concerts/7?seat=3`, { timeout: 30_000 });
  const seen = JSON.parse(await waitForText(page, '#seen', /"user":"[0-9a-f-]{36}"/));
  assert.equal(seen.concert, concert.id);
  assert.equal(seen.path, '/concerts/7?seat=3');
  await shot(page, 'gate-2-back-on-the-site');
});
