// consumerd's status report (consumerd/reconcile.c, reconciler_report):
// a tenant's tenant_status row is written when one of its figures changes
// (or when a consumerd process first reports the tenant), not every second.
// An idle tenant's row keeps its tuple (xmin) and its updated_at
// (status_updated_at in the API) while consumerd keeps running.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack } from '../harness/stack.mjs';
import { makeApi } from '../harness/api.mjs';
import { waitFor, sleep } from '../harness/util.mjs';

let stack;
let api;

before(async () => {
  stack = await startStack();
  await stack.waitReady({ timeoutMs: 60000 });
  api = makeApi(stack, { token: await stack.adminToken() });
});

after(async () => {
  if (stack) await stack.stop();
});

/** The row as PostgreSQL holds it: the writing transaction (xmin) and the figures. */
async function row(id) {
  const out = await stack.psql(`SELECT xmin, to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), workers_running, queue_depth, stored
    FROM tenant_status WHERE tenant_id = '${id}'`);
  const [xmin, updatedAt, running, depth, stored] = out.split('|');
  return { xmin, updatedAt, running: Number(running), depth, stored: Number(stored) };
}

test('an idle tenant\'s status row is not rewritten; it is when a figure changes', async () => {
  const t = await api.createTenant(`status-${Date.now()}`, 1);
  await api.waitWorkers(t.id, 1, { timeoutMs: 10000 });
  // The first reports fill in the queue depth (read round robin) and the
  // running worker; then nothing changes.
  await waitFor('the row to have its queue depth', async () => (await row(t.id)).depth !== '', { timeoutMs: 10000, intervalMs: 200 });
  const heartbeat = async () => stack.psql('SELECT max(beat_at) FROM consumers');
  const first = await row(t.id);
  const beat0 = await heartbeat();
  await sleep(3500); // deliberate: a window in which nothing may happen (consumerd reports every second)
  const idle = await row(t.id);
  const beat1 = await heartbeat();
  assert.notEqual(beat1, beat0, 'consumerd must have kept beating (and reporting) meanwhile');
  assert.deepEqual(idle, first, `idle tenant's row was rewritten: before ${JSON.stringify(first)}, after ${JSON.stringify(idle)}`);
  const seen = await api.tenant(t.id);
  assert.equal(seen.status_updated_at, first.updatedAt,
    `status_updated_at is when the figures last changed: ${JSON.stringify(seen)} vs row ${JSON.stringify(first)}`);

  // A figure changes: the row is written, with a later updated_at.
  assert.equal((await api.setConcurrency(t.id, 2)).status, 200);
  await api.waitWorkers(t.id, 2, { timeoutMs: 10000 });
  const resized = await row(t.id);
  assert.notEqual(resized.xmin, first.xmin, `row not rewritten after the resize: ${JSON.stringify(resized)}`);
  assert.ok(resized.updatedAt > first.updatedAt, `updated_at must move: ${JSON.stringify({ first, resized })}`);

  const ids = await api.publishBatch(t.id, 5, 'status');
  await waitFor('stored == 5 in the status row', async () => (await row(t.id)).stored === ids.length, { timeoutMs: 10000, intervalMs: 200 });
  const stored = await row(t.id);
  assert.notEqual(stored.xmin, resized.xmin, `row not rewritten after messages were stored: ${JSON.stringify({ resized, stored })}`);
});
