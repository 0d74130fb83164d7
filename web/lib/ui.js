// ui.js - small DOM helpers shared by the account pages and the admin
// panel. Every string that came from a user or the server is set as text
// (textContent, value), never parsed as HTML.

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

// An element with attributes and children (strings become text nodes).
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v === null || v === undefined) continue;
    if (k === 'text') e.textContent = String(v);
    else if (k.startsWith('on') && typeof v === 'function') e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

// Shows one view (a <section data-view>), hides the others, and moves the
// keyboard focus to its heading.
export function show(name) {
  for (const s of $$('[data-view]')) s.hidden = s.dataset.view !== name;
  const h = $(`[data-view="${name}"] h1, [data-view="${name}"] h2`);
  if (h) {
    h.setAttribute('tabindex', '-1');
    h.focus();
  }
}

// The form's message area (role=alert) and the per-field messages
// (aria-describedby) from an ApiError's errors[].field.
export function clearErrors(form) {
  for (const m of $$('.field-error', form)) {
    m.textContent = '';
    m.hidden = true;
  }
  for (const i of $$('[aria-invalid]', form)) i.removeAttribute('aria-invalid');
  const top = $('.form-error', form);
  if (top) {
    top.textContent = '';
    top.hidden = true;
  }
}

export function showError(form, err, fieldMap = {}) {
  clearErrors(form);
  let placed = false;
  for (const f of err.fields || []) {
    const name = fieldMap[f.field] || f.field;
    const input = form.elements.namedItem(name);
    const msg = input && $(`#${input.id}-error`, form);
    if (msg) {
      msg.textContent = f.message || 'This value is not accepted.';
      msg.hidden = false;
      input.setAttribute('aria-invalid', 'true');
      placed = true;
    }
  }
  const top = $('.form-error', form);
  if (top && (!placed || err.fields.length === 0)) {
    top.textContent = explain(err);
    top.hidden = false;
  }
  const first = $('[aria-invalid="true"]', form);
  if (first) first.focus();
}

// Words for the error codes a person can meet here.
const WORDS = {
  invalid_credentials: 'The email address or the password is not right.',
  user_locked: 'Too many failed attempts: this address is locked for a while. Try again later or reset your password.',
  user_banned: 'This account is suspended.',
  email_exists: 'An account with this address exists already. Sign in, or reset your password.',
  user_already_exists: 'An account with this address exists already. Sign in, or reset your password.',
  weak_password: 'The password must be between 8 and 128 characters.',
  same_password: 'The new password must differ from the current one.',
  over_request_rate_limit: 'Too many requests. Wait a little and try again.',
  over_email_send_rate_limit: 'An email was sent a moment ago. Wait a minute before asking for another.',
  reauthentication_needed: 'Enter your current password to make this change.',
  email_address_invalid: 'This email address is not valid.',
  validation_failed: 'Some of what you entered is not accepted.',
  otp_expired: 'This link has expired or has been used already. Ask for a new one.',
  session_gone: 'Your session has ended. Please sign in again.',
  last_admin: 'This is the last active administrator: make someone else an administrator first.',
  forbidden: 'Your account may not do this.',
  unsupported_image: 'This file is not a PNG, JPEG or WebP image, whatever its name says.',
  request_too_large: 'This file is larger than the 2 MiB the server takes.',
  single_identity_not_deletable: 'This is your only way to sign in: add another one before you remove it.',
  identity_not_found: 'This way to sign in is gone already. Reload the page.',
};

export function explain(err) {
  if (err.status === 0) return err.message;
  if (WORDS[err.code]) {
    const wait = err.retryAfter ? ` (about ${Math.ceil(err.retryAfter / 60)} min)` : '';
    return WORDS[err.code] + wait;
  }
  if (err.status >= 500) return 'The server could not do this just now. Try again in a moment.';
  return err.message || 'That did not work.';
}

// A button that shows progress while fn runs, and cannot be pressed twice.
export async function busy(button, fn) {
  const label = button.textContent;
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  button.textContent = button.dataset.busy || 'Working…';
  try {
    return await fn();
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
    button.textContent = label;
  }
}

// A date in the reader's time zone (or the profile's, when given).
export function when(iso, timeZone) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  try {
    return new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short', timeZone: timeZone || undefined }).format(d);
  } catch {
    return d.toLocaleString();
  }
}

// What a mailed link or a provider brought back: the session in the
// fragment (#access_token=...), an error in the fragment or the query
// (?error=...&error_code=...). Taken out of the address bar, so that tokens
// do not stay in the history.
export function takeFragment() {
  const h = location.hash.startsWith('#') ? location.hash.slice(1) : '';
  const p = new URLSearchParams(h);
  const q = new URLSearchParams(location.search);
  if (!p.has('access_token') && !p.has('error') && (q.has('error') || q.has('error_code'))) {
    for (const k of ['error', 'error_code', 'error_description']) if (q.has(k)) p.set(k, q.get(k));
  }
  if (p.has('access_token') || p.has('error') || p.has('error_code')) history.replaceState(null, '', location.pathname);
  return p;
}

// A profile picture in img (same origin: the CSP's img-src 'self'), or,
// when url is empty, the elements of `none` shown instead; those of `some`
// (a "remove" button) only with a picture.
export function picture(url, img, none, some) {
  if (url) img.src = url;
  else img.removeAttribute('src');
  img.hidden = !url;
  none.hidden = Boolean(url);
  some.hidden = !url;
}

export function status(msg) {
  const s = $('#status');
  if (s) s.textContent = msg;
}
