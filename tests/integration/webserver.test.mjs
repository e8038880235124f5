// What lighttpd answers itself, before or instead of mtm-api: a POST
// without Content-Length (411), a request it cannot parse (400), a body
// over server.max-request-size (413), and any /api/ request while mtm-api
// or mtm-events is down (503 with Retry-After). All of them are
// problem+json like the API's own errors (lighttpd.conf's
// server.error-handler and deploy/lighttpd/problem.lua), while mtm-api's
// own answers pass through unchanged and the console's files keep
// lighttpd's error pages.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startStack } from '../harness/stack.mjs';
import { request, assertProblem, describe } from '../harness/http.mjs';
import { waitFor } from '../harness/util.mjs';

let stack;

before(async () => {
  stack = await startStack();
  await stack.waitReady({ timeoutMs: 60000 }); // consumerd has migrated: logins work
});

after(async () => {
  if (stack) await stack.stop();
});

/**
 * Sends `raw` bytes on a fresh connection and reads until lighttpd closes
 * it (it closes after each of these refusals). Resolves {status, headers
 * (lower-case names), body, json, text}.
 */
function rawRequest(raw, { timeoutMs = 5000 } = {}) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port: stack.httpPort }, () => sock.write(raw));
    const chunks = [];
    const timer = setTimeout(() => { sock.destroy(); reject(new Error(`no answer within ${timeoutMs} ms; so far: ${Buffer.concat(chunks).toString('latin1')}`)); }, timeoutMs);
    sock.on('data', (d) => chunks.push(d));
    sock.on('error', (e) => { clearTimeout(timer); reject(e); });
    sock.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      const head = split < 0 ? text : text.slice(0, split);
      const body = split < 0 ? '' : text.slice(split + 4);
      const [statusLine, ...lines] = head.split('\r\n');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
      const headers = {};
      for (const l of lines) {
        const i = l.indexOf(':');
        if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      let json = null;
      try { json = JSON.parse(body); } catch { /* not JSON */ }
      resolve({ status: m ? Number(m[1]) : null, headers, body, json, text });
    });
  });
}

/** assertProblem for a rawRequest answer. */
function assertRawProblem(res, status) {
  const show = `answer:\n${res.text}`;
  assert.equal(res.status, status, `expected ${status}; ${show}`);
  assert.match(res.headers['content-type'] || '', /^application\/problem\+json\b/i, `content-type; ${show}`);
  assert.ok(res.json && typeof res.json === 'object', `body must be a JSON object; ${show}`);
  assert.equal(res.json.status, status, `problem "status"; ${show}`);
  assert.equal(res.json.type, 'about:blank', `problem "type"; ${show}`);
  for (const f of ['title', 'detail']) assert.equal(typeof res.json[f], 'string', `problem "${f}"; ${show}`);
}

test('a POST without Content-Length is refused by lighttpd with 411 problem+json', async () => {
  const res = await rawRequest(`POST /api/tenants HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n`);
  assertRawProblem(res, 411);
  assert.equal(res.json.title, 'Length Required', res.text);
  assert.equal(res.headers['retry-after'], undefined, `no Retry-After on a 411: ${res.text}`);
  assert.equal(res.headers['x-content-type-options'], 'nosniff', `security headers too: ${res.text}`);
});

test('a request lighttpd cannot parse is 400 problem+json, on /api/ and elsewhere', async () => {
  for (const p of ['/api/health', '/']) {
    const res = await rawRequest(`GET ${p} HTTP/1.1\r\nHost: x\r\nnot a header line\r\n\r\n`);
    assertRawProblem(res, 400);
  }
});

test('a Content-Length over server.max-request-size (64 MiB) is 413 problem+json before any body is sent', async () => {
  const res = await rawRequest(`POST /api/tenants HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${70 * 1024 * 1024}\r\n\r\n`);
  assertRawProblem(res, 413);
});

test("mtm-api's own errors pass unchanged; the console's missing files keep lighttpd's page; /_problem alone is 404", async () => {
  const own = await request(stack.baseUrl, 'GET', '/api/nope');
  assertProblem(own, 404);
  assert.ok(own.headers.get('x-request-id'), `mtm-api's answer (it carries X-Request-Id): ${describe(own)}`);
  const file = await request(stack.baseUrl, 'GET', '/no-such-file.html');
  assert.equal(file.status, 404, describe(file));
  assert.match(file.headers.get('content-type') || '', /^text\/html/, describe(file));
  const direct = await request(stack.baseUrl, 'GET', '/_problem');
  assert.equal(direct.status, 404, describe(direct));
});

test('while mtm-api is stopped, /api/ answers 503 problem+json with Retry-After, fast; 200 again once it is back', async () => {
  await stack.stopServer('mtm-api');
  try {
    for (const [method, p, body] of [['GET', '/api/health'], ['GET', '/api/tenants'], ['POST', '/api/tenants', '{"name":"x"}']]) {
      const t = Date.now();
      const res = await request(stack.baseUrl, method, p, body ? { body, headers: { 'content-type': 'application/json' } } : {});
      const ms = Date.now() - t;
      assertProblem(res, 503);
      assert.equal(res.json.type, 'about:blank', describe(res));
      const retry = res.headers.get('retry-after');
      assert.match(retry || '', /^[1-9]\d*$/, `Retry-After must be a number of seconds: ${describe(res)}`);
      assert.ok(ms < 2000, `answered in ${ms} ms, expected under 2 s: ${describe(res)}`);
    }
  } finally {
    await stack.startServer('mtm-api');
  }
  // lighttpd tries a backend it marked down again after a second.
  let last;
  await waitFor('GET /api/health to answer 200 again', async () => {
    last = await request(stack.baseUrl, 'GET', '/api/health');
    return last.status === 200;
  }, { timeoutMs: 10000, intervalMs: 200, describe: () => (last ? describe(last) : 'no answer yet') });
});

test('while mtm-events is stopped, GET /api/events answers 503 problem+json with Retry-After', async () => {
  const token = await stack.adminToken();
  await stack.stopServer('mtm-events');
  try {
    const res = await request(stack.baseUrl, 'GET', '/api/events', { headers: { authorization: `Bearer ${token}` } });
    assertProblem(res, 503);
    assert.match(res.headers.get('retry-after') || '', /^[1-9]\d*$/, describe(res));
  } finally {
    await stack.startServer('mtm-events');
  }
});
