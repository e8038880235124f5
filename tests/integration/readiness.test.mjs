// GET /api/ready follows the real state of PostgreSQL, RabbitMQ and
// consumerd's heartbeat, and recovers by itself (nothing of ours restarted
// by hand) when a dependency comes back.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack } from '../harness/stack.mjs';
import { request, assertProblem, describe, pollStatus, namesDown, checkOk } from '../harness/http.mjs';

const DOWN_WITHIN_MS = 5000; // spec: ready turns 503 within 5 s of an outage
const POLL_SLACK_MS = 500; // one poll interval plus a request
const HEARTBEAT_MAX_AGE_S = 5; // MTM_HEARTBEAT_MAX_AGE default
const RECOVER_WITHIN_MS = 30000; // reconnect with capped backoff

let stack;
let url;

let adminToken; // taken while everything is up: the tests below stop the database

before(async () => {
  stack = await startStack();
  url = stack.baseUrl;
  adminToken = await stack.adminToken();
});

after(async () => {
  if (stack) await stack.stop();
});

const logs = () => stack.describeLogs(['consumerd', 'mtm-api']);

/** The current run (pid) of each of our long-running processes. */
function ourPids() {
  const out = {};
  for (const n of ['mtm-api', 'consumerd', 'lighttpd']) out[n] = stack.proc(n).pid;
  return out;
}

function assertNoneRestarted(before_, what) {
  for (const [n, pid] of Object.entries(before_)) {
    const p = stack.proc(n);
    p.assertRunning(`to survive ${what}`);
    assert.equal(p.pid, pid, `${n} was restarted during ${what}`);
  }
}

/** Common checks on a 503 from /api/ready that must name `dep`. */
async function check503(t, res, dep) {
  assertProblem(res, 503);
  assert.ok(namesDown(res.json, dep), `503 must name "${dep}" (in detail or as a failing entry of checks): ${describe(res)}`);
  await t.test('the 503 carries Retry-After', () => {
    assert.ok(res.headers.get('retry-after'), `Retry-After missing: ${describe(res)}`);
  });
  await t.test('GET /api/health stays 200 meanwhile (liveness)', async () => {
    const h = await request(url, 'GET', '/api/health', { timeoutMs: 3000 });
    assert.equal(h.status, 200, describe(h));
  });
}

test('GET /api/ready is 200 when everything is up (polled up to 20 s)', async () => {
  const res = await pollStatus(url, '/api/ready', 200, { timeoutMs: 20000, intervalMs: 250, onTimeout: logs });
  assert.match(res.headers.get('content-type') || '', /^application\/json\b/i, describe(res));
});

test(`consumerd killed: ready turns 503 naming consumerd once the heartbeat is older than ${HEARTBEAT_MAX_AGE_S} s, 200 again after a restart`, async (t) => {
  await pollStatus(url, '/api/ready', 200, { timeoutMs: 20000, onTimeout: logs });
  const r = await stack.killConsumerd('SIGKILL');
  assert.equal(r.signal, 'SIGKILL');
  try {
    const down = await pollStatus(url, '/api/ready', 503, {
      timeoutMs: HEARTBEAT_MAX_AGE_S * 1000 + 3000,
      accept: (res) => namesDown(res.json, 'consumerd'),
      onTimeout: logs,
    });
    await check503(t, down, 'consumerd');
    await t.test('postgres and rabbitmq are not reported down', () => {
      assert.notEqual(checkOk(down.json, 'postgres'), false, describe(down));
      assert.notEqual(checkOk(down.json, 'rabbitmq'), false, describe(down));
    });
  } finally {
    await stack.startConsumerd();
  }
  const up = await pollStatus(url, '/api/ready', 200, { timeoutMs: 20000, onTimeout: logs });
  t.diagnostic(`ready again ${up.elapsed} ms after consumerd was restarted`);
});

for (const dep of ['rabbitmq', 'postgres']) {
  test(`${dep} stopped: ready turns 503 naming ${dep} within 5 s, and 200 again after it is started, with nothing of ours restarted`, async (t) => {
    await pollStatus(url, '/api/ready', 200, { timeoutMs: 20000, onTimeout: logs });
    const token = await stack.adminToken(); // logging in needs the database
    const pids = ourPids();
    if (dep === 'rabbitmq') await stack.stopRabbit(); else await stack.stopPostgres();
    let down;
    try {
      down = await pollStatus(url, '/api/ready', 503, {
        timeoutMs: DOWN_WITHIN_MS + POLL_SLACK_MS,
        intervalMs: 200,
        accept: (res) => namesDown(res.json, dep),
        onTimeout: logs,
      });
      t.diagnostic(`503 naming ${dep} after ${down.elapsed} ms`);
      await check503(t, down, dep);
      if (dep === 'postgres') {
        // A database outage is the client's cue to retry (503 with
        // Retry-After), not a failure of ours (500): docs/architecture.md.
        await t.test('an ordinary route answers 503 "the database is unavailable" with Retry-After, fast', async () => {
          const res = await request(url, 'GET', '/api/tenants', { headers: { Authorization: `Bearer ${token}` }, timeoutMs: 5000 });
          assertProblem(res, 503);
          assert.match(res.json.detail, /database is unavailable/, describe(res));
          assert.match(res.headers.get('retry-after') || '', /^[1-9]\d*$/, `Retry-After: ${describe(res)}`);
          assert.ok(res.ms < 3000, `the 503 took ${res.ms} ms`);
        });
      }
      if (dep === 'rabbitmq') {
        await t.test('postgres is not reported down', () => {
          assert.notEqual(checkOk(down.json, 'postgres'), false, describe(down));
        });
      }
    } finally {
      if (dep === 'rabbitmq') await stack.startRabbit(); else await stack.startPostgres();
    }
    const up = await pollStatus(url, '/api/ready', 200, { timeoutMs: RECOVER_WITHIN_MS, intervalMs: 250, onTimeout: logs });
    t.diagnostic(`ready again ${up.elapsed} ms after ${dep} was started`);
    assertNoneRestarted(pids, `the ${dep} outage`);
    if (dep === 'postgres') {
      // Every request thread still holds a connection the restarted server
      // closed; each notices before sending (lib/pg.c) and reconnects, so
      // no request fails on one.
      const auth = { headers: { Authorization: `Bearer ${adminToken}` } };
      const all = await Promise.all(Array.from({ length: 32 }, () => request(url, 'GET', '/api/tenants', auth)));
      assert.deepEqual(all.filter((r) => r.status !== 200).map(describe).slice(0, 3), [], 'no request fails on a connection the restart closed');
    }
  });
}

// A server that is alive to TCP but does not answer (stopped, wedged): the
// kernel keeps acknowledging, so neither connect nor write timeouts fire.
// Every statement has a deadline (lib/pg.h, MTM_PG_ANSWER_MS, 5 s): a request
// that needs the database answers 503 by then, and the connection it
// dropped is made again once the server answers.
test('PostgreSQL stopped (SIGSTOP): a request that needs it answers 503 with Retry-After within the 5 s statement deadline; after SIGCONT, 200 again', async (t) => {
  const auth = { headers: { Authorization: `Bearer ${adminToken}` } };
  const pids = ourPids();
  assert.equal((await request(url, 'GET', '/api/tenants', auth)).status, 200, 'the route works before');
  // Every request thread holds an open connection (32 at once, a few
  // rounds), so the request below meets an open connection to a server
  // that does not answer, not a connect attempt (bounded at 2 s anyway).
  for (let round = 0; round < 3; round++) {
    const all = await Promise.all(Array.from({ length: 32 }, () => request(url, 'GET', '/api/tenants', auth)));
    assert.deepEqual(all.filter((r) => r.status !== 200).map(describe), [], 'warm-up');
  }
  assert.ok(stack.signalPostgres('SIGSTOP').length > 0, 'postgres stopped');
  let res;
  try {
    res = await request(url, 'GET', '/api/tenants', { ...auth, timeoutMs: 15000 });
  } finally {
    stack.signalPostgres('SIGCONT');
  }
  t.diagnostic(`answered ${res.status} after ${res.ms} ms`);
  assertProblem(res, 503);
  assert.match(res.headers.get('retry-after') || '', /^[1-9]\d*$/, `Retry-After: ${describe(res)}`);
  assert.ok(res.ms >= 4000 && res.ms < 7000, `answered by the deadline, not before it and not when the server woke: ${res.ms} ms`);
  const woke = Date.now();
  let last;
  while ((last = await request(url, 'GET', '/api/tenants', { ...auth, timeoutMs: 7000 })).status !== 200) {
    assert.ok(Date.now() - woke < RECOVER_WITHIN_MS, `200 again within ${RECOVER_WITHIN_MS} ms of SIGCONT; last: ${describe(last)}\n${logs()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  t.diagnostic(`200 again ${Date.now() - woke} ms after SIGCONT`);
  assertNoneRestarted(pids, 'a stopped database');
});
