// The Wristband demo app: plain DOM on top of wristband.js, no framework, no
// build step. Everything it shows comes from the API through `auth.fetch`,
// which carries the access token and refreshes it when it expires.

import { Wristband, WristbandError } from '/wristband.js';

const auth = new Wristband();
const $ = (selector) => document.querySelector(selector);

function say(text, kind = 'error') {
  const box = $('#message');
  box.textContent = text;
  box.className = kind === 'info' ? 'info' : '';
  box.hidden = !text;
}

function sayError(error) {
  say(error instanceof WristbandError ? error.message : `Something went wrong: ${error}`);
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

function item(className, title, meta, buttons = []) {
  const li = document.createElement('li');
  li.className = className;
  const what = document.createElement('span');
  what.className = 'what';
  what.textContent = title;
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

async function showSessions() {
  const sessions = await api('/auth/sessions');
  if (!sessions) return;
  const list = $('#sessions');
  list.replaceChildren(
    ...sessions.map((s) => {
      const li = item(
        `session${s.current ? ' current' : ''}`,
        s.user_agent || 'Unknown device',
        `${s.ip || 'unknown address'} · signed in ${when(s.created_at)} · until ${when(s.expires_at)}`,
        [button('revoke danger', 'Revoke', () => revokeSession(s.id))],
      );
      li.dataset.sessionId = s.id;
      return li;
    }),
  );
}

async function revokeSession(id) {
  await api(`/auth/sessions/${encodeURIComponent(id)}`, { method: 'DELETE' });
  say('Session revoked.', 'info');
  if (auth.user) await showSessions();
}

async function showAdmin() {
  const [list, events] = await Promise.all([
    api('/admin/users?limit=50'),
    api('/admin/audit?limit=20'),
  ]);
  if (!list || !events) return; // signed out meanwhile
  const { users } = list;
  $('#admin-users').replaceChildren(
    ...users.map((u) => {
      const li = item(
        `user-row${u.disabled ? ' disabled' : ''}`,
        u.email,
        `${u.role}${u.disabled ? ' · disabled' : ''} · since ${when(u.created_at)}`,
        [
          button('revoke-all danger', 'Revoke sessions', () => revokeAll(u)),
          button('toggle-disabled secondary', u.disabled ? 'Enable' : 'Disable', () => toggle(u)),
        ],
      );
      li.dataset.userId = u.id;
      return li;
    }),
  );
  $('#audit').replaceChildren(
    ...events.map((e) => item('event', e.event, `${when(e.at)} · ${e.ip || ''} ${e.user_id || ''}`)),
  );
}

async function revokeAll(user) {
  await api(`/admin/users/${encodeURIComponent(user.id)}/sessions`, { method: 'DELETE' });
  say(`Every session of ${user.email} was revoked.`, 'info');
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
  $('#whoami').textContent = me.email;
  $('#role').textContent = me.role;
  await showSessions();
  const admin = me.role === 'admin';
  $('#admin').hidden = !admin;
  if (admin && auth.user) await showAdmin();
}

let shown; // the user id on display: undefined before the first render
function render(user) {
  $('#signed-out').hidden = Boolean(user);
  $('#signed-in').hidden = !user;
  const who = user ? user.id : null;
  if (who === shown) return;
  const first = shown === undefined;
  shown = who;
  if (user) {
    $('#whoami').textContent = user.email;
    $('#role').textContent = user.role;
    say('');
    refreshView().catch(sayError);
  } else {
    $('#sessions').replaceChildren();
    $('#admin').hidden = true;
    if (!first) say('You are signed out.', 'info');
  }
}

function credentials() {
  return [$('#email').value.trim(), $('#password').value];
}

$('#credentials').addEventListener('submit', (event) => {
  event.preventDefault();
  act($('#login-button'), async () => {
    await auth.login(...credentials());
    $('#password').value = '';
  });
});

$('#register-button').addEventListener('click', () =>
  act($('#register-button'), async () => {
    const [email, password] = credentials();
    await auth.register(email, password);
    await auth.login(email, password);
    $('#password').value = '';
  }),
);

$('#logout-button').addEventListener('click', () => act($('#logout-button'), () => auth.logout()));
$('#logout-all-button').addEventListener('click', () =>
  act($('#logout-all-button'), () => auth.logoutAll()),
);
$('#reload-button').addEventListener('click', () => act($('#reload-button'), refreshView));

$('#change-password').addEventListener('submit', (event) => {
  event.preventDefault();
  act($('#change-password-button'), async () => {
    await auth.changePassword($('#current-password').value, $('#new-password').value);
    $('#current-password').value = '';
    $('#new-password').value = '';
    say('Password changed; your other sessions were signed out.', 'info');
    await refreshView();
  });
});

auth.onChange(render);
auth
  .restore()
  .then((user) => render(user))
  .catch(sayError);
