// account.js - the account pages (/account/): sign-in, sign-up, password
// reset, the landing of emailed links, and the signed-in account page. Only
// /auth/v1 and /api/v1 on this origin are called (web/lib/api.js).
import * as api from '/lib/api.js';
import { $, $$, el, show, clearErrors, showError, explain, busy, when, takeFragment, status, picture } from '/lib/ui.js';

let me = null; // the /api/v1 user with its profile
let landing = null; // what an emailed link said, once
let settings = null; // the promise of /auth/v1/settings (null when it failed)

// The ways to sign in, by their provider names.
const PROVIDERS = { email: 'Email and password', google: 'Google', github: 'GitHub' };

function home() {
  return `${location.origin}/account/`;
}

// ---- password rules, shown as one types ----
function chars(s) {
  return [...s].length;
}

function watchRules(input, list) {
  const update = () => {
    const n = chars(input.value);
    const ok = { min: n >= 8, max: n <= 128 };
    for (const li of $$('li', list)) {
      const good = ok[li.dataset.rule];
      li.classList.toggle('met', good && n > 0);
      li.classList.toggle('unmet', !good && n > 0);
      li.setAttribute('aria-label', `${li.textContent}: ${good ? 'met' : 'not met'}`);
    }
  };
  input.addEventListener('input', update);
  update();
}

function passwordProblem(pw) {
  const n = chars(pw);
  if (n < 8) return 'The password needs at least 8 characters.';
  if (n > 128) return 'The password can have at most 128 characters.';
  return '';
}

function fieldError(form, name, message) {
  showError(form, { fields: [{ field: name, message }], status: 400, code: 'validation_failed' });
}

function note(form, text) {
  const n = $('.form-note', form);
  if (n) {
    n.textContent = text;
    n.hidden = !text;
  }
  status(text);
}

// ---- the views ----
async function route() {
  const view = location.hash.replace(/^#/, '');
  if (landing) {
    const l = landing;
    landing = null;
    return land(l);
  }
  if (api.session()) {
    if (view === 'reset') return show('reset');
    return openAccount();
  }
  if (['signup', 'forgot'].includes(view)) return show(view);
  return show('signin');
}

// A mailed link lands here with the session, or the error, in the fragment.
async function land(p) {
  const title = $('#landed-title');
  const text = $('#landed-text');
  const next = $('#landed-next');
  // A provider being linked from the account page (link()) comes back here.
  const linking = PROVIDERS[sessionStorage.getItem('ums.linking')] || '';
  sessionStorage.removeItem('ums.linking');
  if (p.get('error') || p.get('error_code')) {
    const code = p.get('error_code') || p.get('error');
    title.textContent = 'This link did not work';
    const words = {
      otp_expired: 'The link has expired, or it was used already. Ask for a new one below.',
      access_denied: 'The link was refused. It may have expired or been used already.',
      flow_state_expired: 'The sign-in took too long. Start again.',
      bad_oauth_callback: 'The sign-in provider did not answer as expected. Start again.',
      user_banned: 'This account is suspended.',
      identity_already_exists: `This ${linking || 'provider'} account belongs to another account already. Sign in with it there, or remove it from that account first.`,
      session_not_found: 'You were signed out before the provider answered. Sign in and start again.',
    };
    if (linking) title.textContent = `${linking} could not be linked`;
    text.textContent = words[code] || p.get('error_description') || 'The link could not be used.';
    const back = api.session() !== null;
    next.textContent = back ? 'Back to your account' : 'Back to sign-in';
    next.href = back ? '#account' : '#signin';
    return show('landed');
  }
  // Linking ends with a session of its own: it replaces the one that
  // started it, which is signed out, so the devices list shows one.
  const before = linking ? api.session() : null;
  api.keep({
    access_token: p.get('access_token'),
    refresh_token: p.get('refresh_token'),
    expires_in: p.get('expires_in'),
    expires_at: p.get('expires_at'),
  });
  if (before) await api.forget(before);
  const type = p.get('type');
  if (linking) {
    title.textContent = `${linking} is linked to your account`;
    text.textContent = `From now on you can also sign in with ${linking}.`;
    next.textContent = 'Back to your account';
    next.href = '#account';
    return show('landed');
  }
  if (type === 'recovery') return show('reset');
  title.textContent = type === 'email_change' ? 'Your new address is confirmed' : type === 'signup' ? 'Your address is confirmed' : 'You are signed in';
  text.textContent = type === 'email_change' ? 'From now on, sign in with the new address.' : 'Welcome.';
  next.textContent = 'Go to your account';
  next.href = '#account';
  return show('landed');
}

// ---- signed out ----
async function signIn(ev) {
  ev.preventDefault();
  const f = ev.target;
  clearErrors(f);
  note(f, '');
  const email = f.elements.email.value.trim();
  if (!email) return fieldError(f, 'email', 'Enter your email address.');
  if (!f.elements.password.value) return fieldError(f, 'password', 'Enter your password.');
  await busy($('button[type=submit]', f), async () => {
    try {
      const o = await api.anon('POST', '/auth/v1/token?grant_type=password', { email, password: f.elements.password.value });
      api.keep(o);
      f.reset();
      history.replaceState(null, '', '#account');
      await route();
    } catch (e) {
      f.elements.password.value = '';
      showError(f, e);
    }
  });
}

// A sign-in link by mail (POST /otp): only for an account that exists; the
// answer is the same either way.
async function signInLink(ev) {
  const f = $('#signin-form');
  clearErrors(f);
  note(f, '');
  const email = f.elements.email.value.trim();
  if (!email) return fieldError(f, 'email', 'Enter your email address.');
  await busy(ev.target, async () => {
    try {
      await api.anon('POST', `/auth/v1/otp?redirect_to=${encodeURIComponent(home())}`, { email, create_user: false });
      note(f, `If an account uses ${email}, a sign-in link is on its way.`);
    } catch (e) {
      showError(f, e, { email: 'email' });
    }
  });
}

async function signUp(ev) {
  ev.preventDefault();
  const f = ev.target;
  clearErrors(f);
  const email = f.elements.email.value.trim();
  const pw = f.elements.password.value;
  if (!email) return fieldError(f, 'email', 'Enter your email address.');
  const bad = passwordProblem(pw);
  if (bad) return fieldError(f, 'password', bad);
  const name = f.elements.name.value.trim();
  await busy($('button[type=submit]', f), async () => {
    try {
      const o = await api.anon('POST', `/auth/v1/signup?redirect_to=${encodeURIComponent(home())}`, {
        email,
        password: pw,
        data: name ? { name } : undefined,
      });
      f.reset();
      if (o && o.access_token) {
        api.keep(o);
        history.replaceState(null, '', '#account');
        await route();
      } else {
        $('#signup-sent-to').textContent = email;
        show('signup-sent');
      }
    } catch (e) {
      showError(f, e, { email: 'email', password: 'password' });
    }
  });
}

async function forgot(ev) {
  ev.preventDefault();
  const f = ev.target;
  clearErrors(f);
  note(f, '');
  const email = f.elements.email.value.trim();
  if (!email) return fieldError(f, 'email', 'Enter your email address.');
  await busy($('button[type=submit]', f), async () => {
    try {
      await api.anon('POST', `/auth/v1/recover?redirect_to=${encodeURIComponent(home())}`, { email });
      note(f, `If an account uses ${email}, a link to choose a new password is on its way.`);
    } catch (e) {
      showError(f, e);
    }
  });
}

// ---- signed in ----
async function openAccount() {
  show('loading');
  try {
    me = await api.call('GET', '/api/v1/users/me');
  } catch (e) {
    if (e instanceof api.SessionGone) return show('signin');
    $('#landed-title').textContent = 'Your account could not be loaded';
    $('#landed-text').textContent = explain(e);
    $('#landed-next').textContent = 'Try again';
    $('#landed-next').href = '#account';
    return show('landed');
  }
  fill();
  show('account');
  $('#signout').hidden = false;
  loadIdentities();
  loadSessions();
  loadInbox(false);
  loadPrefs();
}

// A button of a list item: runs fn with progress, reloads the list, and
// shows a failure in the list's error line (a dead session: sign-in).
function itemButton(attrs, err, fn, reload) {
  const b = el('button', { type: 'button', class: 'secondary small', ...attrs });
  b.addEventListener('click', () =>
    busy(b, async () => {
      try {
        await fn();
        await reload();
      } catch (e) {
        if (e instanceof api.SessionGone) return route();
        err.textContent = explain(e);
        err.hidden = false;
      }
    })
  );
  return b;
}

// ---- the in-app inbox ----
let inboxCursor = null;

function badge(unread) {
  const b = $('#inbox-badge');
  b.textContent = unread > 0 ? `${unread} unread` : '';
  b.hidden = !(unread > 0);
  $('#inbox-all-read').hidden = !(unread > 0);
}

async function loadInbox(more) {
  const err = $('#inbox-error');
  err.hidden = true;
  let o;
  try {
    o = await api.call('GET', `/api/v1/users/me/notifications?limit=20${more && inboxCursor ? `&cursor=${encodeURIComponent(inboxCursor)}` : ''}`);
  } catch (e) {
    if (e instanceof api.SessionGone) return route();
    err.textContent = explain(e);
    err.hidden = false;
    return;
  }
  const tz = me && me.profile ? me.profile.timezone : undefined;
  const items = o.data.map((n) => {
    const li = el('li', { 'data-notification': n.id, class: n.read_at ? 'read' : 'unread' }, el('strong', { text: n.title || '' }), n.read_at ? null : el('span', { class: 'badge', text: 'new' }), el('span', { class: 'muted', text: ` ${when(n.created_at, tz)}` }), el('p', { text: n.body || '' }));
    if (!n.read_at)
      li.append(
        itemButton(
          { 'data-busy': 'Marking…', text: 'Mark as read', 'aria-label': `Mark “${n.title || 'message'}” as read` },
          err,
          () => api.call('POST', `/api/v1/users/me/notifications/${encodeURIComponent(n.id)}/read`),
          () => loadInbox(false)
        )
      );
    return li;
  });
  if (more) $('#inbox').append(...items);
  else $('#inbox').replaceChildren(...items);
  inboxCursor = o.next_cursor || null;
  $('#inbox-more').hidden = !inboxCursor;
  $('#inbox-empty').hidden = $('#inbox').children.length > 0;
  badge(Number(o.unread_count) || 0);
}

async function allRead(ev) {
  await busy(ev.target, async () => {
    try {
      await api.call('POST', '/api/v1/users/me/notifications/read-all');
      status('Every message is marked as read.');
      await loadInbox(false);
    } catch (e) {
      if (e instanceof api.SessionGone) return route();
      $('#inbox-error').textContent = explain(e);
      $('#inbox-error').hidden = false;
    }
  });
}

// ---- the notification switches: kinds x channels ----
const KINDS = { welcome: 'Welcome', role_changed: 'Your role changed', new_sign_in: 'A sign-in from a new device', admin_message: 'Messages from the administrators' };
const CHANNELS = { email: 'Email', push: 'Push', in_app: 'In the app' };

async function loadPrefs() {
  const f = $('#prefs-form');
  let o;
  try {
    o = await api.call('GET', '/api/v1/users/me/notification-preferences');
  } catch (e) {
    if (e instanceof api.SessionGone) return route();
    return showError(f, e);
  }
  const rows = Object.keys(o.preferences || {}).map((kind) =>
    el(
      'tr',
      {},
      el('th', { scope: 'row', id: `pref-${kind}`, text: KINDS[kind] || kind }),
      ...Object.keys(CHANNELS).map((ch) => el('td', {}, el('input', { type: 'checkbox', name: `${kind}.${ch}`, checked: o.preferences[kind][ch] === true, 'aria-label': `${KINDS[kind] || kind}: ${CHANNELS[ch]}` })))
    )
  );
  $('#prefs-rows').replaceChildren(...rows);
}

async function savePrefs(ev) {
  ev.preventDefault();
  const f = ev.target;
  clearErrors(f);
  note(f, '');
  const prefs = {};
  for (const box of $$('#prefs-rows input[type=checkbox]')) {
    const [kind, ch] = box.name.split('.');
    prefs[kind] = prefs[kind] || {};
    prefs[kind][ch] = box.checked;
  }
  await busy($('button[type=submit]', f), async () => {
    try {
      await api.call('PUT', '/api/v1/users/me/notification-preferences', { body: { preferences: prefs } });
      note(f, 'Saved.');
    } catch (e) {
      if (e instanceof api.SessionGone) return route();
      showError(f, e);
    }
  });
}

function fill() {
  $('#me-email').textContent = me.email || '';
  const f = $('#profile-form');
  f.elements.name.value = me.name || '';
  f.elements.bio.value = (me.profile && me.profile.bio) || '';
  const tz = (me.profile && me.profile.timezone) || '';
  const sel = f.elements.timezone;
  sel.value = tz;
  showAvatar();
}

function zones() {
  const sel = $('#profile-timezone');
  const list = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : ['UTC'];
  sel.replaceChildren(el('option', { value: '', text: 'Not set (use the device’s)' }), ...list.map((z) => el('option', { value: z, text: z.replaceAll('_', ' ') })));
}

async function saveProfile(ev) {
  ev.preventDefault();
  const f = ev.target;
  clearErrors(f);
  note(f, '');
  const name = f.elements.name.value.trim();
  const bio = f.elements.bio.value;
  if (chars(bio) > 500) return fieldError(f, 'bio', 'At most 500 characters.');
  await busy($('button[type=submit]', f), async () => {
    try {
      if (name !== (me.name || '')) await api.call('PATCH', '/api/v1/users/me', { body: { name } });
      await api.call('PATCH', '/api/v1/users/me/profile', { body: { bio: bio || null, timezone: f.elements.timezone.value || null } });
      me = await api.call('GET', '/api/v1/users/me');
      fill();
      note(f, 'Saved.');
    } catch (e) {
      if (e instanceof api.SessionGone) return route();
      showError(f, e);
    }
  });
}

async function changeEmail(ev) {
  ev.preventDefault();
  const f = ev.target;
  clearErrors(f);
  note(f, '');
  const email = f.elements.email.value.trim();
  if (!email) return fieldError(f, 'email', 'Enter the new address.');
  const body = { email };
  if (f.elements.current_password.value) body.current_password = f.elements.current_password.value;
  await busy($('button[type=submit]', f), async () => {
    try {
      await api.call('PUT', `/auth/v1/user?redirect_to=${encodeURIComponent(home())}`, { body });
      f.reset();
      note(f, `We sent a link to ${email}. The change is made once you open it.`);
    } catch (e) {
      if (e instanceof api.SessionGone) return route();
      f.elements.current_password.value = '';
      showError(f, e, { current_password: 'current_password' });
    }
  });
}

async function changePassword(ev, fromReset) {
  ev.preventDefault();
  const f = ev.target;
  clearErrors(f);
  note(f, '');
  const pw = f.elements.password.value;
  const bad = passwordProblem(pw);
  if (bad) return fieldError(f, 'password', bad);
  const body = { password: pw };
  if (!fromReset && f.elements.current_password.value) body.current_password = f.elements.current_password.value;
  await busy($('button[type=submit]', f), async () => {
    try {
      await api.call('PUT', '/auth/v1/user', { body });
      f.reset();
      if (fromReset) {
        history.replaceState(null, '', '#account');
        await openAccount();
        status('Your new password is saved.');
      } else {
        note(f, 'Your new password is saved. Every other device was signed out.');
        loadSessions();
      }
    } catch (e) {
      if (e instanceof api.SessionGone) return route();
      showError(f, e);
    }
  });
}

// ---- the picture ----
const IMAGE_TYPES = { 'image/png': 'PNG', 'image/jpeg': 'JPEG', 'image/webp': 'WebP' };
const IMAGE_MAX = 2 * 1024 * 1024; // the server's limit (AVATAR_MAX_BYTES)
let preview = null; // the blob: URL of the chosen file

function showAvatar() {
  picture((me.profile && me.profile.avatar_url) || '', $('#avatar-current'), $('#avatar-none'), $('#avatar-remove'));
}

function dropPreview() {
  if (preview) URL.revokeObjectURL(preview);
  preview = null;
  $('#avatar-preview').removeAttribute('src');
  $('#avatar-preview-box').hidden = true;
  $('#avatar-save').hidden = true;
}

// The limits are checked before anything is sent; the server checks the
// image's first bytes, whatever its name says.
function chooseAvatar() {
  const f = $('#avatar-form');
  clearErrors(f);
  note(f, '');
  dropPreview();
  const file = $('#avatar-file').files[0];
  if (!file) return;
  if (!IMAGE_TYPES[file.type]) return fieldError(f, 'file', `“${file.name}” is not a PNG, JPEG or WebP image.`);
  if (file.size === 0) return fieldError(f, 'file', `“${file.name}” is empty.`);
  if (file.size > IMAGE_MAX) return fieldError(f, 'file', `“${file.name}” is ${(file.size / 1048576).toFixed(1)} MiB: the limit is 2 MiB.`);
  preview = URL.createObjectURL(file);
  $('#avatar-preview').src = preview;
  $('#avatar-preview-box').hidden = false;
  $('#avatar-save').hidden = false;
}

async function saveAvatar(ev) {
  ev.preventDefault();
  const f = ev.target;
  const file = $('#avatar-file').files[0];
  clearErrors(f);
  note(f, '');
  if (!file || !preview) return fieldError(f, 'file', 'Choose a picture first.');
  const bar = $('#avatar-progress');
  bar.value = 0;
  bar.hidden = false;
  await busy($('#avatar-save'), async () => {
    try {
      const profile = await api.call('PUT', '/api/v1/users/me/avatar', {
        body: file,
        onProgress: (done) => {
          bar.value = Math.round(done * 100);
        },
      });
      me.profile = { ...me.profile, ...profile };
      f.reset();
      dropPreview();
      showAvatar();
      note(f, 'Your new picture is saved.');
    } catch (e) {
      if (e instanceof api.SessionGone) return route();
      showError(f, e);
    } finally {
      bar.hidden = true;
    }
  });
}

async function removeAvatar(ev) {
  const f = $('#avatar-form');
  clearErrors(f);
  note(f, '');
  await busy(ev.target, async () => {
    try {
      const profile = await api.call('DELETE', '/api/v1/users/me/avatar');
      me.profile = { ...me.profile, ...profile };
      showAvatar();
      note(f, 'Your picture is removed.');
    } catch (e) {
      if (e instanceof api.SessionGone) return route();
      showError(f, e);
    }
  });
}

// ---- the ways to sign in (identities) ----
async function loadIdentities() {
  const err = $('#identities-error');
  err.hidden = true;
  let u;
  try {
    u = await api.call('GET', '/auth/v1/user');
  } catch (e) {
    if (e instanceof api.SessionGone) return route();
    err.textContent = explain(e);
    err.hidden = false;
    return;
  }
  const ids = Array.isArray(u.identities) ? u.identities : [];
  const tz = me && me.profile ? me.profile.timezone : undefined;
  $('#identities').replaceChildren(
    ...ids.map((i) => {
      const name = PROVIDERS[i.provider] || i.provider;
      const d = i.identity_data || {};
      const who = d.email || d.user_name || d.preferred_username || '';
      const item = el('li', { 'data-identity': i.provider }, el('strong', { text: name }), el('span', { class: 'muted', text: ` ${who}${i.created_at ? ` · added ${when(i.created_at, tz)}` : ''}` }));
      if (ids.length > 1)
        item.append(
          itemButton(
            { 'data-busy': 'Removing…', text: 'Remove', 'aria-label': `Remove ${name}${who ? ` (${who})` : ''}` },
            err,
            async () => {
              await api.call('DELETE', `/auth/v1/user/identities/${encodeURIComponent(i.identity_id)}`);
              status(`${name} is removed.`);
            },
            loadIdentities
          )
        );
      return item;
    })
  );
  const s = await settings;
  const linked = new Set(ids.map((i) => i.provider));
  let any = false;
  for (const b of $$('[data-link]')) {
    const offer = Boolean(s && s.external && s.external[b.dataset.link] === true) && !linked.has(b.dataset.link);
    b.hidden = !offer;
    any = any || offer;
  }
  $('#link-buttons').hidden = !any;
}

// The provider is opened in this tab; it comes back to land() with a new
// session in the fragment, or the error.
async function link(ev) {
  const b = ev.target;
  const err = $('#identities-error');
  err.hidden = true;
  await busy(b, async () => {
    try {
      const o = await api.call('GET', `/auth/v1/user/identities/authorize?provider=${encodeURIComponent(b.dataset.link)}&redirect_to=${encodeURIComponent(home())}&skip_http_redirect=true`);
      sessionStorage.setItem('ums.linking', b.dataset.link);
      location.assign(o.url);
    } catch (e) {
      if (e instanceof api.SessionGone) return route();
      err.textContent = explain(e);
      err.hidden = false;
    }
  });
}

function device(ua) {
  const s = String(ua || '');
  const browser = /Edg\//.test(s) ? 'Edge' : /Firefox\//.test(s) ? 'Firefox' : /Chrom(e|ium)\//.test(s) ? 'Chrome' : /Safari\//.test(s) ? 'Safari' : /curl\//.test(s) ? 'curl' : 'A browser or app';
  const os = /Android/.test(s) ? 'Android' : /iPhone|iPad/.test(s) ? 'iOS' : /Windows/.test(s) ? 'Windows' : /Mac OS X/.test(s) ? 'macOS' : /Linux/.test(s) ? 'Linux' : '';
  return os ? `${browser} on ${os}` : browser;
}

async function loadSessions() {
  const list = $('#sessions');
  const err = $('#sessions-error');
  err.hidden = true;
  let o;
  try {
    o = await api.call('GET', '/api/v1/users/me/sessions');
  } catch (e) {
    if (e instanceof api.SessionGone) return route();
    err.textContent = explain(e);
    err.hidden = false;
    return;
  }
  const tz = me && me.profile ? me.profile.timezone : undefined;
  list.replaceChildren(
    ...o.data.map((s) => {
      const item = el(
        'li',
        { 'data-session': s.id },
        el('strong', { text: device(s.user_agent) }),
        s.current ? el('span', { class: 'badge', text: 'this device' }) : null,
        el('span', { class: 'muted', text: ` ${s.ip || ''} · last seen ${when(s.refreshed_at || s.created_at, tz)}` })
      );
      if (!s.current)
        item.append(
          itemButton(
            { 'data-busy': 'Signing out…', text: 'Sign out this device', 'aria-label': `Sign out ${device(s.user_agent)}, last seen ${when(s.refreshed_at || s.created_at, tz)}` },
            err,
            async () => {
              await api.call('DELETE', `/api/v1/users/me/sessions/${encodeURIComponent(s.id)}`);
              status('That device is signed out.');
            },
            loadSessions
          )
        );
      return item;
    })
  );
  $('#signout-others').hidden = o.data.length < 2;
}

async function signOutOthers(ev) {
  await busy(ev.target, async () => {
    await api.signOut('others');
    status('Every other device is signed out.');
    await loadSessions();
  });
}

async function signOutHere() {
  await api.signOut('local');
  me = null;
  $('#signout').hidden = true;
  history.replaceState(null, '', '#signin');
  show('signin');
}

// The providers /auth/v1/settings names get a button; the provider sends
// the browser back here with the session in the fragment.
async function providers() {
  const s = await settings;
  let any = false;
  for (const b of $$('[data-provider]')) {
    const name = b.dataset.provider;
    if (!s || !s.external || s.external[name] !== true) continue;
    b.hidden = false;
    any = true;
    b.addEventListener('click', () => {
      location.assign(`/auth/v1/authorize?provider=${encodeURIComponent(name)}&redirect_to=${encodeURIComponent(home())}`);
    });
  }
  $('#providers').hidden = !any;
}

// ---- start ----
function start() {
  const p = takeFragment();
  if (p.has('access_token') || p.has('error') || p.has('error_code')) landing = p;
  zones();
  watchRules($('#signup-password'), $('#signup-rules'));
  watchRules($('#reset-password'), $('#reset-rules'));
  watchRules($('#password-new'), $('#password-rules'));
  $('#signin-form').addEventListener('submit', signIn);
  $('#signin-link').addEventListener('click', signInLink);
  $('#signup-form').addEventListener('submit', signUp);
  $('#forgot-form').addEventListener('submit', forgot);
  $('#reset-form').addEventListener('submit', (ev) => changePassword(ev, true));
  $('#profile-form').addEventListener('submit', saveProfile);
  $('#email-form').addEventListener('submit', changeEmail);
  $('#password-form').addEventListener('submit', (ev) => changePassword(ev, false));
  $('#signout-others').addEventListener('click', signOutOthers);
  $('#inbox-more').addEventListener('click', (ev) => busy(ev.target, () => loadInbox(true)));
  $('#inbox-all-read').addEventListener('click', allRead);
  $('#prefs-form').addEventListener('submit', savePrefs);
  $('#avatar-file').addEventListener('change', chooseAvatar);
  $('#avatar-form').addEventListener('submit', saveAvatar);
  $('#avatar-remove').addEventListener('click', removeAvatar);
  for (const b of $$('[data-link]')) b.addEventListener('click', link);
  $('#signout').addEventListener('click', signOutHere);
  api.onSessionEnd(() => {
    me = null;
    $('#signout').hidden = true;
  });
  // Signed out in another tab: this one follows.
  window.addEventListener('storage', (e) => {
    if (e.key === 'ums.session' && e.newValue === null) route();
  });
  window.addEventListener('hashchange', route);
  settings = api.anon('GET', '/auth/v1/settings').catch(() => null);
  providers();
  route();
}

start();
