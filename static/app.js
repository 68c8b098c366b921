// The Wristband demo app: plain DOM on top of wristband.js, no framework, no
// build step. Everything it shows comes from the API through `auth.fetch`,
// which carries the access token and refreshes it when it expires.

import { Wristband, WristbandError } from '/wristband.js';

const auth = new Wristband();
const $ = (selector) => document.querySelector(selector);

/** Wait this long after the last keystroke in the admin search before asking. */
const SEARCH_DEBOUNCE_MS = 250;

/** Audit event names as people read them; a name not listed shows as it is. */
const EVENT_NAMES = {
  user_created: 'Account created',
  login_succeeded: 'Signed in',
  login_new_device: 'Signed in from a new device',
  login_failed: 'Sign-in failed',
  login_locked: 'Sign-in locked after repeated failures',
  refresh_reused: 'Refresh token reused (session revoked)',
  logout: 'Signed out',
  logout_all: 'Signed out everywhere',
  other_sessions_revoked: 'Signed out other devices',
  password_changed: 'Password changed',
  password_reset_requested: 'Password reset link requested',
  password_reset: 'Password reset by email',
  email_verification_sent: 'Verification link sent',
  email_verified: 'Email address verified',
  email_change_requested: 'Email change requested',
  email_changed: 'Email address changed',
  mfa_enabled: 'Two-step sign-in turned on',
  mfa_disabled: 'Two-step sign-in turned off',
  mfa_recovery_codes_regenerated: 'New recovery codes made',
  mfa_recovery_code_used: 'Signed in with a recovery code',
  mfa_failed: 'Wrong or reused two-step code',
  mfa_reset: 'Two-step sign-in removed by an admin',
  passkey_added: 'Passkey added',
  passkey_renamed: 'Passkey renamed',
  passkey_removed: 'Passkey removed',
  session_revoked: 'Session revoked',
  user_sessions_revoked: 'Every session revoked by an admin',
  user_updated: 'Role or status changed',
};

const eventName = (event) =>
  Object.prototype.hasOwnProperty.call(EVENT_NAMES, event) ? EVENT_NAMES[event] : event;

function say(text, kind = 'error') {
  const box = $('#message');
  box.textContent = text;
  box.className = kind === 'info' ? 'info' : '';
  box.hidden = !text;
}

function sayError(error) {
  if (!(error instanceof WristbandError)) {
    say(`Something went wrong: ${error}`);
    return;
  }
  const seconds = error.status === 429 ? error.retryAfter : null;
  const wait = seconds < 120 ? `${seconds} s` : `${Math.ceil(seconds / 60)} min`;
  say(seconds ? `${error.message} (wait ${wait})` : error.message);
}

/** Runs `action`, showing its error, with `button` disabled meanwhile. */
async function act(button, action) {
  if (button) button.disabled = true;
  try {
    say('');
    await action();
  } catch (error) {
    sayError(error);
  } finally {
    if (button) button.disabled = false;
  }
}

/** GET (or another method) through the client; JSON body, or throws. */
async function api(path, init) {
  const response = await auth.fetch(path, init);
  // The session ended (the client has signed out and the view follows).
  if (response.status === 401 && !auth.user) return null;
  if (response.status === 204) return null;
  let body = null;
  try {
    body = await response.json();
  } catch {
    // No JSON body.
  }
  if (!response.ok) throw new WristbandError(response.status, body);
  return body;
}

/** An element with a class and text. */
function span(className, text) {
  const element = document.createElement('span');
  element.className = className;
  element.textContent = text;
  return element;
}

/** A list row: `title` (text, a node, or a list of them), a line of `meta`,
 * and buttons on the right. */
function item(className, title, meta, buttons = []) {
  const li = document.createElement('li');
  li.className = className;
  const what = document.createElement('span');
  what.className = 'what';
  what.append(...[].concat(title));
  const small = document.createElement('span');
  small.className = 'meta';
  small.textContent = meta;
  what.append(small);
  const box = document.createElement('span');
  box.className = 'buttons';
  box.append(...buttons);
  li.append(what, box);
  return li;
}

function button(className, label, onClick) {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = className;
  b.textContent = label;
  b.addEventListener('click', () => act(b, onClick));
  return b;
}

const when = (iso) => new Date(iso).toLocaleString();

/** The short name of the device a session began on ("Chrome 131 on macOS");
 * from a server that does not name devices, the user agent, shortened. */
function deviceName(session) {
  if (typeof session.device === 'string' && session.device.trim()) return session.device;
  const agent = (session.user_agent || '').trim();
  if (!agent) return 'Unknown device';
  return agent.length > 60 ? `${agent.slice(0, 59)}…` : agent;
}

async function showSessions() {
  const sessions = await api('/auth/sessions');
  if (!sessions) return;
  const list = $('#sessions');
  list.replaceChildren(
    ...sessions.map((s) => {
      const device = span('device', deviceName(s));
      if (s.user_agent) device.title = s.user_agent;
      const li = item(
        `session${s.current ? ' current' : ''}`,
        device,
        [
          s.ip || 'unknown address',
          `signed in ${when(s.created_at)}`,
          `last active ${when(s.last_refreshed_at)}`,
          `until ${when(s.expires_at)}`,
        ].join(' · '),
        [button('revoke danger', 'Revoke', () => revokeSession(s.id))],
      );
      li.dataset.sessionId = s.id;
      return li;
    }),
  );
}

/** Ends every other session of the user; this one stays. */
async function logoutOthers() {
  let revoked;
  try {
    revoked = await auth.logoutOthers();
  } catch (error) {
    if (!auth.user) return; // this session had ended too: the view has signed out
    throw error;
  }
  say(
    revoked === 0
      ? 'No other device was signed in.'
      : `Signed out ${revoked} other ${revoked === 1 ? 'session' : 'sessions'}.`,
    'info',
  );
  if (auth.user) await refreshView();
}

async function revokeSession(id) {
  await api(`/auth/sessions/${encodeURIComponent(id)}`, { method: 'DELETE' });
  say('Session revoked.', 'info');
  if (auth.user) await showSessions();
}

// Admin view: user id → email, from every user list loaded and, for the rest,
// GET /admin/users/{id} (one request per id; null for a user that is gone).
const emails = new Map();
const lookups = new Map();

function remember(users) {
  for (const u of users) emails.set(u.id, u.email);
}

function lookUp(id) {
  if (emails.has(id)) return Promise.resolve(emails.get(id));
  if (!lookups.has(id)) {
    const lookup = api(`/admin/users/${encodeURIComponent(id)}`)
      .then(
        (user) => {
          if (user) emails.set(id, user.email);
          return user ? user.email : null;
        },
        (error) => {
          if (error instanceof WristbandError && error.status === 404) emails.set(id, null);
          return null; // shown as the id; asked again next time unless gone
        },
      )
      .finally(() => lookups.delete(id));
    lookups.set(id, lookup);
  }
  return lookups.get(id);
}

/** The email of user `id` as far as known, else the id. */
const emailOrId = (id) => emails.get(id) || id;

async function showAdmin() {
  const [, events] = await Promise.all([showUsers(), api('/admin/audit?limit=20')]);
  if (events && auth.user) await showAudit(events);
}

let usersAsked = 0; // answers to older searches are dropped

/** The users list, filtered by what the search box holds (part of an email). */
async function showUsers() {
  const asked = (usersAsked += 1);
  const filter = $('#admin-search').value.trim();
  const query = new URLSearchParams({ limit: '50' });
  if (filter) query.set('email', filter);
  const list = await api(`/admin/users?${query}`);
  if (!list || asked !== usersAsked) return; // signed out, or a newer search is on its way
  const { users, total } = list;
  remember(users);
  const partial = users.length < total ? `, the first ${users.length} shown` : '';
  const plural = total === 1 ? 'user' : 'users';
  $('#admin-users-count').textContent = filter
    ? `${total} ${plural} matching “${filter}”${partial}`
    : `${total} ${plural}${partial}`;
  $('#admin-users').replaceChildren(
    ...users.map((u) => {
      const buttons = [
        button('revoke-all danger', 'Revoke sessions', () => revokeAll(u)),
        button('toggle-disabled secondary', u.disabled ? 'Enable' : 'Disable', () => toggle(u)),
      ];
      if (u.mfa_enabled) buttons.push(button('reset-mfa danger', 'Remove 2FA', () => resetMfa(u)));
      const li = item(
        `user-row${u.disabled ? ' disabled' : ''}`,
        u.email,
        `${u.role}${u.mfa_enabled ? ' · 2FA' : ''}${u.disabled ? ' · disabled' : ''} · since ${when(u.created_at)}`,
        buttons,
      );
      li.dataset.userId = u.id;
      return li;
    }),
  );
}

async function showAudit(events) {
  const ids = new Set(events.flatMap((e) => [e.user_id, e.actor_id]).filter(Boolean));
  await Promise.all([...ids].map(lookUp));
  if (!auth.user) return;
  $('#audit').replaceChildren(
    ...events.map((e) => {
      const name = span('event-name', eventName(e.event));
      name.title = e.event;
      const who = span('who', e.user_id ? emailOrId(e.user_id) : 'no account');
      const by = e.actor_id && e.actor_id !== e.user_id ? `by ${emailOrId(e.actor_id)}` : '';
      const meta = [when(e.at), by, e.ip].filter(Boolean).join(' · ');
      const li = item('event', [name, ' ', who], meta);
      li.dataset.event = e.event;
      if (e.user_id) li.dataset.userId = e.user_id;
      return li;
    }),
  );
}

let searchTimer;
function searchSoon(delay = SEARCH_DEBOUNCE_MS) {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => {
    if (auth.user) showUsers().catch(sayError);
  }, delay);
}

async function revokeAll(user) {
  await api(`/admin/users/${encodeURIComponent(user.id)}/sessions`, { method: 'DELETE' });
  say(`Every session of ${user.email} was revoked.`, 'info');
  if (auth.user) await refreshView();
}

/** Takes away a user's two-step sign-in (they lost their authenticator and
 * their recovery codes): the server also ends every session of theirs. */
async function resetMfa(user) {
  await api(`/admin/users/${encodeURIComponent(user.id)}/mfa`, { method: 'DELETE' });
  say(`Two-factor authentication of ${user.email} was removed; their sessions were signed out.`, 'info');
  if (auth.user) await refreshView();
}

async function toggle(user) {
  await api(`/admin/users/${encodeURIComponent(user.id)}`, {
    method: 'PATCH',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ disabled: !user.disabled }),
  });
  if (auth.user) await refreshView();
}

/** Loads what the signed-in view shows; a dead session signs out on the way. */
async function refreshView() {
  const me = await api('/auth/me');
  if (!me) return;
  showUser(me);
  await showSessions();
  if (passkeysOn !== false && auth.user) await showPasskeys();
  const admin = me.role === 'admin';
  $('#admin').hidden = !admin;
  if (admin && auth.user) await showAdmin();
}

/** The signed-in user's address, role, whether two-step sign-in is on and,
 * while the address is not verified (and the server sends mail), the banner
 * that says so. */
function showUser(user) {
  $('#whoami').textContent = user.email;
  $('#role').textContent = user.role;
  $('#verify-address').textContent = user.email;
  unverified = !user.email_verified;
  showMailFeatures();
  showMfa(user);
}

// ---- Two-step sign-in: an authenticator app's codes (TOTP) and recovery
// codes. A server without it sends no `mfa_enabled`; the app then offers none.

/** The factor being set up (`startTotp`'s answer) until it is confirmed. */
let setup = null;

/** The two-factor card (and the line in the user card) for `user`. */
function showMfa(user) {
  const known = typeof user.mfa_enabled === 'boolean';
  const on = user.mfa_enabled === true;
  $('#mfa-card').hidden = !known;
  $('#mfa-state').hidden = !known;
  $('#mfa-status').textContent = on ? 'on' : 'off';
  $('#mfa-status').className = on ? 'on' : 'off';
  if (on) setup = null;
  $('#totp-on').hidden = !on;
  $('#totp-off').hidden = on || Boolean(setup);
  $('#totp-setup').hidden = on || !setup;
  showPasswordCode(on);
}

/** The code field of the password form: there for a user with two-step
 * sign-in on (the server wants a code to change the password), else hidden,
 * disabled and empty. */
function showPasswordCode(on) {
  const field = $('#changed-password-code');
  $('#changed-password-code-field').hidden = !on;
  field.disabled = !on;
  if (!on) field.value = '';
}

const SVG = 'http://www.w3.org/2000/svg';
/** What a QR code is drawn with; anything else in the server's SVG is dropped. */
const QR_ELEMENTS = new Set(['svg', 'g', 'path', 'rect', 'title', 'desc']);
const QR_ATTRIBUTES = new Set([
  'viewBox', 'width', 'height', 'version', 'x', 'y', 'd', 'fill', 'fill-rule',
  'stroke', 'stroke-width', 'transform', 'shape-rendering', 'preserveAspectRatio',
]);

/** The server's QR code (SVG markup) as a node of this page, or null when it
 * is not an SVG. Parsed as XML (never as HTML) and kept to plain shapes: no
 * script, link, style, foreign content or event handler survives. */
function qrCode(markup) {
  const parsed = new DOMParser().parseFromString(String(markup || ''), 'image/svg+xml');
  const svg = parsed.documentElement;
  const broken = parsed.getElementsByTagName('parsererror').length > 0;
  if (broken || svg.namespaceURI !== SVG || svg.localName !== 'svg') return null;
  for (const element of [svg, ...svg.querySelectorAll('*')]) {
    if (element.namespaceURI !== SVG || !QR_ELEMENTS.has(element.localName)) {
      element.remove();
      continue;
    }
    for (const { name } of [...element.attributes]) {
      if (!QR_ATTRIBUTES.has(name)) element.removeAttribute(name);
    }
  }
  // Sized by the style sheet: a fixed size becomes the drawing's box.
  const [width, height] = [svg.getAttribute('width'), svg.getAttribute('height')].map(parseFloat);
  if (!svg.hasAttribute('viewBox') && width > 0 && height > 0) {
    svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  }
  svg.removeAttribute('width');
  svg.removeAttribute('height');
  const node = document.importNode(svg, true);
  node.setAttribute('role', 'img');
  node.setAttribute('aria-label', 'QR code to scan with your authenticator app');
  return node;
}

/** Shows the factor to set up: its QR code, its key, and the code field. */
function showSetup(factor) {
  setup = factor;
  const qr = qrCode(factor.qrSvg);
  $('#totp-qr').replaceChildren(...(qr ? [qr] : []));
  $('#totp-qr').hidden = !qr;
  $('#totp-secret').textContent = factor.secret;
  const link = $('#totp-link');
  const uri = typeof factor.otpauthUri === 'string' ? factor.otpauthUri : '';
  link.href = uri.startsWith('otpauth://') ? uri : '#';
  link.parentElement.hidden = !uri.startsWith('otpauth://');
  $('#totp-code').value = '';
  if (auth.user) showMfa(auth.user);
  $('#totp-code').focus();
}

/** Forgets the factor being set up (and takes its key off the page). */
function endSetup() {
  setup = null;
  $('#totp-qr').replaceChildren();
  $('#totp-secret').textContent = '';
  $('#totp-link').href = '#';
  $('#totp-code').value = '';
  if (auth.user) showMfa(auth.user);
}

/** Shows recovery codes, this once; `null` takes them off the page. */
function showRecoveryCodes(codes) {
  const list = $('#recovery-codes');
  list.replaceChildren(
    ...(codes || []).map((code) => {
      const li = document.createElement('li');
      li.textContent = code;
      return li;
    }),
  );
  $('#recovery-box').hidden = !codes;
}

/** A code as typed: digits lose their spaces ("123 456"), anything else (a
 * recovery code) is only trimmed. */
function typedCode(value) {
  const code = value.trim();
  return /^[0-9\s]+$/.test(code) ? code.replace(/\s+/g, '') : code;
}

/** Whether `error` is a refused code; if so, says `text`. */
function codeRefused(error, text) {
  if (!(error instanceof WristbandError) || error.code !== 'invalid_code') return false;
  say(text);
  return true;
}

/** The view missed a change made elsewhere (another tab, an admin). */
async function mfaChanged(error) {
  if (!(error instanceof WristbandError)) return false;
  if (error.code !== 'mfa_already_enabled' && error.code !== 'mfa_not_enabled') return false;
  endSetup();
  await refreshView();
  say(error.message);
  return true;
}

$('#enable-totp').addEventListener('submit', (event) => {
  event.preventDefault();
  act($('#enable-totp-button'), async () => {
    let factor;
    try {
      factor = await auth.startTotp($('#totp-password').value);
    } catch (error) {
      if (await mfaChanged(error)) return;
      throw error;
    }
    $('#totp-password').value = '';
    showSetup(factor);
  });
});

$('#confirm-totp').addEventListener('submit', (event) => {
  event.preventDefault();
  act($('#confirm-totp-button'), async () => {
    let codes;
    try {
      codes = await auth.confirmTotp(typedCode($('#totp-code').value));
    } catch (error) {
      const refused =
        'That code is not valid. Enter the code your app shows now; ' +
        'if you began more than 10 minutes ago, cancel and start again.';
      if (codeRefused(error, refused)) {
        $('#totp-code').select();
        return;
      }
      if (await mfaChanged(error)) return;
      throw error;
    }
    endSetup();
    showRecoveryCodes(codes);
    say('Two-factor authentication is on; your other sessions were signed out.', 'info');
    if (auth.user) await showSessions();
  });
});

$('#cancel-totp-button').addEventListener('click', () => {
  say('');
  endSetup();
});

/** The code typed in the "on" part of the card, or null (and a word why). */
function manageCode() {
  const code = typedCode($('#mfa-manage-code').value);
  if (!code) {
    say('Enter a code from your authenticator app, or a recovery code.');
    $('#mfa-manage-code').focus();
  }
  return code || null;
}

const MANAGE_REFUSED = 'That code is not valid. Enter the code your app shows now, or an unused recovery code.';

$('#manage-totp').addEventListener('submit', (event) => event.preventDefault());

$('#regenerate-recovery-codes-button').addEventListener('click', () =>
  act($('#regenerate-recovery-codes-button'), async () => {
    const code = manageCode();
    if (!code) return;
    let codes;
    try {
      codes = await auth.regenerateRecoveryCodes(code);
    } catch (error) {
      if (codeRefused(error, MANAGE_REFUSED) || (await mfaChanged(error))) return;
      throw error;
    }
    $('#mfa-manage-code').value = '';
    showRecoveryCodes(codes);
    say('Here are new recovery codes; the old ones no longer work.', 'info');
  }),
);

$('#disable-totp-button').addEventListener('click', () =>
  act($('#disable-totp-button'), async () => {
    const code = manageCode();
    if (!code) return;
    try {
      await auth.disableTotp(code);
    } catch (error) {
      if (codeRefused(error, MANAGE_REFUSED) || (await mfaChanged(error))) return;
      throw error;
    }
    $('#mfa-manage-code').value = '';
    showRecoveryCodes(null);
    say('Two-factor authentication is off: your password alone signs you in.', 'info');
  }),
);

$('#recovery-codes-done').addEventListener('click', () => showRecoveryCodes(null));

// The second step of a sign-in: a code from the app, or a recovery code.

/** The methods the server offers for this sign-in, and the one on show. */
let mfaMethods = [];
let mfaMethod = 'totp';
/** Whether this sign-in began with a password reset (the password is set). */
let mfaAfterReset = false;

/** Shows the second step of a sign-in (`login` answered `mfaRequired`). */
function showMfaStep(step, { afterReset = false } = {}) {
  mfaMethods = step.methods;
  mfaAfterReset = afterReset;
  $('#mfa-code').value = '';
  $('#mfa-recovery-code').value = '';
  goTo('mfa');
  useMfaMethod(mfaMethods.includes('totp') || mfaMethods.length === 0 ? 'totp' : 'recovery_code');
}

function useMfaMethod(method) {
  mfaMethod = method;
  const recovery = method === 'recovery_code';
  $('#mfa-code-field').hidden = recovery;
  $('#mfa-code').disabled = recovery; // a disabled field is not validated
  $('#mfa-recovery-field').hidden = !recovery;
  $('#mfa-recovery-code').disabled = !recovery;
  const toggle = $('#use-recovery-code');
  toggle.textContent = recovery ? 'Use a code from your app' : 'Use a recovery code';
  toggle.hidden = !(mfaMethods.includes('totp') && mfaMethods.includes('recovery_code'));
  (recovery ? $('#mfa-recovery-code') : $('#mfa-code')).focus();
}

/** Leaves the second step for the password form, saying `text` (if any). */
function backToSignIn(text = '') {
  auth.cancelMfa();
  mfaAfterReset = false;
  $('#mfa-code').value = '';
  $('#mfa-recovery-code').value = '';
  goTo('main');
  say(text);
  (text ? $('#password') : $('#email')).focus();
}

$('#use-recovery-code').addEventListener('click', () => {
  say('');
  useMfaMethod(mfaMethod === 'totp' ? 'recovery_code' : 'totp');
});

$('#mfa-cancel-button').addEventListener('click', () => backToSignIn());

$('#mfa-form').addEventListener('submit', (event) => {
  event.preventDefault();
  act($('#mfa-submit-button'), async () => {
    const recovery = mfaMethod === 'recovery_code';
    const field = recovery ? $('#mfa-recovery-code') : $('#mfa-code');
    const code = typedCode(field.value);
    try {
      await auth.loginMfa(recovery ? { recoveryCode: code } : { code });
    } catch (error) {
      if (error instanceof WristbandError && error.code === 'invalid_mfa_token') {
        backToSignIn('This sign-in has expired. Please sign in again with your password.');
        return;
      }
      const refused = recovery
        ? 'That recovery code is not valid (each one works only once).'
        : 'That code is not valid. Enter the code your app shows now.';
      if (codeRefused(error, refused)) {
        field.select();
        return;
      }
      throw error;
    }
    const reset = mfaAfterReset;
    $('#mfa-code').value = '';
    $('#mfa-recovery-code').value = '';
    mfaAfterReset = false;
    goTo('main');
    if (reset) {
      say('Your password was changed and you are signed in; your other sessions were signed out.', 'info');
    }
  });
});

// ---- Passkeys (WebAuthn): signing in with the device's screen lock or a
// security key, no password and no code. A server without them answers 404
// to their routes; the app then offers none. A browser without WebAuthn, or a
// page at an IP address (WebAuthn refuses those), still lists, renames and
// removes them, and says why it cannot add one or sign in with one.

/** Whether the server has passkeys: null until known. */
let passkeysOn = null;

const IP_ADDRESS = /^(\d{1,3}(\.\d{1,3}){3}|\[[0-9a-f:.]+\])$/i;
const LOOPBACK = /^(127(\.\d{1,3}){3}|\[::1\])$/;

/** Asks the server whether it has the passkey routes, without calling one
 * (as `probeMail` does: 405 where the POST-only route exists, else 404). */
async function probePasskeys() {
  try {
    const response = await fetch('/auth/passkeys/login/start', { credentials: 'same-origin' });
    passkeysOn = response.status !== 404;
  } catch {
    passkeysOn = true; // unknown: offer them, and let a call tell
  }
  showPasskeyFeatures();
}

/** Why this page cannot use passkeys, as nodes to show; null when it can. */
function passkeyObstacle() {
  const host = location.hostname;
  if (IP_ADDRESS.test(host)) {
    const why = 'Passkeys need this page at a domain name, not at an IP address.';
    if (!LOOPBACK.test(host)) return [why];
    const link = document.createElement('a');
    link.id = 'passkeys-localhost-link';
    link.href = `${location.protocol}//localhost${location.port ? `:${location.port}` : ''}/`;
    link.textContent = link.href;
    return [`${why} Open it at `, link, '.'];
  }
  if (typeof PublicKeyCredential !== 'function' || !navigator.credentials) {
    return ['This browser does not support passkeys: it can list yours, not use them.'];
  }
  return null;
}

/** The sign-in button and the passkeys card, as far as the server and this
 * page allow. */
function showPasskeyFeatures() {
  const obstacle = passkeysOn === true ? passkeyObstacle() : null;
  $('#passkey-login').hidden = passkeysOn !== true || Boolean(obstacle);
  $('#passkeys-card').hidden = passkeysOn !== true || !auth.user;
  $('#passkeys-unavailable').replaceChildren(...(obstacle || []));
  $('#passkeys-unavailable').hidden = !obstacle;
  $('#add-passkey').hidden = Boolean(obstacle);
}

/** A 404 from a passkey route that is not about one passkey: the server has
 * no passkeys (any more). */
function passkeysGone(error) {
  if (!(error instanceof WristbandError) || error.status !== 404) return false;
  passkeysOn = false;
  showPasskeyFeatures();
  say('This server does not offer passkeys.');
  return true;
}

/** A call refused because the session ended (the view has signed out). */
const sessionEnded = (error) => error instanceof WristbandError && error.status === 401 && !auth.user;

/** What a passkey's row says under its name. */
function passkeyMeta(passkey) {
  const used = passkey.last_used_at ? `last used ${when(passkey.last_used_at)}` : 'not used yet';
  return `added ${when(passkey.created_at)} · ${used}`;
}

/** Loads the signed-in user's passkeys into the card. */
async function showPasskeys() {
  let passkeys;
  try {
    passkeys = await auth.listPasskeys();
  } catch (error) {
    if (sessionEnded(error) || passkeysGone(error)) return;
    throw error;
  }
  if (!auth.user) return;
  if (passkeysOn === null) {
    passkeysOn = true;
    showPasskeyFeatures();
  }
  $('#passkeys').replaceChildren(...passkeys.map(passkeyRow));
  $('#passkeys-empty').hidden = passkeys.length > 0;
}

function passkeyRow(passkey) {
  const name = span('passkey-name', passkey.name);
  const buttons = [
    button('rename-passkey', 'Rename', async () => startRename(li, name, passkey)),
    button('remove-passkey danger', 'Remove', () => removePasskey(passkey)),
  ];
  const li = item('passkey', name, passkeyMeta(passkey), buttons);
  li.dataset.passkeyId = passkey.id;
  li.dataset.createdAt = passkey.created_at;
  li.dataset.lastUsedAt = passkey.last_used_at || '';
  return li;
}

/** Puts a field in place of the passkey's name, with Save and Cancel; its
 * own buttons step aside meanwhile. */
function startRename(li, name, passkey) {
  const form = document.createElement('form');
  form.className = 'rename';
  form.autocomplete = 'off';
  const field = document.createElement('input');
  field.type = 'text';
  field.className = 'passkey-rename-input';
  field.maxLength = 64;
  field.spellcheck = false;
  field.value = passkey.name;
  field.setAttribute('aria-label', `New name for the passkey “${passkey.name}”`);
  const save = document.createElement('button');
  save.type = 'submit';
  save.className = 'save-passkey-name';
  save.textContent = 'Save';
  const buttons = li.querySelector('.buttons');
  const stop = () => {
    form.replaceWith(name);
    buttons.hidden = false;
  };
  const cancel = button('cancel-passkey-rename', 'Cancel', async () => stop());
  form.append(field, save, cancel);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    act(save, async () => {
      const next = field.value.trim();
      if (!next) {
        say('Enter a name for the passkey.');
        field.focus();
        return;
      }
      let renamed;
      try {
        renamed = await auth.renamePasskey(passkey.id, next);
      } catch (error) {
        if (sessionEnded(error)) return;
        if (error instanceof WristbandError && error.status === 404) {
          await showPasskeys();
          if (passkeysOn) say('That passkey is no longer on your account.');
          return;
        }
        throw error;
      }
      say(`The passkey is now called “${renamed.name}”.`, 'info');
      await showPasskeys();
    });
  });
  field.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') stop();
  });
  buttons.hidden = true;
  name.replaceWith(form);
  field.select();
}

async function removePasskey(passkey) {
  try {
    await auth.removePasskey(passkey.id);
  } catch (error) {
    if (sessionEnded(error)) return;
    if (!(error instanceof WristbandError) || error.status !== 404) throw error;
    // Removed already (elsewhere), or no passkeys here: the list tells.
  }
  await showPasskeys();
  if (passkeysOn) {
    say(`The passkey “${passkey.name}” was removed: it no longer signs in.`, 'info');
  }
}

$('#add-passkey').addEventListener('submit', (event) => {
  event.preventDefault();
  act($('#add-passkey-button'), async () => {
    // The current password first: an access token alone adds no passkey. It
    // is not kept, whatever happens: each attempt asks for it again.
    const password = $('#passkey-password');
    let passkey;
    try {
      passkey = await auth.registerPasskey(password.value, $('#passkey-name').value);
    } catch (error) {
      if (error instanceof WristbandError && error.code === 'passkey_cancelled') {
        say(error.message, 'info');
        return;
      }
      if (error instanceof WristbandError && error.code === 'invalid_credentials') {
        // The server's words ("The current password is wrong."), or these.
        say(error.message.startsWith('HTTP ') ? 'The current password is wrong.' : error.message);
        password.focus();
        return;
      }
      if (sessionEnded(error) || passkeysGone(error)) return;
      throw error;
    } finally {
      password.value = '';
    }
    $('#passkey-name').value = '';
    say(`Passkey “${passkey.name}” added: you can sign in with it, no password needed.`, 'info');
    await showPasskeys();
  });
});

$('#passkey-login-button').addEventListener('click', () =>
  act($('#passkey-login-button'), async () => {
    // With an address, that account's passkeys; without, the browser offers
    // the ones it holds for this site.
    const address = $('#email').value.trim();
    try {
      await auth.loginWithPasskey(address || undefined);
    } catch (error) {
      if (error instanceof WristbandError && error.code === 'passkey_cancelled') {
        say(
          address
            ? `${error.message} (Or this device holds no passkey for ${address}: clear the address to choose from all of yours.)`
            : error.message,
          'info',
        );
        return;
      }
      if (error instanceof WristbandError && error.code === 'invalid_credentials') {
        say(
          'That passkey was not accepted: it may have been removed from its account, ' +
            'or the sign-in took too long. Try again, or sign in with your password.',
        );
        return;
      }
      if (passkeysGone(error)) return;
      throw error;
    }
    $('#password').value = '';
  }),
);

// ---- Mail: password reset, email verification, email change. A server
// without mail answers 404 to every mail route; the app then offers none.

/** Whether the server sends mail: null until known. */
let mail = null;
/** Whether the signed-in user's address is unverified. */
let unverified = false;

/** Asks the server whether it has the mail routes, without calling one: a
 * GET to a POST-only route is a 405 where it exists, a 404 where it does not. */
async function probeMail() {
  try {
    const response = await fetch('/auth/password-reset', { credentials: 'same-origin' });
    mail = response.status !== 404;
  } catch {
    mail = true; // unknown: offer it, and let a call tell
  }
  showMailFeatures();
}

function showMailFeatures() {
  $('#forgot-password').hidden = mail !== true;
  $('#email-card').hidden = mail !== true;
  $('#verify-banner').hidden = !(mail === true && auth.user && unverified);
}

/** A 404 from a mail route: the server has no mail (any more). */
function mailGone(error) {
  if (!(error instanceof WristbandError) || error.status !== 404) return false;
  mail = false;
  showMailFeatures();
  say('This server does not send mail: email links are turned off.');
  return true;
}

/** Runs a mail call like `act`, turning a 404 into "no mail here". */
function mailAct(button, action) {
  return act(button, async () => {
    try {
      await action();
    } catch (error) {
      if (!mailGone(error)) throw error;
    }
  });
}

/** What the page shows besides the signed-in or signed-out view: the
 * forgot-password form, the reset form (with the link's token), or nothing. */
let page = 'main';
let resetToken = null;

function showPage() {
  const user = auth.user;
  $('#signed-out').hidden = Boolean(user) || page !== 'main';
  $('#signed-in').hidden = !user || page !== 'main';
  $('#mfa-page').hidden = page !== 'mfa';
  $('#forgot-page').hidden = page !== 'forgot';
  $('#reset-page').hidden = page !== 'reset';
}

function goTo(next) {
  page = next;
  if (next !== 'reset') resetToken = null;
  showPage();
}

/** Takes the fragment (and the token in it) out of the address bar and the
 * history entry, without a reload or another `hashchange`. */
function clearFragment() {
  if (location.hash) history.replaceState(history.state, '', location.pathname + location.search);
}

const LINK = /^#(reset-password|verify-email|confirm-email)=([A-Za-z0-9_-]+)$/;

/** Acts on the fragment: a link from a mail, or the forgot-password form. */
async function route() {
  const hash = location.hash;
  if (hash === '#forgot-password') {
    showForgot();
    return;
  }
  const link = LINK.exec(hash);
  if (!link) return;
  const [, kind, token] = link;
  if (kind === 'reset-password') {
    // Kept in the address bar until it is spent, so a reload still works.
    resetToken = token;
    say('');
    $('#new-password').value = '';
    goTo('reset');
    $('#new-password').focus();
    return;
  }
  clearFragment();
  goTo('main');
  await mailAct(null, async () => {
    if (kind === 'verify-email') {
      const user = await auth.verifyEmail(token);
      say(`Your address ${user.email} is verified.`, 'info');
    } else {
      const user = await auth.confirmEmail(token);
      say(`Your email address is now ${user.email}.`, 'info');
    }
  });
}

function showForgot() {
  clearFragment();
  say('');
  $('#reset-email').value = $('#email').value.trim();
  goTo('forgot');
  $('#reset-email').focus();
}

$('#forgot-password-link').addEventListener('click', (event) => {
  event.preventDefault();
  showForgot();
});

$('#forgot-back-button').addEventListener('click', () => {
  say('');
  goTo('main');
});

$('#forgot-form').addEventListener('submit', (event) => {
  event.preventDefault();
  mailAct($('#send-reset-button'), async () => {
    const address = $('#reset-email').value.trim();
    await auth.requestPasswordReset(address);
    if (!$('#email').value) $('#email').value = address;
    goTo('main');
    say(
      `If an account uses ${address}, a link to reset its password was sent there. ` +
        'Check your mail.',
      'info',
    );
  });
});

$('#reset-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const token = resetToken;
  if (!token) return;
  act($('#reset-password-button'), async () => {
    let result;
    try {
      result = await auth.resetPassword(token, $('#new-password').value);
    } catch (error) {
      if (mailGone(error)) {
        clearFragment();
        goTo('main');
        return undefined;
      }
      if (error instanceof WristbandError && error.code === 'invalid_token') {
        // Spent, expired or superseded: nothing to keep in the address bar.
        clearFragment();
        $('#reset-email').value = '';
        goTo('forgot');
        say('This reset link is no longer valid. Ask for a new one below.');
        return undefined;
      }
      throw error; // a weak password: the link still works, try another
    }
    $('#new-password').value = '';
    clearFragment();
    if (result && result.mfaRequired) {
      // The password is set (the link is spent); the code is still to come.
      showMfaStep(result, { afterReset: true });
      say('Your password was changed. Enter a code to finish signing in.', 'info');
      return undefined;
    }
    goTo('main');
    say('Your password was changed and you are signed in; your other sessions were signed out.', 'info');
    return undefined;
  });
});

$('#reset-cancel-button').addEventListener('click', () => {
  clearFragment();
  say('');
  goTo('main');
});

$('#resend-verification-button').addEventListener('click', () =>
  mailAct($('#resend-verification-button'), async () => {
    try {
      await auth.sendVerification();
    } catch (error) {
      if (error instanceof WristbandError && error.code === 'already_verified') {
        unverified = false;
        showMailFeatures();
        say('Your address is already verified.', 'info');
        return;
      }
      throw error;
    }
    say(`A new verification link is on its way to ${$('#verify-address').textContent}.`, 'info');
  }),
);

$('#change-email').addEventListener('submit', (event) => {
  event.preventDefault();
  mailAct($('#change-email-button'), async () => {
    const address = $('#new-email').value.trim();
    await auth.changeEmail(address, $('#email-password').value);
    $('#new-email').value = '';
    $('#email-password').value = '';
    say(
      `A link to confirm the change was sent to ${address}. ` +
        'Your address stays the same until you open it.',
      'info',
    );
  });
});

let shown; // the user id on display: undefined before the first render
let viewing = Promise.resolve(); // the signed-in view loading
function render(user) {
  // Signed in meanwhile (another tab, or the second step just now).
  if (user && (page === 'forgot' || page === 'mfa')) page = 'main';
  showPage();
  if (user) showUser(user);
  else showMailFeatures();
  showPasskeyFeatures();
  const who = user ? user.id : null;
  if (who === shown) return;
  const first = shown === undefined;
  shown = who;
  if (user) {
    say('');
    viewing = refreshView().catch(sayError);
  } else {
    $('#sessions').replaceChildren();
    $('#passkeys').replaceChildren();
    $('#passkeys-empty').hidden = true;
    $('#passkey-name').value = '';
    $('#passkey-password').value = '';
    $('#admin').hidden = true;
    clearTimeout(searchTimer);
    $('#admin-search').value = '';
    $('#admin-users-count').textContent = '';
    $('#admin-users').replaceChildren();
    $('#audit').replaceChildren();
    emails.clear();
    endSetup();
    showRecoveryCodes(null);
    $('#totp-password').value = '';
    $('#mfa-manage-code').value = '';
    showPasswordCode(false);
    if (!first) say('You are signed out.', 'info');
  }
}

function credentials() {
  return [$('#email').value.trim(), $('#password').value];
}

$('#credentials').addEventListener('submit', (event) => {
  event.preventDefault();
  act($('#login-button'), async () => {
    const result = await auth.login(...credentials());
    $('#password').value = '';
    if (result && result.mfaRequired) showMfaStep(result);
  });
});

$('#register-button').addEventListener('click', () =>
  act($('#register-button'), async () => {
    const [email, password] = credentials();
    await auth.register(email, password);
    const result = await auth.login(email, password);
    $('#password').value = '';
    if (result && result.mfaRequired) showMfaStep(result);
  }),
);

$('#logout-button').addEventListener('click', () => act($('#logout-button'), () => auth.logout()));
$('#logout-all-button').addEventListener('click', () =>
  act($('#logout-all-button'), () => auth.logoutAll()),
);
$('#reload-button').addEventListener('click', () => act($('#reload-button'), refreshView));
$('#logout-others-button').addEventListener('click', () =>
  act($('#logout-others-button'), logoutOthers),
);

$('#admin-search').addEventListener('input', () => searchSoon());
$('#admin-search').addEventListener('keydown', (event) => {
  if (event.key === 'Enter') searchSoon(0);
});

$('#change-password').addEventListener('submit', (event) => {
  event.preventDefault();
  act($('#change-password-button'), async () => {
    const field = $('#changed-password-code');
    const asked = !$('#changed-password-code-field').hidden;
    const code = asked ? typedCode(field.value) : undefined;
    if (asked && !code) {
      say('Enter a code from your authenticator app, or a recovery code, to change the password.');
      field.focus();
      return;
    }
    try {
      await auth.changePassword($('#current-password').value, $('#changed-password').value, code);
    } catch (error) {
      if (error instanceof WristbandError && error.code === 'invalid_code' && !asked) {
        // Two-step sign-in was turned on elsewhere: show the field, ask again.
        await refreshView();
        say('Two-factor authentication is on for this account: enter a code from your authenticator app, or a recovery code, too.');
        if (!$('#changed-password-code-field').hidden) field.focus();
        return;
      }
      if (codeRefused(error, MANAGE_REFUSED)) {
        field.select();
        return;
      }
      throw error;
    }
    $('#current-password').value = '';
    $('#changed-password').value = '';
    field.value = '';
    say('Password changed; your other sessions were signed out.', 'info');
    await refreshView();
  });
});

auth.onChange(render);
probeMail();
probePasskeys();
// A link from a mail is acted on once the session (if any) is resumed and its
// view loaded, so that nothing of that first load overwrites what it shows.
const ready = auth
  .restore()
  .then((user) => {
    render(user);
    return viewing;
  })
  .catch(sayError);
ready.then(route).catch(sayError);
window.addEventListener('hashchange', () => ready.then(route).catch(sayError));
