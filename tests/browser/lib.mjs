// lib.mjs - what the browser tests share: Debian's Chromium driven by a
// pinned puppeteer-core (it never downloads a browser), the stack's Maildir,
// direct API calls, screenshots under the stack's log folder.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { deflateSync } from 'node:zlib';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import http from 'node:http';
import puppeteer from 'puppeteer-core';

export const PORT = process.env.UMS_HTTP_PORT || '8080';
// The pages live on site_url's origin, where mailed links land.
export const SITE = new URL(process.env.UMS_SITE_URL || `http://localhost:${PORT}/account/`).origin;
export const SHOTS = join(process.env.UMS_STACK || '.', 'log', 'browser', `${process.env.UMS_SERVER || 'nginx'}${process.env.UMS_BROWSER === 'firefox' ? '-firefox' : ''}`);
mkdirSync(SHOTS, { recursive: true });

// UMS_BROWSER=firefox drives Debian's firefox-esr over WebDriver BiDi
// instead of Chromium over CDP.
export const FIREFOX = process.env.UMS_BROWSER === 'firefox';

export async function launch() {
  if (FIREFOX)
    return puppeteer.launch({
      browser: 'firefox',
      executablePath: process.env.UMS_FIREFOX || '/usr/bin/firefox-esr',
      headless: true,
      extraPrefsFirefox: { 'intl.accept_languages': 'en-US', 'intl.locale.requested': 'en-US', 'app.update.enabled': false, 'browser.safebrowsing.malware.enabled': false, 'browser.safebrowsing.phishing.enabled': false, 'network.captive-portal-service.enabled': false, 'extensions.update.enabled': false },
    });
  return puppeteer.launch({
    executablePath: process.env.UMS_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-extensions', '--lang=en-US'],
  });
}

// A page that fails the test on any dialog (an alert from injected markup)
// and keeps the console's errors and the CSP reports.
export async function open(browser) {
  // Each test in a context of its own: no storage carried over.
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  const seen = { dialogs: [], errors: [], csp: [] };
  page.on('dialog', async (d) => {
    seen.dialogs.push(d.message());
    await d.dismiss();
  });
  page.on('console', (m) => {
    if (m.type() === 'error') seen.errors.push(m.text());
  });
  page.on('pageerror', (e) => seen.errors.push(String(e)));
  await page.evaluateOnNewDocument(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__csp = window.__csp || [];
      window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  page.seen = seen;
  return page;
}

let shot = 0;
export async function snap(page, name) {
  shot += 1;
  await page.screenshot({ path: join(SHOTS, `${String(shot).padStart(2, '0')}-${name}.png`), fullPage: true });
}

export async function view(page, name) {
  await page.waitForSelector(`[data-view="${name}"]:not([hidden])`);
}

export async function text(page, sel) {
  return page.$eval(sel, (e) => e.textContent.trim());
}

export async function fill(page, sel, value) {
  await page.$eval(sel, (e) => {
    e.value = '';
  });
  await page.type(sel, value);
}

export function email(tag) {
  return `web-${tag}-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.com`;
}

// The newest message of `event` to `to` in the stack's Maildir, waited for.
export async function mail(to, event, secs = 20) {
  const dir = join(process.env.UMS_MAILDIR, 'new');
  const end = Date.now() + secs * 1000;
  while (Date.now() < end) {
    const hits = readdirSync(dir)
      .sort()
      .map((f) => readFileSync(join(dir, f), 'utf8'))
      .filter((m) => m.includes(`X-Ums-Event: ${event}`) && new RegExp(`^To: .*${to.replace(/[.+]/g, '\\$&')}`, 'm').test(m));
    if (hits.length) return hits[hits.length - 1];
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`no ${event} mail to ${to} within ${secs} s`);
}

// The verification link of a message's text part.
export function link(message) {
  const m = message.match(/https?:\/\/[^\s"<>]+\/auth\/v1\/verify\?[^\s"<>]+/);
  assert.ok(m, 'no verification link in the mail');
  return m[0].replaceAll('&amp;', '&');
}

// A call to the API from outside the browser, from a loopback address of
// its own (127.a.b.c), so that the tests' own calls do not spend the
// per-address limits of the browser, which always comes from 127.0.0.1.
// body: an object (sent as JSON) or a Buffer (sent as contentType).
export function api(method, path, { token, body, contentType } = {}) {
  const h = { Accept: 'application/json' };
  if (token) h.Authorization = `Bearer ${token}`;
  const payload = body === undefined ? null : Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
  if (payload) {
    h['Content-Type'] = Buffer.isBuffer(body) ? contentType || 'application/octet-stream' : 'application/json';
    h['Content-Length'] = String(payload.length);
  }
  const localAddress = `127.${1 + Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 256)}.${1 + Math.floor(Math.random() * 250)}`;
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: PORT, method, path, headers: h, localAddress, timeout: 20000 }, (res) => {
      const parts = [];
      res.on('data', (c) => parts.push(c));
      res.on('end', () => {
        const t = Buffer.concat(parts).toString('utf8');
        let o = null;
        try {
          o = t ? JSON.parse(t) : null;
        } catch {
          o = t;
        }
        resolve({ status: res.statusCode, body: o, headers: new Headers(Object.entries(res.headers).map(([k, v]) => [k, String(v)])) });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer in 20 s`)));
    req.on('error', reject);
    req.end(payload);
  });
}

export async function signIn(addr, password) {
  const r = await api('POST', '/auth/v1/token?grant_type=password', { body: { email: addr, password } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}

// addr signed in from outside (an address of its own) and the session handed
// to the page as the pages keep it (lib/api.js), up to the account view:
// the tests whose subject is not the sign-in form spend none of the browser
// address's sign-in limit.
export async function signedIn(page, addr, password) {
  const o = await signIn(addr, password);
  await page.goto(`${SITE}/account/#signin`);
  await view(page, 'signin');
  await page.evaluate((v) => localStorage.setItem('ums.session', v), JSON.stringify({ access_token: o.access_token, refresh_token: o.refresh_token, expires_at: o.expires_at }));
  await page.goto(`${SITE}/account/#account`);
  await page.reload();
  await view(page, 'account');
  return o;
}

// A page written into the served web/ folder for one test (the stack's
// copy, never the repository's).
export function plant(relpath, html) {
  writeFileSync(join(process.env.UMS_STACK, 'www', 'web', relpath), html);
}

// axe-core (pinned in package-lock.json) over the page: no serious or
// critical violation. Its source is evaluated by the driver (CDP or BiDi),
// which the pages' CSP does not govern: the pages stay as they are served.
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
export async function axe(page, name) {
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(AXE);
  const found = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  });
  assert.deepEqual(found, [], `${name}: ${found.join('; ')}`);
}

// A real PNG of w x h pixels of one colour ([r, g, b]), as bytes.
export function png(w, h, rgb) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, sum]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8 bits, RGB
  const row = Buffer.concat([Buffer.from([0]), Buffer.from(Array.from({ length: w }, () => rgb).flat())]);
  const raw = Buffer.concat(Array.from({ length: h }, () => row));
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

// A file for an <input type=file>, in a folder of this run.
const FILES = join(tmpdir(), `ums-browser-${process.pid}`);
export function file(name, bytes) {
  mkdirSync(FILES, { recursive: true });
  const path = join(FILES, name);
  writeFileSync(path, bytes);
  return path;
}

// The GitHub stand-in signs in whoever page.githubLogin names: the provider
// URL ums hands the browser gets the stand-in's login hint added on the way
// (the page itself is not changed).
export async function steerGitHub(page) {
  const base = `${process.env.UMS_MOCK_GITHUB_URL}/login/oauth/authorize?`;
  await page.setRequestInterception(true);
  page.on('request', (r) => {
    if (r.isInterceptResolutionHandled()) return;
    const u = r.url();
    if (u.startsWith(base) && page.githubLogin) r.continue({ url: `${u}&login=${encodeURIComponent(page.githubLogin)}` });
    else r.continue();
  });
}

// Presses Tab until every visible control of the page has had the focus
// (or 3 rounds of them have gone by): the controls never reached, and those
// that showed no focus ring.
export async function tabThrough(page) {
  const controls = await page.$$eval('a[href], button, input, select, textarea', (l) =>
    l.filter((e) => !e.disabled && e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden').map((e, i) => {
      e.dataset.tabProbe = String(i);
      return String(i);
    })
  );
  // From the top of the page, as one arriving from the address bar: the
  // first element takes the focus for a moment, so that Tab starts there.
  await page.evaluate(() => {
    const top = document.body.firstElementChild;
    top.setAttribute('tabindex', '-1');
    top.focus();
    top.removeAttribute('tabindex');
  });
  const seen = new Set();
  const unringed = [];
  for (let i = 0; i < controls.length * 3 && seen.size < controls.length; i++) {
    await page.keyboard.press('Tab');
    const [probe, ring, name] = await page.evaluate(() => {
      const e = document.activeElement;
      const s = getComputedStyle(e);
      return [e.dataset.tabProbe || '', s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2, e.id || e.name || e.textContent.trim().slice(0, 30)];
    });
    if (probe) seen.add(probe);
    if (probe && !ring) unringed.push(name);
  }
  const missed = await page.$$eval('[data-tab-probe]', (l, got) => l.filter((e) => !got.includes(e.dataset.tabProbe)).map((e) => e.id || e.name || e.textContent.trim().slice(0, 30)), [...seen]);
  return { count: controls.length, missed, unringed };
}
