// The Node recipe of docs/testing-against-wristband.md ("Node"):
// a throw-away test-mode Wristband for a suite, started from the binary, its
// address read from the listening line.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

export async function startWristband(binary = 'wristband', extraEnv = {}) {
  const server = spawn(binary, ['serve', '--ephemeral'], {
    env: { ...process.env, WRISTBAND_TEST_MODE: 'true', WRISTBAND_JWT_ALG: 'EdDSA', ...extraEnv },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [line] = await once(createInterface({ input: server.stdout }), 'line');
  if (!line.startsWith('wristband listening on ')) throw new Error(`unexpected first line: ${line}`);
  const url = line.replace('wristband listening on ', '');
  const post = (path, body) => fetch(url + path, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
  }).then((r) => r.json());
  return {
    url,
    createUser: (email, role = 'user') => post('/test/users', { email, role }),
    advanceClock: (advance) => post('/test/clock', { advance }),
    stop: () => server.kill(),
  };
}
