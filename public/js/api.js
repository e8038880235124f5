// api: the only module that knows the API's URLs, the token, problem+json
// and retries. Views call these functions (through actions.js), never fetch.
//
// The token lives in sessionStorage (gone with the tab, never in
// localStorage). A 401 on any call with a token ends the session: the
// listener set with onSessionEnded (main.js) returns the user to the login
// form with the problem's detail. A GET that meets a network error or a 503
// with a short Retry-After is tried once more.

/** @typedef {import('./types.js').Problem} Problem */
/** @typedef {import('./types.js').Session} Session */
/** @typedef {import('./types.js').Tenant} Tenant */
/** @typedef {import('./types.js').Message} Message */
/** @typedef {import('./types.js').DeadLetter} DeadLetter */
/** @typedef {import('./types.js').TokenInfo} TokenInfo */
/** @typedef {import('./types.js').AuditEntry} AuditEntry */
/**
 * @template T
 * @typedef {import('./types.js').Page<T>} Page
 */

const TOKEN_KEY = 'mtm.token';

/** An answer that is not 2xx, or no answer at all (status 0). */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {Problem} problem
   * @param {number|null} retryAfter seconds, when the API said
   */
  constructor(status, problem, retryAfter = null) {
    super(problem.detail || problem.title);
    this.name = 'ApiError';
    this.status = status;
    this.problem = problem;
    this.retryAfter = retryAfter;
  }

  /** Per-field messages, by field name. @returns {Record<string, string>} */
  get fields() {
    /** @type {Record<string, string>} */
    const out = {};
    for (const e of this.problem.errors || []) out[e.field] = out[e.field] ? `${out[e.field]}; ${e.message}` : e.message;
    return out;
  }
}

/** @type {((why: string) => void) | null} */
let sessionEnded = null;

/** Called with a reason when the API refuses the session's token (401). */
export function onSessionEnded(fn) {
  sessionEnded = fn;
}

/** @param {string} part @returns {Record<string, unknown>|null} */
function decodeClaims(part) {
  try {
    const b64 = part.replace(/-/g, '+').replace(/_/g, '/');
    const text = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
    const bytes = Uint8Array.from(text, (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return null;
  }
}

/**
 * The session a token stands for, or null when it is not a token of ours.
 * @param {string} token
 * @returns {Session|null}
 */
export function sessionOf(token) {
  const parts = token.trim().split('.');
  if (parts.length !== 3) return null;
  const c = decodeClaims(parts[1]);
  if (!c || (c.role !== 'admin' && c.role !== 'tenant') || typeof c.exp !== 'number') return null;
  return {
    token: token.trim(),
    role: c.role,
    sub: typeof c.sub === 'string' ? c.sub : '',
    tenantId: typeof c.tenant_id === 'string' ? c.tenant_id : null,
    exp: c.exp,
  };
}

/** @returns {Session|null} */
export function currentSession() {
  const t = sessionStorage.getItem(TOKEN_KEY);
  return t ? sessionOf(t) : null;
}

/** @param {string} token */
export function keepToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token.trim());
}

export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

/**
 * @param {Record<string, string|number|null|undefined>} query
 * @returns {string}
 */
function queryString(query) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** @param {number} ms */
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * One request. Resolves the parsed JSON body (null for 204); rejects with
 * ApiError.
 * @param {string} method
 * @param {string} path under /api
 * @param {{json?: unknown, query?: Record<string, string|number|null|undefined>,
 *   headers?: Record<string, string>, auth?: boolean}} [opts]
 * @returns {Promise<any>}
 */
export async function request(method, path, opts = {}) {
  /** @type {Record<string, string>} */
  const headers = { Accept: 'application/json, application/problem+json', ...(opts.headers || {}) };
  const token = opts.auth === false ? null : sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = `Bearer ${token}`;
  /** @type {RequestInit} */
  const init = { method, headers, cache: 'no-store' };
  if (opts.json !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(opts.json);
  } else if (method === 'POST' || method === 'PUT') {
    init.body = ''; // lighttpd wants a Content-Length on every POST
  }
  const url = `/api${path}${queryString(opts.query || {})}`;
  for (let attempt = 0; ; attempt++) {
    let res;
    try {
      res = await fetch(url, init);
    } catch {
      if (method === 'GET' && attempt === 0) {
        await sleep(500);
        continue;
      }
      throw new ApiError(0, {
        type: 'about:blank', title: 'The API is unreachable', status: 0,
        detail: 'No answer from the server. Check that mtm is running, then try again.',
      });
    }
    const retryAfter = res.headers.get('Retry-After');
    const wait = retryAfter && /^\d+$/.test(retryAfter) ? Number(retryAfter) : null;
    if (res.status === 503 && method === 'GET' && attempt === 0 && wait !== null && wait <= 2) {
      await sleep(wait * 1000);
      continue;
    }
    if (res.status === 204) return null;
    const type = res.headers.get('Content-Type') || '';
    const body = type.includes('json') ? await res.json().catch(() => null) : null;
    if (res.ok) return body;
    /** @type {Problem} */
    const problem = body && typeof body === 'object' && 'status' in body
      ? body
      : { type: 'about:blank', title: res.statusText || 'Error', status: res.status, detail: `The server answered ${res.status}.` };
    if (res.status === 401 && token && sessionEnded) sessionEnded(problem.detail);
    throw new ApiError(res.status, problem, wait);
  }
}

// ---- the API, one function per call ------------------------------------

/** @param {string} username @param {string} password @returns {Promise<import('./types.js').LoginResponse>} */
export const login = (username, password) => request('POST', '/auth/login', { json: { username, password }, auth: false });

/**
 * Readiness: resolves the checks whether the answer is 200 or 503.
 * @returns {Promise<{ready: boolean, checks: import('./types.js').ReadinessChecks|null, reasons: Record<string, string>}>}
 */
export async function ready() {
  try {
    const r = await request('GET', '/ready', { auth: false });
    return { ready: true, checks: r.checks, reasons: {} };
  } catch (e) {
    if (e instanceof ApiError && e.status === 503 && e.problem.checks) {
      return { ready: false, checks: e.problem.checks, reasons: e.problem.reasons || {} };
    }
    throw e;
  }
}

/** @returns {Promise<import('./types.js').Overview>} */
export const overview = () => request('GET', '/overview');

/**
 * @param {{cursor?: string|null, limit?: number, name?: string, status?: string}} q
 * @returns {Promise<Page<Tenant>>}
 */
export const listTenants = (q) => request('GET', '/tenants', { query: q });
/** @param {string} id @returns {Promise<Tenant>} */
export const getTenant = (id) => request('GET', `/tenants/${id}`);
/** @param {{name: string, concurrency?: number}} body @returns {Promise<Tenant>} */
export const createTenant = (body) => request('POST', '/tenants', { json: body });
/** @param {string} id */
export const deleteTenant = (id) => request('DELETE', `/tenants/${id}`);
/** @param {string} id @param {number} concurrency @returns {Promise<Tenant>} */
export const setConcurrency = (id, concurrency) => request('PUT', `/tenants/${id}/config/concurrency`, { json: { concurrency } });
/** @param {string} id @param {{rate: number|null, burst?: number}} body @returns {Promise<Tenant>} */
export const setRateLimit = (id, body) => request('PUT', `/tenants/${id}/config/rate_limit`, { json: body });
/** @param {string} id @returns {Promise<Tenant>} */
export const pauseTenant = (id) => request('POST', `/tenants/${id}/pause`);
/** @param {string} id @returns {Promise<Tenant>} */
export const resumeTenant = (id) => request('POST', `/tenants/${id}/resume`);

/**
 * @param {string} id
 * @param {{cursor?: string|null, limit?: number, order?: 'asc'|'desc'}} q
 * @returns {Promise<Page<Message>>}
 */
export const listMessages = (id, q) => request('GET', `/tenants/${id}/messages`, { query: q });
/**
 * @param {string} id
 * @param {unknown} body {payload, headers?} or {messages: [...]}
 * @param {string} [idempotencyKey]
 * @returns {Promise<{id?: string, ids?: string[]}>}
 */
export const publish = (id, body, idempotencyKey) =>
  request('POST', `/tenants/${id}/messages`, { json: body, headers: idempotencyKey ? { 'Idempotency-Key': idempotencyKey } : {} });

/**
 * @param {string} id
 * @param {{cursor?: string|null, limit?: number, order?: 'asc'|'desc'}} q
 * @returns {Promise<Page<DeadLetter>>}
 */
export const listDlq = (id, q) => request('GET', `/tenants/${id}/dlq`, { query: q });
/** @param {string} id @param {string[]|null} ids null: all @returns {Promise<import('./types.js').ReplayResult>} */
export const replayDlq = (id, ids) => request('POST', `/tenants/${id}/dlq/replay`, ids ? { json: { ids } } : {});
/** @param {string} id @returns {Promise<{purged: number}>} */
export const purgeDlq = (id) => request('DELETE', `/tenants/${id}/dlq`);

/** @param {string} id @param {{cursor?: string|null}} q @returns {Promise<Page<TokenInfo>>} */
export const listTokens = (id, q) => request('GET', `/tenants/${id}/tokens`, { query: q });
/** @param {string} id @param {number} [ttl] seconds @returns {Promise<import('./types.js').TokenIssued>} */
export const issueToken = (id, ttl) => request('POST', `/tenants/${id}/tokens`, ttl ? { json: { ttl } } : {});
/** @param {string} id @param {string} jti */
export const revokeToken = (id, jti) => request('DELETE', `/tenants/${id}/tokens/${jti}`);

/** @param {{cursor?: string|null, target?: string}} q @returns {Promise<Page<AuditEntry>>} */
export const listAudit = (q) => request('GET', '/audit', { query: q });

// ---- the event stream ----------------------------------------------------

/**
 * @typedef {{event: string, id: string|null, data: any}} StreamEvent
 * @typedef {'connecting'|'live'|'reconnecting'|'off'} StreamState
 */

/**
 * Follows GET /api/events for as long as the session lasts: fetch() with the
 * token (EventSource cannot send one), Last-Event-ID on every reconnect,
 * reconnects backing off from 1 s to 30 s. Calls onEvent for each event
 * and onState when the connection's state changes. A 401 ends the session
 * (onSessionEnded). Returns a function that stops it.
 * @param {(e: StreamEvent) => void} onEvent
 * @param {(s: StreamState) => void} onState
 * @returns {() => void}
 */
export function followEvents(onEvent, onState) {
  let stopped = false;
  let lastId = '';
  let delay = 1000;
  /** @type {AbortController|null} */
  let ac = null;

  /** @param {string} frame */
  const parse = (frame) => {
    /** @type {StreamEvent} */
    const e = { event: 'message', id: null, data: '' };
    const data = [];
    for (const line of frame.split('\n')) {
      if (!line || line.startsWith(':')) continue;
      const i = line.indexOf(':');
      const field = i < 0 ? line : line.slice(0, i);
      const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
      if (field === 'event') e.event = value;
      else if (field === 'id') e.id = value;
      else if (field === 'data') data.push(value);
    }
    try {
      e.data = JSON.parse(data.join('\n'));
    } catch {
      e.data = data.join('\n');
    }
    return e;
  };

  const run = async () => {
    while (!stopped) {
      const token = sessionStorage.getItem(TOKEN_KEY);
      if (!token) break;
      onState(lastId ? 'reconnecting' : 'connecting');
      ac = new AbortController();
      /** @type {Record<string, string>} */
      const headers = { Accept: 'text/event-stream', Authorization: `Bearer ${token}` };
      if (lastId) headers['Last-Event-ID'] = lastId;
      try {
        const res = await fetch('/api/events', { headers, signal: ac.signal, cache: 'no-store' });
        if (res.status === 401) {
          const p = await res.json().catch(() => null);
          if (sessionEnded) sessionEnded(p && p.detail ? p.detail : 'the token was refused');
          break;
        }
        if (!res.ok || !res.body) throw new Error(`status ${res.status}`);
        onState('live');
        delay = 1000;
        const reader = res.body.getReader();
        const decoder = new TextDecoder();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += decoder.decode(value, { stream: true });
          let i;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const e = parse(buf.slice(0, i));
            buf = buf.slice(i + 2);
            if (e.id) lastId = e.id;
            if (e.data !== '' || e.event !== 'message') onEvent(e);
          }
        }
      } catch {
        if (stopped) break;
      }
      if (stopped) break;
      onState('reconnecting');
      await sleep(delay + Math.floor(Math.random() * 250));
      delay = Math.min(delay * 2, 30000);
    }
    onState('off');
  };
  run();
  return () => {
    stopped = true;
    if (ac) ac.abort();
  };
}

/**
 * Prometheus's history (GET /api/prometheus/query_range): the series of a
 * range query as [{metric, values: [[t, "v"], ...]}].
 * @param {string} query PromQL
 * @param {number} start Unix seconds
 * @param {number} end Unix seconds
 * @param {number} step seconds
 * @returns {Promise<{metric: Record<string, string>, values: [number, string][]}[]>}
 */
export async function queryRange(query, start, end, step) {
  const r = await request('GET', '/prometheus/query_range', { query: { query, start, end, step } });
  return r.data.result;
}

/** @returns {Promise<import('./types.js').Alert[]>} firing alerts */
export async function listAlerts() {
  return (await request('GET', '/alerts')).data;
}
