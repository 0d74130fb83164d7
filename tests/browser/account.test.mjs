// account.test.mjs - the account pages (web/account/) in Debian's Chromium,
// through the stack's web server, as a person uses them: sign up, the mailed
// confirmation link, the profile, the password, the devices, the reset of a
// forgotten password, the picture, the ways to sign in; hostile names shown
// as text; the CSP enforced; a session revoked elsewhere. Screenshots go to $UMS_STACK/log/browser/.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { SITE, api, email, file, fill, launch, link, mail, open, plant, png, signIn, signedIn, snap, steerGitHub, tabThrough, text, view, axe } from './lib.mjs';

const HOSTILE_NAME = '<img src=x onerror=alert(1)>';
const HOSTILE_BIO = '<script>alert(2)</script> & <b>bold</b>';
let browser;

before(async () => {
  browser = await launch();
});

after(async () => {
  await browser?.close();
});

test('sign up, confirm by the mailed link, edit the profile, change the password, sign out another device', async () => {
  const page = await open(browser);
  const addr = email('flow');
  const pw1 = 'correct horse battery';
  const pw2 = 'a new staple, much longer';

  await page.goto(`${SITE}/account/#signup`);
  await view(page, 'signup');
  // The rules answer as one types.
  await fill(page, '#signup-password', 'short');
  assert.equal(await page.$eval('#signup-rules [data-rule="min"]', (e) => e.className), 'unmet');
  await fill(page, '#signup-password', pw1);
  assert.equal(await page.$eval('#signup-rules [data-rule="min"]', (e) => e.className), 'met');
  await fill(page, '#signup-name', HOSTILE_NAME);
  await fill(page, '#signup-email', addr);
  await snap(page, 'signup');
  await page.click('#signup-form button[type=submit]');
  await view(page, 'account');
  assert.equal(await text(page, '#me-email'), addr);
  assert.equal(await page.$eval('#profile-name', (e) => e.value), HOSTILE_NAME);
  assert.equal(await page.$$eval('img:not(.avatar), [onerror]', (l) => l.length), 0, 'the name became markup');
  await snap(page, 'account-after-signup');

  // The confirmation link from the Maildir, opened in the browser: the
  // verify page's button lands back here, on the landing view.
  const confirm = link(await mail(addr, 'user.registered'));
  assert.ok(confirm.includes(`redirect_to=${encodeURIComponent(`${SITE}/account/`)}`), confirm);
  await page.goto(confirm);
  await snap(page, 'verify-page');
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit], input[type=submit]')]);
  await view(page, 'landed');
  assert.equal(await text(page, '#landed-title'), 'Your address is confirmed');
  assert.equal(new URL(page.url()).hash, '', 'the tokens stayed in the address bar');
  await snap(page, 'landed-confirmed');
  await page.click('#landed-next');
  await view(page, 'account');

  // The profile: a hostile bio, a time zone from the picker.
  await fill(page, '#profile-bio', HOSTILE_BIO);
  await page.select('#profile-timezone', 'Europe/Paris');
  await page.click('#profile-form button[type=submit]');
  await page.waitForFunction(() => document.querySelector('#profile-form .form-note').textContent === 'Saved.');
  await page.reload();
  await view(page, 'account');
  assert.equal(await page.$eval('#profile-bio', (e) => e.value), HOSTILE_BIO);
  assert.equal(await page.$eval('#profile-timezone', (e) => e.value), 'Europe/Paris');
  await snap(page, 'profile-saved');
  // A bad time zone is refused next to its field, in words.
  await page.$eval('#profile-timezone', (e) => {
    e.append(new Option('Nowhere/Atlantis', 'Nowhere/Atlantis'));
    e.value = 'Nowhere/Atlantis';
  });
  await page.click('#profile-form button[type=submit]');
  await page.waitForSelector('#profile-timezone-error:not([hidden])');
  assert.match(await text(page, '#profile-timezone-error'), /IANA/);
  assert.equal(await page.$eval('#profile-timezone', (e) => e.getAttribute('aria-invalid')), 'true');
  await snap(page, 'profile-field-error');
  await page.select('#profile-timezone', 'Europe/Paris');

  // The password: a wrong current one is refused, the right one works.
  await fill(page, '#password-current', 'not my password');
  await fill(page, '#password-new', pw2);
  await page.click('#password-form button[type=submit]');
  await page.waitForSelector('#password-form .form-error:not([hidden]), #password-form .field-error:not([hidden])');
  await fill(page, '#password-current', pw1);
  await fill(page, '#password-new', pw2);
  await page.click('#password-form button[type=submit]');
  await page.waitForFunction(() => /saved/.test(document.querySelector('#password-form .form-note').textContent));
  await snap(page, 'password-changed');

  // Another device signs in; the list shows two; this page signs it out.
  const other = await signIn(addr, pw2);
  await page.reload();
  await view(page, 'account');
  await page.waitForFunction(() => document.querySelectorAll('#sessions li').length === 2);
  assert.equal(await page.$$eval('#sessions .badge', (l) => l.length), 1);
  await snap(page, 'two-devices');
  assert.equal((await api('GET', '/api/v1/users/me', { token: other.access_token })).status, 200);
  await page.click('#sessions li:not(:has(.badge)) button');
  await page.waitForFunction(() => document.querySelectorAll('#sessions li').length === 1);
  assert.equal((await api('GET', '/api/v1/users/me', { token: other.access_token })).status, 401);

  // Sign-out clears everything the page kept.
  await page.click('#signout');
  await view(page, 'signin');
  assert.equal(await page.evaluate(() => localStorage.length + sessionStorage.length), 0);
  assert.deepEqual(page.seen.dialogs, []);
  assert.deepEqual(await page.evaluate(() => window.__csp || []), []);
  await page.close();
});

test('a forgotten password is reset through the mailed link', async () => {
  const page = await open(browser);
  const addr = email('reset');
  await api('POST', '/auth/v1/signup', { body: { email: addr, password: 'the first password' } });
  await page.goto(`${SITE}/account/#forgot`);
  await view(page, 'forgot');
  await fill(page, '#forgot-email', addr);
  await page.click('#forgot-form button[type=submit]');
  await page.waitForSelector('#forgot-form .form-note:not([hidden])');
  await snap(page, 'forgot-sent');
  const reset = link(await mail(addr, 'user.recovery_requested'));
  await page.goto(reset);
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit], input[type=submit]')]);
  await view(page, 'reset');
  await fill(page, '#reset-password', 'the second password');
  await snap(page, 'reset-form');
  await page.click('#reset-form button[type=submit]');
  await view(page, 'account');
  assert.equal(await text(page, '#me-email'), addr);
  await signIn(addr, 'the second password');
  const old = await api('POST', '/auth/v1/token?grant_type=password', { body: { email: addr, password: 'the first password' } });
  assert.equal(old.status, 400);
  // A used link says so, in words, with no loop.
  await page.goto(reset);
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit], input[type=submit]')]);
  await view(page, 'landed');
  assert.equal(await text(page, '#landed-title'), 'This link did not work');
  await snap(page, 'link-used');
  await page.close();
});

test('a picture is checked before it is sent, previewed, uploaded with progress, shown and removed', async () => {
  const page = await open(browser);
  const addr = email('picture');
  await api('POST', '/auth/v1/signup', { body: { email: addr, password: 'correct horse battery' } });
  const puts = [];
  page.on('request', (r) => {
    if (r.method() === 'PUT' && r.url().endsWith('/avatar')) puts.push(r.url());
  });
  await signedIn(page, addr, 'correct horse battery');
  assert.match(await text(page, '#avatar-file-hint'), /PNG, JPEG or WebP image of at most 2 MiB/);
  assert.equal(await page.$eval('#avatar-none', (e) => e.hidden), false);
  const input = await page.$('#avatar-file');
  // Refused here, before anything is sent: not an image type, too large.
  await input.uploadFile(file('notes.txt', 'just some words'));
  await page.waitForSelector('#avatar-file-error:not([hidden])');
  assert.match(await text(page, '#avatar-file-error'), /“notes.txt” is not a PNG, JPEG or WebP image/);
  assert.equal(await page.$eval('#avatar-save', (e) => e.hidden), true);
  const big = Buffer.alloc(3 * 1024 * 1024);
  png(1, 1, [0, 0, 0]).copy(big);
  await input.uploadFile(file('big.png', big));
  await page.waitForFunction(() => /limit is 2 MiB/.test(document.querySelector('#avatar-file-error').textContent));
  assert.match(await text(page, '#avatar-file-error'), /“big.png” is 3.0 MiB: the limit is 2 MiB/);
  await snap(page, 'avatar-too-big');
  assert.equal(puts.length, 0, 'a refused file was sent');
  // Named .png, not one: the server judges the bytes, and says so in words.
  await input.uploadFile(file('fake.png', '<html><script>alert(3)</script></html>'));
  await page.waitForSelector('#avatar-save:not([hidden])');
  await page.click('#avatar-save');
  await page.waitForSelector('#avatar-form .form-error:not([hidden])');
  assert.match(await text(page, '#avatar-form .form-error'), /not a PNG, JPEG or WebP image, whatever its name says/);
  assert.equal(puts.length, 1);
  // A real one: previewed from the file, then uploaded and shown from /avatars/.
  await input.uploadFile(file('me.png', png(64, 48, [200, 40, 90])));
  await page.waitForFunction(() => {
    const i = document.querySelector('#avatar-preview');
    return !document.querySelector('#avatar-preview-box').hidden && i.src.startsWith('blob:') && i.complete && i.naturalWidth === 64;
  });
  assert.equal(await page.$eval('#avatar-file-error', (e) => e.hidden), true);
  await snap(page, 'avatar-preview');
  await page.click('#avatar-save');
  await page.waitForFunction(() => document.querySelector('#avatar-form .form-note').textContent === 'Your new picture is saved.');
  const shown = async () =>
    page.waitForFunction(
      (origin) => {
        const i = document.querySelector('#avatar-current');
        return !i.hidden && i.src.startsWith(`${origin}/avatars/`) && i.complete && i.naturalWidth === 64 && i.naturalHeight === 48 ? i.src : null;
      },
      {},
      SITE
    );
  const url = await (await shown()).jsonValue();
  assert.equal(puts.length, 2);
  assert.equal(await page.$eval('#avatar-preview-box', (e) => e.hidden), true);
  assert.equal(await page.$eval('#avatar-progress', (e) => e.hidden), true);
  await snap(page, 'avatar-saved');
  // Still there after a reload, and as the API says.
  await page.reload();
  await view(page, 'account');
  assert.equal(await (await shown()).jsonValue(), url);
  const session = await page.evaluate(() => JSON.parse(localStorage.getItem('ums.session')));
  assert.equal((await api('GET', '/api/v1/users/me/profile', { token: session.access_token })).body.avatar_url, url);
  assert.deepEqual(await page.evaluate(() => window.__csp || []), []);
  // Removed: gone from the page and from the web server.
  await page.click('#avatar-remove');
  await page.waitForFunction(() => document.querySelector('#avatar-form .form-note').textContent === 'Your picture is removed.');
  assert.equal(await page.$eval('#avatar-current', (e) => e.hidden), true);
  assert.equal(await page.$eval('#avatar-none', (e) => e.hidden), false);
  assert.equal((await fetch(url)).status, 404);
  assert.deepEqual(page.seen.dialogs, []);
  await page.close();
});

test('a GitHub account is linked from the account page and removed; one that belongs to someone else is refused in words', async () => {
  const stamp = `${Date.now()}${Math.floor(Math.random() * 1e4)}`;
  // Someone signs up with GitHub, through the sign-in page's button.
  const taken = await open(browser);
  await steerGitHub(taken);
  taken.githubLogin = `web-taken-${stamp}`;
  await taken.goto(`${SITE}/account/`);
  await view(taken, 'signin');
  await taken.waitForSelector('[data-provider=github]:not([hidden])');
  await Promise.all([taken.waitForNavigation({ waitUntil: 'networkidle0' }), taken.click('[data-provider=github]')]);
  await view(taken, 'landed');
  assert.equal(await text(taken, '#landed-title'), 'You are signed in');
  await taken.close();

  const page = await open(browser);
  await steerGitHub(page);
  const addr = email('linker');
  await api('POST', '/auth/v1/signup', { body: { email: addr, password: 'correct horse battery' } });
  await signedIn(page, addr, 'correct horse battery');
  await page.waitForFunction(() => document.querySelectorAll('#identities li').length === 1);
  assert.match(await text(page, '#identities li'), /^Email and password/);
  assert.equal(await page.$('#identities li button'), null, 'the only way to sign in can be removed');
  await page.waitForSelector('[data-link=github]:not([hidden])');
  // Another person's GitHub account: refused, in words, back to the account.
  page.githubLogin = `web-taken-${stamp}`;
  await Promise.all([page.waitForNavigation({ waitUntil: 'networkidle0' }), page.click('[data-link=github]')]);
  await view(page, 'landed');
  assert.equal(await text(page, '#landed-title'), 'GitHub could not be linked');
  assert.match(await text(page, '#landed-text'), /belongs to another account already/);
  await snap(page, 'link-refused');
  await page.click('#landed-next');
  await view(page, 'account');
  await page.waitForFunction(() => document.querySelectorAll('#identities li').length === 1);
  // Their own: linked; the session it comes back with replaces the old one.
  const replaced = await page.evaluate(() => JSON.parse(localStorage.getItem('ums.session')));
  page.githubLogin = `web-linked-${stamp}`;
  await page.waitForSelector('[data-link=github]:not([hidden])');
  await Promise.all([page.waitForNavigation({ waitUntil: 'networkidle0' }), page.click('[data-link=github]')]);
  await view(page, 'landed');
  assert.equal(await text(page, '#landed-title'), 'GitHub is linked to your account');
  assert.equal(page.url(), `${SITE}/account/`, 'tokens left in the address bar');
  await page.click('#landed-next');
  await view(page, 'account');
  await page.waitForFunction(() => document.querySelectorAll('#identities li').length === 2);
  assert.match(await text(page, '#identities li[data-identity=github]'), /^GitHub/);
  assert.equal(await page.$eval('[data-link=github]', (e) => e.hidden), true);
  assert.equal((await api('GET', '/auth/v1/user', { token: replaced.access_token })).status, 403);
  await snap(page, 'github-linked');
  // Both sign in to this account now.
  const session = await page.evaluate(() => JSON.parse(localStorage.getItem('ums.session')));
  const mine = (await api('GET', '/auth/v1/user', { token: session.access_token })).body;
  assert.equal(mine.email, addr);
  assert.deepEqual(mine.identities.map((i) => i.provider).sort(), ['email', 'github']);
  // Removed again: one way left, which cannot be removed.
  await page.click('#identities li[data-identity=github] button');
  await page.waitForFunction(() => document.querySelectorAll('#identities li').length === 1);
  assert.equal(await page.$('#identities li button'), null);
  await page.waitForSelector('[data-link=github]:not([hidden])');
  assert.deepEqual((await api('GET', '/auth/v1/user', { token: session.access_token })).body.identities.map((i) => i.provider), ['email']);
  assert.deepEqual(page.seen.dialogs, []);
  await page.close();
});

test('a sign-in link by mail signs in without the password', async () => {
  const page = await open(browser);
  const addr = email('maillink');
  await api('POST', '/auth/v1/signup', { body: { email: addr, password: 'correct horse battery' } });
  await page.goto(`${SITE}/account/`);
  await view(page, 'signin');
  await page.click('#signin-link');
  await page.waitForSelector('#signin-email-error:not([hidden])');
  assert.equal(await text(page, '#signin-email-error'), 'Enter your email address.');
  await fill(page, '#signin-email', addr);
  await page.click('#signin-link');
  await page.waitForSelector('#signin-form .form-note:not([hidden])');
  assert.equal(await text(page, '#signin-form .form-note'), `If an account uses ${addr}, a sign-in link is on its way.`);
  await snap(page, 'signin-link-sent');
  const url = link(await mail(addr, 'user.magiclink_requested'));
  assert.match(url, /type=magiclink&redirect_to=/);
  await page.goto(url);
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit], input[type=submit]')]);
  await view(page, 'landed');
  assert.equal(await text(page, '#landed-title'), 'You are signed in');
  assert.equal(page.url(), `${SITE}/account/`, 'tokens left in the address bar');
  await page.click('#landed-next');
  await view(page, 'account');
  assert.equal(await text(page, '#me-email'), addr);
  // The link works once: opened again, it says so.
  await page.goto(url);
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit], input[type=submit]')]);
  await view(page, 'landed');
  assert.equal(await text(page, '#landed-title'), 'This link did not work');
  await page.close();
});

test('sign-in errors are shown in words and a session revoked elsewhere goes back to sign-in once', async () => {
  const page = await open(browser);
  const addr = email('revoked');
  await api('POST', '/auth/v1/signup', { body: { email: addr, password: 'correct horse battery' } });
  await page.goto(`${SITE}/account/`);
  await view(page, 'signin');
  await fill(page, '#signin-email', addr);
  await fill(page, '#signin-password', 'wrong password');
  await page.click('#signin-form button[type=submit]');
  await page.waitForSelector('#signin-form .form-error:not([hidden])');
  assert.match(await text(page, '#signin-form .form-error'), /not right/);
  await snap(page, 'signin-refused');
  await fill(page, '#signin-password', 'correct horse battery');
  await page.click('#signin-form button[type=submit]');
  await view(page, 'account');
  // Every session of the user is revoked from another device.
  const other = await signIn(addr, 'correct horse battery');
  assert.equal((await api('POST', '/auth/v1/logout?scope=global', { token: other.access_token })).status, 204);
  let refreshes = 0;
  page.on('request', (r) => {
    if (r.url().includes('grant_type=refresh_token')) refreshes += 1;
  });
  await page.reload();
  await view(page, 'signin');
  await new Promise((r) => setTimeout(r, 500));
  assert.ok(refreshes <= 1, `${refreshes} refreshes`);
  assert.equal(await page.evaluate(() => localStorage.getItem('ums.session')), null);
  await snap(page, 'revoked-back-to-signin');
  await page.close();
});

test('the pages are sent with a strict CSP that blocks an inline script', async () => {
  for (const path of ['/account/', '/lib/api.js', '/lib/style.css']) {
    const r = await fetch(`${SITE}${path}`);
    assert.equal(r.status, 200, path);
    const csp = r.headers.get('content-security-policy') || '';
    for (const d of ["script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'", "default-src 'none'"]) assert.ok(csp.includes(d), `${path}: ${csp}`);
    assert.ok(!/unsafe-inline|unsafe-eval/.test(csp), csp);
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
  }
  assert.equal((await fetch(`${SITE}/account/`, { method: 'POST' })).status >= 400, true);
  plant('account/csp-probe.html', '<!doctype html><title>untouched</title><script>document.title = "ran"</script><p style="color:red">x</p>');
  const page = await open(browser);
  await page.goto(`${SITE}/account/csp-probe.html`);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(await page.title(), 'untouched');
  const csp = await page.evaluate(() => window.__csp || []);
  assert.ok(csp.some((v) => v.startsWith('script-src')), JSON.stringify(csp));
  await page.close();
});

test('no serious or critical accessibility violation on any view', async () => {
  const page = await open(browser);
  for (const v of ['signin', 'signup', 'forgot']) {
    await page.goto(`${SITE}/account/#${v}`);
    await view(page, v);
    await axe(page, v);
  }
  // A form error shown next to its field.
  await page.goto(`${SITE}/account/#signin`);
  await view(page, 'signin');
  await page.click('#signin-form button[type=submit]');
  await page.waitForSelector('#signin-email-error:not([hidden])');
  await axe(page, 'signin with an error');
  const addr = email('a11y');
  await api('POST', '/auth/v1/signup', { body: { email: addr, password: 'correct horse battery' } });
  await fill(page, '#signin-email', addr);
  await fill(page, '#signin-password', 'correct horse battery');
  await page.click('#signin-form button[type=submit]');
  await view(page, 'account');
  await page.waitForSelector('#sessions li');
  await axe(page, 'account');
  await page.goto(`${SITE}/account/?error=access_denied&error_code=otp_expired`);
  await view(page, 'landed');
  await axe(page, 'landed');
  // The keyboard alone: the sign-out button takes Enter.
  await page.goto(`${SITE}/account/#account`);
  await view(page, 'account');
  await page.focus('#signout');
  await page.keyboard.press('Enter');
  await view(page, 'signin');
  await page.close();
});

test('the keyboard alone signs in and reaches every control, each with a visible focus ring', async () => {
  const page = await open(browser);
  const addr = email('keyboard');
  await api('POST', '/auth/v1/signup', { body: { email: addr, password: 'correct horse battery' } });
  await page.goto(`${SITE}/account/#signin`);
  await view(page, 'signin');
  const signin = await tabThrough(page);
  assert.deepEqual(signin.missed, [], `sign-in: not reached by Tab: ${signin.missed.join(', ')}`);
  assert.deepEqual(signin.unringed, [], `sign-in: no focus ring on ${signin.unringed.join(', ')}`);
  // Sign in by keys only: Tab to the address, type, Tab, type, Enter.
  await page.reload();
  await view(page, 'signin');
  for (let i = 0; i < 20 && (await page.evaluate(() => document.activeElement.id)) !== 'signin-email'; i++) await page.keyboard.press('Tab');
  await page.keyboard.type(addr);
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'signin-password');
  await page.keyboard.type('correct horse battery');
  await page.keyboard.press('Enter');
  await view(page, 'account');
  await page.waitForSelector('#sessions li');
  await page.waitForSelector('#prefs-rows input');
  const account = await tabThrough(page);
  assert.ok(account.count > 20, `only ${account.count} controls on the account page`);
  assert.deepEqual(account.missed, [], `account: not reached by Tab: ${account.missed.join(', ')}`);
  assert.deepEqual(account.unringed, [], `account: no focus ring on ${account.unringed.join(', ')}`);
  // A switch of the grid toggles with Space, and the form saves with Enter
  // on its button.
  const box = 'input[name="welcome.push"]';
  const before = await page.$eval(box, (e) => e.checked);
  await page.focus(box);
  await page.keyboard.press(' ');
  assert.equal(await page.$eval(box, (e) => e.checked), !before);
  await page.focus('#prefs-form button[type=submit]');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.querySelector('#prefs-form .form-note').textContent === 'Saved.');
  await page.close();
});

test('the inbox shows unread messages as text and marks them read; the switches are saved', async () => {
  const addr = email('inbox');
  const s = await api('POST', '/auth/v1/signup', { body: { email: addr, password: 'correct horse battery' } });
  const uid = s.body.user.id;
  const title = '<img src=x onerror=alert(3)> Maintenance';
  const sent = await api('POST', `/api/v1/users/${uid}/notifications`, { token: process.env.UMS_SERVICE_KEY, body: { title, message: 'Tonight at <b>ten</b>.' } });
  assert.equal(sent.status, 202, JSON.stringify(sent.body));
  // The notifier delivers both (the welcome and the message) to the inbox.
  let unread = 0;
  for (let i = 0; i < 100 && unread < 2; i++) {
    unread = (await api('GET', '/api/v1/users/me/notifications', { token: s.body.access_token })).body.unread_count;
    if (unread < 2) await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(unread, 2);
  const page = await open(browser);
  await page.goto(`${SITE}/account/#signin`);
  await view(page, 'signin');
  await fill(page, '#signin-email', addr);
  await fill(page, '#signin-password', 'correct horse battery');
  await page.click('#signin-form button[type=submit]');
  await view(page, 'account');
  // Two, or three when this sign-in was announced as one from a new device.
  await page.waitForFunction(() => /^[23] unread$/.test(document.querySelector('#inbox-badge').textContent));
  const n = parseInt(await text(page, '#inbox-badge'), 10);
  assert.ok((await page.$$eval('#inbox li strong', (l) => l.map((e) => e.textContent))).includes(title));
  assert.equal(await page.$$eval('main img:not(.avatar), [onerror]', (l) => l.length), 0, 'a title became markup');
  await snap(page, 'inbox');
  await page.click('#inbox li.unread button');
  await page.waitForFunction((left) => document.querySelector('#inbox-badge').textContent === `${left} unread`, {}, n - 1);
  await page.click('#inbox-all-read');
  await page.waitForFunction(() => document.querySelector('#inbox-badge').hidden);
  assert.equal((await api('GET', '/api/v1/users/me/notifications', { token: s.body.access_token })).body.unread_count, 0);
  // The switches: admin messages no longer by email.
  const box = 'input[name="admin_message.email"]';
  await page.waitForSelector(box);
  assert.equal(await page.$eval(box, (e) => e.checked), true);
  await page.click(box);
  await page.click('#prefs-form button[type=submit]');
  await page.waitForFunction(() => document.querySelector('#prefs-form .form-note').textContent === 'Saved.');
  const prefs = await api('GET', '/api/v1/users/me/notification-preferences', { token: s.body.access_token });
  assert.equal(prefs.body.preferences.admin_message.email, false);
  assert.equal(prefs.body.preferences.admin_message.in_app, true);
  await page.reload();
  await view(page, 'account');
  await page.waitForSelector(box);
  assert.equal(await page.$eval(box, (e) => e.checked), false);
  assert.deepEqual(page.seen.dialogs, []);
  await snap(page, 'switches');
  await page.close();
});
