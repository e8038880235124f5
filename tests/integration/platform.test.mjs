// The HTTP surface of the platform: health, problem+json error shapes,
// request-size limit, static files and security headers, all through the
// real lighttpd.conf in front of mtm-api.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startStack, REPO } from '../harness/stack.mjs';
import { request, assertProblem, describe, pollStatus } from '../harness/http.mjs';

// The route used for the JSON-body checks (400 malformed, 413 too large).
// An oversized body is refused before credentials are looked at (the body is
// never read); a malformed one only after them, so that test logs in.
const JSON_ROUTE = { method: 'POST', path: '/api/tenants' };
const MAX_BODY = 1024;

let stack;
let url;
let token;

before(async () => {
  stack = await startStack({ env: { MTM_MAX_BODY: String(MAX_BODY) } });
  url = stack.baseUrl;
  token = await stack.adminToken();
});

after(async () => {
  if (stack) await stack.stop();
});

test('GET /api/health answers 200 with a JSON body', async () => {
  const res = await request(url, 'GET', '/api/health');
  assert.equal(res.status, 200, describe(res));
  assert.match(res.headers.get('content-type') || '', /^application\/json\b/i, describe(res));
  assert.ok(res.json && typeof res.json === 'object', `body must be a JSON object: ${describe(res)}`);
});

test('GET /api/ready answers 200 once consumerd has migrated and written its heartbeat (polled up to 20 s)', async () => {
  const res = await pollStatus(url, '/api/ready', 200, {
    timeoutMs: 20000,
    intervalMs: 250,
    onTimeout: () => stack.describeLogs(['consumerd', 'mtm-api']),
  });
  assert.match(res.headers.get('content-type') || '', /^application\/json\b/i, describe(res));
  assert.ok(res.json && typeof res.json === 'object', `body must be a JSON object: ${describe(res)}`);
});

test('unknown route /api/nope answers 404 application/problem+json', async () => {
  const res = await request(url, 'GET', '/api/nope');
  assertProblem(res, 404);
});

test('wrong method (DELETE /api/health) answers 405 problem+json with an Allow header listing GET', async () => {
  const res = await request(url, 'DELETE', '/api/health');
  assertProblem(res, 405);
  const allow = res.headers.get('allow');
  assert.ok(allow, `405 must carry an Allow header: ${describe(res)}`);
  assert.match(allow, /\bGET\b/, `Allow must list GET: Allow: ${allow}`);
  assert.doesNotMatch(allow, /\bDELETE\b/, `Allow must not list DELETE: Allow: ${allow}`);
});

test(`a body over MTM_MAX_BODY (${MAX_BODY}) answers 413 problem+json`, async (t) => {
  const big = JSON.stringify({ name: 'x'.repeat(MAX_BODY * 2) });
  const res = await request(url, JSON_ROUTE.method, JSON_ROUTE.path, {
    body: big, headers: { 'content-type': 'application/json' },
  });
  assertProblem(res, 413);

  await t.test('a body just under the limit is not refused as too large', async () => {
    const small = JSON.stringify({ name: 'y'.repeat(MAX_BODY - 50) });
    assert.ok(Buffer.byteLength(small) <= MAX_BODY);
    const ok = await request(url, JSON_ROUTE.method, JSON_ROUTE.path, {
      body: small, headers: { 'content-type': 'application/json' }, token,
    });
    assert.notEqual(ok.status, 413, describe(ok));
    assert.ok(ok.status < 500, `no server error expected: ${describe(ok)}`);
  });
});

test(`malformed JSON to ${JSON_ROUTE.method} ${JSON_ROUTE.path} answers 400 problem+json`, async () => {
  const res = await request(url, JSON_ROUTE.method, JSON_ROUTE.path, {
    body: '{bad json', headers: { 'content-type': 'application/json' }, token,
  });
  assertProblem(res, 400);
});

test('GET / serves public/index.html', async () => {
  const res = await request(url, 'GET', '/');
  assert.equal(res.status, 200, describe(res));
  assert.match(res.headers.get('content-type') || '', /^text\/html\b/i, describe(res));
  const file = fs.readFileSync(path.join(REPO, 'public', 'index.html'), 'utf8');
  assert.equal(res.text, file, 'GET / must return the bytes of public/index.html');
});

test('security headers on every response from lighttpd', async (t) => {
  const cases = [
    ['GET', '/', 'static file'],
    ['GET', '/api/health', 'API 200'],
    ['GET', '/api/nope', 'API 404'],
    ['DELETE', '/api/health', 'API 405'],
    ['GET', '/no-such-file.txt', 'static 404'],
  ];
  for (const [method, p, what] of cases) {
    await t.test(`${what}: ${method} ${p}`, async () => {
      const res = await request(url, method, p);
      const h = (n) => res.headers.get(n);
      assert.equal((h('x-content-type-options') || '').toLowerCase(), 'nosniff', `X-Content-Type-Options: nosniff missing: ${describe(res)}`);
      assert.match(h('content-security-policy') || '', /frame-ancestors/, `Content-Security-Policy with frame-ancestors missing (got: ${h('content-security-policy')})`);
      assert.ok(h('referrer-policy'), `Referrer-Policy missing: ${describe(res)}`);
    });
  }
});
