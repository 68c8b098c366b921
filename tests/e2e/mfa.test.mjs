// Two-step sign-in (TOTP) in the demo app in a real Chromium, against the
// release binary in test mode: turning it on (QR code, key, a first code, ten
// recovery codes shown once), signing in with a code and with a recovery
// code, each accepted once, a sign-in step left too long, new recovery codes,
// turning it off, a password reset, an admin taking it away, and the lockout.
//
// Codes are computed here from the key the page shows (RFC 6238), for the
// time on the server's test clock. The server accepts a code once: a code of
// a step at or before the last one it accepted is refused. So a test that
// needs another code moves the clock a step (30 s) forward first (`fresh`).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  ADMIN,
  PASSWORD,
  advanceClock,
  email,
  launchBrowser,
  linkToken,
  mails,
  newTab,
  post,
  screenshot,
  serverNow,
  signIn,
  signedIn,
  signedOut,
  sleep,
  startServer,
  totp,
  watch,
} from './harness.mjs';

const STEP_SECONDS = 30;
/** How long a sign-in may wait for its second step (the mfa_token). */
const MFA_TOKEN_SECONDS = 5 * 60;
/** How long the server's liveness cache may answer with a user as it was. */
const LIVENESS_TTL_MS = 1100;
const RECOVERY_CODE = /^[a-z2-7]{4}(-[a-z2-7]{4}){5}$/;
const NEW_PASSWORD = 'staple battery horse correct';

let server;
let browser;

before(async () => {
  server = await startServer({ WRISTBAND_TEST_MODE: 'true' });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  server?.stop();
});

/** The code the app shows now, by the server's clock. */
async function current(secret) {
  return totp(secret, await serverNow(server.url));
}

/** A code the server has not accepted yet: the clock moves a step first. */
async function fresh(secret) {
  return totp(secret, await advanceClock(server.url, STEP_SECONDS));
}

/** A six-digit code that is wrong now: none of the steps the server accepts
 * (this one and one either side). */
async function wrong(secret) {
  const now = await serverNow(server.url);
  const near = new Set([-1, 0, 1].map((k) => totp(secret, now + k * STEP_SECONDS)));
  return ['000000', '123456', '999999', '424242'].find((code) => !near.has(code));
}

/** A JSON call from outside the browser; resolves to the response. */
function send(method, path, body, token) {
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  return fetch(`${server.url}${path}`, { method, headers, body: JSON.stringify(body) });
}

/** A user with two-step sign-in on, made over HTTP (the page's own way of
 * turning it on is the first test): their address, key and recovery codes. */
async function userWithTotp(name) {
  const address = email(name);
  const created = await post(server.url, '/test/users', { email: address, password: PASSWORD });
  assert.equal(created.status, 201);
  const { access_token: token } = await created.json();
  const started = await send('POST', '/auth/mfa/totp', { current_password: PASSWORD }, token);
  assert.equal(started.status, 200);
  const { secret } = await started.json();
  const confirmed = await send('POST', '/auth/mfa/totp/confirm', { code: await current(secret) }, token);
  assert.equal(confirmed.status, 200);
  const body = await confirmed.json();
  assert.equal(body.user.mfa_enabled, true);
  assert.equal(body.recovery_codes.length, 10);
  return { address, secret, recoveryCodes: body.recovery_codes };
}

/** A password login from outside the browser: its status and body. */
async function passwordLogin(address, password = PASSWORD) {
  const response = await post(server.url, '/auth/login', { email: address, password });
  return { status: response.status, body: await response.json() };
}

/** Clicks `selector`; resolves to the answer of `method path` that counts.
 * A Bearer call whose access token expired (3 s) is answered 401, refreshed
 * and retried: for those (`bearer`), the retried answer is the one. */
async function clickFor(page, selector, method, path, { bearer = false } = {}) {
  const answered = page.waitForResponse(
    (r) =>
      new URL(r.url()).pathname === path &&
      r.request().method() === method &&
      !(bearer && r.status() === 401),
  );
  await page.click(selector);
  return answered;
}

/** Asserts an error answer: its status and `error` code. */
async function refused(response, status, code) {
  assert.equal(response.status(), status, `${response.url()} answered ${response.status()}`);
  assert.equal((await response.json()).error, code);
}

/** The password form, filled and sent: waits for the code step. */
async function passwordStep(page, address, password = PASSWORD) {
  await signedOut(page);
  await page.fill('#email', address);
  await page.fill('#password', password);
  const answered = clickFor(page, '#login-button', 'POST', '/auth/login');
  const body = await (await answered).json();
  assert.equal(body.mfa_required, true);
  await page.locator('#mfa-page').waitFor({ state: 'visible' });
  assert.equal(await page.isVisible('#signed-out'), false);
  assert.equal(await page.isVisible('#signed-in'), false);
}

/** Sends `code` in the code step; resolves to the server's answer. */
async function sendCode(page, code, field = '#mfa-code') {
  await page.fill(field, code);
  return clickFor(page, '#mfa-submit-button', 'POST', '/auth/login/mfa');
}

/** A new browser profile where `address` signs in with password and code. */
async function signedInWithCode(address, secret) {
  const context = await browser.newContext();
  const page = await newTab(context, server.url);
  await passwordStep(page, address);
  assert.equal((await sendCode(page, await fresh(secret))).status(), 200);
  await signedIn(page, address);
  await page.locator('#sessions .session.current').waitFor();
  await page.locator('#mfa-status', { hasText: 'on' }).waitFor();
  return { context, page };
}

/** The error the page shows (not an info), once it says `text`. */
async function errorShown(page, text) {
  const box = page.locator('#message:not(.info)', { hasText: text });
  await box.waitFor();
  return box.textContent();
}

test('the TOTP helper gives RFC 6238\'s codes', () => {
  // RFC 6238, appendix B: the SHA-1 key "12345678901234567890", 8 digits.
  const key = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
  assert.equal(totp(key, 59, 8), '94287082');
  assert.equal(totp(key, 1111111109, 8), '07081804');
  assert.equal(totp(key, 2000000000, 8), '69279037');
  assert.equal(totp(key, 1111111109), '081804');
});

test('turning two-factor authentication on: QR code, key, a code, ten recovery codes', async () => {
  const context = await browser.newContext();
  const page = await newTab(context, server.url);
  const blocked = [];
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) blocked.push(message.text());
  });
  const address = email('enable');
  await signIn(page, address, '#register-button');
  await page.locator('#sessions .session.current').waitFor();
  await page.locator('#mfa-card').waitFor({ state: 'visible' });
  assert.equal(await page.textContent('#mfa-status'), 'off');
  assert.equal(await page.isVisible('#totp-on'), false);

  // A wrong password: refused, nothing to scan.
  await page.fill('#totp-password', 'not the password at all');
  const wrongPassword = await clickFor(page, '#enable-totp-button', 'POST', '/auth/mfa/totp', {
    bearer: true,
  });
  await refused(wrongPassword, 403, 'invalid_credentials');
  await errorShown(page, '');
  assert.equal(await page.isVisible('#totp-setup'), false);

  await page.fill('#totp-password', PASSWORD);
  const started = await clickFor(page, '#enable-totp-button', 'POST', '/auth/mfa/totp', {
    bearer: true,
  });
  assert.equal(started.status(), 200);
  const factor = await started.json();
  await page.locator('#totp-setup').waitFor({ state: 'visible' });
  assert.equal(await page.isVisible('#totp-off'), false);
  assert.equal(await page.inputValue('#totp-password'), '', 'the password is not kept');

  // The QR code: the server's SVG, in the page as an <svg>, drawn.
  const qr = page.locator('#totp-qr svg');
  await qr.waitFor({ state: 'visible' });
  const box = await qr.boundingBox();
  assert.ok(box.width >= 100 && box.height >= 100, `the QR code is ${box.width}×${box.height}`);
  const drawn = await qr.evaluate((svg) => ({
    shapes: svg.querySelectorAll('path[d], rect').length,
    size: svg.innerHTML.length,
    scripts: svg.querySelectorAll('script, foreignObject').length,
  }));
  assert.ok(drawn.shapes >= 1 && drawn.size > 200, `an empty QR code: ${JSON.stringify(drawn)}`);
  assert.equal(drawn.scripts, 0);

  // The key, as text to type into an app, and the otpauth:// link.
  const secret = (await page.textContent('#totp-secret')).trim();
  assert.match(secret, /^[A-Z2-7]{32}$/);
  assert.equal(secret, factor.secret);
  const link = await page.getAttribute('#totp-link', 'href');
  assert.ok(link.startsWith('otpauth://totp/'), link);
  assert.ok(new URL(link).searchParams.get('secret') === secret, link);

  // Readable at phone width.
  await page.setViewportSize({ width: 390, height: 844 });
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 390, `the page is ${width} px wide`);
  await screenshot(page, 'mfa-01-setup-phone');
  await page.setViewportSize({ width: 1280, height: 720 });
  await screenshot(page, 'mfa-01-setup');

  // A wrong code: refused, the setup stays.
  await page.fill('#totp-code', await wrong(secret));
  const wrongCode = await clickFor(page, '#confirm-totp-button', 'POST', '/auth/mfa/totp/confirm', {
    bearer: true,
  });
  await refused(wrongCode, 400, 'invalid_code');
  await errorShown(page, 'not valid');
  assert.equal(await page.isVisible('#totp-setup'), true);
  assert.equal(await page.textContent('#mfa-status'), 'off');

  // The code the app shows: on, and the ten recovery codes, shown once.
  await page.fill('#totp-code', await current(secret));
  const confirmed = await clickFor(page, '#confirm-totp-button', 'POST', '/auth/mfa/totp/confirm', {
    bearer: true,
  });
  assert.equal(confirmed.status(), 200);
  const codes = page.locator('#recovery-codes li');
  await page.locator('#recovery-box').waitFor({ state: 'visible' });
  const shown = await codes.allTextContents();
  assert.equal(shown.length, 10);
  for (const code of shown) assert.match(code, RECOVERY_CODE);
  assert.equal(new Set(shown).size, 10, 'ten different codes');
  assert.deepEqual(shown, (await confirmed.json()).recovery_codes);
  assert.match(await page.textContent('#recovery-box'), /not shown again/);
  await page.locator('#message.info', { hasText: 'Two-factor authentication is on' }).waitFor();
  assert.equal(await page.textContent('#mfa-status'), 'on');
  assert.equal(await page.isVisible('#totp-on'), true);
  assert.equal(await page.isVisible('#totp-setup'), false);
  assert.equal(await page.textContent('#totp-secret'), '', 'the key left the page');
  assert.equal(await page.locator('#totp-qr svg').count(), 0, 'the QR code left the page');
  await screenshot(page, 'mfa-02-recovery-codes');

  // This session goes on with the new tokens; a reload resumes it with the
  // new refresh cookie. The codes are not shown again.
  await page.reload();
  await signedIn(page, address);
  await page.locator('#sessions .session.current').waitFor();
  await page.locator('#mfa-status', { hasText: 'on' }).waitFor();
  assert.equal(await page.isVisible('#recovery-box'), false);
  assert.equal(await codes.count(), 0);

  // The password alone no longer signs in.
  const { status, body } = await passwordLogin(address);
  assert.equal(status, 200);
  assert.equal(body.mfa_required, true);
  assert.deepEqual([...body.methods].sort(), ['recovery_code', 'totp']);
  assert.equal(body.access_token, undefined);
  assert.deepEqual(blocked, [], 'nothing the page showed was blocked by the CSP');
  await context.close();
});

test('signing in asks for the code: a wrong one is refused, the right one works once', async () => {
  const { address, secret } = await userWithTotp('signin');
  const context = await browser.newContext();
  const page = await newTab(context, server.url);
  await passwordStep(page, address);
  assert.equal(await page.isVisible('#mfa-code'), true);
  assert.equal(await page.isVisible('#mfa-recovery-code'), false);
  assert.equal(await page.textContent('#use-recovery-code'), 'Use a recovery code');
  // The step's token is nowhere a script of the page could read it back.
  const stored = await page.evaluate(() => ({
    local: Object.keys(localStorage).length,
    session: Object.keys(sessionStorage).length,
    cookie: document.cookie,
  }));
  assert.deepEqual(stored, { local: 0, session: 0, cookie: '' });
  assert.deepEqual(await context.cookies(), [], 'no session cookie before the code');
  await screenshot(page, 'mfa-03-code-step');

  await refused(await sendCode(page, await wrong(secret)), 401, 'invalid_code');
  await errorShown(page, 'That code is not valid');
  assert.equal(await page.isVisible('#mfa-page'), true, 'the step stays for another try');
  await screenshot(page, 'mfa-04-wrong-code');

  const code = await fresh(secret);
  assert.equal((await sendCode(page, code)).status(), 200);
  await signedIn(page, address);
  await page.locator('#sessions .session.current').waitFor();
  assert.equal(await page.isVisible('#mfa-page'), false);
  assert.equal(await page.textContent('#mfa-status'), 'on');
  assert.equal(await page.inputValue('#mfa-code'), '', 'the code is not kept');
  await page.reload();
  await signedIn(page, address);
  await screenshot(page, 'mfa-05-signed-in-with-code');

  // The same code again, on a fresh sign-in within its step: refused.
  await page.click('#logout-button');
  await passwordStep(page, address);
  await refused(await sendCode(page, code), 401, 'invalid_code');
  await errorShown(page, 'That code is not valid');
  assert.equal(await page.isVisible('#signed-in'), false);
  await screenshot(page, 'mfa-06-code-replay-refused');

  // The next step's code does.
  assert.equal((await sendCode(page, await fresh(secret))).status(), 200);
  await signedIn(page, address);
  await context.close();
});

test('a recovery code signs in, once', async () => {
  const { address, recoveryCodes } = await userWithTotp('recovery');
  const context = await browser.newContext();
  const page = await newTab(context, server.url);
  await passwordStep(page, address);
  await page.click('#use-recovery-code');
  await page.locator('#mfa-recovery-code').waitFor({ state: 'visible' });
  assert.equal(await page.isVisible('#mfa-code'), false);
  assert.equal(await page.textContent('#use-recovery-code'), 'Use a code from your app');
  await screenshot(page, 'mfa-07-recovery-code-step');

  const [first, second] = recoveryCodes;
  assert.equal((await sendCode(page, first, '#mfa-recovery-code')).status(), 200);
  await signedIn(page, address);
  await page.locator('#sessions .session.current').waitFor();
  await screenshot(page, 'mfa-08-signed-in-with-recovery-code');

  // Spent: the same recovery code is refused the next time.
  await page.click('#logout-button');
  await passwordStep(page, address);
  assert.equal(await page.isVisible('#mfa-code'), true, 'each sign-in starts with the app code');
  await page.click('#use-recovery-code');
  await refused(await sendCode(page, first, '#mfa-recovery-code'), 401, 'invalid_code');
  await errorShown(page, 'recovery code is not valid');
  await screenshot(page, 'mfa-09-recovery-code-spent');

  // The toggle goes back to the app's code, and forth; another code works.
  await page.click('#use-recovery-code');
  await page.locator('#mfa-code').waitFor({ state: 'visible' });
  assert.equal(await page.isVisible('#mfa-recovery-code'), false);
  await page.click('#use-recovery-code');
  assert.equal((await sendCode(page, second, '#mfa-recovery-code')).status(), 200);
  await signedIn(page, address);
  await context.close();
});

test('a sign-in step left too long sends back to the password form', async () => {
  const { address, secret } = await userWithTotp('expired');
  const context = await browser.newContext();
  const page = await newTab(context, server.url);
  await passwordStep(page, address);
  const later = await advanceClock(server.url, MFA_TOKEN_SECONDS + STEP_SECONDS);
  await refused(await sendCode(page, totp(secret, later)), 401, 'invalid_mfa_token');
  await errorShown(page, 'sign in again');
  await signedOut(page);
  assert.equal(await page.isVisible('#mfa-page'), false);
  assert.equal(await page.inputValue('#email'), address, 'the address stays filled in');
  await screenshot(page, 'mfa-10-step-expired');

  // "Back" leaves the step too; then a new sign-in goes through.
  await passwordStep(page, address);
  await page.click('#mfa-cancel-button');
  await signedOut(page);
  await passwordStep(page, address);
  assert.equal((await sendCode(page, await fresh(secret))).status(), 200);
  await signedIn(page, address);
  await context.close();
});

test('new recovery codes: the new set works, the old one does not', async () => {
  const { address, secret, recoveryCodes: old } = await userWithTotp('regenerate');
  const { context, page } = await signedInWithCode(address, secret);

  // Without a code, and with a wrong one: nothing changes.
  await page.click('#regenerate-recovery-codes-button');
  await errorShown(page, 'Enter a code');
  await page.fill('#mfa-manage-code', await wrong(secret));
  const wrongCode = await clickFor(
    page, '#regenerate-recovery-codes-button', 'POST', '/auth/mfa/recovery-codes', { bearer: true },
  );
  await refused(wrongCode, 400, 'invalid_code');
  await errorShown(page, 'not valid');
  assert.equal(await page.isVisible('#recovery-box'), false);

  // With one of the old recovery codes (the app's code works as well).
  await page.fill('#mfa-manage-code', old[9]);
  const answered = await clickFor(
    page, '#regenerate-recovery-codes-button', 'POST', '/auth/mfa/recovery-codes', { bearer: true },
  );
  assert.equal(answered.status(), 200);
  await page.locator('#recovery-box').waitFor({ state: 'visible' });
  const fresher = await page.locator('#recovery-codes li').allTextContents();
  assert.equal(fresher.length, 10);
  for (const code of fresher) assert.match(code, RECOVERY_CODE);
  assert.ok(fresher.every((code) => !old.includes(code)), 'a new set');
  await page.locator('#message.info', { hasText: 'new recovery codes' }).waitFor();
  assert.equal(await page.inputValue('#mfa-manage-code'), '');
  await screenshot(page, 'mfa-11-new-recovery-codes');
  await page.click('#recovery-codes-done');
  assert.equal(await page.isVisible('#recovery-box'), false);
  assert.equal(await page.locator('#recovery-codes li').count(), 0);

  // Over HTTP: an old code, never used, is refused; a new one signs in.
  const step = async () => (await passwordLogin(address)).body.mfa_token;
  const withOld = await post(server.url, '/auth/login/mfa', {
    mfa_token: await step(),
    recovery_code: old[0],
  });
  assert.equal(withOld.status, 401);
  assert.equal((await withOld.json()).error, 'invalid_code');
  const withNew = await post(server.url, '/auth/login/mfa', {
    mfa_token: await step(),
    recovery_code: fresher[0],
  });
  assert.equal(withNew.status, 200);
  assert.equal((await withNew.json()).user.email, address);
  await context.close();
});

test('turning two-factor authentication off with a code: the password alone signs in', async () => {
  const { address, secret } = await userWithTotp('disable');
  const { context, page } = await signedInWithCode(address, secret);
  await page.locator('#totp-on').waitFor({ state: 'visible' });

  await page.fill('#mfa-manage-code', await wrong(secret));
  const wrongCode = await clickFor(page, '#disable-totp-button', 'DELETE', '/auth/mfa/totp', {
    bearer: true,
  });
  await refused(wrongCode, 400, 'invalid_code');
  await errorShown(page, 'not valid');
  assert.equal(await page.textContent('#mfa-status'), 'on');

  await page.fill('#mfa-manage-code', await fresh(secret));
  const answered = await clickFor(page, '#disable-totp-button', 'DELETE', '/auth/mfa/totp', {
    bearer: true,
  });
  assert.equal(answered.status(), 204);
  await page.locator('#message.info', { hasText: 'Two-factor authentication is off' }).waitFor();
  assert.equal(await page.textContent('#mfa-status'), 'off');
  await page.locator('#totp-off').waitFor({ state: 'visible' });
  assert.equal(await page.isVisible('#totp-on'), false);
  assert.equal(await page.inputValue('#mfa-manage-code'), '');
  // The server says so too (once its liveness cache has let go of the user).
  await sleep(LIVENESS_TTL_MS);
  const me = page.waitForResponse((r) => new URL(r.url()).pathname === '/auth/me' && r.ok());
  await page.click('#reload-button');
  assert.equal((await (await me).json()).mfa_enabled, false);
  assert.equal(await page.textContent('#mfa-status'), 'off');
  await screenshot(page, 'mfa-12-turned-off');

  // Signing in: no code step.
  await page.click('#logout-button');
  await signedOut(page);
  const logins = [];
  page.on('response', (r) => {
    if (new URL(r.url()).pathname === '/auth/login/mfa') logins.push(r.status());
  });
  await signIn(page, address);
  assert.equal(await page.isVisible('#mfa-page'), false);
  assert.deepEqual(logins, []);
  const { status, body } = await passwordLogin(address);
  assert.equal(status, 200);
  assert.equal(body.mfa_required, undefined);
  assert.equal(body.user.mfa_enabled, false);
  await context.close();
});

test('a password reset of a user with two-factor authentication ends with a code', async () => {
  const { address, secret } = await userWithTotp('reset');
  assert.equal((await post(server.url, '/auth/password-reset', { email: address })).status, 202);
  const [mail] = await mails(server.url, address, 'Reset your Wristband password');
  const token = linkToken(mail, 'reset-password');

  const context = await browser.newContext();
  const page = await newTab(context, `${server.url}/#reset-password=${token}`);
  await page.locator('#reset-page').waitFor();
  await page.fill('#new-password', NEW_PASSWORD);
  const reset = await clickFor(page, '#reset-password-button', 'POST', '/auth/password-reset/confirm');
  assert.equal(reset.status(), 200);
  assert.equal((await reset.json()).mfa_required, true);
  await page.locator('#mfa-page').waitFor({ state: 'visible' });
  await page.locator('#message.info', { hasText: 'Enter a code' }).waitFor();
  assert.equal(new URL(page.url()).hash, '', 'the spent link left the address bar');
  assert.equal(await page.isVisible('#signed-in'), false);
  await screenshot(page, 'mfa-13-reset-code-step');

  assert.equal((await sendCode(page, await fresh(secret))).status(), 200);
  await signedIn(page, address);
  await page.locator('#message.info', { hasText: 'you are signed in' }).waitFor();
  await screenshot(page, 'mfa-14-reset-signed-in');

  assert.equal((await passwordLogin(address)).status, 401, 'the old password is refused');
  assert.equal((await passwordLogin(address, NEW_PASSWORD)).body.mfa_required, true);
  await context.close();
});

test('changing the password with two-factor authentication on takes a code', async () => {
  const { address, secret, recoveryCodes } = await userWithTotp('password');
  const { context, page } = await signedInWithCode(address, secret);
  const field = '#changed-password-code';
  await page.locator(field).waitFor({ state: 'visible' });
  assert.equal(
    await page.textContent('label[for="changed-password-code"]'),
    'Code from your app, or a recovery code',
  );
  // The field holds a whole recovery code (six groups of four).
  await page.fill(field, recoveryCodes[0]);
  assert.equal(await page.inputValue(field), recoveryCodes[0]);
  await page.fill(field, '');
  await screenshot(page, 'mfa-15-password-code-field');

  /** The old password signs in (to its second step), the new one does not. */
  const unchanged = async () => {
    const old = await passwordLogin(address);
    assert.equal(old.status, 200);
    assert.equal(old.body.mfa_required, true);
  };

  // Without a code: the page asks for one and sends nothing; the server
  // (asked from outside, by another session of the user) refuses too.
  const calls = watch(page, '/auth/password');
  await page.fill('#current-password', PASSWORD);
  await page.fill('#changed-password', NEW_PASSWORD);
  await page.click('#change-password-button');
  await errorShown(page, 'Enter a code');
  await page.locator('#change-password-button:enabled').waitFor();
  assert.deepEqual(calls, [], 'no request without a code');
  const step = (await passwordLogin(address)).body.mfa_token;
  const other = await post(server.url, '/auth/login/mfa', { mfa_token: step, code: await fresh(secret) });
  assert.equal(other.status, 200);
  const { access_token: token } = await other.json();
  const noCode = await send(
    'POST', '/auth/password', { current_password: PASSWORD, new_password: NEW_PASSWORD }, token,
  );
  assert.equal(noCode.status, 400);
  assert.equal((await noCode.json()).error, 'invalid_code');
  await unchanged();

  // A wrong code: refused and shown, the fields stay for another try.
  await page.fill(field, await wrong(secret));
  const wrongCode = await clickFor(page, '#change-password-button', 'POST', '/auth/password', {
    bearer: true,
  });
  assert.ok('code' in wrongCode.request().postDataJSON(), 'the code is sent');
  await refused(wrongCode, 400, 'invalid_code');
  await errorShown(page, 'not valid');
  await page.locator('#change-password-button:enabled').waitFor();
  assert.equal(await page.inputValue('#changed-password'), NEW_PASSWORD);
  await screenshot(page, 'mfa-16-password-wrong-code');
  await unchanged();
  await signedIn(page, address);

  // The code the app shows (a step on): changed; this session stays.
  const code = await fresh(secret);
  await page.fill(field, code);
  const changed = await clickFor(page, '#change-password-button', 'POST', '/auth/password', {
    bearer: true,
  });
  assert.equal(changed.status(), 200);
  assert.equal(changed.request().postDataJSON().code, code);
  await page.locator('#message.info', { hasText: 'Password changed' }).waitFor();
  assert.equal(await page.inputValue(field), '', 'the code is not kept');
  assert.equal(await page.inputValue('#current-password'), '');
  assert.equal(await page.inputValue('#changed-password'), '');
  await signedIn(page, address);
  await page.locator('#sessions .session.current').waitFor();
  await screenshot(page, 'mfa-17-password-changed');
  assert.equal((await passwordLogin(address)).status, 401, 'the old password is refused');

  // The new password signs in, with its second step.
  await page.click('#logout-button');
  await passwordStep(page, address, NEW_PASSWORD);
  assert.equal((await sendCode(page, await fresh(secret))).status(), 200);
  await signedIn(page, address);
  await page.locator('#mfa-status', { hasText: 'on' }).waitFor();
  await context.close();
});

test('an admin removes a user\'s two-factor authentication', async () => {
  const { address, secret } = await userWithTotp('lostphone');
  const { context, page } = await signedInWithCode(address, secret);

  const adminContext = await browser.newContext();
  const adminTab = await newTab(adminContext, server.url);
  await signIn(adminTab, ADMIN);
  await adminTab.fill('#admin-search', address);
  const row = adminTab.locator('#admin-users .user-row', { hasText: address });
  await row.locator('button.reset-mfa').waitFor();
  assert.match(await row.locator('.meta').textContent(), /2FA/);
  const answered = adminTab.waitForResponse(
    // A 401 of the admin's expired access token is refreshed and retried.
    (r) =>
      new URL(r.url()).pathname.endsWith('/mfa') &&
      r.request().method() === 'DELETE' &&
      r.status() !== 401,
  );
  await row.locator('button.reset-mfa').click();
  assert.equal((await answered).status(), 204);
  await adminTab.locator('#message.info', { hasText: 'was removed' }).waitFor();
  await row.locator('button.reset-mfa').waitFor({ state: 'detached' });
  assert.doesNotMatch(await row.locator('.meta').textContent(), /2FA/);
  const event = adminTab.locator('#audit .event[data-event="mfa_reset"]', { hasText: address });
  await event.first().waitFor();
  assert.equal(
    await event.first().locator('.event-name').textContent(),
    'Two-step sign-in removed by an admin',
  );
  await screenshot(adminTab, 'mfa-18-admin-removed-2fa');

  // The user's sessions ended; the password alone signs in again.
  await page.click('#reload-button');
  await signedOut(page);
  await signIn(page, address);
  assert.equal(await page.isVisible('#mfa-page'), false);
  await page.locator('#mfa-status', { hasText: 'off' }).waitFor();
  await context.close();
  await adminContext.close();
});

test('wrong codes count towards the login lockout', async () => {
  const { address, secret } = await userWithTotp('lockout');
  const context = await browser.newContext();
  const page = await newTab(context, server.url);
  await passwordStep(page, address);
  const statuses = [];
  for (let attempt = 0; attempt < 8 && !statuses.includes(429); attempt += 1) {
    statuses.push((await sendCode(page, await wrong(secret))).status());
    await page.locator('#mfa-submit-button:enabled').waitFor();
  }
  assert.ok(statuses.includes(429), `wrong codes answered ${statuses}`);
  assert.ok(statuses.indexOf(429) >= 3, `locked after ${statuses.indexOf(429)} wrong codes`);
  const text = await errorShown(page, 'Too many');
  assert.match(text, /\(wait \d+ (s|min)\)$/, 'says how long to wait');
  assert.equal(await page.isVisible('#signed-in'), false);
  await screenshot(page, 'mfa-19-locked');
  await context.close();
});
