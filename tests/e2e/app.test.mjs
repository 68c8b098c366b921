// The demo app and wristband.js in a real Chromium, against the release
// binary: the cookie flow, expiry, reloads, several tabs, revocation from
// elsewhere, another origin, and what the page can see.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  ACCESS_TTL_MS,
  ADMIN,
  PASSWORD,
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

const REFRESH_COOKIE = '__Host-wristband_refresh';
const DEVICE_COOKIE = '__Host-wristband_device';

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

/** A new browser profile with a registered, signed-in user in one tab, its
 * first view loaded (so no call of that first load lands in a later watch). */
async function registered(name) {
  const context = await browser.newContext();
  const page = await newTab(context, server.url);
  const address = email(name);
  await signIn(page, address, '#register-button');
  await page.locator('#sessions .session.current').waitFor();
  return { context, page, address };
}

/** Clicks Reload and waits for the session list it fetches to be shown. */
async function reload(page) {
  const listed = page.waitForResponse(
    (r) => new URL(r.url()).pathname === '/auth/sessions' && r.ok(),
  );
  await page.click('#reload-button');
  await listed;
  await page.locator('#reload-button:enabled').waitFor();
}

/** The live sessions the page's user has, through the page's own client. */
async function sessionCount(page) {
  await reload(page);
  return page.locator('#sessions .session').count();
}

/** A series of the server's /metrics, summed over the lines that match. */
async function metric(name, labels) {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith(name) && labels.every((l) => line.includes(l)))
    .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
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
  await reload(page);
  await signedIn(page, address);
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
  const refreshes = [watch(first, '/auth/refresh'), watch(second, '/auth/refresh')];
  for (let round = 1; round <= 3; round += 1) {
    const before = refreshes[0].length + refreshes[1].length;
    await sleep(ACCESS_TTL_MS + 300);
    await Promise.all([reload(first), reload(second)]);
    for (const tab of [first, second]) {
      await signedIn(tab, address);
      assert.equal(await tab.isVisible('#message'), false, `round ${round}: no error`);
    }
    const made = refreshes[0].length + refreshes[1].length - before;
    // The tabs share one refresh (Web Locks + BroadcastChannel); a second may
    // slip in when the broadcast arrives late, never more.
    assert.ok(made >= 1 && made <= 2, `round ${round}: ${made} refreshes`);
  }
  const all = [...refreshes[0], ...refreshes[1]];
  assert.ok(all.every((status) => status === 200), `refreshes answered ${all}`);
  assert.ok(all.length <= 4, `${all.length} refreshes for 3 rounds of 2 tabs`);
  assert.equal(await sessionCount(first), 1, 'exactly one session');
  await screenshot(second, '05-two-tabs');
  await context.close();
});

test('without Web Locks and BroadcastChannel, two tabs still stay signed in', async () => {
  const context = await browser.newContext();
  await context.addInitScript(() => {
    Object.defineProperty(Navigator.prototype, 'locks', { get: () => undefined });
    delete window.BroadcastChannel;
  });
  const first = await newTab(context, server.url);
  const address = email('nolocks');
  await signIn(first, address, '#register-button');
  const second = await newTab(context, server.url);
  await signedIn(second, address);
  for (let round = 1; round <= 2; round += 1) {
    await sleep(ACCESS_TTL_MS + 300);
    await Promise.all([reload(first), reload(second)]);
    for (const tab of [first, second]) {
      await signedIn(tab, address);
      assert.equal(await tab.isVisible('#message'), false, `round ${round}: no error`);
    }
  }
  assert.equal(await sessionCount(first), 1);
  await context.close();
});

test('a lost refresh response does not sign the user out', async () => {
  const { context, page, address } = await registered('lost');
  const before = await context.cookies(); // the refresh and the device cookie
  await sleep(ACCESS_TTL_MS + 300);
  // The server rotates the cookie, but its answer never reaches the browser.
  await page.route('**/auth/refresh', async (route) => {
    await route.fetch();
    await context.clearCookies();
    await context.addCookies(before);
    await route.abort('connectionreset');
  }, { times: 1 });
  // The client retries once a second later, with the old cookie: within the
  // grace window it gets the same successor the lost answer carried.
  await reload(page);
  await signedIn(page, address);
  assert.equal(await page.isVisible('#message'), false, 'no error shown');
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

test('sessions show their device; "Sign out other devices" ends every other session', async () => {
  const { context: laptop, page: laptopTab, address } = await registered('devices');
  const phone = await browser.newContext();
  const phoneTab = await newTab(phone, server.url);
  await signIn(phoneTab, address);

  assert.equal(await sessionCount(laptopTab), 2);
  const devices = await laptopTab.locator('#sessions .session .device').allTextContents();
  // Headless Chromium says "HeadlessChrome/N" in its user agent: the name the
  // server parses from it, not the raw user agent, is what the list shows.
  for (const device of devices) {
    assert.match(device, /Chrome/, `a session shown as "${device}"`);
    assert.doesNotMatch(device, /Mozilla|AppleWebKit/, `the raw user agent is shown: "${device}"`);
  }
  const current = laptopTab.locator('#sessions .session.current .device');
  assert.match(await current.getAttribute('title'), /Chrome/, 'the user agent in full on hover');
  await laptopTab.locator('#sessions-card').screenshot({ path: '/tmp/e2e-sessions.png' });
  await screenshot(laptopTab, '14-session-devices');

  // The laptop's access token lives 3 s here and may have expired by now on
  // a slow machine: the client then refreshes and sends the call again, and
  // the answer that counts is that one.
  const answered = laptopTab.waitForResponse(
    (r) => new URL(r.url()).pathname === '/auth/logout-others' && r.status() !== 401,
  );
  await laptopTab.click('#logout-others-button');
  const answer = await answered;
  assert.equal(answer.status(), 200);
  assert.deepEqual(await answer.json(), { revoked: 1 });
  await laptopTab.locator('#message.info', { hasText: 'Signed out 1 other session.' }).waitFor();
  await laptopTab.locator('#sessions .session').nth(1).waitFor({ state: 'detached' });
  assert.equal(await laptopTab.locator('#sessions .session.current').count(), 1);
  await laptopTab.locator('#logout-others-button:enabled').waitFor();
  await laptopTab.locator('#sessions-card').screenshot({ path: '/tmp/e2e-sessions-after.png' });
  await screenshot(laptopTab, '15-other-devices-signed-out');

  // The phone's next call finds its session gone: its access token and its
  // refresh cookie are both refused, and the page signs out.
  const phoneMe = watch(phoneTab, '/auth/me');
  const phoneRefreshes = watch(phoneTab, '/auth/refresh');
  await phoneTab.click('#reload-button');
  await signedOut(phoneTab);
  assert.deepEqual(phoneMe, [401]);
  assert.deepEqual(phoneRefreshes, [401]);

  // The laptop stays: its access token works, and so does its refresh cookie.
  await signedIn(laptopTab, address);
  assert.equal(await sessionCount(laptopTab), 1);
  await laptopTab.reload();
  await signedIn(laptopTab, address);
  assert.equal(await laptopTab.isVisible('#message'), false, 'no error shown');
  await laptop.close();
  await phone.close();
});

test('the admin searches users by email and reads the audit trail by email and event', async () => {
  // A user who signs in on a second device and then signs the others out.
  const { context: laptop, page: laptopTab, address } = await registered('audited');
  const phone = await browser.newContext();
  const phoneTab = await newTab(phone, server.url);
  await signIn(phoneTab, address);
  await laptopTab.click('#logout-others-button');
  await laptopTab.locator('#message.info', { hasText: 'Signed out 1 other session.' }).waitFor();

  const adminContext = await browser.newContext();
  const adminTab = await newTab(adminContext, server.url);
  await signIn(adminTab, ADMIN);
  const rows = adminTab.locator('#admin-users .user-row');
  await rows.nth(1).waitFor(); // the admin and at least this user
  const everyone = await rows.count();

  // Part of the address from its middle (the search matches a substring),
  // typed key by key: the page waits for a pause before it asks.
  const needle = address.slice(3, address.indexOf('@'));
  const searches = watch(adminTab, '/admin/users');
  await adminTab.locator('#admin-search').pressSequentially(needle);
  await adminTab.waitForFunction(
    (wanted) => {
      const shown = [...document.querySelectorAll('#admin-users .user-row .what')];
      return shown.length === 1 && shown[0].firstChild.textContent === wanted;
    },
    address,
  );
  assert.match(await adminTab.textContent('#admin-users-count'), /^1 user matching/);
  assert.ok(
    searches.length >= 1 && searches.length <= 3,
    `${needle.length} keystrokes made ${searches.length} searches`,
  );
  assert.ok(searches.every((status) => status === 200), `searches answered ${searches}`);

  // The audit trail names the user by email and the events in words.
  const revoked = adminTab.locator('#audit .event[data-event="other_sessions_revoked"]', {
    hasText: address,
  });
  await revoked.first().waitFor();
  assert.equal(await revoked.first().locator('.who').textContent(), address);
  assert.equal(await revoked.first().locator('.event-name').textContent(), 'Signed out other devices');
  const signIns = adminTab.locator('#audit .event[data-event="login_succeeded"]', { hasText: address });
  assert.ok((await signIns.count()) >= 1, 'the user signing in is listed');
  assert.equal(await signIns.first().locator('.event-name').textContent(), 'Signed in');
  // The second device was new to the account (no device cookie).
  const newDevice = adminTab.locator('#audit .event[data-event="login_new_device"]', {
    hasText: address,
  });
  assert.ok((await newDevice.count()) >= 1, 'the sign-in from the phone is listed');
  assert.equal(
    await newDevice.first().locator('.event-name').textContent(),
    'Signed in from a new device',
  );
  const ids = await adminTab.locator('#audit .event .who').allTextContents();
  assert.ok(
    ids.every((who) => who.includes('@') || who === 'no account'),
    `an event names its user by id: ${ids}`,
  );
  await adminTab.locator('#admin').screenshot({ path: '/tmp/e2e-admin.png' });
  await screenshot(adminTab, '16-admin-search-and-audit');

  // Nothing matches: an empty list that says so; an empty box: everyone again.
  await adminTab.fill('#admin-search', 'nobody-has-this-address');
  await adminTab.locator('#admin-users-count', { hasText: /^0 users matching/ }).waitFor();
  assert.equal(await rows.count(), 0);
  await adminTab.fill('#admin-search', '');
  await adminTab.waitForFunction(
    (n) => document.querySelectorAll('#admin-users .user-row').length === n,
    everyone,
  );
  await laptop.close();
  await phone.close();
  await adminContext.close();
});

test('changing the password without two-factor authentication: no code asked', async () => {
  const { context, page, address } = await registered('password');
  const next = 'staple battery horse correct';
  assert.equal(await page.isVisible('#changed-password-code'), false, 'no code field');
  await page.fill('#current-password', PASSWORD);
  await page.fill('#changed-password', next);
  const answered = page.waitForResponse(
    (r) =>
      new URL(r.url()).pathname === '/auth/password' &&
      r.request().method() === 'POST' &&
      r.status() !== 401,
  );
  await page.click('#change-password-button');
  const response = await answered;
  assert.equal(response.status(), 200);
  assert.equal('code' in response.request().postDataJSON(), false, 'no code sent');
  await page.locator('#message.info', { hasText: 'Password changed' }).waitFor();
  assert.equal(await page.inputValue('#current-password'), '');
  assert.equal(await page.inputValue('#changed-password'), '');
  await signedIn(page, address);
  await page.locator('#sessions .session.current').waitFor();

  // The new password signs in (no second step); the old one no longer does.
  await page.click('#logout-button');
  await signedOut(page);
  await page.fill('#email', address);
  await page.fill('#password', PASSWORD);
  await page.click('#login-button');
  await page.locator('#message:not(.info)').waitFor();
  assert.equal(await page.isVisible('#signed-in'), false);
  await page.fill('#password', next);
  await page.click('#login-button');
  await signedIn(page, address);
  assert.equal(await page.isVisible('#mfa-page'), false);
  await context.close();
});

test('a page on another origin cannot refresh', async () => {
  const { context, page, address } = await registered('csrf');
  const cookieBefore = (await context.cookies()).find((c) => c.name === REFRESH_COOKIE);
  const refused = ['route="/auth/refresh"', 'status="403"'];
  const rotated = ['route="/auth/refresh"', 'status="200"'];
  const [refusedBefore, rotatedBefore] = [await metric('wristband_http_requests_total', refused), await metric('wristband_http_requests_total', rotated)];
  // Same site (the browser sends the SameSite=Strict cookie), other origin.
  const elsewhere = await foreignOrigin(server.url);
  try {
    const attacker = await context.newPage();
    await attacker.goto(elsewhere.url);
    await attacker.locator('#out').filter({ hasNotText: 'running' }).waitFor();
    const outcome = await attacker.textContent('#out');
    assert.match(outcome, /^blocked/, `the page read the answer: ${outcome}`);
    assert.equal(await metric('wristband_http_requests_total', refused), refusedBefore + 1, 'the server refused it');
    assert.equal(await metric('wristband_http_requests_total', rotated), rotatedBefore, 'nothing rotated');
    await screenshot(attacker, '11-foreign-origin');
  } finally {
    elsewhere.stop(); // else its open server keeps the test process alive
  }

  const cookieAfter = (await context.cookies()).find((c) => c.name === REFRESH_COOKIE);
  assert.equal(cookieAfter.value, cookieBefore.value, 'nothing was rotated');
  await page.reload();
  await signedIn(page, address);
  await context.close();
});

test('no token in any storage; the refresh cookie is invisible to scripts', async () => {
  const { context, page } = await registered('storage');
  await sleep(ACCESS_TTL_MS + 300);
  await reload(page); // through a refresh: the cookie was just set again
  const seen = await page.evaluate(() => ({
    local: Object.keys(localStorage).length,
    session: Object.keys(sessionStorage).length,
    cookie: document.cookie,
  }));
  assert.deepEqual(seen, { local: 0, session: 0, cookie: '' });
  // The refresh cookie and the device cookie (§7), in no particular order.
  const cookies = await context.cookies();
  assert.deepEqual(cookies.map((c) => c.name).sort(), [DEVICE_COOKIE, REFRESH_COOKIE]);
  for (const cookie of cookies) {
    assert.equal(cookie.httpOnly, true, cookie.name);
    assert.equal(cookie.secure, true, cookie.name);
    assert.equal(cookie.sameSite, 'Strict', cookie.name);
  }
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
