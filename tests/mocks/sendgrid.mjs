// sendgrid.mjs - a local stand-in for SendGrid's v3 mail/send API, for the
// notifier tests and the email benchmark. No dependencies.
//
//   node tests/mocks/sendgrid.mjs PORT [API_KEY]
//
// POST /v3/mail/send   checks "Authorization: Bearer API_KEY" (401 otherwise)
//                      and the body's shape (400 otherwise), records it, and
//                      answers 202, or the next scripted answer for its
//                      recipient.
// POST /_script        {"to": "a@b", "responses": [{"status": 500},
//                      {"status": 429, "headers": {"Retry-After": "2"}},
//                      {"hang": true}, {"status": 202, "delay": 700}, ...]}:
//                      answers (a delay in ms before one) for the next requests
//                      to that recipient, in order; then 202 again.
// GET  /_requests?to=a@b   [{"at": ms, "status": n, "subject": "..."}]
// GET  /_count         {"requests": n, "accepted": n}
// Prints "ready" when it listens on 127.0.0.1.
import http from 'node:http';

const port = Number(process.argv[2] || 4580);
const key = process.argv[3] || 'test-sendgrid-key';
const scripts = new Map(); // recipient -> [answers]
const log = new Map();     // recipient -> [{at, status, subject}]
let requests = 0;
let accepted = 0;

function reply(res, status, body, headers = {}) {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(body === undefined ? '' : JSON.stringify(body));
}

function readBody(req) {
  return new Promise((resolve) => {
    const parts = [];
    req.on('data', (c) => parts.push(c));
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
  });
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, 'http://127.0.0.1');
  const text = await readBody(req);
  if (req.method === 'POST' && url.pathname === '/_script') {
    const s = JSON.parse(text);
    scripts.set(s.to, s.responses.slice());
    return reply(res, 200, { ok: true });
  }
  if (req.method === 'GET' && url.pathname === '/_requests') {
    return reply(res, 200, log.get(url.searchParams.get('to')) || []);
  }
  if (req.method === 'GET' && url.pathname === '/_count') {
    return reply(res, 200, { requests, accepted });
  }
  if (req.method !== 'POST' || url.pathname !== '/v3/mail/send') {
    return reply(res, 404, { errors: [{ message: 'not found' }] });
  }
  requests++;
  if (req.headers.authorization !== `Bearer ${key}`) {
    return reply(res, 401, { errors: [{ message: 'bad api key' }] });
  }
  let msg;
  try {
    msg = JSON.parse(text);
  } catch {
    return reply(res, 400, { errors: [{ message: 'invalid JSON' }] });
  }
  const to = msg?.personalizations?.[0]?.to?.[0]?.email;
  const ok = to && msg.from?.email && msg.subject && Array.isArray(msg.content) &&
    msg.content.some((c) => c.type === 'text/plain') &&
    msg.content.some((c) => c.type === 'text/html');
  if (!ok) return reply(res, 400, { errors: [{ message: 'missing fields' }] });
  const next = (scripts.get(to) || []).shift() || { status: 202 };
  const entry = { at: Date.now(), status: next.hang ? 0 : next.status, subject: msg.subject };
  if (!log.has(to)) log.set(to, []);
  log.get(to).push(entry);
  if (next.hang) return; // never answers: the client must time out
  if (next.delay) await new Promise((r) => setTimeout(r, next.delay));
  if (next.status >= 200 && next.status < 300) accepted++;
  return reply(res, next.status, next.status === 202 ? undefined : { errors: [{ message: 'scripted' }] },
    next.headers || {});
});

server.keepAliveTimeout = 60000;
server.listen(port, '127.0.0.1', () => console.log('ready'));
