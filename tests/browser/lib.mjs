// lib.mjs - what the browser tests share: Debian's Chromium driven by a
// pinned puppeteer-core (it never downloads a browser), the stack's Maildir,
// direct API calls, screenshots under the stack's log folder.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import puppeteer from 'puppeteer-core';

export const PORT = process.env.UMS_HTTP_PORT || '8080';
// The pages live on site_url's origin, where mailed links land.
export const SITE = new URL(process.env.UMS_SITE_URL || `http://localhost:${PORT}/account/`).origin;
export const SHOTS = join(process.env.UMS_STACK || '.', 'log', 'browser', process.env.UMS_SERVER || 'nginx');
mkdirSync(SHOTS, { recursive: true });

export async function launch() {
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

// A call to the API from outside the browser.
export async function api(method, path, { token, body } = {}) {
  const h = { Accept: 'application/json' };
  if (token) h.Authorization = `Bearer ${token}`;
  if (body !== undefined) h['Content-Type'] = 'application/json';
  const r = await fetch(`http://127.0.0.1:${PORT}${path}`, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
  const t = await r.text();
  let o = null;
  try {
    o = t ? JSON.parse(t) : null;
  } catch {
    o = t;
  }
  return { status: r.status, body: o, headers: r.headers };
}

export async function signIn(addr, password) {
  const r = await api('POST', '/auth/v1/token?grant_type=password', { body: { email: addr, password } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}

// A page written into the served web/ folder for one test (the stack's
// copy, never the repository's).
export function plant(relpath, html) {
  writeFileSync(join(process.env.UMS_STACK, 'www', 'web', relpath), html);
}

// axe-core (pinned in package-lock.json) over the page: no serious or
// critical violation. The pages' CSP refuses the injected script, so a
// page given to this has page.setBypassCSP(true) before it navigates.
export async function axe(page, name) {
  await page.addScriptTag({ path: createRequire(import.meta.url).resolve('axe-core/axe.min.js') });
  const found = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  });
  assert.deepEqual(found, [], `${name}: ${found.join('; ')}`);
}
