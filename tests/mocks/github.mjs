// github.mjs - a local stand-in for GitHub's OAuth app web application flow
// (github.com's /login/oauth/* and api.github.com's /user and /user/emails,
// all on one port), for the external-provider tests. No dependencies but
// oauth_common.mjs beside it (what it shares with google.mjs: the command
// line, the test controls, the failure scripts, the log and the server).
//
//   node tests/mocks/github.mjs PORT CLIENT_ID CLIENT_SECRET [--tls-cert FILE --tls-key FILE]
//
// With --tls-cert and --tls-key it speaks HTTPS instead of HTTP.
//
// GET  /login/oauth/authorize   client_id, redirect_uri, scope (space or comma
//          separated), state, login (the user; an unknown one is made from
//          it, none is "octocat"), allow_signup, prompt, code_challenge,
//          code_challenge_method (S256 or plain, required with a challenge).
//          An unknown client_id, no or a bad redirect_uri, another method: 400
//          page, no redirect. Else 302 to redirect_uri?code=&state= (state
//          echoed when given); a user whose login or email begins with "deny":
//          ?error=access_denied&error_description=The+user+has+denied+your
//          +application+access.&error_uri=...&state=. With auto_consent off a
//          consent page whose Allow/Deny form POSTs back to the same path.
// POST /login/oauth/access_token   client_id, client_secret (body, query or
//          HTTP Basic), code, redirect_uri (if given, as at authorize; GitHub
//          lets it out), code_verifier (when a challenge was given), grant_type
//          (none or authorization_code); a form or JSON body. "Accept:
//          application/json": {"access_token": "gho_...", "token_type":
//          "bearer", "scope": "read:user,user:email"}; else the same as
//          application/x-www-form-urlencoded text. Errors are 200s in the same
//          shape: {"error": "bad_verification_code" | "incorrect_client_credentials"
//          | "redirect_uri_mismatch" | "unsupported_grant_type",
//          "error_description", "error_uri"}. Codes are single-use (spent by
//          the first attempt of their own client, right or wrong), live 60 s.
// GET  /user, /user/emails (also under /api/v3)   "Authorization: Bearer T" or
//          "token T"; no User-Agent: 403 text; no or a bad token: 401
//          {"message": "Bad credentials", "documentation_url", "status"}.
//          /user {"login", "id", "node_id", "avatar_url", "html_url", "type":
//          "User", "name", "email" (public or null), "created_at", ...};
//          /user/emails [{"email", "primary", "verified", "visibility"}].
//          X-OAuth-Scopes says the token's scopes (they are not enforced).
//
// Test controls (not logged):
// POST /_users    a user or an array of them, {id, login, name, email (public,
//                 may be null), avatar_url, emails: [{email, primary, verified,
//                 visibility}]}, replaced by login (case-insensitive); missing
//                 fields are derived from the login. GET /_users lists them.
// POST /_clients  {"client_id", "client_secret"} or an array: more clients.
// POST /_config   {"auto_consent": bool, "code_ttl": s, "token_ttl": s}; GET too.
// POST /_fail     {"endpoint": "authorize|token|user|emails", "mode": M,
//                 "count": 1, "email" or "login": optional}: the next count
//                 requests to the endpoint (of that user only, the user being
//                 known from the login hint, code or token) fail: 500, hang
//                 (never answered), badjson (200, not JSON), huge (the answer
//                 with a 5 MiB "padding", a last element of /user/emails),
//                 slow (answered after 3 s); for emails also forbidden (403, as
//                 without the user:email scope). 500, hang and badjson leave
//                 the code unspent. GET /_fail lists what is pending.
// POST /_reset    back to the start: default user and client only, no
//                 scripts, codes, tokens, config or log.
// GET  /_log[?endpoint=E]   the last 200 requests: [{at, method, path,
//                 endpoint, fail, params (query + body; client_secret and
//                 code_verifier "<set>"), headers: {accept, user_agent,
//                 authorization: "<set>" | null, content_type}}].
// Prints "ready" when it listens on 127.0.0.1.
import crypto from 'node:crypto';
import {
  HUGE, answers, bearerOf, cap, clientAuth, createStore, esc, keepCode, keepToken, parseArgs,
  pkceProblem, serve, sha256, spendCode,
} from './oauth_common.mjs';

const { port, tls, scheme, mainClient } =
  parseArgs('github.mjs', { id: 'Iv1.umstest0000000000', secret: 'ums-test-github-secret' });
const ENDPOINTS = ['authorize', 'token', 'user', 'emails'];
const TROUBLE = 'https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/';
const ERRORS = {
  bad_verification_code: ['The code passed is incorrect or expired.', TROUBLE + '#bad-verification-code'],
  incorrect_client_credentials: ['The client_id and/or client_secret passed are incorrect.', TROUBLE + '#incorrect-client-credentials'],
  redirect_uri_mismatch: ['The redirect_uri MUST match the registered callback URL for this application.', TROUBLE + '#redirect-uri-mismatch'],
  unsupported_grant_type: ['The grant type is not supported.', TROUBLE],
};
const DENIED_URI = 'https://docs.github.com/apps/managing-oauth-apps/troubleshooting-authorization-request-errors/#access-denied';
const NO_UA = 'Request forbidden by administrative rules. Please make sure your request has a User-Agent header ' +
  '(https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required). ' +
  'Check https://developer.github.com for other possible causes.\n';

function makeUser(login) {
  const h = sha256(login.toLowerCase());
  const id = (h.readUInt32BE(0) & 0x7fffffff) || 1;
  const created = Date.UTC(2008, 0, 1) + (h.readUInt32BE(4) % (15 * 365 * 86400)) * 1000;
  return {
    id, login, name: login.split(/[-_.]+/).filter(Boolean).map(cap).join(' ') || login, email: null,
    avatar_url: `https://avatars.githubusercontent.example/u/${id}?v=4`,
    created_at: new Date(created).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    emails: [{ email: `${login}@users.noreply.example`, primary: true, verified: true, visibility: 'private' }],
  };
}
const defaultUser = () => ({
  ...makeUser('octocat'), id: 583231, name: 'The Octocat', created_at: '2011-01-25T18:44:36Z',
  avatar_url: 'https://avatars.githubusercontent.example/u/583231?v=4',
  emails: [{ email: 'octocat@github.example', primary: true, verified: true, visibility: 'public' },
    { email: '583231+octocat@users.noreply.example', primary: false, verified: true, visibility: null }],
});

// users: lower-case login -> user; scripts: [{endpoint, mode, count, email, login}];
// codes: code -> {client, redirect_uri, challenge, method, key, scopes, exp};
// tokens: access token -> {client, key, scopes, exp}.
const store = createStore(mainClient, () => ['octocat', defaultUser()], ['codes', 'tokens']);
const { users, clients, config, codes } = store;

function register(u) {
  if (!u || typeof u.login !== 'string' || !u.login) throw new Error('a user needs a login');
  const user = { ...makeUser(u.login), ...u };
  if (!Array.isArray(u.emails)) {
    if (u.email) user.emails = [{ email: u.email, primary: true, verified: true, visibility: 'public' }];
  }
  if (u.id !== undefined) user.id = Number(u.id);
  if (!u.avatar_url) user.avatar_url = `https://avatars.githubusercontent.example/u/${user.id}?v=4`;
  users.set(u.login.toLowerCase(), user);
  return user;
}

function userFor(login) {
  if (!login) return users.get('octocat') || register(defaultUser());
  return users.get(login.toLowerCase()) || register(makeUser(login));
}

const emailsOf = (u) => [u.email, ...(u.emails || []).map((e) => e.email)].filter(Boolean).map((e) => e.toLowerCase());

// A script with an email or a login fails that user's requests only.
const scriptMatches = (s, endpoint, user) =>
  (!s.email || (user && emailsOf(user).includes(s.email.toLowerCase()))) &&
  (!s.login || (user && user.login.toLowerCase() === s.login.toLowerCase()));

// "huge" pads whatever JSON goes out, arrays too.
const { reply, page, redirect, consent } = answers({
  padArrays: true,
  redirectType: 'text/html; charset=utf-8',
  redirectHtml: (href) => `<html><body>You are being <a href="${href}">redirected</a>.</body></html>`,
});

const scopesOf = (s) => [...new Set(String(s || '').split(/[\s,]+/).filter(Boolean))];

function authorize(ctx, p, post) {
  if (!p.client_id || !clients.has(p.client_id)) {
    return page(ctx, 400, 'Error: unknown client', 'No OAuth application has this client_id.');
  }
  if (!p.redirect_uri) return page(ctx, 400, 'Error: redirect_uri', 'The redirect_uri is missing.');
  try { new URL(p.redirect_uri); } catch {
    return page(ctx, 400, 'Error: redirect_uri', 'The redirect_uri is not a URL.');
  }
  if (p.code_challenge_method && !p.code_challenge) {
    return page(ctx, 400, 'Error: invalid_request', 'code_challenge_method without code_challenge.');
  }
  if (p.code_challenge && !['S256', 'plain'].includes(p.code_challenge_method)) {
    return page(ctx, 400, 'Error: invalid_request', `code_challenge_method must be S256, not "${p.code_challenge_method || ''}".`);
  }
  const user = userFor(p.login);
  const denied = {
    error: 'access_denied', error_description: 'The user has denied your application access.',
    error_uri: DENIED_URI, state: p.state,
  };
  if (user.login.toLowerCase().startsWith('deny') || emailsOf(user).some((e) => e.startsWith('deny'))) {
    return redirect(ctx, p.redirect_uri, denied);
  }
  const sc = scopesOf(p.scope);
  if (post) {
    if (p.decision !== 'allow') return redirect(ctx, p.redirect_uri, denied);
  } else if (!config.auto_consent) {
    return consent(ctx, p, {
      title: 'Authorize application', heading: `Authorize ${esc(p.client_id)}`,
      text: `Signed in as ${esc(user.login)}; scopes: ${esc(sc.join(', ') || '(public data only)')}`,
      action: '/login/oauth/authorize',
    });
  }
  const code = crypto.randomBytes(10).toString('hex');
  keepCode(store, code, p, user.login.toLowerCase(), sc);
  return redirect(ctx, p.redirect_uri, { code, state: p.state });
}

function tokenReply(ctx, req, body) {
  if (String(req.headers.accept || '').includes('application/json')) return reply(ctx, 200, body);
  if (ctx.mode === 'huge') body = { ...body, padding: 'x'.repeat(HUGE) };
  ctx.res.writeHead(200, { 'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8' });
  return ctx.res.end(new URLSearchParams(body).toString());
}

function token(ctx, req, p) {
  const fail = (error, desc) => tokenReply(ctx, req, { error, error_description: desc || ERRORS[error][0], error_uri: ERRORS[error][1] });
  const { id, secret } = clientAuth(req, p);
  if (!id || !clients.has(id) || clients.get(id) !== secret) return fail('incorrect_client_credentials');
  if (p.grant_type && p.grant_type !== 'authorization_code') return fail('unsupported_grant_type');
  const c = spendCode(store, p.code, id);
  if (!c) return fail('bad_verification_code');
  if (p.redirect_uri && p.redirect_uri !== c.redirect_uri) return fail('redirect_uri_mismatch');
  if (pkceProblem(c, p.code_verifier)) return fail('bad_verification_code', 'The code_verifier does not match the code_challenge.');
  const alnum = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const at = 'gho_' + Array.from(crypto.randomBytes(36), (b) => alnum[b % alnum.length]).join('');
  keepToken(store, at, id, c.key, c.scopes);
  return tokenReply(ctx, req, { access_token: at, token_type: 'bearer', scope: c.scopes.join(',') });
}

const bearer = (req) => bearerOf(store, req, /^(?:Bearer|token)\s+(\S+)\s*$/i);

function api(ctx, req, endpoint) {
  if (!req.headers['user-agent']) {
    ctx.res.writeHead(403, { 'Content-Type': 'text/plain; charset=utf-8' });
    return ctx.res.end(NO_UA);
  }
  const docs = endpoint === 'user' ? 'https://docs.github.com/rest/users/users#get-the-authenticated-user'
    : 'https://docs.github.com/rest/users/emails#list-email-addresses-for-the-authenticated-user';
  if (!req.headers.authorization) {
    return reply(ctx, 401, { message: 'Requires authentication', documentation_url: docs, status: '401' });
  }
  const t = bearer(req);
  if (!t) return reply(ctx, 401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest', status: '401' });
  const headers = { 'X-OAuth-Scopes': t.scopes.join(', '), 'X-Accepted-OAuth-Scopes': endpoint === 'user' ? '' : 'user' };
  if (ctx.mode === 'forbidden') {
    return reply(ctx, 403, { message: 'Resource not accessible by integration', documentation_url: docs, status: '403' }, headers);
  }
  const u = users.get(t.key);
  if (endpoint === 'emails') {
    return reply(ctx, 200, (u.emails || []).map((e) => ({
      email: e.email, primary: Boolean(e.primary), verified: Boolean(e.verified),
      visibility: e.visibility === undefined ? null : e.visibility,
    })), headers);
  }
  const base = `${scheme}://${req.headers.host || `127.0.0.1:${port}`}`;
  return reply(ctx, 200, {
    login: u.login, id: u.id, node_id: Buffer.from(`04:User${u.id}`).toString('base64'),
    avatar_url: u.avatar_url, gravatar_id: '', url: `${base}/users/${u.login}`,
    html_url: `https://github.example/${u.login}`, type: 'User', site_admin: false,
    name: u.name ?? null, company: null, blog: '', location: null, email: u.email ?? null,
    hireable: null, bio: null, public_repos: 0, followers: 0, following: 0,
    created_at: u.created_at, updated_at: u.created_at,
  }, headers);
}

function endpointOf(path) {
  if (path === '/login/oauth/authorize') return 'authorize';
  if (path === '/login/oauth/access_token') return 'token';
  const p = path.replace(/^\/api\/v3(?=\/)/, '');
  if (p === '/user') return 'user';
  if (p === '/user/emails') return 'emails';
  return 'unknown';
}

function userOf(endpoint, req, p) {
  if (endpoint === 'authorize') return p.client_id && clients.has(p.client_id) ? userFor(p.login) : null;
  if (endpoint === 'token') { const c = p.code && codes.get(p.code); return c ? users.get(c.key) : null; }
  const t = bearer(req);
  return t ? users.get(t.key) : null;
}

function route(ctx, req, p, endpoint) {
  if (endpoint === 'authorize' && (req.method === 'GET' || req.method === 'POST')) return authorize(ctx, p, req.method === 'POST');
  if (endpoint === 'token' && req.method === 'POST') return token(ctx, req, p);
  if ((endpoint === 'user' || endpoint === 'emails') && req.method === 'GET') return api(ctx, req, endpoint);
  return reply(ctx, 404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest', status: '404' });
}

serve({
  port, tls, store, reply, register, endpoints: ENDPOINTS, extraModes: { emails: ['forbidden'] },
  scriptFields: (s) => ({ login: s.login || null }), matches: scriptMatches, endpointOf, userOf, route,
  serverError: { message: 'Server Error' },
  badJson: '{"login": "octocat", <html><body>Unicorn!</body></html>',
  notFound: { message: 'Not Found' },
  crash: (detail) => ({ message: 'mock failure', detail }),
});
