// The mail flows of the demo app in a real Chromium, against the release
// binary in test mode (mail on, every mail captured at /test/mailbox): a
// forgotten password, verifying an address, resending the verification link,
// changing the address; and a server without mail, which offers none of it.
// Links are followed the way a mail client would open them: the app at
// BASE/#reset-password=TOKEN (and so on), in the same tab or a new one.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  ADMIN,
  PASSWORD,
  email,
  launchBrowser,
  linkToken,
  mails,
  newTab,
  post,
  screenshot,
  signIn,
  signedIn,
  signedOut,
  sleep,
  startServer,
} from './harness.mjs';

const NEW_PASSWORD = 'staple battery horse correct';
/** How long the server's liveness cache may answer with a user as it was. */
const LIVENESS_TTL_MS = 1100;
const RESET = 'Reset your Wristband password';
const VERIFY = 'Verify your Wristband email address';
const CONFIRM = 'Confirm your new Wristband email address';

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

/** A new browser profile with a user registered through the page (so with an
 * unverified address), signed in, the first view loaded. */
async function registered(name) {
  const context = await browser.newContext();
  const page = await newTab(context, server.url);
  const address = email(name);
  await signIn(page, address, '#register-button');
  await page.locator('#sessions .session.current').waitFor();
  return { context, page, address };
}

/** The fragment of the page's address ('' when there is none). */
const fragment = (page) => new URL(page.url()).hash;

/** A password login from outside the browser: its HTTP status. */
async function loginStatus(address, password) {
  return (await post(server.url, '/auth/login', { email: address, password })).status;
}

test('forgot password: the mailed link resets it and signs in', async () => {
  const address = email('forgot');
  const created = await post(server.url, '/test/users', { email: address, password: PASSWORD });
  assert.equal(created.status, 201);

  const context = await browser.newContext();
  const page = await newTab(context, server.url);
  await signedOut(page);
  await page.click('#forgot-password-link');
  await page.locator('#forgot-page').waitFor();
  await page.fill('#reset-email', address);
  await page.click('#send-reset-button');
  const sent = page.locator('#message.info', { hasText: 'a link to reset its password was sent' });
  await sent.waitFor();
  assert.match(await sent.textContent(), /^If an account uses /, 'says nothing of whether it exists');
  await signedOut(page);
  await screenshot(page, 'mail-01-reset-link-sent');

  const [mail] = await mails(server.url, address, RESET);
  const token = linkToken(mail, 'reset-password');
  assert.ok(mail.text.includes(`${server.url}/#reset-password=${token}`), mail.text);

  // An address without an account: the same answer, and no mail.
  const nobody = email('nobody');
  assert.equal((await post(server.url, '/auth/password-reset', { email: nobody })).status, 202);
  assert.deepEqual(await (await fetch(`${server.url}/test/mailbox?to=${nobody}`)).json(), []);

  // The link, followed in this tab.
  await page.goto(`${server.url}/#reset-password=${token}`);
  await page.locator('#reset-page').waitFor();
  assert.equal(await page.isVisible('#signed-out'), false);
  await screenshot(page, 'mail-02-reset-page');
  await page.fill('#new-password', NEW_PASSWORD);
  await page.click('#reset-password-button');
  await signedIn(page, address);
  await page.locator('#message.info', { hasText: 'you are signed in' }).waitFor();
  assert.equal(fragment(page), '', 'the token left the address bar');
  assert.equal(await page.isVisible('#reset-page'), false);
  await page.locator('#sessions .session.current').waitFor();
  assert.equal(await page.isVisible('#verify-banner'), false, 'a reset verifies the address');
  await screenshot(page, 'mail-03-reset-signed-in');

  assert.equal(await loginStatus(address, PASSWORD), 401, 'the old password is refused');
  assert.equal(await loginStatus(address, NEW_PASSWORD), 200);
  const again = await post(server.url, '/auth/password-reset/confirm', {
    token,
    new_password: 'yet another good password',
  });
  assert.equal(again.status, 400, 'the link works once');
  assert.equal((await again.json()).error, 'invalid_token');

  // The spent link, opened again: the page says so and offers a new one.
  await page.goto(`${server.url}/#reset-password=${token}`);
  await page.fill('#new-password', 'yet another good password');
  await page.click('#reset-password-button');
  await page.locator('#message:not(.info)', { hasText: 'no longer valid' }).waitFor();
  await page.locator('#forgot-page').waitFor();
  assert.equal(fragment(page), '');
  await context.close();
});

test('registering asks for verification; the mailed link verifies the address', async () => {
  const { context, page, address } = await registered('verify');
  const banner = page.locator('#verify-banner');
  await banner.waitFor();
  assert.ok((await banner.textContent()).includes(address));
  await screenshot(page, 'mail-04-verify-banner');

  const [mail] = await mails(server.url, address, VERIFY);
  const token = linkToken(mail, 'verify-email');

  // Opened in another browser, where nobody is signed in.
  const elsewhere = await browser.newContext();
  const other = await newTab(elsewhere, `${server.url}/#verify-email=${token}`);
  await other.locator('#message.info', { hasText: 'verified' }).waitFor();
  assert.ok((await other.textContent('#message')).includes(address));
  assert.equal(fragment(other), '', 'the token left the address bar');
  await signedOut(other);
  await screenshot(other, 'mail-05-verified-signed-out');

  // Signing in there: no banner.
  await signIn(other, address);
  await other.locator('#sessions .session.current').waitFor();
  assert.equal(await other.isVisible('#verify-banner'), false);

  // The first browser finds out at its next load of the view (once the
  // server's liveness cache, which holds the user for up to 1 s, has let go).
  await sleep(LIVENESS_TTL_MS);
  await page.click('#reload-button');
  await banner.waitFor({ state: 'hidden' });
  await page.reload();
  await signedIn(page, address);
  await page.locator('#sessions .session.current').waitFor();
  assert.equal(await banner.isVisible(), false);
  await context.close();
  await elsewhere.close();
});

test('resending the verification link: one mail a minute, the newest link verifies', async () => {
  const { context, page, address } = await registered('resend');
  await page.locator('#verify-banner').waitFor();
  await mails(server.url, address, VERIFY, 1);
  const resend = async () => {
    // After the clock moved, the first try meets an expired token (401) and
    // the client refreshes and tries again: the answer that counts is the last.
    const answered = page.waitForResponse(
      (r) => new URL(r.url()).pathname === '/auth/verify-email/send' && r.status() !== 401,
    );
    await page.click('#resend-verification-button');
    assert.equal((await answered).status(), 202);
    await page.locator('#message.info', { hasText: 'A new verification link' }).waitFor();
    await page.locator('#resend-verification-button:enabled').waitFor();
  };

  // Within the minute of the first: accepted, but no second mail.
  await resend();
  assert.equal((await mails(server.url, address, VERIFY, 1)).length, 1);

  // A minute later (the server's test clock): a second mail.
  const clock = await post(server.url, '/test/clock', { advance: '61s' });
  assert.equal(clock.status, 200);
  await resend();
  const [newest, first] = await mails(server.url, address, VERIFY, 2);
  const [token, superseded] = [linkToken(newest, 'verify-email'), linkToken(first, 'verify-email')];
  assert.notEqual(token, superseded);
  const stale = await post(server.url, '/auth/verify-email', { token: superseded });
  assert.equal(stale.status, 400, 'the older link was superseded');

  // The newest, followed in this (signed-in) tab: the banner goes at once.
  const second = await newTab(context, server.url);
  await signedIn(second, address);
  await second.locator('#verify-banner').waitFor();
  await page.goto(`${server.url}/#verify-email=${token}`);
  await page.locator('#message.info', { hasText: 'verified' }).waitFor();
  await page.locator('#verify-banner').waitFor({ state: 'hidden' });
  assert.equal(fragment(page), '');
  await signedIn(page, address);
  // The other tab of the same browser hears of it too.
  await second.locator('#verify-banner').waitFor({ state: 'hidden' });
  await screenshot(page, 'mail-06-verified-signed-in');
  await context.close();
});

test('changing the email address: the link to the new address confirms it', async () => {
  const { context, page, address } = await registered('moving');
  const moved = email('moved');
  await page.locator('#email-card').waitFor();

  // A wrong password: refused, nothing mailed.
  await page.fill('#new-email', moved);
  await page.fill('#email-password', 'not the password at all');
  await page.click('#change-email-button');
  await page.locator('#message:not(.info)').waitFor();

  await page.fill('#email-password', PASSWORD);
  await page.click('#change-email-button');
  const sent = page.locator('#message.info', { hasText: `sent to ${moved}` });
  await sent.waitFor();
  await screenshot(page, 'mail-07-email-change-sent');
  assert.equal(await page.inputValue('#email-password'), '', 'the password is not kept');

  const [mail] = await mails(server.url, moved, CONFIRM);
  const token = linkToken(mail, 'confirm-email');
  await mails(server.url, address, 'Your Wristband address is about to change');
  assert.equal(await loginStatus(moved, PASSWORD), 401, 'nothing changes before the link');

  // The link, followed in this tab.
  await page.goto(`${server.url}/#confirm-email=${token}`);
  await page.locator('#message.info', { hasText: moved }).waitFor();
  await signedIn(page, moved);
  assert.equal(fragment(page), '');
  await page.locator('#verify-banner').waitFor({ state: 'hidden' });
  await screenshot(page, 'mail-08-email-changed');

  // /auth/me answers from the server's liveness cache, which keeps the old
  // address for up to 1 s after the change.
  await sleep(LIVENESS_TTL_MS);
  // (A 401 of an access token expired meanwhile is refreshed and retried.)
  const me = page.waitForResponse(
    (r) => new URL(r.url()).pathname === '/auth/me' && r.status() !== 401,
  );
  await page.click('#reload-button');
  const user = await (await me).json();
  assert.equal(user.email, moved);
  assert.equal(user.email_verified, true);
  await mails(server.url, address, 'Your Wristband address was changed');
  assert.equal(await loginStatus(moved, PASSWORD), 200);
  assert.equal(await loginStatus(address, PASSWORD), 401);

  // The admin's audit trail tells the change in words.
  const adminContext = await browser.newContext();
  const adminTab = await newTab(adminContext, server.url);
  await signIn(adminTab, ADMIN);
  const changed = adminTab.locator('#audit .event[data-event="email_changed"]', { hasText: moved });
  await changed.first().waitFor();
  assert.equal(await changed.first().locator('.event-name').textContent(), 'Email address changed');
  const asked = adminTab.locator('#audit .event[data-event="email_change_requested"]', {
    hasText: moved,
  });
  assert.equal(await asked.first().locator('.event-name').textContent(), 'Email change requested');
  await context.close();
  await adminContext.close();
});

test('without mail the app offers no mail features', async () => {
  const plain = await startServer();
  try {
    const context = await browser.newContext();
    const page = await context.newPage();
    const probed = page.waitForResponse(
      (r) => new URL(r.url()).pathname === '/auth/password-reset',
    );
    await page.goto(plain.url);
    assert.equal((await probed).status(), 404);
    await signedOut(page);
    assert.equal(await page.isVisible('#forgot-password-link'), false);

    const address = email('nomail');
    await signIn(page, address, '#register-button');
    await page.locator('#sessions .session.current').waitFor();
    assert.equal(await page.isVisible('#verify-banner'), false, 'no banner for an unverified address');
    assert.equal(await page.isVisible('#email-card'), false);

    // A link from elsewhere: the page says mail is off.
    await page.goto(`${plain.url}/#verify-email=${'A'.repeat(43)}`);
    await page.locator('#message:not(.info)', { hasText: 'does not send mail' }).waitFor();
    assert.equal(fragment(page), '');
    await signedIn(page, address);
    await screenshot(page, 'mail-09-no-mail');
    await context.close();
  } finally {
    plain.stop();
  }
});
