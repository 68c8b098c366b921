// wristband.js — the browser client of a Wristband server. A dependency-free
// ES module; no build step.
//
//   import { Wristband } from '/wristband.js';
//   const auth = new Wristband();            // same origin; or new Wristband({ baseUrl, apiOrigins })
//   auth.onChange((user) => render(user));   // user object, or null when signed out
//   await auth.restore();                    // on page load: resume the session, if any
//   await auth.login(email, password);       // or auth.register(email, password)
//   // login resolves to the user, or to { mfaRequired: true, methods } for an
//   // account with two-step sign-in; then, within 5 minutes:
//   await auth.loginMfa({ code });           // or loginMfa({ recoveryCode });
//                                            // auth.cancelMfa() to give up
//   const res = await auth.fetch('/auth/me'); // adds the Bearer token (only for
//                                             // Wristband's origin and `apiOrigins`);
//                                             // on 401 refreshes once, retries once
//   await auth.changePassword(current, next); // this session stays, others end
//   // with two-step sign-in on, a code from the app or a recovery code too:
//   await auth.changePassword(current, next, code);
//   const n = await auth.logoutOthers();     // ends the user's other sessions
//                                            // (other browsers, devices); this one stays
//   await auth.logout();                     // or auth.logoutAll()
//
// Two-step sign-in (TOTP, an authenticator app's six-digit codes), signed in:
//   const { secret, otpauthUri, qrSvg } = await auth.startTotp(password);
//   const codes = await auth.confirmTotp(code); // on: ten recovery codes, shown once;
//                                             // this session stays, others end
//   const fresh = await auth.regenerateRecoveryCodes(code); // the old set dies
//   await auth.disableTotp(code);            // off (a code or a recovery code)
//
// Passkeys (WebAuthn: the device's screen lock or a security key; signing in
// with one takes no password; the routes below answer 404 on a server without them):
//   const passkey = await auth.registerPasskey(password, name); // signed in; the
//                                            // current password (a wrong one:
//                                            // invalid_credentials, 403); `name` optional
//   await auth.loginWithPasskey(email);      // signs in like login, no code step;
//   await auth.loginWithPasskey();           // no email: the browser offers the
//                                            // passkeys it holds for this site
//   const passkeys = await auth.listPasskeys(); // [{ id, name, created_at, last_used_at }]
//   await auth.renamePasskey(id, name);
//   await auth.removePasskey(id);
// WebAuthn wants the page at a domain name (http://localhost:8080 will do),
// never at an IP address. The binary fields of its JSON travel as base64url
// text; this module converts them both ways itself (no reliance on
// `PublicKeyCredential.parse…FromJSON` or `toJSON`, which not every browser has).
//
// With mail on (the routes below answer 404 on a server without it):
//   await auth.requestPasswordReset(email);  // mails a link, if the account exists
//   await auth.resetPassword(token, next);   // the link's token; signs in like login
//                                            // (two-step accounts: loginMfa next)
//   await auth.sendVerification();           // a new verification link (signed in)
//   await auth.verifyEmail(token);           // resolves to the user, verified
//   await auth.changeEmail(next, password);  // mails a link to the new address
//   await auth.confirmEmail(token);          // resolves to the user at the new address
//
// Links in mails open the app at APP_URL#reset-password=TOKEN,
// #verify-email=TOKEN or #confirm-email=TOKEN: read the token from
// `location.hash`, pass it here, then take it out of the address bar.
//
// How it keeps the user signed in:
// - The access token lives in this module's memory only: never localStorage,
//   sessionStorage or a readable cookie. The refresh token is an HttpOnly
//   cookie the browser carries; script never sees it. So does the short-lived
//   token of a sign-in waiting for its second step: memory only, this tab only.
// - One refresh in flight per tab. Across the tabs of one browser, refreshes
//   are serialised with the Web Locks API and the new access token is shared
//   through a BroadcastChannel, so tabs whose tokens expire together make one
//   refresh, not one each. A logout in one tab signs every tab out at once.
// - Where Web Locks or BroadcastChannel are missing it still works: each tab
//   refreshes on its own, and the server answers a tab that presents the
//   just-rotated cookie with the same successor (its grace window), so no tab
//   is logged out by accident.
//
// - Login, logout and password changes wait for a refresh in flight and take
//   the same lock, so no tab's late refresh can undo them.
// - A refresh whose answer is lost to the network is retried once after a
//   second; the server answers the retried (previous) cookie with the same
//   successor while its grace window (10 s by default) lasts.
//
// Errors: failed calls throw a WristbandError carrying the server's `error`
// code, `error_description` and HTTP `status` (0 for a network failure), and
// for a 429 `retryAfter`, the seconds the server asks to wait. A passkey
// prompt that fails in the browser throws one with status 0 and the code
// `passkey_cancelled` (the user closed or refused it, or it timed out: say so
// calmly), `passkey_exists` (this device holds a passkey of the account
// already), `passkey_unavailable` (not at this address: an IP address, or a
// site the server's passkeys are not for), `passkey_unsupported` (a browser
// without WebAuthn) or `passkey_failed` (anything else).

const CHANNEL = 'wristband';
const LOCK = 'wristband-refresh';
const RETRY_AFTER_NETWORK_ERROR_MS = 1000;

/** A failed Wristband call: the server's error code and description. */
export class WristbandError extends Error {
  constructor(status, body) {
    super((body && body.error_description) || `HTTP ${status}`);
    this.name = 'WristbandError';
    this.status = status;
    this.code = (body && body.error) || 'http_error';
    this.reason = body && body.reason;
    /** Seconds to wait before trying again (a 429's `Retry-After`), or null. */
    this.retryAfter = null;
  }
}

async function errorOf(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // Not JSON: keep the status alone.
  }
  const error = new WristbandError(response.status, body);
  const wait = Number.parseInt(response.headers.get('retry-after') ?? '', 10);
  if (Number.isFinite(wait) && wait >= 0) error.retryAfter = wait;
  return error;
}

/** What `login` and `resetPassword` resolve to when the account has two-step
 * sign-in: the password was right, a code is still to come (`loginMfa`). */
function mfaStep(body) {
  const methods = Array.isArray(body.methods) ? [...body.methods] : ['totp', 'recovery_code'];
  return { mfaRequired: true, methods };
}

// ---- Passkeys: WebAuthn takes and gives ArrayBuffers, the server's JSON
// has base64url text in their place.

/** The bytes of base64url text (padding optional), as an ArrayBuffer. */
function bytesOf(text) {
  const base64 = String(text).replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, '');
  const binary = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return bytes.buffer;
}

/** An ArrayBuffer (or a view of one) as base64url text, without padding. */
function base64url(data) {
  const bytes = ArrayBuffer.isView(data)
    ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
    : new Uint8Array(data);
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** A copy of JSON options without their null members: to WebIDL a member is
 * there or missing, and null is no value of an enum or a dictionary. */
function withoutNulls(value) {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (!value || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([, member]) => member !== null)
      .map(([key, member]) => [key, withoutNulls(member)]),
  );
}

/** The options of a ceremony as `navigator.credentials` takes them: the
 * server's JSON (bare, or as `{ publicKey }`), with bytes where it has text. */
function publicKeyOf(options) {
  return withoutNulls(options && options.publicKey ? options.publicKey : options);
}

const credentialBytes = (list) => (list || []).map((c) => ({ ...c, id: bytesOf(c.id) }));

/** `register/start`'s options for `navigator.credentials.create`. */
function creationOptions(options) {
  const publicKey = publicKeyOf(options);
  return {
    ...publicKey,
    challenge: bytesOf(publicKey.challenge),
    user: { ...publicKey.user, id: bytesOf(publicKey.user.id) },
    excludeCredentials: credentialBytes(publicKey.excludeCredentials),
  };
}

/** `login/start`'s options for `navigator.credentials.get`. */
function requestOptions(options) {
  const publicKey = publicKeyOf(options);
  return {
    ...publicKey,
    challenge: bytesOf(publicKey.challenge),
    allowCredentials: credentialBytes(publicKey.allowCredentials),
  };
}

/** A new passkey (`navigator.credentials.create`'s answer) as the server
 * reads it; `transports` where the browser tells them. */
function registrationJSON(credential) {
  const { response } = credential;
  const answer = {
    attestationObject: base64url(response.attestationObject),
    clientDataJSON: base64url(response.clientDataJSON),
  };
  if (typeof response.getTransports === 'function') {
    try {
      answer.transports = response.getTransports();
    } catch {
      // Not told: the server does without.
    }
  }
  return {
    id: credential.id,
    rawId: base64url(credential.rawId),
    type: credential.type,
    response: answer,
    extensions: {},
  };
}

/** A passkey's signature (`navigator.credentials.get`'s answer) as the
 * server reads it. */
function assertionJSON(credential) {
  const { response } = credential;
  return {
    id: credential.id,
    rawId: base64url(credential.rawId),
    type: credential.type,
    response: {
      authenticatorData: base64url(response.authenticatorData),
      clientDataJSON: base64url(response.clientDataJSON),
      signature: base64url(response.signature),
      userHandle: response.userHandle ? base64url(response.userHandle) : null,
    },
    extensions: {},
  };
}

const passkeyFailure = (code, description) =>
  new WristbandError(0, { error: code, error_description: description });

/** `navigator.credentials[method]({ publicKey })`: the browser's prompt. Its
 * refusals (DOMExceptions) become WristbandErrors with status 0; `cancelled`
 * is what a closed, refused or timed-out prompt says. */
async function passkeyPrompt(method, publicKey, cancelled) {
  const credentials = globalThis.navigator && globalThis.navigator.credentials;
  if (typeof globalThis.PublicKeyCredential !== 'function' || !credentials) {
    throw passkeyFailure('passkey_unsupported', 'This browser does not support passkeys.');
  }
  let credential;
  try {
    credential = await credentials[method]({ publicKey });
  } catch (error) {
    const name = error && error.name;
    let failure;
    if (name === 'NotAllowedError' || name === 'AbortError') {
      // Closed, refused, timed out, or no passkey there (the page may not
      // learn which: the browser keeps that to itself).
      failure = passkeyFailure('passkey_cancelled', cancelled);
    } else if (name === 'InvalidStateError') {
      failure = passkeyFailure(
        'passkey_exists',
        'This device already holds a passkey for this account.',
      );
    } else if (name === 'SecurityError') {
      failure = passkeyFailure(
        'passkey_unavailable',
        'Passkeys do not work at this address: open the page at its domain name, not an IP address.',
      );
    } else {
      failure = passkeyFailure('passkey_failed', `The passkey prompt failed: ${error}`);
    }
    failure.cause = error;
    throw failure;
  }
  if (!credential) throw passkeyFailure('passkey_cancelled', cancelled);
  return credential;
}

export class Wristband {
  #baseUrl;
  #origins; // where the access token may be sent
  #inLock = false;
  #token = null;
  #user = null;
  #version = 0; // bumped on every change of token, so waiters can tell
  #refreshing = null;
  #listeners = new Set();
  #channel = null;
  #mfaToken = null; // a sign-in waiting for its second step (memory, this tab)

  /** `baseUrl`: where Wristband is, when not this page's origin.
   * `apiOrigins`: other origins (your API) that `fetch` may send the access
   * token to; any other address gets the request without it. */
  constructor({ baseUrl = '', apiOrigins = [] } = {}) {
    this.#baseUrl = baseUrl.replace(/\/$/, '');
    const wristband = new URL(this.#baseUrl || '/', globalThis.location?.href).origin;
    this.#origins = new Set([wristband, ...apiOrigins.map((o) => new URL(o).origin)]);
    if (typeof BroadcastChannel === 'function') {
      this.#channel = new BroadcastChannel(`${CHANNEL} ${wristband}`);
      this.#channel.onmessage = (event) => this.#heard(event.data);
    }
  }

  /** The signed-in user (`{id, email, email_verified, role, disabled,
   * created_at, mfa_enabled}`), or null. */
  get user() {
    return this.#user;
  }

  /** Calls `listener(user)` on every sign-in, token change and sign-out
   * (`user` is null then). Returns a function that stops it. */
  onChange(listener) {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** On page load: resumes the session the refresh cookie holds, if any.
   * Resolves to the user, or null when there is none. */
  async restore() {
    try {
      await this.refresh();
    } catch (error) {
      // Only a refused refresh means "no session"; a 429, an outage or the
      // network failing says nothing about it.
      if (!(error instanceof WristbandError) || error.status !== 401) throw error;
    }
    return this.#user;
  }

  /** Creates an account (it does not sign in). Resolves to the user. */
  async register(email, password) {
    const body = await this.#post('/auth/register', { email, password });
    return body.user;
  }

  /** Signs in; resolves to the user. For an account with two-step sign-in
   * the password alone does not: it resolves to `{ mfaRequired: true,
   * methods }` (`methods`: `['totp', 'recovery_code']`), nobody is signed in
   * yet, and `loginMfa` finishes the sign-in within 5 minutes. (A user
   * object never has `mfaRequired`: test `result.mfaRequired`.) */
  async login(email, password) {
    return this.#exclusive(async () => {
      const body = await this.#post('/auth/login', { email, password });
      return this.#signedInOrMfa(body);
    });
  }

  /** The second step of a sign-in that `login` or `resetPassword` answered
   * with `mfaRequired`: `{ code }` (six digits from the authenticator app)
   * or `{ recoveryCode }` (one of the ten, each works once). Signs in like
   * `login`; resolves to the user. A wrong or already used code throws
   * `invalid_code` (401) and the step can be tried again; `invalid_mfa_token`
   * (401) means the step is over (5 minutes passed, or none is waiting):
   * sign in again from the password. Wrong codes count towards the login
   * lockout (`too_many_requests`, 429, with `retryAfter`). */
  async loginMfa({ code, recoveryCode } = {}) {
    if ((code === undefined) === (recoveryCode === undefined)) {
      throw new TypeError('loginMfa takes { code } or { recoveryCode }');
    }
    return this.#exclusive(async () => {
      const token = this.#mfaToken;
      if (!token) {
        throw new WristbandError(401, {
          error: 'invalid_mfa_token',
          error_description: 'No sign-in is waiting for a code; sign in again.',
        });
      }
      const body = { mfa_token: token };
      if (code !== undefined) body.code = String(code).trim();
      else body.recovery_code = String(recoveryCode).trim();
      let answer;
      try {
        answer = await this.#post('/auth/login/mfa', body);
      } catch (error) {
        if (error instanceof WristbandError && error.code === 'invalid_mfa_token') {
          if (this.#mfaToken === token) this.#mfaToken = null;
        }
        throw error;
      }
      this.#set(answer, true); // forgets the spent step too
      return this.#user;
    });
  }

  /** Forgets a sign-in waiting for its second step (the user went back). */
  cancelMfa() {
    this.#mfaToken = null;
  }

  /** Changes the password. This session lives on with new tokens; every
   * other session of the user ends. `code`: for a user with two-step sign-in
   * on (`user.mfa_enabled`), a code from the authenticator app or a recovery
   * code (a recovery code used here is spent); sent when given, and ignored
   * by the server for a user without it. A missing or wrong code throws
   * `invalid_code` (400), and wrong codes count towards the login lockout
   * (`too_many_requests`, 429, with `retryAfter`). A wrong current password
   * throws `invalid_credentials` (403), a weak new one `weak_password` (400). */
  async changePassword(currentPassword, newPassword, code) {
    const body = { current_password: currentPassword, new_password: newPassword };
    if (code !== undefined && code !== null) body.code = String(code).trim();
    return this.#exclusive(async () => {
      const response = await this.fetch('/auth/password', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      if (!response.ok) throw await errorOf(response);
      this.#set(await response.json(), true);
      return this.#user;
    });
  }

  /** Asks for a password-reset link by mail. Resolves the same way whether
   * or not an account has the address (a mail goes only if one does). */
  async requestPasswordReset(email) {
    await this.#post('/auth/password-reset', { email });
  }

  /** Sets a new password with the token of a reset link, and signs in (like
   * `login`); resolves to the user. Every other session of the user ends.
   * For an account with two-step sign-in the password is set but nobody is
   * signed in yet: it resolves to `{ mfaRequired: true, methods }`, and
   * `loginMfa` finishes (as after `login`).
   * A used, expired or superseded link throws `invalid_token`; a weak
   * password throws `weak_password` and leaves the link usable. */
  async resetPassword(token, newPassword) {
    return this.#exclusive(async () => {
      const body = await this.#post('/auth/password-reset/confirm', {
        token,
        new_password: newPassword,
      });
      return this.#signedInOrMfa(body);
    });
  }

  /** Starts turning on two-step sign-in for the signed-in user. Resolves to
   * the new, still pending factor: `{ secret, otpauthUri, qrSvg }` — the
   * base32 secret to type into an authenticator app, the `otpauth://` URI
   * to open one with, and a QR code of that URI as SVG markup made by the
   * server (parse it, never assign it to `innerHTML`). Nothing is on until
   * `confirmTotp`; calling again replaces the pending factor. A wrong
   * password throws `invalid_credentials` (403); `mfa_already_enabled` (409). */
  async startTotp(currentPassword) {
    const body = await this.#call('POST', '/auth/mfa/totp', { current_password: currentPassword });
    return { secret: body.secret, otpauthUri: body.otpauth_uri, qrSvg: body.qr_svg };
  }

  /** Turns two-step sign-in on with a first code from the app (of the factor
   * `startTotp` made). Resolves to the ten recovery codes: show them once,
   * they are not available again. Like `changePassword`, this session lives
   * on with new tokens (`user.mfa_enabled` is now true) and every other
   * session of the user ends. A wrong code, or no pending factor (none was
   * started, or it expired: 10 minutes after `startTotp`), throws
   * `invalid_code` (400); wrong codes count towards the login lockout
   * (`too_many_requests`, 429, with `retryAfter`). */
  async confirmTotp(code) {
    return this.#exclusive(async () => {
      const response = await this.fetch('/auth/mfa/totp/confirm', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ code: String(code).trim() }),
      });
      if (!response.ok) throw await errorOf(response);
      // The codes stay here: the tokens alone go to the other tabs.
      const { recovery_codes: codes, ...tokens } = await response.json();
      this.#set(tokens, true);
      return codes;
    });
  }

  /** Replaces the recovery codes; `code`: a code from the app or a recovery
   * code. Resolves to the ten new codes; the old ones stop working. Throws
   * `invalid_code` (400), `mfa_not_enabled` (409), `too_many_requests` (429). */
  async regenerateRecoveryCodes(code) {
    const body = await this.#call('POST', '/auth/mfa/recovery-codes', { code: String(code).trim() });
    return body.recovery_codes;
  }

  /** Turns two-step sign-in off; `code`: a code from the app or a recovery
   * code. The recovery codes go with it; `user.mfa_enabled` turns false (and
   * listeners hear of it). Throws `invalid_code` (400), `mfa_not_enabled`
   * (409), `too_many_requests` (429). */
  async disableTotp(code) {
    await this.#call('DELETE', '/auth/mfa/totp', { code: String(code).trim() });
    if (this.#user) this.#updated({ ...this.#user, mfa_enabled: false }, true);
  }

  /** Adds a passkey to the signed-in user's account: the browser asks for
   * the device's screen lock (or a security key), and the device makes a key
   * for this site. `currentPassword`: the user's password, asked first (an
   * access token alone does not add a passkey); a wrong one throws
   * `invalid_credentials` (403) before any prompt, and nothing is added.
   * `name`: what the list shows (at most 64 characters); without one, the
   * server names it after the browser ("Chrome on Linux").
   * Resolves to the new passkey, `{ id, name, created_at, last_used_at }`.
   * A prompt closed or refused throws `passkey_cancelled` (status 0), a
   * device that holds a passkey of this account already `passkey_exists`
   * (status 0), a key the server does not take `invalid_credential` (400).
   * Each call starts afresh: after a failure, ask for the password again. */
  async registerPasskey(currentPassword, name) {
    const start = await this.#call('POST', '/auth/passkeys/register/start', {
      current_password: currentPassword,
    });
    const credential = await passkeyPrompt(
      'create',
      creationOptions(start.options),
      'Adding the passkey was cancelled.',
    );
    const body = { ceremony_id: start.ceremony_id, credential: registrationJSON(credential) };
    const label = typeof name === 'string' ? name.trim() : '';
    if (label) body.name = label;
    return this.#call('POST', '/auth/passkeys/register/finish', body);
  }

  /** Signs in with a passkey; resolves to the user. With `email`, the
   * browser asks for one of that account's passkeys; without, it offers the
   * passkeys it holds for this site, and the one chosen tells whose account
   * it is. Signs in like `login` (this tab, the other tabs, the listeners),
   * with no code step, two-step sign-in or not: a passkey unlocked by the
   * device's screen lock is two factors. The prompt may stay open a while,
   * so it runs outside the refresh lock; only its answer goes in under it.
   * A prompt closed, refused or timed out throws `passkey_cancelled`
   * (status 0), and so does a device without a passkey for `email` (the
   * browser does not tell the page which). A passkey the server does not
   * know (removed from its account), a ceremony spent or older than 5
   * minutes, or a disabled account: `invalid_credentials` (401). */
  async loginWithPasskey(email) {
    const address = typeof email === 'string' ? email.trim() : '';
    const start = await this.#post('/auth/passkeys/login/start', address ? { email: address } : {});
    const credential = await passkeyPrompt(
      'get',
      requestOptions(start.options),
      'Passkey sign-in was cancelled.',
    );
    return this.#exclusive(async () => {
      const body = await this.#post('/auth/passkeys/login/finish', {
        ceremony_id: start.ceremony_id,
        credential: assertionJSON(credential),
      });
      this.#set(body, true);
      return this.#user;
    });
  }

  /** The signed-in user's passkeys, oldest first: `[{ id, name, created_at,
   * last_used_at }]` (`last_used_at` is null until it first signs in). */
  async listPasskeys() {
    return this.#call('GET', '/auth/passkeys');
  }

  /** Renames one of the signed-in user's passkeys (at most 64 characters);
   * resolves to it. `not_found` (404): not one of theirs (or removed). */
  async renamePasskey(id, name) {
    const path = `/auth/passkeys/${encodeURIComponent(id)}`;
    return this.#call('PATCH', path, { name: String(name).trim() });
  }

  /** Removes one of the signed-in user's passkeys: it no longer signs in
   * (the device still holds it; the browser may offer it, and the server
   * refuses it). `not_found` (404): not one of theirs (or removed already). */
  async removePasskey(id) {
    await this.#call('DELETE', `/auth/passkeys/${encodeURIComponent(id)}`);
  }

  /** Mails the signed-in user a new link to verify their address (at most
   * one mail a minute; the call succeeds either way). Throws
   * `already_verified` (409) when there is nothing to verify. */
  async sendVerification() {
    const response = await this.fetch('/auth/verify-email/send', { method: 'POST' });
    if (!response.ok) throw await errorOf(response);
  }

  /** Verifies an address with the token of a verification link; works signed
   * in or not. Resolves to the user; when that is the signed-in user, `user`
   * follows (and listeners hear of it). */
  async verifyEmail(token) {
    const user = await this.#post('/auth/verify-email', { token });
    this.#updated(user, true);
    return user;
  }

  /** Asks to move the signed-in user to `newEmail`: a link goes to the new
   * address (and a notice to the current one). Nothing changes until the
   * link is opened. A wrong password throws `invalid_credentials` (403). */
  async changeEmail(newEmail, currentPassword) {
    const response = await this.fetch('/auth/email', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ new_email: newEmail, current_password: currentPassword }),
    });
    if (!response.ok) throw await errorOf(response);
  }

  /** Confirms a new address with the token of an email-change link; works
   * signed in or not. Resolves to the user at the new address; when that is
   * the signed-in user, `user` follows (and listeners hear of it). */
  async confirmEmail(token) {
    const user = await this.#post('/auth/email/confirm', { token });
    this.#updated(user, true);
    return user;
  }

  /** Ends this session (in every tab of this browser: they share it). */
  async logout() {
    return this.#exclusive(async () => {
      const headers = this.#token ? { authorization: `Bearer ${this.#token}` } : {};
      let response;
      try {
        response = await this.#send('/auth/logout', { method: 'POST', headers });
      } catch (error) {
        throw new WristbandError(0, { error: 'network', error_description: String(error) });
      }
      // Signed out here only once the server has ended the session.
      if (response.status !== 204) throw await errorOf(response);
      this.#signedOut(true);
    });
  }

  /** Ends every session of the user, on every device. */
  async logoutAll() {
    const response = await this.fetch('/auth/logout-all', { method: 'POST' });
    if (!response.ok) throw await errorOf(response);
    this.#signedOut(true);
  }

  /** Ends every other session of the user — other browsers and devices —
   * while this one (and every tab of this browser) stays signed in with the
   * same tokens. Resolves to how many sessions ended. If this session is
   * itself gone, the client signs out and the call throws (status 401). */
  async logoutOthers() {
    const response = await this.fetch('/auth/logout-others', { method: 'POST' });
    if (!response.ok) throw await errorOf(response);
    const body = await response.json();
    return Number(body && body.revoked) || 0;
  }

  /** `fetch` with the access token. A 401 refreshes once and retries once;
   * if the session is gone, the client signs out and the 401 is returned. */
  async fetch(url, init = {}) {
    const version = this.#version;
    let response = await this.#authorized(url, init);
    const ours = this.#origins.has(this.#resolve(url).origin);
    if (response.status !== 401 || !ours) return response;
    try {
      await this.refresh(version);
    } catch (error) {
      if (error instanceof WristbandError && error.status < 500) return response;
      throw error;
    }
    return this.#authorized(url, init);
  }

  /** Gets a new access token through the refresh cookie. One refresh at a
   * time in this tab; across tabs, one at a time through a Web Lock, and a
   * tab that waited takes the token another tab just got. `seen`: the token
   * version the caller found wanting (skips the refresh if it has changed). */
  refresh(seen = this.#version) {
    if (!this.#refreshing) {
      this.#refreshing = this.#lockedRefresh(seen).finally(() => {
        this.#refreshing = null;
      });
    }
    return this.#refreshing;
  }

  async #lockedRefresh(seen) {
    if (this.#inLock) return this.#refreshNow(seen); // inside #exclusive already
    return this.#withLock(async () => {
      // Let a token another tab broadcast just before it let go arrive first.
      await new Promise((resolve) => setTimeout(resolve, 20));
      return this.#refreshNow(seen);
    });
  }

  /** Runs `work` under the cross-tab lock (where there is one). */
  async #withLock(work) {
    const locks = typeof navigator !== 'undefined' && navigator.locks;
    if (!locks || !this.#channel) return work();
    return locks.request(LOCK, work);
  }

  /** Runs `work` after any refresh in flight, holding the refresh lock. */
  async #exclusive(work) {
    await this.#refreshing?.catch(() => {});
    return this.#withLock(async () => {
      this.#inLock = true;
      try {
        return await work();
      } finally {
        this.#inLock = false;
      }
    });
  }

  async #refreshNow(seen) {
    if (this.#version !== seen && this.#token) return this.#user; // another tab did it
    let response;
    for (let attempt = 0; ; attempt += 1) {
      try {
        response = await this.#send('/auth/refresh', { method: 'POST' });
        break;
      } catch (error) {
        if (attempt > 0) {
          throw new WristbandError(0, { error: 'network', error_description: String(error) });
        }
        await new Promise((resolve) => setTimeout(resolve, RETRY_AFTER_NETWORK_ERROR_MS));
      }
    }
    if (!response.ok) {
      const error = await errorOf(response);
      if (response.status === 401) this.#signedOut(true);
      throw error;
    }
    this.#set(await response.json(), true);
    return this.#user;
  }

  #authorized(url, init) {
    const target = this.#resolve(url);
    const headers = new Headers(init.headers || {});
    if (this.#token && this.#origins.has(target.origin)) {
      headers.set('authorization', `Bearer ${this.#token}`);
    }
    return fetch(target, { credentials: 'include', ...init, headers });
  }

  /** A path is Wristband's (`baseUrl`); anything else resolves as a link would. */
  #resolve(url) {
    const base = globalThis.location?.href;
    if (typeof url === 'string' && url.startsWith('/') && !url.startsWith('//')) {
      return new URL(`${this.#baseUrl}${url}`, base);
    }
    return new URL(url, base);
  }

  #send(path, init) {
    return fetch(this.#resolve(path), { credentials: 'include', ...init });
  }

  /** A signed-in JSON call through `fetch` (`body`: none when undefined):
   * the answer's JSON (null for a 204), or throws. */
  async #call(method, path, body) {
    const init = { method };
    if (body !== undefined) {
      init.headers = { 'content-type': 'application/json' };
      init.body = JSON.stringify(body);
    }
    const response = await this.fetch(path, init);
    if (!response.ok) throw await errorOf(response);
    return response.status === 204 ? null : response.json();
  }

  /** A login-like answer: tokens (signed in, resolves to the user), or the
   * second step to come (kept here; resolves to `{ mfaRequired, methods }`). */
  #signedInOrMfa(body) {
    if (body && body.mfa_required === true) {
      this.#mfaToken = body.mfa_token;
      return mfaStep(body);
    }
    this.#set(body, true);
    return this.#user;
  }

  async #post(path, body) {
    const response = await this.#send(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!response.ok) throw await errorOf(response);
    return response.json();
  }

  #set(tokens, tell) {
    this.#mfaToken = null; // signed in: no second step is waiting any more
    this.#token = tokens.access_token;
    this.#user = tokens.user;
    this.#version += 1;
    if (tell) this.#tell({ type: 'token', tokens });
    this.#notify();
  }

  /** A newer copy of the signed-in user (same id, the same tokens). */
  #updated(user, tell) {
    if (!user || !this.#user || user.id !== this.#user.id) return;
    this.#user = user;
    if (tell) this.#tell({ type: 'user', user });
    this.#notify();
  }

  #signedOut(tell) {
    const was = this.#token || this.#user;
    this.#token = null;
    this.#user = null;
    this.#version += 1;
    if (tell) this.#tell({ type: 'signed-out' });
    if (was) this.#notify();
  }

  #heard(message) {
    if (!message || typeof message !== 'object') return;
    if (message.type === 'token' && message.tokens) this.#set(message.tokens, false);
    if (message.type === 'signed-out') this.#signedOut(false);
    if (message.type === 'user') this.#updated(message.user, false);
  }

  #tell(message) {
    if (this.#channel) this.#channel.postMessage(message);
  }

  #notify() {
    for (const listener of this.#listeners) {
      try {
        listener(this.#user);
      } catch (error) {
        console.error('wristband: a change listener failed', error);
      }
    }
  }
}
