// HTTP helpers for the integration tests: requests with a hard timeout,
// problem+json assertions, polling for a status.
import assert from 'node:assert/strict';
import { sleep } from './util.mjs';

/**
 * One request. Resolves {status, headers, text, json, ms}; rejects if no
 * answer within timeoutMs (the spec wants fast answers, never a hang).
 * opts: body (string|Buffer), json (object, sent as application/json),
 * headers, timeoutMs (default 5000), token (Bearer).
 */
export async function request(baseUrl, method, path, opts = {}) {
  const headers = { ...(opts.headers || {}) };
  let body = opts.body;
  if (opts.json !== undefined) {
    body = JSON.stringify(opts.json);
    if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
  }
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  const timeoutMs = opts.timeoutMs ?? 5000;
  const t0 = Date.now();
  let res;
  try {
    res = await fetch(baseUrl + path, { method, headers, body, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
  } catch (e) {
    const why = e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (e.cause && e.cause.message) || e.message;
    const err = new Error(`${method} ${path}: ${why}`);
    err.cause = e;
    throw err;
  }
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { method, path, status: res.status, headers: res.headers, text, json, ms: Date.now() - t0 };
}

/** One-line description of a response, for assertion messages. */
export function describe(res) {
  const ct = res.headers.get('content-type');
  const body = res.text.length > 600 ? res.text.slice(0, 600) + '…' : res.text;
  return `${res.method} ${res.path} -> ${res.status} (content-type: ${ct}) ${body}`;
}

/**
 * Asserts an RFC 9457 problem response: status, content-type
 * application/problem+json, and string fields type/title/detail plus a
 * numeric status equal to the HTTP status.
 */
export function assertProblem(res, status) {
  assert.equal(res.status, status, `expected ${status}: ${describe(res)}`);
  const ct = res.headers.get('content-type') || '';
  assert.match(ct, /^application\/problem\+json\b/i, `content-type must be application/problem+json: ${describe(res)}`);
  assert.ok(res.json && typeof res.json === 'object', `body must be a JSON object: ${describe(res)}`);
  for (const f of ['type', 'title', 'detail']) {
    assert.equal(typeof res.json[f], 'string', `problem field "${f}" must be a string: ${describe(res)}`);
  }
  assert.equal(res.json.status, status, `problem field "status" must be ${status}: ${describe(res)}`);
}

function isOk(v) {
  if (v === true) return true;
  if (v === false || v === null || v === undefined) return false;
  if (typeof v === 'string') return ['ok', 'up', 'pass', 'passed', 'healthy', 'ready'].includes(v.toLowerCase());
  if (typeof v === 'object') {
    if (v.ok === true || v.up === true || v.healthy === true) return true;
    if ('status' in v) return isOk(v.status);
    if ('state' in v) return isOk(v.state);
  }
  return false;
}

/**
 * Does the readiness body say `name` is down? True if a `checks` object has
 * a key containing name whose value is not ok, or the detail mentions name.
 */
export function namesDown(json, name) {
  if (!json || typeof json !== 'object') return false;
  name = name.toLowerCase();
  const checks = json.checks;
  if (checks && typeof checks === 'object') {
    if (Array.isArray(checks)) {
      for (const c of checks) {
        if (c && typeof c === 'object' && JSON.stringify(Object.values(c)).toLowerCase().includes(name) && !isOk(c)) return true;
      }
    } else {
      for (const [k, v] of Object.entries(checks)) {
        if (k.toLowerCase().includes(name) && !isOk(v)) return true;
      }
    }
  }
  return typeof json.detail === 'string' && json.detail.toLowerCase().includes(name);
}

/** If the body has a checks object, is `name` reported ok there? (undefined when not reported) */
export function checkOk(json, name) {
  if (!json || typeof json !== 'object' || !json.checks || typeof json.checks !== 'object' || Array.isArray(json.checks)) return undefined;
  for (const [k, v] of Object.entries(json.checks)) if (k.toLowerCase().includes(name.toLowerCase())) return isOk(v);
  return undefined;
}

/**
 * Polls `GET path` until it answers `status` (and `accept(res)` if given).
 * Every single request must answer within requestTimeoutMs. Resolves the
 * matching response with `.elapsed` (ms since the call); rejects with the
 * last answer on timeout.
 */
export async function pollStatus(baseUrl, path, status, { timeoutMs = 10000, intervalMs = 200, requestTimeoutMs = 3000, accept, onTimeout } = {}) {
  const start = Date.now();
  let last;
  for (;;) {
    const res = await request(baseUrl, 'GET', path, { timeoutMs: requestTimeoutMs });
    last = res;
    if (res.status === status && (!accept || accept(res))) {
      res.elapsed = Date.now() - start;
      return res;
    }
    if (Date.now() - start > timeoutMs) {
      let msg = `GET ${path} did not answer ${status}${accept ? ' (with the expected body)' : ''} within ${(timeoutMs / 1000).toFixed(1)} s; last answer: ${describe(last)}`;
      if (onTimeout) msg += '\n' + onTimeout();
      throw new Error(msg);
    }
    await sleep(intervalMs);
  }
}
