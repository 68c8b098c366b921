// The demo app and wristband.js in a real Chromium, against the release
// binary: the cookie flow, expiry, reloads, several tabs, revocation from
// elsewhere, another origin, and what the page can see.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  ACCESS_TTL_MS,
  ADMIN,
  email,
  foreignOrigin,
  launchBrowser,
  newTab,
  screenshot,
  signIn,
  signedIn,
  signedOut,
  sleep,
  startServer,
  watch,
} from './harness.mjs';

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  server?.stop();
});

/** A new browser profile with a registered, signed-in user in one tab. */
async function registered(name) {
  const context = await browser.newContext();
  const page = await newTab(context, server.url);
  const address = email(name);
  await signIn(page, address, '#register-button');
  return { context, page, address };
}

/** The live sessions the page's user has, through the page's own client. */
async function sessionCount(page) {
  await page.click('#reload-button');
  await page.locator('#reload-button').isEnabled();
  await sleep(200);
  return page.locator('#sessions .session').count();
}

test('register and log in', async () => {
  const { context, page, address } = await registered('newcomer');
  await assert.doesNotReject(signedIn(page, address));
  assert.equal(await page.textContent('#role'), 'user');
  assert.equal(await page.locator('#sessions .session.current').count(), 1);
  await screenshot(page, '01-signed-in');

  await page.click('#logout-button');
  await signedOut(page);
  await signIn(page, address);
  await screenshot(page, '02-logged-in-again');
  await context.close();
});

test('the access token expires and the next action still works', async () => {
  const { context, page, address } = await registered('expiry');
  const refreshes = watch(page, '/auth/refresh');
  const me = watch(page, '/auth/me');
  await sleep(ACCESS_TTL_MS + 500);
  await page.click('#reload-button');
  await signedIn(page, address);
  await page.locator('#sessions .session').first().waitFor();
  assert.deepEqual(refreshes, [200], 'one silent refresh');
  assert.deepEqual(me, [401, 200], 'the expired call was retried once');
  assert.equal(await page.isVisible('#message'), false, 'no error shown');
  await screenshot(page, '03-after-expiry');
  await context.close();
});

test('a reload keeps the user signed in', async () => {
  const { context, page, address } = await registered('reload');
  await page.reload();
  await signedIn(page, address);
  await screenshot(page, '04-after-reload');
  await context.close();
});

test('two tabs with expired tokens act at once, three rounds, one session', async () => {
  const { context, page: first, address } = await registered('tabs');
  const second = await newTab(context, server.url);
  await signedIn(second, address);
  for (let round = 1; round <= 3; round += 1) {
    await sleep(ACCESS_TTL_MS + 300);
    await Promise.all([first.click('#reload-button'), second.click('#reload-button')]);
    await sleep(500);
    for (const tab of [first, second]) {
      await signedIn(tab, address);
      assert.equal(await tab.isVisible('#message'), false, `round ${round}: no error`);
    }
  }
  assert.equal(await sessionCount(first), 1, 'exactly one session');
  assert.equal(await sessionCount(second), 1);
  await screenshot(second, '05-two-tabs');
  await context.close();
});

test('a lost refresh response does not sign the user out', async () => {
  const { context, page, address } = await registered('lost');
  const [before] = await context.cookies();
  await sleep(ACCESS_TTL_MS + 300);
  // The server rotates the cookie, but its answer never reaches the browser.
  await page.route('**/auth/refresh', async (route) => {
    await route.fetch();
    await context.clearCookies();
    await context.addCookies([before]);
    await route.abort('connectionreset');
  }, { times: 1 });
  await page.click('#reload-button');
  await page.locator('#message').waitFor({ state: 'visible' });
  // The next action presents the old cookie again: within the grace window
  // it gets the same successor the lost answer carried.
  await page.click('#reload-button');
  await signedIn(page, address);
  await page.locator('#sessions .session').first().waitFor();
  assert.equal(await sessionCount(page), 1);
  await screenshot(page, '05b-after-a-lost-response');
  await context.close();
});

test('logout in one tab signs the other tab out within two seconds', async () => {
  const { context, page: first, address } = await registered('logout');
  const second = await newTab(context, server.url);
  await signedIn(second, address);
  await first.click('#logout-button');
  await signedOut(first);
  const started = Date.now();
  await signedOut(second, 2000);
  assert.ok(Date.now() - started < 2000);
  await screenshot(second, '06-other-tab-signed-out');
  await context.close();
});

test('revoking a session from the list signs that device out on its next action', async () => {
  const { context: laptop, page: laptopTab, address } = await registered('revoked');
  const phone = await browser.newContext();
  const phoneTab = await newTab(phone, server.url);
  await signIn(phoneTab, address);

  await laptopTab.click('#reload-button');
  await laptopTab.locator('#sessions .session').nth(1).waitFor();
  await laptopTab.locator('#sessions .session:not(.current) button.revoke').click();
  await laptopTab.locator('#sessions .session').nth(1).waitFor({ state: 'detached' });
  await screenshot(laptopTab, '07-session-revoked');

  await phoneTab.click('#reload-button');
  await signedOut(phoneTab);
  await screenshot(phoneTab, '08-revoked-device-signed-out');
  await signedIn(laptopTab, address);
  await laptop.close();
  await phone.close();
});

test('an admin revokes a user and the user falls back to signed out', async () => {
  const { context: userContext, page: userTab, address } = await registered('victim');
  const adminContext = await browser.newContext();
  const adminTab = await newTab(adminContext, server.url);
  await signIn(adminTab, ADMIN);
  await adminTab.locator('#admin').waitFor({ state: 'visible' });
  const row = adminTab.locator('#admin-users .user-row', { hasText: address });
  await row.waitFor();
  assert.ok(await row.getAttribute('data-user-id'));
  await row.locator('button.revoke-all').click();
  await adminTab.locator('#message.info').waitFor();
  await screenshot(adminTab, '09-admin-view');

  await userTab.click('#reload-button');
  await signedOut(userTab);
  await screenshot(userTab, '10-user-signed-out-by-admin');
  await userContext.close();
  await adminContext.close();
});

test('a page on another origin cannot refresh', async () => {
  const { context, page, address } = await registered('csrf');
  const cookieBefore = (await context.cookies()).find((c) => c.name.includes('wristband'));
  const elsewhere = await foreignOrigin(server.url);
  const attacker = await context.newPage();
  const calls = watch(attacker, '/auth/refresh');
  await attacker.goto(elsewhere.url);
  await attacker.locator('#out').filter({ hasNotText: 'running' }).waitFor();
  const outcome = await attacker.textContent('#out');
  assert.match(outcome, /^blocked/, `the page read the answer: ${outcome}`);
  assert.ok(calls.every((status) => status !== 200), `a refresh succeeded: ${calls}`);
  await screenshot(attacker, '11-foreign-origin');
  elsewhere.stop();

  const cookieAfter = (await context.cookies()).find((c) => c.name.includes('wristband'));
  assert.equal(cookieAfter.value, cookieBefore.value, 'nothing was rotated');
  await page.reload();
  await signedIn(page, address);
  await context.close();
});

test('no token in any storage; the refresh cookie is invisible to scripts', async () => {
  const { context, page } = await registered('storage');
  await sleep(ACCESS_TTL_MS + 300);
  await page.click('#reload-button');
  await page.locator('#sessions .session').first().waitFor();
  const seen = await page.evaluate(() => ({
    local: Object.keys(localStorage).length,
    session: Object.keys(sessionStorage).length,
    cookie: document.cookie,
  }));
  assert.deepEqual(seen, { local: 0, session: 0, cookie: '' });
  const [cookie] = await context.cookies();
  assert.equal(cookie.name, '__Host-wristband_refresh');
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.secure, true);
  assert.equal(cookie.sameSite, 'Strict');
  const policy = (await page.request.get(server.url)).headers()['content-security-policy'];
  assert.match(policy, /script-src 'self'/);
  assert.match(policy, /connect-src 'self'/);
  await context.close();
});

test('tidy at phone width: no horizontal scroll at 390 px', async () => {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const page = await newTab(context, server.url);
  await page.locator('#signed-out').waitFor();
  await screenshot(page, '12-phone-signed-out');
  await signIn(page, ADMIN);
  await page.locator('#admin-users .user-row').first().waitFor();
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 390, `the page is ${width} px wide`);
  await screenshot(page, '13-phone-admin');
  await context.close();
});
