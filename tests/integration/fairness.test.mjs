// HTTP fairness: one tenant flooding the API cannot take every request
// thread of a responder. A tenant holds MTM_TENANT_THREADS threads of a
// process at once (default half of MTM_API_THREADS), more only while
// another thread stays free, while other tenants are asking; past that it
// is answered 429 with Retry-After at once, and the other tenants get the
// threads it frees. A tenant alone is never refused. (How fast B stays is a figure of `make bench`, 7. in
// bench/pipeline.mjs; here: who is refused and who is not.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack } from '../harness/stack.mjs';
import { makeApi, describe } from '../harness/api.mjs';
import { assertProblem } from '../harness/http.mjs';
import { sleep } from '../harness/util.mjs';

const THREADS = 4;
let stack;
let api;

before(async () => {
  stack = await startStack({ env: { MTM_API_THREADS: String(THREADS) } });
  await stack.waitReady();
  api = makeApi(stack, { token: await stack.adminToken() });
});

after(async () => {
  if (stack) await stack.stop();
});

/** Publishes to `tenant` in a closed loop over `conns` connections until stop(); collects the answers. */
function flood(tenant, conns) {
  const answers = [];
  let stopping = false;
  const loops = Array.from({ length: conns }, async () => {
    while (!stopping) {
      const res = await api.publish(tenant, { payload: { flood: true } }, { timeoutMs: 10000 });
      answers.push(res);
    }
  });
  return { answers, async stop() { stopping = true; await Promise.all(loops); return answers; } };
}

test(`a tenant alone flooding over 32 connections is never refused: with nobody else asking, it may hold all ${THREADS} threads`, async (t) => {
  const lone = (await api.createTenant('fair-alone', 1)).id;
  const fl = flood(lone, 32);
  await sleep(2000);
  const answers = await fl.stop();
  t.diagnostic(`${answers.length} answers`);
  assert.ok(answers.length > 100, `the flood kept every thread busy (${answers.length} answers)`);
  assert.deepEqual(answers.filter((r) => r.status !== 202).map(describe).slice(0, 3), [], 'every publish of a lone tenant is accepted');
});

test(`a tenant flooding over 32 connections holds its share of ${THREADS} threads once they are all busy: its excess is answered 429 with Retry-After; another tenant is never refused`, async (t) => {
  const a = (await api.createTenant('fair-a', 1)).id;
  const b = (await api.createTenant('fair-b', 1)).id;
  const fa = flood(a, 32);
  await sleep(500); // the flood is under way
  const bAnswers = [];
  for (let i = 0; i < 60; i++) {
    bAnswers.push(await api.publish(b, { payload: { i } }, { timeoutMs: 10000 }));
    await sleep(20); // about 50 messages/s
  }
  const aAnswers = await fa.stop();
  const count = (list) => list.reduce((m, r) => ({ ...m, [r.status]: (m[r.status] || 0) + 1 }), {});
  t.diagnostic(`A: ${JSON.stringify(count(aAnswers))}; B: ${JSON.stringify(count(bAnswers))}`);

  const bRefused = bAnswers.filter((r) => r.status !== 202);
  assert.deepEqual(bRefused.map(describe).slice(0, 3), [], 'none of B\'s publishes is refused while A floods');
  const limited = aAnswers.filter((r) => r.status === 429);
  assert.ok(limited.length > 0, `A, holding more than its share, gets 429s (${JSON.stringify(count(aAnswers))})`);
  assert.ok(aAnswers.some((r) => r.status === 202), 'A is slowed, not shut out: it keeps its share');
  assert.deepEqual(aAnswers.filter((r) => r.status !== 202 && r.status !== 429).map(describe).slice(0, 3), [], 'A sees only 202 or 429');
  const first = limited[0];
  assertProblem(first, 429);
  assert.equal(first.headers.get('retry-after'), '1', describe(first));
  assert.match(first.json.detail, new RegExp(`holds [${THREADS / 2}-${THREADS - 1}] of this responder's ${THREADS} request threads`), describe(first));
});
