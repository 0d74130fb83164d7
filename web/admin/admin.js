// admin.js - the administration panel (/admin/): user search as one types
// with filters and keyset pages, a user's page (role, suspension, lockout,
// sessions, sign-in methods, messages, audit trail), creating and inviting
// users, and the audit log. It only shows what /api/v1 and /auth/v1/admin
// let an administrator do; the API refuses everyone else anyway.
import * as api from '/lib/api.js';
import { $, el, show, clearErrors, showError, explain, busy, when, status, picture } from '/lib/ui.js';

let me = null;
let search = { cursor: null, seq: 0 };
let audit = { cursor: null };
let current = null; // the user on the user page

function params(form, names) {
  const p = new URLSearchParams();
  for (const n of names) {
    const v = form.elements[n].value.trim();
    if (v) p.set(n, v);
  }
  return p;
}

function note(id, text) {
  const n = $(id);
  n.textContent = text;
  n.hidden = !text;
  if (text) status(text);
}

// ---- start: only for administrators ----
async function start() {
  show('loading');
  if (!api.session()) return show('signed-out');
  try {
    me = await api.call('GET', '/api/v1/users/me');
  } catch (e) {
    if (e instanceof api.SessionGone) return show('signed-out');
    $('#failed-text').textContent = explain(e);
    return show('failed');
  }
  if (me.role !== 'admin') return show('refused');
  window.addEventListener('hashchange', route);
  route();
}

function route() {
  const h = location.hash.replace(/^#/, '');
  if (h.startsWith('user/')) return openUser(decodeURIComponent(h.slice(5)));
  if (h === 'audit') {
    show('audit');
    return loadAudit(false);
  }
  show('users');
  if (!$('#users-rows').children.length) loadUsers(false);
}

// The session ended (revoked, expired): sign in again. Any other refusal
// is shown where it happened.
function gone(e) {
  if (e instanceof api.SessionGone) {
    show('signed-out');
    return true;
  }
  return false;
}

// ---- users: search as one types ----
let typing = null;

function searchChanged() {
  clearTimeout(typing);
  typing = setTimeout(() => loadUsers(false), 250);
}

async function loadUsers(more) {
  const f = $('#search-form');
  const p = params(f, ['q', 'role', 'status', 'confirmed', 'created_after', 'created_before']);
  p.set('limit', '25');
  if (more && search.cursor) p.set('cursor', search.cursor);
  const seq = ++search.seq;
  let o;
  try {
    o = await api.call('GET', `/api/v1/users?${p}`);
  } catch (e) {
    if (gone(e)) return;
    if (seq === search.seq) showError(f, e);
    return;
  }
  if (seq !== search.seq) return; // an older answer, overtaken by typing
  clearErrors(f);
  const rows = o.data.map((u) =>
    el(
      'tr',
      {},
      el('td', {}, el('a', { href: `#user/${encodeURIComponent(u.id)}`, text: u.email })),
      el('td', { text: u.name || '' }),
      el('td', { text: u.role }),
      el('td', { text: u.status }),
      el('td', { text: when(u.created_at) })
    )
  );
  if (more) $('#users-rows').append(...rows);
  else $('#users-rows').replaceChildren(...rows);
  search.cursor = o.next_cursor || null;
  $('#users-more').hidden = !search.cursor;
  $('#users-empty').hidden = $('#users-rows').children.length > 0;
  status(`${$('#users-rows').children.length} users shown`);
}

async function createUser(ev) {
  ev.preventDefault();
  const f = ev.target;
  clearErrors(f);
  note('#create-form .form-note', '');
  const body = { email: f.elements.email.value.trim(), name: f.elements.name.value.trim(), role: f.elements.role.value };
  if (f.elements.password.value) body.password = f.elements.password.value;
  await busy($('button[type=submit]', f), async () => {
    try {
      const u = await api.call('POST', '/api/v1/users', { body });
      f.reset();
      note('#create-form .form-note', body.password ? `${u.email} can sign in now.` : `${u.email} was emailed a link to choose a password.`);
      loadUsers(false);
    } catch (e) {
      if (gone(e)) return;
      showError(f, e);
    }
  });
}

// ---- one user ----
async function openUser(id) {
  show('loading');
  let u;
  try {
    u = await api.call('GET', `/api/v1/users/${encodeURIComponent(id)}`);
  } catch (e) {
    if (gone(e)) return;
    $('#failed-text').textContent = e.status === 404 ? 'There is no such user.' : explain(e);
    return show('failed');
  }
  current = u;
  $('#user-error').hidden = true;
  $('#user-note').hidden = true;
  $('#user-title').textContent = u.name || u.email;
  $('#user-email').textContent = u.email;
  $('#user-name').textContent = u.name || '—';
  $('#user-bio').textContent = (u.profile && u.profile.bio) || '—';
  $('#user-tz').textContent = (u.profile && u.profile.timezone) || '—';
  showAvatar((u.profile && u.profile.avatar_url) || '');
  $('#user-status').textContent = u.status;
  $('#user-confirmed').textContent = u.email_confirmed_at ? when(u.email_confirmed_at) : 'not yet';
  $('#user-created').textContent = when(u.created_at);
  $('#user-last').textContent = u.last_sign_in_at ? when(u.last_sign_in_at) : 'never';
  $('#role-select').value = u.role;
  $('#user-suspend').hidden = u.status !== 'active' || u.id === me.id;
  $('#user-reactivate').hidden = u.status === 'active';
  show('user');
  loadUserSessions();
  loadIdentities();
  loadUserAudit();
}

function showAvatar(url) {
  picture(url, $('#user-avatar'), $('#user-avatar-none'), $('#user-avatar-remove'));
}

// An unsuitable picture taken down; the user is told by nothing but its
// absence, and the audit trail names the admin.
async function removeAvatar(ev) {
  await busy(ev.target, async () => {
    try {
      await api.call('DELETE', `/api/v1/users/${encodeURIComponent(current.id)}/avatar`);
      showAvatar('');
      note('#user-note', 'The picture is removed.');
      loadUserAudit();
    } catch (e) {
      userFailed(e);
    }
  });
}

function userFailed(e) {
  if (gone(e)) return;
  const m = $('#user-error');
  m.textContent = explain(e);
  m.hidden = false;
}

async function changeRole(ev) {
  ev.preventDefault();
  const f = ev.target;
  clearErrors(f);
  await busy($('button[type=submit]', f), async () => {
    try {
      await api.call('PUT', `/api/v1/users/${encodeURIComponent(current.id)}/role`, { body: { role: f.elements.role.value } });
      note('#user-note', `The role is now ${f.elements.role.value}.`);
      current.role = f.elements.role.value;
    } catch (e) {
      if (gone(e)) return;
      f.elements.role.value = current.role;
      showError(f, e);
    }
  });
}

async function setStatus(button, value) {
  await busy(button, async () => {
    try {
      await api.call('PATCH', `/api/v1/users/${encodeURIComponent(current.id)}`, { body: { status: value } });
      await openUser(current.id);
      note('#user-note', value === 'suspended' ? 'Suspended: every session of the user has ended.' : 'Reactivated: the user can sign in again.');
    } catch (e) {
      userFailed(e);
    }
  });
}

async function unlock(ev) {
  await busy(ev.target, async () => {
    try {
      await api.call('POST', `/api/v1/users/${encodeURIComponent(current.id)}/unlock`);
      note('#user-note', 'The sign-in lockout is cleared.');
    } catch (e) {
      userFailed(e);
    }
  });
}

async function loadUserSessions() {
  const list = $('#user-sessions');
  let o;
  try {
    o = await api.call('GET', `/api/v1/users/${encodeURIComponent(current.id)}/sessions`);
  } catch (e) {
    return userFailed(e);
  }
  list.replaceChildren(
    ...o.data.map((s) => {
      const b = el('button', { type: 'button', class: 'secondary small', 'data-busy': 'Revoking…', text: 'Revoke', 'aria-label': `Revoke the session from ${s.ip || 'an unknown address'}, started ${when(s.created_at)}` });
      b.addEventListener('click', () =>
        busy(b, async () => {
          try {
            await api.call('DELETE', `/api/v1/users/${encodeURIComponent(current.id)}/sessions/${encodeURIComponent(s.id)}`);
            note('#user-note', 'The session is revoked.');
            await loadUserSessions();
          } catch (e) {
            userFailed(e);
          }
        })
      );
      return el('li', {}, el('strong', { text: s.user_agent || 'unknown device' }), el('span', { class: 'muted', text: ` ${s.ip || ''} · since ${when(s.created_at)} · last seen ${when(s.refreshed_at || s.created_at)}` }), b);
    })
  );
  $('#user-sessions-empty').hidden = o.data.length > 0;
}

async function loadIdentities() {
  const list = $('#user-identities');
  try {
    const u = await api.call('GET', `/auth/v1/admin/users/${encodeURIComponent(current.id)}`);
    const ids = Array.isArray(u.identities) ? u.identities : [];
    list.replaceChildren(...ids.map((i) => el('li', { text: `${i.provider}${i.identity_data && i.identity_data.email ? ` (${i.identity_data.email})` : ''}, since ${when(i.created_at)}` })));
    if (!ids.length) list.replaceChildren(el('li', { class: 'muted', text: 'none' }));
  } catch (e) {
    userFailed(e);
  }
}

function auditRow(a, withTarget) {
  const cells = [el('td', { text: when(a.at) }), el('td', { text: a.action }), el('td', {}, a.actor_id ? el('a', { href: `#user/${encodeURIComponent(a.actor_id)}`, text: a.actor_id === current?.id ? 'the user' : a.actor_id.slice(0, 8) }) : 'the system')];
  if (withTarget) cells.push(el('td', {}, a.target_id ? el('a', { href: `#user/${encodeURIComponent(a.target_id)}`, text: a.target_id.slice(0, 8) }) : '—'));
  cells.push(el('td', { text: a.ip || '' }));
  return el('tr', {}, ...cells);
}

async function loadUserAudit() {
  try {
    const o = await api.call('GET', `/api/v1/audit?target=${encodeURIComponent(current.id)}&limit=50`);
    $('#user-audit').replaceChildren(...o.data.map((a) => auditRow(a, false)));
  } catch (e) {
    userFailed(e);
  }
}

async function sendMessage(ev) {
  ev.preventDefault();
  const f = ev.target;
  clearErrors(f);
  note('#message-form .form-note', '');
  const title = f.elements.title.value.trim();
  if (!title) return showError(f, { fields: [{ field: 'title', message: 'Give the message a title.' }], status: 400 });
  await busy($('button[type=submit]', f), async () => {
    try {
      await api.call('POST', `/api/v1/users/${encodeURIComponent(current.id)}/notifications`, { body: { title, message: f.elements.message.value } });
      f.reset();
      note('#message-form .form-note', 'Sent, by the channels the user has switched on.');
    } catch (e) {
      if (gone(e)) return;
      showError(f, e);
    }
  });
}

// ---- the audit log ----
async function loadAudit(more) {
  const f = $('#audit-form');
  const p = params(f, ['action', 'actor', 'target', 'after']);
  p.set('limit', '50');
  if (more && audit.cursor) p.set('cursor', audit.cursor);
  let o;
  try {
    o = await api.call('GET', `/api/v1/audit?${p}`);
  } catch (e) {
    if (gone(e)) return;
    return showError(f, e);
  }
  clearErrors(f);
  current = null;
  const rows = o.data.map((a) => auditRow(a, true));
  if (more) $('#audit-rows').append(...rows);
  else $('#audit-rows').replaceChildren(...rows);
  audit.cursor = o.next_cursor || null;
  $('#audit-more').hidden = !audit.cursor;
  $('#audit-empty').hidden = $('#audit-rows').children.length > 0;
}

$('#search-form').addEventListener('input', searchChanged);
$('#search-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  loadUsers(false);
});
$('#users-more').addEventListener('click', (ev) => busy(ev.target, () => loadUsers(true)));
$('#create-form').addEventListener('submit', createUser);
$('#role-form').addEventListener('submit', changeRole);
$('#user-suspend').addEventListener('click', (ev) => setStatus(ev.target, 'suspended'));
$('#user-reactivate').addEventListener('click', (ev) => setStatus(ev.target, 'active'));
$('#user-unlock').addEventListener('click', unlock);
$('#user-avatar-remove').addEventListener('click', removeAvatar);
$('#message-form').addEventListener('submit', sendMessage);
$('#audit-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  busy($('button[type=submit]', ev.target), () => loadAudit(false));
});
$('#audit-more').addEventListener('click', (ev) => busy(ev.target, () => loadAudit(true)));
start();
