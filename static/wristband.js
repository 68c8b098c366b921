// wristband.js — the browser client of a Wristband server. A dependency-free
// ES module; no build step.
//
//   import { Wristband } from '/wristband.js';
//   const auth = new Wristband();            // same origin; or new Wristband({ baseUrl })
//   auth.onChange((user) => render(user));   // user object, or null when signed out
//   await auth.restore();                    // on page load: resume the session, if any
//   await auth.login(email, password);       // or auth.register(email, password)
//   const res = await auth.fetch('/auth/me'); // adds the Bearer token; on 401
//                                             // refreshes once and retries once
//   await auth.changePassword(current, next); // this session stays, others end
//   await auth.logout();                     // or auth.logoutAll()
//
// How it keeps the user signed in:
// - The access token lives in this module's memory only: never localStorage,
//   sessionStorage or a readable cookie. The refresh token is an HttpOnly
//   cookie the browser carries; script never sees it.
// - One refresh in flight per tab. Across the tabs of one browser, refreshes
//   are serialised with the Web Locks API and the new access token is shared
//   through a BroadcastChannel, so tabs whose tokens expire together make one
//   refresh, not one each. A logout in one tab signs every tab out at once.
// - Where Web Locks or BroadcastChannel are missing it still works: each tab
//   refreshes on its own, and the server answers a tab that presents the
//   just-rotated cookie with the same successor (its grace window), so no tab
//   is logged out by accident.
//
// Errors: failed calls throw a WristbandError carrying the server's `error`
// code, `error_description` and HTTP `status`.

const CHANNEL = 'wristband';
const LOCK = 'wristband-refresh';

/** A failed Wristband call: the server's error code and description. */
export class WristbandError extends Error {
  constructor(status, body) {
    super((body && body.error_description) || `HTTP ${status}`);
    this.name = 'WristbandError';
    this.status = status;
    this.code = (body && body.error) || 'http_error';
    this.reason = body && body.reason;
  }
}

async function errorOf(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // Not JSON: keep the status alone.
  }
  return new WristbandError(response.status, body);
}

export class Wristband {
  #baseUrl;
  #token = null;
  #user = null;
  #version = 0; // bumped on every change of token, so waiters can tell
  #refreshing = null;
  #listeners = new Set();
  #channel = null;

  /** `baseUrl`: where Wristband is, when not this page's origin. */
  constructor({ baseUrl = '' } = {}) {
    this.#baseUrl = baseUrl.replace(/\/$/, '');
    if (typeof BroadcastChannel === 'function') {
      this.#channel = new BroadcastChannel(CHANNEL);
      this.#channel.onmessage = (event) => this.#heard(event.data);
    }
  }

  /** The signed-in user (`{id, email, role, disabled, created_at}`), or null. */
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
      if (!(error instanceof WristbandError) || error.status >= 500) throw error;
    }
    return this.#user;
  }

  /** Creates an account (it does not sign in). Resolves to the user. */
  async register(email, password) {
    const body = await this.#post('/auth/register', { email, password });
    return body.user;
  }

  /** Signs in; resolves to the user. */
  async login(email, password) {
    const body = await this.#post('/auth/login', { email, password });
    this.#set(body, true);
    return this.#user;
  }

  /** Changes the password. This session lives on with new tokens; every
   * other session of the user ends. */
  async changePassword(currentPassword, newPassword) {
    const response = await this.fetch('/auth/password', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ current_password: currentPassword, new_password: newPassword }),
    });
    if (!response.ok) throw await errorOf(response);
    this.#set(await response.json(), true);
    return this.#user;
  }

  /** Ends this session (in every tab of this browser: they share it). */
  async logout() {
    const headers = this.#token ? { authorization: `Bearer ${this.#token}` } : {};
    try {
      await this.#send('/auth/logout', { method: 'POST', headers });
    } finally {
      this.#signedOut(true);
    }
  }

  /** Ends every session of the user, on every device. */
  async logoutAll() {
    const response = await this.fetch('/auth/logout-all', { method: 'POST' });
    if (!response.ok) throw await errorOf(response);
    this.#signedOut(true);
  }

  /** `fetch` with the access token. A 401 refreshes once and retries once;
   * if the session is gone, the client signs out and the 401 is returned. */
  async fetch(url, init = {}) {
    const version = this.#version;
    let response = await this.#authorized(url, init);
    if (response.status !== 401) return response;
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
    const locks = typeof navigator !== 'undefined' && navigator.locks;
    if (!locks || !this.#channel) return this.#refreshNow(seen);
    return locks.request(LOCK, () => this.#refreshNow(seen));
  }

  async #refreshNow(seen) {
    if (this.#version !== seen && this.#token) return this.#user; // another tab did it
    let response;
    try {
      response = await this.#send('/auth/refresh', { method: 'POST' });
    } catch (error) {
      throw new WristbandError(0, { error: 'network', error_description: String(error) });
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
    const headers = new Headers(init.headers || {});
    if (this.#token) headers.set('authorization', `Bearer ${this.#token}`);
    return this.#send(url, { ...init, headers });
  }

  #send(url, init) {
    const absolute = /^https?:/.test(url) ? url : `${this.#baseUrl}${url}`;
    return fetch(absolute, { credentials: 'include', ...init });
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
    this.#token = tokens.access_token;
    this.#user = tokens.user;
    this.#version += 1;
    if (tell) this.#tell({ type: 'token', tokens });
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
