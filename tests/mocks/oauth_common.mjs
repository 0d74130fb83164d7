// oauth_common.mjs - what the local OAuth stand-ins (google.mjs and
// github.mjs) share: the command line, the state each keeps, the test
// controls under /_ (/_users, /_clients, /_config, /_fail, /_reset, /_log),
// the failure scripts and modes, the request log, JSON, HTML and redirect
// answers, the consent page, client authentication, PKCE, code and token
// bookkeeping, and the server. Each stand-in keeps its provider's own
// shapes: paths, parameters, users, tokens and error bodies. No
// dependencies; imported, not run.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';

export const HUGE = 5 * 1024 * 1024; // the padding of mode "huge"
export const MODES = ['500', 'hang', 'badjson', 'huge', 'slow']; // those of every endpoint

export const sha256 = (s) => crypto.createHash('sha256').update(s).digest();
export const cap = (s) => s.charAt(0).toUpperCase() + s.slice(1);

export function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

// node SCRIPT PORT CLIENT_ID CLIENT_SECRET [--tls-cert FILE --tls-key FILE];
// the client's id and secret default to defaults.id and defaults.secret.
// Exits 2 with the usage when PORT is missing or only one TLS file is given.
export function parseArgs(script, defaults) {
  const args = process.argv.slice(2);
  const pos = [];
  const tls = {};
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--tls-cert' || args[i] === '--tls-key') tls[args[i].slice(6)] = args[++i];
    else pos.push(args[i]);
  }
  if (!pos[0] || !tls.cert !== !tls.key) {
    console.error(`usage: node ${script} PORT CLIENT_ID CLIENT_SECRET [--tls-cert FILE --tls-key FILE]`);
    process.exit(2);
  }
  return {
    port: Number(pos[0]), tls, scheme: tls.cert ? 'https' : 'http',
    mainClient: { id: pos[1] || defaults.id, secret: pos[2] || defaults.secret },
  };
}

// A stand-in's state: users (lower-case key -> user), clients (id -> secret),
// config, scripts (pending failures), log (the last requests) and a Map of
// each name in maps (codes, tokens, ...). reset() puts it back to the start,
// the one user firstUser() gives ([key, user]) and mainClient only; the
// objects stay the same ones, emptied.
export function createStore(mainClient, firstUser, maps) {
  const store = { users: new Map(), clients: new Map(), config: {}, scripts: [], log: [] };
  for (const name of maps) store[name] = new Map();
  store.reset = () => {
    store.users.clear();
    store.users.set(...firstUser());
    store.clients.clear();
    store.clients.set(mainClient.id, mainClient.secret);
    for (const k of Object.keys(store.config)) delete store.config[k];
    Object.assign(store.config, { auto_consent: true, code_ttl: 60, token_ttl: 3600 });
    store.scripts.length = 0;
    store.log.length = 0;
    for (const name of maps) store[name].clear();
  };
  store.reset();
  return store;
}

// The answers of a stand-in, each given ctx {res, mode}: reply (JSON with
// the headers, then the call's own), page (an HTML error page), redirect (a
// 302 of type redirectType whose body redirectHtml(href) makes) and consent
// (the Allow/Deny form). With mode "huge" a JSON object (and an array too
// when padArrays) gets a 5 MiB "padding", and the HTML ones answer JSON.
export function answers({ headers: always = {}, padArrays = false, redirectType, redirectHtml }) {
  function reply(ctx, status, body, headers = {}) {
    if (ctx.mode === 'huge' && body && typeof body === 'object' && (padArrays || !Array.isArray(body))) {
      body = Array.isArray(body) ? [...body, { padding: 'x'.repeat(HUGE) }] : { ...body, padding: 'x'.repeat(HUGE) };
    }
    ctx.res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', ...always, ...headers });
    ctx.res.end(JSON.stringify(body));
  }
  function page(ctx, status, title, text) {
    if (ctx.mode === 'huge') return reply(ctx, 200, { error: title });
    ctx.res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8' });
    ctx.res.end(`<!doctype html><html><head><meta charset="utf-8"><title>${esc(title)}</title></head>` +
      `<body><h1>${esc(title)}</h1><p>${esc(text)}</p></body></html>\n`);
  }
  function redirect(ctx, base, params) {
    const u = new URL(base);
    for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null) u.searchParams.append(k, v);
    if (ctx.mode === 'huge') return reply(ctx, 200, { location: u.toString() });
    ctx.res.writeHead(302, { Location: u.toString(), 'Content-Type': redirectType });
    ctx.res.end(redirectHtml(esc(u)));
  }
  // The consent page: title, heading and text are HTML (escaped by the
  // caller); the form POSTs the request's parameters p back to action.
  function consent(ctx, p, { title, heading, text, action }) {
    const hidden = Object.entries(p).filter(([k]) => k !== 'decision')
      .map(([k, v]) => `<input type="hidden" name="${esc(k)}" value="${esc(v)}">`).join('\n');
    if (ctx.mode === 'huge') return reply(ctx, 200, { consent: true });
    ctx.res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    return ctx.res.end(`<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head>
<body><h1>${heading}</h1>
<p>${text}</p>
<form method="post" action="${action}">
${hidden}
<button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form></body></html>\n`);
  }
  return { reply, page, redirect, consent };
}

// The client of a token request: HTTP Basic (form-decoded halves) or the
// body's (or query's) client_id and client_secret.
export function clientAuth(req, p) {
  const m = /^Basic\s+(\S+)/i.exec(req.headers.authorization || '');
  if (m) {
    const s = Buffer.from(m[1], 'base64').toString('utf8');
    const i = s.indexOf(':');
    const dec = (x) => { try { return decodeURIComponent(x.replace(/\+/g, ' ')); } catch { return x; } };
    if (i >= 0) return { id: dec(s.slice(0, i)), secret: dec(s.slice(i + 1)) };
  }
  return { id: p.client_id, secret: p.client_secret };
}

// Why verifier does not answer code c's challenge (RFC 7636), or null when
// it does or c has none.
export function pkceProblem(c, verifier) {
  if (!c.challenge) return null;
  if (!verifier) return 'Missing code verifier.';
  if (!/^[A-Za-z0-9._~-]{43,128}$/.test(verifier)) return 'Invalid code verifier.';
  const got = c.method === 'plain' ? verifier : sha256(verifier).toString('base64url');
  return got === c.challenge ? null : 'Invalid code verifier.';
}

// Keeps an authorization code of the /authorize request p for the user of
// key with scopes (and extra members), for config.code_ttl seconds.
export function keepCode(store, code, p, key, scopes, extra = {}) {
  store.codes.set(code, {
    client: p.client_id, redirect_uri: p.redirect_uri, challenge: p.code_challenge || null,
    method: p.code_challenge_method || null, key, scopes, ...extra,
    exp: Date.now() + store.config.code_ttl * 1000,
  });
}

// The record of code when client may use it: spent by this first attempt of
// its own client, right or wrong. null when it is unknown, another client's,
// expired or its user is gone.
export function spendCode(store, code, client) {
  const c = code && store.codes.get(code);
  if (!c || c.client !== client) return null;
  store.codes.delete(code);
  return c.exp < Date.now() || !store.users.has(c.key) ? null : c;
}

// Keeps an access token for config.token_ttl seconds.
export function keepToken(store, token, client, key, scopes) {
  store.tokens.set(token, { client, key, scopes, exp: Date.now() + store.config.token_ttl * 1000 });
}

// The live token of the request's Authorization header (scheme: a regular
// expression whose group is the token) whose user is still there, or null.
export function bearerOf(store, req, scheme) {
  const m = scheme.exec(req.headers.authorization || '');
  const t = m && store.tokens.get(m[1]);
  return t && t.exp > Date.now() && store.users.has(t.key) ? t : null;
}

// Runs a stand-in on 127.0.0.1:port (HTTPS with tls.cert and tls.key) and
// prints "ready". A request under /_ is a test control (not logged). Any
// other: its parameters (query, then a JSON or form body) p, its endpoint
// endpointOf(path), and for one of endpoints the first pending script that
// matches(script, endpoint, userOf(endpoint, req, p)) gives the mode
// (ctx.mode). The request is logged; mode hang never answers, 500 answers
// serverError, badjson the text badJson, slow waits 3 s; then
// route(ctx, req, p, endpoint) answers. register(user) makes a user for
// /_users; extraModes[endpoint] are the modes it has beyond MODES;
// scriptFields(s) the members of a script beyond endpoint, mode, count and
// email; notFound is the body of an unknown control; crash(detail) the body
// when the stand-in itself fails.
export function serve(m) {
  const { store, reply } = m;
  const { users, clients, config, scripts, log } = store;

  function takeFail(endpoint, user) {
    const i = scripts.findIndex((s) => s.endpoint === endpoint && s.count > 0 && m.matches(s, endpoint, user));
    if (i < 0) return null;
    const s = scripts[i];
    if (--s.count <= 0) scripts.splice(i, 1);
    return s.mode;
  }

  function control(ctx, req, path, text, url) {
    const json = () => (text ? JSON.parse(text) : {});
    if (req.method === 'POST' && path === '/_users') {
      const list = [].concat(json());
      return reply(ctx, 200, { ok: true, users: list.map(m.register) });
    }
    if (req.method === 'GET' && path === '/_users') return reply(ctx, 200, [...users.values()]);
    if (req.method === 'POST' && path === '/_clients') {
      for (const c of [].concat(json())) {
        if (!c.client_id || !c.client_secret) throw new Error('a client needs client_id and client_secret');
        clients.set(c.client_id, c.client_secret);
      }
      return reply(ctx, 200, { ok: true, clients: [...clients.keys()] });
    }
    if (path === '/_config') {
      if (req.method === 'POST') {
        const c = json();
        if ('auto_consent' in c) config.auto_consent = Boolean(c.auto_consent);
        if ('code_ttl' in c) config.code_ttl = Number(c.code_ttl);
        if ('token_ttl' in c) config.token_ttl = Number(c.token_ttl);
      }
      return reply(ctx, 200, config);
    }
    if (req.method === 'POST' && path === '/_fail') {
      const s = json();
      const mode = String(s.mode);
      if (!m.endpoints.includes(s.endpoint)) throw new Error(`endpoint must be one of ${m.endpoints.join(', ')}`);
      if (!MODES.includes(mode) && !(m.extraModes[s.endpoint] || []).includes(mode)) {
        throw new Error(`mode ${mode} is not known for ${s.endpoint}`);
      }
      scripts.push({
        endpoint: s.endpoint, mode, count: s.count === undefined ? 1 : Number(s.count),
        email: s.email || null, ...(m.scriptFields ? m.scriptFields(s) : {}),
      });
      return reply(ctx, 200, { ok: true, pending: scripts.length });
    }
    if (req.method === 'GET' && path === '/_fail') return reply(ctx, 200, scripts);
    if (req.method === 'POST' && path === '/_reset') { store.reset(); return reply(ctx, 200, { ok: true }); }
    if (req.method === 'GET' && path === '/_log') {
      const e = url.searchParams.get('endpoint');
      return reply(ctx, 200, e ? log.filter((l) => l.endpoint === e) : log);
    }
    return reply(ctx, 404, m.notFound);
  }

  async function handle(req, res, text) {
    const url = new URL(req.url, 'http://127.0.0.1');
    const path = url.pathname;
    const ctx = { res, mode: null };
    if (path.startsWith('/_')) {
      try { return control(ctx, req, path, text, url); } catch (e) { return reply(ctx, 400, { error: String(e.message) }); }
    }
    const p = Object.fromEntries(url.searchParams);
    const ct = String(req.headers['content-type'] || '');
    if (text) {
      if (ct.includes('application/json')) {
        try { Object.assign(p, JSON.parse(text)); } catch { /* left as is */ }
      } else Object.assign(p, Object.fromEntries(new URLSearchParams(text)));
    }
    const endpoint = m.endpointOf(path);
    ctx.mode = m.endpoints.includes(endpoint) ? takeFail(endpoint, m.userOf(endpoint, req, p)) : null;
    const logged = { ...p };
    for (const k of ['client_secret', 'code_verifier']) if (k in logged) logged[k] = '<set>';
    log.push({
      at: Date.now(), method: req.method, path, endpoint, fail: ctx.mode, params: logged,
      headers: {
        accept: req.headers.accept ?? null, user_agent: req.headers['user-agent'] ?? null,
        authorization: req.headers.authorization ? '<set>' : null, content_type: req.headers['content-type'] ?? null,
      },
    });
    if (log.length > 200) log.splice(0, log.length - 200);

    if (ctx.mode === 'hang') return; // never answers; the socket stays open
    if (ctx.mode === '500') return reply(ctx, 500, m.serverError);
    if (ctx.mode === 'badjson') {
      res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8' });
      return res.end(m.badJson);
    }
    if (ctx.mode === 'slow') await new Promise((r) => setTimeout(r, 3000));
    return m.route(ctx, req, p, endpoint);
  }

  function onRequest(req, res) {
    const parts = [];
    req.on('data', (c) => parts.push(c));
    req.on('end', () => {
      handle(req, res, Buffer.concat(parts).toString('utf8')).catch((e) => {
        if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(m.crash(String(e && e.stack))));
      });
    });
  }

  const server = m.tls.cert
    ? https.createServer({ cert: fs.readFileSync(m.tls.cert), key: fs.readFileSync(m.tls.key) }, onRequest)
    : http.createServer(onRequest);
  server.keepAliveTimeout = 60000;
  server.listen(m.port, '127.0.0.1', () => console.log('ready'));
  return server;
}
