// Security: JWT verification and scopes, tenant isolation down to the
// database (row-level security), login throttling, the audit log, hostile
// input, CORS and security headers — all through the real lighttpd.conf in
// front of mtm-api, against a throwaway stack.
//
// Tokens are built here with node:crypto from stack.env.MTM_JWT_SECRET, so
// every refusal is checked against a control token of the same shape that
// is accepted. Every response any test receives is required to be < 500
// (call()), and the last test reads lighttpd's access log to make sure no
// request of this file was answered 5xx at all; stack.stop() then fails the
// file on a sanitizer report or an unclean exit.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { startStack } from '../harness/stack.mjs';
import { startFrontend } from '../harness/frontend.mjs';
import { run } from '../harness/proc.mjs';
import { assertProblem, describe } from '../harness/http.mjs';
import { assertFieldError, storedCount, makeApi, metricValue } from '../harness/api.mjs';
import { sleep, waitFor } from '../harness/util.mjs';

const CORS_ORIGIN = 'https://ui.example';
const LEEWAY_S = 30; // lib/token.h MTM_TOKEN_LEEWAY_S
const MAX_BODY = 1048576; // MTM_MAX_BODY default

let stack;
let url;
let anon; // makeApi(stack) without a token: call() passes each request's own
let admin; // an admin token from POST /api/auth/login
let A; // tenants: {id, name, token, jti, msgIds, marker, dlqId}
let B;
const fronts = [];
const seen = []; // every response: [status, method, path]

// ---------------------------------------------------------------- helpers

const rand = () => crypto.randomBytes(4).toString('hex');
const nowS = () => Math.floor(Date.now() / 1000);
const b64u = (x) => Buffer.from(typeof x === 'string' ? x : JSON.stringify(x)).toString('base64url');

/** A JWT: header and claims objects, HMAC with `secret` (null: no signature) using `hash`. */
function jwt(header, claims, secret, hash = 'sha256') {
  const signing = `${b64u(header)}.${b64u(claims)}`;
  const sig = secret === null ? '' : crypto.createHmac(hash, secret).update(signing).digest('base64url');
  return `${signing}.${sig}`;
}

function adminClaims(extra = {}) {
  const now = nowS();
  return { sub: 'admin', role: 'admin', jti: crypto.randomUUID(), iat: now, nbf: now, exp: now + 600, ...extra };
}

const HS256 = { alg: 'HS256', typ: 'JWT' };

/** One request to the stack (or `base`, see Api.req; no token unless given); the answer must never be 5xx. */
async function call(method, p, opts = {}) {
  const res = await anon.req(method, p, opts);
  seen.push([res.status, method, p.length > 120 ? p.slice(0, 120) + '…' : p]);
  assert.ok(res.status < 500, `no input may make the server answer 5xx: ${describe(res)}`);
  return res;
}

/**
 * A raw HTTP/1.0 request over a socket (no client-side normalisation of the
 * path, any bytes in the body). Resolves {status, headers (lower-case names), text, json}.
 */
function raw(method, p, { headers = {}, body, port, timeoutMs = 10000 } = {}) {
  return new Promise((resolve, reject) => {
    const buf = body === undefined ? null : Buffer.isBuffer(body) ? body : Buffer.from(body);
    let head = `${method} ${p} HTTP/1.0\r\nHost: 127.0.0.1\r\n`;
    for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
    const hasLength = Object.keys(headers).some((k) => k.toLowerCase() === 'content-length');
    if (!hasLength && (buf || method === 'POST' || method === 'PUT')) head += `Content-Length: ${buf ? buf.length : 0}\r\n`;
    head += '\r\n';
    const s = net.connect({ port: port || stack.httpPort, host: '127.0.0.1' });
    const chunks = [];
    const timer = setTimeout(() => { s.destroy(); reject(new Error(`${method} ${p.slice(0, 100)}: no answer within ${timeoutMs} ms`)); }, timeoutMs);
    s.on('connect', () => { s.write(head); if (buf) s.write(buf); });
    s.on('data', (d) => chunks.push(d));
    s.on('error', (e) => { clearTimeout(timer); reject(e); });
    s.on('close', () => {
      clearTimeout(timer);
      const all = Buffer.concat(chunks).toString('latin1');
      const end = all.indexOf('\r\n\r\n');
      const lines = all.slice(0, end < 0 ? all.length : end).split('\r\n');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] || '');
      const hdrs = new Map();
      for (const l of lines.slice(1)) {
        const i = l.indexOf(':');
        if (i > 0) hdrs.set(l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim());
      }
      const text = end < 0 ? '' : Buffer.from(all.slice(end + 4), 'latin1').toString('utf8');
      let json;
      try { json = JSON.parse(text); } catch { json = undefined; }
      const res = { method, path: p.length > 120 ? p.slice(0, 120) + '…' : p, status: m ? Number(m[1]) : 0, headers: { get: (n) => hdrs.get(n.toLowerCase()) ?? null }, text, json };
      seen.push([res.status, method, res.path]);
      resolve(res);
    });
  });
}

function rdescribe(res) {
  return `${res.method} ${res.path} -> ${res.status} ${res.text.slice(0, 400)}`;
}

/** Asserts that the text of a response carries none of `secrets`. */
function assertNoLeak(res, secrets, what) {
  for (const s of secrets) {
    assert.ok(!res.text.includes(s), `${what}: the answer carries another tenant's data ${JSON.stringify(s)}: ${describe(res)}`);
  }
}

const assertOneOf = (res, statuses, what) =>
  assert.ok(statuses.includes(res.status), `${what}: expected ${statuses.join(' or ')}, got ${res.status}: ${describe(res)}`);

function assertChallenge(res, what) {
  assertProblem(res, 401);
  const wa = res.headers.get('www-authenticate');
  assert.ok(wa && /^Bearer\b/.test(wa), `${what}: a 401 must carry a WWW-Authenticate: Bearer challenge, got ${JSON.stringify(wa)}: ${describe(res)}`);
}

const createTenant = (name) => makeApi(stack, { token: admin }).createTenant(name);

async function issueToken(id, token = admin) {
  const res = await call('POST', `/api/tenants/${id}/tokens`, { token });
  assert.equal(res.status, 201, describe(res));
  assert.equal(typeof res.json.token, 'string', describe(res));
  assert.equal(typeof res.json.jti, 'string', describe(res));
  return res.json;
}

async function waitStored(id, n, timeoutMs = 30000) {
  let got = 0;
  return waitFor(`${n} messages of tenant ${id} stored`, async () => (got = await storedCount(stack, id)) >= n && got, {
    timeoutMs, intervalMs: 200, describe: () => `  stored: ${got}\n${stack.describeLogs(['consumerd'])}`,
  });
}

const sqlq = (s) => `'${String(s).replace(/'/g, "''")}'`;

/** Walks GET /api/audit pages of `limit`; resolves every entry. */
async function auditAll(limit = 1000) {
  const out = [];
  let cursor = null;
  for (let i = 0; i < 10000; i++) {
    const res = await call('GET', `/api/audit?limit=${limit}` + (cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''), { token: admin });
    assert.equal(res.status, 200, describe(res));
    assert.ok(Array.isArray(res.json.data), describe(res));
    out.push(...res.json.data);
    cursor = res.json.next_cursor;
    if (!cursor) return out;
  }
  throw new Error('audit: too many pages');
}

// ---------------------------------------------------------------- set-up

before(async () => {
  stack = await startStack({ env: { MTM_CORS_ORIGINS: CORS_ORIGIN } });
  url = stack.baseUrl;
  anon = makeApi(stack);
  admin = await stack.adminToken();
  await stack.waitReady({ timeoutMs: 30000 });

  const tag = rand();
  A = await createTenant(`sec-a-${tag}`);
  B = await createTenant(`sec-b-${tag}`);
  for (const t of [A, B]) {
    const tok = await issueToken(t.id);
    t.token = tok.token;
    t.jti = tok.jti;
    t.marker = `${t.name}-SECRET-${rand()}`;
    const res = await call('POST', `/api/tenants/${t.id}/messages`, {
      token: admin,
      json: { messages: [0, 1, 2].map((i) => ({ payload: { marker: t.marker, i }, headers: { 'x-marker': t.marker } })) },
    });
    assert.equal(res.status, 202, describe(res));
    t.msgIds = res.json.ids;
    // a dead letter each, written as the superuser (which RLS does not bind)
    t.dlqId = `dl-${t.name}-${rand()}`;
    t.dlqMarker = `${t.name}-DLQ-SECRET-${rand()}`;
    await stack.psql(`INSERT INTO dead_letters (tenant_id, id, reason, attempts, first_failed_at, last_failed_at, body)
      VALUES (${sqlq(t.id)}, ${sqlq(t.dlqId)}, 'security test: not JSON', 5, now(), now(), convert_to(${sqlq(t.dlqMarker)}, 'UTF8'))`);
  }
  await waitStored(A.id, 3);
  await waitStored(B.id, 3);
  B.secrets = [B.name, B.marker, B.dlqId, B.dlqMarker, ...B.msgIds];
});

after(async () => {
  for (const fe of fronts) await fe.stop();
  if (stack) await stack.stop();
});

// ---------------------------------------------------------------- JWT

test('JWT verification: only HS256 tokens signed with MTM_JWT_SECRET, within exp/nbf, unedited, unrevoked, of a live tenant', async (t) => {
  const secret = stack.env.MTM_JWT_SECRET;
  const probe = (token) => call('GET', '/api/tenants?limit=1', { token });

  await t.test('control: a token built here (HS256, right secret, admin claims) is accepted', async () => {
    const res = await probe(jwt(HS256, adminClaims(), secret));
    assert.equal(res.status, 200, `the forged-but-valid control token must work, or the refusals below prove nothing: ${describe(res)}`);
  });

  const refused = [
    ['alg "none", empty signature', jwt({ alg: 'none', typ: 'JWT' }, adminClaims(), null)],
    ['alg "none" with a signature part', jwt({ alg: 'none', typ: 'JWT' }, adminClaims(), secret)],
    ['alg "None"', jwt({ alg: 'None' }, adminClaims(), null)],
    ['no alg in the header', jwt({ typ: 'JWT' }, adminClaims(), secret)],
    ['signed with another secret', jwt(HS256, adminClaims(), crypto.randomBytes(48).toString('base64url'))],
    ['signed with an empty secret', jwt(HS256, adminClaims(), '')],
    ['header HS512, signed with the right secret (HMAC-SHA512)', jwt({ alg: 'HS512', typ: 'JWT' }, adminClaims(), secret, 'sha512')],
    ['header HS384, signed with the right secret (HMAC-SHA384)', jwt({ alg: 'HS384', typ: 'JWT' }, adminClaims(), secret, 'sha384')],
    [`expired beyond the ${LEEWAY_S} s leeway (exp = now - ${LEEWAY_S + 90})`, jwt(HS256, adminClaims({ iat: nowS() - 3600, nbf: nowS() - 3600, exp: nowS() - LEEWAY_S - 90 }), secret)],
    [`nbf in the future beyond the leeway (nbf = now + ${LEEWAY_S + 90})`, jwt(HS256, adminClaims({ nbf: nowS() + LEEWAY_S + 90 }), secret)],
    ['exp missing', jwt(HS256, (({ exp, ...c }) => c)(adminClaims()), secret)],
    ['exp a string', jwt(HS256, adminClaims({ exp: String(nowS() + 600) }), secret)],
    ['role unknown ("root")', jwt(HS256, adminClaims({ role: 'root' }), secret)],
    ['tenant role without tenant_id', jwt(HS256, adminClaims({ role: 'tenant' }), secret)],
  ];
  for (const [what, token] of refused) {
    await t.test(`${what} -> 401`, async () => {
      const res = await probe(token);
      assertChallenge(res, what);
    });
  }

  await t.test(`within the leeway: exp = now - 10 and nbf = now + 10 are accepted (the ${LEEWAY_S} s leeway exists)`, async () => {
    const r1 = await probe(jwt(HS256, adminClaims({ exp: nowS() - 10 }), secret));
    assert.equal(r1.status, 200, `exp 10 s ago: ${describe(r1)}`);
    const r2 = await probe(jwt(HS256, adminClaims({ nbf: nowS() + 10 }), secret));
    assert.equal(r2.status, 200, `nbf in 10 s: ${describe(r2)}`);
  });

  await t.test('a token the responder verified before still expires (its memo checks exp at every use)', async () => {
    // exp 27 s ago: accepted within the leeway, refused 3 s later.
    const token = jwt(HS256, adminClaims({ iat: nowS() - 600, nbf: nowS() - 600, exp: nowS() - LEEWAY_S + 3 }), secret);
    const m0 = await call('GET', '/api/metrics', { token: admin });
    for (let i = 0; i < 3; i++) {
      const res = await probe(token);
      assert.equal(res.status, 200, `within the leeway, use ${i + 1}: ${describe(res)}`);
    }
    const m1 = await call('GET', '/api/metrics', { token: admin });
    const hits = (m) => metricValue(m.text, 'mtm_api_token_memo_lookups_total', { result: 'hit' });
    assert.ok(hits(m1) - hits(m0) >= 2, `the later uses were answered from the memo: hits ${hits(m0)} -> ${hits(m1)}`);
    await sleep(5000);
    assertChallenge(await probe(token), 'a remembered token past exp + leeway');
  });

  await t.test('a payload edited after signing -> 401 (tenant token made admin; tenant_id switched; admin exp extended)', async () => {
    const edit = (token, change) => {
      const [h, p, s] = token.split('.');
      const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
      return `${h}.${b64u(change(claims))}.${s}`;
    };
    // the originals work
    assert.equal((await call('GET', `/api/tenants/${A.id}`, { token: A.token })).status, 200);
    const asAdmin = edit(A.token, (c) => ({ ...c, role: 'admin' }));
    assertChallenge(await probe(asAdmin), 'tenant token edited to role admin');
    const toB = edit(A.token, (c) => ({ ...c, tenant_id: B.id, sub: `tenant:${B.id}` }));
    const r = await call('GET', `/api/tenants/${B.id}/messages`, { token: toB });
    assertChallenge(r, 'tenant token edited to tenant B');
    assertNoLeak(r, B.secrets, 'edited token');
    const longer = edit(admin, (c) => ({ ...c, exp: c.exp + 86400 * 365 }));
    assertChallenge(await probe(longer), 'admin token with exp edited');
  });

  await t.test('a tenant token signed with the right secret but a jti mtm never issued -> 401', async () => {
    const now = nowS();
    const forged = jwt(HS256, { sub: `tenant:${A.id}`, role: 'tenant', tenant_id: A.id, jti: crypto.randomUUID(), iat: now, nbf: now, exp: now + 600 }, secret);
    const res = await call('GET', `/api/tenants/${A.id}/messages`, { token: forged });
    assertChallenge(res, 'unknown jti');
  });

  await t.test('a revoked tenant token: DELETE /api/tenants/{id}/tokens/{jti} -> 204, then 401', async () => {
    const tok = await issueToken(A.id);
    let res = await call('GET', `/api/tenants/${A.id}/messages`, { token: tok.token });
    assert.equal(res.status, 200, `fresh token must work: ${describe(res)}`);
    // the jti under another tenant's path is not found, and the token stays valid
    res = await call('DELETE', `/api/tenants/${B.id}/tokens/${tok.jti}`, { token: admin });
    assertProblem(res, 404);
    res = await call('GET', `/api/tenants/${A.id}/messages`, { token: tok.token });
    assert.equal(res.status, 200, `revoking under tenant B's path must not touch tenant A's token: ${describe(res)}`);
    res = await call('DELETE', `/api/tenants/${A.id}/tokens/${tok.jti}`, { token: admin });
    assert.equal(res.status, 204, describe(res));
    assert.equal(res.text, '', `204 has no body: ${describe(res)}`);
    res = await call('GET', `/api/tenants/${A.id}/messages`, { token: tok.token });
    assertChallenge(res, 'revoked token');
    res = await call('POST', `/api/tenants/${A.id}/messages`, { token: tok.token, json: { payload: 1 } });
    assertChallenge(res, 'revoked token (publish)');
    // the list shows it revoked, and never the token itself
    res = await call('GET', `/api/tenants/${A.id}/tokens`, { token: admin });
    assert.equal(res.status, 200, describe(res));
    const row = res.json.data.find((x) => x.jti === tok.jti);
    assert.ok(row && row.revoked_at, `token list must show ${tok.jti} revoked: ${describe(res)}`);
    assert.ok(!res.text.includes(tok.token.split('.')[2]), 'the token list must not contain tokens');
  });

  await t.test('a token of a deleted tenant -> 401 (at once, and after consumerd removed it)', async () => {
    const c = await createTenant(`sec-c-${rand()}`);
    const tok = await issueToken(c.id);
    let res = await call('GET', `/api/tenants/${c.id}`, { token: tok.token });
    assert.equal(res.status, 200, describe(res));
    res = await call('DELETE', `/api/tenants/${c.id}`, { token: admin });
    assert.equal(res.status, 202, describe(res));
    res = await call('GET', `/api/tenants/${c.id}`, { token: tok.token });
    assertChallenge(res, 'token of a tenant being deleted');
    await waitFor('the deleted tenant to be gone (404)', async () => {
      res = await call('GET', `/api/tenants/${c.id}`, { token: admin });
      return res.status === 404;
    }, { timeoutMs: 20000, intervalMs: 200, describe: () => `  last answer: ${describe(res)}` });
    res = await call('GET', `/api/tenants/${c.id}/messages`, { token: tok.token });
    assertChallenge(res, 'token of a removed tenant');
  });

  await t.test('no Authorization header -> 401 with WWW-Authenticate: Bearer', async () => {
    for (const [m, p] of [['GET', '/api/tenants'], ['GET', `/api/tenants/${A.id}/messages`], ['GET', '/api/messages'], ['GET', '/api/audit'], ['GET', '/api/metrics'], ['POST', `/api/tenants/${A.id}/messages`]]) {
      const res = await call(m, p, m === 'POST' ? { json: { payload: 1 } } : {});
      assertChallenge(res, `${m} ${p} without a token`);
    }
  });

  await t.test('garbage Authorization headers -> 401', async () => {
    const good = jwt(HS256, adminClaims(), secret);
    const garbage = [
      'Basic YWRtaW46YWRtaW4=',
      'Bearer',
      'Bearer ',
      'Bearer garbage',
      'Bearer a.b.c',
      'Bearer ....',
      'Bearer ' + good + '.extra',
      'Bearer ' + good + ' trailing',
      'Bearer ' + good.replace(/\./g, '%2E'),
      'Token ' + good,
      'Bearer ' + 'A'.repeat(5000) + '.' + 'B'.repeat(100) + '.' + 'C'.repeat(43),
      "Bearer ' OR '1'='1",
      'Bearer eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.' + 'x'.repeat(43),
    ];
    for (const h of garbage) {
      const res = await call('GET', '/api/tenants', { headers: { authorization: h } });
      assertChallenge(res, `Authorization: ${h.slice(0, 60)}`);
    }
  });
});

// ---------------------------------------------------------------- tenant isolation (API)

test("tenant isolation in the API: tenant A's token on tenant B's resources -> 403/404 and none of B's data", async (t) => {
  const countsB = async () => ({
    messages: await storedCount(stack, B.id),
    dlq: Number(await stack.psql(`SELECT count(*) FROM dead_letters WHERE tenant_id = ${sqlq(B.id)}`)),
  });
  const before_ = await countsB();
  assert.deepEqual(before_, { messages: 3, dlq: 1 }, 'set-up: B has 3 messages and 1 dead letter');

  const cases = [
    ['GET', `/api/tenants/${B.id}/messages`],
    ['GET', `/api/tenants/${B.id.toUpperCase()}/messages`],
    ['GET', `/api/messages?tenant_id=${B.id}`],
    ['GET', `/api/messages?tenant_id=${B.id.toUpperCase()}`],
    ['GET', `/api/messages?limit=5&tenant_id=${B.id}&order=asc`],
    ['GET', `/api/messages?tenant_id=${encodeURIComponent(B.id).replace(/-/g, '%2D')}`],
    ['GET', `/api/tenants/${B.id}/dlq`],
    ['POST', `/api/tenants/${B.id}/dlq/replay`, { json: { ids: [B.dlqId] } }],
    ['POST', `/api/tenants/${B.id}/dlq/replay`, {}],
    ['DELETE', `/api/tenants/${B.id}/dlq`],
    ['GET', `/api/tenants/${B.id}`],
    ['POST', `/api/tenants/${B.id}/messages`, { json: { payload: { from: 'A' } } }],
    ['POST', `/api/tenants/${B.id}/messages`, { json: { messages: [{ payload: 1 }, { payload: 2 }] } }],
  ];
  for (const [m, p, opts] of cases) {
    await t.test(`${m} ${p.replace(B.id, '{B}').replace(B.id.toUpperCase(), '{B upper}')} -> 403/404`, async () => {
      const res = await call(m, p, { token: A.token, ...(opts || {}) });
      assertOneOf(res, [403, 404], `${m} ${p} with tenant A's token`);
      assertProblem(res, res.status);
      assertNoLeak(res, B.secrets, `${m} ${p}`);
    });
  }

  await t.test('a repeated tenant_id never reads B: ?tenant_id=A&tenant_id=B and ?tenant_id=B&tenant_id=A', async () => {
    for (const q of [`tenant_id=${A.id}&tenant_id=${B.id}`, `tenant_id=${B.id}&tenant_id=${A.id}`]) {
      const res = await call('GET', `/api/messages?${q}`, { token: A.token });
      assertOneOf(res, [200, 403, 404, 422], `GET /api/messages?${q}`);
      assertNoLeak(res, B.secrets, `GET /api/messages?${q}`);
    }
  });

  await t.test("nothing of B's changed: no message published, no dead letter replayed or purged", async () => {
    // A deliberate window in which nothing may happen, not a wait for a
    // condition: a wrongly accepted publish would be stored by now.
    await sleep(1000);
    assert.deepEqual(await countsB(), before_, "tenant B's stored messages / dead letters changed after tenant A's requests");
    const q = (await stack.listQueues()).get(`tenant_${B.id}_queue`);
    assert.equal(q, 0, `tenant B's queue holds ${q} messages after tenant A's refused publishes`);
  });

  await t.test('tenant A\'s token on its own routes works; GET /api/messages defaults to its own tenant', async () => {
    let res = await call('GET', `/api/tenants/${A.id}`, { token: A.token });
    assert.equal(res.status, 200, describe(res));
    assert.equal(res.json.id, A.id, describe(res));
    for (const p of [`/api/tenants/${A.id}/messages`, '/api/messages', `/api/messages?tenant_id=${A.id}`, `/api/tenants/${A.id.toUpperCase()}/messages`]) {
      res = await call('GET', p, { token: A.token });
      assert.equal(res.status, 200, describe(res));
      const ids = res.json.data.map((x) => x.id);
      for (const id of A.msgIds) assert.ok(ids.includes(id), `GET ${p}: A's message ${id} missing: ${describe(res)}`);
      assert.ok(res.json.data.every((x) => x.tenant_id === A.id), `GET ${p}: rows of another tenant: ${describe(res)}`);
      assertNoLeak(res, B.secrets, `GET ${p}`);
    }
    res = await call('GET', `/api/tenants/${A.id}/dlq`, { token: A.token });
    assert.equal(res.status, 200, describe(res));
    assert.deepEqual(res.json.data.map((x) => x.id), [A.dlqId], describe(res));
    res = await call('POST', `/api/tenants/${A.id}/messages`, { token: A.token, json: { payload: { own: true } } });
    assert.equal(res.status, 202, describe(res));
  });
});

test('a tenant token on every admin-only route -> 403, and nothing changes', async (t) => {
  const before_ = (await call('GET', `/api/tenants/${A.id}`, { token: admin })).json;
  const tokensBefore = (await call('GET', `/api/tenants/${A.id}/tokens`, { token: admin })).json.data.length;
  const name = `sec-made-by-tenant-${rand()}`;
  const routes = [
    ['POST', '/api/tenants', { json: { name } }],
    ['GET', '/api/tenants'],
    ['DELETE', `/api/tenants/${A.id}`],
    ['DELETE', `/api/tenants/${B.id}`],
    ['PUT', `/api/tenants/${A.id}/config/concurrency`, { json: { concurrency: 7 } }],
    ['PUT', `/api/tenants/${A.id}/config/rate_limit`, { json: { rate: 1, burst: 1 } }],
    ['POST', `/api/tenants/${A.id}/pause`],
    ['POST', `/api/tenants/${A.id}/resume`],
    ['POST', `/api/tenants/${A.id}/tokens`],
    ['GET', `/api/tenants/${A.id}/tokens`],
    ['DELETE', `/api/tenants/${A.id}/tokens/${A.jti}`],
    ['GET', '/api/audit'],
    ['GET', '/api/metrics'],
  ];
  for (const [m, p, opts] of routes) {
    await t.test(`${m} ${p.replace(A.id, '{own id}').replace(B.id, '{B}')} -> 403`, async () => {
      const res = await call(m, p, { token: A.token, ...(opts || {}) });
      assertProblem(res, 403);
      assertNoLeak(res, B.secrets, `${m} ${p}`);
    });
  }
  await t.test('after all of them: tenant A unchanged, no tenant created, tokens unchanged, A\'s token still valid', async () => {
    const now = (await call('GET', `/api/tenants/${A.id}`, { token: admin })).json;
    for (const k of ['status', 'concurrency', 'name']) assert.equal(now[k], before_[k], `tenant A's ${k} changed`);
    assert.deepEqual(now.publish_limit, before_.publish_limit, "tenant A's publish_limit changed");
    const all = (await call('GET', '/api/tenants?limit=1000', { token: admin })).json.data;
    assert.ok(!all.some((x) => x.name === name), `a tenant named ${name} was created by a tenant token`);
    assert.ok(all.some((x) => x.id === B.id), 'tenant B was deleted by a tenant token');
    const tokensNow = (await call('GET', `/api/tenants/${A.id}/tokens`, { token: admin })).json.data.length;
    assert.equal(tokensNow, tokensBefore, 'the number of tenant A\'s tokens changed');
    const res = await call('GET', '/api/messages', { token: A.token });
    assert.equal(res.status, 200, `A's token must still work (it revoked nothing): ${describe(res)}`);
  });
});

// ---------------------------------------------------------------- row-level security

test('row-level security as role mtm (the schema owner, not a superuser): a tenant scope sees and writes only its own rows', async (t) => {
  const asMtm = (sql) => stack.psql(sql, { user: 'mtm' });
  const scopeA = `SET mtm.scope = 'tenant'; SET mtm.tenant_id = ${sqlq(A.id)};`;
  const partB = `messages_${B.id.replace(/-/g, '')}`;

  await t.test('preconditions: mtm owns the tables, is neither superuser nor BYPASSRLS; both tenants have rows', async () => {
    const role = await stack.psql(`SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = 'mtm'`);
    assert.equal(role, 'f|f', `role mtm: rolsuper|rolbypassrls = ${role}`);
    const owners = await stack.psql(`SELECT string_agg(DISTINCT tableowner, ',') FROM pg_tables WHERE tablename IN ('messages', 'dead_letters', ${sqlq(partB)})`);
    assert.equal(owners, 'mtm', `owner of messages/dead_letters/B's partition: ${owners}`);
    const counts = await stack.psql(`SELECT (SELECT count(*) FROM messages WHERE tenant_id = ${sqlq(A.id)}) > 0, (SELECT count(*) FROM messages WHERE tenant_id = ${sqlq(B.id)}) > 0,
      (SELECT count(*) FROM dead_letters WHERE tenant_id = ${sqlq(A.id)}) > 0, (SELECT count(*) FROM dead_letters WHERE tenant_id = ${sqlq(B.id)}) > 0`);
    assert.equal(counts, 't|t|t|t', `superuser view: A/B messages, A/B dead letters present: ${counts}`);
  });

  await t.test("SELECT ... FROM messages with no tenant filter under A's scope -> only A's rows", async () => {
    const out = await asMtm(`${scopeA} SELECT DISTINCT tenant_id FROM messages;`);
    assert.deepEqual(out.split('\n').filter(Boolean), [A.id], `tenants visible under A's scope: ${JSON.stringify(out)}`);
    const n = await asMtm(`${scopeA} SELECT count(*) FROM messages WHERE payload::text LIKE ${sqlq('%' + B.marker + '%')};`);
    assert.equal(n, '0', `B's payloads visible under A's scope: ${n}`);
    const direct = await asMtm(`${scopeA} SELECT count(*) FROM ${partB};`);
    assert.equal(direct, '0', `B's partition read directly under A's scope: ${direct} rows`);
  });

  await t.test("SELECT ... FROM dead_letters under A's scope -> only A's rows", async () => {
    const out = await asMtm(`${scopeA} SELECT tenant_id || ' ' || id FROM dead_letters;`);
    assert.deepEqual(out.split('\n').filter(Boolean), [`${A.id} ${A.dlqId}`], `dead letters visible under A's scope: ${JSON.stringify(out)}`);
  });

  await t.test('no scope set (or a half-set or malformed one) -> zero rows, never an error', async () => {
    for (const pre of ['', "SET mtm.scope = 'tenant';", "SET mtm.tenant_id = " + sqlq(A.id) + ';', "SET mtm.scope = 'ALL';", "SET mtm.scope = 'all ';",
      "SET mtm.scope = 'tenant'; SET mtm.tenant_id = 'not-a-uuid';", `SET mtm.scope = 'tenant'; SET mtm.tenant_id = ${sqlq(A.id + ' ')};`,
      `SET mtm.scope = 'tenant'; SET mtm.tenant_id = ${sqlq('{' + A.id + '}')};`, "SET mtm.scope = 'tenant'; SET mtm.tenant_id = '';"]) {
      const out = await asMtm(`${pre} SELECT (SELECT count(*) FROM messages), (SELECT count(*) FROM dead_letters), (SELECT count(*) FROM ${partB});`);
      assert.equal(out, '0|0|0', `with ${JSON.stringify(pre || 'no scope')}: messages|dead_letters|B's partition = ${out}`);
    }
  });

  await t.test("inserting a row for B under A's scope -> error; updating/deleting B's rows touches nothing", async () => {
    await assert.rejects(
      asMtm(`${scopeA} INSERT INTO messages (tenant_id, id, payload, published_at) VALUES (${sqlq(B.id)}, 'rls-probe', '{}', now());`),
      (e) => /row-level security/i.test(e.message),
      "an INSERT of B's message under A's scope must fail with a row-level security error");
    await assert.rejects(
      asMtm(`${scopeA} INSERT INTO dead_letters (tenant_id, id, reason, attempts, first_failed_at, last_failed_at, body) VALUES (${sqlq(B.id)}, 'rls-probe', 'x', 1, now(), now(), '\\x00');`),
      (e) => /row-level security/i.test(e.message),
      "an INSERT of B's dead letter under A's scope must fail with a row-level security error");
    await assert.rejects(
      asMtm(`${scopeA} UPDATE messages SET tenant_id = ${sqlq(B.id)} WHERE tenant_id = ${sqlq(A.id)};`),
      (e) => /row-level security|partition/i.test(e.message),
      "moving A's rows to B under A's scope must fail");
    const out = await asMtm(`${scopeA}
      WITH u AS (UPDATE messages SET payload = '"overwritten"' WHERE tenant_id = ${sqlq(B.id)} RETURNING 1) SELECT count(*) FROM u;
      WITH d AS (DELETE FROM messages WHERE tenant_id = ${sqlq(B.id)} RETURNING 1) SELECT count(*) FROM d;
      WITH d AS (DELETE FROM dead_letters WHERE tenant_id = ${sqlq(B.id)} RETURNING 1) SELECT count(*) FROM d;`);
    assert.deepEqual(out.split('\n'), ['0', '0', '0'], `rows of B updated|deleted|dead letters deleted under A's scope: ${JSON.stringify(out)}`);
    const b = await stack.psql(`SELECT (SELECT count(*) FROM messages WHERE tenant_id = ${sqlq(B.id)} AND payload::text LIKE ${sqlq('%' + B.marker + '%')}), (SELECT count(*) FROM dead_letters WHERE tenant_id = ${sqlq(B.id)})`);
    assert.equal(b, '3|1', `B's rows after the attempts (superuser view): ${b}`);
  });
});

test('mtm-api refuses to start (exit 2, stderr names MTM_PG_URL) when its database role bypasses row-level security', async (t) => {
  await stack.psql(`CREATE ROLE mtm_su LOGIN SUPERUSER PASSWORD 'su'; CREATE ROLE mtm_bypass LOGIN BYPASSRLS PASSWORD 'bp';
    GRANT ALL ON ALL TABLES IN SCHEMA public TO mtm_bypass;`);
  for (const [what, pgUrl] of [
    ['a superuser role', `postgresql://mtm_su:su@127.0.0.1:${stack.pgPort}/mtm`],
    ['a BYPASSRLS role', `postgresql://mtm_bypass:bp@127.0.0.1:${stack.pgPort}/mtm`],
  ]) {
    await t.test(what, async () => {
      const sock = path.join(stack.dir, `su-${rand()}.sock`);
      const r = await run(path.join(stack.binDir, 'mtm-api'), [], {
        env: stack.binEnv({ MTM_PG_URL: pgUrl, MTM_FCGI_SOCKET: sock }),
        cwd: stack.dir,
        timeoutMs: 20000,
      });
      const out = `stdout: ${r.stdout.slice(-2000)}\nstderr: ${r.stderr.slice(-2000)}`;
      assert.ok(!r.timedOut, `mtm-api kept running with ${what} (killed after 20 s):\n${out}`);
      assert.equal(r.code, 2, `exit status with ${what}:\n${out}`);
      assert.match(r.stderr, /MTM_PG_URL/, `stderr must name MTM_PG_URL:\n${out}`);
      assert.doesNotMatch(r.stderr + r.stdout, /AddressSanitizer|LeakSanitizer|runtime error:/, `sanitizer report:\n${out}`);
    });
  }
});

// ---------------------------------------------------------------- login

test('login: tokens for the right password only; unknown users look the same; 5 failures from one address -> 429 with Retry-After', async (t) => {
  const login = (username, password, headers = {}) => call('POST', '/api/auth/login', { json: { username, password }, headers });
  const user = stack.env.MTM_ADMIN_USER;
  const pass = stack.env.MTM_ADMIN_PASSWORD;
  try {
    await t.test('right password -> 200 {access_token, token_type "Bearer", expires_in}, Cache-Control: no-store', async () => {
      const res = await login(user, pass);
      assert.equal(res.status, 200, describe(res));
      assert.equal(typeof res.json.access_token, 'string', describe(res));
      assert.equal(res.json.access_token.split('.').length, 3, describe(res));
      assert.equal(res.json.token_type, 'Bearer', describe(res));
      assert.ok(Number.isInteger(res.json.expires_in) && res.json.expires_in > 0, describe(res));
      assert.match(res.headers.get('cache-control') || '', /no-store/, describe(res));
      const use = await call('GET', '/api/tenants?limit=1', { token: res.json.access_token });
      assert.equal(use.status, 200, describe(use));
    });

    let wrongRes, unknownRes;
    await t.test('wrong password -> 401; unknown user -> 401 with the same body shape', async () => {
      wrongRes = await login(user, pass + 'x');
      assertChallenge(wrongRes, 'wrong password');
      unknownRes = await login(`nobody-${rand()}`, pass);
      assertChallenge(unknownRes, 'unknown user');
      const shape = (j) => Object.fromEntries(Object.entries(j).filter(([k]) => !['instance', 'request_id'].includes(k)));
      assert.deepEqual(shape(unknownRes.json), shape(wrongRes.json), 'unknown user and wrong password must not be told apart by the body');
      assert.equal(unknownRes.headers.get('www-authenticate'), wrongRes.headers.get('www-authenticate'), 'nor by the challenge');
    });

    await t.test('invalid login bodies -> 422 naming the field', async () => {
      assertFieldError(await call('POST', '/api/auth/login', { json: { username: user } }), 422, 'password');
      assertFieldError(await call('POST', '/api/auth/login', { json: { username: 'u'.repeat(65), password: 'x' } }), 422, 'username');
      assertFieldError(await call('POST', '/api/auth/login', { json: { username: 7, password: 'x' } }), 422, 'username');
    });

    await t.test('after 5 failures from one address -> 429 with Retry-After for any user, even with the right password; X-Forwarded-For from an untrusted peer changes nothing', async () => {
      // This stack trusts no proxy (MTM_TRUSTED_PROXIES unset): every request
      // comes from 127.0.0.1 whatever X-Forwarded-For claims.
      await stack.psql('DELETE FROM login_throttle');
      for (let i = 1; i <= 5; i++) {
        const res = await login(user, `wrong-${i}`, { 'x-forwarded-for': `192.0.2.${i}` });
        assertChallenge(res, `failure ${i}`);
      }
      for (const [what, u, pw, xff] of [
        ['6th attempt, wrong password', user, 'wrong-6', '192.0.2.6'],
        ['right password while throttled', user, pass, '192.0.2.7'],
        ['another user from the same address', `other-${rand()}`, 'x', '192.0.2.8'],
        ['a spoofed X-Forwarded-For naming a fresh address', user, pass, `198.18.${1 + Math.floor(Math.random() * 250)}.1`],
      ]) {
        const res = await login(u, pw, { 'x-forwarded-for': xff });
        assertProblem(res, 429);
        const ra = res.headers.get('retry-after');
        assert.ok(/^\d+$/.test(ra || '') && Number(ra) >= 1 && Number(ra) <= 900, `${what}: Retry-After must be 1..900 s, got ${JSON.stringify(ra)}: ${describe(res)}`);
        assert.ok(!(res.json && res.json.access_token), `${what}: no token while throttled`);
      }
      const rows = await stack.psql("SELECT address || '|' || attempts FROM login_throttle");
      assert.equal(rows, '127.0.0.1|5', 'one record, for the peer address, counting the 5 attempts let through');
      const spoofed = await stack.psql("SELECT count(*) FROM audit_log WHERE address LIKE '192.0.2.%' OR address LIKE '198.18.%'");
      assert.equal(spoofed, '0', 'the audit log never records an address the client chose');
    });
  } finally {
    await stack.psql('DELETE FROM login_throttle');
  }
  const res = await login(user, pass);
  assert.equal(res.status, 200, `login works again once the record is cleared: ${describe(res)}`);
});

// ---------------------------------------------------------------- audit

test('audit: logins and admin actions recorded with actor, action, target, request_id (= X-Request-Id), address; pages with a cursor', async (t) => {
  const marker = rand();
  const rid = (s) => `sec-${s}-${marker}`;
  const expect = []; // {action, target, request_id}
  const act = async (action, m, p, opts, status) => {
    const headers = { 'x-request-id': rid(action.replace('.', '-')) };
    const res = await call(m, p, { token: admin, headers, ...(opts || {}) });
    assert.equal(res.status, status, describe(res));
    assert.equal(res.headers.get('x-request-id'), headers['x-request-id'], `X-Request-Id must echo a valid request id: ${describe(res)}`);
    return res;
  };
  const created = await act('tenant.create', 'POST', '/api/tenants', { json: { name: `sec-audit-${marker}` } }, 201);
  const id = created.json.id;
  expect.push({ action: 'tenant.create', target: id, request_id: rid('tenant-create') });
  await act('tenant.concurrency', 'PUT', `/api/tenants/${id}/config/concurrency`, { json: { concurrency: 2 } }, 200);
  expect.push({ action: 'tenant.concurrency', target: id, request_id: rid('tenant-concurrency') });
  await act('tenant.pause', 'POST', `/api/tenants/${id}/pause`, {}, 200);
  expect.push({ action: 'tenant.pause', target: id, request_id: rid('tenant-pause') });
  await act('tenant.resume', 'POST', `/api/tenants/${id}/resume`, {}, 200);
  expect.push({ action: 'tenant.resume', target: id, request_id: rid('tenant-resume') });
  const tok = await act('token.issue', 'POST', `/api/tenants/${id}/tokens`, {}, 201);
  expect.push({ action: 'token.issue', target: id, request_id: rid('token-issue') });
  await act('token.revoke', 'DELETE', `/api/tenants/${id}/tokens/${tok.json.jti}`, {}, 204);
  expect.push({ action: 'token.revoke', target: id, request_id: rid('token-revoke') });
  await act('tenant.delete', 'DELETE', `/api/tenants/${id}`, {}, 202);
  expect.push({ action: 'tenant.delete', target: id, request_id: rid('tenant-delete') });
  // logins without a client request id: the generated one (response header) is the one recorded
  const okLogin = await call('POST', '/api/auth/login', { json: { username: stack.env.MTM_ADMIN_USER, password: stack.env.MTM_ADMIN_PASSWORD } });
  assert.equal(okLogin.status, 200, describe(okLogin));
  const badUser = `audit-probe-${marker}`;
  const badLogin = await call('POST', '/api/auth/login', { json: { username: badUser, password: 'nope' } });
  assert.equal(badLogin.status, 401, describe(badLogin));

  const all = await auditAll();
  const find = (pred) => all.find(pred);

  await t.test('each admin action has one entry: actor admin, the target, the request id, address 127.0.0.1', async () => {
    for (const e of expect) {
      const hits = all.filter((x) => x.request_id === e.request_id);
      assert.equal(hits.length, 1, `audit entries with request_id ${e.request_id}: ${JSON.stringify(hits)}`);
      const got = hits[0];
      assert.deepEqual({ actor: got.actor, action: got.action, target: got.target, request_id: got.request_id, address: got.address },
        { actor: 'admin', action: e.action, target: e.target, request_id: e.request_id, address: '127.0.0.1' }, `audit entry for ${e.action}`);
      assert.ok(got.at && !Number.isNaN(Date.parse(got.at)), `audit entry needs a time: ${JSON.stringify(got)}`);
    }
    const issue = all.find((x) => x.request_id === rid('token-issue'));
    assert.equal(issue.detail && issue.detail.jti, tok.json.jti, `token.issue detail names the jti: ${JSON.stringify(issue)}`);
    assert.ok(!JSON.stringify(all).includes(tok.json.token.split('.')[2]), 'the audit log must not contain tokens');
  });

  await t.test('logins: login.success and login.failure, with the request id of the X-Request-Id response header', async () => {
    const s = find((x) => x.request_id === okLogin.headers.get('x-request-id'));
    assert.ok(s, `no audit entry with the successful login's request id ${okLogin.headers.get('x-request-id')}`);
    assert.deepEqual({ action: s.action, actor: s.actor, address: s.address }, { action: 'login.success', actor: stack.env.MTM_ADMIN_USER, address: '127.0.0.1' }, JSON.stringify(s));
    const f = find((x) => x.request_id === badLogin.headers.get('x-request-id'));
    assert.ok(f, `no audit entry with the failed login's request id ${badLogin.headers.get('x-request-id')}`);
    assert.deepEqual({ action: f.action, actor: f.actor, address: f.address }, { action: 'login.failure', actor: badUser, address: '127.0.0.1' }, JSON.stringify(f));
    assert.ok(!JSON.stringify(all).includes(stack.env.MTM_ADMIN_PASSWORD), 'the audit log must not contain the password');
  });

  await t.test('GET /api/audit pages with a cursor: small pages add up to the whole log, in order, without repeats', async () => {
    const paged = await auditAll(3);
    assert.ok(all.length > 6, `need several pages: ${all.length} entries`);
    assert.deepEqual(paged.map((x) => x.seq), all.map((x) => x.seq), 'pages of 3 must give the same entries as one page of 1000');
    for (let i = 1; i < paged.length; i++) assert.ok(paged[i].seq > paged[i - 1].seq, `seq not increasing at ${i}`);
    const bad = await call('GET', '/api/audit?cursor=not-a-cursor', { token: admin });
    assertProblem(bad, 400);
    const tenantsCursor = (await call('GET', '/api/tenants?limit=1', { token: admin })).json.next_cursor;
    if (tenantsCursor) assertProblem(await call('GET', `/api/audit?cursor=${encodeURIComponent(tenantsCursor)}`, { token: admin }), 400);
    assertFieldError(await call('GET', '/api/audit?limit=0', { token: admin }), 422, 'limit');
  });
});

// ---------------------------------------------------------------- hostile input

test('hostile input: SQL metacharacters, path tricks, deep/invalid/oversized bodies, over-long strings; never 5xx', async (t) => {
  await t.test('tenant names: SQL metacharacters refused 422 by the name rule; allowed odd names stored verbatim', async () => {
    for (const name of ["a'; DROP TABLE tenants;--", 'Robert"); DROP TABLE students;--', 'x\\y', 'a%b', 'é', 'a\u0000b', '<script>', ' lead', 'trail ']) {
      const res = await call('POST', '/api/tenants', { token: admin, json: { name } });
      assertFieldError(res, 422, 'name');
    }
    assert.equal(await stack.psql("SELECT to_regclass('tenants') IS NOT NULL"), 't', 'the tenants table is still there');
    for (const name of [`O.Brien-x_1-${rand()}`, `x OR 1-1 ${rand()}`]) {
      const res = await call('POST', '/api/tenants', { token: admin, json: { name } });
      assert.equal(res.status, 201, describe(res));
      assert.equal(res.json.name, name, describe(res));
      const got = await call('GET', `/api/tenants/${res.json.id}`, { token: admin });
      assert.equal(got.json.name, name, describe(got));
    }
  });

  await t.test('payloads, message headers and Idempotency-Keys with SQL/format metacharacters are stored and listed verbatim', async () => {
    const key = `k'; DELETE FROM messages;-- %s%n ${rand()}`;
    const payload = {
      sql: "'; DROP TABLE messages; --",
      dq: '" OR ""="',
      bs: "\\'\\\"\\\\",
      fmt: '%s%s%s%n%x',
      unicode: 'é中😀\u2028',
      nested: { $where: '1 == 1', '__proto__x': [null, true, 1e300, -0.5] },
      ctl: '\t\r\n\b\f',
    };
    const headers = { 'x-sql': "' OR '1'='1", "x-'quote": 'v', 'x-fmt': '%n%n%n', 'x-json': '{"a":1}' };
    const res = await call('POST', `/api/tenants/${A.id}/messages`, { token: admin, json: { payload, headers }, headers: { 'idempotency-key': key } });
    assert.equal(res.status, 202, describe(res));
    assert.equal(res.json.id, key, describe(res));
    const row = await waitFor(`message ${JSON.stringify(key)} to be listed`, async () => {
      const list = await call('GET', `/api/tenants/${A.id}/messages?limit=1000`, { token: admin });
      return list.json.data.find((x) => x.id === key);
    }, { timeoutMs: 20000, intervalMs: 200 });
    assert.deepEqual(row.payload, payload, 'payload must come back verbatim');
    assert.deepEqual(row.headers, headers, 'headers must come back verbatim');
    assert.equal(await stack.psql("SELECT to_regclass('messages') IS NOT NULL"), 't');
  });

  // ids that are not UUIDs, in every {id} route: always 404, never 500
  const Z = await createTenant(`sec-z-${rand()}`); // a victim for normalisation tricks
  const hostileIds = [
    ['../', '..%2F..%2Fetc%2Fpasswd'],
    ['%2F', `${Z.id}%2F`],
    ['%2F alone', '%2F'],
    ['single quotes', "'%20OR%20'1'='1"],
    ['a quote after a UUID', `${Z.id}'`],
    ['double quote (encoded)', '%22%3B--'],
    ['NUL (encoded; lighttpd refuses it: 400)', `${Z.id}%00`, 400],
    ['dot-dot encoded', '%2e%2e'],
    ['129 characters', 'x'.repeat(129)],
    ['4000 characters', 'y'.repeat(4000)],
    ['UUID with braces', `{${Z.id}}`],
    ['UUID without dashes', Z.id.replace(/-/g, '')],
    ['UUID too long', `${Z.id}0`],
    ['UUID with spaces (encoded)', `%20${Z.id}`],
  ];
  // [method, path, body, a tenant token may call it]
  const idRoutes = [
    ['GET', '/api/tenants/{id}', undefined, true],
    ['DELETE', '/api/tenants/{id}'],
    ['PUT', '/api/tenants/{id}/config/concurrency', '{"concurrency":2}'],
    ['PUT', '/api/tenants/{id}/config/rate_limit', '{"rate":1}'],
    ['POST', '/api/tenants/{id}/pause'],
    ['POST', '/api/tenants/{id}/resume'],
    ['POST', '/api/tenants/{id}/tokens'],
    ['GET', '/api/tenants/{id}/tokens'],
    ['DELETE', `/api/tenants/{id}/tokens/${A.jti}`],
    ['DELETE', `/api/tenants/${A.id}/tokens/{id}`],
    ['POST', '/api/tenants/{id}/messages', '{"payload":1}', true],
    ['GET', '/api/tenants/{id}/messages', undefined, true],
    ['GET', '/api/tenants/{id}/dlq', undefined, true],
    ['DELETE', '/api/tenants/{id}/dlq', undefined, true],
    ['POST', '/api/tenants/{id}/dlq/replay', undefined, true],
  ];
  // lighttpd itself answers two of them: "..%2F.." decodes and normalises to
  // a path outside /api/ (its own 404 page), and an encoded NUL is refused
  // before routing (400). Every other one reaches mtm-api, which must answer
  // a problem+json 404 before any SQL runs.
  await t.test(`${hostileIds.length} hostile ids in each of ${idRoutes.length} {id} routes -> 404 (admin token and tenant token)`, async () => {
    const failures = [];
    for (const [what, id, expected] of hostileIds) {
      for (const [m, pattern, body, tenantRoute] of idRoutes) {
        const p = pattern.replace('{id}', id);
        for (const token of tenantRoute ? [admin, A.token] : [admin]) {
          const res = await raw(m, p, { headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body });
          const byLighttpd = /text\/html/.test(res.headers.get('content-type') || '');
          const want = expected || 404;
          if (res.status !== want) failures.push(`${what} (${token === admin ? 'admin' : 'tenant'}): expected ${want}: ${rdescribe(res)}`);
          else if (!byLighttpd && !/problem\+json/.test(res.headers.get('content-type') || '')) failures.push(`${what}: ${res.status} without problem+json: ${rdescribe(res)}`);
          else if (byLighttpd && !expected && !/%2F\.\./i.test(p) && !/^\.\.%2F/i.test(id)) failures.push(`${what}: answered by lighttpd, not mtm-api: ${rdescribe(res)}`);
        }
      }
    }
    assert.deepEqual(failures, [], `expected 404 for every hostile id:\n${failures.join('\n')}`);
    const z = await call('GET', `/api/tenants/${Z.id}`, { token: admin });
    assert.equal(z.json.status, 'active', `tenant Z must be untouched by hostile ids around its own: ${describe(z)}`);
  });

  await t.test('path normalisation tricks never reach another tenant (tenant token; "..", "//", "./")', async (t) => {
    const failures = [];
    const tricks = [
      `/api/tenants/${A.id}/../${B.id}/messages`,
      `/api/tenants/${A.id}/..%2F${B.id}/messages`,
      `/api/tenants/../tenants/${B.id}/messages`,
      `//api/tenants/${B.id}/messages`,
      `/api/./tenants/${B.id}/messages`,
      `/api/tenants/${B.id}/messages/`,
      `/api/tenants/${B.id}%2Fmessages`,
      `/api/messages/../tenants/${B.id}/messages`,
      `/api/tenants/${A.id}/messages/../../${B.id}/messages`,
      `/api/tenants/${A.id}/messages?tenant_id=${B.id}`,
    ];
    const statuses = [];
    for (const p of tricks) {
      const res = await raw('GET', p, { headers: { Authorization: `Bearer ${A.token}` } });
      statuses.push(`${res.status} ${p.replaceAll(A.id, '{A}').replaceAll(B.id, '{B}')}`);
      if (res.status >= 500) failures.push(`5xx: ${rdescribe(res)}`);
      for (const s of B.secrets) if (res.text.includes(s)) failures.push(`leaks ${s}: ${rdescribe(res)}`);
      if (res.status === 200 && p.includes(B.id) && !p.includes('?')) failures.push(`answered 200: ${rdescribe(res)}`);
    }
    // the admin token with DELETE through a normalising path must not delete Z
    for (const p of [`/api/tenants/../tenants/${Z.id}`, `/api/./tenants/${Z.id}`, `//api/tenants/${Z.id}`]) {
      const res = await raw('DELETE', p, { headers: { Authorization: `Bearer ${admin}` } });
      if (res.status >= 500) failures.push(`5xx: ${rdescribe(res)}`);
    }
    t.diagnostic(`tenant token through normalising paths: ${statuses.join('; ')}`);
    assert.deepEqual(failures, [], failures.join('\n'));
    const z = await call('GET', `/api/tenants/${Z.id}`, { token: admin });
    assert.equal(z.status, 200, describe(z));
    // whichever way lighttpd and the router agree to treat "..", it is one way: deleted or not, never 5xx
    assert.ok(['active', 'deleting'].includes(z.json.status), describe(z));
  });

  const deep = '['.repeat(100000) + ']'.repeat(100000);
  const deepInPayload = '{"payload":' + '{"a":'.repeat(50000) + '1' + '}'.repeat(50000) + '}';
  await t.test('a 100,000-deep JSON array (and a 50,000-deep payload) -> 400', async () => {
    for (const [m, p, token] of [['POST', '/api/tenants', admin], ['POST', `/api/tenants/${A.id}/messages`, A.token], ['PUT', `/api/tenants/${A.id}/config/concurrency`, admin], ['POST', '/api/auth/login', undefined], ['POST', `/api/tenants/${A.id}/dlq/replay`, admin]]) {
      for (const body of [deep, deepInPayload]) {
        const res = await call(m, p, { token, body, headers: { 'content-type': 'application/json' }, timeoutMs: 15000 });
        assertProblem(res, 400);
      }
    }
  });

  await t.test('invalid UTF-8 in a body -> 400', async () => {
    const bad = [
      ['0xff', Buffer.from([0xff])],
      ['overlong "/"', Buffer.from([0xc0, 0xaf])],
      ['UTF-16 surrogate', Buffer.from([0xed, 0xa0, 0x80])],
      ['truncated sequence', Buffer.from([0xe2, 0x82])],
      ['above U+10FFFF', Buffer.from([0xf4, 0x90, 0x80, 0x80])],
    ];
    for (const [what, bytes] of bad) {
      for (const [m, p, token, pre, post] of [
        ['POST', '/api/tenants', admin, '{"name":"x', '"}'],
        ['POST', `/api/tenants/${A.id}/messages`, A.token, '{"payload":"', '"}'],
        ['POST', `/api/tenants/${A.id}/messages`, A.token, '{"payload":{"k":1},"headers":{"h":"', '"}}'],
        ['POST', `/api/tenants/${A.id}/messages`, A.token, '{"payload":{"', '":1}}'],
        ['POST', '/api/auth/login', undefined, '{"username":"admin","password":"', '"}'],
      ]) {
        const body = Buffer.concat([Buffer.from(pre), bytes, Buffer.from(post)]);
        const res = await call(m, p, { token, body, headers: { 'content-type': 'application/json' } });
        assert.equal(res.status, 400, `${what} in ${pre}…: ${describe(res)}`);
        assertProblem(res, 400);
      }
    }
  });

  await t.test('escapes PostgreSQL cannot store (\\u0000, a lone surrogate) never answer 5xx', async () => {
    for (const payload of ['"a\\u0000b"', '"\\ud800"', '{"\\u0000":1}']) {
      const res = await call('POST', `/api/tenants/${Z.id}/messages`, { token: admin, body: `{"payload":${payload}}`, headers: { 'content-type': 'application/json' } });
      assertOneOf(res, [202, 400, 404, 409, 422], `payload ${payload}`);
    }
  });

  await t.test(`a body far over the cap (5 MB, MTM_MAX_BODY ${MAX_BODY}) -> 413, with or without Content-Length, with or without a token`, async () => {
    const big = Buffer.alloc(5 * 1024 * 1024, 'a');
    const body = Buffer.concat([Buffer.from('{"payload":"'), big, Buffer.from('"}')]);
    for (const token of [A.token, undefined]) {
      const res = await call('POST', `/api/tenants/${A.id}/messages`, { token, body, headers: { 'content-type': 'application/json' }, timeoutMs: 30000 });
      assert.equal(res.status, 413, describe(res));
    }
    // chunked: no Content-Length for mtm-api to look at
    const stream = new ReadableStream({
      start(c) { for (let i = 0; i < body.length; i += 65536) c.enqueue(body.subarray(i, i + 65536)); c.close(); },
    });
    const res = await fetch(`${url}/api/tenants/${A.id}/messages`, {
      method: 'POST', body: stream, duplex: 'half',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${A.token}` },
      signal: AbortSignal.timeout(30000),
    });
    const text = await res.text();
    seen.push([res.status, 'POST', 'chunked 5 MB']);
    assert.equal(res.status, 413, `chunked 5 MB: ${res.status} ${text.slice(0, 300)}`);
    // a Content-Length over lighttpd's own cap is refused by lighttpd (413) before any body is sent
    const huge = await raw('POST', `/api/tenants/${A.id}/messages`, { headers: { Authorization: `Bearer ${A.token}`, 'Content-Length': String(200 * 1024 * 1024) } });
    assert.equal(huge.status, 413, rdescribe(huge));
  });

  await t.test('strings over their caps -> 422 naming the field (and the caps themselves are accepted)', async () => {
    assertFieldError(await call('POST', '/api/tenants', { token: admin, json: { name: 'n'.repeat(65) } }), 422, 'name');
    const n64 = `${rand()}${'n'.repeat(56)}`;
    assert.equal((await call('POST', '/api/tenants', { token: admin, json: { name: n64 } })).status, 201, '64-character name');
    const pub = (body, headers) => call('POST', `/api/tenants/${A.id}/messages`, { token: A.token, json: body, headers });
    assertFieldError(await pub({ payload: 1, headers: { h: 'v'.repeat(5000) } }), 422, 'headers');
    assert.equal((await pub({ payload: 1, headers: { h: 'v'.repeat(4096) } })).status, 202, '4096-character header value');
    assertFieldError(await pub({ payload: 1, headers: { ['h'.repeat(129)]: 'v' } }), 422, 'headers');
    assertFieldError(await pub({ payload: 1 }, { 'idempotency-key': 'k'.repeat(201) }), 422, 'Idempotency-Key');
    assert.equal((await pub({ payload: 1 }, { 'idempotency-key': `${rand()}${'k'.repeat(192)}` })).status, 202, '200-character Idempotency-Key');
    assertFieldError(await pub({ payload: 1 }, { 'idempotency-key': 'caf\u00e9' }), 422, 'Idempotency-Key');
    assertFieldError(await pub({ messages: [{ payload: 1, headers: { h: 'v'.repeat(5000) } }] }), 422, 'messages[0].headers');
  });

  await t.test('hostile request headers (X-Request-Id, traceparent, Origin, Content-Type) never answer 5xx and are not echoed unchecked', async () => {
    const res = await call('GET', '/api/tenants?limit=1', {
      token: admin,
      headers: { 'x-request-id': "'; DROP TABLE audit_log;--", traceparent: '00-' + 'z'.repeat(32) + '-' + '0'.repeat(16) + '-01', origin: 'https://evil.example', 'content-type': 'text/html' },
    });
    assert.equal(res.status, 200, describe(res));
    assert.notEqual(res.headers.get('x-request-id'), "'; DROP TABLE audit_log;--", 'an invalid request id must be replaced');
    const long = await call('GET', '/api/tenants?limit=1', { token: admin, headers: { 'x-request-id': 'r'.repeat(5000) } });
    assert.equal(long.status, 200, describe(long));
    assert.ok((long.headers.get('x-request-id') || '').length <= 200, `an over-long request id must be replaced: ${long.headers.get('x-request-id')?.length}`);
  });
});

// ---------------------------------------------------------------- CORS

test('header size caps: an oversized header is refused by lighttpd (431), an oversized token is 401, an oversized or odd X-Request-Id is replaced', async (t) => {
  await t.test('a 20 KiB header (over server.max-request-field-size 16 KiB) -> 431, no 5xx', async () => {
    const res = await call('GET', '/api/health', { headers: { 'x-filler': 'a'.repeat(20 * 1024) } });
    assert.equal(res.status, 431, describe(res));
  });
  await t.test('a bearer token over 4096 bytes -> 401 naming its length, not verified at all', async () => {
    const res = await call('GET', '/api/tenants', { headers: { authorization: `Bearer ${'a'.repeat(5000)}` } });
    assertProblem(res, 401);
    assert.match(res.json.detail, /too long/, describe(res));
    assert.match(res.headers.get('www-authenticate') || '', /^Bearer /, describe(res));
  });
  await t.test('X-Request-Id over 64 characters or with odd characters is replaced by a generated id', async () => {
    for (const given of ['r'.repeat(65), 'a b', 'x"y', 'é']) {
      const res = await call('GET', '/api/health', { headers: { 'x-request-id': given } });
      const got = res.headers.get('x-request-id') || '';
      assert.notEqual(got, given, `X-Request-Id ${JSON.stringify(given)} must not be echoed`);
      assert.match(got, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, `generated id: ${got}`);
    }
    const ok = await call('GET', '/api/health', { headers: { 'x-request-id': 'trace-1.A_b' } });
    assert.equal(ok.headers.get('x-request-id'), 'trace-1.A_b', 'a well-formed id is kept');
  });
});

test(`CORS with MTM_CORS_ORIGINS=${CORS_ORIGIN}: allowed origin only, never credentials`, async (t) => {
  await t.test('preflight from the allowed origin -> 204 with Allow-Origin/Methods/Headers', async () => {
    const res = await call('OPTIONS', '/api/tenants', { headers: { origin: CORS_ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' } });
    assert.equal(res.status, 204, describe(res));
    assert.equal(res.headers.get('access-control-allow-origin'), CORS_ORIGIN, describe(res));
    assert.match(res.headers.get('access-control-allow-methods') || '', /\bPOST\b/, `Allow-Methods: ${res.headers.get('access-control-allow-methods')}`);
    const ah = (res.headers.get('access-control-allow-headers') || '').toLowerCase();
    for (const h of ['authorization', 'content-type']) assert.ok(ah.includes(h), `Allow-Headers must include ${h}: ${ah}`);
    assert.equal(res.headers.get('access-control-allow-credentials'), null, 'no credentials');
    assert.match(res.headers.get('vary') || '', /\bOrigin\b/i, `Vary: ${res.headers.get('vary')}`);
  });

  for (const origin of ['https://evil.example', 'https://ui.example.evil.com', 'http://ui.example', 'https://ui.example:8443', 'null', 'https://UI.example']) {
    await t.test(`preflight from ${origin} -> 403 without Access-Control-Allow-Origin`, async () => {
      const res = await call('OPTIONS', '/api/tenants', { headers: { origin, 'access-control-request-method': 'POST' } });
      assertProblem(res, 403);
      assert.equal(res.headers.get('access-control-allow-origin'), null, describe(res));
    });
  }

  await t.test('a normal GET with the allowed Origin carries ACAO and Vary: Origin, no Allow-Credentials; also on a 401', async () => {
    for (const [token, status] of [[admin, 200], [undefined, 401]]) {
      const res = await call('GET', '/api/tenants?limit=1', { token, headers: { origin: CORS_ORIGIN } });
      assert.equal(res.status, status, describe(res));
      assert.equal(res.headers.get('access-control-allow-origin'), CORS_ORIGIN, describe(res));
      assert.match(res.headers.get('vary') || '', /\bOrigin\b/i, `Vary: ${res.headers.get('vary')}`);
      assert.equal(res.headers.get('access-control-allow-credentials'), null, describe(res));
    }
  });

  await t.test('a normal GET from another origin carries no ACAO', async () => {
    const res = await call('GET', '/api/tenants?limit=1', { token: admin, headers: { origin: 'https://evil.example' } });
    assert.equal(res.status, 200, describe(res));
    assert.equal(res.headers.get('access-control-allow-origin'), null, describe(res));
  });

  await t.test('without MTM_CORS_ORIGINS (a second mtm-api + lighttpd): no ACAO ever', async () => {
    const fe = await startFrontend(stack, 'nocors', { env: { MTM_CORS_ORIGINS: undefined } });
    fronts.push(fe);
    const checks = [
      ['OPTIONS', '/api/tenants', { headers: { origin: CORS_ORIGIN, 'access-control-request-method': 'POST' } }],
      ['OPTIONS', '/api/health', { headers: { origin: CORS_ORIGIN } }],
      ['GET', '/api/tenants?limit=1', { token: admin, headers: { origin: CORS_ORIGIN } }],
      ['GET', '/api/health', { headers: { origin: CORS_ORIGIN } }],
      ['GET', '/api/tenants', { headers: { origin: CORS_ORIGIN } }],
    ];
    for (const [m, p, opts] of checks) {
      const res = await call(m, p, { base: fe.baseUrl, ...opts });
      assert.equal(res.headers.get('access-control-allow-origin'), null, describe(res));
      assert.equal(res.headers.get('access-control-allow-credentials'), null, describe(res));
    }
  });
});

// ---------------------------------------------------------------- security headers

test('security headers on API responses, errors included (200, 201, 202, 204, 400, 401, 403, 404, 405, 413, 422, 429)', async (t) => {
  const limited = await createTenant(`sec-429-${rand()}`);
  const lim = await call('PUT', `/api/tenants/${limited.id}/config/rate_limit`, { token: admin, json: { rate: 1, burst: 1 } });
  assert.equal(lim.status, 200, describe(lim));
  assert.equal((await call('POST', `/api/tenants/${limited.id}/messages`, { token: admin, json: { payload: 1 } })).status, 202);
  const cases = [
    ['200', 'GET', '/api/tenants?limit=1', { token: admin }],
    ['201', 'POST', '/api/tenants', { token: admin, json: { name: `sec-201-${rand()}` } }],
    ['429', 'POST', `/api/tenants/${limited.id}/messages`, { token: admin, json: { payload: 2 } }],
    ['202', 'POST', `/api/tenants/${A.id}/messages`, { token: A.token, json: { payload: 1 } }],
    ['204 (preflight)', 'OPTIONS', '/api/tenants', { headers: { origin: CORS_ORIGIN, 'access-control-request-method': 'GET' } }],
    ['400', 'POST', '/api/tenants', { token: admin, body: '{', headers: { 'content-type': 'application/json' } }],
    ['401', 'GET', '/api/tenants', {}],
    ['403', 'GET', '/api/tenants', { token: A.token }],
    ['404 route', 'GET', '/api/nope', {}],
    ['404 tenant', 'GET', `/api/tenants/${crypto.randomUUID()}`, { token: admin }],
    ['405', 'PATCH', '/api/tenants', { token: admin }],
    ['413', 'POST', '/api/tenants', { token: admin, body: 'x'.repeat(MAX_BODY + 1), headers: { 'content-type': 'application/json' } }],
    ['422', 'POST', '/api/tenants', { token: admin, json: { name: '' } }],
  ];
  for (const [what, m, p, opts] of cases) {
    await t.test(`${what}: ${m} ${p}`, async () => {
      const res = await call(m, p, opts);
      assert.equal(String(res.status), what.slice(0, 3), describe(res));
      const h = (n) => res.headers.get(n);
      assert.equal((h('x-content-type-options') || '').toLowerCase(), 'nosniff', `X-Content-Type-Options: ${h('x-content-type-options')}`);
      assert.match(h('content-security-policy') || '', /frame-ancestors 'none'/, `Content-Security-Policy: ${h('content-security-policy')}`);
      assert.match(h('referrer-policy') || '', /^(no-referrer|same-origin|strict-origin|strict-origin-when-cross-origin)$/, `Referrer-Policy: ${h('referrer-policy')}`);
      assert.ok(h('x-request-id'), `X-Request-Id missing: ${describe(res)}`);
    });
  }
});

// ---------------------------------------------------------------- the whole file

test('no request of this file was answered 5xx (lighttpd access log), and no 5xx was seen by a client', async () => {
  const five = seen.filter(([s]) => s >= 500);
  assert.deepEqual(five, [], `5xx answers seen by the tests: ${JSON.stringify(five.slice(0, 20))}`);
  // lighttpd writes a request's access log line after the response: send
  // one last request to each front end and wait for its line, so that the
  // lines of every earlier request are in the logs.
  const marker = `log-flushed-${rand()}`;
  const accessLogs = [
    { base: url, read: () => stack.logs('lighttpd-access') },
    ...fronts.map((fe) => ({ base: fe.baseUrl, read: () => { try { return fs.readFileSync(path.join(fe.env.MTM_VAR_DIR, 'log', 'lighttpd-access.log'), 'utf8'); } catch { return ''; } } })),
  ];
  for (const { base, read } of accessLogs) {
    await call('GET', `/api/health?${marker}`, { base });
    await waitFor(`the access log line of GET /api/health?${marker} on ${base}`, () => read().includes(marker), { timeoutMs: 5000, intervalMs: 50 });
  }
  const logs = accessLogs.map(({ read }) => read()).join('\n');
  const bad = logs.split('\n').filter((l) => /" (5\d\d) /.test(l));
  assert.ok(logs.length > 0, 'lighttpd access log is empty');
  assert.deepEqual(bad, [], `5xx lines in lighttpd's access log:\n${bad.slice(0, 20).join('\n')}`);
});

test('GET /api/audit?order=desc&target=: newest first, only entries about one tenant; a cursor belongs to its order and target; bad values -> 422', async () => {
  const api = makeApi(stack, { token: admin });
  const t = await api.createTenant(`audit-target-${Date.now().toString(36)}`, 1);
  for (const c of [2, 3, 4]) assert.equal((await api.setConcurrency(t.id, c)).status, 200);
  const walk = async (q) => {
    const out = [];
    let cursor = null;
    do {
      const res = await call('GET', `/api/audit?limit=2&${q}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { token: admin });
      assert.equal(res.status, 200, describe(res));
      out.push(...res.json.data);
      cursor = res.json.next_cursor;
    } while (cursor);
    return out;
  };
  const mine = await walk(`target=${t.id.toUpperCase()}&order=desc`);
  assert.deepEqual(mine.map((e) => e.action), ['tenant.concurrency', 'tenant.concurrency', 'tenant.concurrency', 'tenant.create'],
    `newest first, this tenant only: ${JSON.stringify(mine.map((e) => [e.seq, e.action]))}`);
  assert.ok(mine.every((e) => e.target === t.id));
  assert.deepEqual(mine.map((e) => e.detail.concurrency ?? null).slice(0, 3), [4, 3, 2]);
  const asc = await walk(`target=${t.id}`);
  assert.deepEqual(asc.map((e) => e.seq), [...mine.map((e) => e.seq)].reverse(), 'the default order is oldest first');
  const first = await call('GET', `/api/audit?limit=1&target=${t.id}&order=desc`, { token: admin });
  const cur = encodeURIComponent(first.json.next_cursor);
  assertProblem(await call('GET', `/api/audit?limit=1&target=${t.id}&cursor=${cur}`, { token: admin }), 400);
  assertProblem(await call('GET', `/api/audit?limit=1&order=desc&cursor=${cur}`, { token: admin }), 400);
  for (const [q, field] of [['target=nope', 'target'], ['order=newest', 'order']]) {
    const res = await call('GET', `/api/audit?${q}`, { token: admin });
    assert.equal(res.status, 422, describe(res));
    assert.ok((res.json.errors || []).some((e) => e.field === field), describe(res));
  }
});
