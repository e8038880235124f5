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
import { describe } from '../harness/http.mjs';
import { makeApi, metricValue } from '../harness/api.mjs';
import { waitFor } from '../harness/util.mjs';

const SEEN_WITHIN_MS = 2000; // well under the 5 s an entry may live

let stack;
let fe2;
let one; // the stack's own lighttpd + mtm-api
let two; // a second lighttpd + mtm-api on the same servers

before(async () => {
  stack = await startStack();
  const token = await stack.adminToken();
  await stack.waitReady({ timeoutMs: 30000 });
  fe2 = await startFrontend(stack, 'fe2');
  one = makeApi(stack, { token });
  two = makeApi(fe2, { token }); // Api needs only baseUrl of what it is given
});

after(async () => {
  if (fe2) await fe2.stop();
  if (stack) await stack.stop();
});

const rand = () => crypto.randomBytes(4).toString('hex');

const createTenant = async () => (await one.createTenant(`tc-${rand()}`)).id;

const publish = (api, id, payload = 1) => api.publish(id, { payload });

const setLimit = (api, id, limit) => api.req('PUT', `/api/tenants/${id}/config/rate_limit`, { json: limit });

/** Publishes through api until one answer passes `refused`; the ms it took, or fails after SEEN_WITHIN_MS. */
async function refusedWithin(api, id, refused, what) {
  const t0 = Date.now();
  const seen = [];
  await waitFor(`${what}: a publish refused`, async () => {
    const res = await publish(api, id);
    if (refused(res)) return true;
    seen.push(res.status);
    return false;
  }, { timeoutMs: SEEN_WITHIN_MS, intervalMs: 20, describe: () => `  still accepted; answers ${JSON.stringify(seen.slice(-10))}` });
  return Date.now() - t0;
}

async function cacheMetrics(api) {
  const res = await api.get('/api/metrics');
  assert.equal(res.status, 200, describe(res));
  return {
    hits: metricValue(res.text, 'mtm_api_tenant_cache_lookups_total', { result: 'hit' }),
    misses: metricValue(res.text, 'mtm_api_tenant_cache_lookups_total', { result: 'miss' }),
    live: metricValue(res.text, 'mtm_api_tenant_cache_live'),
  };
}

test('repeated publishes to one tenant are answered from the cache (hits counted in /api/metrics)', async () => {
  const id = await createTenant();
  const before = await cacheMetrics(one);
  assert.equal(before.live, 1, 'the tenant watcher listens once the stack is ready');
  for (let i = 0; i < 20; i++) assert.equal((await publish(one, id, i)).status, 202);
  const after = await cacheMetrics(one);
  // One miss loads the tenant; the other 19 are hits (other requests of
  // the suite may add misses, never hits for this tenant).
  assert.ok(after.hits - before.hits >= 19, `hits ${before.hits} -> ${after.hits}`);
});

test('a rate limit set through one responder process binds publishes through the other at once', async () => {
  const id = await createTenant();
  // Both processes hold the tenant (no limit) in their caches.
  assert.equal((await publish(one, id)).status, 202);
  assert.equal((await publish(two, id)).status, 202);
  const res = await setLimit(one, id, { rate: 1, burst: 1 });
  assert.equal(res.status, 200, describe(res));
  const ms = await refusedWithin(two, id, (r) => r.status === 429, 'the other process after PUT rate_limit');
  assert.ok(ms < SEEN_WITHIN_MS);
});

test('a tenant deleted through one responder process is refused by the other at once (409 or 404, never 202)', async () => {
  const id = await createTenant();
  assert.equal((await publish(two, id)).status, 202);
  const del = await one.deleteTenant(id);
  assert.equal(del.status, 202, describe(del));
  // The process that took the DELETE refuses on its very next request.
  const own = await publish(one, id);
  assert.ok(own.status === 409 || own.status === 404, `same process, right after DELETE: ${describe(own)}`);
  await refusedWithin(two, id, (r) => r.status === 409 || r.status === 404, 'the other process after DELETE');
});

test('a deleted tenant leaves the publish counts of the process that took the DELETE (no series per tenant ever made)', async () => {
  const id = await createTenant();
  for (let i = 0; i < 3; i++) assert.equal((await publish(one, id, i)).status, 202);
  const scrape = async () => {
    const res = await one.get('/api/metrics');
    assert.equal(res.status, 200, describe(res));
    return metricValue(res.text, 'mtm_messages_published_total', { tenant: id });
  };
  assert.equal(await scrape(), 3);
  const del = await one.deleteTenant(id);
  assert.equal(del.status, 202, describe(del));
  assert.equal(await scrape(), undefined, 'the deleted tenant\'s series is gone at once');
});

test('a change made in SQL behind the API is seen at once (NOTIFY)', async () => {
  const id = await createTenant();
  assert.equal((await publish(one, id)).status, 202);
  await stack.psql(`UPDATE tenants SET publish_rate = 1, publish_burst = 1 WHERE id = '${id}'`);
  await refusedWithin(one, id, (r) => r.status === 429, 'after UPDATE tenants in SQL');
});

test('when the watcher loses its connection the cache is not trusted; once it listens again, changes made meanwhile are seen', async () => {
  const id = await createTenant();
  assert.equal((await publish(one, id)).status, 202);
  assert.equal((await publish(two, id)).status, 202);
  // The watchers' connections only ever run LISTEN (consumerd's also runs
  // its heartbeat, so its last statement is rarely the LISTEN).
  const killed = Number(await stack.psql(`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
    WHERE query = 'LISTEN mtm_tenants' AND pid <> pg_backend_pid() AND backend_type = 'client backend'`));
  assert.ok(killed >= 2, `expected the two responders' watchers among the LISTEN connections, terminated ${killed}`);
  await stack.psql(`UPDATE tenants SET publish_rate = 1, publish_burst = 1 WHERE id = '${id}'`);
  await refusedWithin(one, id, (r) => r.status === 429, 'stack, watcher reconnecting');
  await refusedWithin(two, id, (r) => r.status === 429, 'fe2, watcher reconnecting');
  for (const [name, api] of [['stack', one], ['fe2', two]]) {
    await waitFor(`${name}: the watcher to listen again`, async () => (await cacheMetrics(api)).live === 1, { timeoutMs: 10000 });
  }
  // Listening again, the cache serves and still sees changes.
  const hitsBefore = (await cacheMetrics(one)).hits;
  await stack.psql(`UPDATE tenants SET publish_rate = NULL, publish_burst = NULL WHERE id = '${id}'`);
  let res;
  await waitFor('the lifted limit to be seen (a publish answered 202)', async () => (res = await publish(one, id)).status === 202, {
    timeoutMs: SEEN_WITHIN_MS, intervalMs: 50, describe: () => `  last answer: ${describe(res)}`,
  });
  for (let i = 0; i < 5; i++) assert.equal((await publish(one, id)).status, 202);
  assert.ok((await cacheMetrics(one)).hits > hitsBefore, 'the cache serves again after reconnecting');
});
