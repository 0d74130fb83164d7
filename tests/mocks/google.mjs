// google.mjs - a local stand-in for Google's OAuth 2.0 / OpenID Connect
// web-server flow (accounts.google.com, oauth2.googleapis.com,
// openidconnect.googleapis.com and www.googleapis.com, all on one port), for
// the external-provider tests. No dependencies but oauth_common.mjs beside it
// (what it shares with github.mjs: the command line, the test controls, the
// failure scripts, the log and the server).
//
//   node tests/mocks/google.mjs PORT CLIENT_ID CLIENT_SECRET [--tls-cert FILE --tls-key FILE]
//
// With --tls-cert and --tls-key it speaks HTTPS instead of HTTP.
//
// GET  /o/oauth2/v2/auth   client_id, redirect_uri, response_type=code, scope
//          (space separated; openid for an id_token, email and profile for
//          those claims), state, code_challenge, code_challenge_method (S256 or
//          plain, required with a challenge), nonce, login_hint (an email or a
//          sub: the user; an unknown one is made from it, none is
//          default@gmail.example), prompt, access_type, include_granted_scopes.
//          An unknown client_id, no or a bad redirect_uri, no scope, another
//          response_type or method: 400 page, no redirect. Else 302 to
//          redirect_uri?code=&state=&scope=&authuser=0&prompt=consent
//          &iss=https://accounts.google.com (state echoed when given); a user
//          whose email begins with "deny": ?error=access_denied
//          &error_description=&state=&iss=. With auto_consent off a consent
//          page whose Allow/Deny form POSTs back to /o/oauth2/v2/auth
//          (prompt=none then redirects with error=consent_required).
// POST /token   form (or JSON) body; client_id/client_secret in the body or
//          HTTP Basic. grant_type=authorization_code with code, redirect_uri
//          (as at authorize), code_verifier (when a challenge was given):
//          {"access_token": "ya29.", "expires_in": 3599, "refresh_token": "1//",
//          "scope", "token_type": "Bearer", "id_token"} (id_token with openid).
//          grant_type=refresh_token with refresh_token: the same without
//          refresh_token. Codes are single-use (spent by the first attempt of
//          their own client, right or wrong) and live 60 s. Errors as Google's:
//          401 {"error": "invalid_client"}, 400 {"error": "invalid_grant" |
//          "invalid_request" | "redirect_uri_mismatch" | "unsupported_grant_type"}.
//          id_token: RS256, header {alg, kid, typ: "JWT"}; claims iss, azp, aud,
//          sub, hd (if the user has one), email, email_verified, at_hash, nonce,
//          name, picture, given_name, family_name, iat, exp = iat + 3600.
// GET|POST /v1/userinfo (also /oauth2/v3/userinfo)   "Authorization: Bearer T":
//          {"sub", "name", "given_name", "family_name", "picture", "email",
//          "email_verified"} (as the scopes allow); 401 {"error":
//          "invalid_request", "error_description": "Invalid Credentials"} else.
// GET  /oauth2/v3/certs    {"keys": [an unrelated key, the signing key]}: JWKs
//          {kty, alg: "RS256", use: "sig", kid, n, e}.
// GET  /.well-known/openid-configuration   discovery, URLs on this port.
// POST /revoke?token=T (or form)   200 {} or 400 {"error": "invalid_token"}.
//
// Test controls (not logged):
// POST /_users    a user or an array of them, {sub, email, email_verified,
//                 name, picture, given_name, family_name[, hd]}, replaced by
//                 email; missing fields are derived from the email (a null
//                 field is left out). GET /_users lists them.
// POST /_clients  {"client_id", "client_secret"} or an array: more clients.
// POST /_config   {"auto_consent": bool, "code_ttl": s, "token_ttl": s}; GET too.
// POST /_fail     {"endpoint": "authorize|token|userinfo|certs|discovery|revoke",
//                 "mode": M, "count": 1, "email": optional}: the next count
//                 requests to the endpoint (of that user only, the user being
//                 known from the hint, code, refresh or access token) fail:
//                 500, hang (never answered), badjson (200, not JSON), huge (the
//                 answer with a 5 MiB "padding" field), slow (answered after
//                 3 s); for token also, on the id_token only: badsig (another
//                 key, same kid), wrongaud, expired (exp an hour ago, iat two),
//                 wrongnonce, wrongiss, noidtoken. 500, hang and badjson leave
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
  answers, bearerOf, cap, clientAuth, createStore, esc, keepCode, keepToken, parseArgs, pkceProblem,
  serve, sha256, spendCode,
} from './oauth_common.mjs';

const { port, tls, scheme, mainClient } =
  parseArgs('google.mjs', { id: 'ums-test.apps.googleusercontent.com', secret: 'GOCSPX-ums-test' });
const ISS = 'https://accounts.google.com';
const EMAIL_SCOPE = 'https://www.googleapis.com/auth/userinfo.email';
const PROFILE_SCOPE = 'https://www.googleapis.com/auth/userinfo.profile';
const ENDPOINTS = ['authorize', 'token', 'userinfo', 'certs', 'discovery', 'revoke'];
const USERLESS = new Set(['certs', 'discovery']);
const TOKEN_MODES = ['badsig', 'wrongaud', 'expired', 'wrongnonce', 'wrongiss', 'noidtoken'];

// Keys: the signing one, an unrelated one also in the set, and a rogue one
// that signs under the first one's kid (badsig).
function newKey() {
  const { publicKey, privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = publicKey.export({ format: 'jwk' });
  const kid = crypto.createHash('sha1').update(jwk.n).digest('hex');
  return { privateKey, kid, jwk: { kty: 'RSA', alg: 'RS256', use: 'sig', kid, n: jwk.n, e: jwk.e } };
}
const signing = newKey();
const unrelated = newKey();
const rogue = newKey();

const b64u = (buf) => Buffer.from(buf).toString('base64url');
const nowS = () => Math.floor(Date.now() / 1000);

function makeUser(email) {
  const h = sha256(email.toLowerCase());
  const sub = '1' + (BigInt('0x' + h.toString('hex')) % 10n ** 20n).toString().padStart(20, '0');
  const parts = email.split('@')[0].split(/[._+-]+/).filter(Boolean).map(cap);
  if (!parts.length) parts.push('User');
  return {
    sub, email, email_verified: true, name: parts.join(' '),
    picture: `https://lh3.googleusercontent.example/a/${h.subarray(0, 12).toString('hex')}=s96-c`,
    given_name: parts[0], family_name: parts.length > 1 ? parts.slice(1).join(' ') : null,
  };
}
const DEFAULT_EMAIL = 'default@gmail.example';
const defaultUser = () => ({ ...makeUser(DEFAULT_EMAIL), name: 'Default User', family_name: 'User' });

// users: lower-case email -> user; scripts: [{endpoint, mode, count, email}];
// codes: code -> {client, redirect_uri, challenge, method, key, scopes, nonce, exp};
// tokens: access token -> {client, key, scopes, exp};
// refreshes: refresh token -> {client, key, scopes}.
const store = createStore(mainClient, () => [DEFAULT_EMAIL, defaultUser()], ['codes', 'tokens', 'refreshes']);
const { users, clients, config, codes, tokens, refreshes } = store;

function register(u) {
  if (!u || typeof u.email !== 'string' || !u.email.includes('@')) throw new Error('a user needs an email');
  const user = { ...makeUser(u.email), ...u };
  users.set(u.email.toLowerCase(), user);
  return user;
}

// login_hint: an email or a sub; an unknown one becomes a user.
function userFor(hint) {
  if (!hint) return users.get(DEFAULT_EMAIL) || register(defaultUser());
  const byEmail = users.get(hint.toLowerCase());
  if (byEmail) return byEmail;
  for (const u of users.values()) if (u.sub === hint) return u;
  return register(makeUser(hint.includes('@') ? hint : `${hint}@gmail.example`));
}

// A script with an email fails that user's requests only (any of certs and
// discovery, which know no user).
const scriptMatches = (s, endpoint, user) =>
  !s.email || USERLESS.has(endpoint) || (user && user.email.toLowerCase() === s.email.toLowerCase());

// "huge" pads whatever JSON object goes out.
const { reply, page, redirect, consent } = answers({
  headers: { 'Cache-Control': 'no-cache, no-store, max-age=0, must-revalidate' },
  redirectType: 'text/html; charset=UTF-8',
  redirectHtml: (href) => `<html><body>Moved to <a href="${href}">here</a>.</body></html>\n`,
});

function scopesOf(scope) {
  return [...new Set(String(scope || '').split(/\s+/).filter(Boolean))];
}
const hasEmail = (sc) => sc.includes('email') || sc.includes(EMAIL_SCOPE);
const hasProfile = (sc) => sc.includes('profile') || sc.includes(PROFILE_SCOPE);
// What Google says it granted: the short names' URLs beside openid and the rest.
function grantedScope(sc) {
  const out = [];
  if (hasEmail(sc)) out.push(EMAIL_SCOPE);
  if (hasProfile(sc)) out.push(PROFILE_SCOPE);
  for (const s of sc) if (!['email', 'profile', EMAIL_SCOPE, PROFILE_SCOPE].includes(s)) out.push(s);
  return out.join(' ');
}

function claimsFor(user, sc, into) {
  const put = (k) => { if (user[k] !== undefined && user[k] !== null) into[k] = user[k]; };
  if (user.hd) into.hd = user.hd;
  if (hasEmail(sc)) { put('email'); put('email_verified'); }
  return put;
}

function idToken(client, user, sc, accessToken, nonce, mode) {
  let iat = nowS();
  let exp = iat + 3600;
  if (mode === 'expired') { iat -= 7200; exp = iat + 3600; }
  const c = {
    iss: mode === 'wrongiss' ? 'https://accounts.google.example' : ISS,
    azp: client,
    aud: mode === 'wrongaud' ? 'another-client.apps.googleusercontent.com' : client,
    sub: user.sub,
  };
  const put = claimsFor(user, sc, c);
  c.at_hash = b64u(sha256(accessToken).subarray(0, 16));
  if (mode === 'wrongnonce') c.nonce = 'not-' + b64u(crypto.randomBytes(12));
  else if (nonce) c.nonce = nonce;
  if (hasProfile(sc)) { put('name'); put('picture'); put('given_name'); put('family_name'); }
  c.iat = iat;
  c.exp = exp;
  const input = b64u(JSON.stringify({ alg: 'RS256', kid: signing.kid, typ: 'JWT' })) + '.' + b64u(JSON.stringify(c));
  const key = mode === 'badsig' ? rogue.privateKey : signing.privateKey;
  return input + '.' + b64u(crypto.sign('RSA-SHA256', Buffer.from(input), key));
}

function issue(ctx, client, key, sc, nonce, withRefresh) {
  const user = users.get(key);
  const at = 'ya29.' + b64u(crypto.randomBytes(96));
  keepToken(store, at, client, key, sc);
  const body = { access_token: at, expires_in: Math.max(0, config.token_ttl - 1) };
  if (withRefresh) {
    const rt = '1//' + b64u(crypto.randomBytes(48));
    refreshes.set(rt, { client, key, scopes: sc });
    body.refresh_token = rt;
  }
  body.scope = grantedScope(sc);
  body.token_type = 'Bearer';
  if (sc.includes('openid') && ctx.mode !== 'noidtoken') body.id_token = idToken(client, user, sc, at, nonce, ctx.mode);
  return reply(ctx, 200, body);
}

function authorize(ctx, p, post) {
  const clientId = p.client_id;
  if (!clientId || !clients.has(clientId)) {
    return page(ctx, 400, 'Error 401: invalid_client', 'The OAuth client was not found.');
  }
  if (!p.redirect_uri) return page(ctx, 400, 'Error 400: invalid_request', 'Missing required parameter: redirect_uri');
  try { new URL(p.redirect_uri); } catch {
    return page(ctx, 400, 'Error 400: invalid_request', 'Invalid parameter value for redirect_uri');
  }
  if (!p.response_type) return page(ctx, 400, 'Error 400: invalid_request', 'Required parameter is missing: response_type');
  if (p.response_type !== 'code') {
    return page(ctx, 400, 'Error 400: invalid_request', `Invalid response_type: ${p.response_type}`);
  }
  const sc = scopesOf(p.scope);
  if (!sc.length) return page(ctx, 400, 'Error 400: invalid_request', 'Missing required parameter: scope');
  if (p.code_challenge_method && !p.code_challenge) {
    return page(ctx, 400, 'Error 400: invalid_request', 'Missing code_challenge for code_challenge_method');
  }
  if (p.code_challenge && !['S256', 'plain'].includes(p.code_challenge_method)) {
    return page(ctx, 400, 'Error 400: invalid_request', `Invalid code_challenge_method: ${p.code_challenge_method || ''}`);
  }
  const user = userFor(p.login_hint);
  const denied = { error: 'access_denied', error_description: 'The user denied access to your application.', state: p.state, iss: ISS };
  if (user.email.toLowerCase().startsWith('deny')) return redirect(ctx, p.redirect_uri, denied);
  if (post) {
    if (p.decision !== 'allow') return redirect(ctx, p.redirect_uri, denied);
  } else if (!config.auto_consent) {
    if (scopesOf(p.prompt).includes('none')) {
      return redirect(ctx, p.redirect_uri, { error: 'consent_required', state: p.state, iss: ISS });
    }
    return consent(ctx, p, {
      title: 'Sign in - Google Accounts', heading: `Choose what ${esc(clientId)} can access`,
      text: `Signed in as ${esc(user.email)}; scopes: ${esc(sc.join(' '))}`, action: '/o/oauth2/v2/auth',
    });
  }
  const code = '4/0A' + b64u(crypto.randomBytes(48));
  keepCode(store, code, p, user.email.toLowerCase(), sc, { nonce: p.nonce || null });
  return redirect(ctx, p.redirect_uri, {
    state: p.state, iss: ISS, code, scope: sc.join(' '), authuser: '0', prompt: 'consent',
  });
}

function token(ctx, req, p) {
  const bad = (status, error, error_description) =>
    reply(ctx, status, error_description === undefined ? { error } : { error, error_description });
  const { id, secret } = clientAuth(req, p);
  if (!id) return bad(400, 'invalid_request', 'Could not determine client ID from request.');
  if (!clients.has(id)) return bad(401, 'invalid_client', 'The OAuth client was not found.');
  if (!secret) return bad(400, 'invalid_request', 'client_secret is missing.');
  if (clients.get(id) !== secret) return bad(401, 'invalid_client', 'Unauthorized');
  if (p.grant_type === 'refresh_token') {
    if (!p.refresh_token) return bad(400, 'invalid_request', 'Missing required parameter: refresh_token');
    const r = refreshes.get(p.refresh_token);
    if (!r || r.client !== id || !users.has(r.key)) return bad(400, 'invalid_grant', 'Token has been expired or revoked.');
    return issue(ctx, id, r.key, r.scopes, null, false);
  }
  if (p.grant_type !== 'authorization_code') {
    return bad(400, 'unsupported_grant_type', `Invalid grant_type: ${p.grant_type || ''}`);
  }
  if (!p.code) return bad(400, 'invalid_request', 'Missing required parameter: code');
  const c = spendCode(store, p.code, id);
  if (!c) return bad(400, 'invalid_grant', 'Bad Request');
  if (!p.redirect_uri) return bad(400, 'invalid_request', 'Missing parameter: redirect_uri');
  if (p.redirect_uri !== c.redirect_uri) return bad(400, 'redirect_uri_mismatch', 'Bad Request');
  const why = pkceProblem(c, p.code_verifier);
  if (why) return bad(400, 'invalid_grant', why);
  return issue(ctx, id, c.key, c.scopes, c.nonce, true);
}

const bearer = (req) => bearerOf(store, req, /^Bearer\s+(\S+)\s*$/i);

function userinfo(ctx, req) {
  const t = bearer(req);
  if (!t) {
    return reply(ctx, 401, { error: 'invalid_request', error_description: 'Invalid Credentials' },
      { 'WWW-Authenticate': 'Bearer realm="https://accounts.google.com/", error="invalid_token"' });
  }
  const user = users.get(t.key);
  const out = { sub: user.sub };
  const put = (k) => { if (user[k] !== undefined && user[k] !== null) out[k] = user[k]; };
  if (hasProfile(t.scopes)) { put('name'); put('given_name'); put('family_name'); }
  put('picture');
  if (hasEmail(t.scopes)) { put('email'); put('email_verified'); }
  if (user.hd) out.hd = user.hd;
  return reply(ctx, 200, out);
}

function discovery(ctx, req) {
  const base = `${scheme}://${req.headers.host || `127.0.0.1:${port}`}`;
  return reply(ctx, 200, {
    issuer: ISS,
    authorization_endpoint: `${base}/o/oauth2/v2/auth`,
    token_endpoint: `${base}/token`,
    userinfo_endpoint: `${base}/v1/userinfo`,
    revocation_endpoint: `${base}/revoke`,
    jwks_uri: `${base}/oauth2/v3/certs`,
    response_types_supported: ['code'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256'],
    scopes_supported: ['openid', 'email', 'profile'],
    token_endpoint_auth_methods_supported: ['client_secret_post', 'client_secret_basic'],
    claims_supported: ['aud', 'email', 'email_verified', 'exp', 'family_name', 'given_name', 'iat', 'iss', 'name', 'picture', 'sub'],
    code_challenge_methods_supported: ['plain', 'S256'],
    grant_types_supported: ['authorization_code', 'refresh_token'],
  }, { 'Cache-Control': 'public, max-age=3600' });
}

function revoke(ctx, p) {
  const t = p.token;
  if (t && (tokens.delete(t) || refreshes.delete(t))) return reply(ctx, 200, {});
  return reply(ctx, 400, { error: 'invalid_token', error_description: 'Token expired or revoked' });
}

function endpointOf(path) {
  if (path === '/o/oauth2/v2/auth' || path === '/o/oauth2/auth') return 'authorize';
  if (path === '/token' || path === '/o/oauth2/token') return 'token';
  if (path === '/v1/userinfo' || path === '/oauth2/v3/userinfo') return 'userinfo';
  if (path === '/oauth2/v3/certs') return 'certs';
  if (path === '/.well-known/openid-configuration') return 'discovery';
  if (path === '/revoke' || path === '/o/oauth2/revoke') return 'revoke';
  return 'unknown';
}

function userOf(endpoint, req, p) {
  if (endpoint === 'authorize') return p.client_id && clients.has(p.client_id) ? userFor(p.login_hint) : null;
  if (endpoint === 'token') {
    const c = p.grant_type === 'refresh_token' ? refreshes.get(p.refresh_token) : codes.get(p.code);
    return c ? users.get(c.key) : null;
  }
  if (endpoint === 'userinfo') { const t = bearer(req); return t ? users.get(t.key) : null; }
  if (endpoint === 'revoke') { const t = tokens.get(p.token) || refreshes.get(p.token); return t ? users.get(t.key) : null; }
  return null;
}

function route(ctx, req, p, endpoint) {
  if (endpoint === 'authorize' && (req.method === 'GET' || req.method === 'POST')) return authorize(ctx, p, req.method === 'POST');
  if (endpoint === 'token' && req.method === 'POST') return token(ctx, req, p);
  if (endpoint === 'userinfo' && (req.method === 'GET' || req.method === 'POST')) return userinfo(ctx, req);
  if (endpoint === 'certs' && req.method === 'GET') {
    return reply(ctx, 200, { keys: [unrelated.jwk, signing.jwk] },
      { 'Cache-Control': 'public, max-age=21000, must-revalidate, no-transform' });
  }
  if (endpoint === 'discovery' && req.method === 'GET') return discovery(ctx, req);
  if (endpoint === 'revoke' && req.method === 'POST') return revoke(ctx, p);
  if (endpoint !== 'unknown') return reply(ctx, 405, { error: 'method_not_allowed' });
  return reply(ctx, 404, { error: 'not_found' });
}

serve({
  port, tls, store, reply, register, endpoints: ENDPOINTS, extraModes: { token: TOKEN_MODES },
  matches: scriptMatches, endpointOf, userOf, route,
  serverError: { error: 'internal_failure', error_description: 'Backend Error' },
  badJson: '{"access_token": "ya29.<html><body>Backend Error</body></html>',
  notFound: { error: 'not_found' },
  crash: (detail) => ({ error: 'mock_failure', error_description: detail }),
});
