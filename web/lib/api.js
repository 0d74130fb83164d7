// api.js - the browser's session and its calls to /auth/v1 and /api/v1, on
// the page's own origin. The session is kept as auth-js keeps it: the access
// token, the refresh token and when the access token expires, in
// localStorage; an access token near its end is refreshed first (one refresh
// at a time), and a refused token is refreshed once before the session is
// given up. Tokens never go into a URL.

const KEY = 'ums.session';
const listeners = new Set();

export class ApiError extends Error {
  constructor(status, body) {
    const o = body && typeof body === 'object' ? body : {};
    super(o.msg || o.message || o.error_description || `The server answered ${status}.`);
    this.status = status;
    this.code = o.error_code || (typeof o.code === 'string' ? o.code : '') || o.error || '';
    this.fields = Array.isArray(o.errors) ? o.errors : [];
    this.retryAfter = 0;
  }
}

// Thrown when there is no usable session any more: the caller goes back to
// sign-in, once.
export class SessionGone extends ApiError {
  constructor() {
    super(401, { code: 'session_gone', message: 'Your session has ended. Please sign in again.' });
  }
}

export function session() {
  try {
    const s = JSON.parse(localStorage.getItem(KEY));
    return s && typeof s.access_token === 'string' && typeof s.refresh_token === 'string' ? s : null;
  } catch {
    return null;
  }
}

export function onSessionEnd(fn) {
  listeners.add(fn);
}

// Everything the pages know of a session goes: storage and listeners told.
export function clear() {
  localStorage.removeItem(KEY);
  sessionStorage.clear();
  for (const fn of listeners) fn();
}

// Keeps the session of a sign-in, sign-up or refresh answer (or of the
// fragment a mailed link lands with).
export function keep(o) {
  const now = Math.floor(Date.now() / 1000);
  const expiresIn = Number(o.expires_in) > 0 ? Number(o.expires_in) : 3600;
  const s = {
    access_token: String(o.access_token),
    refresh_token: String(o.refresh_token),
    expires_at: Number(o.expires_at) > now ? Number(o.expires_at) : now + expiresIn,
  };
  localStorage.setItem(KEY, JSON.stringify(s));
  return s;
}

const UNREACHABLE = 'The server cannot be reached. Check your connection and try again.';

// fetch, as { status, text, retryAfter }.
async function viaFetch(method, path, headers, payload) {
  let r;
  try {
    r = await fetch(path, { method, headers, body: payload, credentials: 'omit', cache: 'no-store', redirect: 'error' });
  } catch {
    throw new ApiError(0, { message: UNREACHABLE });
  }
  return { status: r.status, text: await r.text(), retryAfter: Number(r.headers.get('Retry-After')) || 0 };
}

// The same through XMLHttpRequest, the one API that reports how much of a
// body has gone: onProgress(fraction sent, 0..1).
function viaXhr(method, path, headers, payload, onProgress) {
  return new Promise((resolve, reject) => {
    const x = new XMLHttpRequest();
    x.open(method, path);
    for (const [k, v] of Object.entries(headers)) x.setRequestHeader(k, v);
    x.upload.addEventListener('progress', (e) => {
      if (e.lengthComputable && e.total > 0) onProgress(e.loaded / e.total);
    });
    x.addEventListener('load', () => {
      // A redirect is followed by XHR; an answer from elsewhere is refused.
      if (x.responseURL && new URL(x.responseURL).origin !== location.origin) return reject(new ApiError(0, { message: UNREACHABLE }));
      resolve({ status: x.status, text: x.responseText, retryAfter: Number(x.getResponseHeader('Retry-After')) || 0 });
    });
    x.addEventListener('error', () => reject(new ApiError(0, { message: UNREACHABLE })));
    x.addEventListener('abort', () => reject(new ApiError(0, { message: UNREACHABLE })));
    x.send(payload === undefined ? null : payload);
  });
}

async function request(method, path, { body, token, headers, onProgress } = {}) {
  const h = { Accept: 'application/json', ...headers };
  let payload;
  if (token) h.Authorization = `Bearer ${token}`;
  if (body instanceof Blob) {
    payload = body;
    if (!h['Content-Type']) h['Content-Type'] = body.type || 'application/octet-stream';
  } else if (body !== undefined) {
    h['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const r = onProgress ? await viaXhr(method, path, h, payload, onProgress) : await viaFetch(method, path, h, payload);
  let o = null;
  try {
    o = r.text ? JSON.parse(r.text) : null;
  } catch {
    o = null;
  }
  if (r.status < 200 || r.status > 299) {
    const e = new ApiError(r.status, o);
    e.retryAfter = r.retryAfter;
    throw e;
  }
  return o;
}

// Without a session: sign-in, sign-up, recovery.
export function anon(method, path, body) {
  return request(method, path, { body });
}

let refreshing = null;

export function refresh() {
  const s = session();
  if (!s) return Promise.reject(new SessionGone());
  if (!refreshing) {
    refreshing = request('POST', '/auth/v1/token?grant_type=refresh_token', { body: { refresh_token: s.refresh_token } })
      .then(keep)
      .catch((e) => {
        // A refused refresh token ends the session; a network failure or a
        // 5xx does not.
        if (e.status >= 400 && e.status < 500) {
          clear();
          throw new SessionGone();
        }
        throw e;
      })
      .finally(() => {
        refreshing = null;
      });
  }
  return refreshing;
}

// A refused token: 401 on /api/v1, 403 with a token error on /auth/v1.
function tokenRefused(path, e) {
  if (path.startsWith('/api/')) return e.status === 401;
  return e.status === 403 && ['bad_jwt', 'session_not_found', 'session_expired', 'user_banned', 'no_authorization'].includes(e.code);
}

// As the signed-in user.
export async function call(method, path, opts = {}) {
  let s = session();
  if (!s) throw new SessionGone();
  if (s.expires_at - 60 < Date.now() / 1000) s = await refresh();
  try {
    return await request(method, path, { ...opts, token: s.access_token });
  } catch (e) {
    if (!tokenRefused(path, e)) throw e;
  }
  s = await refresh();
  try {
    return await request(method, path, { ...opts, token: s.access_token });
  } catch (e) {
    if (tokenRefused(path, e)) {
      clear();
      throw new SessionGone();
    }
    throw e;
  }
}

// Ends one session on the server, not the one kept here (a session that
// another replaced); whatever it answers.
export async function forget(s) {
  try {
    await request('POST', '/auth/v1/logout?scope=local', { token: s.access_token });
  } catch {
    // gone already, or unreachable: it expires on its own
  }
}

// Sign-out: the server ends the session (scope local, or others), and
// everything here goes whatever it answered.
export async function signOut(scope = 'local') {
  const s = session();
  if (s) {
    try {
      await request('POST', `/auth/v1/logout?scope=${scope}`, { token: s.access_token });
    } catch {
      // gone already, or unreachable: forgotten here all the same
    }
  }
  if (scope !== 'others') clear();
}
