// Passkeys (WebAuthn) in the demo app in a real Chromium, against the release
// binary in test mode, with Chromium's virtual authenticator (the DevTools
// protocol's WebAuthn domain) standing in for the device's screen lock:
// adding a passkey (after the current password: a wrong one adds nothing),
// renaming it, signing in with it with no email (the
// browser offers it) and with the email, the token's `amr`, a prompt refused,
// a passkey removed (the device still holds it, the server refuses it), a
// disabled account, a ceremony replayed or left too long, and a user with
// two-step sign-in, who is asked no code.
//
// WebAuthn refuses IP addresses: the pages open the server at
// http://localhost:PORT (`localUrl`); the test's own calls go to `url`.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { decodeJwt } from 'jose';

import {
  ADMIN,
  PASSWORD,
  advanceClock,
  email,
  launchBrowser,
  newTab,
  post,
  screenshot,
  serverNow,
  signIn,
  signedIn,
  signedOut,
  startServer,
  totp,
  watch,
} from './harness.mjs';

const REFRESH_COOKIE = '__Host-wristband_refresh';
/** How long a ceremony (a challenge the server handed out) may be answered. */
const CEREMONY_SECONDS = 5 * 60;

let server;
let browser;

before(async () => {
  server = await startServer({ WRISTBAND_TEST_MODE: 'true' }, { localhost: true });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  server?.stop();
});

/** A virtual authenticator in `page`'s tab: a platform authenticator that
 * keeps discoverable credentials and verifies the user (its "screen lock")
 * without asking. `credentials()` lists what it holds; `setVerified(false)`
 * makes it fail user verification, as a user refusing the prompt would. */
async function authenticator(context, page) {
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return {
    async credentials() {
      return (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials;
    },
    setVerified(isUserVerified) {
      return cdp.send('WebAuthn.setUserVerified', { authenticatorId, isUserVerified });
    },
  };
}

/** CDP's (standard base64) credential id as the server writes it (base64url). */
const base64url = (base64) => Buffer.from(base64, 'base64').toString('base64url');

/** The next answer of `method path`; for a Bearer call (`bearer`), not the
 * 401 of an expired access token (3 s) that the client refreshes and retries. */
function answer(page, method, path, { bearer = false } = {}) {
  return page.waitForResponse(
    (r) =>
      new URL(r.url()).pathname === path &&
      r.request().method() === method &&
      !(bearer && r.status() === 401),
  );
}

/** Clicks `selector`; resolves to the answer of `method path` (see `answer`). */
async function clickFor(page, selector, method, path, options) {
  const answered = answer(page, method, path, options);
  await page.click(selector);
  return answered;
}

/** A new browser profile at http://localhost:PORT with a virtual
 * authenticator, and a newly registered user signed in, its view loaded. */
async function registered(name) {
  const context = await browser.newContext();
  const page = await newTab(context, server.localUrl);
  const device = await authenticator(context, page);
  const address = email(name);
  await signIn(page, address, '#register-button');
  await page.locator('#sessions .session.current').waitFor();
  await page.locator('#passkeys-card').waitFor({ state: 'visible' });
  return { context, page, device, address };
}

/** Fills the add form of the passkeys card: the current password (the
 * right one unless `password` is given) and the name (`name`, or none). */
async function fillPasskeyForm(page, name, password = PASSWORD) {
  await page.fill('#passkey-password', password);
  await page.fill('#passkey-name', name ?? '');
}

/** Adds a passkey through the card (named `name`, or not); resolves to the
 * server's answer (201, the new passkey) once the list shows it. */
async function addPasskey(page, name) {
  const before = await page.locator('#passkeys .passkey').count();
  await fillPasskeyForm(page, name);
  const started = answer(page, 'POST', '/auth/passkeys/register/start', { bearer: true });
  const finished = await clickFor(page, '#add-passkey-button', 'POST', '/auth/passkeys/register/finish', {
    bearer: true,
  });
  assert.equal(finished.status(), 201, `register/finish answered ${finished.status()}`);
  assert.deepEqual((await started).request().postDataJSON(), { current_password: PASSWORD });
  await page.locator('#passkeys .passkey').nth(before).waitFor();
  return finished;
}

/** The "Sign in with a passkey" button, with `address` in the email field
 * (or none) and no password; resolves to `{ start, finish }`: the answers of
 * login/start and login/finish (finish: null when none was made within
 * `finishWithin` ms, as when the prompt fails). */
async function passkeySignIn(page, address = '', { finishWithin = 5000 } = {}) {
  await signedOut(page);
  await page.fill('#email', address);
  await page.fill('#password', '');
  const finish = answer(page, 'POST', '/auth/passkeys/login/finish');
  const start = await clickFor(page, '#passkey-login-button', 'POST', '/auth/passkeys/login/start');
  const finished = await Promise.race([
    finish,
    new Promise((resolve) => setTimeout(() => resolve(null), finishWithin)),
  ]);
  // Done (the button is enabled again; hidden, when signed in).
  await page.locator('#passkey-login-button:enabled').waitFor({ state: 'attached' });
  return { start, finish: finished };
}

/** The `amr` claim of the access token in a token answer. */
async function amrOf(response) {
  const { access_token: token } = await response.json();
  assert.ok(token, 'the answer carries an access token');
  return decodeJwt(token).amr;
}

/** A JSON call from outside the browser; resolves to the response. */
function send(method, path, body, token) {
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  return fetch(`${server.url}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

/** An access token of `address`, from a password login outside the browser. */
async function tokenOf(address) {
  const response = await post(server.url, '/auth/login', { email: address, password: PASSWORD });
  assert.equal(response.status, 200);
  const body = await response.json();
  assert.ok(body.access_token, `a token for ${address}: ${JSON.stringify(body)}`);
  return body;
}

/** The passkeys the server has for `address` (asked outside the browser). */
async function serverPasskeys(address) {
  const { access_token: token } = await tokenOf(address);
  const response = await send('GET', '/auth/passkeys', undefined, token);
  assert.equal(response.status, 200);
  return response.json();
}

/** The audit events of user `id`, newest first (asked by the admin). */
async function auditOf(id) {
  const { access_token: token } = await tokenOf(ADMIN);
  const response = await send('GET', `/admin/audit?user_id=${encodeURIComponent(id)}&limit=100`, undefined, token);
  assert.equal(response.status, 200);
  return response.json();
}

/** The error the page shows (not an info), once it says `text`. */
async function errorShown(page, text) {
  const box = page.locator('#message:not(.info)', { hasText: text });
  await box.waitFor();
  return box.textContent();
}

/** The info the page shows, once it says `text`. */
async function infoShown(page, text) {
  const box = page.locator('#message.info', { hasText: text });
  await box.waitFor();
  return box.textContent();
}

test('at an IP address the app offers no passkey prompt, and links to localhost', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on('pageerror', (error) => console.error(`page error: ${error}`));
  const probed = answer(page, 'GET', '/auth/passkeys/login/start');
  await page.goto(server.url);
  assert.equal((await probed).status(), 405, 'the server has the passkey routes');
  await signedOut(page);
  assert.equal(await page.isVisible('#passkey-login-button'), false);

  const address = email('ip');
  await signIn(page, address, '#register-button');
  await page.locator('#passkeys-card').waitFor({ state: 'visible' });
  const note = page.locator('#passkeys-unavailable');
  await note.waitFor({ state: 'visible' });
  assert.match(await note.textContent(), /not at an IP address/);
  assert.equal(await page.isVisible('#add-passkey-button'), false);
  assert.equal(await page.getAttribute('#passkeys-localhost-link', 'href'), `${server.localUrl}/`);
  await page.locator('#passkeys-empty').waitFor({ state: 'visible' });
  await screenshot(page, 'passkeys-01-ip-address');

  // The link opens the same server by name: there, passkeys are offered.
  await page.click('#passkeys-localhost-link');
  await page.waitForURL(`${server.localUrl}/`);
  await signedOut(page); // the session's cookie belongs to the other host name
  await page.locator('#passkey-login-button').waitFor({ state: 'visible' });
  await context.close();
});

test('a passkey added, renamed, and signing in with no email and no password', async () => {
  const { context, page, device, address } = await registered('discoverable');
  const blocked = [];
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) blocked.push(message.text());
  });
  await page.locator('#passkeys-empty').waitFor({ state: 'visible' });
  assert.equal(await page.locator('#passkeys .passkey').count(), 0);

  // Added: the device holds a discoverable key for localhost, the server a
  // passkey by the name given, shown in the list.
  const finished = await addPasskey(page, 'Test laptop');
  const sent = finished.request().postDataJSON();
  assert.equal(sent.name, 'Test laptop');
  assert.equal(sent.credential.type, 'public-key');
  assert.equal(sent.credential.id, sent.credential.rawId);
  assert.match(sent.credential.response.attestationObject, /^[A-Za-z0-9_-]+$/);
  assert.match(sent.credential.response.clientDataJSON, /^[A-Za-z0-9_-]+$/);
  assert.ok(sent.credential.response.transports.includes('internal'), 'the transports are sent');
  const clientData = JSON.parse(Buffer.from(sent.credential.response.clientDataJSON, 'base64url'));
  assert.equal(clientData.type, 'webauthn.create');
  assert.equal(clientData.origin, server.localUrl);
  const passkey = await finished.json();
  assert.equal(passkey.name, 'Test laptop');
  assert.equal(passkey.last_used_at, null);
  assert.ok(Date.parse(passkey.created_at) > 0, passkey.created_at);

  const [held] = await device.credentials();
  assert.equal((await device.credentials()).length, 1);
  assert.equal(held.isResidentCredential, true);
  assert.equal(held.rpId, 'localhost');
  assert.equal(base64url(held.credentialId), sent.credential.id);

  const row = page.locator('#passkeys .passkey');
  assert.equal(await row.count(), 1);
  assert.equal(await row.locator('.passkey-name').textContent(), 'Test laptop');
  assert.match(await row.locator('.meta').textContent(), /^added .+ · not used yet$/);
  assert.equal(await row.getAttribute('data-passkey-id'), passkey.id);
  assert.equal(await row.getAttribute('data-created-at'), passkey.created_at);
  assert.equal(await row.getAttribute('data-last-used-at'), '');
  assert.equal(await page.isVisible('#passkeys-empty'), false);
  assert.equal(await page.inputValue('#passkey-name'), '', 'the name field is emptied');
  assert.equal(await page.inputValue('#passkey-password'), '', 'the password is not kept');
  await infoShown(page, 'Passkey “Test laptop” added');
  await screenshot(page, 'passkeys-02-added');

  // Rename: a field in place of the name. Escape leaves it unchanged…
  await row.locator('button.rename-passkey').click();
  const field = row.locator('.passkey-rename-input');
  await field.waitFor();
  assert.equal(await field.inputValue(), 'Test laptop');
  const renames = watch(page, `/auth/passkeys/${passkey.id}`);
  await field.fill('Not this');
  await field.press('Escape');
  await field.waitFor({ state: 'detached' });
  assert.equal(await row.locator('.passkey-name').textContent(), 'Test laptop');
  assert.deepEqual(renames, [], 'nothing sent');

  // …Save renames it.
  await row.locator('button.rename-passkey').click();
  await field.fill('Work laptop');
  await page.setViewportSize({ width: 390, height: 844 });
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 390, `the page is ${width} px wide`);
  await screenshot(page, 'passkeys-03-renaming-phone');
  await page.setViewportSize({ width: 1280, height: 720 });
  await screenshot(page, 'passkeys-03-renaming');
  const renamed = await clickFor(page, `#passkeys .passkey button.save-passkey-name`, 'PATCH', `/auth/passkeys/${passkey.id}`, {
    bearer: true,
  });
  assert.equal(renamed.status(), 200);
  assert.deepEqual(renamed.request().postDataJSON(), { name: 'Work laptop' });
  assert.equal((await renamed.json()).name, 'Work laptop');
  await row.locator('.passkey-name', { hasText: 'Work laptop' }).waitFor();
  assert.equal(await field.count(), 0);
  await infoShown(page, 'now called “Work laptop”');
  const [stored] = await serverPasskeys(address);
  assert.deepEqual(
    { id: stored.id, name: stored.name, last_used_at: stored.last_used_at },
    { id: passkey.id, name: 'Work laptop', last_used_at: null },
  );

  // Signed out, the email field empty, no password: the browser offers the
  // passkey it holds, and its user handle says whose it is.
  await page.click('#logout-button');
  const { start, finish } = await passkeySignIn(page);
  assert.deepEqual(start.request().postDataJSON(), {}, 'no email sent');
  assert.equal(start.status(), 200);
  const { options } = await start.json();
  const request = options.publicKey ?? options;
  assert.deepEqual(request.allowCredentials ?? [], [], 'discoverable: no credential listed');
  assert.equal(request.userVerification, 'required');
  assert.ok(finish, 'login/finish was called');
  assert.equal(finish.status(), 200);
  const assertion = finish.request().postDataJSON().credential;
  assert.equal(assertion.id, sent.credential.id);
  assert.match(assertion.response.userHandle, /^[A-Za-z0-9_-]+$/);
  assert.deepEqual(await amrOf(finish), ['hwk']);
  const { user } = await finish.json();
  assert.equal(user.email, address);
  await signedIn(page, address);
  assert.equal(await page.inputValue('#email'), '');
  assert.equal(await page.inputValue('#password'), '');
  assert.equal(await page.isVisible('#mfa-page'), false);

  // The card shows when it was last used.
  const used = page.locator('#passkeys .passkey:not([data-last-used-at=""])');
  await used.waitFor();
  assert.match(await used.locator('.meta').textContent(), /· last used /);
  const lastUsed = Date.parse(await used.getAttribute('data-last-used-at'));
  assert.ok(lastUsed >= Date.parse(passkey.created_at), 'last used after it was added');
  await page.locator('#sessions .session.current').waitFor();
  await screenshot(page, 'passkeys-04-signed-in-with-passkey');

  // A reload resumes the session; its refreshed tokens still say `hwk`.
  const refreshed = answer(page, 'POST', '/auth/refresh');
  await page.reload();
  assert.equal((await refreshed).status(), 200);
  assert.deepEqual(await amrOf(await refreshed), ['hwk']);
  await signedIn(page, address);

  // The audit trail has it all.
  const events = await auditOf(user.id);
  const names = events.map((e) => e.event);
  for (const event of ['passkey_added', 'passkey_renamed']) assert.ok(names.includes(event), event);
  const login = events.find((e) => e.event === 'login_succeeded' && e.detail === 'hwk');
  assert.ok(login, `a login_succeeded with detail hwk: ${JSON.stringify(events.map((e) => [e.event, e.detail]))}`);
  assert.deepEqual(blocked, [], 'nothing the page showed was blocked by the CSP');
  await context.close();
});

test('adding a passkey asks for the current password: a wrong one adds nothing', async () => {
  const { context, page, device, address } = await registered('password');
  await page.locator('#passkeys-empty').waitFor({ state: 'visible' });

  // The field: a current password, before the name.
  const field = page.locator('#passkey-password');
  assert.equal(await field.getAttribute('type'), 'password');
  assert.equal(await field.getAttribute('autocomplete'), 'current-password');
  assert.equal(await field.evaluate((input) => input.required), true);
  assert.equal((await page.textContent('label[for="passkey-password"]')).trim(), 'Current password');
  const order = await page.$$eval('#add-passkey input', (inputs) => inputs.map((input) => input.id));
  assert.ok(
    order.includes('passkey-password') && order.indexOf('passkey-password') < order.indexOf('passkey-name'),
    `the password comes before the name: ${order.join(', ')}`,
  );

  const starts = watch(page, '/auth/passkeys/register/start');
  const finishes = watch(page, '/auth/passkeys/register/finish');

  // No password: the form is not sent.
  await fillPasskeyForm(page, 'Sneaky', '');
  await page.click('#add-passkey-button');
  assert.equal(await field.evaluate((input) => input.validity.valueMissing), true);
  await page.waitForTimeout(300);
  assert.deepEqual(starts, [], 'nothing sent without a password');

  // A wrong password: refused before any prompt; the error is shown, the
  // password emptied, and nothing is added anywhere.
  await fillPasskeyForm(page, 'Sneaky', 'not the password at all');
  const refused = await clickFor(page, '#add-passkey-button', 'POST', '/auth/passkeys/register/start', {
    bearer: true,
  });
  assert.deepEqual(refused.request().postDataJSON(), { current_password: 'not the password at all' });
  assert.equal(refused.status(), 403);
  assert.equal((await refused.json()).error, 'invalid_credentials');
  await errorShown(page, 'current password is wrong');
  await page.locator('#add-passkey-button:enabled').waitFor();
  assert.equal(await field.inputValue(), '', 'the password is not kept');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'passkey-password', 'asked again');
  assert.equal(await page.inputValue('#passkey-name'), 'Sneaky', 'the name stays for the next try');
  assert.deepEqual(finishes, [], 'no register/finish');
  assert.deepEqual(await device.credentials(), [], 'no create() prompt: the device holds no new key');
  assert.equal(await page.locator('#passkeys .passkey').count(), 0);
  assert.equal(await page.isVisible('#passkeys-empty'), true);
  assert.deepEqual(await serverPasskeys(address), []);
  await screenshot(page, 'passkeys-02a-wrong-password');

  // A stolen access token alone does not start one either.
  const { access_token: token, user } = await tokenOf(address);
  const bare = await send('POST', '/auth/passkeys/register/start', {}, token);
  assert.ok(bare.status >= 400 && bare.status < 500, `no password: ${bare.status}`);
  assert.equal((await bare.json()).ceremony_id, undefined);
  const wrong = await send('POST', '/auth/passkeys/register/start', { current_password: 'guess' }, token);
  assert.equal(wrong.status, 403);
  const body = await wrong.json();
  assert.equal(body.error, 'invalid_credentials');
  assert.equal(body.ceremony_id, undefined);
  assert.ok(!(await auditOf(user.id)).some((e) => e.event === 'passkey_added'), 'no passkey_added');

  // The right password: added.
  await addPasskey(page, 'Sneaky');
  assert.equal((await device.credentials()).length, 1);
  assert.equal(await field.inputValue(), '', 'the password is not kept');
  assert.equal((await serverPasskeys(address)).length, 1);
  await context.close();
});

test('with the email filled in, the browser is asked for that account\'s passkeys', async () => {
  const { context, page, device, address } = await registered('byemail');
  const added = await addPasskey(page); // no name: the server names it after the browser
  const passkey = await added.json();
  assert.equal(added.request().postDataJSON().name, undefined, 'no name sent');
  assert.match(passkey.name, /Chrom/, `named after the browser: ${passkey.name}`);
  assert.equal(await page.locator('#passkeys .passkey .passkey-name').textContent(), passkey.name);
  const [held] = await device.credentials();
  await page.click('#logout-button');

  const { start, finish } = await passkeySignIn(page, address);
  assert.deepEqual(start.request().postDataJSON(), { email: address });
  const { options } = await start.json();
  const request = options.publicKey ?? options;
  assert.deepEqual(
    (request.allowCredentials ?? []).map((c) => c.id),
    [base64url(held.credentialId)],
    'the account\'s passkey is listed',
  );
  assert.ok(finish, 'login/finish was called');
  assert.equal(finish.status(), 200);
  assert.deepEqual(await amrOf(finish), ['hwk']);
  await signedIn(page, address);
  assert.equal(await page.inputValue('#password'), '');
  await page.locator('#passkeys .passkey:not([data-last-used-at=""])').waitFor();
  await screenshot(page, 'passkeys-05-signed-in-by-email');

  // An address without an account gets options that look the same (one
  // credential, made up); this device holds none of it: the prompt fails,
  // calmly, and nobody is signed in.
  await page.click('#logout-button');
  const stranger = email('nobody');
  const unknown = await passkeySignIn(page, stranger, { finishWithin: 1500 });
  assert.equal(unknown.start.status(), 200);
  const made = (await unknown.start.json()).options;
  const madeRequest = made.publicKey ?? made;
  assert.equal((madeRequest.allowCredentials ?? []).length, 1, 'looks like an account\'s');
  assert.notEqual(madeRequest.allowCredentials[0].id, base64url(held.credentialId));
  assert.equal(unknown.finish, null, 'no finish without a passkey');
  await infoShown(page, 'Passkey sign-in was cancelled');
  assert.match(await page.textContent('#message'), new RegExp(`no passkey for ${stranger.replace(/[.+]/g, '\\$&')}`));
  await signedOut(page);
  await screenshot(page, 'passkeys-06-unknown-email');
  await context.close();
});

test('a refused prompt is said calmly; a device adds one passkey per account', async () => {
  const { context, page, device, address } = await registered('refused');
  await addPasskey(page, 'Phone');

  // The same device again: it holds a passkey of this account already
  // (excludeCredentials), and says so; nothing is added.
  const finishes = watch(page, '/auth/passkeys/register/finish');
  await fillPasskeyForm(page, 'Phone again');
  await page.click('#add-passkey-button');
  await errorShown(page, 'already holds a passkey for this account');
  await page.locator('#add-passkey-button:enabled').waitFor();
  assert.deepEqual(finishes, []);
  assert.equal(await page.inputValue('#passkey-password'), '', 'the password is not kept');
  assert.equal((await device.credentials()).length, 1);
  assert.equal(await page.locator('#passkeys .passkey').count(), 1);
  await screenshot(page, 'passkeys-07-one-per-device');

  // The user refuses the prompt (here: the screen lock is not unlocked).
  await device.setVerified(false);
  await page.click('#passkeys .passkey button.remove-passkey');
  await page.locator('#passkeys-empty').waitFor({ state: 'visible' });
  await fillPasskeyForm(page, 'Refused');
  await page.click('#add-passkey-button');
  await infoShown(page, 'Adding the passkey was cancelled');
  await page.locator('#add-passkey-button:enabled').waitFor();
  assert.deepEqual(finishes, [], 'nothing sent');
  assert.equal(await page.inputValue('#passkey-password'), '', 'the password is not kept');
  assert.equal(await page.locator('#passkeys .passkey').count(), 0);
  assert.deepEqual(await serverPasskeys(address), []);

  await device.setVerified(true);
  await addPasskey(page, 'Again');
  await device.setVerified(false);
  await page.click('#logout-button');
  const { start, finish } = await passkeySignIn(page, '', { finishWithin: 1500 });
  assert.equal(start.status(), 200);
  assert.equal(finish, null, 'no finish after a refused prompt');
  const said = await infoShown(page, 'Passkey sign-in was cancelled');
  assert.equal(said, 'Passkey sign-in was cancelled.');
  await signedOut(page);
  await screenshot(page, 'passkeys-08-prompt-refused');

  // Unlocked this time: in.
  await device.setVerified(true);
  const second = await passkeySignIn(page);
  assert.equal(second.finish?.status(), 200);
  await signedIn(page, address);
  await context.close();
});

test('a removed passkey no longer signs in, though the device still offers it', async () => {
  const { context, page, device, address } = await registered('removed');
  const passkey = await (await addPasskey(page, 'Old key')).json();
  const row = page.locator('#passkeys .passkey');
  const removed = await clickFor(page, '#passkeys .passkey button.remove-passkey', 'DELETE', `/auth/passkeys/${passkey.id}`, {
    bearer: true,
  });
  assert.equal(removed.status(), 204);
  await row.waitFor({ state: 'detached' });
  await page.locator('#passkeys-empty').waitFor({ state: 'visible' });
  await infoShown(page, '“Old key” was removed');
  assert.deepEqual(await serverPasskeys(address), []);
  await screenshot(page, 'passkeys-09-removed');

  // Removing it again (another tab had not seen it go): not the user's any more.
  const again = await send('DELETE', `/auth/passkeys/${passkey.id}`, undefined, (await tokenOf(address)).access_token);
  assert.equal(again.status, 404);
  assert.equal((await again.json()).error, 'not_found');

  await page.click('#logout-button');
  const held = await device.credentials();
  assert.equal(held.length, 1, 'the device still holds the key');
  const { finish } = await passkeySignIn(page);
  assert.ok(finish, 'the device offered it and the page sent it');
  assert.equal(finish.status(), 401);
  assert.equal((await finish.json()).error, 'invalid_credentials');
  assert.equal(finish.request().postDataJSON().credential.id, base64url(held[0].credentialId));
  await errorShown(page, 'That passkey was not accepted');
  await signedOut(page);
  const cookies = (await context.cookies()).map((c) => c.name);
  assert.ok(!cookies.includes(REFRESH_COOKIE), `no session cookie: ${cookies}`);
  await screenshot(page, 'passkeys-10-removed-refused');

  const events = (await auditOf((await tokenOf(address)).user.id)).map((e) => e.event);
  assert.ok(events.includes('passkey_removed'), events.join(' '));
  await context.close();
});

test('a ceremony answers once, within 5 minutes; a disabled account\'s passkey is refused', async () => {
  const { context, page, address } = await registered('ceremony');
  await addPasskey(page, 'Key');
  await page.click('#logout-button');
  const { finish } = await passkeySignIn(page);
  assert.equal(finish.status(), 200);
  await signedIn(page, address);

  // The same answer again, from elsewhere: the ceremony is spent.
  const replay = await post(server.url, '/auth/passkeys/login/finish', finish.request().postDataJSON());
  assert.equal(replay.status, 401);
  assert.equal((await replay.json()).error, 'invalid_credentials');

  // An answer held back past 5 minutes (on the server's clock): refused.
  await page.click('#logout-button');
  await signedOut(page);
  await page.route('**/auth/passkeys/login/finish', async (route) => {
    await advanceClock(server.url, CEREMONY_SECONDS + 30);
    await route.continue();
  });
  const late = await passkeySignIn(page);
  await page.unroute('**/auth/passkeys/login/finish');
  assert.equal(late.finish.status(), 401);
  assert.equal((await late.finish.json()).error, 'invalid_credentials');
  await errorShown(page, 'took too long');
  await signedOut(page);

  // A fresh one goes through.
  const fresh = await passkeySignIn(page);
  assert.equal(fresh.finish.status(), 200);
  await signedIn(page, address);

  // An admin disables the account: its passkey no longer signs in.
  const { user } = await tokenOf(address);
  const { access_token: admin } = await tokenOf(ADMIN);
  const disabled = await send('PATCH', `/admin/users/${user.id}`, { disabled: true }, admin);
  assert.equal(disabled.status, 200);
  await page.click('#logout-button');
  const refused = await passkeySignIn(page);
  assert.equal(refused.finish.status(), 401);
  assert.equal((await refused.finish.json()).error, 'invalid_credentials');
  await errorShown(page, 'not accepted');
  await signedOut(page);
  await context.close();
});

test('a user with two-step sign-in signs in with a passkey, and is asked no code', async () => {
  const address = email('totp');
  const created = await post(server.url, '/test/users', { email: address, password: PASSWORD });
  assert.equal(created.status, 201);

  const context = await browser.newContext();
  const page = await newTab(context, server.localUrl);
  const device = await authenticator(context, page);
  await signIn(page, address);
  await page.locator('#passkeys-card').waitFor({ state: 'visible' });
  await addPasskey(page, 'Laptop');
  await page.click('#logout-button');
  await signedOut(page);

  // Two-step sign-in turned on (over HTTP, as mfa.test.mjs does).
  const { access_token: token } = await tokenOf(address);
  const started = await send('POST', '/auth/mfa/totp', { current_password: PASSWORD }, token);
  assert.equal(started.status, 200);
  const { secret } = await started.json();
  const code = totp(secret, await serverNow(server.url));
  const confirmed = await send('POST', '/auth/mfa/totp/confirm', { code }, token);
  assert.equal(confirmed.status, 200);
  assert.equal((await confirmed.json()).user.mfa_enabled, true);
  const withPassword = await post(server.url, '/auth/login', { email: address, password: PASSWORD });
  assert.equal((await withPassword.json()).mfa_required, true, 'the password alone asks for a code');

  // The passkey: signed in at once, no code step.
  const codeSteps = watch(page, '/auth/login/mfa');
  const { finish } = await passkeySignIn(page);
  assert.equal(finish.status(), 200);
  const body = await finish.json();
  assert.equal(body.mfa_required, undefined);
  assert.equal(body.user.mfa_enabled, true);
  assert.deepEqual(decodeJwt(body.access_token).amr, ['hwk']);
  await signedIn(page, address);
  assert.equal(await page.isVisible('#mfa-page'), false);
  assert.deepEqual(codeSteps, []);
  await page.locator('#mfa-status', { hasText: 'on' }).waitFor();
  await page.locator('#passkeys .passkey:not([data-last-used-at=""])').waitFor();
  assert.equal((await device.credentials()).length, 1);
  await screenshot(page, 'passkeys-11-totp-user-with-passkey');

  // The password form still asks for the code.
  await page.click('#logout-button');
  await signedOut(page);
  await page.fill('#email', address);
  await page.fill('#password', PASSWORD);
  const login = await clickFor(page, '#login-button', 'POST', '/auth/login');
  assert.equal((await login.json()).mfa_required, true);
  await page.locator('#mfa-page').waitFor({ state: 'visible' });
  await context.close();
});
