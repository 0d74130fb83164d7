// fcm.mjs - a local stand-in for Firebase Cloud Messaging's HTTP v1 API and
// Google's OAuth2 token endpoint, for the notifier's push tests.
//
//   node tests/mocks/fcm.mjs PORT SERVICE_ACCOUNT_PUBLIC_KEY.pem
//
// POST /token   grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=JWT:
//               the JWT must be RS256, signed by the service account's key,
//               with iss, the FCM scope, aud = this URL and a future exp.
//               Answers {"access_token", "expires_in": 3600}.
// POST /v1/projects/P/messages:send   needs "Authorization: Bearer <issued token>";
//               a device token starting with "gone-" answers 404 UNREGISTERED.
// POST /_script {"token": T, "responses": [{"status": 500}, {"status": 429,
//               "headers": {"Retry-After": "1"}}, {"hang": true}]}: answers for
//               the next sends to device T, in order; then 200 again.
// GET  /_messages?token=T   what was accepted for device T; GET /_attempts?token=T;
// GET  /_count
// Prints "ready" when it listens on 127.0.0.1.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';

const port = Number(process.argv[2]);
const pub = fs.readFileSync(process.argv[3], 'utf8');
const issued = new Set();
const messages = new Map();
const scripts = new Map(); // device token -> [answers]
const attempts = new Map(); // device token -> sends seen
let tokens = 0;
let sent = 0;

function reply(res, status, body) {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
}

function b64url(s) {
  return Buffer.from(s.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
}

function checkAssertion(jwt) {
  const parts = (jwt || '').split('.');
  if (parts.length !== 3) return 'not a JWT';
  const head = JSON.parse(b64url(parts[0]).toString());
  const claims = JSON.parse(b64url(parts[1]).toString());
  if (head.alg !== 'RS256') return 'alg must be RS256';
  const ok = crypto.verify('RSA-SHA256', Buffer.from(parts[0] + '.' + parts[1]), pub,
    b64url(parts[2]));
  if (!ok) return 'bad signature';
  if (!claims.iss || claims.scope !== 'https://www.googleapis.com/auth/firebase.messaging')
    return 'bad iss or scope';
  if (claims.aud !== `http://127.0.0.1:${port}/token`) return 'bad aud';
  if (!(claims.exp > Date.now() / 1000)) return 'expired';
  if (!Number.isInteger(claims.iat) || claims.exp - claims.iat > 3600)
    return 'iat missing or lifetime over an hour';
  return null;
}

const server = http.createServer((req, res) => {
  const parts = [];
  req.on('data', (c) => parts.push(c));
  req.on('end', () => {
    const text = Buffer.concat(parts).toString('utf8');
    const url = new URL(req.url, 'http://127.0.0.1');
    if (req.method === 'POST' && url.pathname === '/token') {
      const form = new URLSearchParams(text);
      if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer')
        return reply(res, 400, { error: 'unsupported_grant_type' });
      const why = checkAssertion(form.get('assertion'));
      if (why) return reply(res, 400, { error: 'invalid_grant', error_description: why });
      const t = 'ya29.' + crypto.randomBytes(16).toString('hex');
      issued.add(t);
      tokens++;
      return reply(res, 200, { access_token: t, expires_in: 3600, token_type: 'Bearer' });
    }
    const m = /^\/v1\/projects\/([^/]+)\/messages:send$/.exec(url.pathname);
    if (req.method === 'POST' && m) {
      const auth = (req.headers.authorization || '').replace(/^Bearer /, '');
      if (!issued.has(auth)) return reply(res, 401, { error: { code: 401, status: 'UNAUTHENTICATED' } });
      const msg = JSON.parse(text).message || {};
      if (!msg.token) return reply(res, 400, { error: { code: 400, status: 'INVALID_ARGUMENT' } });
      attempts.set(msg.token, (attempts.get(msg.token) || 0) + 1);
      const next = (scripts.get(msg.token) || []).shift();
      if (next && next.hang) return; // never answers
      if (next) {
        res.writeHead(next.status, { 'Content-Type': 'application/json', ...(next.headers || {}) });
        return res.end(JSON.stringify({ error: { code: next.status, status: 'SCRIPTED' } }));
      }
      if (msg.token.startsWith('gone-')) {
        return reply(res, 404, { error: { code: 404, status: 'NOT_FOUND', details: [
          { '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode: 'UNREGISTERED' }] } });
      }
      if (!messages.has(msg.token)) messages.set(msg.token, []);
      messages.get(msg.token).push({ project: m[1], title: msg.notification?.title,
        body: msg.notification?.body, data: msg.data });
      sent++;
      return reply(res, 200, { name: `projects/${m[1]}/messages/${sent}` });
    }
    if (req.method === 'POST' && url.pathname === '/_script') {
      const sc = JSON.parse(text);
      scripts.set(sc.token, sc.responses.slice());
      return reply(res, 200, { ok: true });
    }
    if (req.method === 'GET' && url.pathname === '/_attempts')
      return reply(res, 200, { attempts: attempts.get(url.searchParams.get('token')) || 0 });
    if (req.method === 'GET' && url.pathname === '/_messages')
      return reply(res, 200, messages.get(url.searchParams.get('token')) || []);
    if (req.method === 'GET' && url.pathname === '/_count') return reply(res, 200, { tokens, sent });
    return reply(res, 404, { error: { code: 404, status: 'NOT_FOUND' } });
  });
});
server.listen(port, '127.0.0.1', () => console.log('ready'));
