// The Node recipe against the real binary: a test-mode server, a user with a
// token in one call, the token verified by `jose` through the JWKS, and the
// test clock expiring it without a wait.

import assert from 'node:assert/strict';
import { join, dirname } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { startWristband } from './wristband-server.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const binary = process.env.WRISTBAND_BINARY || join(root, 'target', 'release', 'wristband');

let wristband;
before(async () => { wristband = await startWristband(binary, { RUST_LOG: 'warn' }); });
after(() => wristband.stop());

test('jose verifies a test user\'s token through the JWKS', async () => {
  const alice = await wristband.createUser('alice@example.com');
  const keys = createRemoteJWKSet(new URL(`${wristband.url}/.well-known/jwks.json`));
  const { payload, protectedHeader } = await jwtVerify(alice.access_token, keys, {
    algorithms: ['EdDSA'], audience: 'wristband', issuer: 'wristband',
  });
  assert.equal(payload.sub, alice.user.id);
  assert.equal(protectedHeader.typ, 'at+jwt');
  // One character of the signature changed: refused.
  const [head, body, signature] = alice.access_token.split('.');
  const altered = `${head}.${body}.${signature[0] === 'A' ? 'B' : 'A'}${signature.slice(1)}`;
  await assert.rejects(jwtVerify(altered, keys, { algorithms: ['EdDSA'] }));
  assert.equal(decodeProtectedHeader(alice.access_token).kid, protectedHeader.kid);
});

test('the test clock expires the token on the server without a wait', async () => {
  const bob = await wristband.createUser('bob@example.com', 'admin');
  assert.equal(bob.user.role, 'admin');
  const me = () => fetch(`${wristband.url}/auth/me`, {
    headers: { authorization: `Bearer ${bob.access_token}` },
  });
  assert.equal((await me()).status, 200);
  const clock = await wristband.advanceClock('10m');
  assert.equal(clock.offset_seconds, 600);
  const expired = await me();
  assert.equal(expired.status, 401);
  assert.equal(expired.headers.get('wristband-test-mode'), '1');
});
