// The Express peer of the benchmark: register, login and a protected
// GET /api/me, written the way tutorials teach it (express, jsonwebtoken,
// bcryptjs, users in memory). JWT_KEY=string verifies with the secret as a
// string, as the tutorials do; JWT_KEY=keyobject verifies with a KeyObject
// built once, as a tuned Node service would. The first stdout line is
// "express listening on http://HOST:PORT", like Wristband's.
'use strict';
const crypto = require('node:crypto');
const express = require('express');
const jwt = require('jsonwebtoken');
const bcrypt = require('bcryptjs');

const secret = process.env.JWT_SECRET;
if (!secret) {
  console.error('JWT_SECRET is required');
  process.exit(2);
}
const key = process.env.JWT_KEY === 'keyobject' ? crypto.createSecretKey(Buffer.from(secret)) : secret;
const cost = Number(process.env.BCRYPT_COST || 10);
const users = new Map(); // email -> {id, email, hash, createdAt}
const byId = new Map();

const app = express();
app.use(express.json());

app.post('/api/register', async (req, res) => {
  const { email, password } = req.body || {};
  if (typeof email !== 'string' || typeof password !== 'string' || password.length < 8) {
    return res.status(400).json({ error: 'invalid_request' });
  }
  if (users.has(email)) return res.status(409).json({ error: 'email_taken' });
  const user = { id: crypto.randomUUID(), email, hash: await bcrypt.hash(password, cost), createdAt: new Date() };
  users.set(email, user);
  byId.set(user.id, user);
  res.status(201).json({ user: { id: user.id, email } });
});

app.post('/api/login', async (req, res) => {
  const { email, password } = req.body || {};
  const user = users.get(email);
  if (!user || !(await bcrypt.compare(String(password), user.hash))) {
    return res.status(401).json({ error: 'invalid_credentials' });
  }
  const token = jwt.sign({ sub: user.id }, key, { algorithm: 'HS256', expiresIn: '1h', issuer: 'wristband', audience: 'wristband' });
  res.json({ access_token: token, token_type: 'Bearer', expires_in: 3600 });
});

function authenticate(req, res, next) {
  const header = req.headers.authorization || '';
  const token = header.startsWith('Bearer ') ? header.slice(7) : null;
  if (!token) return res.status(401).json({ error: 'missing_token' });
  try {
    req.user = jwt.verify(token, key, { algorithms: ['HS256'], issuer: 'wristband', audience: 'wristband' });
    next();
  } catch (e) {
    res.status(401).json({ error: 'invalid_token' });
  }
}

app.get('/api/me', authenticate, (req, res) => {
  const user = byId.get(req.user.sub);
  if (!user) return res.status(401).json({ error: 'invalid_token' });
  res.json({ id: user.id, email: user.email, role: 'user', disabled: false, created_at: user.createdAt.toISOString() });
});

const server = app.listen(Number(process.env.PORT || 0), '127.0.0.1', () => {
  const { address, port } = server.address();
  console.log(`express listening on http://${address}:${port}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
