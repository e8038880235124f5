// consumerd's per-tenant worker pools: they follow the tenants table (create,
// resize, delete) under load, come back from the database alone after a
// SIGKILL, apply changes made while consumerd was cut off from PostgreSQL,
// and leave no queue, partition, thread or connection behind after many
// tenants come and go. Every message answered 202 is stored exactly once.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { startStack } from '../harness/stack.mjs';
import { sleep, waitFor } from '../harness/util.mjs';
import {
  makeApi, describe, APPLY_WITHIN_MS, queueNames, partitionName, rowExists, partitionState,
  partitionCount, partitionLikeCount, assertStoredExactlyOnce, startPublisher, metricValue,
  storedCount,
} from '../harness/api.mjs';

const DB_POOL_SIZE = 8; // MTM_DB_POOL_SIZE default: consumerd's bounded pool of worker connections
const API_THREADS = 16; // MTM_API_THREADS default: one connection per request thread at most
const API_CONNS = API_THREADS + 1; // and the tenant watcher's LISTEN connection
const FIRST_START_MS = 5000; // a new tenant's pool: notification, thread start, AMQP login (ASan build)

let stack;
let api;

before(async () => {
  stack = await startStack();
  await stack.waitReady();
  api = makeApi(stack, { token: await stack.adminToken() });
});

after(async () => {
  if (stack) await stack.stop();
});

const logs = () => stack.describeLogs(['consumerd', 'mtm-api']);

/** consumerd's log so far, one parsed JSON object per line. */
const consumerdLog = () => stack.logs('consumerd').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));

function metricsText() {
  try { return fs.readFileSync(stack.consumerdMetricsFile(), 'utf8'); } catch { return ''; }
}

/** waitFor with a probe resolving {ok, describe}; resolves the elapsed ms. */
async function waitUntil(what, probe, { timeoutMs = 5000, intervalMs = 100 } = {}) {
  const start = Date.now();
  let last;
  await waitFor(what, async () => (last = await probe()).ok, {
    timeoutMs, intervalMs, describe: () => `  last: ${last && last.describe}\n${logs()}`,
  });
  return Date.now() - start;
}

/** PostgreSQL backends of role mtm, split by owner (consumerd, mtm-api, mtm-events, other). */
async function mtmBackends() {
  const rows = (await stack.psql(`SELECT pid, client_port FROM pg_stat_activity WHERE usename = 'mtm' AND pid <> pg_backend_pid()`))
    .split('\n').filter(Boolean).map((l) => { const [pid, port] = l.split('|'); return { pid: Number(pid), port: Number(port) }; });
  const cPorts = new Set(stack.tcpSockets('consumerd').filter((s) => s.remotePort === stack.pgPort).map((s) => s.localPort));
  const aPorts = new Set(stack.tcpSockets('mtm-api').filter((s) => s.remotePort === stack.pgPort).map((s) => s.localPort));
  const ePorts = new Set(stack.tcpSockets('mtm-events').filter((s) => s.remotePort === stack.pgPort).map((s) => s.localPort));
  const out = { total: rows.length, consumerd: [], api: [], events: [], other: [] };
  for (const r of rows) {
    if (cPorts.has(r.port)) out.consumerd.push(r.pid);
    else if (aPorts.has(r.port)) out.api.push(r.pid);
    else if (ePorts.has(r.port)) out.events.push(r.pid);
    else out.other.push(r.pid);
  }
  return out;
}

const amqpSockets = (name = 'consumerd') => stack.tcpSockets(name).filter((s) => s.remotePort === stack.amqpPort).length;

async function deleteAndWait(ids) {
  for (const id of ids) {
    const r = await api.deleteTenant(id);
    assert.ok(r.status === 202 || r.status === 404, `DELETE: ${describe(r)}`);
  }
  for (const id of ids) await api.waitGone(id, { timeoutMs: 30000, describeExtra: logs });
}

// ------------------------------------------------------------------ lifecycle

test('lifecycle: create -> queues in the broker -> workers running (API, threads, metrics) -> delete -> queues, partition, row, threads gone', async (t) => {
  const threads0 = stack.threadCount();
  const tn = await api.createTenant('lifecycle', 4);
  const queues = await stack.listQueues();
  for (const q of queueNames(tn.id)) assert.ok(queues.has(q), `queue ${q} must exist after 201; broker has ${JSON.stringify([...queues.keys()])}`);

  const up = await api.waitWorkers(tn.id, 4, { timeoutMs: FIRST_START_MS, describeExtra: logs });
  t.diagnostic(`workers.running == 4 seen ${up} ms after the queue check`);
  // consumerd makes the partition before it starts the pool (sql/0022_partition_attach.sql)
  assert.deepEqual(await partitionState(stack, tn.id), { exists: true, attached: true }, `partition ${partitionName(tn.id)} once workers run`);
  await waitUntil(`consumerd threads == ${threads0} + 4`, () => {
    const n = stack.threadCount();
    return { ok: n === threads0 + 4, describe: `${n} threads (before the tenant: ${threads0})` };
  }, { timeoutMs: 2000 });
  await waitUntil('mtm_workers_running{tenant} == 4 in consumerd textfile', () => {
    const v = metricValue(metricsText(), 'mtm_workers_running', { tenant: tn.id, consumerd: 'consumerd' });
    return { ok: v === 4, describe: `mtm_workers_running{tenant="${tn.id}"} = ${v}` };
  }, { timeoutMs: 2500 });

  const d = await api.deleteTenant(tn.id);
  assert.equal(d.status, 202, describe(d));
  const gone = await api.waitGone(tn.id, { describeExtra: logs });
  t.diagnostic(`GET 404 ${gone} ms after DELETE`);
  const after_ = await stack.listQueues();
  for (const q of queueNames(tn.id)) assert.equal(after_.has(q), false, `queue ${q} must be deleted; broker has ${JSON.stringify([...after_.keys()])}`);
  assert.deepEqual(await partitionState(stack, tn.id), { exists: false, attached: false }, `partition ${partitionName(tn.id)}`);
  assert.equal(await rowExists(stack, tn.id), false, 'tenants row');
  await waitUntil(`consumerd threads back to ${threads0}`, () => {
    const n = stack.threadCount();
    return { ok: n === threads0, describe: `${n} threads` };
  }, { timeoutMs: 2000 });
  await waitUntil('tenant gone from consumerd textfile', () => {
    const text = metricsText();
    return { ok: !text.includes(tn.id), describe: text.split('\n').filter((l) => l.includes(tn.id)).join(' | ') };
  }, { timeoutMs: 2500 });
});

// ------------------------------------------------------------ partitions

test('a tenant created while consumerd is down: 201 with its queues and no partition; its messages are accepted; consumerd makes the partition before the pool starts and stores each once', async (t) => {
  await stack.killConsumerd('SIGTERM');
  let tn;
  try {
    tn = await api.createTenant('made-while-down', 1);
    assert.deepEqual(await partitionState(stack, tn.id), { exists: false, attached: false }, 'the create request does not make the partition');
    const sent = await api.publishBatch(tn.id, 20, 'early');
    await stack.startConsumerd();
    const up = await api.waitWorkers(tn.id, 1, { timeoutMs: FIRST_START_MS, describeExtra: logs });
    t.diagnostic(`pool running ${up} ms after consumerd started`);
    assert.deepEqual(await partitionState(stack, tn.id), { exists: true, attached: true }, `partition ${partitionName(tn.id)}`);
    await assertStoredExactlyOnce(stack, tn.id, sent, { timeoutMs: 10000 });
  } finally {
    if (!stack.procs.consumerd.running) await stack.startConsumerd();
    if (tn) await deleteAndWait([tn.id]);
  }
});

test('a partition that cannot be made holds back only its own tenant\'s pool, which starts once it can be made', async (t) => {
  await stack.killConsumerd('SIGTERM');
  let blocked, free;
  try {
    blocked = await api.createTenant('partition-blocked', 1);
    free = await api.createTenant('partition-free', 1);
    // A table of the partition's name that cannot be attached (no such columns).
    await stack.psql(`CREATE TABLE ${partitionName(blocked.id)} (x int)`, { user: 'mtm' });
    const sentBlocked = await api.publishBatch(blocked.id, 10, 'blocked');
    const sentFree = await api.publishBatch(free.id, 10, 'free');
    await stack.startConsumerd();
    await api.waitWorkers(free.id, 1, { timeoutMs: FIRST_START_MS, describeExtra: logs });
    await assertStoredExactlyOnce(stack, free.id, sentFree, { timeoutMs: 10000 });
    await sleep(1500); // several passes
    const b = await api.tenant(blocked.id);
    assert.equal(b.workers.running, 0, `no worker without a partition: ${JSON.stringify(b.workers)}`);
    assert.equal(await storedCount(stack, blocked.id), 0, 'nothing stored for the blocked tenant');
    assert.match(fs.readFileSync(stack.logFile('consumerd'), 'utf8'), /have no partition yet: their pools wait/, 'consumerd says why');

    await stack.psql(`DROP TABLE ${partitionName(blocked.id)}`, { user: 'mtm' });
    const up = await api.waitWorkers(blocked.id, 1, { timeoutMs: FIRST_START_MS, describeExtra: logs });
    t.diagnostic(`blocked pool running ${up} ms after the obstacle went`);
    assert.deepEqual(await partitionState(stack, blocked.id), { exists: true, attached: true }, `partition ${partitionName(blocked.id)}`);
    await assertStoredExactlyOnce(stack, blocked.id, sentBlocked, { timeoutMs: 10000 });
  } finally {
    if (!stack.procs.consumerd.running) await stack.startConsumerd();
    if (blocked) await stack.psql(`DROP TABLE IF EXISTS ${partitionName(blocked.id)}`, { user: 'mtm' }).catch(() => {});
    await deleteAndWait([blocked, free].filter(Boolean).map((x) => x.id));
  }
});

test('mtm_ensure_partitions makes missing partitions only within its time budget, and always reports the ones that exist', async () => {
  const ids = (await stack.psql(`SELECT gen_random_uuid() FROM generate_series(1, 3)`)).split('\n');
  const arr = `ARRAY[${ids.map((i) => `'${i}'`).join(',')}]::uuid[]`;
  const ensure = async (budgetMs) => (await stack.psql(`SELECT mtm_ensure_partitions(${arr}, ${budgetMs})`, { user: 'mtm' })).split('\n').filter(Boolean).sort();
  try {
    assert.deepEqual(await ensure(0), [], 'budget spent: none made, none reported');
    for (const id of ids) assert.deepEqual(await partitionState(stack, id), { exists: false, attached: false }, `partition of ${id}`);
    assert.deepEqual(await ensure(10000), [...ids].sort(), 'all made');
    for (const id of ids) assert.deepEqual(await partitionState(stack, id), { exists: true, attached: true }, `partition of ${id}`);
    assert.deepEqual(await ensure(0), [...ids].sort(), 'existing ones are reported without any budget');
  } finally {
    await stack.psql(ids.map((id) => `DROP TABLE IF EXISTS ${partitionName(id)};`).join('\n'), { user: 'mtm' });
  }
});

test('mtm_detach_partition_sql writes DETACH .. CONCURRENTLY for an attached partition, FINALIZE for a detach left pending, nothing once detached; mtm_drop_partition refuses an attached partition', async () => {
  const id = await stack.psql(`SELECT gen_random_uuid()`);
  const name = partitionName(id);
  const detachSql = () => stack.psql(`SELECT coalesce(mtm_detach_partition_sql('${id}'), '(none)')`, { user: 'mtm' });
  try {
    assert.equal(await detachSql(), '(none)', 'no partition: nothing to detach');
    await stack.psql(`SELECT mtm_create_partition('${id}')`, { user: 'mtm' });
    assert.equal(await detachSql(), `ALTER TABLE messages DETACH PARTITION public.${name} CONCURRENTLY`);
    await assert.rejects(stack.psql(`SELECT mtm_drop_partition('${id}')`, { user: 'mtm' }), /still attached/, 'an attached partition is not dropped');
    assert.deepEqual(await partitionState(stack, id), { exists: true, attached: true });

    // A reader keeps the detach waiting past its lock timeout: the partition
    // is left detach-pending, and the statement becomes FINALIZE.
    const reader = stack.psql(`BEGIN; SELECT count(*) FROM ${name}; SELECT pg_sleep(3); COMMIT;`);
    await waitFor('the reader holds the partition', async () => (await stack.psql(`SELECT count(*) FROM pg_locks WHERE relation = '${name}'::regclass AND granted`)) !== '0');
    await assert.rejects(stack.psql(`SET lock_timeout = '300ms';\n${await detachSql()};`, { user: 'mtm' }), /lock timeout/);
    await reader;
    assert.equal(await detachSql(), `ALTER TABLE messages DETACH PARTITION public.${name} FINALIZE`);
    await stack.psql(`${await detachSql()};`, { user: 'mtm' });
    assert.equal(await detachSql(), '(none)', 'detached: nothing left to do');
    assert.deepEqual(await partitionState(stack, id), { exists: true, attached: false });
    await stack.psql(`SELECT mtm_drop_partition('${id}')`, { user: 'mtm' });
    assert.deepEqual(await partitionState(stack, id), { exists: false, attached: false });
  } finally {
    await stack.psql(`DROP TABLE IF EXISTS ${name}`);
  }
});

test('making a partition does not lock messages against the other tenants: stores and reads go on while one is being made', async (t) => {
  const tn = await api.createTenant('beside-a-new-partition', 1);
  try {
    await api.waitWorkers(tn.id, 1, { timeoutMs: FIRST_START_MS, describeExtra: logs });
    // Another partition being made, its transaction held open for 6 s.
    let held = true;
    const hold = stack.psql(`BEGIN; SELECT mtm_create_partition(gen_random_uuid()); SELECT pg_sleep(6); ROLLBACK;`, { user: 'mtm' })
      .finally(() => { held = false; });
    try {
      await waitUntil('the partition is being made (its lock on messages held)', async () => {
        const modes = await stack.psql(`SELECT string_agg(mode, ',') FROM pg_locks WHERE relation = 'messages'::regclass AND granted AND pid <> pg_backend_pid()`);
        return { ok: modes.includes('ShareUpdateExclusiveLock'), describe: `locks on messages: ${modes}` };
      });
      const modes = await stack.psql(`SELECT string_agg(mode, ',') FROM pg_locks WHERE relation = 'messages'::regclass AND pid <> pg_backend_pid()`);
      assert.ok(!modes.includes('AccessExclusiveLock'), `no ACCESS EXCLUSIVE lock on messages: ${modes}`);
      const sent = await api.publishBatch(tn.id, 10, 'beside');
      await assertStoredExactlyOnce(stack, tn.id, sent, { timeoutMs: 4000 });
      const page = await api.get(`/api/tenants/${tn.id}/messages?limit=10`, { timeoutMs: 2000 });
      assert.equal(page.status, 200, describe(page));
      assert.ok(held, 'stored and read while the other partition was still being made');
    } finally {
      await hold;
    }
  } finally {
    await deleteAndWait([tn.id]);
  }
});

test('deleting a tenant does not lock messages against the other tenants: while a long read holds messages its partition is detached concurrently, the others store and read, and the deletion finishes after the read', async (t) => {
  const doomed = await api.createTenant('deleted-beside-a-reader', 1);
  const tn = await api.createTenant('beside-a-deleted-partition', 1);
  try {
    await api.waitWorkers(doomed.id, 1, { timeoutMs: FIRST_START_MS, describeExtra: logs });
    await api.waitWorkers(tn.id, 1, { timeoutMs: FIRST_START_MS, describeExtra: logs });
    await assertStoredExactlyOnce(stack, doomed.id, await api.publishBatch(doomed.id, 5, 'doomed'), { timeoutMs: 5000 });
    // A slow reader of every tenant's messages: its transaction holds
    // ACCESS SHARE on messages and on the partition for 8 s, longer than
    // consumerd's 2 s lock timeout for the detach.
    let held = true;
    const hold = stack.psql(`BEGIN; SELECT count(*) FROM messages; SELECT pg_sleep(8); COMMIT;`)
      .finally(() => { held = false; });
    try {
      await waitUntil('the reader holds messages', async () => {
        const n = await stack.psql(`SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE l.relation = 'messages'::regclass AND l.granted AND a.query LIKE '%pg_sleep(8)%' AND a.pid <> pg_backend_pid()`);
        return { ok: n === '1', describe: `${n} lock(s)` };
      });
      const d = await api.deleteTenant(doomed.id);
      assert.equal(d.status, 202, describe(d));
      await waitUntil('consumerd is removing the partition', async () => {
        const q = await stack.psql(`SELECT count(*) FROM pg_stat_activity WHERE (query LIKE 'ALTER TABLE messages DETACH PARTITION%' OR query LIKE '%mtm_drop_partition%') AND state = 'active' AND pid <> pg_backend_pid()`);
        const pending = await stack.psql(`SELECT count(*) FROM pg_inherits WHERE inhdetachpending`);
        return { ok: q === '1' || pending === '1', describe: `${q} statement(s) removing it running, ${pending} detach pending` };
      });
      const modes = await stack.psql(`SELECT coalesce(string_agg(mode || CASE WHEN granted THEN '' ELSE ' (waiting)' END, ','), '') FROM pg_locks WHERE relation = 'messages'::regclass AND pid <> pg_backend_pid()`);
      assert.ok(!modes.includes('AccessExclusiveLock'), `no ACCESS EXCLUSIVE lock on messages, held or asked for: ${modes}`);
      const sent = await api.publishBatch(tn.id, 10, 'beside');
      await assertStoredExactlyOnce(stack, tn.id, sent, { timeoutMs: 3000 });
      const page = await api.get(`/api/tenants/${tn.id}/messages?limit=10`, { timeoutMs: 2000 });
      assert.equal(page.status, 200, describe(page));
      assert.ok(held, 'stored and read while the deleted tenant\'s partition was being detached');
      assert.equal(await rowExists(stack, doomed.id), true, 'the deletion waits for the reader');
    } finally {
      await hold;
    }
    // The reader is gone: the next passes finish the detach (FINALIZE
    // after a wait that timed out) and drop the table.
    await api.waitGone(doomed.id, { timeoutMs: 15000, describeExtra: logs });
    assert.deepEqual(await partitionState(stack, doomed.id), { exists: false, attached: false }, `partition ${partitionName(doomed.id)}`);
    assert.equal(await rowExists(stack, doomed.id), false, 'tenants row');
    assert.equal(await stack.psql(`SELECT count(*) FROM pg_inherits WHERE inhdetachpending`), '0', 'no partition left detach-pending');
    // The detach waited out its lock timeout at least once, and a later
    // pass finished it (FINALIZE): the path a slow reader takes.
    const postponed = consumerdLog().filter((l) => l.msg.includes(doomed.id) && /deletion postponed/.test(l.msg));
    assert.ok(postponed.some((l) => /lock timeout/.test(l.msg)), `a deletion postponed by the lock timeout: ${postponed.map((l) => l.msg).join(' | ') || 'none logged'}`);
    t.diagnostic(postponed[0].msg);
  } finally {
    await deleteAndWait([tn.id]);
  }
});

test('deleting a tenant under load: 202, publishes then refused (409/404, never 5xx), workers stop, queues, partition and row go; consumerd and other tenants unaffected; the name is free again', async (t) => {
  const threads0 = stack.threadCount();
  const busy = await api.createTenant('under-load', 4);
  const quiet = await api.createTenant('bystander', 1);
  await api.waitWorkers(busy.id, 4, { timeoutMs: FIRST_START_MS, describeExtra: logs });
  await api.waitWorkers(quiet.id, 1, { timeoutMs: FIRST_START_MS, describeExtra: logs });
  const load = startPublisher(api, busy.id, { batch: 50, gapMs: 0, tag: 'load' });
  const side = startPublisher(api, quiet.id, { batch: 5, gapMs: 50, tag: 'side' });
  await waitUntil('the loaded tenant is storing', async () => {
    const n = await storedCount(stack, busy.id);
    return { ok: n >= 500, describe: `${n} stored` };
  }, { timeoutMs: 20000 });

  const d = await api.deleteTenant(busy.id);
  assert.equal(d.status, 202, describe(d));
  const gone = await api.waitGone(busy.id, { describeExtra: logs });
  t.diagnostic(`GET 404 ${gone} ms after DELETE under load`);
  const loaded = await load.stop();
  // Every answer after the DELETE was a refusal, never a server error.
  const bad = loaded.failures.filter((f) => !/ -> (409|404) /.test(f));
  assert.deepEqual(bad, [], `publishes during/after the delete must be 202, 409 or 404, never 5xx: ${bad.slice(0, 3).join(' | ')}`);

  const queues = await stack.listQueues();
  for (const q of queueNames(busy.id)) assert.equal(queues.has(q), false, `queue ${q} must be gone`);
  assert.deepEqual(await partitionState(stack, busy.id), { exists: false, attached: false }, `partition ${partitionName(busy.id)}`);
  assert.equal(await rowExists(stack, busy.id), false, 'tenants row');
  await waitUntil(`consumerd threads back to ${threads0} + 1 (the bystander)`, () => {
    const n = stack.threadCount();
    return { ok: n === threads0 + 1, describe: `${n} threads (before: ${threads0})` };
  }, { timeoutMs: 5000 });

  // The bystander kept working throughout, and still does.
  const sideDone = await side.stop();
  assert.deepEqual(sideDone.failures, [], `the other tenant's publishes must all succeed: ${sideDone.failures.slice(0, 3).join(' | ')}`);
  await assertStoredExactlyOnce(stack, quiet.id, sideDone.ids, { what: 'bystander' });

  const again = await api.createTenant('under-load', 1);
  assert.ok(again.id && again.id !== busy.id, 'the name is free again once the tenant is gone');
});

// ------------------------------------------------------------------ churn

test('50 tenants created and deleted in a loop leave no queue, partition, thread or connection behind', async (t) => {
  // The baseline below must not count what is still coming or going: wait
  // until every tenant left by the previous test has its pool at its size
  // and no deletion is under way, and consumerd's thread count holds still.
  let lastThreads = -1;
  await waitUntil('the previous tests\' pools settled', async () => {
    const tenants = await api.listAll();
    const moving = tenants.filter((x) => x.status === 'deleting' || !x.workers || x.workers.running !== (x.status === 'paused' ? 0 : x.concurrency));
    const n = stack.threadCount();
    const steady = n === lastThreads;
    lastThreads = n;
    return { ok: moving.length === 0 && steady, describe: `${n} threads; not settled: ${JSON.stringify(moving.map((x) => [x.name, x.status, x.concurrency, x.workers]))}` };
  }, { timeoutMs: 15000, intervalMs: 300 });
  const threads0 = stack.threadCount();
  const queues0 = [...(await stack.listQueues()).keys()].sort();
  const parts0 = await partitionCount(stack);
  const rels0 = await partitionLikeCount(stack);
  const conns0 = await mtmBackends();
  const amqp0 = amqpSockets();
  t.diagnostic(`before: ${threads0} consumerd threads, ${queues0.length} queues, ${parts0} partitions, ` +
    `mtm backends ${conns0.total} (consumerd ${conns0.consumerd.length}, api ${conns0.api.length}), consumerd AMQP sockets ${amqp0}`);

  const all = [];
  const start = Date.now();
  for (let round = 0; round < 5; round++) {
    const waited = [];
    for (let i = 0; i < 10; i++) {
      const tn = await api.createTenant(`churn-${round}-${i}`, 2);
      all.push(tn.id);
      if (i % 5 === 4) {
        // deleted at once, racing the pool's start-up
        const d = await api.deleteTenant(tn.id);
        assert.equal(d.status, 202, describe(d));
      } else {
        waited.push(tn.id);
      }
    }
    for (const id of waited) await api.waitWorkers(id, 2, { timeoutMs: FIRST_START_MS, describeExtra: logs });
    for (const id of waited) {
      const d = await api.deleteTenant(id);
      assert.equal(d.status, 202, describe(d));
    }
  }
  for (const id of all) await api.waitGone(id, { timeoutMs: 30000, describeExtra: logs });
  t.diagnostic(`50 tenants created, started (40) and deleted in ${Date.now() - start} ms`);

  await waitUntil(`consumerd threads back to ${threads0}`, () => {
    const n = stack.threadCount();
    return { ok: n === threads0, describe: `${n} threads, before ${threads0}` };
  }, { timeoutMs: 3000 });

  const queues = [...(await stack.listQueues()).keys()].sort();
  const leftover = queues.filter((q) => all.some((id) => q.includes(id)));
  assert.deepEqual(leftover, [], `queues of deleted tenants left in the broker (${leftover.length})`);
  assert.deepEqual(queues, queues0, 'the broker must have the same queues as before');
  assert.equal(await partitionCount(stack), parts0, 'partitions attached to messages (pg_inherits)');
  assert.equal(await partitionLikeCount(stack), rels0, 'relations named messages_<hex> (pg_class)');
  const rows = Number(await stack.psql(`SELECT (SELECT count(*) FROM tenants WHERE name LIKE 'churn-%') + (SELECT count(*) FROM tenant_status s WHERE NOT EXISTS (SELECT 1 FROM tenants t WHERE t.id = s.tenant_id))`));
  assert.equal(rows, 0, 'tenants/tenant_status rows left');

  await waitUntil(`consumerd AMQP sockets back to ${amqp0}`, () => {
    const n = amqpSockets();
    return { ok: n <= amqp0, describe: `${n} AMQP sockets, before ${amqp0}` };
  }, { timeoutMs: 3000 });
  const conns = await mtmBackends();
  t.diagnostic(`after: mtm backends ${conns.total} (consumerd ${conns.consumerd.length}, api ${conns.api.length}, other ${conns.other.length})`);
  assert.ok(conns.consumerd.length <= 1 + DB_POOL_SIZE,
    `consumerd holds ${conns.consumerd.length} PostgreSQL connections; bound is 1 (control) + ${DB_POOL_SIZE} (pool)`);
  assert.ok(conns.consumerd.length <= conns0.consumerd.length + DB_POOL_SIZE,
    `consumerd connections: before ${conns0.consumerd.length}, after ${conns.consumerd.length}`);
  assert.ok(conns.api.length <= API_CONNS, `mtm-api holds ${conns.api.length} connections; bound is ${API_CONNS} (threads + watcher)`);
  assert.ok(conns.total <= conns0.total + DB_POOL_SIZE + API_CONNS,
    `mtm backends: before ${conns0.total}, after ${conns.total} (allowed growth ${DB_POOL_SIZE} + ${API_CONNS})`);
  assert.ok(conns.events.length <= 2, `mtm-events holds ${conns.events.length} connections; bound is 2 (events source, token checks)`);
  assert.deepEqual(conns.other, [], 'backends of role mtm that belong to none of consumerd, mtm-api and mtm-events');

  // consumerd rewrites its textfile once a second: within a few periods no deleted tenant is left in it.
  await waitUntil('no deleted tenant in consumerd textfile', () => {
    const text = metricsText();
    const stale = all.filter((id) => text.includes(id));
    return { ok: stale.length === 0, describe: `still there: ${JSON.stringify(stale.slice(0, 5))} (${stale.length})` };
  }, { timeoutMs: 5000, intervalMs: 200 });
});

// ------------------------------------------------------------------ resizing under load

test('concurrency 1 -> 8 -> 2 -> 16 -> 1 under a steady stream: workers.running follows each change, every 202 stored exactly once', async (t) => {
  const tn = await api.createTenant('resize-under-load', 1);
  await api.waitWorkers(tn.id, 1, { timeoutMs: FIRST_START_MS, describeExtra: logs });
  const pub = startPublisher(api, tn.id, { batch: 25, gapMs: 10, tag: 'resize' });
  const steps = [];
  try {
    await sleep(700); // deliberate: let the stream run at size 1 first (load, not a wait for a condition)
    for (const n of [8, 2, 16, 1]) {
      const res = await api.setConcurrency(tn.id, n);
      assert.equal(res.status, 200, describe(res));
      assert.equal(res.json.concurrency, n, describe(res));
      // Contract: applied within 1 s. consumerd writes workers.running once a
      // second, so the API can show it up to one status period late: poll up
      // to APPLY_WITHIN_MS (1.5 s).
      const ms = await api.waitWorkers(tn.id, n, { timeoutMs: APPLY_WITHIN_MS, describeExtra: logs });
      steps.push(`${n}: ${ms} ms`);
      await sleep(700); // keep consuming at this size for a while
    }
  } finally {
    const { ids, failures, batches } = await pub.stop();
    t.diagnostic(`resize steps (seen after): ${steps.join(', ')}; published ${ids.length} messages in ${batches} batches`);
    assert.deepEqual(failures, [], `publishes not answered 202 (${failures.length} of ${batches})`);
    assert.ok(ids.length > 0, 'the background publisher published nothing');
    const ms = await assertStoredExactlyOnce(stack, tn.id, ids, { timeoutMs: 60000 });
    t.diagnostic(`all ${ids.length} stored ${ms} ms after the stream stopped`);
    await deleteAndWait([tn.id]);
  }
});

// ------------------------------------------------------------------ PostgreSQL connection lost

test('a change made while consumerd is disconnected from PostgreSQL is applied after it reconnects; no message lost or doubled', async (t) => {
  const tn = await api.createTenant('pg-cut', 2);
  await api.waitWorkers(tn.id, 2, { timeoutMs: FIRST_START_MS, describeExtra: logs });
  const pub = startPublisher(api, tn.id, { batch: 20, gapMs: 20, tag: 'pgcut' });
  try {
    await sleep(500); // deliberate: let the stream run before the cut (load, not a wait for a condition)

    await t.test('concurrency changed while consumerd\'s backends (LISTEN included) are terminated and it cannot log back in', async () => {
      const before_ = await mtmBackends();
      assert.ok(before_.consumerd.length >= 1, `consumerd has no PostgreSQL backend to terminate: ${JSON.stringify(before_)}`);
      const pids = before_.consumerd.join(',');
      // One session: refuse new logins of role mtm (sessions already open,
      // like mtm-api's, are unaffected), terminate every backend of consumerd
      // and wait until they are gone, change the concurrency (its NOTIFY goes
      // nowhere), keep consumerd out for 0.5 s more, then let it back in.
      let out;
      try {
        out = await stack.psql(`ALTER ROLE mtm NOLOGIN;
          SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity WHERE pid IN (${pids});
          DO $$ BEGIN
            FOR i IN 1..500 LOOP
              PERFORM pg_stat_clear_snapshot();
              EXIT WHEN NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid IN (${pids}));
              PERFORM pg_sleep(0.01);
            END LOOP;
          END $$;
          SELECT count(*) FROM pg_stat_activity WHERE pid IN (${pids});
          UPDATE tenants SET concurrency = 5 WHERE id = '${tn.id}' RETURNING to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"');
          SELECT pg_sleep(0.5);
          ALTER ROLE mtm LOGIN;`);
      } finally {
        await stack.psql('ALTER ROLE mtm LOGIN');
      }
      const [killed, left, changedAt] = out.split('\n');
      assert.equal(Number(killed), before_.consumerd.length, `terminated ${killed} of consumerd's ${before_.consumerd.length} backends`);
      assert.equal(Number(left), 0, `${left} of consumerd's backends still there after 5 s`);
      const ms = await api.waitWorkers(tn.id, 5, { timeoutMs: 10000, describeExtra: logs });
      t.diagnostic(`concurrency 5 running ${ms} ms after the change was committed + 0.5 s`);
      // test premise: consumerd noticed the loss and reconnected only after the change
      const lines = consumerdLog();
      const reconnect = lines.find((l) => l.ts > changedAt && /postgres connected/.test(l.msg));
      assert.ok(reconnect, `consumerd log shows no reconnect after the change at ${changedAt}:\n${stack.logTail('consumerd', 20)}`);
      const after_ = await mtmBackends();
      assert.ok(after_.consumerd.length >= 1, 'consumerd reconnected: it has a backend again');
      assert.equal(after_.consumerd.filter((p) => before_.consumerd.includes(p)).length, 0, 'the terminated backends must be gone');
    });

    await t.test('PUT through the API immediately after terminating all of consumerd\'s backends', async () => {
      const before_ = await mtmBackends();
      await stack.psql(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid IN (${before_.consumerd.join(',')})`);
      const res = await api.setConcurrency(tn.id, 3);
      assert.equal(res.status, 200, describe(res));
      // whether the PUT beat the reconnect is up to timing here; say which it was
      const changedAt = res.json.updated_at.slice(0, 23) + 'Z';
      const lines = consumerdLog();
      const lost = lines.filter((l) => /postgres connection lost/.test(l.msg)).pop();
      const back = lines.filter((l) => /postgres connected/.test(l.msg)).pop();
      t.diagnostic(`PUT committed at ${changedAt}; consumerd last lost PostgreSQL at ${lost && lost.ts}, last reconnected at ${back && back.ts}`);
      const ms = await api.waitWorkers(tn.id, 3, { timeoutMs: 10000, describeExtra: logs });
      t.diagnostic(`concurrency 3 running ${ms} ms after the PUT`);
    });
  } finally {
    const { ids, failures, batches } = await pub.stop();
    assert.deepEqual(failures, [], `publishes not answered 202 (${failures.length} of ${batches})`);
    const ms = await assertStoredExactlyOnce(stack, tn.id, ids, { timeoutMs: 60000 });
    t.diagnostic(`all ${ids.length} stored ${ms} ms after the stream stopped`);
    await deleteAndWait([tn.id]);
  }
});

// ------------------------------------------------------------------ SIGKILL

test('consumerd killed with SIGKILL and restarted: pools come back from the database alone; messages published meanwhile stored, none twice', async (t) => {
  const threads0 = stack.threadCount();
  const a = await api.createTenant('crash-a', 2);
  const b = await api.createTenant('crash-b', 3);
  const p = await api.createTenant('crash-paused', 2);
  await api.waitWorkers(a.id, 2, { timeoutMs: FIRST_START_MS, describeExtra: logs });
  await api.waitWorkers(b.id, 3, { timeoutMs: FIRST_START_MS, describeExtra: logs });
  assert.equal((await api.pause(p.id)).status, 200);
  await api.waitWorkers(p.id, 0, { describeExtra: logs });
  const pubA = startPublisher(api, a.id, { batch: 20, gapMs: 10, tag: 'crash-a' });
  const pubB = startPublisher(api, b.id, { batch: 20, gapMs: 10, tag: 'crash-b' });
  let ids = { a: [], b: [] };
  try {
    await sleep(1000); // deliberate: let both streams run before the crash (load, not a wait for a condition)
    const r = await stack.killConsumerd('SIGKILL');
    assert.equal(r.signal, 'SIGKILL', `consumerd exit: ${JSON.stringify({ code: r.code, signal: r.signal })}`);
    const whileDown = { a: await api.publishBatch(a.id, 100, 'down'), b: await api.publishBatch(b.id, 100, 'down') };
    // The broker confirmed them; its queue figures follow within a moment.
    await waitUntil(`messages waiting in ${queueNames(a.id)[0]} while consumerd is down`, async () => {
      const n = (await stack.listQueues()).get(queueNames(a.id)[0]);
      return { ok: n >= 100, describe: `${n} messages (at least 100 expected)` };
    }, { timeoutMs: 10000, intervalMs: 250 });
    ids.a.push(...whileDown.a);
    ids.b.push(...whileDown.b);

    const restartedAt = Date.now();
    await stack.startConsumerd();
    // Nothing is told to consumerd: it must find the pools in the database.
    // tenant_status still holds what the killed process wrote last, so only
    // figures written after the restart count.
    const ma = await api.waitWorkers(a.id, 2, { timeoutMs: 10000, describeExtra: logs, freshAfter: restartedAt });
    const mb = await api.waitWorkers(b.id, 3, { timeoutMs: 10000, describeExtra: logs, freshAfter: restartedAt });
    t.diagnostic(`after restart: crash-a running 2 at ${ma} ms, crash-b running 3 at ${ma + mb} ms`);
    const paused = await api.tenant(p.id);
    assert.equal(paused.status, 'paused', JSON.stringify(paused));
    await api.waitWorkers(p.id, 0, { timeoutMs: 3000, describeExtra: logs, freshAfter: restartedAt });
    const threads = stack.threadCount();
    assert.equal(threads, threads0 + 2 + 3, `consumerd threads after the restart: ${threads}, expected ${threads0} (no tenants) + 2 + 3`);
    await sleep(500); // deliberate: keep the streams running into the restarted pools for a while
  } finally {
    const ra = await pubA.stop();
    const rb = await pubB.stop();
    assert.deepEqual(ra.failures, [], `crash-a publishes not answered 202 (${ra.failures.length} of ${ra.batches})`);
    assert.deepEqual(rb.failures, [], `crash-b publishes not answered 202 (${rb.failures.length} of ${rb.batches})`);
    ids = { a: [...ids.a, ...ra.ids], b: [...ids.b, ...rb.ids] };
    const msA = await assertStoredExactlyOnce(stack, a.id, ids.a, { timeoutMs: 60000, what: 'crash-a: ' });
    const msB = await assertStoredExactlyOnce(stack, b.id, ids.b, { timeoutMs: 60000, what: 'crash-b: ' });
    t.diagnostic(`crash-a: ${ids.a.length} stored (${msA} ms), crash-b: ${ids.b.length} stored (${msB} ms)`);
    await deleteAndWait([a.id, b.id, p.id]);
  }
});
