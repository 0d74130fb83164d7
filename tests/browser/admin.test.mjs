// admin.test.mjs - the administration panel (web/admin/) in Chromium: an
// admin finds a user by a piece of the name, suspends (their session dies)
// and reactivates them, changes the role, reads the audit trail, sends a
// message and invites a user; hostile names shown as text; a non-admin sees
// the refusal; axe-core over the views.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { SITE, api, email, fill, launch, mail, open, png, signIn, signedIn, snap, tabThrough, text, view, axe } from './lib.mjs';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

// An administrator made from the shell, as an operator does.
function adminAccount() {
  const addr = email('admin');
  execFileSync(`${process.env.UMS_BUILD_DIR}/cli/umsctl`, ['user', 'add', '--email', addr, '--password-file', '-', '--role', 'admin'], {
    input: 'an admin password\n',
    cwd: process.env.UMS_ROOT,
    stdio: ['pipe', 'ignore', 'inherit'],
  });
  return addr;
}

// A fresh administrator, signed in on a page of their own.
async function adminPage() {
  const admin = adminAccount();
  const page = await open(browser);
  await signedIn(page, admin, 'an admin password');
  return { admin, page };
}

test('an admin finds a user by part of the name, suspends, reactivates, changes the role, reads the trail', async () => {
  const tag = Math.random().toString(36).replace(/[^a-z]/g, '').slice(0, 6).padEnd(6, 'q');
  const name = `<img src=x onerror=alert(1)> Ada ${tag}`;
  const target = email('target');
  const s = await api('POST', '/auth/v1/signup', { body: { email: target, password: 'correct horse battery', data: { name } } });
  assert.equal(s.status, 200, JSON.stringify(s.body));
  const { admin, page } = await adminPage();
  await page.goto(`${SITE}/admin/`);
  await view(page, 'users');

  // Search as one types: a substring of the name.
  await page.type('#search-q', `*${tag}*`);
  await page.waitForFunction((t) => {
    const rows = [...document.querySelectorAll('#users-rows tr')];
    return rows.length === 1 && rows[0].textContent.includes(t);
  }, {}, target);
  assert.equal(await page.$eval('#users-rows tr td:nth-child(2)', (e) => e.textContent), name);
  assert.equal(await page.$$eval('main img:not(.avatar), [onerror]', (l) => l.length), 0, 'the name became markup');
  await snap(page, 'admin-search');
  // Filters narrow it: nobody with that name is suspended.
  await page.select('#search-status', 'suspended');
  await page.waitForSelector('#users-empty:not([hidden])');
  await page.select('#search-status', '');
  await page.waitForFunction(() => document.querySelectorAll('#users-rows tr').length === 1);

  // The user's page, with the picture they uploaded.
  const up = await api('PUT', '/api/v1/users/me/avatar', { token: s.body.access_token, body: png(32, 32, [20, 120, 60]), contentType: 'image/png' });
  assert.equal(up.status, 200);
  await page.click('#users-rows tr a');
  await view(page, 'user');
  await page.waitForFunction(() => {
    const i = document.querySelector('#user-avatar');
    return !i.hidden && i.complete && i.naturalWidth === 32;
  });
  assert.equal(await text(page, '#user-email'), target);
  assert.equal(await text(page, '#user-name'), name);
  await page.waitForSelector('#user-sessions li');
  await page.waitForSelector('#user-audit tr');
  assert.ok((await page.$$eval('#user-audit tr', (l) => l.map((r) => r.textContent))).some((t) => t.includes('user.signup')));
  await snap(page, 'admin-user');
  const keys = await tabThrough(page);
  assert.deepEqual(keys.missed, [], `user page: not reached by Tab: ${keys.missed.join(', ')}`);
  assert.deepEqual(keys.unringed, [], `user page: no focus ring on ${keys.unringed.join(', ')}`);
  // An unsuitable picture is taken down by the admin.
  await page.click('#user-avatar-remove');
  await page.waitForFunction(() => document.querySelector('#user-note').textContent === 'The picture is removed.');
  assert.equal(await page.$eval('#user-avatar', (e) => e.hidden), true);
  assert.equal((await api('GET', '/api/v1/users/me/profile', { token: s.body.access_token })).body.avatar_url, null);

  // Suspend: the user's session dies at once; reactivate: they sign in.
  assert.equal((await api('GET', '/api/v1/users/me', { token: s.body.access_token })).status, 200);
  await page.click('#user-suspend');
  await page.waitForFunction(() => document.querySelector('#user-status').textContent === 'suspended');
  assert.equal((await api('GET', '/api/v1/users/me', { token: s.body.access_token })).status, 401);
  const refused = await api('POST', '/auth/v1/token?grant_type=password', { body: { email: target, password: 'correct horse battery' } });
  assert.equal(refused.status, 400);
  await snap(page, 'admin-suspended');
  await page.click('#user-reactivate');
  await page.waitForFunction(() => document.querySelector('#user-status').textContent === 'active');
  await signIn(target, 'correct horse battery');

  // The role, and back.
  await page.select('#role-select', 'admin');
  await page.click('#role-form button[type=submit]');
  await page.waitForSelector('#user-note:not([hidden])');
  assert.equal((await api('GET', `/api/v1/users/${s.body.user.id}`, { token: process.env.UMS_SERVICE_KEY })).body.role, 'admin');
  await page.select('#role-select', 'user');
  await page.click('#role-form button[type=submit]');
  await page.waitForFunction(() => document.querySelector('#user-note').textContent.includes('user'));
  assert.equal((await api('GET', `/api/v1/users/${s.body.user.id}`, { token: process.env.UMS_SERVICE_KEY })).body.role, 'user');

  // A message, delivered to the user's inbox.
  await fill(page, '#message-title', 'Hello from the admins');
  await fill(page, '#message-text', 'A <b>note</b>.');
  await page.click('#message-form button[type=submit]');
  await page.waitForSelector('#message-form .form-note:not([hidden])');

  // The audit trail now holds the suspension and the role change.
  await page.reload();
  await view(page, 'user');
  await page.waitForFunction(() => [...document.querySelectorAll('#user-audit tr')].some((r) => r.textContent.includes('role')));
  await axe(page, 'user page');

  // One's own account: the role cannot be changed, said in words.
  const me = await signIn(admin, 'an admin password');
  await page.goto(`${SITE}/admin/#user/${me.user.id}`);
  await view(page, 'user');
  await page.select('#role-select', 'user');
  await page.click('#role-form button[type=submit]');
  await page.waitForSelector('#role-form .form-error:not([hidden])');
  assert.match(await text(page, '#role-form .form-error'), /\w/);
  assert.equal((await api('GET', `/api/v1/users/${me.user.id}`, { token: process.env.UMS_SERVICE_KEY })).body.role, 'admin');
  assert.deepEqual(page.seen.dialogs, []);
  await page.close();
});

test('an admin invites a user, who chooses a password through the mailed link', async () => {
  const { page } = await adminPage();
  await page.goto(`${SITE}/admin/`);
  await view(page, 'users');
  await axe(page, 'users');
  const invited = email('invited');
  await fill(page, '#create-email', invited);
  await fill(page, '#create-name', 'Grace');
  await page.click('#create-form button[type=submit]');
  await page.waitForSelector('#create-form .form-note:not([hidden])');
  assert.match(await text(page, '#create-form .form-note'), /emailed a link/);
  await snap(page, 'admin-invited');
  // A taken address is refused next to the field or above the form.
  await fill(page, '#create-email', invited);
  await fill(page, '#create-name', 'Grace again');
  await page.click('#create-form button[type=submit]');
  await page.waitForSelector('#create-form .form-error:not([hidden])');
  assert.match(await text(page, '#create-form .form-error'), /exists already/);
  const m = await mail(invited, 'user.recovery_requested');
  assert.ok(m.includes(encodeURIComponent(`${SITE}/account/`)), 'the invitation does not open the account pages');
  await page.close();
});

test('the audit log filters by action', async () => {
  const { page } = await adminPage();
  await page.goto(`${SITE}/admin/#audit`);
  await view(page, 'audit');
  await page.waitForSelector('#audit-rows tr');
  await fill(page, '#audit-action', 'user.login');
  await page.click('#audit-form button[type=submit]');
  await page.waitForFunction(() => {
    const rows = [...document.querySelectorAll('#audit-rows tr')];
    return rows.length > 0 && rows.every((r) => r.children[1].textContent === 'user.login');
  });
  await fill(page, '#audit-actor', 'not-a-uuid');
  await page.click('#audit-form button[type=submit]');
  await page.waitForSelector('#audit-actor-error:not([hidden]), #audit-form .form-error:not([hidden])');
  await snap(page, 'admin-audit');
  await axe(page, 'audit');
  await page.close();
});

test('a signed-in user who is not an admin sees the refusal, and the API refuses too', async () => {
  const addr = email('notadmin');
  const s = await api('POST', '/auth/v1/signup', { body: { email: addr, password: 'correct horse battery' } });
  const page = await open(browser);
  await signedIn(page, addr, 'correct horse battery');
  await page.goto(`${SITE}/admin/`);
  await view(page, 'refused');
  assert.equal((await api('GET', '/api/v1/users', { token: s.body.access_token })).status, 403);
  await snap(page, 'admin-refused');
  await axe(page, 'refused');
  // Signed out: sent to sign in.
  await page.goto(`${SITE}/account/`);
  await view(page, 'account');
  await page.click('#signout');
  await view(page, 'signin');
  await page.goto(`${SITE}/admin/`);
  await view(page, 'signed-out');
  await page.close();
});
