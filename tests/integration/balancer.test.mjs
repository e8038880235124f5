// Two front ends (lighttpd + mtm-api pairs) behind haproxy with the
// shipped deploy/haproxy/haproxy.cfg: requests are spread over both, and
// when one pair's responder dies the balancer stops sending to it within
// its health checks (GET /api/health every 500 ms, two failures); what a
// client sees meanwhile is a 503 with Retry-After from the dying pair's
// lighttpd, never a lost or doubled message. (What the pairs must share,
// the publish rate limit and the tenant cache, is tested in
// ratelimit.test.mjs and tenantcache.test.mjs.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack } from '../harness/stack.mjs';
import { startFrontend } from '../harness/frontend.mjs';
import { startBalancer } from '../harness/balancer.mjs';
import { makeApi, describe, assertStoredExactlyOnce, metricValue } from '../harness/api.mjs';
import { request } from '../harness/http.mjs';
import { sleep } from '../harness/util.mjs';

let stack;
let fe;
let lb;
let token;

before(async () => {
  stack = await startStack();
  await stack.waitReady();
  token = await stack.adminToken();
  fe = await startFrontend(stack, 'fe2');
  lb = await startBalancer(stack, [stack.baseUrl, fe.baseUrl]);
});

after(async () => {
  if (fe) await fe.stop({ check: false });
  if (stack) await stack.stop();
});

const viaLb = () => makeApi({ ...stack, baseUrl: lb.baseUrl }, { token });

/** Publish calls one front end's responder made (its own /api/metrics). */
async function publishCalls(baseUrl) {
  const res = await request(baseUrl, 'GET', '/api/metrics', { token });
  assert.equal(res.status, 200, describe(res));
  return metricValue(res.text, 'mtm_api_publisher_calls_total');
}

test('haproxy spreads publishes over both front ends; when one responder dies, it is taken out within its health checks and no accepted message is lost or stored twice', async (t) => {
  const api = viaLb();
  const tenant = (await api.createTenant('lb', 2)).id;
  const accepted = [];
  const c0 = [await publishCalls(stack.baseUrl), await publishCalls(fe.baseUrl)];
  for (let i = 0; i < 40; i++) {
    const res = await api.publish(tenant, { payload: { i } });
    assert.equal(res.status, 202, describe(res));
    accepted.push(res.json.id);
  }
  const c1 = [await publishCalls(stack.baseUrl), await publishCalls(fe.baseUrl)];
  const served = [c1[0] - c0[0], c1[1] - c0[1]];
  t.diagnostic(`publishes served by the first / second front end: ${served.join(' / ')}`);
  assert.ok(served[0] >= 10 && served[1] >= 10, `round robin: both front ends serve (${served.join(' / ')})`);

  await stack.procs['fe2-api'].stop({ signal: 'SIGKILL', timeoutMs: 5000 });
  const killedAt = Date.now();
  const refused = [];
  let lastRefusalMs = 0;
  while (Date.now() - killedAt < 5000) {
    const res = await api.publish(tenant, { payload: { after: Date.now() - killedAt } });
    if (res.status === 202) {
      accepted.push(res.json.id);
    } else {
      refused.push(res);
      lastRefusalMs = Date.now() - killedAt;
    }
    await sleep(10);
  }
  t.diagnostic(`${refused.length} refused, the last ${lastRefusalMs} ms after the kill`);
  for (const res of refused) {
    assert.equal(res.status, 503, `only 503 while the pair is being taken out: ${describe(res)}`);
    assert.ok(res.headers.get('retry-after'), `503 with Retry-After: ${describe(res)}`);
  }
  assert.ok(lastRefusalMs < 3000, `haproxy stops sending to the dead pair within 3 s (last refusal ${lastRefusalMs} ms after)`);
  await assertStoredExactlyOnce(stack, tenant, accepted, { what: 'through haproxy: ' });
});
