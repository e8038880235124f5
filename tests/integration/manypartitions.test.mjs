// Reading one tenant's messages when messages has many partitions.
//
// A prepared statement runs with custom plans for its first five
// executions; on the sixth PostgreSQL also builds a generic plan to compare
// costs. On a table partitioned by tenant the generic plan cannot prune, so
// it opens and locks every partition and its indexes: about 0.7 s with
// 2,000 partitions and 1 s with 3,000 on this machine, and with 10,000 the
// locks overflow PostgreSQL's lock table at its default settings, so that
// execution and every later one fail ("out of shared memory"). Each of the
// responder's connections met it on its sixth read. The responder's
// connections therefore plan every statement for its parameters
// (plan_cache_mode = force_custom_plan, MTM_PG_OPTIONS_CUSTOM_PLANS in
// lib/pg.h), which reads the tenant's one partition.
//
// Making 10,000 partitions takes minutes; with 3,000 the stall shows, and
// it is what this file looks for: a read that takes over half a second
// where each takes a few ms.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack } from '../harness/stack.mjs';
import { makeApi, describe, assertStoredExactlyOnce } from '../harness/api.mjs';

const EXTRA_PARTITIONS = 3000;
const CHUNK = 500; // partitions made per transaction
const READS = 320; // page reads: with 16 request threads, each reaches its sixth execution
const SLOW_MS = 500; // a read of 3 rows from one partition takes a few ms

let stack;
let api;

before(async () => {
  stack = await startStack();
  await stack.waitReady({ timeoutMs: 30000 });
  api = makeApi(stack, { token: await stack.adminToken() });
  // Empty partitions of tenants that have no row: only their number matters.
  for (let made = 0; made < EXTRA_PARTITIONS; made += CHUNK) {
    await stack.psql(`DO $$ BEGIN
      FOR i IN 1..${CHUNK} LOOP
        EXECUTE format('CREATE TABLE %I PARTITION OF messages FOR VALUES IN (%L)',
                       'messages_filler_' || (${made} + i), gen_random_uuid());
      END LOOP; END $$;`);
  }
});

after(async () => {
  if (stack) await stack.stop();
});

test(`with ${EXTRA_PARTITIONS} more partitions, none of ${READS} page reads of a tenant takes over ${SLOW_MS} ms: the responder never plans a read over every partition`, async () => {
  const n = Number(await stack.psql(`SELECT count(*) FROM pg_inherits WHERE inhparent = 'messages'::regclass`));
  assert.ok(n >= EXTRA_PARTITIONS, `${n} partitions`);

  const tn = await api.createTenant('read-among-many', 1);
  const sent = await api.publishBatch(tn.id, 5, 'many');
  await assertStoredExactlyOnce(stack, tn.id, sent, { timeoutMs: 15000 });

  const slow = [];
  for (let i = 0; i < READS; i++) {
    const path = i % 2 ? `/api/tenants/${tn.id}/messages?limit=3` : `/api/messages?tenant_id=${tn.id}&limit=3`;
    const res = await api.get(path, { timeoutMs: 10000 });
    assert.equal(res.status, 200, `read ${i + 1}: ${describe(res)}`);
    assert.equal(res.json.data.length, 3, describe(res));
    if (res.ms > SLOW_MS) slow.push(`read ${i + 1}: ${res.ms} ms`);
  }
  assert.deepEqual(slow, [], `reads over ${SLOW_MS} ms`);
});
