// The responder's tenant cache (cgi-bin/tenantcache.h): a publish checks
// the tenant (exists, not being deleted, publish limit) and its tenant
// token (not revoked) without a database round trip, and every change must
// still be seen at once — by this
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
import { sleep, waitFor } from '../harness/util.mjs';

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
    tokenHits: metricValue(res.text, 'mtm_api_token_cache_lookups_total', { result: 'hit' }),
    tokenMisses: metricValue(res.text, 'mtm_api_token_cache_lookups_total', { result: 'miss' }),
  };
}

/** A new tenant and a token of its own: {id, jti, one, two} (the two front ends with that token). */
async function tenantWithToken() {
  const id = await createTenant();
  const res = await one.req('POST', `/api/tenants/${id}/tokens`, { json: {} });
  assert.equal(res.status, 201, describe(res));
  const { token, jti } = res.json;
  return { id, jti, one: makeApi(stack, { token }), two: makeApi(fe2, { token }) };
}

const unauthorized = (r) => r.status === 401;

/**
 * One publish, then a pause: the NOTIFY of the tenant's creation can reach
 * the watcher after that first publish filled the cache (on a loaded
 * machine), and forgets the tenant once more.
 */
async function settle(api, id) {
  assert.equal((await publish(api, id)).status, 202);
  await sleep(1000);
}

test('repeated publishes to one tenant are answered from the cache (hits counted in /api/metrics)', async () => {
  const id = await createTenant();
  await settle(one, id);
  const before = await cacheMetrics(one);
  assert.equal(before.live, 1, 'the tenant watcher listens once the stack is ready');
  for (let i = 0; i < 20; i++) assert.equal((await publish(one, id, i)).status, 202);
  const after = await cacheMetrics(one);
  // Loaded by settle(): every one is a hit (other requests of the file
  // may add misses, never hits for this tenant).
  assert.ok(after.hits - before.hits >= 19, `hits ${before.hits} -> ${after.hits}`);
});

test('a tenant token is checked in the database once, then from the cache (token hits counted in /api/metrics)', async () => {
  const tt = await tenantWithToken();
  const before = await cacheMetrics(one);
  await settle(tt.one, tt.id); // its check reads the database
  const mid = await cacheMetrics(one);
  assert.ok(mid.tokenMisses - before.tokenMisses >= 1, `token misses ${before.tokenMisses} -> ${mid.tokenMisses}`);
  for (let i = 0; i < 20; i++) assert.equal((await publish(tt.one, tt.id, i)).status, 202);
  const after = await cacheMetrics(one);
  assert.ok(after.tokenHits - mid.tokenHits >= 19, `token hits ${mid.tokenHits} -> ${after.tokenHits}`);
});

test('a tenant token revoked through one responder process is refused by both at once (401, never 202)', async () => {
  const tt = await tenantWithToken();
  // Both processes hold the token as valid in their caches.
  for (let i = 0; i < 3; i++) {
    assert.equal((await publish(tt.one, tt.id)).status, 202);
    assert.equal((await publish(tt.two, tt.id)).status, 202);
  }
  const res = await one.req('DELETE', `/api/tenants/${tt.id}/tokens/${tt.jti}`);
  assert.equal(res.status, 204, describe(res));
  // The process that took the revocation refuses on its very next request.
  const own = await publish(tt.one, tt.id);
  assert.equal(own.status, 401, `same process, right after the revocation: ${describe(own)}`);
  await refusedWithin(tt.two, tt.id, unauthorized, 'the other process after DELETE .../tokens/{jti}');
  // The admin's publishes to the tenant go on: only the token was revoked.
  assert.equal((await publish(two, tt.id)).status, 202);
});

test('a tenant token revoked in SQL behind the API is refused at once (NOTIFY on mtm_tokens)', async () => {
  const tt = await tenantWithToken();
  for (let i = 0; i < 3; i++) assert.equal((await publish(tt.one, tt.id)).status, 202);
  await stack.psql(`UPDATE tenant_tokens SET revoked_at = now() WHERE jti = '${tt.jti}'`);
  await refusedWithin(tt.one, tt.id, unauthorized, 'after UPDATE tenant_tokens in SQL');
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
  // The watchers' connections only ever run LISTEN, mtm_tokens last (only
  // the responders listen on it).
  const killed = Number(await stack.psql(`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
    WHERE query = 'LISTEN mtm_tokens' AND pid <> pg_backend_pid() AND backend_type = 'client backend'`));
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
