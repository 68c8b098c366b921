// What every browser test shares: a real Wristband (the release binary, port
// 0, a fresh SQLite file, a 3 s access token), Debian's Chromium driven by
// playwright-core, a screenshot per scenario under target/e2e/, a second
// origin to attack from, and test mode's mailbox.
//
// The binary serves static/ as it was when it was built. To try changes to
// the app without a rebuild, WRISTBAND_E2E_STATIC_FROM_DISK=1 puts a plain
// proxy in front of it that answers /, /app.js, /wristband.js and /style.css
// from static/ (with the binary's headers, CSP included) and passes all else
// on untouched, Host included (so the server sees the page's own origin);
// links in mails point at the proxy.
//
// Passkeys: WebAuthn refuses IP addresses, so a page that uses them opens the
// server at `http://localhost:PORT`: `startServer(env, { localhost: true })`
// adds `localUrl`, the same server (or proxy) by that name. The server's
// passkeys take http://localhost:PORT of the port it is bound to; behind the
// proxy, the proxy's origin is added to WRISTBAND_ALLOWED_ORIGINS (which
// passkeys accept too), and links in mails point at it by name as well.
// `url` stays the IP address, for the tests' own calls.
//
// Two-step sign-in: `totp` computes an authenticator app's code from the key
// the page shows; `serverNow` and `advanceClock` read and move test mode's
// clock, which is the time the server checks codes against.

import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const binary = process.env.WRISTBAND_BINARY || join(root, 'target', 'release', 'wristband');
const shots = join(root, 'target', 'e2e');

export const PASSWORD = 'correct horse battery';
export const ADMIN = 'admin@example.com';
export const ACCESS_TTL_MS = 3000;

/** Starts the release binary; resolves to `{ url, stop }` once it listens.
 * `localhost`: also `localUrl`, where a page can use passkeys (see the top). */
export async function startServer(extraEnv = {}, { localhost = false } = {}) {
  if (process.env.WRISTBAND_E2E_STATIC_FROM_DISK === '1') {
    return staticFromDisk(extraEnv, { localhost });
  }
  const server = await startBinary(extraEnv);
  return localhost ? { ...server, localUrl: byName(server.url) } : server;
}

/** `http://127.0.0.1:PORT` as `http://localhost:PORT`. */
function byName(url) {
  const named = new URL(url);
  named.hostname = 'localhost';
  return named.origin;
}

async function startBinary(extraEnv) {
  const dir = mkdtempSync(join(tmpdir(), 'wristband-e2e-'));
  const child = spawn(binary, ['serve'], {
    env: {
      PATH: process.env.PATH,
      RUST_LOG: 'warn',
      WRISTBAND_BIND: '127.0.0.1:0',
      WRISTBAND_DATABASE_URL: `sqlite://${join(dir, 'wristband.db')}`,
      WRISTBAND_ACCESS_TTL: `${ACCESS_TTL_MS / 1000}s`,
      WRISTBAND_BCRYPT_COST: '4',
      WRISTBAND_RATE_LIMIT_PER_MINUTE: '100000',
      WRISTBAND_ADMIN_EMAIL: ADMIN,
      WRISTBAND_ADMIN_PASSWORD: PASSWORD,
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no listening line within 20 s')), 20_000);
    child.once('exit', (code) => reject(new Error(`wristband exited with ${code}`)));
    lines.once('line', (line) => {
      clearTimeout(timer);
      const match = /^wristband listening on (http:\/\/\S+)$/.exec(line);
      if (match) resolve(match[1]);
      else reject(new Error(`unexpected first line: ${line}`));
    });
  });
  return {
    url,
    stop() {
      child.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const STATIC = {
  '/': 'index.html',
  '/app.js': 'app.js',
  '/wristband.js': 'wristband.js',
  '/style.css': 'style.css',
};

/** The binary behind a proxy that serves static/ from disk (see the top). */
async function staticFromDisk(extraEnv, { localhost = false } = {}) {
  const proxy = createServer();
  await new Promise((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${proxy.address().port}`;
  const localUrl = byName(url);
  const env = { WRISTBAND_APP_URL: `${localhost ? localUrl : url}/`, ...extraEnv };
  if (localhost) {
    const others = extraEnv.WRISTBAND_ALLOWED_ORIGINS;
    env.WRISTBAND_ALLOWED_ORIGINS = others ? `${localUrl},${others}` : localUrl;
  }
  const binary = await startBinary(env);
  const target = new URL(binary.url);
  proxy.on('request', (req, res) => {
    const upstream = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (answer) => {
        const file = STATIC[new URL(req.url, url).pathname];
        const headers = { ...answer.headers };
        if (req.method === 'GET' && file && headers['content-security-policy']) {
          const body = readFileSync(join(root, 'static', file));
          delete headers['transfer-encoding'];
          headers['content-length'] = body.length;
          answer.resume();
          res.writeHead(answer.statusCode, headers);
          res.end(body);
        } else {
          res.writeHead(answer.statusCode, headers);
          answer.pipe(res);
        }
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  return {
    url,
    ...(localhost ? { localUrl } : {}),
    stop() {
      proxy.close();
      proxy.closeAllConnections();
      binary.stop();
    },
  };
}

/** Debian's Chromium, headless, with nothing reaching out to the network. */
export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-quic',
      '--no-first-run',
    ],
  });
}

/** Saves a full-page screenshot as target/e2e/NAME.png. */
export async function screenshot(page, name) {
  mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

/** A page of a new browser context (a browser profile: its own cookie jar). */
export async function newTab(context, url) {
  const page = await context.newPage();
  page.on('pageerror', (error) => console.error(`page error: ${error}`));
  await page.goto(url);
  return page;
}

/** Fills the signed-out form and clicks `button` (register or log in). */
export async function signIn(page, email, button = '#login-button') {
  await page.fill('#email', email);
  await page.fill('#password', PASSWORD);
  await page.click(button);
  await signedIn(page, email);
}

/** Waits until the signed-in view shows `email`. */
export async function signedIn(page, email, timeout = 5000) {
  await page.locator('#whoami').filter({ hasText: email }).waitFor({ timeout });
  await page.locator('#signed-in').waitFor({ state: 'visible', timeout });
}

/** Waits until the page shows the signed-out view. */
export async function signedOut(page, timeout = 5000) {
  await page.locator('#signed-out').waitFor({ state: 'visible', timeout });
}

/** A fresh email for this run. */
export function email(name) {
  return `${name}-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.com`;
}

/** The calls to `path` a page makes from now on, with their statuses. */
export function watch(page, path) {
  const seen = [];
  page.on('response', (response) => {
    if (new URL(response.url()).pathname === path) seen.push(response.status());
  });
  return seen;
}

/** A server on another origin of the same site (`http://127.0.0.1:PORT`, so
 * the browser does send the SameSite=Strict cookie) whose page tries to use
 * Wristband's cookie endpoint with the browser's credentials. */
export async function foreignOrigin(wristbandUrl) {
  const page = `<!doctype html><title>elsewhere</title><pre id="out">running</pre>
<script>
  fetch(${JSON.stringify(`${wristbandUrl}/auth/refresh`)}, { method: 'POST', credentials: 'include' })
    .then(async (r) => { document.getElementById('out').textContent = 'read ' + r.status + ' ' + (await r.text()); })
    .catch((e) => { document.getElementById('out').textContent = 'blocked ' + e.name; });
</script>`;
  const server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(page);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}/`,
    stop: () => server.close(),
  };
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The mails test mode captured for `to`, newest first. */
export async function mailbox(url, to) {
  const response = await fetch(`${url}/test/mailbox?${new URLSearchParams({ to })}`);
  if (!response.ok) throw new Error(`GET /test/mailbox answered ${response.status}`);
  return response.json();
}

/** Waits until `to` has `count` mails whose subject contains `subject`;
 * resolves to them, newest first. */
export async function mails(url, to, subject, count = 1, timeout = 5000) {
  const until = Date.now() + timeout;
  for (;;) {
    const found = (await mailbox(url, to)).filter((m) => m.subject.includes(subject));
    if (found.length >= count) return found;
    if (Date.now() > until) {
      throw new Error(`${found.length} of ${count} mails "${subject}" to ${to} within ${timeout} ms`);
    }
    await sleep(100);
  }
}

/** The token of a mail's link: `kind` is reset-password, verify-email or
 * confirm-email. The link is in both the text and the HTML part. */
export function linkToken(mail, kind) {
  const match = /(reset-password|verify-email|confirm-email)=([A-Za-z0-9_-]{43})/.exec(mail.text);
  if (!match || match[1] !== kind) throw new Error(`no ${kind} link in "${mail.subject}"`);
  if (!mail.html.includes(match[0])) throw new Error(`the HTML of "${mail.subject}" lacks the link`);
  return match[2];
}

/** POSTs JSON to the server; resolves to the response. */
export function post(url, path, body) {
  return fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

/** The bytes of RFC 4648 base32 text (padding, spaces and case ignored). */
export function base32Decode(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const clean = text.toUpperCase().replace(/[\s=]/g, '');
  const bytes = [];
  let bits = 0;
  let value = 0;
  for (const char of clean) {
    const index = alphabet.indexOf(char);
    if (index < 0) throw new Error(`not base32: ${JSON.stringify(char)}`);
    value = (value << 5) | index;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      bytes.push((value >>> bits) & 0xff);
    }
  }
  return Buffer.from(bytes);
}

/** The code an authenticator app shows for `secretBase32` at `unixSeconds`:
 * RFC 6238 TOTP, HMAC-SHA1, 30 s steps, `digits` digits (6). */
export function totp(secretBase32, unixSeconds, digits = 6) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(unixSeconds / 30)));
  const mac = createHmac('sha1', base32Decode(secretBase32)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const number = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(number % 10 ** digits).padStart(digits, '0');
}

/** The time on test mode's clock (what the server checks codes against), in
 * Unix seconds. */
export async function serverNow(url) {
  const response = await fetch(`${url}/test/clock`);
  if (!response.ok) throw new Error(`GET /test/clock answered ${response.status}`);
  const { now } = await response.json();
  return Date.parse(now) / 1000;
}

/** Moves test mode's clock forward by `seconds`; resolves to its new time in
 * Unix seconds. */
export async function advanceClock(url, seconds) {
  const response = await post(url, '/test/clock', { advance: `${seconds}s` });
  if (!response.ok) throw new Error(`POST /test/clock answered ${response.status}`);
  const { now } = await response.json();
  return Date.parse(now) / 1000;
}
