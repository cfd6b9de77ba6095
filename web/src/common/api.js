// common/api.js: fetch helper for Vigie's JSON API. Framework-free; used by the dashboard and
// readable by the public display pages.
//
//   api(path, {method, body, params, signal}) -> parsed JSON (or null for 204)
//   throws ApiError {status, title, detail, problem} for non-2xx answers (RFC 7807 bodies are
//   parsed; other bodies give a generic title). Same-origin, credentials included (the
//   vigie_session cookie). On 401 the handler set by onUnauthorized(fn) is called first.
//   url(path, params) builds a query string, skipping null/undefined/'' values.

export class ApiError extends Error {
  constructor(status, title, detail, problem) {
    super(detail ? `${title}: ${detail}` : title);
    this.name = 'ApiError';
    this.status = status;
    this.title = title;
    this.detail = detail || '';
    this.problem = problem || null;
  }
}

let unauthorizedHandler = null;

/** Sets the function called when any request answers 401 (e.g. to show the login form). */
export function onUnauthorized(fn) {
  unauthorizedHandler = fn;
}

/** Builds `path?k=v&...` from a params object (arrays repeat the key). */
export function url(path, params) {
  if (!params) return path;
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '') continue;
    if (Array.isArray(v)) v.forEach((x) => q.append(k, String(x)));
    else q.append(k, String(v));
  }
  const s = q.toString();
  return s ? `${path}${path.includes('?') ? '&' : '?'}${s}` : path;
}

/** Calls the API. See the header comment. */
export async function api(path, opts = {}) {
  const init = {
    method: opts.method || 'GET',
    credentials: 'same-origin',
    headers: { Accept: 'application/json' },
    signal: opts.signal,
  };
  if (opts.body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(opts.body);
  }
  let res;
  try {
    res = await fetch(url(path, opts.params), init);
  } catch (e) {
    if (e && e.name === 'AbortError') throw e;
    throw new ApiError(0, 'Network error', String((e && e.message) || e));
  }
  if (res.status === 204) return null;
  const ctype = res.headers.get('Content-Type') || '';
  if (!res.ok) {
    let problem = null;
    if (ctype.includes('json')) {
      try {
        problem = await res.json();
      } catch {
        problem = null;
      }
    }
    const err = new ApiError(
      res.status,
      (problem && problem.title) || `HTTP ${res.status}`,
      (problem && (problem.detail || problem.error)) || res.statusText,
      problem,
    );
    if (res.status === 401 && unauthorizedHandler && !opts.noAuthHandler) unauthorizedHandler(err);
    throw err;
  }
  if (ctype.includes('json')) return res.json();
  return res.text();
}
