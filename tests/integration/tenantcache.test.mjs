// The responder's tenant cache (cgi-bin/tenantcache.h): a publish checks
// the tenant (exists, not being deleted, publish limit) without a database
// round trip, and every change must still be seen at once — by this
// process, by another responder process (the stack's lighttpd + mtm-api
// and a second one, tests/harness/frontend.mjs), and when the change is
// made in SQL behind the API's back. Entries live at most 5 s
// (TENANT_CACHE_TTL_MS), so each test below requires the change to show
// within 2 s: only the LISTEN/NOTIFY path (or the local forget) can give
// that.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startStack } from '../harness/stack.mjs';
import { startFrontend } from '../harness/frontend.mjs';
import { request, describe } from '../harness/http.mjs';
import { metricValue } from '../harness/api.mjs';
import { sleep } from '../harness/util.mjs';

const SEEN_WITHIN_MS = 2000; // well under the 5 s an entry may live

let stack;
let fe2;
let admin;

before(async () => {
  stack = await startStack();
  admin = await stack.adminToken();
  await stack.waitReady({ timeoutMs: 30000 });
  fe2 = await startFrontend(stack, 'fe2');
});

after(async () => {
  if (fe2) await fe2.stop();
  if (stack) await stack.stop();
});

const rand = () => crypto.randomBytes(4).toString('hex');

async function call(base, method, path, opts = {}) {
  const o = { token: admin, ...opts };
  if ((method === 'POST' || method === 'PUT') && o.body === undefined && o.json === undefined) o.body = '';
  return request(base, method, path, o);
}

async function createTenant() {
  const res = await call(stack.baseUrl, 'POST', '/api/tenants', { json: { name: `tc-${rand()}` } });
  assert.equal(res.status, 201, describe(res));
  return res.json.id;
}

const publish = (base, id, payload = 1) => call(base, 'POST', `/api/tenants/${id}/messages`, { json: { payload } });

/** Publishes through base until one answer passes `refused`; the ms it took, or fails after SEEN_WITHIN_MS. */
async function refusedWithin(base, id, refused, what) {
  const t0 = Date.now();
  const seen = [];
  for (;;) {
    const res = await publish(base, id);
    if (refused(res)) return Date.now() - t0;
    seen.push(res.status);
    if (Date.now() - t0 > SEEN_WITHIN_MS) {
      assert.fail(`${what}: still accepted after ${Date.now() - t0} ms (answers ${JSON.stringify(seen.slice(-10))})`);
    }
    await sleep(20);
  }
}

async function cacheMetrics(base) {
  const res = await call(base, 'GET', '/api/metrics');
  assert.equal(res.status, 200, describe(res));
  return {
    hits: metricValue(res.text, 'mtm_api_tenant_cache_lookups_total', { result: 'hit' }),
    misses: metricValue(res.text, 'mtm_api_tenant_cache_lookups_total', { result: 'miss' }),
    live: metricValue(res.text, 'mtm_api_tenant_cache_live'),
  };
}

test('repeated publishes to one tenant are answered from the cache (hits counted in /api/metrics)', async () => {
  const id = await createTenant();
  const before = await cacheMetrics(stack.baseUrl);
  assert.equal(before.live, 1, 'the tenant watcher listens once the stack is ready');
  for (let i = 0; i < 20; i++) assert.equal((await publish(stack.baseUrl, id, i)).status, 202);
  const after = await cacheMetrics(stack.baseUrl);
  // One miss loads the tenant; the other 19 are hits (other requests of
  // the suite may add misses, never hits for this tenant).
  assert.ok(after.hits - before.hits >= 19, `hits ${before.hits} -> ${after.hits}`);
});

test('a rate limit set through one responder process binds publishes through the other at once', async () => {
  const id = await createTenant();
  // Both processes hold the tenant (no limit) in their caches.
  assert.equal((await publish(stack.baseUrl, id)).status, 202);
  assert.equal((await publish(fe2.baseUrl, id)).status, 202);
  const res = await call(stack.baseUrl, 'PUT', `/api/tenants/${id}/config/rate_limit`, { json: { rate: 1, burst: 1 } });
  assert.equal(res.status, 200, describe(res));
  const ms = await refusedWithin(fe2.baseUrl, id, (r) => r.status === 429, 'the other process after PUT rate_limit');
  assert.ok(ms < SEEN_WITHIN_MS);
});

test('a tenant deleted through one responder process is refused by the other at once (409 or 404, never 202)', async () => {
  const id = await createTenant();
  assert.equal((await publish(fe2.baseUrl, id)).status, 202);
  const del = await call(stack.baseUrl, 'DELETE', `/api/tenants/${id}`);
  assert.equal(del.status, 202, describe(del));
  // The process that took the DELETE refuses on its very next request.
  const own = await publish(stack.baseUrl, id);
  assert.ok(own.status === 409 || own.status === 404, `same process, right after DELETE: ${describe(own)}`);
  await refusedWithin(fe2.baseUrl, id, (r) => r.status === 409 || r.status === 404, 'the other process after DELETE');
});

test('a change made in SQL behind the API is seen at once (NOTIFY)', async () => {
  const id = await createTenant();
  assert.equal((await publish(stack.baseUrl, id)).status, 202);
  await stack.psql(`UPDATE tenants SET publish_rate = 1, publish_burst = 1 WHERE id = '${id}'`);
  await refusedWithin(stack.baseUrl, id, (r) => r.status === 429, 'after UPDATE tenants in SQL');
});

test('when the watcher loses its connection the cache is not trusted; once it listens again, changes made meanwhile are seen', async () => {
  const id = await createTenant();
  assert.equal((await publish(stack.baseUrl, id)).status, 202);
  assert.equal((await publish(fe2.baseUrl, id)).status, 202);
  // The watchers' connections only ever run LISTEN (consumerd's also runs
  // its heartbeat, so its last statement is rarely the LISTEN).
  const killed = Number(await stack.psql(`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
    WHERE query = 'LISTEN mtm_tenants' AND pid <> pg_backend_pid() AND backend_type = 'client backend'`));
  assert.ok(killed >= 2, `expected the two responders' watchers among the LISTEN connections, terminated ${killed}`);
  await stack.psql(`UPDATE tenants SET publish_rate = 1, publish_burst = 1 WHERE id = '${id}'`);
  await refusedWithin(stack.baseUrl, id, (r) => r.status === 429, 'stack, watcher reconnecting');
  await refusedWithin(fe2.baseUrl, id, (r) => r.status === 429, 'fe2, watcher reconnecting');
  for (const base of [stack.baseUrl, fe2.baseUrl]) {
    const t0 = Date.now();
    while ((await cacheMetrics(base)).live !== 1) {
      assert.ok(Date.now() - t0 < 10000, `${base}: the watcher did not listen again within 10 s`);
      await sleep(100);
    }
  }
  // Listening again, the cache serves and still sees changes.
  const hitsBefore = (await cacheMetrics(stack.baseUrl)).hits;
  await stack.psql(`UPDATE tenants SET publish_rate = NULL, publish_burst = NULL WHERE id = '${id}'`);
  const t0 = Date.now();
  let res;
  while ((res = await publish(stack.baseUrl, id)).status !== 202) {
    assert.ok(Date.now() - t0 < SEEN_WITHIN_MS, `the lifted limit was not seen within ${SEEN_WITHIN_MS} ms: ${describe(res)}`);
    await sleep(50);
  }
  for (let i = 0; i < 5; i++) assert.equal((await publish(stack.baseUrl, id)).status, 202);
  assert.ok((await cacheMetrics(stack.baseUrl)).hits > hitsBefore, 'the cache serves again after reconnecting');
});
