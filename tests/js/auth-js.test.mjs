// Drives ums through nginx with the real @supabase/auth-js client (pinned in
// package.json): the compatibility contract of /auth/v1. Run by scripts/check
// with .stack/env in the environment.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import {
  AuthClient, isAuthWeakPasswordError, isAuthApiError, isAuthSessionMissingError,
} from '@supabase/auth-js';
import { Agent, fetch as ufetch } from 'undici';

const URL_BASE = `${process.env.UMS_URL}/auth/v1`;
const SERVICE_KEY = process.env.UMS_SERVICE_KEY;
const MAILDIR = process.env.UMS_MAILDIR;
assert.ok(process.env.UMS_URL && SERVICE_KEY && MAILDIR, 'source .stack/env first');

// Every client talks from its own loopback address, so the per-IP limits of
// nginx, Apache's mod_qos and ums never mix tests (any 127.x.y.z reaches the
// web server on 127.0.0.1). undici takes localAddress at the top level of
// the Agent's options; under `connect` it is ignored, and every client was
// 127.0.0.1.
function sourceFetch() {
  const b = randomBytes(2);
  const agent = new Agent({ localAddress: `127.77.${b[0] % 250 + 1}.${b[1] % 250 + 1}` });
  return (input, init) => ufetch(input, { ...init, dispatcher: agent });
}

function client(extraHeaders = {}) {
  return new AuthClient({
    url: URL_BASE,
    headers: { apikey: 'anon', ...extraHeaders },
    persistSession: false,
    autoRefreshToken: false,
    fetch: sourceFetch(),
  });
}

function adminClient() {
  return client({ Authorization: `Bearer ${SERVICE_KEY}` }).admin;
}

const email = (tag) => `js-${tag}-${randomBytes(4).toString('hex')}@example.com`;

// The newest message to `to` for `event`, polled for up to 15 s.
async function mailCode(to, event) {
  for (let i = 0; i < 150; i++) {
    const dir = `${MAILDIR}/new`;
    const hits = readdirSync(dir)
      .map((f) => `${dir}/${f}`)
      .filter((p) => {
        const head = readFileSync(p, 'utf8').split('\r\n\r\n')[0];
        return /^To: .*$/m.exec(head)?.[0].includes(`<${to}>`) && head.includes(`X-Ums-Event: ${event}`);
      })
      .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
    if (hits.length) {
      const m = /Or enter this code: (\d{6})/.exec(readFileSync(hits[0], 'utf8'));
      if (m) return m[1];
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no ${event} mail for ${to}`);
}

test('each client comes from a loopback address of its own', async () => {
  // A server of the test's own sees the address the connections come from.
  const srv = http.createServer((q, res) => res.end(q.socket.remoteAddress));
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  try {
    const url = `http://127.0.0.1:${srv.address().port}/`;
    const a = await (await sourceFetch()(url)).text();
    const b = await (await sourceFetch()(url)).text();
    assert.match(a, /^127\.77\.\d+\.\d+$/);
    assert.match(b, /^127\.77\.\d+\.\d+$/);
  } finally {
    srv.close();
  }
});

test('sign up, sign in, get and update the user, refresh', async () => {
  const c = client();
  const addr = email('flow');
  const { data: su, error: e1 } = await c.signUp({
    email: addr, password: 'correct horse battery', options: { data: { name: 'Ada' } },
  });
  assert.equal(e1, null);
  assert.ok(su.session?.access_token);
  assert.equal(su.user.email, addr);
  assert.equal(su.user.user_metadata.name, 'Ada');

  const { data: si, error: e2 } = await c.signInWithPassword({ email: addr, password: 'correct horse battery' });
  assert.equal(e2, null);
  assert.equal(si.user.id, su.user.id);
  assert.equal(si.session.token_type, 'bearer');

  const { data: gu, error: e3 } = await c.getUser();
  assert.equal(e3, null);
  assert.equal(gu.user.id, su.user.id);

  const { data: up, error: e4 } = await c.updateUser({ data: { theme: 'dark' } });
  assert.equal(e4, null);
  assert.equal(up.user.user_metadata.theme, 'dark');
  assert.equal(up.user.user_metadata.name, 'Ada');

  const before = (await c.getSession()).data.session.refresh_token;
  const { data: rs, error: e5 } = await c.refreshSession();
  assert.equal(e5, null);
  assert.notEqual(rs.session.refresh_token, before);
  assert.equal(rs.user.id, su.user.id);

  const { error: e6 } = await c.updateUser({ password: 'a different passphrase' });
  assert.equal(e6, null);
  // reauthenticate() (GET /reauthenticate) mails a code; updateUser takes it as nonce.
  const { error: e6b } = await c.reauthenticate();
  assert.equal(e6b, null);
  const { error: e7 } = await client().signInWithPassword({ email: addr, password: 'a different passphrase' });
  assert.equal(e7, null);
});

test('errors reach the client with their classes and codes', async () => {
  const c = client();
  const { error: weak } = await c.signUp({ email: email('weak'), password: 'short' });
  assert.ok(isAuthWeakPasswordError(weak), `got ${weak?.name}`);
  assert.deepEqual(weak.reasons, ['length']);
  assert.equal(weak.status, 422);

  const { error: bad } = await c.signInWithPassword({ email: email('nobody'), password: 'wrong password' });
  assert.ok(isAuthApiError(bad));
  assert.equal(bad.code, 'invalid_credentials');
  assert.equal(bad.status, 400);

  const addr = email('dup');
  await c.signUp({ email: addr, password: 'correct horse battery' });
  const { error: dup } = await client().signUp({ email: addr, password: 'correct horse battery' });
  assert.equal(dup.code, 'user_already_exists');
});

test('sign out: local, others, global', async () => {
  const addr = email('scopes');
  const a = client(), b = client(), d = client();
  await a.signUp({ email: addr, password: 'correct horse battery' });
  await b.signInWithPassword({ email: addr, password: 'correct horse battery' });
  await d.signInWithPassword({ email: addr, password: 'correct horse battery' });
  const dToken = (await d.getSession()).data.session.access_token;

  assert.equal((await b.signOut({ scope: 'others' })).error, null);
  // session_not_found becomes AuthSessionMissingError in auth-js.
  const { error: gone } = await a.getUser();
  assert.ok(isAuthSessionMissingError(gone), `got ${gone?.name}`);
  assert.equal((await b.getUser()).error, null);

  assert.equal((await b.signOut({ scope: 'local' })).error, null);
  assert.equal((await b.getSession()).data.session, null);

  const e = client();
  await e.signInWithPassword({ email: addr, password: 'correct horse battery' });
  const eToken = (await e.getSession()).data.session.access_token;
  assert.equal((await e.signOut()).error, null); // global is the default
  const { error: e1 } = await client().getUser(eToken);
  assert.ok(isAuthSessionMissingError(e1), `got ${e1?.name}`);
  const { error: e2 } = await client().getUser(dToken);
  assert.ok(isAuthSessionMissingError(e2), `got ${e2?.name}`);
});

test('password reset with the code from the email', async () => {
  const c = client();
  const addr = email('reset');
  await c.signUp({ email: addr, password: 'correct horse battery' });
  const r = client();
  assert.equal((await r.resetPasswordForEmail(addr)).error, null);
  const code = await mailCode(addr, 'user.recovery_requested');
  const { data, error } = await r.verifyOtp({ email: addr, token: code, type: 'recovery' });
  assert.equal(error, null);
  assert.ok(data.session?.access_token);
  assert.equal((await r.updateUser({ password: 'recovered passphrase' })).error, null);
  assert.equal((await client().signInWithPassword({ email: addr, password: 'recovered passphrase' })).error, null);
  const { error: reuse } = await client().verifyOtp({ email: addr, token: code, type: 'recovery' });
  assert.equal(reuse.code, 'otp_expired');
});

test('signInWithOtp: a code for an account, an account for a new address, and a phone refused', async () => {
  const addr = email('otp');
  await client().signUp({ email: addr, password: 'correct horse battery' });
  const c = client();
  const sent = await c.signInWithOtp({ email: addr, options: { shouldCreateUser: false, emailRedirectTo: process.env.UMS_SITE_URL } });
  assert.equal(sent.error, null);
  assert.equal(sent.data.user, null);
  assert.equal(sent.data.session, null);
  const code = await mailCode(addr, 'user.magiclink_requested');
  const { data, error } = await c.verifyOtp({ email: addr, token: code, type: 'email' });
  assert.equal(error, null);
  assert.equal(data.user.email, addr);
  assert.ok(data.session?.access_token);
  // A new address: shouldCreateUser (the default) makes the account, whose
  // welcome code signs in; without it nothing is made and the answer is the same.
  const fresh = email('otp-new');
  assert.equal((await client().signInWithOtp({ email: fresh, options: { data: { name: 'Otto' } } })).error, null);
  const welcome = await mailCode(fresh, 'user.registered');
  const made = await client().verifyOtp({ email: fresh, token: welcome, type: 'email' });
  assert.equal(made.error, null);
  assert.equal(made.data.user.user_metadata.name, 'Otto');
  assert.equal((await client().signInWithOtp({ email: email('otp-none'), options: { shouldCreateUser: false } })).error, null);
  const { error: phone } = await client().signInWithOtp({ phone: '+15555550100' });
  assert.ok(isAuthApiError(phone), `got ${phone?.name}`);
  assert.equal(phone.status, 400);
  assert.equal(phone.code, 'validation_failed');
});

test('resend: the client takes the answer; other types are refused', async () => {
  const addr = email('resend');
  const c = client();
  await c.signUp({ email: addr, password: 'correct horse battery' });
  const { data, error } = await c.resend({ type: 'signup', email: addr });
  assert.equal(error, null);
  assert.equal(data.user, null);
  assert.equal(data.session, null);
  const { error: bad } = await client().resend({ type: 'sms', phone: '+15550100' });
  assert.ok(isAuthApiError(bad), `got ${bad?.name}`);
  assert.equal(bad.status, 400);
  assert.equal(bad.code, 'validation_failed');
});

test('admin: list, create, get, update, delete', async () => {
  const admin = adminClient();
  const addr = email('admin');
  const { data: created, error: e1 } = await admin.createUser({
    email: addr, password: 'correct horse battery', email_confirm: true, user_metadata: { name: 'Made' },
  });
  assert.equal(e1, null);
  assert.equal(created.user.email, addr);
  assert.ok(created.user.email_confirmed_at);

  const { data: list, error: e2 } = await admin.listUsers({ page: 1, perPage: 2 });
  assert.equal(e2, null);
  assert.equal(list.users.length, 2);
  assert.ok(list.total >= 2);
  assert.equal(list.nextPage, 2);

  const { data: got, error: e3 } = await admin.getUserById(created.user.id);
  assert.equal(e3, null);
  assert.equal(got.user.id, created.user.id);

  const { data: upd, error: e4 } = await admin.updateUserById(created.user.id, { user_metadata: { name: 'Changed' } });
  assert.equal(e4, null);
  assert.equal(upd.user.user_metadata.name, 'Changed');

  const { error: dupErr } = await admin.createUser({ email: addr, password: 'correct horse battery' });
  assert.equal(dupErr.code, 'email_exists');

  const { error: e5 } = await admin.deleteUser(created.user.id);
  assert.equal(e5, null);
  const { error: e6 } = await admin.getUserById(created.user.id);
  assert.equal(e6.code, 'user_not_found');

  const { error: notAdmin } = await client({ Authorization: 'Bearer not-a-key' }).admin.listUsers();
  assert.equal(notAdmin.status, 403);
});

// The browser's part of an OAuth flow: follows the redirects from url (ums's
// /authorize, the stand-in's consent, ums's /callback) until one leaves for
// redirect_to, and returns that URL. The Google stand-in speaks HTTPS with
// the stack's CA.
const tlsAgent = new Agent({ connect: { ca: readFileSync(process.env.UMS_CA_FILE) } });
async function browse(url, until) {
  for (let hop = 0; hop < 6; hop++) {
    if (url.startsWith(until)) return new URL(url);
    const res = await ufetch(url, { redirect: 'manual', dispatcher: tlsAgent });
    await res.arrayBuffer();
    assert.equal(res.status, 302, `${url} answered ${res.status}`);
    url = new URL(res.headers.get('location'), url).toString();
  }
  throw new Error(`too many redirects, last ${url}`);
}

test('OAuth: signInWithOAuth, exchangeCodeForSession, linkIdentity, getUserIdentities, unlinkIdentity', async () => {
  const app = 'http://localhost:3000/after-sign-in';
  const c = new AuthClient({
    url: URL_BASE, headers: { apikey: 'anon' }, persistSession: false, autoRefreshToken: false,
    flowType: 'pkce', fetch: sourceFetch(),
  });
  const gh = `js-octo-${randomBytes(4).toString('hex')}`;
  const { data: o, error: e1 } = await c.signInWithOAuth({
    provider: 'github',
    options: { redirectTo: app, skipBrowserRedirect: true, queryParams: { login: gh } },
  });
  assert.equal(e1, null);
  assert.match(o.url, /\/authorize\?provider=github&/);
  const back = await browse(o.url, app);
  const code = back.searchParams.get('code');
  assert.ok(code, `no code in ${back}`);

  const { data: s, error: e2 } = await c.exchangeCodeForSession(code);
  assert.equal(e2, null);
  assert.ok(s.session.access_token);
  assert.ok(s.session.provider_token, 'the provider token comes with the session');
  assert.equal(s.user.app_metadata.provider, 'github');
  // The code is single use.
  const { error: again } = await c.exchangeCodeForSession(code);
  assert.ok(again, 'a second exchange of one code is refused');

  const { data: u } = await c.getUser();
  assert.equal(u.user.id, s.user.id);
  assert.deepEqual(u.user.identities.map((i) => i.provider), ['github']);
  assert.equal(u.user.identities[0].identity_data.user_name, gh);

  // Link Google (the same client: its session and a fresh PKCE verifier).
  const gmail = `${gh}@gmail.example`;
  const { data: l, error: e3 } = await c.linkIdentity({
    provider: 'google',
    options: { redirectTo: app, skipBrowserRedirect: true, queryParams: { login_hint: gmail } },
  });
  assert.equal(e3, null);
  assert.ok(l.url.startsWith(process.env.UMS_MOCK_GOOGLE_URL), `link url ${l.url}`);
  const back2 = await browse(l.url, app);
  const { data: s2, error: e4 } = await c.exchangeCodeForSession(back2.searchParams.get('code'));
  assert.equal(e4, null);
  assert.equal(s2.user.id, s.user.id);

  const { data: ids, error: e5 } = await c.getUserIdentities();
  assert.equal(e5, null);
  assert.deepEqual(ids.identities.map((i) => i.provider).sort(), ['github', 'google']);
  const google = ids.identities.find((i) => i.provider === 'google');
  assert.equal(google.identity_data.email, gmail);

  const { error: e6 } = await c.unlinkIdentity(google);
  assert.equal(e6, null);
  const { data: ids2 } = await c.getUserIdentities();
  assert.deepEqual(ids2.identities.map((i) => i.provider), ['github']);
  // The last identity stays.
  const { error: last } = await c.unlinkIdentity(ids2.identities[0]);
  assert.equal(last?.code, 'single_identity_not_deletable');

  const { error: e7 } = await c.signOut();
  assert.equal(e7, null);
  const { error: e8 } = await client().refreshSession({ refresh_token: s2.session.refresh_token });
  assert.ok(e8, 'the session is gone after sign-out');
});
