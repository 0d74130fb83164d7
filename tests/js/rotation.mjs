// An @supabase/auth-js session across a signing-key rotation, for
// tests/stack/test_keys.py: node rotation.mjs 'COMMAND'. Signs in, verifies
// the token against the JWKS (getClaims), runs COMMAND (which rotates the
// key and reloads the pool, printing the new kid), then checks the session
// still works, refreshes it, and verifies the new token against the JWKS
// auth-js fetches again for the new kid. Exits non-zero on any failure.
import assert from 'node:assert/strict';
import { execSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { AuthClient } from '@supabase/auth-js';

const URL_BASE = `${process.env.UMS_URL}/auth/v1`;
const SERVICE_KEY = process.env.UMS_SERVICE_KEY;
assert.ok(process.env.UMS_URL && SERVICE_KEY, 'source .stack/env first');
assert.ok(process.argv[2], 'usage: node rotation.mjs COMMAND');

const kidOf = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[0], 'base64url')).kid;
const opts = { url: URL_BASE, headers: { apikey: 'anon' }, persistSession: false, autoRefreshToken: false };
const admin = new AuthClient({ ...opts, headers: { apikey: 'anon', Authorization: `Bearer ${SERVICE_KEY}` } }).admin;
const auth = new AuthClient(opts);

const email = `js-rotation-${randomBytes(4).toString('hex')}@example.com`;
const password = 'correct horse battery';
let r = await admin.createUser({ email, password, email_confirm: true });
assert.equal(r.error, null, `createUser: ${r.error?.message}`);
r = await auth.signInWithPassword({ email, password });
assert.equal(r.error, null, `sign-in: ${r.error?.message}`);
const before = r.data.session;
r = await auth.getClaims();
assert.equal(r.error, null, `getClaims before: ${r.error?.message}`);
assert.equal(r.data.header.kid, kidOf(before.access_token));
console.log(`ok signed in, token verified against the JWKS (kid ${r.data.header.kid})`);

const kid = execSync(process.argv[2], { encoding: 'utf8' }).trim().split('\n').pop();
assert.notEqual(kid, kidOf(before.access_token), 'the command did not rotate');

r = await auth.getUser();
assert.equal(r.error, null, `getUser with the pre-rotation token: ${r.error?.message}`);
assert.equal(r.data.user.email, email);
r = await auth.getClaims();
assert.equal(r.error, null, `getClaims of the pre-rotation token: ${r.error?.message}`);
console.log('ok the pre-rotation session still works');

r = await auth.refreshSession();
assert.equal(r.error, null, `refreshSession: ${r.error?.message}`);
const after = r.data.session;
assert.equal(kidOf(after.access_token), kid, 'the refreshed token is not signed by the new key');
r = await auth.getClaims();
assert.equal(r.error, null, `getClaims of the new token: ${r.error?.message}`);
assert.equal(r.data.header.kid, kid);
assert.equal(r.data.claims.email, email);
r = await auth.getUser();
assert.equal(r.error, null, `getUser with the new token: ${r.error?.message}`);
console.log(`ok refreshed: the new token carries ${kid} and verifies against the refetched JWKS`);
